"""Floods: what six clients sending 4,000-character searches do to everyone else
(RELIABILITY.md check 16; goal: the other citizens' p95 <= 500 ms under flood; the webhook
acknowledgement promise is p99 <= 250 ms). Prints figures and ratios; nothing is asserted.

    .venv/bin/python benchmarks/flood.py [--seconds 30] [--flooders 6]

The real Service runs on a SQLite file with the web chat and Telegram in webhook mode (replies
go to a fake Bot API in another process). A third process plays the clients:

- *flooders*: half on the Telegram webhook (each its own chat), half on the web chat (each its
  own session), each sending 4,000-character searches one after another, as fast as answered;
- *citizens*: every 200 ms one citizen writes on the web chat, "/start" and a short search in
  turn, and every 200 ms one citizen's "/start" arrives on the Telegram webhook. They take turns
  among 60 chats each, as real citizens would (one chat writing five times a second would be a
  flooder itself).

Scenarios, each on a fresh database, in one run:

1. *baseline*: the citizens alone;
2. *flood*: with the default limits (RATE_LIMIT_CHAT, RATE_LIMIT_SEARCH);
3. *flood, no limits*: the work bound alone (the search on the event loop);
4. *flood, no limits, search in a thread*: the same with `handlers.procedures.OFF_LOOP` set;
5. *flood, as before*: no limits, no bound (the code before issue 11).

`--database-url postgresql+asyncpg://…` runs the same on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402

import handlers.procedures  # noqa: E402
import procedures.search  # noqa: E402
from benchmarks.broadcast import fresh_database  # noqa: E402
from benchmarks.pipeline import TOKEN, RemoteFake, percentile  # noqa: E402
from bot.app import Service  # noqa: E402
from bot.config import Settings  # noqa: E402
from procedures.catalogue import load_bundled  # noqa: E402

SECRET = "bench_Flood-secret-1"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
CITIZEN_CHATS = 60
PROBE_EVERY = 0.2
SHORT_SEARCH = "đăng ký kết hôn"


def long_queries(count: int, seed: int = 11) -> list[str]:
    """4,000-character texts of procedure names: words the search knows, so each costs."""
    rng = random.Random(seed)
    names = [p.name for p in load_bundled()]
    queries = []
    for _ in range(count):
        text = ""
        while len(text) < 4000:
            text += " " + rng.choice(names)
        queries.append(text[:4000].strip())
    return queries


def telegram_update(update_id: int, chat: int, text: str) -> bytes:
    person = {"id": chat, "is_bot": False, "first_name": "Lan"}
    return json.dumps({"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "from": person,
        "chat": {**person, "type": "private"}, "text": text,
    }}, ensure_ascii=False).encode()


# -- the clients (in a process of their own) ----------------------------------------------------


def _clients(base: str, seconds: float, flooders: int, queries: list[str]) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        webhook = f"{base}/webhook/telegram"
        chat_api = f"{base}/chat/api/messages"
        found: dict[str, Any] = {"web": [], "telegram": [], "flood_ack": [], "flood_web": [],
                                 "flood_sent": 0, "errors": 0}
        update_ids = iter(range(1, 10**9))
        cookies: dict[int, dict[str, str]] = {}

        async def web_post(http: aiohttp.ClientSession, who: int, text: str) -> float:
            jar = cookies.setdefault(who, {})
            started = time.perf_counter()
            # every web client is a visitor of its own, behind the portal's proxy
            headers = {"X-Forwarded-For": f"198.18.{who // 256 % 256}.{who % 256}"}
            async with http.post(chat_api, json={"text": text}, cookies=jar,
                                 headers=headers) as response:
                await response.read()
                if response.status != 200:
                    found["errors"] += 1
                jar.update({k: v.value for k, v in response.cookies.items()})
            return time.perf_counter() - started

        async def telegram_post(http: aiohttp.ClientSession, chat: int, text: str) -> float:
            started = time.perf_counter()
            body = telegram_update(next(update_ids), chat, text)
            async with http.post(webhook, data=body, headers=HEADERS) as response:
                await response.read()
                if response.status != 200:
                    found["errors"] += 1
            return time.perf_counter() - started

        async def flooder(http: aiohttp.ClientSession, n: int, until: float) -> None:
            rng = random.Random(n)
            while time.perf_counter() < until:
                query = rng.choice(queries)
                if n % 2:
                    found["flood_ack"].append(await telegram_post(http, 900_000 + n, query))
                else:
                    found["flood_web"].append(await web_post(http, 10_000 + n, query))
                found["flood_sent"] += 1

        async def probe(http: aiohttp.ClientSession, kind: str, until: float) -> None:
            """One message every PROBE_EVERY s, each on its own (open loop, like people)."""
            tasks = []
            turn = 0
            next_at = time.perf_counter()
            while next_at < until:
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                who = turn % CITIZEN_CHATS
                if kind == "web":
                    text = "/start" if (turn // CITIZEN_CHATS) % 2 == 0 else SHORT_SEARCH
                    coro = web_post(http, who, text)
                else:
                    coro = telegram_post(http, 500_000 + who, "/start")
                tasks.append(asyncio.create_task(coro))
                turn += 1
                next_at += PROBE_EVERY
            found[kind].extend(await asyncio.gather(*tasks))

        connector = aiohttp.TCPConnector(limit=100)
        async with aiohttp.ClientSession(connector=connector) as http:
            for who in range(CITIZEN_CHATS):  # every citizen has a session before the clock
                await web_post(http, who, "xin chào")
            until = time.perf_counter() + seconds
            await asyncio.gather(
                probe(http, "web", until), probe(http, "telegram", until),
                *(flooder(http, n, until) for n in range(flooders)))
        return found

    return asyncio.run(run())


async def clients(base: str, seconds: float, flooders: int, queries: list[str]
                  ) -> dict[str, Any]:
    with multiprocessing.Pool(1) as pool:
        return await asyncio.to_thread(pool.apply, _clients, (base, seconds, flooders, queries))


# -- the scenarios ------------------------------------------------------------------------------


@contextmanager
def patched(*, bound: bool, thread: bool) -> Iterator[None]:
    """Undo the work bound and/or move searches to a thread, to measure what each brings."""
    saved = (procedures.search.bounded_query, handlers.procedures.bounded_query,
             handlers.procedures.OFF_LOOP)
    if not bound:
        procedures.search.bounded_query = _whole  # type: ignore[assignment]
        handlers.procedures.bounded_query = _whole  # type: ignore[assignment]
    handlers.procedures.OFF_LOOP = thread
    try:
        yield
    finally:
        (procedures.search.bounded_query, handlers.procedures.bounded_query,
         handlers.procedures.OFF_LOOP) = saved


def _whole(query: str) -> str:
    return query


class CountingCatalogue:
    def __init__(self, index: Any) -> None:
        self.index, self.searches = index, 0

    def search(self, *args: Any, **kwargs: Any) -> Any:
        self.searches += 1
        return self.index.search(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.index, name)


async def scenario(remote: RemoteFake, seconds: float, flooders: int, queries: list[str],
                   database_url: str = "", **limits: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db_url = await fresh_database(database_url or None, Path(tmp), "flood")
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, database_url=db_url, http_port=0, quiet_hours="", data_dir=tmp,
            telegram_bot_token=TOKEN, telegram_api_base_url=remote.base_url,
            public_base_url="https://motcua.example.vn", telegram_webhook_secret=SECRET,
            trusted_proxies="127.0.0.1", **limits)
        async with Service(settings) as service:
            counting = CountingCatalogue(service.services["catalogue"])
            service.services["catalogue"] = counting
            found = await clients(f"http://127.0.0.1:{service.port}", seconds, flooders,
                                  queries)
            found["searches"] = counting.searches
        return found


def row(latencies: list[float]) -> str:
    if not latencies:
        return f"{'-':>8} {'-':>8} {'-':>8} {'-':>8}"
    ms = [v * 1000 for v in latencies]
    return (f"{statistics.median(ms):8.1f} {percentile(ms, 0.95):8.1f} "
            f"{percentile(ms, 0.99):8.1f} {max(ms):8.1f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--flooders", type=int, default=6)
    parser.add_argument("--only", default="", help="comma-separated scenario numbers")
    parser.add_argument("--database-url", default="",
                        help="a PostgreSQL database to use instead of SQLite (its schema is "
                             "dropped and made again for each scenario)")
    args = parser.parse_args()
    queries = long_queries(40)
    off = {"rate_limit_chat": "", "rate_limit_search": "", "rate_limit_web_session": "",
           "rate_limit_web_address": ""}
    plans: list[tuple[str, int, dict[str, str], bool, bool]] = [
        ("1 baseline (no flood)", 0, {}, True, False),
        ("2 flood, default limits", args.flooders, {}, True, False),
        ("3 flood, no limits (bound only)", args.flooders, off, True, False),
        ("4 flood, no limits, search in a thread", args.flooders, off, True, True),
        ("5 flood, as before (no limits, no bound)", args.flooders, off, False, False),
    ]
    chosen = {int(n) for n in args.only.split(",") if n.strip()}
    results: list[tuple[str, dict[str, Any]]] = []
    remote = RemoteFake()
    try:
        for name, flooders, limits, bound, thread in plans:
            if chosen and int(name.split()[0]) not in chosen:
                continue
            with patched(bound=bound, thread=thread):
                found = await scenario(remote, args.seconds, flooders, queries,
                                       args.database_url, **limits)
            results.append((name, found))
            print(f"  done: {name}", file=sys.stderr)
    finally:
        remote.close()

    print(f"Floods: {args.flooders} clients sending 4,000-character searches for "
          f"{args.seconds:g} s; citizens write every {PROBE_EVERY * 1000:.0f} ms on the web "
          "chat and on the Telegram webhook (goal: citizens' p95 <= 500 ms; webhook ack "
          "p99 <= 250 ms)")
    head = f"{'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}"
    print(f"  {'scenario':42}  {'web chat citizen (ms)':^35}  {'telegram citizen ack (ms)':^35}")
    print(f"  {'':42}  {head}  {head}")
    for name, found in results:
        print(f"  {name:42}  {row(found['web'])}  {row(found['telegram'])}")
    print()
    print(f"  {'scenario':42}  {'flood msgs':>10} {'searched':>9} {'flood ack p99':>14} "
          f"{'flood web p99':>14} {'errors':>7}")
    for name, found in results:
        ack = percentile(found["flood_ack"], 0.99) * 1000 if found["flood_ack"] else 0.0
        web = percentile(found["flood_web"], 0.99) * 1000 if found["flood_web"] else 0.0
        print(f"  {name:42}  {found['flood_sent']:10d} {found['searches']:9d} "
              f"{ack:12.1f}ms {web:12.1f}ms {found['errors']:7d}")
    if len(results) > 1 and results[0][1]["web"]:
        base = percentile(results[0][1]["web"], 0.95)
        print()
        for name, found in results[1:]:
            ratio = percentile(found["web"], 0.95) / base if found["web"] else float("nan")
            print(f"  web chat citizen p95, {name}: {ratio:.1f}x the baseline")


if __name__ == "__main__":
    asyncio.run(main())
