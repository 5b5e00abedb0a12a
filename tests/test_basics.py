"""What every citizen meets: greeting and menu, help, cancel, and a clear answer to anything
odd (empty, very long, stickers, unknown commands, emoji, NFD text) — never silence."""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator

import pytest

from bot.app import bundled_index
from bot.config import Settings
from bot.db.session import Database
from bot.messages import Attachment
from bot.router import Core, Router
from handlers import build_router
from tests.dialog import Dialog, actions, labels, texts

MENU = ["Tra cứu thủ tục", "Tra cứu hồ sơ", "Gửi phản ánh, kiến nghị", "Đánh giá hài lòng",
        "Nhận thông báo của xã/phường", "Cài đặt", "Hồ sơ của tôi"]


@pytest.fixture
async def core(settings: Settings) -> AsyncIterator[Core]:
    db = Database(settings.database_url)
    yield Core(settings, db, build_router(), services={"catalogue": bundled_index()})
    await db.dispose()


async def test_start_greets_and_shows_the_main_menu(core: Core) -> None:
    replies = await Dialog(core).say("/start")
    assert "em chào anh/chị Nguyễn Văn An" in texts(replies)
    assert labels(replies) == MENU


async def test_help_lists_commands_and_offers_the_way_back(core: Core) -> None:
    replies = await Dialog(core).say("/trogiup")
    assert "/thutuc" in texts(replies) and "/huy" in texts(replies)
    assert labels(replies) == ["Về menu chính"]
    assert texts(await Dialog(core).say("/help")) == texts(replies)


async def test_english_aliases_and_commands_without_slash(core: Core) -> None:
    dialog = Dialog(core)
    assert "em chào anh/chị" in texts(await dialog.say("/start@motcua_bot"))
    assert texts(await dialog.say("trogiup")) == texts(await dialog.say("/help"))
    assert "không có thao tác nào" in texts(await dialog.say("hủy"))


async def test_menu_entries_not_built_yet_say_so_honestly(settings: Settings) -> None:
    from handlers import start

    only_start = Router()  # every feature is built now: the basics alone show the mechanism
    only_start.include(start.router)
    db = Database(settings.database_url)
    dialog = Dialog(Core(settings, db, only_start))
    await dialog.say("/start")
    replies = await dialog.press("menu:danhgia")
    assert "đang được hoàn thiện" in texts(replies)
    assert "Đánh giá hài lòng" in texts(replies)
    assert actions(replies) == ["menu"]
    assert labels(await dialog.press("menu")) == MENU
    await db.dispose()


@pytest.mark.parametrize("text", ["", "   ", "\u200b"])
async def test_empty_message_gets_a_prompt(core: Core, text: str) -> None:
    replies = await Dialog(core).say(text)
    assert "chưa nhận được nội dung" in texts(replies) or "chưa hiểu" in texts(replies)
    assert labels(replies) == MENU


async def test_ten_thousand_characters_are_read_in_part_and_said_so(core: Core) -> None:
    replies = await Dialog(core).say("xin hỏi " * 1250)
    assert "chỉ đọc 4000 ký tự đầu" in texts(replies)
    assert len(replies) == 2


async def test_sticker_or_photo_where_text_expected(core: Core) -> None:
    dialog = Dialog(core)
    replies = await dialog.say(attachments=[Attachment("sticker", "s1")])
    assert "chỉ đọc được tin nhắn chữ" in texts(replies) and "nhãn dán" in texts(replies)
    replies = await dialog.send_photo()
    assert "một ảnh" in texts(replies)


async def test_unknown_command(core: Core) -> None:
    replies = await Dialog(core).say("/abcxyz")
    assert 'chưa hiểu lệnh "/abcxyz"' in texts(replies)
    assert labels(replies) == MENU


async def test_emoji_and_nfd_text_are_understood(core: Core) -> None:
    dialog = Dialog(core)
    assert labels(await dialog.say("👋🙏")) == MENU
    nfd = unicodedata.normalize("NFD", "hủy")
    assert nfd != "hủy"
    assert "không có thao tác nào" in texts(await dialog.say(nfd))


async def test_a_duplicate_delivery_is_handled_once(core: Core) -> None:
    dialog = Dialog(core)
    msg = dialog.incoming("/start")
    assert await core.handle(msg)
    assert await core.handle(msg) == []


async def test_numbered_options_press_buttons_on_console(core: Core) -> None:
    dialog = Dialog(core, channel="console")
    await dialog.say("/start")
    replies = await dialog.say("3")  # the third option: feedback
    assert "phản ánh, kiến nghị về việc gì" in texts(replies)


async def test_group_chatter_is_ignored_but_commands_answered(core: Core) -> None:
    dialog = Dialog(core, channel="telegram", chat_id="-100")
    assert await dialog.say("chào cả nhà", is_group=True) == []
    assert labels(await dialog.say("/start", is_group=True)) == MENU


def flow_router() -> Router:
    """A two-step flow, to show that conversation state lives in the database."""
    from handlers.start import router as start_router

    router = Router()
    router.include(start_router)

    @router.command("ten")
    async def ask(msg, ctx):  # type: ignore[no-untyped-def]
        from bot.messages import Outgoing

        ctx.conversation.goto("ask_name", asked=True)
        return Outgoing("Tên anh/chị là gì?")

    @router.step("ask_name")
    async def answer(msg, ctx):  # type: ignore[no-untyped-def]
        from bot.messages import Outgoing

        ctx.conversation.end()
        return Outgoing(f"Cảm ơn {msg.text}")

    return router


async def test_conversation_state_survives_a_new_core(settings: Settings) -> None:
    db = Database(settings.database_url)
    first = Core(settings, db, flow_router())
    assert texts(await Dialog(first).say("/ten")) == "Tên anh/chị là gì?"
    await db.dispose()
    db = Database(settings.database_url)  # a "restarted process"
    second = Core(settings, db, flow_router())
    assert texts(await Dialog(second).say("Bình")) == "Cảm ơn Bình"
    assert "Cảm ơn" not in texts(await Dialog(second).say("Bình"))
    await db.dispose()


async def test_cancel_leaves_a_flow(settings: Settings) -> None:
    db = Database(settings.database_url)
    core = Core(settings, db, flow_router())
    dialog = Dialog(core)
    await dialog.say("/ten")
    assert "đã dừng thao tác" in texts(await dialog.say("/huy"))
    assert "Cảm ơn" not in texts(await dialog.say("Bình"))
    await db.dispose()


async def test_a_failing_handler_apologises_and_keeps_the_update(settings: Settings) -> None:
    router = flow_router()

    @router.command("hong")
    async def broken(msg, ctx):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    db = Database(settings.database_url)
    core = Core(settings, db, router)
    replies = await Dialog(core).say("/hong")
    assert "hệ thống vừa gặp trục trặc" in texts(replies)
    assert "boom" not in texts(replies)
    await db.dispose()
