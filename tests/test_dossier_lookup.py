"""Citizen lookup through the core (dialog tables): code → digits → card, identical failure
replies, throttling, the audit trail, subscriptions, staff view, privacy in groups."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.db import dossiers as repo
from bot.db.dossiers import DossierFields, DossierSubscription, EventFields
from bot.db.models import AuditLog
from bot.db.session import Database
from bot.router import Core
from handlers import build_router
from handlers.dossiers import on_code_in_text
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
                     "Bộ phận Một cửa"):
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
    assert labels(replies)[0] == "Hủy nhận thông báo"
    assert "đang nhận thông báo" in texts(await chat.press(subscribe))
    async with world.db.session() as session:
        row = (await session.scalars(select(DossierSubscription))).one()
        assert (row.active, row.channel, row.chat_id) == (True, "telegram", "42")
        assert row.subscribed_at == START
    replies = await chat.press(actions(replies)[0])
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
    assert "Xin lỗi và hẹn lại" in card and "Chờ xác minh" in card and "(đã hẹn lại)" in card
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
        assert await repo.count_lookup_failures(session, "web", "c1", START) == 0
