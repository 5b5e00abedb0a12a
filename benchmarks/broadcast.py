"""Commune-notice broadcast: the real service (scheduler, notice desk, outbox, Telegram channel
with python-telegram-bot) against the fake Bot API on 127.0.0.1.

Prints, for each run: subscribers, the configured rate, the achieved rate and its ratio to the
fake's, the number of 429 answers and of duplicates, the time to deliver them all, and the CPU
time spent per message while sending, by the service and by the fake: on a shared machine the
rate follows the CPU left to the process, the CPU per message much less so.

The fake runs in a process of its own, as a real platform is remote: on the service's event
loop its CPU would count against the service's, and each send would wait for the fake's turn
on the loop as well as for its own. `--fake-in-process` puts it back there (the set-up of the
figures before 2026-12-02's sender work, which printed one CPU figure for both). The 429 and
duplicate counts are the fake's either way. Once the service is up, its start-up heap (the
search index) is frozen out of the cyclic collector, as `motcua run` does: unfrozen, a full
collection over it stalled the sender for a tenth of a second now and then.

    .venv/bin/python benchmarks/broadcast.py                  # 3,000 at 30/s; 30,000 at 300/s
    .venv/bin/python benchmarks/broadcast.py --sizes 300 --fast-limit 0
    .venv/bin/python benchmarks/broadcast.py --sizes 6000 --fast-limit 300   # 0.9× is the aim
    .venv/bin/python benchmarks/broadcast.py --database postgresql+asyncpg://postgres@127.0.0.1/bench

Telegram's real limit is 30 messages/s, so 30,000 notices take at least 1,000 s there. The
30,000 run is measured against a fake with ten times the limits (300/s overall; the service
configured to match), which shows the pipeline keeps up, and the time at 30/s is projected from
the rate achieved in the 3,000 run; the output says which figure is which.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from bot.app import Service  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db.migrate import upgrade_async  # noqa: E402
from bot.db.models import OutboxMessage  # noqa: E402
from bot.db.session import Database  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402
from tests.test_notice_broadcast import seed  # noqa: E402

TOKEN = "123456:BENCH-token-for-the-fake-api_abcdefghij"


async def fresh_database(url: str | None, tmp: Path, name: str) -> str:
    if url is None:
        url = f"sqlite+aiosqlite:///{tmp / name}.db"
    else:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await upgrade_async(url)
    return url


async def count_sent(db: Database) -> tuple[int, int]:
    async with db.session() as session:
        rows = dict((await session.execute(
            select(OutboxMessage.status, func.count()).where(OutboxMessage.purpose == "notice")
            .group_by(OutboxMessage.status))).all())
    return rows.get("sent", 0), sum(rows.values())


class Progress:
    """What the fake received so far: sends, first and last (fake's clock), distinct chats,
    429s, and the CPU time of the fake's process. Each look reads only the calls since the
    last: a pass over all of them took the fake's event loop ~12 ms at 30,000, four times a
    second, while the send in flight waited for its answer (a cost of the benchmark that grew
    with the broadcast)."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        self.seen = 0
        self.sends = 0
        self.first = self.last = 0.0
        self.chats: set[int | str | None] = set()

    def summary(self) -> dict[str, float]:
        calls = self.fake.calls
        for call in calls[self.seen:]:
            if call.method == "sendMessage" and call.ok:
                self.first = self.first if self.sends else call.at
                self.last = call.at
                self.sends += 1
                self.chats.add(call.chat_id)
        self.seen = len(calls)
        return {"sends": self.sends, "first": self.first, "last": self.last,
                "chats": len(self.chats), "r429": self.fake.rejected_429,
                "cpu": time.process_time()}


def _serve_fake(conn: Connection, rate: int) -> None:
    async def serve() -> None:
        async with FakeTelegram(limit_overall_per_s=rate, limit_per_chat_per_s=1) as fake:
            conn.send(fake.base_url)
            progress = Progress(fake)
            while await asyncio.to_thread(conn.recv) != "stop":
                conn.send(progress.summary())

    asyncio.run(serve())


class FakeProcess:
    """The fake Bot API in a process of its own, asked for its `Progress` over a pipe."""

    def __init__(self, rate: int) -> None:
        self.conn, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_serve_fake, args=(child, rate),
                                               daemon=True)
        self.process.start()
        self.base_url: str = self.conn.recv()

    async def summary(self) -> dict[str, float]:
        self.conn.send("summary")
        return await asyncio.to_thread(self.conn.recv)  # type: ignore[no-any-return]

    async def __aenter__(self) -> FakeProcess:
        return self

    async def __aexit__(self, *_: Any) -> None:
        self.conn.send("stop")
        self.process.join(10)


