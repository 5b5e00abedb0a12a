"""The outbox and its paced sender against the fake Bot API: pace without 429s, retry_after
obeyed, transient errors retried, permanent ones failed at once, nothing lost on stop or crash,
one sender per channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text, update

from bot.channels.telegram import TelegramChannel
from bot.config import Settings
from bot.db.models import OutboxMessage
from bot.db.session import Database
from bot.messages import ChatRef, Outgoing
from bot.outbox import (
    Pace,
    PacedSender,
    Pacer,
    SlidingWindow,
    deliver_replies,
    enqueue,
    journal_replies,
    utcnow,
)
from bot.router import Core, Router
from tests.conftest import make_settings
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:TEST-token-for-the-fake-api_abcdefghij"
FAST = Pace(overall_per_s=30, per_chat_per_s=1, per_group_per_min=20)


class Rig:
    """A database, the real Telegram channel against the fake, and senders on demand."""

    def __init__(self, settings: Settings, fake: FakeTelegram) -> None:
        self.settings = settings
        self.fake = fake
        self.db = Database(settings.database_url)
        self.channel = TelegramChannel(settings, Core(settings, self.db, Router()), self.db,
                                       webhook=True, request_timeout=0.5)

    def sender(self, pace: Pace = FAST, **options: object) -> PacedSender:
        options = {"retry_base": 0.05, "idle_poll": 0.05, **options}
        return PacedSender(self.db, self.channel, pace, **options)  # type: ignore[arg-type]

    async def add(self, chat: int, text: str, key: str | None = None) -> bool:
        async with self.db.session() as session:
            return await enqueue(session, ChatRef("telegram", str(chat)), Outgoing(text),
                                 key=key or f"test:{chat}:{text}")

    async def rows(self) -> list[OutboxMessage]:
        async with self.db.session() as session:
            return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

    async def until(self, done: Callable[[list[OutboxMessage]], bool],
                    timeout: float = 20) -> list[OutboxMessage]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            rows = await self.rows()
            if done(rows):
                return rows
            if asyncio.get_running_loop().time() > deadline:
                states = sorted({(r.status, r.last_error) for r in rows}, key=str)
                raise AssertionError(f"outbox not done after {timeout}s: {states}")
            await asyncio.sleep(0.05)


def all_final(rows: list[OutboxMessage]) -> bool:
    return bool(rows) and all(r.status in ("sent", "failed") for r in rows)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as api:
        yield api


@pytest.fixture
async def rig(database_url: str, fake: FakeTelegram) -> AsyncIterator[Rig]:
    settings = make_settings(database_url, telegram_bot_token=TOKEN,
                             telegram_api_base_url=fake.base_url)
    rig = Rig(settings, fake)
    await rig.channel.bot.initialize()
    yield rig
    await rig.channel.bot.shutdown()
    await rig.db.dispose()


async def run_until_final(rig: Rig, sender: PacedSender, timeout: float = 20
                          ) -> list[OutboxMessage]:
    task = asyncio.create_task(sender.run())
    try:
        return await rig.until(all_final, timeout)
    finally:
        await sender.stop()
        await task


def sent_texts(fake: FakeTelegram, chat: int) -> list[str]:
    return [m["text"] for m in fake.sent_messages(chat)]


async def test_paced_delivery_has_no_429_and_keeps_order(rig: Rig, fake: FakeTelegram) -> None:
    for n in range(3):
        for chat in range(1, 31):
            await rig.add(chat, f"tin {n}")
    rows = await run_until_final(rig, rig.sender())
    assert {r.status for r in rows} == {"sent"}
    assert fake.rejected_429 == 0
    for chat in range(1, 31):
        assert sent_texts(fake, chat) == ["tin 0", "tin 1", "tin 2"]


async def test_the_same_dedupe_key_is_sent_once(rig: Rig, fake: FakeTelegram) -> None:
    assert await rig.add(7, "chúc mừng", key="congrats:dossier-1")
    assert not await rig.add(7, "chúc mừng", key="congrats:dossier-1")
    rows = await run_until_final(rig, rig.sender())
    assert len(rows) == 1 and sent_texts(fake, 7) == ["chúc mừng"]


async def test_retry_after_is_obeyed(rig: Rig, fake: FakeTelegram) -> None:
    fake.force_retry_after(1, count=1)
    for chat in (1, 2, 3):
        await rig.add(chat, "xin chào")
    rows = await run_until_final(rig, rig.sender())
    assert {r.status for r in rows} == {"sent"}
    assert fake.pause_violations == []
    limited = fake.calls_to("sendMessage", ok=False)[0]
    after = [c for c in fake.calls_to("sendMessage", ok=True) if c.at > limited.at]
    assert after and min(c.at for c in after) - limited.at >= 1.0
    assert sorted(r.attempts for r in rows)[-1] == 2


async def test_transient_errors_are_retried(rig: Rig, fake: FakeTelegram) -> None:
    fake.fail_next("sendMessage", 502, count=2)
    await rig.add(5, "thông báo")
    (row,) = await run_until_final(rig, rig.sender())
    assert row.status == "sent" and row.attempts == 3
    assert sent_texts(fake, 5) == ["thông báo"]


async def test_timeouts_are_retried(rig: Rig, fake: FakeTelegram) -> None:
    fake.delay(1.5, method="sendMessage", count=1)
    await rig.add(6, "chậm")
    (row,) = await run_until_final(rig, rig.sender())
    assert row.status == "sent" and row.attempts == 2
    assert "timed out" in (row.last_error or "")


async def test_permanent_errors_fail_at_once(rig: Rig, fake: FakeTelegram) -> None:
    fake.blocked_chats.add(8)
    fake.unknown_chats.add(9)
    await rig.add(8, "a")
    await rig.add(9, "b")
    rows = await run_until_final(rig, rig.sender())
    assert [(r.status, r.attempts) for r in rows] == [("failed", 1), ("failed", 1)]
    assert "blocked" in (rows[0].last_error or "")
    assert "chat not found" in (rows[1].last_error or "").lower()


async def test_attempts_are_bounded(rig: Rig, fake: FakeTelegram) -> None:
    fake.fail_rate(502, 1.0)
    await rig.add(10, "không tới")
    (row,) = await run_until_final(rig, rig.sender(max_attempts=3))
    assert row.status == "failed" and row.attempts == 3
    assert row.last_error and row.last_error.startswith("gave up after 3 attempts")


async def test_stop_loses_nothing_and_a_new_sender_finishes(rig: Rig, fake: FakeTelegram) -> None:
    for chat in range(100, 160):
        await rig.add(chat, "phát tin")
    sender = rig.sender(Pace(20, 1, 20))
    task = asyncio.create_task(sender.run())
    await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, count=10, timeout=10)
    await sender.stop()
    await task
    rows = await rig.rows()
    assert {r.status for r in rows} <= {"sent", "pending"}
    assert 10 <= sum(r.status == "sent" for r in rows) < 60
    rows = await run_until_final(rig, rig.sender())
    assert {r.status for r in rows} == {"sent"}
    assert all(sent_texts(fake, chat) == ["phát tin"] for chat in range(100, 160))


async def test_rows_of_a_crashed_sender_are_retried_after_their_lease(rig: Rig,
                                                                      fake: FakeTelegram) -> None:
    for chat in (11, 12):
        await rig.add(chat, "sau sự cố")
    async with rig.db.session() as session:  # as a sender killed mid-claim leaves them
        await session.execute(update(OutboxMessage).values(
            status="sending", lease_until=utcnow() - timedelta(seconds=1)))
    rows = await run_until_final(rig, rig.sender())
    assert {r.status for r in rows} == {"sent"}


async def test_two_senders_one_role_nothing_twice(rig: Rig, fake: FakeTelegram) -> None:
    for chat in range(200, 260):
        await rig.add(chat, "một lần thôi")
    first, second = rig.sender(), rig.sender()
    tasks = [asyncio.create_task(s.run()) for s in (first, second)]
    try:
        rows = await rig.until(all_final)
    finally:
        for s in (first, second):
            await s.stop()
        await asyncio.gather(*tasks)
    assert {r.status for r in rows} == {"sent"}
    assert len(fake.calls_to("sendMessage", ok=True)) == 60
    assert [first.is_leader, second.is_leader].count(True) == 1


async def test_no_send_leaves_while_an_outcome_is_not_recorded(rig: Rig,
                                                                 fake: FakeTelegram) -> None:
    """The database refuses the first outcomes (an outage): the sender sends nothing else
    until it has recorded that one, so at most one message is ever sent and not recorded."""
    for chat in (21, 22, 23):
        await rig.add(chat, "khi mất kết nối")
    sender = rig.sender()
    record = sender._record
    refusals = 2  # the outcome itself, then its first catch-up
    sends_when_recorded: list[int] = []

    async def flaky(row_id: int, values: dict[str, object]) -> None:
        nonlocal refusals
        if refusals:
            refusals -= 1
            raise OSError("database unreachable")
        await record(row_id, values)
        sends_when_recorded.append(len(fake.calls_to("sendMessage")))

    sender._record = flaky  # type: ignore[method-assign]
    rows = await run_until_final(rig, sender)
    assert {r.status for r in rows} == {"sent"}
    assert sends_when_recorded == [1, 2, 3]
    assert all(sent_texts(fake, chat) == ["khi mất kết nối"] for chat in (21, 22, 23))


async def test_an_outcome_the_database_refuses_holds_up_nothing(rig: Rig,
                                                                 fake: FakeTelegram) -> None:
    """Not an outage but a refusal of the statement itself: that row is let go (sent again
    once its lease runs out) and the others are sent."""
    for chat in (31, 32, 33):
        await rig.add(chat, "vẫn gửi tiếp")
    sender = rig.sender()
    record = sender._record
    refused: list[int] = []

    async def refusing(row_id: int, values: dict[str, object]) -> None:
        if not refused:
            refused.append(row_id)
            raise ValueError("a value the database refuses")
        await record(row_id, values)

    sender._record = refusing  # type: ignore[method-assign]
    task = asyncio.create_task(sender.run())
    try:
        rows = await rig.until(lambda rows: sum(r.status == "sent" for r in rows) == 2)
    finally:
        await sender.stop()
        await task
    assert [r.status for r in rows if r.id in refused] == ["sending"]


# -- pacing rules with an injected clock ----------------------------------------------------


def test_sliding_window() -> None:
    window = SlidingWindow(limit=2, window=1.0)
    assert window.next_free(0.0) == 0.0
    window.record(0.0)
    window.record(0.1)
    assert window.next_free(0.2) == 1.0
    assert window.next_free(1.05) == 1.05


def test_pacer_limits_per_chat_per_group_and_pauses() -> None:
    now = [100.0]
    pacer = Pacer(Pace(30, 1, 20, margin=0.0), clock=lambda: now[0])
    pacer.record("42", False)
    assert pacer.ready_at("42", False, now[0]) >= 101.0
    assert pacer.ready_at("43", False, now[0]) < 100.1
    for _ in range(20):
        pacer.record("-5", True)
        now[0] += 1.1
    assert pacer.ready_at("-5", True, now[0]) >= 160.0  # 20 per minute in that group
    pacer.pause(3.0)
    assert pacer.ready_at("44", False, now[0]) >= now[0] + 3.0


# -- direct replies (journaled with the update, dropped once sent) ----------------------------


async def journal(rig: Rig, chat: int, texts: list[str], hold: float = 60) -> list[Outgoing]:
    replies = [Outgoing(text) for text in texts]
    async with rig.db.session() as session:
        await journal_replies(session, ChatRef("telegram", str(chat)), replies,
                              f"telegram:{chat}", timedelta(seconds=hold))
    return replies


async def test_sent_replies_leave_no_row_behind(rig: Rig, fake: FakeTelegram) -> None:
    replies = {chat: await journal(rig, chat, [f"Trả lời {chat}"]) for chat in (21, 25)}
    assert [r.status for r in await rig.rows()] == ["sending"] * 2  # held: no sender takes them
    for chat, outgoing in replies.items():
        await deliver_replies(rig.channel.sent, rig.channel, ChatRef("telegram", str(chat)),
                              outgoing, f"telegram:{chat}")
    await rig.channel.sent.close()  # (rows are dropped in batches)
    assert sent_texts(fake, 21) == ["Trả lời 21"] and sent_texts(fake, 25) == ["Trả lời 25"]
    assert await rig.rows() == []  # what the citizen was told is not kept


async def test_a_refused_reply_is_left_to_the_sender_or_failed(rig: Rig,
                                                               fake: FakeTelegram) -> None:
    replies = await journal(rig, 22, ["Một", "Hai"])
    fake.fail_next("sendMessage", 502)
    await deliver_replies(rig.channel.sent, rig.channel, ChatRef("telegram", "22"), replies,
                          "telegram:22")
    await rig.channel.sent.close()
    rows = await rig.rows()
    assert [(r.status, r.last_error is not None) for r in rows] == [("pending", True)] * 2
    assert (await run_until_final(rig, rig.sender()))[0].status == "sent"
    assert sent_texts(fake, 22) == ["Một", "Hai"]  # in order, each once

    replies = await journal(rig, 23, ["Ba"])
    fake.blocked_chats.add(23)
    await deliver_replies(rig.channel.sent, rig.channel, ChatRef("telegram", "23"), replies,
                          "telegram:23")
    (row,) = [r for r in await rig.rows() if r.chat_id == "23"]
    assert row.status == "failed" and "forbidden" in (row.last_error or "")


async def test_replies_of_a_process_that_died_are_sent_after_their_hold(
        rig: Rig, fake: FakeTelegram) -> None:
    await journal(rig, 24, ["Sau sự cố"], hold=0.5)  # and the process died before sending
    rows = await run_until_final(rig, rig.sender())
    assert [r.status for r in rows] == ["sent"]
    assert sent_texts(fake, 24) == ["Sau sự cố"]


async def until_readable(rig: Rig) -> None:
    for _ in range(400):
        try:
            await rig.rows()
            return
        except ValueError:
            await asyncio.sleep(0.05)
    raise AssertionError("an outbox payload is still not JSON")


async def test_a_poison_row_is_failed_and_the_rest_are_sent(rig: Rig, fake: FakeTelegram) -> None:
    """Payloads `Outgoing.from_dict` cannot read (a string, unknown keys, bad base64, a
    button that is not one, and on SQLite text that is not JSON at all) are failed with the
    reason; the rows behind them, in the same chat too, are sent; the sender keeps running."""
    poison: list[object] = [
        "chỉ là một chuỗi", {"text": "x", "secret": 1}, {"text": 5},
        {"text": "x", "photo": {"kind": "photo", "data": "không phải base64!"}},
        {"text": "x", "buttons": [[{"label": "a", "onclick": "x"}]]},
        {"text": "x", "buttons": "a"},
    ]
    async with rig.db.session() as session:
        for index, payload in enumerate(poison):
            await session.execute(insert(OutboxMessage).values(
                dedupe_key=f"poison:{index}", channel="telegram", chat_id="40", is_group=False,
                purpose="message", payload=payload, status="pending", not_before=utcnow(),
                attempts=0, created_at=utcnow()))
    if rig.db.dialect == "sqlite":  # PostgreSQL's json type refuses such text itself
        await rig.add(40, "sắp hỏng", key="poison:not-json")
        async with rig.db.session() as session:
            await session.execute(text(
                "UPDATE outbox SET payload = '{\"text\": \"cụt' "
                "WHERE dedupe_key = 'poison:not-json'"))
    for chat in (40, 41, 42):
        await rig.add(chat, "tin tốt 1")
        await rig.add(chat, "tin tốt 2")
    sender = rig.sender()
    task = asyncio.create_task(sender.run())
    try:
        await until_readable(rig)  # the text that is not JSON is replaced when it is failed
        rows = await rig.until(all_final)
        assert not task.done()  # still running
        bad = [r for r in rows if r.dedupe_key.startswith("poison:")]
        assert {(r.status, r.attempts) for r in bad} == {("failed", 1)}
        assert all("undecodable payload" in (r.last_error or "") for r in bad)
        assert {r.status for r in rows if r not in bad} == {"sent"}
        for chat in (40, 41, 42):
            assert sent_texts(fake, chat) == ["tin tốt 1", "tin tốt 2"]
        await rig.add(43, "sau đó")  # and it goes on sending what comes next
        sender.notify()
        await rig.until(lambda rows: all_final(rows) and len(rows) == len(bad) + 7)
        assert sent_texts(fake, 43) == ["sau đó"]
    finally:
        await sender.stop()
        await task
