"""Pipeline benchmark: the full motcua stack against a bare python-telegram-bot echo bot, and
the outbox's pace against a fake enforcing Telegram's limits. Prints figures and ratios.

    .venv/bin/python benchmarks/pipeline.py [--updates 2000] [--outbox 1000] [--rounds 3]

Two inbound loads, each sent to both bots in the same run:

- **trivial**: `/trogiup` and "xin chào" from 200 chats, messages that do little work;
- **realistic**: 600 messages from 60 new chats, as citizens write: `/start` first, then
  procedure searches in their own words (with and without accents, typos, questions),
  greetings, thanks, and names typed on their own (a search that finds nothing).

Both bots talk over real HTTP to the same fake Bot API on 127.0.0.1 (tests/fakes), with
long polling; motcua runs on a SQLite file. Nothing here is asserted: read the ratios. A
shared machine's speed drifts within seconds, so the two bots take turns, `--rounds` times
(each motcua round a new service, database and search memo); the round with the median ratio
is printed, with every round's ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram import Update  # noqa: E402
from telegram.ext import Application, ContextTypes, MessageHandler, filters  # noqa: E402

from bot.app import Service, bundled_index  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db.migrate import upgrade_async  # noqa: E402
from bot.db.session import Database  # noqa: E402
from bot.messages import ChatRef, Outgoing  # noqa: E402
from bot.outbox import Pace, PacedSender, enqueue  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402

TOKEN = "123456:BENCH-token-for-the-fake-api_abcdefghij"
CHATS = 200
GOALS = {"trivial": 0.5, "realistic": 0.8}
REALISTIC_CHATS = 60
REALISTIC_MESSAGES = 600
SEARCHES = [
    # Written for this benchmark, as citizens type them (not the search evaluation sets).
    "làm giấy khai sinh cho con", "lam giay khai sinh cho be", "đăng kí kết hôn",
    "lay chong nguoi nuoc ngoai can giay gi", "cấp lại căn cước bị mất", "lam lai cccd",
    "xin giấy xác nhận tình trạng hôn nhân", "xac nhan doc than", "đăng ký thường trú ở đâu",
    "nhap khau cho con", "khai tử cho bố", "lam giay chung tu", "sang tên sổ đỏ",
    "tach thua dat", "cấp giấy phép xây dựng nhà ở", "xin phep xay nha",
    "đăng ký hộ kinh doanh", "mo quan an can giay to gi", "giấy phép lái xe bị mất",
    "doi bang lai xe", "chứng thực bản sao", "cong chung hop dong mua ban nha",
    "trợ cấp thất nghiệp", "huong bao hiem that nghiep", "xin tro cap cho nguoi khuyet tat",
    "thủ tục nhận con nuôi", "nhan nuoi con nuoi", "đăng ký xe máy mới mua",
    "xin phiếu lý lịch tư pháp để đi làm", "lam ly lich tu phap so 2", "hộ chiếu phổ thông",
    "làm passport",
    "cấp giấy chứng nhận quyền sử dụng đất lần đầu", "cap so do lan dau",
    "giay phep kinh doanh ruou", "đăng ký tạm trú cho người thuê trọ", "tam vang",
    "trích lục khai sinh", "lam sao de xin giay xac nhan cu tru", "đổi tên cho con",
]
GREETINGS = ["xin chào", "chào em", "alo", "Chào bạn!", "hi", "cảm ơn", "cam on nhieu",
             "giúp tôi với", "ok"]
WARM_UP = ["thủ tục hộ tịch", "bao hiem xa hoi", "giấy tờ nhà đất", "Phạm Văn Đồng", "/start",
           "dang ky kinh doanh"]
"""Sent once before the loads, from the trivial chats, so that templates and first-use work
are done (a service runs for days); none of them is in the realistic mix."""
NAMES = ["Nguyễn Văn An", "Trần Thị Bích", "Lê Hoàng Nam", "pham minh tuan", "Hoàng Thu Trang",
         "Võ Thị Mai", "Đặng Quốc Huy", "bui thi lan"]


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

    async def load(self, messages: list[tuple[int, str]], replies: int | None = None
                   ) -> tuple[float, int]:
        """Queue `messages` (chat, text) at once; how long until `replies` messages were sent
        (one per message when None), and how many were sent once the bot fell quiet."""
        self.conn.send(("load", (messages, replies or len(messages))))
        elapsed, sent = await asyncio.to_thread(self.conn.recv)
        return float(elapsed), int(sent)

    def close(self) -> None:
        self.conn.send(("stop", None))
        self.process.join(10)


def _serve(conn: Connection) -> None:
    async def serve() -> None:
        async with FakeTelegram(limit_overall_per_s=None, limit_per_chat_per_s=None,
                                limit_per_group_per_min=None) as fake:
            conn.send(fake.base_url)
            while True:
                command, load = await asyncio.to_thread(conn.recv)
                if command == "stop":
                    return
                messages, replies = load
                since = len(fake.calls)
                started = time.perf_counter()
                for chat, text in messages:
                    fake.push_message(chat, text)
                await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, count=replies,
                                    timeout=600, since=since)
                elapsed = time.perf_counter() - started
                await asyncio.sleep(0.5)  # anything more still on its way
                sent = sum(1 for c in fake.calls[since:] if c.method == "sendMessage" and c.ok)
                conn.send((elapsed, sent))

    asyncio.run(serve())


async def wait_sent(fake: FakeTelegram, count: int) -> float:
    started = time.perf_counter()
    await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, count=count, timeout=600)
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


Load = list[tuple[int, str]]
"""Messages as (chat id, text), queued at once."""


def trivial_load(count: int) -> Load:
    return [(10_000 + n % CHATS, "/trogiup" if n % 2 else "xin chào") for n in range(count)]


def realistic_load(first_chat: int = 20_000) -> Load:
    """600 messages from 60 new chats: each starts with `/start`, then (in rounds, chats
    interleaved) mostly searches, some greetings and thanks, a name, another `/start`.
    Every message gets exactly one reply from motcua."""
    pick = random.Random(16)
    kinds = ["search"] * 6 + ["greeting"] * 2 + ["name", "start"]
    messages: Load = [(first_chat + c, "/start") for c in range(REALISTIC_CHATS)]
    for _ in range(REALISTIC_MESSAGES // REALISTIC_CHATS - 1):
        for c in range(REALISTIC_CHATS):
            kind = pick.choice(kinds)
            words = {"search": SEARCHES, "greeting": GREETINGS, "name": NAMES,
                     "start": ["/start"]}[kind]
            messages.append((first_chat + c, pick.choice(words)))
    return messages


@dataclass
class Figures:
    rates: dict[str, float] = field(default_factory=dict)
    """updates/s per load"""
    latencies: dict[str, list[float]] = field(default_factory=dict)
    """motcua's handler time per update, per load"""
    replies: dict[str, int] = field(default_factory=dict)
    """messages sent per load, counted once the bot fell quiet"""
    cpu: dict[str, float] = field(default_factory=dict)
    """the bot process's CPU seconds per update, per load: steadier than updates/s when the
    machine is shared"""


