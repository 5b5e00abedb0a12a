"""Scale-out on PostgreSQL: 1, 2 and 4 `motcua run` processes behind the Telegram webhook route,
on one database. Prints, for each: updates acknowledged per second, updates handled per second
(until the last reply reached the platform), the acknowledgement p50/p99, and whether every
update was handled once and every reply sent once.

    .venv/bin/python benchmarks/scaleout.py [--processes 1,2,4] [--updates 2000]
        [--chats 200] [--concurrency 32]
        [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/motcua_bench]

Everything is on 127.0.0.1: the services are real processes (`python -m bot.cli run`, webhook
mode); the updates come from a load process of their own, spread over the services in turn (as
a load balancer would), `--concurrency` requests in flight; the fake Bot API (tests/fakes)
runs in a third process and counts what each chat received. Each chat sends the same sequence
("xin chào", "/trogiup", …), its updates going to different processes; one more chat sends
that sequence alone first, one message at a time, and how many messages it gets back is what
every chat must get: more means an update handled twice or a reply sent twice, fewer a loss.
The database is wiped (schema dropped) before each run — never point --pg at one you keep.
On a 2-core machine the processes share the two cores with PostgreSQL and the load, so more
processes cannot mean more CPU: the figures show that sharing the work costs little and stays
correct, not a speed-up the hardware does not have.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from benchmarks.ingest import percentile, prepare_pg  # noqa: E402
from bot.db.migrate import upgrade_async  # noqa: E402
from bot.db.models import OutboxMessage, ProcessedUpdate  # noqa: E402
from bot.db.session import Database  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402
from tests.test_service_process import free_port, start_process, wait_healthy  # noqa: E402

TOKEN = "123456:BENCH-token-for-the-fake-api_abcdefghij"
SECRET = "bench_Webhook-secret-1"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
TEXTS = ("xin chào", "/trogiup", "khai sinh", "/start")
FIRST_CHAT = 30_000
CALIBRATION_CHAT = 29_999


def update(update_id: int, chat: int, text: str) -> bytes:
    person = {"id": chat, "is_bot": False, "first_name": "Lan"}
    return json.dumps({"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "from": person,
        "chat": {**person, "type": "private"}, "text": text,
    }}, ensure_ascii=False).encode()


def plan(updates: int, chats: int) -> list[tuple[int, int, str]]:
    """(update_id, chat, text): chat after chat in turn, each one's texts in sequence."""
    return [(1_000 + n, FIRST_CHAT + n % chats, TEXTS[(n // chats) % len(TEXTS)])
            for n in range(updates)]


# -- the fake Bot API, in its own process ----------------------------------------------------


def _serve_fake(conn: Connection) -> None:
    async def serve() -> None:
        async with FakeTelegram(limit_overall_per_s=None, limit_per_chat_per_s=None,
                                limit_per_group_per_min=None) as fake:
            conn.send(fake.base_url)
            while True:
                command = await asyncio.to_thread(conn.recv)
                if command == "stop":
                    return
                if command == "count":
                    conn.send(sum(1 for c in fake.calls if c.method == "sendMessage" and c.ok))
                elif command == "received":
                    conn.send(Counter(int(c.chat_id) for c in fake.calls  # type: ignore[arg-type]
                                      if c.method == "sendMessage" and c.ok))

    asyncio.run(serve())


class RemoteFake:
    def __init__(self) -> None:
        self.conn, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_serve_fake, args=(child,), daemon=True)
        self.process.start()
        self.base_url: str = self.conn.recv()

    async def ask(self, command: str) -> object:
        self.conn.send(command)
        return await asyncio.to_thread(self.conn.recv)

    def close(self) -> None:
        self.conn.send("stop")
        self.process.join(10)


# -- the load, in its own process ------------------------------------------------------------


def _fire(urls: list[str], work: list[tuple[int, int, str]], concurrency: int,
          ) -> tuple[float, list[float], dict[int, int]]:
    """POST every update, `concurrency` at a time, update n to urls[n % len(urls)];
    (seconds, latency of each, count per status code)."""

    async def run() -> tuple[float, list[float], dict[int, int]]:
        queue = list(reversed(work))
        latencies: list[float] = []
        statuses: Counter[int] = Counter()

        async def worker(http: aiohttp.ClientSession) -> None:
            while queue:
                update_id, chat, text = queue.pop()
                body = update(update_id, chat, text)
                started = time.perf_counter()
                async with http.post(urls[update_id % len(urls)], data=body,
                                     headers=HEADERS) as response:
                    await response.read()
                latencies.append(time.perf_counter() - started)
                statuses[response.status] += 1

        async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=concurrency)) as http:
            started = time.perf_counter()
            await asyncio.gather(*(worker(http) for _ in range(concurrency)))
            return time.perf_counter() - started, latencies, dict(statuses)

    return asyncio.run(run())


async def fire(urls: list[str], work: list[tuple[int, int, str]], concurrency: int,
               ) -> tuple[float, list[float], dict[int, int]]:
    with multiprocessing.Pool(1) as pool:
        return await asyncio.to_thread(pool.apply, _fire, (urls, work, concurrency))


