"""Satisfaction surveys as dialogs: the overall rating, the five SIPAS aspects, a comment; one
answer per dossier; only one's own dossier; /danhgia for anyone; an unhappy answer opens a
ticket; the scale is a setting. Against stuffing: one general rating a day, only catalogue
procedures, a rate limit, repeated unhappy answers merged into one ticket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.db import feedback as tickets
from bot.db import scheduler as store
from bot.ratelimit import Limiter
from bot.router import Core
from handlers import surveys as surveys_handlers
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
    assert "đã đánh giá hồ sơ" in texts(await dialog.press(f"sv:o:d:{dossier}:1"))


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
    again = await dialog.press("sv:pick:g:0")  # one general rating a day
    assert "đã đánh giá dịch vụ công của xã/phường hôm nay" in texts(again)
    await dialog.press("sv:o:g:0:3")
    assert [(s.subject, s.overall) for s in await surveys(app)] == [("general", 2)]
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
        other = Dialog(app, chat_id="w3")  # one general rating a day per chat
        assert "PA-" in texts(await other.press("sv:o:g:0:2"))  # unhappy
    finally:
        await app.db.dispose()


# -- stuffing (issue 11 item 7) -------------------------------------------------------------


async def ticket_rows(core: Core) -> list[tickets.Ticket]:
    async with core.db.session() as session:
        return list(await session.scalars(select(tickets.Ticket).order_by(tickets.Ticket.id)))


async def test_seventy_presses_store_one_answer_and_one_ticket(core: tuple[Core, int]) -> None:
    app, dossier = core
    dialog = await owner(app)
    general = [await dialog.press("sv:o:g:0:1") for _ in range(70)]
    assert "PA-" in texts(general[0])
    assert all("đã đánh giá dịch vụ công của xã/phường hôm nay" in texts(r)
               for r in general[1:])
    (answer,) = await surveys(app)
    assert actions(general[1])[0] == f"sv:cmt:{answer.id}"  # the next step: add a comment
    # The same action pressed at once, as a script (or two processes) would.
    await asyncio.gather(*(dialog.press(f"sv:o:d:{dossier}:1") for _ in range(70)))
    answers = await surveys(app)
    assert sorted(s.subject for s in answers) == ["dossier", "general"]
    assert len(await ticket_rows(app)) == 2  # one about the service, one about the dossier


async def test_one_general_rating_a_day(database_url: str) -> None:
    now = [NOW]
    settings = make_settings(database_url)
    app, _ = await core_with_dossier(settings, CODE, NOW)
    app.clock = lambda: now[0]
    try:
        dialog = Dialog(app, channel="zalo_bot", chat_id="z9")
        assert "PA-" in texts(await dialog.press("sv:o:g:0:1"))
        now[0] = NOW + timedelta(hours=10)  # 20:00 in Hà Nội: the same day
        assert "hôm nay" in texts(await dialog.press("sv:o:g:0:3"))
        now[0] = NOW + timedelta(hours=22)  # 08:00 the next day
        replies = await dialog.press("sv:o:g:0:1")
        (first,) = await ticket_rows(app)
        assert f"bổ sung vào phản ánh mã {first.code}" in texts(replies)
        assert [(s.overall, s.ticket_id) for s in await surveys(app)] == [(1, first.id),
                                                                          (1, first.id)]
        async with app.db.session() as session:
            said = [m for m in await tickets.find_messages(session, first.id)
                    if m.author == "citizen"]
        assert len(said) == 2 and not said[1].relayed  # the staff desk relays the second
        async with app.db.session() as session:
            ticket = await tickets.get_ticket(session, first.id)
            assert ticket is not None
            ticket.status = tickets.CLOSED
        now[0] = NOW + timedelta(days=2)
        assert "PA-" in texts(await dialog.press("sv:o:g:0:1"))
        assert len(await ticket_rows(app)) == 2  # a closed ticket is not reopened by a rating
    finally:
        await app.db.dispose()


async def test_only_procedures_of_the_catalogue_are_rated(core: tuple[Core, int]) -> None:
    app, _ = core
    dialog = Dialog(app, channel="telegram", chat_id="83")
    for action in ("sv:pick:p:9.999999", "sv:o:p:9.999999:3", "sv:o:p::3",
                   "sv:o:p:" + "1" * 61 + ":3"):
        assert "không tìm thấy" in texts(await dialog.press(action))
    assert await surveys(app) == []
    question = await dialog.press("sv:pick:p:1.000894")
    assert "kết hôn" in texts(question)
    await dialog.press("sv:o:p:1.000894:3")
    assert "hôm nay" in texts(await dialog.press("sv:o:p:1.000894:2"))
    (answer,) = await surveys(app)
    assert (answer.procedure_code, answer.overall) == ("1.000894", 3)
    assert answer.procedure_name and "kết hôn" in answer.procedure_name


async def test_ratings_are_rate_limited(database_url: str) -> None:
    settings = make_settings(database_url, rate_limit_rating="2/hour")
    app, _ = await core_with_dossier(settings, CODE, NOW)
    app.services["limiter"] = Limiter()
    try:
        dialog = Dialog(app, channel="telegram", chat_id="84")
        await dialog.press("sv:o:g:0:3")
        await dialog.press("sv:o:p:1.000894:3")
        assert "nhiều đánh giá" in texts(await dialog.press("sv:o:p:1.001193:3"))
        assert await dialog.press("sv:o:p:1.000656:3") == []
        assert len(await surveys(app)) == 2
        assert "PA-" not in texts(await Dialog(app, chat_id="85").press("sv:o:p:1.001193:3"))
        assert len(await surveys(app)) == 3
    finally:
        await app.db.dispose()


async def test_a_rating_stored_meanwhile_by_another_process_is_not_doubled(
        core: tuple[Core, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """The database's unique key decides when two presses pass the check together."""
    app, _ = core
    dialog = Dialog(app, channel="telegram", chat_id="86")
    await dialog.press("sv:o:g:0:1")
    real = surveys_handlers.earlier_answer
    raced = False

    async def racing(*args: Any) -> Any:
        nonlocal raced
        if not raced:  # the first check sees nothing, as if the other row were not there yet
            raced = True
            return None
        return await real(*args)

    monkeypatch.setattr(surveys_handlers, "earlier_answer", racing)
    assert "hôm nay" in texts(await dialog.press("sv:o:g:0:1"))
    assert len(await surveys(app)) == 1 and len(await ticket_rows(app)) == 1