async def measure(fake: RemoteFake, loads: dict[str, Load], figures: Figures,
                  latencies: list[float]) -> None:
    """Each load after the other; the warm-up first (first contact of the trivial chats, and
    a few messages of each kind the realistic mix has)."""
    await asyncio.sleep(0.3)  # the first long poll is waiting
    warm_up = [(10_000 + n, text) for n, text in enumerate(WARM_UP)]
    await fake.load(trivial_load(min(200, len(loads["trivial"]))) + warm_up)
    for name, load in loads.items():
        latencies.clear()
        cpu = time.process_time()
        elapsed, sent = await fake.load(load)
        figures.cpu[name] = (time.process_time() - cpu) / len(load)
        figures.rates[name] = len(load) / elapsed
        figures.latencies[name] = list(latencies)
        figures.replies[name] = sent


async def run_motcua(fake: RemoteFake, loads: dict[str, Load]) -> Figures:
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
        figures = Figures()
        async with service:
            await measure(fake, loads, figures, latencies)
        return figures


async def run_echo(fake: RemoteFake, loads: dict[str, Load]) -> Figures:
    async def echo(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "")

    app = Application.builder().token(TOKEN).base_url(fake.base_url).build()
    app.add_handler(MessageHandler(filters.ALL, echo))
    figures = Figures()
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=10)
        await app.start()
        await measure(fake, loads, figures, [])
        await app.updater.stop()
        await app.stop()
    return figures


