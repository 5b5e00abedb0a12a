"""Consent per purpose: asked at the right moment (after a dossier subscription), nothing
pre-selected, recorded with time and channel in an append-only log, shown and changed with
/caidat, withdrawable at any time — and withdrawing cancels what is still waiting."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.db import dossiers as repo
from bot.db import scheduler as store
from bot.db.models import Identity, OutboxMessage
from bot.messages import ChatRef, Outgoing
from bot.outbox import enqueue
from bot.router import Core
from tests.dialog import Dialog, actions, core_with_dossier, labels, texts

NOW = datetime(2026, 1, 6, 3, 0, tzinfo=UTC)
CODE = "000.00.01.H29-260105-0009"


@pytest.fixture
async def core(settings: Settings) -> AsyncIterator[Core]:
    core, _ = await core_with_dossier(settings, CODE, NOW)
    yield core
    await core.db.dispose()


async def citizen_of(core: Core, chat: str) -> int | None:
    async with core.db.session() as session:
        return await session.scalar(select(Identity.citizen_id).where(Identity.chat_id == chat))


async def consents(core: Core, chat: str) -> dict[str, bool]:
    citizen = await citizen_of(core, chat)
    async with core.db.session() as session:
        return await store.get_consents(session, citizen) if citizen else {}


async def log(core: Core, chat: str) -> list[tuple[str, bool, str, str]]:
    citizen = await citizen_of(core, chat)
    async with core.db.session() as session:
        rows = await session.scalars(select(store.ConsentLog).where(
            store.ConsentLog.citizen_id == citizen).order_by(store.ConsentLog.id))
        return [(r.purpose, r.granted, r.channel, r.source) for r in rows]


async def subscribe(dialog: Dialog) -> list[Outgoing]:
    await dialog.say(f"/hoso {CODE}")
    card = await dialog.say("5678")
    return await dialog.press(actions(card)[0])


async def test_asked_after_subscribing_nothing_preselected(core: Core) -> None:
    dialog = Dialog(core, channel="telegram", chat_id="71")
    assert await consents(core, "71") == {}  # silence is not consent
    replies = await subscribe(dialog)
    assert "em sẽ nhắn anh/chị" in texts(replies) and "Thư chúc mừng" in texts(replies)
    assert labels(replies) == ["Nhận cả thư và khảo sát", "Chỉ nhận thư", "Chỉ nhận khảo sát",
                               "Không, cảm ơn", "Về menu chính"]  # the question's answers only
    assert await consents(core, "71") == {"status": True, "letters": False, "surveys": False,
                                    "notices": False}
    answer = await dialog.press("consent:ask:letters")
    assert "đồng ý nhận thư" in texts(answer) and "không nhận phiếu khảo sát" in texts(answer)
    assert await consents(core, "71") == {"status": True, "letters": True, "surveys": False,
                                    "notices": False}
    assert await log(core, dialog.chat_id) == [("status", True, "telegram", "dossier:1"),
                               ("letters", True, "telegram", "after_subscription"),
                               ("surveys", False, "telegram", "after_subscription")]
    async with core.db.session() as session:
        row = (await session.scalars(select(store.Consent).where(
            store.Consent.citizen_id == await citizen_of(core, "71"),
            store.Consent.purpose == "letters"))).one()
        assert row.updated_at == NOW and row.channel == "telegram"
    # answered once: a second subscription does not ask again
    await dialog.press(actions(replies)[0])  # unsubscribe
    again = await subscribe(dialog)
    assert "Thư chúc mừng" not in texts(again)


async def test_after_a_death_registration_only_the_condolence_letter_is_offered(
        settings: Settings) -> None:
    core, _ = await core_with_dossier(settings, CODE, NOW, procedure_code="1.000656",
                                      procedure_name="Đăng ký khai tử", commune_code="4543")
    dialog = Dialog(core, channel="telegram", chat_id="73")
    replies = await subscribe(dialog)
    shown = texts(replies)
    assert "Ủy ban nhân dân phường Âu Lâu xin phép gửi thư chia buồn" in shown
    for unfit in ("chúc mừng", "khảo sát", "hài lòng"):
        assert unfit not in shown.lower(), unfit
    assert labels(replies)[:2] == ["Đồng ý nhận thư", "Không, cảm ơn"]
    answer = await dialog.press("consent:ask:letters:l")
    assert "đồng ý nhận thư của xã/phường" in texts(answer) and "khảo sát" not in texts(answer)
    # the bereaved family was not asked about surveys: nothing recorded for them
    assert await consents(core, "73") == {"status": True, "letters": True, "surveys": False,
                                          "notices": False}
    assert [p for p, _, _, _ in await log(core, dialog.chat_id)] == ["status", "letters"]
    await core.db.dispose()


async def test_after_another_procedure_only_the_survey_is_offered(settings: Settings) -> None:
    core, _ = await core_with_dossier(settings, CODE, NOW, procedure_code="2.000815",
                                      procedure_name="Chứng thực bản sao từ bản chính")
    dialog = Dialog(core, channel="telegram", chat_id="74")
    replies = await subscribe(dialog)
    shown = texts(replies)
    assert "phiếu khảo sát" in shown
    assert "chúc mừng" not in shown and "chia buồn" not in shown
    assert labels(replies)[:2] == ["Nhận phiếu khảo sát", "Không, cảm ơn"]
    answer = await dialog.press("consent:ask:none:s")
    assert "em chỉ gửi thông báo tình trạng hồ sơ" in texts(answer)
    assert [(p, g) for p, g, _, _ in await log(core, dialog.chat_id)] == [
        ("status", True), ("surveys", False)]
    await core.db.dispose()


async def test_settings_show_and_toggle_every_purpose(core: Core) -> None:
    dialog = Dialog(core, channel="telegram", chat_id="72")
    shown = await dialog.say("/caidat")
    assert texts(shown).count("chưa đồng ý") == 4
    assert "consent:set:notices:1" in actions(shown) and "privacy:forget" in actions(shown)
    assert texts(await dialog.press("menu:caidat")) == texts(shown)
    replies = await dialog.press("consent:set:surveys:1")
    assert "ĐỒNG Ý nhận: phiếu khảo sát" in texts(replies)
    assert "consent:set:surveys:0" in actions(replies)
    replies = await dialog.press("consent:set:surveys:0")
    assert "đã dừng gửi: phiếu khảo sát" in texts(replies)
    assert [(p, g) for p, g, _, _ in await log(core, dialog.chat_id)] == [
        ("surveys", True), ("surveys", False)]
    assert "chưa đồng ý" in texts(await dialog.say("/settings"))


async def test_withdrawing_cancels_waiting_messages_and_status_stops_subscriptions(
        core: Core) -> None:
    dialog = Dialog(core, channel="telegram", chat_id="73")
    await subscribe(dialog)
    await dialog.press("consent:ask:both")
    async with core.db.session() as session:
        for purpose, key in (("letter", "l"), ("survey", "s"), ("dossier_status", "d")):
            await enqueue(session, ChatRef("telegram", "73"), Outgoing("x"), key=key,
                          purpose=purpose, not_before=NOW + timedelta(hours=1))
        await enqueue(session, ChatRef("telegram", "other"), Outgoing("x"), key="o",
                      purpose="letter")
    await dialog.press("consent:set:letters:0")

    async def statuses() -> dict[str, tuple[str, str | None]]:
        async with core.db.session() as session:
            rows = await session.scalars(select(OutboxMessage).where(
                OutboxMessage.dedupe_key.in_(["l", "s", "d", "o"])))
            return {r.dedupe_key: (r.status, r.last_error) for r in rows}

    assert await statuses() == {"l": ("failed", "consent withdrawn"), "s": ("pending", None),
                                "d": ("pending", None), "o": ("pending", None)}
    await dialog.press("consent:set:status:0")
    assert (await statuses())["d"] == ("failed", "consent withdrawn")
    async with core.db.session() as session:
        dossier = await repo.get_dossier(session, CODE)
        assert dossier is not None
        assert await repo.find_subscribers(session, dossier.id) == []
