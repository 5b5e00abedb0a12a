"""Webhook acknowledgement latency: how long Telegram waits for our 200 while updates arrive
at a steady rate (RELIABILITY.md: p99 <= 250 ms at 50 req/s on 2 cores with SQLite).
Prints figures and ratios; nothing is asserted.

    .venv/bin/python benchmarks/webhook.py [--seconds 20] [--rates 50,100,200]

The service runs in webhook mode on a SQLite file: each request is authenticated, stored,
handled (the reply goes out afterwards to a fake Bot API in another process). The updates
come from a third process at a fixed rate whatever the answers' pace (an open loop, as a
platform sends them), half "xin chào" (the procedure search runs) and half /trogiup. The
baseline, measured in the same run, is a bare aiohttp route that checks the secret, parses
the JSON and answers 200: what the HTTP stack alone costs on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from benchmarks.pipeline import TOKEN, RemoteFake, percentile  # noqa: E402
from bot.app import Service  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db.migrate import upgrade_async  # noqa: E402

SECRET = "bench_Webhook-secret-1"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
CHATS = 500


def update(n: int) -> bytes:
    chat = 20_000 + n % CHATS
    person = {"id": chat, "is_bot": False, "first_name": "Lan"}
    return json.dumps({"update_id": n, "message": {
        "message_id": n, "date": int(time.time()), "from": person,
        "chat": {**person, "type": "private"}, "text": "/trogiup" if n % 2 else "xin chào",
    }}, ensure_ascii=False).encode()


def _send_at_rate(url: str, rate: float, count: int, first: int) -> list[float]:
    """In a process of its own: POST `count` updates at `rate` per second (each on its own,
    not waiting for the previous answer); the latency of each, in seconds."""

    async def run() -> list[float]:
        latencies: list[float] = []
        failures = 0

        async def post(http: aiohttp.ClientSession, n: int) -> None:
            nonlocal failures
            started = time.perf_counter()
            async with http.post(url, data=update(n), headers=HEADERS) as response:
                await response.read()
                if response.status != 200:
                    failures += 1
            latencies.append(time.perf_counter() - started)

        connector = aiohttp.TCPConnector(limit=200)
        async with aiohttp.ClientSession(connector=connector) as http:
            await post(http, first - 1)  # open a connection before the clock starts
            latencies.clear()
            loop = asyncio.get_running_loop()
            start = loop.time()
            tasks = []
            for i in range(count):
                delay = start + i / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(post(http, first + i)))
            await asyncio.gather(*tasks)
        if failures:
            print(f"  !! {failures} requests were not answered 200")
        return latencies

    return asyncio.run(run())


async def measure(url: str, rate: float, count: int, first: int) -> list[float]:
    with multiprocessing.Pool(1) as pool:
        return await asyncio.to_thread(pool.apply, _send_at_rate, (url, rate, count, first))


async def baseline_app() -> tuple[web.AppRunner, str]:
    async def route(request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), SECRET.encode()):
            raise web.HTTPForbidden()
        json.loads(await request.read())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/webhook/telegram", route)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/webhook/telegram"


def summary(latencies: list[float]) -> dict[str, float]:
    return {"p50": statistics.median(latencies) * 1000,
            "p99": percentile(latencies, 0.99) * 1000, "max": max(latencies) * 1000}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rates", default="50,100,200")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]

    results: dict[float, dict[str, Any]] = {}
    runner, url = await baseline_app()
    for rate in rates:
        results[rate] = {"bare": summary(await measure(url, rate, int(rate * args.seconds), 1))}
    await runner.cleanup()

    remote = RemoteFake()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db_url = f"sqlite+aiosqlite:///{tmp}/webhook.db"
            await upgrade_async(db_url)
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None, database_url=db_url, http_port=0, quiet_hours="",
                telegram_bot_token=TOKEN, telegram_api_base_url=remote.base_url,
                public_base_url="https://motcua.example.vn", telegram_webhook_secret=SECRET)
            async with Service(settings) as service:
                url = f"http://127.0.0.1:{service.port}/webhook/telegram"
                first = 1_000
                for rate in rates:
                    count = int(rate * args.seconds)
                    results[rate]["motcua"] = summary(await measure(url, rate, count, first))
                    first += count + 10
    finally:
        remote.close()

    print(f"Webhook acknowledgement latency, {args.seconds:g} s at each rate, {CHATS} chats "
          "(promise: p99 <= 250 ms at 50 req/s)")
    print(f"  {'rate':>8}  {'bare aiohttp p50/p99/max':>26}  {'motcua p50/p99/max':>26}  "
          "p99 ratio")
    for rate, row in results.items():
        bare, ours = row["bare"], row["motcua"]
        print(f"  {rate:6.0f}/s  {bare['p50']:7.1f} {bare['p99']:7.1f} {bare['max']:7.1f} ms  "
              f"  {ours['p50']:7.1f} {ours['p99']:7.1f} {ours['max']:7.1f} ms  "
              f"{ours['p99'] / bare['p99']:8.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
