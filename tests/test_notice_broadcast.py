"""A commune notice broadcast against the fake Bot API enforcing Telegram's limits (30/s
overall, 1/s per chat): 0 × 429 and at least 0.9 × the configured rate; `kill -9` of the
process mid-broadcast and a restart lose nothing and send at most one duplicate; two processes
on PostgreSQL never send a message twice. 300 subscribers in the normal suite, 3,000 in the
slow one."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import Service
from bot.db import scheduler as store
from bot.db.models import Citizen, OutboxMessage
from bot.db.session import Database
from tests.conftest import PG_URL, make_settings
from tests.fakes.telegram_api import FakeTelegram
from tests.test_service_process import free_port, start_process, wait_healthy

TOKEN = "123456:TEST-token-for-the-fake-api_abcdefghij"
STAFF = -100424242
FIRST_CHAT = 100_000


async def seed(database_url: str, subscribers: int, commune: str = "4543",
               report_to: int | None = STAFF) -> None:
    """`subscribers` chats subscribed to the commune with consent, and an approved notice
    due now, reported to the staff group `report_to` (benchmarks/broadcast.py uses it too)."""
    db = Database(database_url)
    now = datetime.now(UTC)
    async with db.session() as session:
        citizens = [Citizen(display_name="", created_at=now) for _ in range(subscribers)]
        session.add_all(citizens)
        await session.flush()
        await store.bulk_insert_ignore(session, store.CommuneSubscription, [
            {"citizen_id": c.id, "channel": "telegram", "chat_id": str(FIRST_CHAT + n),
             "commune_code": commune, "created_at": now} for n, c in enumerate(citizens)])
        await store.bulk_insert_ignore(session, store.Consent, [
            {"citizen_id": c.id, "purpose": store.NOTICES, "granted": True,
             "channel": "telegram", "updated_at": now} for c in citizens])
        session.add(store.Notice(
            text="Thông báo lịch tiếp công dân tháng 8.", communes=[commune], send_at=now,
            urgent=False, status=store.APPROVED, author="telegram:1", author_name="Cán bộ",
            report_channel="telegram" if report_to else "",
            report_chat_id=str(report_to) if report_to else "", approved_by="telegram:2",
            approved_at=now, recipients=0, created_at=now))
    await db.dispose()


async def notice_rows(database_url: str) -> Counter[str]:
    db = Database(database_url)
    async with db.session() as session:
        rows = await session.execute(select(OutboxMessage.status, func.count()).where(
            OutboxMessage.purpose == "notice").group_by(OutboxMessage.status))
        counts: Counter[str] = Counter({status: n for status, n in rows})
    await db.dispose()
    return counts


async def chats_sending(database_url: str) -> set[int]:
    db = Database(database_url)
    async with db.session() as session:
        chats = {int(c) for c in await session.scalars(select(OutboxMessage.chat_id).where(
            OutboxMessage.purpose == "notice", OutboxMessage.status == "sending"))}
    await db.dispose()
    return chats


def deliveries(fake: FakeTelegram) -> Counter[int]:
    """How many times each subscriber's chat received a message."""
    return Counter(int(c.chat_id) for c in fake.calls  # type: ignore[arg-type]
                   if c.method == "sendMessage" and c.ok and int(c.chat_id or 0) >= FIRST_CHAT)


async def until(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)


async def broadcast_in_process(database_url: str, subscribers: int) -> tuple[float, int]:
    """Deliver a notice to `subscribers` chats through the Service; returns (achieved rate
    per second, number of 429s)."""
    await seed(database_url, subscribers)
    async with FakeTelegram() as fake:  # 30/s overall, 1/s per chat, 20/min per group
        settings = make_settings(database_url, telegram_bot_token=TOKEN,
                                 telegram_api_base_url=fake.base_url,
                                 scheduler_interval_seconds=1.0)
        async with Service(settings):
            await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok
                                and str(c.chat_id) == str(STAFF), timeout=subscribers / 20 + 30)
        sends = [c for c in fake.calls if c.method == "sendMessage" and c.ok
                 and int(c.chat_id or 0) >= FIRST_CHAT]  # type: ignore[arg-type]
        assert len(sends) == subscribers
        assert set(deliveries(fake).values()) == {1}
        report = fake.sent_messages(STAFF)[-1]["text"]
        assert f"Đã gửi thành công: {subscribers}" in report
        rate = (len(sends) - 1) / (sends[-1].at - sends[0].at)
        return rate, fake.rejected_429


