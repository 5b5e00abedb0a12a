"""Telegram long polling (bot/channels/telegram.py, `TelegramChannel._poll`): an update is
confirmed to Telegram only once it is handled and stored, so a process that stops or dies in
the middle of one loses nothing; a failing getUpdates is retried; a malformed update is
skipped without holding up the rest. On a real SQLite file, against the fake Bot API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.app import Service
from bot.messages import Incoming, Outgoing
from tests.conftest import make_settings
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:TEST-token-for-the-fake-api_abcdefghij"
GREETING = "em chào anh/chị"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(limit_overall_per_s=None, limit_per_chat_per_s=None,
                            limit_per_group_per_min=None) as api:
        yield api


async def test_an_update_is_confirmed_only_once_stored(database_url: str,
                                                      fake: FakeTelegram) -> None:
    """The process stops while an update is being handled (as a kill would): Telegram still
    holds it, and the next process answers it once."""
    settings = make_settings(database_url, telegram_bot_token=TOKEN,
                             telegram_api_base_url=fake.base_url)
    reached = asyncio.Event()
    async with Service(settings) as service:

        async def dies_here(msg: Incoming) -> list[Outgoing]:
            reached.set()
            await asyncio.Event().wait()  # never returns: the process goes down meanwhile
            return []

        service.core.handle = dies_here  # type: ignore[method-assign]
        first = fake.push_message(3001, "/start")
        await asyncio.wait_for(reached.wait(), 20)
        second = fake.push_message(3002, "/start")
        await asyncio.sleep(0.5)  # room for another getUpdates, which must not come
        pending = [u["update_id"] for u in fake.pending_updates]
        assert pending == [first["update_id"], second["update_id"]]
    assert fake.sent_messages(3001) == []

    async with Service(settings):
        await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, count=2, timeout=20)
        await asyncio.wait_for(_confirmed(fake), 20)
    for chat in (3001, 3002):
        sent = fake.sent_messages(chat)
        assert len(sent) == 1 and GREETING in sent[0]["text"]


async def test_a_failing_get_updates_is_tried_again(database_url: str,
                                                    fake: FakeTelegram) -> None:
    """Telegram answers 502, then 409 (another poller), then normally: the message is
    answered."""
    settings = make_settings(database_url, telegram_bot_token=TOKEN,
                             telegram_api_base_url=fake.base_url)
    fake.fail_next("getUpdates", 502)
    fake.fail_next("getUpdates", 409)
    fake.push_message(3003, "/start")
    async with Service(settings) as service:
        await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, timeout=20)
        assert service.telegram is not None and service.telegram.status == "ok"
    assert GREETING in fake.sent_messages(3003)[-1]["text"]
    assert [c.status for c in fake.calls_to("getUpdates")][:2] == [502, 409]


async def test_a_malformed_update_is_skipped_and_the_rest_answered(
        database_url: str, fake: FakeTelegram, caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(database_url, telegram_bot_token=TOKEN,
                             telegram_api_base_url=fake.base_url)
    broken = fake.push_update({"message": {"message_id": "not a number", "date": 1,
                                           "chat": {"id": 3004, "type": "private"},
                                           "from": {"id": 3004, "first_name": "An"}}})
    fake.push_message(3005, "/start")
    async with Service(settings):
        await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, timeout=20)
        await asyncio.wait_for(_confirmed(fake), 20)
    assert GREETING in fake.sent_messages(3005)[-1]["text"]
    assert fake.sent_messages(3004) == []
    assert any(f"malformed update {broken['update_id']}" in r.getMessage()
               for r in caplog.records)


async def _confirmed(fake: FakeTelegram) -> None:
    while fake.pending_updates:
        await asyncio.sleep(0.05)
