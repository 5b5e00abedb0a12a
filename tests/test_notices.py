"""Commune notices: citizens subscribe by typing the province and commune (accents optional);
staff write a notice in the staff group, another approves it; the notice desk queues one row
per subscribed chat once, waits out quiet hours unless urgent, and reports sent / failed /
blocked to the author."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.app import bundled_index
from bot.config import Settings
from bot.db import scheduler as store
from bot.db.models import Citizen, OutboxMessage
from bot.db.session import Database
from bot.messages import Outgoing
from bot.router import Core
from handlers import build_router
from scheduler.notices import NoticeDesk
from tests.conftest import make_settings
from tests.dialog import Dialog, actions, labels, texts

NOW = datetime(2026, 7, 20, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội
STAFF = "-1009"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def core(settings: Settings, clock: Clock) -> AsyncIterator[Core]:
    settings = make_settings(settings.database_url, quiet_hours="21:00-07:00")
    db = Database(settings.database_url)
    yield Core(settings, db, build_router(), services={"catalogue": bundled_index()},
               clock=clock)
    await db.dispose()


def staff_member(core: Core, user: str, name: str) -> Dialog:
    dialog = Dialog(core, channel="telegram", chat_id=STAFF, user_id=user, name=name)
    original = dialog.incoming

    def incoming(text: str = "", **fields: object):  # type: ignore[no-untyped-def]
        return original(text, is_staff_chat=True, is_group=True, **fields)

    dialog.incoming = incoming  # type: ignore[method-assign]
    return dialog


async def test_subscribe_by_typing_without_accents(core: Core) -> None:
    citizen = Dialog(core, channel="telegram", chat_id="900")
    assert "gõ tên tỉnh" in texts(await citizen.say("/dangky"))
    assert "chưa tìm thấy tỉnh" in texts(await citizen.say("Hà Tây"))
    assert "thuộc Lào Cai" in texts(await citizen.say("lao cai"))
    choice = await citizen.say("au lau")
    assert labels(choice) == ["Phường Âu Lâu"]
    done = await citizen.press(actions(choice)[0])
    assert "đồng ý nhận thông báo của Phường Âu Lâu (Lào Cai)" in texts(done)
    assert "chỉ gửi từ 7:00 đến 21:00" in texts(done)
    async with core.db.session() as session:
        (sub,) = await session.scalars(select(store.CommuneSubscription))
        assert (sub.channel, sub.chat_id, sub.commune_code) == ("telegram", "900", "4543")
        assert await store.get_consents(session, sub.citizen_id) == {
            "status": False, "letters": False, "surveys": False, "notices": True}
    # several provinces match: choose; the list and removal
    await citizen.press("sub:add")
    many = await citizen.say("ha")
    assert len(actions(many)) > 1 and all(a.startswith("sub:prov:") for a in actions(many))
    await citizen.press("sub:prov:1")
    await citizen.press(actions(await citizen.say("hoan kiem"))[0])
    listing = await citizen.say("/dangky")
    assert "Phường Âu Lâu, Phường Hoàn Kiếm" in texts(listing)
    assert "sub:del:4543" in actions(listing)
    assert "đã dừng gửi thông báo của Phường Âu Lâu" in texts(await citizen.press("sub:del:4543"))
    assert "Phường Âu Lâu" not in texts(await citizen.press("menu:dangky"))


async def subscribers(core: Core, commune: str, count: int, *, consent: bool = True,
                      start: int = 1000) -> None:
    async with core.db.session() as session:
        for n in range(start, start + count):
            citizen = Citizen(display_name="", created_at=NOW)
            session.add(citizen)
            await session.flush()
            await store.add_commune_subscription(session, citizen.id, "telegram", str(n),
                                                 commune, NOW)
            if consent:
                await store.set_consent(session, citizen.id, store.NOTICES, True, "telegram",
                                        NOW)


async def write_notice(core: Core, author: Dialog, *, urgent: bool = False,
                       when: str | None = None) -> list[str]:
    assert "Soạn thông báo" in texts(await author.say("/thongbao"))
    await author.say("Lịch tiêm chủng mở rộng ngày 25/7 tại trạm y tế.")
    found = await author.say("au lau")
    assert labels(found)[0] == "Phường Âu Lâu (Lào Cai)"
    chosen = await author.press(actions(found)[0])
    assert "Đã chọn: Phường Âu Lâu" in texts(chosen)
    await author.say("hoan kiem")
    await author.press("nt:c:70")
    assert "Khi nào gửi" in texts(await author.press("nt:done"))
    if when:
        assert "Mức độ" in texts(await author.say(when))
    else:
        await author.press("nt:t:now")
    summary = await author.press(f"nt:u:{int(urgent)}")
    assert "Phường Âu Lâu, Phường Hoàn Kiếm" in texts(summary)
    submitted = await author.press("nt:submit")
    return actions(submitted)


async def test_the_sending_hours_follow_the_quiet_hours_setting(settings: Settings) -> None:
    for quiet, said in (("22:00-06:30", "chỉ gửi từ 6:30 đến 22:00"), ("", None)):
        configured = make_settings(settings.database_url, quiet_hours=quiet)
        db = Database(configured.database_url)
        core = Core(configured, db, build_router(), services={"catalogue": bundled_index()},
                    clock=lambda: NOW)
        citizen = Dialog(core, channel="telegram", chat_id=f"9{len(quiet)}")
        await citizen.say("/dangky")
        await citizen.say("lao cai")
        done = texts(await citizen.press(actions(await citizen.say("au lau"))[0]))
        assert "đồng ý nhận thông báo của Phường Âu Lâu" in done
        assert "7:00 đến 21:00" not in done
        assert (said in done) if said else ("chỉ gửi từ" not in done)
        await db.dispose()


async def test_staff_write_and_another_approves(core: Core, clock: Clock) -> None:
    await subscribers(core, "4543", 3)
    await subscribers(core, "70", 2, start=2000)
    await subscribers(core, "70", 2, consent=False, start=3000)
    author = staff_member(core, "11", "Cán bộ Lan")
    buttons = await write_notice(core, author)
    assert buttons == ["nt:ok:1", "nt:no:1"]
    assert "không tự duyệt" in texts(await author.press("nt:ok:1"))
    citizen = Dialog(core, channel="telegram", chat_id="1000")
    await citizen.press("nt:ok:1")  # a resident cannot approve
    async with core.db.session() as session:
        (notice,) = await session.scalars(select(store.Notice))
        assert notice.status == store.PENDING
    approver = staff_member(core, "12", "Cán bộ Minh")
    assert "Cán bộ Minh đã duyệt thông báo #1" in texts(await approver.press("nt:ok:1"))
    assert "không còn chờ duyệt" in texts(await approver.press("nt:ok:1"))

    desk = NoticeDesk(core.settings, clock)
    assert await desk.run(core.db) == {"telegram"}
    async with core.db.session() as session:
        rows = list(await session.scalars(select(OutboxMessage).where(
            OutboxMessage.purpose == "notice")))
        assert sorted(r.chat_id for r in rows) == ["1000", "1001", "1002", "2000", "2001"]
        shown = {r.chat_id: r.payload["text"] for r in rows}
        # each resident reads who sends it: the commune they subscribed to
        assert shown["1000"].startswith(
            "THÔNG BÁO CỦA ỦY BAN NHÂN DÂN PHƯỜNG ÂU LÂU\n\nLịch tiêm chủng")
        assert shown["2000"].startswith(
            "THÔNG BÁO CỦA ỦY BAN NHÂN DÂN PHƯỜNG HOÀN KIẾM\n\nLịch tiêm chủng")
    assert await desk.run(core.db) == set()  # no report until every row has ended
    async with core.db.session() as session:
        await session.execute(update(OutboxMessage).where(
            OutboxMessage.purpose == "notice").values(status="sent"))
        await session.execute(update(OutboxMessage).where(
            OutboxMessage.chat_id == "2001").values(
            status="failed", last_error="forbidden: bot was blocked by the user"))
    assert await desk.run(core.db) == {"telegram"}
    async with core.db.session() as session:
        (report,) = await session.scalars(select(OutboxMessage).where(
            OutboxMessage.purpose == "notice_report"))
        (notice,) = await session.scalars(select(store.Notice))
    assert report.chat_id == STAFF and notice.status == store.DONE
    assert "Số người nhận: 5" in report.payload["text"]
    assert "Đã gửi thành công: 4" in report.payload["text"]
    assert "Gửi không được: 1 (trong đó 1 người đã chặn" in report.payload["text"]
    assert await desk.run(core.db) == set()  # reported once


async def test_quiet_hours_hold_normal_notices_not_urgent_ones(core: Core,
                                                               clock: Clock) -> None:
    await subscribers(core, "4543", 2)
    author, approver = staff_member(core, "11", "A"), staff_member(core, "12", "B")
    await write_notice(core, author)
    await write_notice(core, author, urgent=True)
    await approver.press("nt:ok:1")
    await approver.press("nt:ok:2")
    clock.now = datetime(2026, 7, 20, 15, 0, tzinfo=UTC)  # 22:00 local
    desk = NoticeDesk(core.settings, clock)
    await desk.run(core.db)

    async def queued() -> dict[str, int]:
        async with core.db.session() as session:
            rows = await session.scalars(select(OutboxMessage.ref).where(
                OutboxMessage.purpose == "notice"))
            refs = list(rows)
            return {ref: refs.count(ref) for ref in set(refs)}

    assert await queued() == {"notice:2": 2}  # the warning goes at night
    async with core.db.session() as session:
        urgent = await session.get(store.Notice, 2)
        assert urgent is not None
        assert (await session.scalars(select(OutboxMessage.payload).where(
            OutboxMessage.ref == "notice:2"))).first()["text"].startswith("KHẨN CẤP")
    clock.now = datetime(2026, 7, 21, 0, 0, tzinfo=UTC)  # 07:00 local
    await desk.run(core.db)
    assert await queued() == {"notice:2": 2, "notice:1": 2}


async def test_scheduled_for_later_and_without_approval(database_url: str,
                                                        clock: Clock) -> None:
    settings = make_settings(database_url, notice_approval_required=False)
    db = Database(settings.database_url)
    core = Core(settings, db, build_router(), services={"catalogue": bundled_index()},
                clock=clock)
    try:
        await subscribers(core, "70", 1)
        author = staff_member(core, "11", "A")
        assert "Chưa đọc được ngày giờ" in texts(await wrong_date(author))
        await author.say("/huy")
        assert await write_notice(core, author, when="25/07/2026 08:00") == []
        desk = NoticeDesk(settings, clock)
        await desk.run(db)
        async with db.session() as session:
            (notice,) = await session.scalars(select(store.Notice))
            assert notice.status == store.APPROVED
            assert notice.send_at == datetime(2026, 7, 25, 1, 0, tzinfo=UTC)
        clock.now = notice.send_at + timedelta(seconds=1)
        await desk.run(db)
        async with db.session() as session:
            assert (await session.get(store.Notice, notice.id)).status == store.DELIVERING  # type: ignore[union-attr]
    finally:
        await db.dispose()


async def wrong_date(author: Dialog) -> list[Outgoing]:
    await author.say("/thongbao Nội dung thử")
    await author.say("hoan kiem")
    await author.press("nt:c:70")
    await author.press("nt:done")
    return await author.say("32/13/2026 08:00")
