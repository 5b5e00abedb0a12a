"""Commune-notice broadcast: the real service (scheduler, notice desk, outbox, Telegram channel
with python-telegram-bot) against the fake Bot API on 127.0.0.1.

Prints, for each run: subscribers, the configured rate, the achieved rate and its ratio to the
fake's, the number of 429 answers and of duplicates, the time to deliver them all, and the CPU
time the process (service and fake together) spent per message while sending: on a shared
machine the rate follows the CPU left to the process, the CPU per message much less so.

    .venv/bin/python benchmarks/broadcast.py                  # 3,000 at 30/s; 30,000 at 300/s
    .venv/bin/python benchmarks/broadcast.py --sizes 300 --fast-limit 0
    .venv/bin/python benchmarks/broadcast.py --database postgresql+asyncpg://postgres@127.0.0.1/bench

Telegram's real limit is 30 messages/s, so 30,000 notices take at least 1,000 s there. The
30,000 run is measured against a fake with ten times the limits (300/s overall; the service
configured to match), which shows the pipeline keeps up, and the time at 30/s is projected from
the rate achieved in the 3,000 run; the output says which figure is which.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from bot.app import Service  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db.migrate import upgrade_async  # noqa: E402
from bot.db.models import OutboxMessage  # noqa: E402
from bot.db.session import Database  # noqa: E402
from tests.fakes.telegram_api import Call, FakeTelegram  # noqa: E402
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


async def run(url: str, subscribers: int, rate: int) -> dict[str, float]:
    await seed(url, subscribers, report_to=None)
    async with FakeTelegram(limit_overall_per_s=rate, limit_per_chat_per_s=1) as fake:
        settings = Settings(_env_file=None, database_url=url, http_port=0, quiet_hours="",  # type: ignore[call-arg]
                            telegram_bot_token=TOKEN, telegram_api_base_url=fake.base_url,
                            telegram_rate_overall=rate, scheduler_interval_seconds=1.0)
        started = time.perf_counter()
        sends: list[Call] = []
        seen = 0
        cpu_at_first_send = 0.0
        async with Service(settings) as service:
            # Progress is read from the fake's calls, not from the database: a count over
            # the outbox every moment would be work the service does not do.
            while len(sends) < subscribers:
                await asyncio.sleep(0.25)
                calls = fake.calls[seen:]
                seen += len(calls)
                if not sends and calls:
                    cpu_at_first_send = time.process_time()
                sends += [c for c in calls if c.method == "sendMessage" and c.ok]
            cpu = time.process_time() - cpu_at_first_send
            while True:
                sent, total = await count_sent(service.db)
                if total == subscribers and sent == subscribers:
                    break
                await asyncio.sleep(0.25)
            elapsed = time.perf_counter() - started
        achieved = (len(sends) - 1) / (sends[-1].at - sends[0].at)
        return {"subscribers": subscribers, "rate": rate, "achieved": achieved,
                "r429": fake.rejected_429, "delivered_s": elapsed,
                "cpu_ms": cpu / len(sends) * 1000,
                "duplicates": len(sends) - len({c.chat_id for c in sends})}


def show(result: dict[str, float], note: str) -> None:
    print(f"{int(result['subscribers']):>7,} subscribers  configured {int(result['rate'])}/s  "
          f"achieved {result['achieved']:.1f}/s ({result['achieved'] / result['rate']:.2f}×)  "
          f"429s {int(result['r429'])}  duplicates {int(result['duplicates'])}  "
          f"all delivered in {result['delivered_s']:.1f} s  "
          f"CPU {result['cpu_ms']:.2f} ms per message (service and fake)  [{note}]",
          flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="3000,30000")
    parser.add_argument("--rate", type=int, default=30, help="Telegram's overall limit")
    parser.add_argument("--fast-limit", type=int, default=300,
                        help="the fake's limit for runs above 5,000 (0 = always --rate)")
    parser.add_argument("--database", default=None, help="PostgreSQL URL (default SQLite)")
    args = parser.parse_args()
    measured_rate: float | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            fast = args.fast_limit and size > 5000
            rate = args.fast_limit if fast else args.rate
            url = await fresh_database(args.database, Path(tmp), f"broadcast-{size}")
            result = await run(url, size, rate)
            show(result, f"measured against a fake with {rate}/s overall, 1/s per chat")
            if not fast:
                measured_rate = result["achieved"]
            elif measured_rate:
                print(f"{size:>7,} subscribers at Telegram's {args.rate}/s: projected "
                      f"{size / measured_rate:.0f} s ({size / measured_rate / 60:.1f} min) from "
                      f"the {measured_rate:.1f}/s achieved above [projected]", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
