"""Floods (RELIABILITY.md check 16, issue 11 item 4): a 4,000-character query costs a bounded
amount of search work, and a chat flooding the bot is told once and then not served, while
other chats and the staff group go on as usual. Nothing here is timed: the work is counted."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest

from bot.app import bundled_index
from bot.config import Settings
from bot.db.session import Database
from bot.ratelimit import Limiter
from bot.router import Core
from handlers import build_router
from procedures.normalize import tokens
from procedures.search import MAX_QUERY_CHARS, MAX_QUERY_WORDS, SearchIndex, bounded_query
from tests.conftest import make_settings
from tests.dialog import CountingCatalogue, Dialog, actions, texts

CHAT_NOTICE = "gửi nhiều tin nhắn liên tiếp"
SEARCH_NOTICE = "tra cứu nhiều lần"


def long_query(index: SearchIndex, seed: int = 4) -> str:
    """4,000 characters of words the catalogue knows, with and without accents."""
    rng = random.Random(seed)
    names = [p.name for p in index.procedures]
    text = ""
    while len(text) < 4000:
        text += " " + rng.choice(names)
    return text[:4000]


def test_a_4000_character_query_is_read_only_up_to_the_bound() -> None:
    index = bundled_index()
    for seed in range(3):
        query = long_query(index, seed)
        assert len(tokens(query)) > 500
        read = bounded_query(query)
        assert len(read) <= MAX_QUERY_CHARS and len(tokens(read)) <= MAX_QUERY_WORDS
        assert read.split()[:5] == query.lower().split()[:5]  # the beginning, as written
        assert index.search(query) == index.search(read)  # the rest changes nothing
    # Ordinary questions are read whole.
    question = "Cho em hỏi làm giấy khai sinh cho con cần những giấy tờ gì ạ"
    assert bounded_query(question) == question.lower()


@pytest.fixture
async def flooded(settings: Settings) -> AsyncIterator[tuple[Core, CountingCatalogue]]:
    db = Database(settings.database_url)
    catalogue = CountingCatalogue(bundled_index())
    core = Core(settings, db, build_router(),
                services={"catalogue": catalogue, "limiter": Limiter()})
    yield core, catalogue
    await db.dispose()


async def test_the_search_is_given_a_bounded_query(
        flooded: tuple[Core, CountingCatalogue]) -> None:
    core, catalogue = flooded
    text = long_query(catalogue.index)
    replies = await Dialog(core, channel="telegram", chat_id="500").say(text)
    assert replies and catalogue.searches == 1
    (given,) = catalogue.given
    assert len(given) <= MAX_QUERY_CHARS and len(tokens(given)) <= MAX_QUERY_WORDS


async def test_a_flooding_chat_is_told_once_and_not_searched(
        flooded: tuple[Core, CountingCatalogue]) -> None:
    core, catalogue = flooded
    flooder = Dialog(core, channel="telegram", chat_id="501")
    answers = []
    for number in range(26):
        # Each message a little different, as in a flood: the same words again are answered
        # from the results remembered (`handlers.procedures.searched`), not searched.
        answers.append(await flooder.say("đăng ký kết hôn" + "!" * (number + 1)))
        if number == 9:
            searched = catalogue.searches  # ten messages searched (a sibling question may look
            # up a case the results lack)
    # RATE_LIMIT_SEARCH 10/minute: ten searches, then the search notice once, then no search.
    assert catalogue.searches == searched >= 10
    assert all("proc:1.000894" in actions(a) for a in answers[:10])
    assert SEARCH_NOTICE in texts(answers[10]) and "Xem theo lĩnh vực" in str(answers[10])
    assert answers[11:20] == [[]] * 9
    # RATE_LIMIT_CHAT 20/minute: the 21st message gets the chat notice, once; then silence.
    assert CHAT_NOTICE in texts(answers[20])
    assert answers[21:] == [[]] * 5
    assert sum(CHAT_NOTICE in texts(a) for a in answers) == 1
    assert sum(SEARCH_NOTICE in texts(a) for a in answers) == 1
    # The limit holds for buttons and commands too.
    assert await flooder.press("menu:thutuc") == []
    assert await flooder.say("/start") == []

    neighbour = Dialog(core, channel="telegram", chat_id="502")
    assert "proc:1.000894" in actions(await neighbour.say("đăng ký kết hôn"))
    assert catalogue.searches == searched + searched // 10  # the neighbour is searched
    same_id_elsewhere = Dialog(core, channel="zalo_bot", chat_id="501")
    assert "proc:1.000894" in actions(await same_id_elsewhere.say("đăng ký kết hôn"))


async def test_staff_are_not_limited(database_url: str) -> None:
    settings = make_settings(database_url, telegram_staff_chat_id=-100777,
                             staff_user_ids="telegram:901")
    db = Database(settings.database_url)
    try:
        core = Core(settings, db, build_router(),
                    services={"catalogue": bundled_index(), "limiter": Limiter()})
        group = Dialog(core, channel="telegram", chat_id="-100777", user_id="900")
        for _ in range(30):
            replies = await group.say("/trogiup", is_staff_chat=True, is_group=True)
            assert replies and CHAT_NOTICE not in texts(replies)
        officer = Dialog(core, channel="telegram", chat_id="901")
        for _ in range(25):
            assert "proc:1.000894" in actions(await officer.say("đăng ký kết hôn"))
    finally:
        await db.dispose()


async def test_limits_are_settings(database_url: str) -> None:
    settings = make_settings(database_url, rate_limit_chat="3/minute", rate_limit_search="")
    db = Database(settings.database_url)
    try:
        core = Core(settings, db, build_router(),
                    services={"catalogue": bundled_index(), "limiter": Limiter()})
        chat = Dialog(core, channel="zalo_oa", chat_id="77")
        answers = [await chat.say("đăng ký kết hôn") for _ in range(5)]
        assert all("proc:1.000894" in actions(a) for a in answers[:3])
        assert CHAT_NOTICE in texts(answers[3]) and answers[4] == []
    finally:
        await db.dispose()
