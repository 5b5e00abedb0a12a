"""Ingest benchmark: dossiers and status events per second through the real HTTP API, on
SQLite and PostgreSQL, and the latency from an event to its notification leaving the outbox
(as the fake Telegram Bot API receives it). Prints figures and ratios.

    .venv/bin/python benchmarks/ingest.py [--dossiers 500] [--events 3000] [--concurrency 16]
        [--latency 100] [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/motcua_bench]
        [--no-pg]

The baseline, measured in the same run and process, is the same authenticated request
refused by validation (422): HTTP, auth, JSON parsing and pydantic, no database. The ratio
says what storing an event costs on top. The PostgreSQL database is created when missing
and wiped (schema dropped) before the run — never point --pg at a database you keep.
The fake Bot API runs in this process without flood limits; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from bot.app import Service  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db import dossiers as repo  # noqa: E402
from bot.db.migrate import upgrade_async  # noqa: E402
from bot.db.models import Citizen  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402

BOT_TOKEN = "123456:BENCH-token-for-the-fake-api_abcdefghij"
INGEST = "bench-ingest-token-0123456789"
AUTH = {"Authorization": f"Bearer {INGEST}"}
START = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
STATUSES = ("processing", "waiting_payment", "processing", "result_ready", "returned")


def code(n: int) -> str:
    return f"000.00.01.H29-260105-{n:05d}"


def dossier(n: int) -> dict[str, Any]:
    return {"procedure_code": "1.000894", "procedure_name": "Đăng ký kết hôn",
            "applicant_name": "Nguyễn Văn An", "phone": f"09{n:08d}",
            "received_at": START.isoformat(), "due_at": (START + timedelta(days=15)).isoformat(),
            "status": "received"}


def event(n: int, k: int) -> dict[str, Any]:
    at = START + timedelta(hours=1 + k, seconds=n)
    return {"status": STATUSES[k % len(STATUSES)], "at": at.isoformat(), "note": f"bước {k}"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def fire(http: aiohttp.ClientSession, requests: list[tuple[str, str, dict[str, Any]]],
               concurrency: int) -> tuple[float, dict[int, int]]:
    """Send all requests with `concurrency` workers; (seconds, count per status code)."""
    queue = list(reversed(requests))
    statuses: dict[int, int] = {}

    async def worker() -> None:
        while queue:
            method, url, body = queue.pop()
            async with http.request(method, url, json=body, headers=AUTH) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, statuses


async def prepare_pg(url: str) -> None:
    parsed = make_url(url)
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        exists = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                   {"name": parsed.database})
        if not exists:
            await conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    await admin.dispose()
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def subscribe(service: Service, numbers: range, chat_base: int) -> None:
    async with service.db.session() as session:
        for n in numbers:
            citizen = Citizen(display_name="")
            session.add(citizen)
            await session.flush()
            found = await repo.get_dossier(session, code(n))
            assert found is not None
            access = await repo.record_verified(session, found.id, citizen.id, "telegram",
                                                str(chat_base + n), None, START)
            await repo.set_subscribed(session, access, True, START)


async def bench(label: str, url: str, args: argparse.Namespace) -> dict[str, float]:
    await upgrade_async(url)
    async with FakeTelegram(limit_overall_per_s=None, limit_per_chat_per_s=None,
                            limit_per_group_per_min=None) as fake:
        settings = Settings(_env_file=None, database_url=url, http_port=0,  # type: ignore[call-arg]
                            quiet_hours="", telegram_bot_token=BOT_TOKEN,
                            telegram_api_base_url=fake.base_url, ingest_api_token=INGEST)
        async with Service(settings) as service, aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=args.concurrency)) as http:
            base = f"http://127.0.0.1:{service.port}/api/v1/dossiers"
            bad = [("POST", f"{base}/{code(n)}/events", {"status": "lost", "at": "x"})
                   for n in range(args.events)]
            base_s, base_codes = await fire(http, bad, args.concurrency)
            puts = [("PUT", f"{base}/{code(n)}", dossier(n)) for n in range(args.dossiers)]
            put_s, put_codes = await fire(http, puts, args.concurrency)
            events = [("POST", f"{base}/{code(n % args.dossiers)}/events",
                       event(n % args.dossiers, n // args.dossiers))
                      for n in range(args.events)]
            event_s, event_codes = await fire(http, events, args.concurrency)
            again_s, again_codes = await fire(http, events[: args.events // 3], args.concurrency)

            # latency: subscribed dossiers, one event at a time, until the fake has the message
            first = args.dossiers
            await fire(http, [("PUT", f"{base}/{code(n)}", dossier(n))
                              for n in range(first, first + args.latency)], args.concurrency)
            await subscribe(service, range(first, first + args.latency), 700_000)
            latencies = []
            for n in range(first, first + args.latency):
                since = len(fake.calls)
                started = time.perf_counter()
                async with http.post(f"{base}/{code(n)}/events", json=event(n, 0),
                                     headers=AUTH) as response:
                    assert response.status == 201, await response.text()
                chat = 700_000 + n
                await fake.wait_for(lambda c, chat=chat: c.method == "sendMessage" and c.ok
                                    and str(c.chat_id) == str(chat), since=since, timeout=30)
                latencies.append(time.perf_counter() - started)
    assert base_codes == {422: args.events}, base_codes
    assert put_codes == {201: args.dossiers}, put_codes
    assert event_codes == {201: args.events}, event_codes
    assert again_codes == {200: args.events // 3}, again_codes
    figures = {
        "baseline_rps": args.events / base_s,
        "dossiers_per_s": args.dossiers / put_s,
        "events_per_s": args.events / event_s,
        "duplicates_per_s": (args.events // 3) / again_s,
        "latency_p50_ms": statistics.median(latencies) * 1000,
        "latency_p95_ms": percentile(latencies, 0.95) * 1000,
        "latency_max_ms": max(latencies) * 1000,
    }
    print(f"\n{label}")
    print(f"  baseline (422, no database) {figures['baseline_rps']:8.0f} req/s")
    print(f"  PUT dossier                 {figures['dossiers_per_s']:8.0f} /s   "
          f"{figures['dossiers_per_s'] / figures['baseline_rps']:.2f}× baseline")
    print(f"  POST event                  {figures['events_per_s']:8.0f} /s   "
          f"{figures['events_per_s'] / figures['baseline_rps']:.2f}× baseline")
    print(f"  POST the same event again   {figures['duplicates_per_s']:8.0f} /s   "
          f"{figures['duplicates_per_s'] / figures['baseline_rps']:.2f}× baseline")
    print(f"  event → notification sent   p50 {figures['latency_p50_ms']:.1f} ms · "
          f"p95 {figures['latency_p95_ms']:.1f} ms · max {figures['latency_max_ms']:.1f} ms "
          f"({args.latency} events, one at a time)")
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=500)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=int, default=100)
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/motcua_bench")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    print(f"ingest benchmark: {args.dossiers} dossiers, {args.events} events, "
          f"{args.concurrency} concurrent clients, latency over {args.latency} events")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = await bench("SQLite (file, WAL)",
                                        f"sqlite+aiosqlite:///{tmp}/bench.db", args)
    if not args.no_pg:
        try:
            await prepare_pg(args.pg)
        except Exception as error:  # noqa: BLE001 - report and carry on with SQLite figures
            print(f"\nPostgreSQL skipped ({args.pg}): {error}")
        else:
            results["postgresql"] = await bench("PostgreSQL", args.pg, args)
    if len(results) == 2:
        ratio = results["postgresql"]["events_per_s"] / results["sqlite"]["events_per_s"]
        print(f"\nPostgreSQL / SQLite events/s: {ratio:.2f}×")


if __name__ == "__main__":
    asyncio.run(main())
