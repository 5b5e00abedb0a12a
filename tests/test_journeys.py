"""Journeys a new citizen takes (issue 13): general messages answered before search, "Hồ sơ
của tôi", and the other dead ends of the first try."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import bundled_index
from bot.config import Settings
from bot.db import dossiers as repo
from bot.db.dossiers import DossierFields, DossierSubscription
from bot.db.session import Database
from bot.router import Core
from handlers import build_router
from tests.dialog import Dialog, actions, core_with_dossier, labels, texts

NOW = datetime(2026, 7, 15, 3, 0, tzinfo=UTC)
CODE = "000.00.01.H29-240115-0001"
OTHER = "000.00.01.H29-240116-0002"
NOT_FOUND = "chưa tìm thấy thủ tục"


@pytest.fixture
async def core(settings: Settings) -> AsyncIterator[Core]:
    core = Core(settings, Database(settings.database_url), build_router(),
                services={"catalogue": bundled_index()}, clock=lambda: NOW)
    yield core
    await core.db.dispose()


# -- item 10: general messages before search ------------------------------------------------


@pytest.mark.parametrize("said", ["trợ giúp", "giúp tôi với", "Giúp em với!!", "tro giup",
                                  "cần hỗ trợ"])
async def test_calls_for_help_get_help_not_a_search(core: Core, said: str) -> None:
    replies = await Dialog(core).say(said)
    assert NOT_FOUND not in texts(replies)
    assert "Em có thể" in texts(replies) and "Tra cứu thủ tục" in labels(replies)


@pytest.mark.parametrize("said", ["ok", "Ok.", "chào", "vâng ạ", "cảm ơn nhé", "oke"])
async def test_greetings_thanks_and_ok_are_not_searched(core: Core, said: str) -> None:
    replies = await Dialog(core).say(said)
    assert replies and NOT_FOUND not in texts(replies)
    assert texts(replies).startswith("Dạ")


async def test_counter_and_my_dossiers_questions_are_not_searched(core: Core) -> None:
    chat = Dialog(core)
    assert "xã/phường nào" in texts(await chat.say("ủy ban làm việc mấy giờ"))
    await chat.say("/huy")
    mine = await chat.say("hồ sơ của tôi")
    assert NOT_FOUND not in texts(mine) and "chưa theo dõi hồ sơ nào" in texts(mine)


async def test_an_english_question_gets_an_english_note_and_the_results(core: Core) -> None:
    replies = await Dialog(core).say("How do I apply for a passport?")
    assert replies[0].text.startswith("Hello!") and "in Vietnamese" in replies[0].text
    assert "hộ chiếu" in texts(replies[1:]).lower()
    assert any(a.startswith("proc:") for a in actions(replies[1:]))
    nothing = await Dialog(core, chat_id="c2").say("What are the opening hours, please?")
    assert nothing[0].text.startswith("Hello!") and "could not find" in nothing[0].text
    assert NOT_FOUND not in texts(nothing)
    vietnamese = await Dialog(core, chat_id="c3").say("lam the can cuoc cho con")
    assert "Hello" not in texts(vietnamese)


# -- item 7: "Hồ sơ của tôi" --------------------------------------------------------------


async def follow(chat: Dialog, code: str) -> None:
    await chat.say(f"/hoso {code}")
    card = await chat.say("5678")
    await chat.press(next(a for a in actions(card) if a.startswith("dossier:sub")))


async def test_my_dossiers_lists_what_the_chat_follows_and_stops_one(settings: Settings) -> None:
    core, first = await core_with_dossier(settings, CODE, NOW)
    async with core.db.session() as session:
        second = (await repo.upsert_dossier(session, DossierFields(
            code=OTHER, procedure_code="1.001193", procedure_name="Đăng ký khai sinh",
            applicant_name="Nguyễn Văn An", phone="0912345678", received_at=NOW,
            due_at=NOW + timedelta(days=1), status="need_more_info"), NOW)).dossier.id
    chat = Dialog(core)
    await follow(chat, CODE)
    await follow(chat, OTHER)

    listed = await chat.press("menu:hosocuatoi")
    said = texts(listed)
    assert "2 hồ sơ" in said and CODE in said and OTHER in said
    assert "Mới tiếp nhận" in said and "Yêu cầu bổ sung" in said
    assert f"mine:stop:{first}" in actions(listed) and f"dossier:view:{second}" in actions(listed)
    assert "Hồ sơ của tôi" in labels(await chat.say("/start"))

    stranger = Dialog(core, chat_id="someone-else")
    await stranger.press(f"mine:stop:{first}")
    stopped = await chat.press(f"mine:stop:{first}")
    assert f"đã dừng gửi thông báo về hồ sơ {CODE}" in texts(stopped)
    assert "1 hồ sơ" in texts(stopped) and f"mine:stop:{first}" not in actions(stopped)
    async with core.db.session() as session:
        active = list(await session.scalars(select(DossierSubscription.dossier_id).where(
            DossierSubscription.active.is_(True))))
    assert active == [second]

    settings_card = await chat.say("/caidat")
    assert "Xem 1 hồ sơ đang theo dõi" in labels(settings_card)
    assert OTHER in texts(await chat.press("menu:hosocuatoi"))


# -- item 6: the comment typed after a rating ----------------------------------------------


async def test_a_comment_typed_after_the_aspects_is_stored_and_reaches_the_ticket(
        settings: Settings) -> None:
    from bot.db import feedback as tickets
    from bot.db import scheduler as store

    core, dossier = await core_with_dossier(settings, CODE, NOW, status="returned")
    chat = Dialog(core, channel="telegram", chat_id="81")
    await chat.say(f"/hoso {CODE}")
    await chat.say("5678")
    await chat.press(f"sv:o:d:{dossier}:1")
    async with core.db.session() as session:
        survey = (await session.scalars(select(store.Survey))).one()
    await chat.press(f"sv:more:{survey.id}")
    for index in range(5):
        asked = await chat.press(f"sv:a:{survey.id}:{index}:0")
    assert "nhắn góp ý" in texts(asked) and "/huy" not in texts(asked)
    replies = await chat.say("Chờ lâu quá, phải đi lại ba lần")
    assert NOT_FOUND not in texts(replies) and "đã ghi nhận góp ý" in texts(replies)
    async with core.db.session() as session:
        survey = (await session.scalars(select(store.Survey))).one()
        messages = await tickets.find_messages(session, survey.ticket_id or 0)
    assert survey.comment == "Chờ lâu quá, phải đi lại ba lần"
    assert any("Chờ lâu quá, phải đi lại ba lần" in m.text for m in messages)
    after = await chat.say("đăng ký khai sinh")  # the step is over: a search again
    assert "khai sinh" in texts(after).lower() and "góp ý" not in texts(after)
    await core.db.dispose()


# -- item 9: quiet hours told to the citizen ------------------------------------------------


async def test_subscribing_at_night_says_when_messages_will_come(database_url: str) -> None:
    from tests.conftest import make_settings

    night = datetime(2026, 7, 15, 15, 30, tzinfo=UTC)  # 22:30 in Hà Nội
    settings = make_settings(database_url, quiet_hours="21:00-07:00")
    core, _ = await core_with_dossier(settings, CODE, night)
    chat = Dialog(core)
    await chat.say(f"/hoso {CODE}")
    card = await chat.say("5678")
    said = texts(await chat.press(next(a for a in actions(card) if a.startswith("dossier:sub"))))
    assert "từ 21:00 đến 07:00 sẽ được gửi lúc 07:00" in said
    assert "Bây giờ đang trong khoảng giờ đó" in said
    await core.db.dispose()


# -- item 11: the console shows one numbered list (the options) and no "bấm" ---------------


async def test_console_results_are_one_numbered_list(core: Core) -> None:
    from bot.channels.console import render

    (reply,) = await Dialog(core, channel="console").say("đăng ký kết hôn")
    shown = render(reply)
    assert "bấm" not in shown.lower()
    numbers = [line.strip().split(".")[0] for line in shown.splitlines()
               if line.strip()[:2].rstrip(".").isdigit()]
    assert len(numbers) == len(set(numbers)) == len(actions([reply]))  # each number once


# -- item 12: text slips ---------------------------------------------------------------------


GLUED = re.compile(r"[a-zà-ỹđ/][.!?][A-ZĐÀ-Ỹ]")


async def test_consent_answers_are_separate_sentences(core: Core) -> None:
    for choice in ("both", "letters", "surveys", "none"):
        said = texts(await Dialog(core, chat_id=f"g-{choice}").press(f"consent:ask:{choice}"))
        assert not GLUED.search(said), said


def test_one_spelling_of_huy_and_xoa_in_every_citizen_text() -> None:
    from handlers.texts import TEXTS_DIR

    for template in TEXTS_DIR.glob("*.j2"):
        found = re.findall(r"\w*(?:huỷ|xoá|Huỷ|Xoá)\w*", template.read_text("utf-8"))
        assert not found, (template.name, found)


async def test_dangky_example_is_a_commune_of_the_chosen_province(core: Core) -> None:
    from handlers.units import find_communes, find_provinces

    chat = Dialog(core)
    await chat.say("/dangky")
    asked = texts(await chat.say("Cà Mau"))
    example = asked.split("ví dụ: ")[1].split(")")[0]
    province = find_provinces("Cà Mau")[0]
    assert example != "Âu Lâu" and find_communes(example, province.code)


async def test_web_users_are_not_told_to_type_a_slash_command(core: Core) -> None:
    chat = Dialog(core, channel="web")
    await chat.say("/hoso")
    said = texts(await chat.say("không biết mã"))
    assert "/huy" not in said and '"hủy"' in said
    assert "Dạ, em đã dừng" in texts(await chat.say("hủy"))


async def test_a_returned_dossier_does_not_offer_notifications(settings: Settings) -> None:
    core, _ = await core_with_dossier(settings, CODE, NOW, status="returned")
    chat = Dialog(core)
    await chat.say(f"/hoso {CODE}")
    card = await chat.say("5678")
    assert "Đã trả kết quả" in texts(card)
    assert "Nhận thông báo khi hồ sơ thay đổi" not in labels(card)
    await core.db.dispose()


# -- item 13: `motcua tickets show` / `list` ---------------------------------------------------


async def test_ticket_show_on_the_console_and_the_list_after_the_citizen_wrote_back(
        core: Core) -> None:
    from bot.db import feedback as tickets
    from tests.test_feedback import DESCRIPTION, file_ticket, stored

    citizen = Dialog(core, chat_id="w-citizen")
    await file_ticket(citizen)
    (ticket,) = await stored(core)
    cli = Dialog(core, channel="console", chat_id="staff-cli", user_id="cli")
    await cli.say(f"/traloi {ticket.code} Đã chuyển tổ điện xử lý.", is_staff_chat=True)
    assert "Đã trả lời" in texts(await cli.say("/ds", is_staff_chat=True))

    await citizen.press(f"fb:answer:{ticket.id}")
    await citizen.say("Đến nay vẫn chưa sửa.")
    listed = texts(await cli.say("/ds", is_staff_chat=True))
    assert ticket.code in listed and "Đã trả lời" not in listed
    assert tickets.STATUS_LABELS[tickets.OPEN] in listed

    shown = await cli.say(f"/phananh {ticket.code}", is_staff_chat=True)
    assert len(shown) == 1
    said = texts(shown)
    assert said.count(DESCRIPTION) == 1
    assert "bấm Trả lời" not in said and "chủ đề này" not in said
    assert f"motcua tickets reply {ticket.code}" in said
    assert said.index("Đã chuyển tổ điện xử lý.") < said.index("Đến nay vẫn chưa sửa.")


# -- item 14: the README stands alone ---------------------------------------------------------


def test_readme_stands_alone() -> None:
    from bot.cli import build_parser

    root = Path(__file__).parent.parent
    readme = (root / "README.md").read_text("utf-8")
    assert "../shared" not in readme
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if not target.startswith("http"):
            assert (root / target).exists(), target
    parser = build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    for named in re.findall(r"`motcua ([a-z][a-z-]*)", readme):
        assert named in commands, named