class FakeHere:
    """The fake on the service's own event loop (`--fake-in-process`)."""

    def __init__(self, rate: int) -> None:
        self.fake = FakeTelegram(limit_overall_per_s=rate, limit_per_chat_per_s=1)
        self.progress = Progress(self.fake)
        self.base_url = ""

    async def summary(self) -> dict[str, float]:
        return self.progress.summary()

    async def __aenter__(self) -> FakeHere:
        await self.fake.__aenter__()
        self.base_url = self.fake.base_url
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.fake.__aexit__(*exc)


async def run(url: str, subscribers: int, rate: int, in_process: bool,
              interval: float) -> dict[str, float]:
    await seed(url, subscribers, report_to=None)
    async with (FakeHere if in_process else FakeProcess)(rate) as fake:
        settings = Settings(_env_file=None, database_url=url, http_port=0, quiet_hours="",  # type: ignore[call-arg]
                            telegram_bot_token=TOKEN, telegram_api_base_url=fake.base_url,
                            telegram_rate_overall=rate, scheduler_interval_seconds=interval)
        started = time.perf_counter()
        async with Service(settings) as service:
            gc.collect()  # as `motcua run` does once started (bot.app.run_service)
            gc.freeze()
            # Progress is read from the fake, not from the database: a count over the
            # outbox every moment would be work the service does not do.
            first = await fake.summary()
            while not first["sends"]:
                await asyncio.sleep(0.25)
                first = await fake.summary()
            cpu_at_first_send = time.process_time()
            last = first
            while last["sends"] < subscribers:
                await asyncio.sleep(0.25)
                last = await fake.summary()
            cpu = time.process_time() - cpu_at_first_send
            while True:
                sent, total = await count_sent(service.db)
                if total == subscribers and sent == subscribers:
                    break
                await asyncio.sleep(0.25)
            elapsed = time.perf_counter() - started
            final = await fake.summary()  # a row sent twice shows only now
        gc.unfreeze()
        sends = last["sends"]
        return {"subscribers": subscribers, "rate": rate,
                "achieved": (sends - 1) / (last["last"] - last["first"]),
                "r429": final["r429"], "delivered_s": elapsed,
                "cpu_ms": cpu / sends * 1000,
                "fake_cpu_ms": 0.0 if in_process else (last["cpu"] - first["cpu"]) / sends * 1000,
                "duplicates": final["sends"] - final["chats"], "in_process": in_process}


def show(result: dict[str, float], note: str) -> None:
    print(f"{int(result['subscribers']):>7,} subscribers  configured {int(result['rate'])}/s  "
          f"achieved {result['achieved']:.1f}/s ({result['achieved'] / result['rate']:.2f}×)  "
          f"429s {int(result['r429'])}  duplicates {int(result['duplicates'])}  "
          f"all delivered in {result['delivered_s']:.1f} s  "
          + (f"CPU {result['cpu_ms']:.2f} ms per message (service and fake)" if
             result["in_process"] else f"CPU per message {result['cpu_ms']:.2f} ms service, "
             f"{result['fake_cpu_ms']:.2f} ms fake (own process)")
          + f"  [{note}]", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="3000,30000")
    parser.add_argument("--rate", type=int, default=30, help="Telegram's overall limit")
    parser.add_argument("--fast-limit", type=int, default=300,
                        help="the fake's limit for runs above 5,000 (0 = always --rate)")
    parser.add_argument("--database", default=None, help="PostgreSQL URL (default SQLite)")
    parser.add_argument("--fake-in-process", action="store_true",
                        help="run the fake on the service's event loop (the old set-up)")
    parser.add_argument("--scheduler-interval", type=float, default=1.0,
                        help="seconds between scheduler rounds (the service's default is 15; "
                        "1 puts the notice on its way sooner and runs a round more often)")
    args = parser.parse_args()
    measured_rate: float | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            fast = args.fast_limit and size > 5000
            rate = args.fast_limit if fast else args.rate
            url = await fresh_database(args.database, Path(tmp), f"broadcast-{size}")
            result = await run(url, size, rate, args.fake_in_process, args.scheduler_interval)
            show(result, f"measured against a fake with {rate}/s overall, 1/s per chat; "
                         f"a scheduler round every {args.scheduler_interval:g} s")
            if not fast:
                measured_rate = result["achieved"]
            elif measured_rate:
                print(f"{size:>7,} subscribers at Telegram's {args.rate}/s: projected "
                      f"{size / measured_rate:.0f} s ({size / measured_rate / 60:.1f} min) from "
                      f"the {measured_rate:.1f}/s achieved above [projected]", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