# -- one run ---------------------------------------------------------------------------------


async def settled(fake: RemoteFake, quiet: float = 2.0, timeout: float = 600) -> float:
    """Wait until the fake has received nothing new for `quiet` seconds; when the last
    message arrived (perf_counter)."""
    last, last_at = -1, time.perf_counter()
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        count = await fake.ask("count")
        if count != last:
            last, last_at = count, time.perf_counter()
        elif time.perf_counter() - last_at >= quiet:
            return last_at
        await asyncio.sleep(0.1)
    raise TimeoutError("replies still arriving")


async def calibrate(fake: RemoteFake, url: str, chats: int, updates: int) -> int:
    """How many messages one chat gets back for its sequence, sent one at a time."""
    per_chat = [text for _, chat, text in plan(updates, chats) if chat == FIRST_CHAT]
    async with aiohttp.ClientSession() as http:
        for n, text in enumerate(per_chat):
            async with http.post(url, data=update(500 + n, CALIBRATION_CHAT, text),
                                 headers=HEADERS) as response:
                assert response.status == 200, response.status
            await settled(fake, quiet=0.5)
    received = await fake.ask("received")
    return received[CALIBRATION_CHAT]  # type: ignore[index, no-any-return]


async def run(processes: int, args: argparse.Namespace, tmp: Path) -> dict[str, object]:
    await prepare_pg(args.pg)
    await upgrade_async(args.pg)
    fake = RemoteFake()
    started_processes = []
    try:
        envs = [{"DATABASE_URL": args.pg, "HTTP_PORT": str(free_port()),
                 "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.base_url,
                 "PUBLIC_BASE_URL": "https://motcua.example.vn",
                 "TELEGRAM_WEBHOOK_SECRET": SECRET, "QUIET_HOURS": "", "LOG_LEVEL": "WARNING"}
                for _ in range(processes)]
        for n, env in enumerate(envs):
            started_processes.append(await start_process(env, tmp, tmp / f"motcua-{n}.log"))
            await wait_healthy(int(env["HTTP_PORT"]), timeout=120)
        urls = [f"http://127.0.0.1:{env['HTTP_PORT']}/webhook/telegram" for env in envs]
        expected = await calibrate(fake, urls[0], args.chats, args.updates)
        work = plan(args.updates, args.chats)
        begun = time.perf_counter()
        seconds, latencies, statuses = await fire(urls, work, args.concurrency)
        last_reply = await settled(fake)
        received: Counter[int] = await fake.ask("received")  # type: ignore[assignment]
    finally:
        for process in started_processes:
            process.send_signal(signal.SIGTERM)
        for process in started_processes:
            await asyncio.wait_for(process.wait(), timeout=60)
        fake.close()
    db = Database(args.pg)
    async with db.session() as session:
        stored = Counter(dict((await session.execute(
            select(ProcessedUpdate.status, func.count()).group_by(ProcessedUpdate.status)
        )).all()))
        left = await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.purpose == "reply"))
    await db.dispose()
    per_chat = Counter(received[FIRST_CHAT + c] for c in range(args.chats))
    return {
        "processes": processes, "acked_per_s": args.updates / seconds,
        "handled_per_s": args.updates / (last_reply - begun),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "statuses": statuses, "stored": dict(stored), "replies_left": left,
        "expected_per_chat": expected, "per_chat": dict(per_chat),
        "once": (statuses == {200: args.updates} and per_chat == {expected: args.chats}
                 and sum(stored.values()) == args.updates + expected_updates(args) and not left),
    }


def expected_updates(args: argparse.Namespace) -> int:
    """The calibration chat's updates, stored too."""
    return sum(1 for _, chat, _ in plan(args.updates, args.chats) if chat == FIRST_CHAT)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/motcua_bench")
    args = parser.parse_args()
    print(f"scale-out on PostgreSQL: {args.updates} webhook updates from {args.chats} chats, "
          f"{args.concurrency} in flight, texts {', '.join(TEXTS)}", flush=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for processes in (int(p) for p in args.processes.split(",")):
            result = await run(processes, args, Path(tmp))
            results.append(result)
            base = results[0]
            print(f"  {processes} process(es): acknowledged {result['acked_per_s']:6.0f}/s "
                  f"({result['acked_per_s'] / base['acked_per_s']:.2f}× one)  handled "
                  f"{result['handled_per_s']:6.0f}/s "
                  f"({result['handled_per_s'] / base['handled_per_s']:.2f}× one)  ack p50 "
                  f"{result['p50_ms']:.0f} ms p99 {result['p99_ms']:.0f} ms  "
                  + ("every update handled once, every reply sent once" if result["once"]
                     else "MISMATCH")
                  + f" (answers {result['statuses']}, stored {result['stored']}, "
                  f"{result['expected_per_chat']} replies expected per chat, got "
                  f"{result['per_chat']}, reply rows left {result['replies_left']})",
                  flush=True)


if __name__ == "__main__":
    asyncio.run(main())
