"""Inbound durability (RELIABILITY.md check 2): webhook updates delivered the way Telegram
does — several at once, a fifth of them sent again, some out of order, every unanswered one
retried — to a `motcua run` that is killed with SIGKILL ten times along the way. Every
acknowledged update is stored, every update ends handled exactly once, and every reply
reaches the citizen (the replies name their update), the few sent just before a kill possibly
twice.

The check in RELIABILITY.md sends 5,000 updates; the suite sends MOTCUA_DURABILITY_UPDATES
(1,000 unless set) to keep CI within its time.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.db.models import ProcessedUpdate
from bot.db.session import Database
from tests.dialog import until
from tests.fakes.telegram_api import FakeTelegram
from tests.test_service_process import TOKEN, free_port, start_process, wait_healthy

UPDATES = int(os.environ.get("MOTCUA_DURABILITY_UPDATES", "1000"))
KILLS = 10
RATE = 100
"""Updates a second, all connections together (a busy commune sees a few)."""
SECRET = "durability_Secret-1"
REPLY = re.compile(r'"/u(\d+)"')


def replies(fake: FakeTelegram) -> Counter[int]:
    """How many replies each update got (the unknown-command answer quotes "/u<n>")."""
    found: Counter[int] = Counter()
    for call in fake.calls_to("sendMessage", ok=True):
        match = REPLY.search(str(call.params.get("text", "")))
        if match:
            found[int(match.group(1))] += 1
    return found


@pytest.mark.slow
@pytest.mark.timeout(900)  # a hang guard only: 160 s under a load of 5
async def test_acknowledged_updates_survive_kills_and_run_once(database_url: str,
                                                               tmp_path: Path) -> None:
    rng = random.Random(2)
    async with FakeTelegram(limit_overall_per_s=None, limit_per_chat_per_s=None,
                            limit_per_group_per_min=None) as fake:
        port = free_port()
        env = {"DATABASE_URL": database_url, "HTTP_PORT": str(port), "QUIET_HOURS": "",
               "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.base_url,
               "PUBLIC_BASE_URL": "https://motcua.example.vn",
               "TELEGRAM_WEBHOOK_SECRET": SECRET, "OUTBOX_LEASE_SECONDS": "3",
               "RATE_LIMIT_CHAT": ""}  # up to 50 updates a chat a minute: not a flood here
        log = tmp_path / "motcua.log"
        process = await start_process(env, tmp_path, log)
        await wait_healthy(port)

        updates = {n: fake.push_message(30_000 + n % 100, f"/u{n}") for n in range(UPDATES)}
        order = list(updates)
        for i in rng.sample(range(UPDATES - 1), UPDATES // 20):  # 5 % out of order
            order[i], order[i + 1] = order[i + 1], order[i]
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in order:
            queue.put_nowait(n)
        acknowledged: set[int] = set()
        resent = 0
        url = f"http://127.0.0.1:{port}/webhook/telegram"
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}

        loop = asyncio.get_running_loop()
        next_slot = loop.time()

        async def pace() -> None:
            """All connections together deliver at most RATE updates a second."""
            nonlocal next_slot
            now = loop.time()
            next_slot = max(now, next_slot + 1 / RATE)
            await asyncio.sleep(next_slot - now)

        async def platform(http: aiohttp.ClientSession) -> None:
            """One of Telegram's connections: deliver, retry what was not answered 200,
            and now and then deliver an acknowledged update again."""
            nonlocal resent
            while len(acknowledged) < UPDATES:
                try:
                    n = queue.get_nowait()
                except asyncio.QueueEmpty:
                    await asyncio.sleep(0.05)
                    continue
                await pace()
                try:
                    async with http.post(url, json=updates[n], headers=headers) as response:
                        status = response.status
                except (TimeoutError, aiohttp.ClientError):
                    status = 0
                if status != 200:
                    await asyncio.sleep(0.1)
                    queue.put_nowait(n)  # Telegram retries until it gets a 200
                    continue
                acknowledged.add(n)
                if rng.random() < 0.2:
                    resent += 1
                    queue.put_nowait(n)

        async def killer() -> int:
            nonlocal process
            kills = 0
            for k in range(1, KILLS + 1):
                await until(lambda k=k: len(acknowledged) >= k * UPDATES // (KILLS + 2),
                            timeout=120)
                process.send_signal(signal.SIGKILL)
                await process.wait()
                kills += 1
                stored = await handled_keys(database_url)
                lost = {n for n in acknowledged if f"telegram:{updates[n]['update_id']}"
                        not in stored}
                assert not lost, f"acknowledged but not stored after kill {k}: {sorted(lost)[:10]}"
                process = await start_process(env, tmp_path, log)
                await wait_healthy(port)
            return kills

        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            kills, *_ = await asyncio.gather(killer(), *(platform(http) for _ in range(8)))

        # Replies of updates handled just before a kill are sent by the restarted process
        # once their hold (OUTBOX_LEASE_SECONDS) runs out.
        await until(lambda: len(replies(fake)) == UPDATES, timeout=60)
        await asyncio.sleep(1.0)  # a late duplicate, if any, would arrive now
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=30)

    stored = await handled_keys(database_url)
    assert stored == {f"telegram:{u['update_id']}" for u in updates.values()}  # all, once
    counts = replies(fake)
    repeated = sum(n - 1 for n in counts.values())
    # A reply is repeated only if it left in the last moments before a kill: sent, its outbox
    # row not yet dropped (rows are dropped in batches every 20 ms, `SentReplies`). How many
    # that is depends on the machine's pace (a few per kill on a quiet machine; up to ~70 at
    # one kill on a loaded one, seen in session 4): at-least-once delivery of replies, never
    # the update handled again (asserted above). The bound only catches a resend of everything.
    assert repeated <= UPDATES // 10, (repeated, sorted(n for n, c in counts.items() if c > 1))
    print(f"inbound durability: {UPDATES} updates, {resent} sent again, {kills} kills: all "
          f"stored and handled once, every reply delivered, {repeated} replies repeated")


async def handled_keys(database_url: str) -> set[str]:
    db = Database(database_url)
    async with db.session() as session:
        keys = set(await session.scalars(
            select(ProcessedUpdate.key).where(ProcessedUpdate.status == "handled")))
    await db.dispose()
    return keys