async def run_outbox(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/outbox.db"
        await upgrade_async(url)
        async with FakeTelegram(limit_overall_per_s=30, limit_per_chat_per_s=1,
                                limit_per_group_per_min=20) as fake:
            service = Service(settings_for(url, fake.base_url), start_senders=False)
            await service.telegram.bot.initialize()  # type: ignore[union-attr]
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
            await service.telegram.bot.shutdown()  # type: ignore[union-attr]
            await db.dispose()
            return {"elapsed": elapsed, "rate": count / elapsed, "429": fake.rejected_429}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="echo bot and motcua measured one after the other this many times")
    parser.add_argument("--outbox", type=int, default=1000, help="0: skip the outbox part")
    args = parser.parse_args()

    loads = {"trivial": trivial_load(args.updates), "realistic": realistic_load()}
    remote = RemoteFake()
    rounds: list[tuple[Figures, Figures]] = []
    try:
        for _ in range(args.rounds):
            echo = await run_echo(remote, loads)
            bundled_index.cache_clear()  # each round starts as a new process would
            rounds.append((echo, await run_motcua(remote, loads)))
    finally:
        remote.close()
    print("Inbound, long polling, fake Bot API in another process; motcua on SQLite; "
          f"{args.rounds} rounds of echo bot then motcua, the median round's figures")
    described = {
        "trivial": f"{args.updates} trivial updates from {CHATS} chats (after a warm-up)",
        "realistic": f"{REALISTIC_MESSAGES} realistic updates from {REALISTIC_CHATS} new chats "
                     "(searches, /start, greetings, names)",
    }
    for name, load in loads.items():
        ratios = [motcua.rates[name] / echo.rates[name] for echo, motcua in rounds]
        echo, motcua = rounds[ratios.index(statistics.median_low(ratios))]
        rate, base = motcua.rates[name], echo.rates[name]
        latencies = motcua.latencies[name]
        print(f"  {described[name]}")
        print(f"    bare PTB echo bot     {base:8.1f} updates/s")
        print(f"    motcua                {rate:8.1f} updates/s   ratio {rate / base:.2f}x "
              f"(goal >= {GOALS[name]}x; rounds: {', '.join(f'{r:.2f}x' for r in ratios)})")
        print(f"    CPU per update: echo bot {echo.cpu[name] * 1000:.2f} ms, motcua "
              f"{motcua.cpu[name] * 1000:.2f} ms (ratio {echo.cpu[name] / motcua.cpu[name]:.2f}x)")
        print(f"    motcua handler latency p50 {statistics.median(latencies) * 1000:.1f} ms, "
              f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms")
        if motcua.replies[name] != len(load):
            print(f"    (motcua sent {motcua.replies[name]} messages for {len(load)} "
                  "updates: the ratio counts one reply per update)")

    if not args.outbox:
        return
    outbox = await run_outbox(args.outbox)
    print(f"Outbox: {args.outbox} messages to 250 chats, "
          "fake enforcing 30/s overall, 1/s per chat")
    print(f"  delivered in {outbox['elapsed']:.1f} s = {outbox['rate']:.1f} msg/s   "
          f"ratio {outbox['rate'] / 30:.2f}x of 30/s (goal >= 0.9x), "
          f"429 responses: {outbox['429']:.0f} (goal 0)")


if __name__ == "__main__":
    asyncio.run(main())
