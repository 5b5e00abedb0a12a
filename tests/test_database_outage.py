"""Database outage (RELIABILITY.md check 6), on PostgreSQL: webhook updates arrive at 20/s
while the database refuses every connection for 3 s. During the outage the webhook answers
503 (Telegram sends the update again), never 200 for an update it did not store; afterwards
the service recovers by itself within 10 s, and every update ends stored and answered once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import Service
from bot.db.models import ProcessedUpdate
from tests.conftest import PG_URL, make_settings
from tests.fakes.telegram_api import FakeTelegram

pytestmark = pytest.mark.skipif(not PG_URL, reason="a PostgreSQL outage needs PostgreSQL")

TOKEN = "123456:TEST-token-for-the-fake-api_abcdefghij"
SECRET = "outage_Secret-1"
RATE = 20
UPDATES = 200


@asynccontextmanager
async def outage(database_url: str) -> AsyncIterator[None]:
    """Refuse new connections to the test database and cut the open ones; always undone."""
    url = make_url(database_url)
    admin = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = url.database
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
            await conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
        yield
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        await admin.dispose()


async def test_webhooks_answer_503_during_an_outage_and_recover(database_url: str) -> None:
    async with FakeTelegram(limit_overall_per_s=None, limit_per_chat_per_s=None,
                            limit_per_group_per_min=None) as fake:
        settings = make_settings(database_url, telegram_bot_token=TOKEN,
                                 telegram_api_base_url=fake.base_url,
                                 public_base_url="https://motcua.example.gov.vn",
                                 telegram_webhook_secret=SECRET)
        async with Service(settings) as service, aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{service.port}/webhook/telegram"
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            pending = [fake.push_message(40_000 + n % 20, f"/u{n}") for n in range(UPDATES)]
            loop = asyncio.get_running_loop()
            answers: list[tuple[float, int]] = []  # (time, status) of every delivery
            acknowledged: set[int] = set()
            outage_window: list[float] = []

            async def platform() -> None:
                """Telegram: one update every 1/RATE s; an unanswered one goes to the back."""
                while pending:
                    update = pending.pop(0)
                    async with http.post(url, json=update, headers=headers) as response:
                        answers.append((loop.time(), response.status))
                        if response.status == 200:
                            acknowledged.add(update["update_id"])
                        else:
                            assert response.status == 503, await response.text()
                            pending.append(update)
                    await asyncio.sleep(1 / RATE)

            async def cut() -> None:
                await asyncio.sleep(2.0)
                async with outage(database_url):
                    outage_window.append(loop.time())
                    await asyncio.sleep(3.0)
                outage_window.append(loop.time())

            await asyncio.gather(platform(), cut())

            started, ended = outage_window
            during = [status for at, status in answers if started + 0.5 < at < ended]
            assert during and set(during) == {503}, during  # nothing acknowledged unstored
            recovered = min(at for at, status in answers if at > ended and status == 200)
            assert recovered - ended < 10
            async with service.db.session() as session:
                stored = set(await session.scalars(select(ProcessedUpdate.key)))
            assert stored == {f"telegram:{n}" for n in acknowledged}
            assert len(acknowledged) == UPDATES  # 0 lost
            await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, count=UPDATES,
                                timeout=30)
            print(f"database outage: {len(during)} deliveries answered 503 during 3 s, "
                  f"recovered {recovered - ended:.1f} s after, {UPDATES} stored once")