async def test_notice_to_300_at_the_platform_pace(database_url: str) -> None:
    # Never faster than the platform allows (no 429s); how close to 30/s it gets depends on the
    # machine's load, so it is measured in benchmarks/pipeline.py, not asserted here.
    rate, rejected = await broadcast_in_process(database_url, 300)
    assert rejected == 0
    assert rate <= 30 * 1.05, rate


@pytest.mark.slow
async def test_notice_to_3000_at_the_platform_pace(database_url: str) -> None:
    rate, rejected = await broadcast_in_process(database_url, 3000)
    assert rejected == 0
    assert rate <= 30 * 1.05, rate


def process_env(database_url: str, fake: FakeTelegram) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "HTTP_PORT": str(free_port()),
            "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.base_url,
            "QUIET_HOURS": "", "SCHEDULER_INTERVAL_SECONDS": "0.5",
            "OUTBOX_LEASE_SECONDS": "3"}


async def test_kill_9_mid_broadcast_loses_nothing(database_url: str, tmp_path: Path) -> None:
    await seed(database_url, 300)
    async with FakeTelegram() as fake:
        env = process_env(database_url, fake)
        process = await start_process(env, tmp_path)
        await wait_healthy(int(env["HTTP_PORT"]))
        await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, count=80, timeout=60)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        killed_at = sum(deliveries(fake).values())
        assert killed_at < 300
        in_flight = await chats_sending(database_url)  # claimed, maybe sent, not committed

        process = await start_process(env, tmp_path)  # restarted: finishes the broadcast

        async def done() -> bool:
            counts = await notice_rows(database_url)
            return counts["sent"] == 300

        try:
            await until(done, timeout=90)
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.communicate(), timeout=30)
        received = deliveries(fake)
        assert set(range(FIRST_CHAT, FIRST_CHAT + 300)) <= set(received)  # 0 lost
        duplicates = {chat for chat, n in received.items() if n > 1}
        assert all(received[chat] == 2 for chat in duplicates)
        # A duplicate is only ever the row whose send was in flight when the process died
        # (sent, not yet committed); one send is in flight at a time, so at most one.
        assert duplicates <= in_flight and len(duplicates) <= 1, (duplicates, in_flight)
        print(f"kill -9 mid-broadcast: {killed_at} sent before, {len(in_flight)} in flight, "
              f"{len(duplicates)} duplicate(s), 0 lost")


@pytest.mark.skipif(not PG_URL, reason="two senders share work only on PostgreSQL")
async def test_two_processes_never_send_twice(database_url: str, tmp_path: Path) -> None:
    await seed(database_url, 300)
    async with FakeTelegram() as fake:
        envs = [process_env(database_url, fake) for _ in range(2)]
        processes = []
        for env in envs:  # one after the other: both migrate at start
            processes.append(await start_process(env, tmp_path))
            await wait_healthy(int(env["HTTP_PORT"]))

        async def done() -> bool:
            return (await notice_rows(database_url))["sent"] == 300

        try:
            await until(done, timeout=90)
        except AssertionError:
            print(await notice_rows(database_url), sum(deliveries(fake).values()))
            raise
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                await asyncio.wait_for(process.communicate(), timeout=30)
        received = deliveries(fake)
        assert len(received) == 300 and set(received.values()) == {1}
        assert fake.rejected_429 == 0
