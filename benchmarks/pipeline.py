"""Pipeline benchmark: the full motcua stack against a bare python-telegram-bot echo bot, and
the outbox's pace against a fake enforcing Telegram's limits. Prints figures and ratios.

    .venv/bin/python benchmarks/pipeline.py [--updates 2000] [--outbox 1000]

Both bots talk over real HTTP to the same fake Bot API on 127.0.0.1 (tests/fakes), with
long polling; motcua runs on a SQLite file. Nothing here is asserted: read the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram import Update  # noqa: E402
from telegram.ext import Application, ContextTypes, MessageHandler, filters  # noqa: E402

from bot.app import Service  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db.migrate import upgrade_async  # noqa: E402
from bot.db.session import Database  # noqa: E402
from bot.messages import ChatRef, Outgoing  # noqa: E402
from bot.outbox import Pace, PacedSender, enqueue  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402

TOKEN = "123456:BENCH-token-for-the-fake-api_abcdefghij"
CHATS = 200


def settings_for(db_url: str, base_url: str) -> Settings:
    return Settings(_env_file=None, database_url=db_url, http_port=0, quiet_hours="",  # type: ignore[call-arg]
                    telegram_bot_token=TOKEN, telegram_api_base_url=base_url)


class RemoteFake:
    """The fake Bot API in its own process, as the real platform would be: its CPU is not
    the bot's. The parent asks it to queue a load and gets back how long the bot took to
    answer every update."""

    def __init__(self) -> None:
        self.conn, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_serve, args=(child,), daemon=True)
        self.process.start()
        self.base_url: str = self.conn.recv()

    async def load(self, count: int) -> float:
        self.conn.send(("load", count))
        return float(await asyncio.to_thread(self.conn.recv))

    def close(self) -> None:
        self.conn.send(("stop", 0))
        self.process.join(10)


def _serve(conn: Connection) -> None:
    async def serve() -> None:
        async with FakeTelegram(limit_overall_per_s=None, limit_per_chat_per_s=None,
                                limit_per_group_per_min=None) as fake:
            conn.send(fake.base_url)
            while True:
                command, count = await asyncio.to_thread(conn.recv)
                if command == "stop":
                    return
                since = len(fake.calls)
                started = time.perf_counter()
                for n in range(count):
                    fake.push_message(10_000 + n % CHATS, "/trogiup" if n % 2 else "xin chào")
                await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, count=count,
                                    timeout=600, since=since)
                conn.send(time.perf_counter() - started)

    asyncio.run(serve())


async def wait_sent(fake: FakeTelegram, count: int) -> float:
    started = time.perf_counter()
    await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, count=count, timeout=600)
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_motcua(fake: RemoteFake, count: int) -> tuple[float, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await upgrade_async(url)
        service = Service(settings_for(url, fake.base_url))
        latencies: list[float] = []
        handle = service.core.handle

        async def timed(msg):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            try:
                return await handle(msg)
            finally:
                latencies.append(time.perf_counter() - started)

        service.core.handle = timed  # type: ignore[method-assign]
        async with service:
            await asyncio.sleep(0.3)  # the first long poll is waiting
            await fake.load(min(200, count))  # warm-up: first contact of every chat
            latencies.clear()
            elapsed = await fake.load(count)
        return count / elapsed, latencies


async def run_echo(fake: RemoteFake, count: int) -> float:
    async def echo(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "")

    app = Application.builder().token(TOKEN).base_url(fake.base_url).build()
    app.add_handler(MessageHandler(filters.ALL, echo))
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=10)
        await app.start()
        await asyncio.sleep(0.3)  # the first long poll is waiting
        await fake.load(min(200, count))
        elapsed = await fake.load(count)
        await app.updater.stop()
        await app.stop()
    return count / elapsed


async def run_outbox(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/outbox.db"
        await upgrade_async(url)
        async with FakeTelegram(limit_overall_per_s=30, limit_per_chat_per_s=1,
                                limit_per_group_per_min=20) as fake:
            service = Service(settings_for(url, fake.base_url), start_senders=False)
            await service.telegram.app.initialize()  # type: ignore[union-attr]
            db: Database = service.db
            async with db.session() as session:
                for n in range(count):
                    await enqueue(session, ChatRef("telegram", str(50_000 + n % 250)),
                                  Outgoing(f"Thông báo {n}"), key=f"bench:{n}")
            sender = PacedSender(db, service.telegram, Pace(30, 1, 20))  # type: ignore[arg-type]
            started = time.perf_counter()
            task = asyncio.create_task(sender.run())
            await wait_sent(fake, count)
            elapsed = time.perf_counter() - started
            await sender.stop()
            await task
            await service.telegram.app.shutdown()  # type: ignore[union-attr]
            await db.dispose()
            return {"elapsed": elapsed, "rate": count / elapsed, "429": fake.rejected_429}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--outbox", type=int, default=1000)
    args = parser.parse_args()

    remote = RemoteFake()
    try:
        echo_rate = await run_echo(remote, args.updates)
        motcua_rate, latencies = await run_motcua(remote, args.updates)
    finally:
        remote.close()
    print(f"Inbound: {args.updates} updates from {CHATS} chats (after a warm-up), long polling,"
          " fake Bot API in another process")
    print(f"  bare PTB echo bot     {echo_rate:8.1f} updates/s")
    print(f"  motcua (SQLite)       {motcua_rate:8.1f} updates/s   "
          f"ratio {motcua_rate / echo_rate:.2f}x (goal >= 0.5x)")
    print(f"  motcua handler latency p50 {statistics.median(latencies) * 1000:.1f} ms, "
          f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms")

    outbox = await run_outbox(args.outbox)
    print(f"Outbox: {args.outbox} messages to 250 chats, "
          "fake enforcing 30/s overall, 1/s per chat")
    print(f"  delivered in {outbox['elapsed']:.1f} s = {outbox['rate']:.1f} msg/s   "
          f"ratio {outbox['rate'] / 30:.2f}x of 30/s (goal >= 0.9x), "
          f"429 responses: {outbox['429']:.0f} (goal 0)")


if __name__ == "__main__":
    asyncio.run(main())
