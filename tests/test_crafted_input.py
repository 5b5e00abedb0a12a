"""Crafted button actions and statements the database refuses (RELIABILITY.md check 17): an
out-of-range, negative or non-numeric id gets the "button expired" answer and nothing else
happens; a database error that is not an outage is rolled back and answered, never retried
for ever, so the next citizen is answered too. On SQLite and PostgreSQL alike."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError

from bot.app import Service
from bot.db.feedback import Ticket
from bot.db.models import ProcessedUpdate
from bot.db.session import is_outage
from bot.messages import Incoming, Outgoing
from bot.router import Context, action_id, action_number
from tests.conftest import make_settings
from tests.dialog import Dialog, core_with_dossier, texts
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:TEST-token-for-the-fake-api_abcdefghij"
STALE = "hết hiệu lực"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

BAD_IDS = ["99999999999999999999", "9223372036854775808", "-1", "0", "+7", " 7", "1_0",
           "²", "١٢", "１２", "1e5", "0x10", "abc", "", "7\x00", "\u202e7", "9" * 60]
"""Not ids: out of BIGINT's range, signed, padded, other scripts' digits, junk, NUL, bidi."""
CRAFTED_BUTTONS = ["fb:show:99999999999999999999", "fb:show:-5", "fb:show:abc",
                   "fb:rate:9223372036854775808:3", "sv:more:99999999999999999999",
                   "dossier:view:-1", "sv:cmt:99999999999999999999", "fb:show:1\x00",
                   "fb:show:" + "9" * 56, "~" + "z" * 63]
"""Button data a Telegram client can send (at most 64 bytes)."""


def test_only_plain_decimals_within_bigint_are_ids() -> None:
    assert action_id("fb:show:42", 2) == 42
    assert action_id("fb:show:9223372036854775807") == 2**63 - 1
    for bad in BAD_IDS:
        assert action_id(f"fb:show:{bad}", 2) is None, bad
    assert action_id("fb:show", 2) is None
    assert action_number("sv:a:1:4:5", 4, 0, 5) == 5
    assert action_number("sv:a:1:4:6", 4, 0, 5) is None


def test_outage_or_bad_input() -> None:
    """Connection-level failures are an outage (wait, 503); what the database refused in
    one statement is bad input (roll back, answer, move on)."""

    class PgError(Exception):
        def __init__(self, sqlstate: str) -> None:
            super().__init__(sqlstate)
            self.sqlstate = sqlstate

    assert is_outage(ConnectionRefusedError())
    assert is_outage(TimeoutError())
    assert is_outage(OperationalError("SELECT 1", {}, Exception("database is locked")))
    assert is_outage(InterfaceError("SELECT 1", {}, Exception("connection is closed")))
    assert is_outage(DataError("SELECT 1", {}, PgError("08006")))  # connection failure
    assert is_outage(OperationalError("SELECT 1", {}, PgError("57P01")))  # admin shutdown
    assert not is_outage(DataError("SELECT 1", {}, PgError("22003")))  # out of range
    assert not is_outage(DataError("SELECT 1", {}, PgError("22021")))  # NUL in a string
    assert not is_outage(IntegrityError("INSERT", {}, PgError("23505")))
    assert not is_outage(IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")))
    # asyncpg refuses an int8 parameter out of range client-side; SQLAlchemy names it an
    # InterfaceError, but it is a ValueError underneath
    refused = ValueError("invalid input for query argument $1 (value out of int64 range)")
    adapted = Exception("invalid input")
    adapted.__cause__ = refused
    assert not is_outage(InterfaceError("SELECT", {}, adapted))
    assert not is_outage(ValueError("not a database error"))


async def test_every_action_survives_crafted_ids(database_url: str) -> None:
    """Every registered action prefix with crafted tails: an answer each time, never an
    exception, never the apology for a failed handler (a database error would be one)."""
    settings = make_settings(database_url, staff_user_ids="telegram:77")
    core, _ = await core_with_dossier(settings, "000.00.01.H01-260302-0001", NOW)
    apology = core.answers.error().text
    citizen = Dialog(core, channel="telegram", chat_id="77")
    tails = [*BAD_IDS, "99999999999999999999:99999999999999999999"]
    checked = 0
    for prefix in sorted(core.router.actions):
        for tail in tails:
            for action in (f"{prefix}:{tail}", f"{prefix}:1:{tail}", f"{prefix}:{tail}:1",
                           f"{prefix}:d:{tail}:1", f"{prefix}:{tail}:1:1"):
                replies = await citizen.press(action)
                assert apology not in texts(replies), action
                checked += 1
    assert checked > 1000
    async with core.db.session() as session:
        failed = await session.scalars(select(ProcessedUpdate.key).where(
            ProcessedUpdate.status == "failed"))
        assert list(failed) == []
    await core.db.dispose()


async def test_a_statement_the_database_refuses_is_answered_not_retried(
        database_url: str) -> None:
    """A handler whose statement the database refuses (a duplicate key; an id beyond BIGINT
    sent to PostgreSQL): rolled back, the apology, recorded as failed, nothing raised."""
    settings = make_settings(database_url)
    core, _ = await core_with_dossier(settings, "000.00.01.H01-260302-0002", NOW)

    @core.router.action("test:duplicate")
    async def duplicate(msg: Incoming, ctx: Context) -> Outgoing:
        ctx.session.add(ProcessedUpdate(key=msg.update_key, status="handled"))
        await ctx.session.flush()
        return Outgoing("not reached")

    @core.router.action("test:range")
    async def out_of_range(msg: Incoming, ctx: Context) -> Outgoing:
        await ctx.session.get(Ticket, 2**70)  # what no handler does any more
        return Outgoing("not reached")

    citizen = Dialog(core, channel="telegram", chat_id="78")
    for action in ("test:duplicate", "test:range"):
        assert texts(await citizen.press(action)) == core.answers.error().text, action
    async with core.db.session() as session:
        statuses = list(await session.scalars(select(ProcessedUpdate.status)))
    assert statuses == ["failed", "failed"]
    assert "em chào anh/chị" in texts(await citizen.say("/start")).lower()
    await core.db.dispose()


# -- through the real Telegram client ---------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(limit_per_chat_per_s=None) as api:  # ten answers to one chat
        yield api


async def test_crafted_buttons_do_not_freeze_polling(database_url: str,
                                                    fake: FakeTelegram) -> None:
    """A citizen presses crafted buttons: each gets the stale-button answer, and another
    citizen's /start right after is answered (on PostgreSQL an id beyond BIGINT once made
    the update wait for ever as if the database were down)."""
    settings = make_settings(database_url, telegram_bot_token=TOKEN,
                             telegram_api_base_url=fake.base_url)
    async with Service(settings):
        for data in CRAFTED_BUTTONS:
            assert len(data.encode()) <= 64
            fake.push_callback(2001, data)
        fake.push_message(2002, "/start")
        await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok,
                            count=len(CRAFTED_BUTTONS) + 1, timeout=20)
        answers = [c.params["text"] for c in fake.calls_to("sendMessage", ok=True)
                   if str(c.chat_id) == "2001"]
        assert len(answers) == len(CRAFTED_BUTTONS)
        assert all(STALE in answer for answer in answers), answers
        assert "em chào anh/chị" in fake.sent_messages(2002)[-1]["text"]
        assert len(fake.calls_to("answerCallbackQuery")) == len(CRAFTED_BUTTONS)


async def test_a_refused_statement_is_acknowledged_on_the_webhook(
        database_url: str, fake: FakeTelegram, caplog: pytest.LogCaptureFixture) -> None:
    """Not an outage: 200 (Telegram would otherwise re-send it for ever), the apology sent,
    and the next update is served."""
    settings = make_settings(database_url, telegram_bot_token=TOKEN,
                             telegram_api_base_url=fake.base_url,
                             public_base_url="https://motcua.example.gov.vn",
                             telegram_webhook_secret="s3cret_Value-1")
    async with Service(settings) as service:

        @service.core.router.action("test:duplicate")
        async def duplicate(msg: Incoming, ctx: Context) -> Outgoing:
            ctx.session.add(ProcessedUpdate(key=msg.update_key, status="handled"))
            await ctx.session.flush()
            return Outgoing("not reached")

        url = f"http://127.0.0.1:{service.port}/webhook/telegram"
        with caplog.at_level(logging.ERROR):
            assert await fake.deliver_webhook(fake.push_callback(2003, "test:duplicate"),
                                              url) == 200
        assert await fake.deliver_webhook(fake.push_message(2004, "/start"), url) == 200
        await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, count=2)
        assert "trục trặc" in fake.sent_messages(2003)[-1]["text"]
        assert "em chào anh/chị" in fake.sent_messages(2004)[-1]["text"]
        assert fake.pending_updates == []
        assert not any("Traceback" in r.getMessage() for r in caplog.records)
