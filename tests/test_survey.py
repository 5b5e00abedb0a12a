"""Satisfaction surveys as dialogs: the overall rating, the five SIPAS aspects, a comment; one
answer per dossier; only one's own dossier; /danhgia for anyone; an unhappy answer opens a
ticket; the scale is a setting."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.db import feedback as tickets
from bot.db import scheduler as store
from bot.router import Core
from handlers.surveys import is_satisfied, is_unhappy
from tests.conftest import make_settings
from tests.dialog import Dialog, actions, core_with_dossier, labels, texts

NOW = datetime(2026, 1, 6, 3, 0, tzinfo=UTC)
CODE = "000.00.01.H29-260105-0010"


@pytest.fixture
async def core(settings: Settings) -> AsyncIterator[tuple[Core, int]]:
    built = await core_with_dossier(settings, CODE, NOW, status="returned")
    yield built
    await built[0].db.dispose()


async def owner(core: Core, chat: str = "81") -> Dialog:
    dialog = Dialog(core, channel="telegram", chat_id=chat)
    await dialog.say(f"/hoso {CODE}")
    await dialog.say("5678")
    return dialog


async def surveys(core: Core) -> list[store.Survey]:
    async with core.db.session() as session:
        return list(await session.scalars(select(store.Survey).order_by(store.Survey.id)))


def test_the_halves_of_the_scale() -> None:
    assert [is_unhappy(s, 3) for s in (3, 2, 1)] == [False, False, True]
    assert [is_satisfied(s, 3) for s in (3, 2, 1)] == [True, True, False]
    assert [is_unhappy(s, 5) for s in (5, 4, 3, 2, 1)] == [False, False, False, True, True]
    assert [is_satisfied(s, 5) for s in (5, 4, 3, 2, 1)] == [True, True, False, False, False]


async def test_overall_aspects_and_comment(core: tuple[Core, int]) -> None:
    app, dossier = core
    dialog = await owner(app)
    replies = await dialog.press(f"sv:o:d:{dossier}:3")
    assert 'đánh giá "Rất hài lòng"' in texts(replies)
    (survey,) = await surveys(app)
    assert (survey.subject, survey.subject_id, survey.overall) == ("dossier", str(dossier), 3)
    assert survey.procedure_code == "1.000894" and survey.ticket_id is None
    question = await dialog.press(f"sv:more:{survey.id}")
    assert "(1/5) Tiếp cận dịch vụ" in texts(question)
    assert labels(question) == ["Rất hài lòng", "Hài lòng", "Không hài lòng", "Bỏ qua"]
    for index, score in enumerate((3, 2, 0, 3, 3)):
        question = await dialog.press(f"sv:a:{survey.id}:{index}:{score}")
    assert "nhắn góp ý" in texts(question)
    await dialog.press(f"sv:cmt:{survey.id}")
    assert "đã ghi nhận góp ý" in texts(await dialog.say("Cán bộ rất nhiệt tình."))
    (survey,) = await surveys(app)
    assert survey.aspects == {"access": 3, "procedure": 2, "result": 3, "feedback": 3}
    assert survey.comment == "Cán bộ rất nhiệt tình."
    # one answer per dossier
    assert "đã đánh giá nội dung này" in texts(await dialog.press(f"sv:o:d:{dossier}:1"))


async def test_only_the_owner_rates_a_dossier(core: tuple[Core, int]) -> None:
    app, dossier = core
    stranger = Dialog(app, channel="telegram", chat_id="82")
    assert "không tìm thấy" in texts(await stranger.press(f"sv:o:d:{dossier}:1"))
    assert "không tìm thấy" in texts(await stranger.press("sv:o:d:999:1"))
    assert "không tìm thấy" in texts(await stranger.press(f"sv:o:d:{dossier}:9"))
    assert await surveys(app) == []


async def test_unhappy_opens_a_ticket_and_the_comment_follows(core: tuple[Core, int]) -> None:
    app, dossier = core
    dialog = await owner(app)
    replies = await dialog.press(f"sv:o:d:{dossier}:1")
    assert "thành thật xin lỗi" in texts(replies) and "PA-" in texts(replies)
    (survey,) = await surveys(app)
    async with app.db.session() as session:
        ticket = await tickets.get_ticket(session, survey.ticket_id or 0)
        assert ticket is not None and ticket.status == tickets.OPEN
        assert ticket.dossier_code == CODE and ticket.chat_id == "81"
        assert "Không hài lòng" in ticket.description and CODE in ticket.description
        assert ticket.staff_ready is False  # the staff desk will put it in the group
    await dialog.press(f"sv:more:{survey.id}")
    for index in range(5):
        await dialog.press(f"sv:a:{survey.id}:{index}:{1 if index == 2 else 0}")
    await dialog.press(f"sv:cmt:{survey.id}")
    await dialog.say("Phải đi lại ba lần.")
    async with app.db.session() as session:
        messages = await tickets.find_messages(session, ticket.id)
    assert any("Công chức giải quyết" in m.text for m in messages)
    assert any("Phải đi lại ba lần." in m.text and not m.relayed for m in messages)


async def test_rate_on_ones_own(core: tuple[Core, int]) -> None:
    app, dossier = core
    dialog = await owner(app)
    choice = await dialog.say("/danhgia")
    assert actions(choice)[:2] == [f"sv:pick:d:{dossier}", "sv:pick:g:0"]
    assert actions(await dialog.press("menu:danhgia")) == actions(choice)
    question = await dialog.press("sv:pick:g:0")
    assert "dịch vụ công của xã/phường" in texts(question)
    await dialog.press(actions(question)[1])
    await dialog.say("/rate")
    await dialog.press("sv:pick:g:0")
    await dialog.press("sv:o:g:0:3")  # general ratings may be given again
    assert [(s.subject, s.overall) for s in await surveys(app)] == [("general", 2),
                                                                     ("general", 3)]
    newcomer = Dialog(app, channel="web", chat_id="w1")
    assert "tra cứu hồ sơ bằng lệnh /hoso" in texts(await newcomer.say("/danhgia"))


async def test_a_five_point_scale(database_url: str) -> None:
    settings = make_settings(database_url, survey_scale="Rất hài lòng|Hài lòng|Bình thường|"
                                                        "Không hài lòng|Rất không hài lòng")
    app, _ = await core_with_dossier(settings, CODE, NOW, status="returned")
    try:
        dialog = Dialog(app, chat_id="w2")
        question = await dialog.press("sv:pick:g:0")
        assert len(labels(question)) == 5
        assert "PA-" not in texts(await dialog.press("sv:o:g:0:3"))  # neutral
        assert "PA-" in texts(await dialog.press("sv:o:g:0:2"))  # unhappy
    finally:
        await app.db.dispose()
