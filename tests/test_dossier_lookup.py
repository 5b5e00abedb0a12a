"""Citizen lookup through the core (dialog tables): code → digits → card, identical failure
replies, throttling, the audit trail, subscriptions, staff view, privacy in groups."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.db import dossiers as repo
from bot.db.dossiers import DossierFields, DossierLookupFailure, DossierSubscription, EventFields
from bot.db.models import AuditLog, OutboxMessage
from bot.db.session import Database
from bot.router import Core
from handlers import build_router
from handlers.dossiers import announce_event, on_code_in_text
from tests.conftest import make_settings
from tests.dialog import Dialog, actions, labels, texts

CODE = "000.00.01.H29-260305-0001"
OTHER = "03706/2026/07906"
START = datetime(2026, 3, 16, 3, 0, tzinfo=UTC)  # Monday 10:00 in Hà Nội


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    settings: Settings
    db: Database
    core: Core
    clock: Clock

    def chat(self, chat_id: str = "c1", **kwargs: object) -> Dialog:
        return Dialog(self.core, chat_id=chat_id, **kwargs)  # type: ignore[arg-type]


async def add_dossier(db: Database, code: str = CODE, phone: str = "0912345678",
                      **overrides: object) -> None:
    values: dict[str, object] = dict(
        code=code, procedure_code="1.000894", procedure_name="Đăng ký kết hôn",
        applicant_name="Nguyễn Văn An", phone=phone,
        received_at=datetime(2026, 3, 5, 2, 0, tzinfo=UTC),
        due_at=datetime(2026, 3, 18, 10, 0, tzinfo=UTC))
    values.update(overrides)
    async with db.session() as session:
        await repo.upsert_dossier(session, DossierFields(**values), START)  # type: ignore[arg-type]


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    settings = make_settings(database_url, telegram_staff_chat_id=-100777)
    db = Database(database_url)
    clock = Clock(START)
    core = Core(settings, db, build_router(), clock=clock)
    await add_dossier(db)
    await add_dossier(db, OTHER, phone="0988001122", applicant_name="Trần Thị Bình")
    yield World(settings, db, core, clock)
    await db.dispose()


async def audit_actions(db: Database) -> list[tuple[str, str]]:
    async with db.session() as session:
        rows = await session.scalars(select(AuditLog).order_by(AuditLog.id))
        return [(row.action, row.result) for row in rows]


async def test_code_then_digits_shows_the_card(world: World) -> None:
    chat = world.chat()
    replies = await chat.say("/hoso")
    assert "gõ mã hồ sơ" in texts(replies)
    replies = await chat.say(" 000.00.01.h29 - 260305-0001 ")
    assert "4 số cuối" in texts(replies) and CODE in texts(replies)
    replies = await chat.say("5678")
    card = texts(replies)
    assert f"thông tin hồ sơ {CODE}" in card
    for expected in ("Đăng ký kết hôn", "Nguyễn V. A.", "09******78", "thứ Năm, 05/03/2026",
                     "thứ Tư, 18/03/2026", "Mới tiếp nhận", "Còn 2 ngày làm việc",
                     "Trung tâm Phục vụ hành chính công"):
        assert expected in card, expected
    assert "Nguyễn Văn An" not in card and "0912345678" not in card
    assert labels(replies)[0] == "Nhận thông báo khi hồ sơ thay đổi"
    assert await audit_actions(world.db) == [("dossier.viewed", "ok")]


@pytest.mark.parametrize("start", ["/hoso 03706/2026/07906", "/status 03706 / 2026 / 07906",
                                   "hoso 03706/2026/07906", "tra cứu hồ sơ 03706/2026/07906"])
async def test_the_ways_to_start_a_check(world: World, start: str) -> None:
    chat = world.chat()
    assert "4 số cuối" in texts(await chat.say(start))
    assert "Trần T. B." in texts(await chat.say("1122"))


async def test_the_menu_button_starts_a_check(world: World) -> None:
    chat = world.chat()
    assert "gõ mã hồ sơ" in texts(await chat.press("menu:hoso"))
    assert "chưa nhận ra mã" in texts(await chat.say("không nhớ mã"))
    assert "4 số cuối" in texts(await chat.say(CODE))
    assert "đúng 4 chữ số" in texts(await chat.say("56"))
    assert OTHER in texts(await chat.say(OTHER))  # another code starts again
    assert "Trần T. B." in texts(await chat.say("1122"))


async def test_plain_text_is_left_to_procedure_search(world: World) -> None:
    for said in ("làm giấy khai sinh", "cccd", "1.000894", "0912345678"):
        incoming = world.chat().incoming(said)
        assert await on_code_in_text(incoming, None) is None  # type: ignore[arg-type]


async def test_unknown_code_and_wrong_digits_get_the_same_reply(world: World) -> None:
    wrong = world.chat("a")
    await wrong.say(f"/hoso {CODE}")
    wrong_reply = await wrong.say("1234")
    unknown = world.chat("b")
    unknown_ask = await unknown.say("/hoso 000.00.01.H29-260305-9999")
    unknown_reply = await unknown.say("5678")
    assert texts(wrong_reply) == texts(unknown_reply)
    assert labels(wrong_reply) == labels(unknown_reply)
    assert actions(wrong_reply) == actions(unknown_reply)
    assert "chưa tìm thấy hồ sơ khớp" in texts(wrong_reply)
    assert "9999" in texts(unknown_ask)  # it echoes what was typed, never what exists
    async with world.db.session() as session:
        rows = list(await session.scalars(select(AuditLog).order_by(AuditLog.id)))
    assert [(r.action, r.result, r.detail["reason"]) for r in rows] == [
        ("dossier.lookup_failed", "denied", "wrong_digits"),
        ("dossier.lookup_failed", "denied", "no_such_code")]


async def test_five_failures_throttle_the_chat_for_fifteen_minutes(world: World) -> None:
    chat = world.chat()
    await chat.say(f"/hoso {CODE}")
    for _ in range(4):
        assert "chưa tìm thấy" in texts(await chat.say("0000"))
    assert "tạm dừng tra cứu" in texts(await chat.say("0000"))
    # throttled: even the right digits show nothing
    assert "tạm dừng tra cứu" in texts(await chat.say(f"/hoso {CODE}"))
    assert "tạm dừng tra cứu" in texts(await chat.say(CODE))
    other_chat = world.chat("c2")
    await other_chat.say(f"/hoso {CODE}")
    assert "thông tin hồ sơ" in texts(await other_chat.say("5678"))

    world.clock.now += timedelta(minutes=14)
    assert "tạm dừng tra cứu" in texts(await chat.say(f"/hoso {CODE}"))
    world.clock.now += timedelta(minutes=1, seconds=1)
    assert "4 số cuối" in texts(await chat.say(f"/hoso {CODE}"))
    assert "thông tin hồ sơ" in texts(await chat.say("5678"))
    recorded = await audit_actions(world.db)
    assert recorded.count(("dossier.lookup_failed", "denied")) == 5
    assert recorded.count(("dossier.throttled", "denied")) == 1


async def test_subscribe_and_unsubscribe(world: World) -> None:
    chat = world.chat(channel="telegram", chat_id="42")
    await chat.say(f"/hoso {CODE}")
    card = await chat.say("5678")
    subscribe = actions(card)[0]
    replies = await chat.press(subscribe)
    assert "em sẽ nhắn anh/chị" in texts(replies)
    assert "Hồ sơ của tôi" in texts(replies)  # where to stop following it
    assert "đang nhận thông báo" in texts(await chat.press(subscribe))
    async with world.db.session() as session:
        row = (await session.scalars(select(DossierSubscription))).one()
        assert (row.active, row.channel, row.chat_id) == (True, "telegram", "42")
        assert row.subscribed_at == START
    replies = await chat.press(subscribe.replace(":sub:", ":unsub:"))
    assert "đã dừng gửi thông báo" in texts(replies)
    async with world.db.session() as session:
        row = (await session.scalars(select(DossierSubscription))).one()
        assert row.active is False and row.unsubscribed_at == START
        assert await repo.find_subscribers(session, row.dossier_id) == []
    assert ("dossier.subscribed", "ok") in await audit_actions(world.db)


async def test_buttons_of_a_dossier_need_the_second_factor_first(world: World) -> None:
    owner = world.chat("owner")
    await owner.say(f"/hoso {CODE}")
    subscribe = actions(await owner.say("5678"))[0]
    dossier_id = subscribe.rpartition(":")[2]
    stranger = world.chat("stranger")  # e.g. a forged action posted to the web chat
    for action in (subscribe, f"dossier:view:{dossier_id}", f"dossier:unsub:{dossier_id}",
                   "dossier:sub:999"):
        replies = await stranger.press(action)
        assert "tra cứu lại bằng mã hồ sơ" in texts(replies), action
    assert "hết hiệu lực" in texts(await stranger.press("dossier:view:abc"))  # not an id
    async with world.db.session() as session:
        assert (await session.scalars(select(DossierSubscription))).one().chat_id == "owner"


async def test_the_view_button_of_a_notification_shows_the_card(world: World) -> None:
    chat = world.chat()
    await chat.say(f"/hoso {CODE}")
    dossier_id = actions(await chat.say("5678"))[0].rpartition(":")[2]
    async with world.db.session() as session:
        dossier = await repo.get_dossier(session, CODE)
        assert dossier is not None
        await repo.add_event(session, dossier, EventFields(
            "delayed", START + timedelta(hours=1), "", datetime(2026, 3, 25, 10, tzinfo=UTC),
            "Chờ xác minh"), START)
    card = texts(await chat.press(f"dossier:view:{dossier_id}"))
    assert "Đang xử lý (đã hẹn lại ngày trả)" in card
    assert "Chờ xác minh" in card and "(đã hẹn lại)" in card
    world.clock.now += timedelta(days=31)  # not subscribed, verified long ago
    assert "tra cứu lại" in texts(await chat.press(f"dossier:view:{dossier_id}"))


async def test_staff_see_the_card_without_the_second_factor(world: World) -> None:
    staff = world.chat("-100777", user_id="900", name="Cán bộ A")
    replies = await staff.say(f"/hoso {CODE}", is_staff_chat=True, is_group=True)
    card = texts(replies)
    assert f"thông tin hồ sơ {CODE}" in card and "Tra cứu nội bộ" in card
    assert "Nguyễn V. A." in card and "0912345678" not in card
    assert "không có hồ sơ" in texts(await staff.say("/hoso 000.00.01.H29-260305-4242",
                                                     is_staff_chat=True, is_group=True))
    assert "/hoso kèm mã" in texts(await staff.say("/hoso", is_staff_chat=True, is_group=True))
    assert ("dossier.staff_view", "ok") in await audit_actions(world.db)


async def test_not_in_ordinary_groups_and_not_without_the_factor_in_private(world: World) -> None:
    group = world.chat("-100123", user_id="5")
    replies = await group.say(f"/hoso {CODE}", is_group=True)
    assert "nhắn riêng" in texts(replies) and "Đăng ký" not in texts(replies)
    assert await group.say(CODE, is_group=True) == []
    private = world.chat("5")
    assert "4 số cuối" in texts(await private.say(f"/hoso {CODE}"))


async def test_cancel_leaves_the_digits_step(world: World) -> None:
    chat = world.chat()
    await chat.say(f"/hoso {CODE}")
    assert "đã dừng" in texts(await chat.say("/huy"))
    async with world.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(DossierLookupFailure)) == 0


# -- guessing across chats, sessions and channels (issue 11) ---------------------------------


async def outbox_rows(db: Database, purpose: str) -> list[OutboxMessage]:
    async with db.session() as session:
        return list(await session.scalars(select(OutboxMessage).where(
            OutboxMessage.purpose == purpose).order_by(OutboxMessage.id)))


async def test_a_code_guessed_from_many_chats_is_locked_for_everyone(database_url: str) -> None:
    """20 chats on two channels, each trying one set of digits for the same real code: the
    code locks after 10 failures, whatever chat asks; the right digits are refused during the
    lock; staff hear of it once; the owner keeps notifications and the view button; the lock
    lifts after LOOKUP_CODE_LOCK_HOURS."""
    settings = make_settings(database_url, telegram_staff_chat_id=-100777,
                             telegram_bot_token="123:test")
    db = Database(database_url)
    clock = Clock(START)
    core = Core(settings, db, build_router(), clock=clock)
    await add_dossier(db)
    owner = Dialog(core, channel="telegram", chat_id="4242")
    await owner.say(f"/hoso {CODE}")
    subscribe = actions(await owner.say("5678"))[0]
    await owner.press(subscribe)
    dossier_id = int(subscribe.rpartition(":")[2])

    answers = []
    for n in range(20):
        chat = Dialog(core, channel=("telegram", "web")[n % 2], chat_id=f"guesser-{n}")
        asked = texts(await chat.say(f"/hoso {CODE}"))
        assert "4 số cuối" in asked, n  # typing the code looks the same, locked or not
        answers.append(texts(await chat.say(f"{1000 + n}")))
    assert all("chưa tìm thấy hồ sơ khớp" in a for a in answers[:9])
    assert all("tạm dừng tra cứu mã này" in a for a in answers[9:]), answers[9:]
    assert "Nguyễn" not in "".join(answers)

    rightful = Dialog(core, channel="web", chat_id="rightful")
    assert "4 số cuối" in texts(await rightful.say(CODE))
    refused = texts(await rightful.say("5678"))
    assert "tạm dừng tra cứu mã này" in refused and "Nguyễn" not in refused

    alerts = await outbox_rows(db, "staff_alert")
    assert len(alerts) == 1 and alerts[0].chat_id == "-100777"
    assert CODE in alerts[0].payload["text"] and "10 lần" in alerts[0].payload["text"]
    recorded = await audit_actions(db)
    assert recorded.count(("dossier.code_locked", "locked")) == 1
    assert recorded.count(("dossier.lookup_failed", "denied")) == 10

    # the owner still hears of a new event, and the notification's view button still works
    async with db.session() as session:
        dossier = await repo.get_dossier(session, CODE)
        assert dossier is not None
        result = await repo.add_event(session, dossier, EventFields(
            "result_ready", START + timedelta(hours=1)), START)
        assert result.event is not None
        await announce_event(session, dossier, result.event, settings)
    (notice,) = await outbox_rows(db, "dossier_status")
    assert (notice.channel, notice.chat_id) == ("telegram", "4242")
    assert "thông tin hồ sơ" in texts(await owner.press(f"dossier:view:{dossier_id}"))

    clock.now += timedelta(hours=23, minutes=59)
    assert "tạm dừng tra cứu mã này" in texts(await rightful.say("5678"))
    clock.now += timedelta(minutes=2)  # the lock is over: the right digits open the card
    assert "thông tin hồ sơ" in texts(await rightful.say("5678"))
    late = Dialog(core, channel="telegram", chat_id="late-guesser")
    await late.say(f"/hoso {CODE}")
    assert "chưa tìm thấy" in texts(await late.say("0000"))  # old failures do not count again
    assert len(await outbox_rows(db, "staff_alert")) == 1
    await db.dispose()


async def test_an_unknown_code_locks_the_same_way(world: World) -> None:
    """Locks say nothing about existence: an unknown code locks after as many failures, with
    the same replies, and nobody is alerted for it."""
    unknown = "000.00.01.H29-260305-9999"
    seen: dict[str, list[tuple[str, str]]] = {CODE: [], unknown: []}
    for code in (CODE, unknown):
        for n in range(12):
            chat = world.chat(f"{code}-{n}")
            asked = texts(await chat.say(f"/hoso {code}")).replace(code, "<code>")
            seen[code].append((asked, texts(await chat.say("0000")).replace(code, "<code>")))
    assert seen[CODE] == seen[unknown]
    async with world.db.session() as session:
        entries = list(await session.scalars(select(AuditLog).where(
            AuditLog.action == "dossier.code_locked")))
    assert [e.detail["known"] for e in entries] == [True, False]


async def test_guesses_arriving_at_once_get_no_checks_past_the_lock(world: World) -> None:
    """30 sessions, each from its own address, send their digits for one code at the same
    moment: the code still locks at the 10th failure and no digits are compared after it
    (PostgreSQL runs the transactions side by side; SQLite one after another)."""
    chats = [world.chat(f"at-once-{n}") for n in range(30)]
    origins = [f"198.51.100.{n}" for n in range(30)]
    for chat, origin in zip(chats, origins, strict=True):
        assert "4 số cuối" in texts(await chat.say(CODE, origin=origin))
    answers = await asyncio.gather(*(chat.say(f"{1000 + n}", origin=origin)
                                     for n, (chat, origin) in enumerate(zip(chats, origins,
                                                                            strict=True))))
    said = [texts(answer) for answer in answers]
    assert sum("chưa tìm thấy hồ sơ khớp" in s for s in said) == 9
    assert sum("tạm dừng tra cứu mã này" in s for s in said) == 21
    async with world.db.session() as session:
        assert await session.scalar(
            select(func.count()).select_from(DossierLookupFailure)) == 10


async def test_failures_count_per_web_address_across_sessions(world: World) -> None:
    """20 failures from one address within an hour throttle every new session from it, even
    with fresh cookies and fresh codes; other addresses and messengers go on."""
    for n in range(20):
        session = world.chat(f"cookie-{n}")
        await session.say(f"/hoso 000.00.01.H29-260305-{7000 + n}", origin="203.0.113.7")
        assert "chưa tìm thấy" in texts(await session.say("0000", origin="203.0.113.7")) \
            or n == 19
    fresh = world.chat("cookie-fresh")
    refused = texts(await fresh.say(f"/hoso {CODE}", origin="203.0.113.7"))
    assert "tạm dừng tra cứu" in refused and "khoảng 60 phút" in refused
    elsewhere = world.chat("cookie-other")
    assert "4 số cuối" in texts(await elsewhere.say(f"/hoso {CODE}", origin="198.51.100.2"))
    assert "thông tin hồ sơ" in texts(await elsewhere.say("5678", origin="198.51.100.2"))
    world.clock.now += timedelta(minutes=61)
    assert "4 số cuối" in texts(await fresh.say(f"/hoso {CODE}", origin="203.0.113.7"))
    async with world.db.session() as session:
        origins = set(await session.scalars(select(DossierLookupFailure.origin_key)))
    assert len(origins) == 1 and "203.0.113.7" not in next(iter(origins))  # a keyed hash


async def test_failure_rows_and_their_audit_name_no_chat(world: World) -> None:
    chat = world.chat("secret-chat-id-31337", user_id="secret-user-31337")
    await chat.say(f"/hoso {CODE}")
    await chat.say("0000")
    async with world.db.session() as session:
        rows = [list(map(str, r)) for r in await session.execute(select(DossierLookupFailure))]
        audit = (await session.scalars(select(AuditLog))).one()
    assert "31337" not in repr(rows) and "31337" not in repr((audit.actor, audit.detail))
    assert audit.actor.startswith("web:~")


async def test_the_right_digits_mark_the_message_unlocked(world: World) -> None:
    chat = world.chat()
    await chat.say(f"/hoso {CODE}")
    wrong = chat.incoming("0000")
    await world.core.handle(wrong)
    assert wrong.unlocked is False
    right = chat.incoming("5678")
    await world.core.handle(right)
    assert right.unlocked is True
