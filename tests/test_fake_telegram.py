"""The fake Telegram Bot API against the real python-telegram-bot client.

Each test talks HTTP to `FakeTelegram` on 127.0.0.1 through `telegram.Bot` or an `Application`
running polling, and checks what PTB makes of the answers: objects, and the exceptions it maps
from 429/400/403/502 and dropped connections. Limits are checked with an injected clock.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from tests.fakes.telegram_api import Call, FakeTelegram

TOKEN = "123456:TEST-token-for-the-fake"
BOT_ID = 123456


class ManualClock:
    """An injected clock for the flood windows: moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def retry_seconds(error: RetryAfter) -> float:
    value = error.retry_after
    return value if isinstance(value, int) else value.total_seconds()


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d.upper(), callback_data=d) for d in data]])


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """Flood limits off: these tests are about the methods; the limit tests make their own."""
    async with FakeTelegram(
        limit_overall_per_s=None, limit_per_chat_per_s=None, limit_per_group_per_min=None
    ) as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    client = Bot(TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url)
    async with client:
        yield client


# --- basics ---------------------------------------------------------------------------------


async def test_get_me_answers_for_the_token(bot: Bot, fake: FakeTelegram) -> None:
    me = await bot.get_me()
    assert me.id == BOT_ID and me.is_bot and me.username == "motcua_test_bot"
    assert fake.calls[0].method == "getMe" and fake.calls[0].ok


async def test_send_message_is_recorded_with_its_inline_keyboard(
    bot: Bot, fake: FakeTelegram
) -> None:
    sent = await bot.send_message(42, "Dạ, mời anh/chị chọn:", reply_markup=keyboard("a", "b"))

    assert sent.chat.id == 42 and sent.from_user is not None and sent.from_user.id == BOT_ID
    assert sent.reply_markup == keyboard("a", "b")
    call = fake.calls_to("sendMessage")[0]
    assert call.params["chat_id"] == 42
    assert call.params["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "A", "callback_data": "a"}, {"text": "B", "callback_data": "b"}]
        ]
    }
    [shown] = fake.sent_messages(42)
    assert shown["text"] == "Dạ, mời anh/chị chọn:" and shown["message_id"] == sent.message_id


async def test_method_names_are_case_insensitive_and_unknown_ones_404(
    fake: FakeTelegram,
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{fake.base_url}1:x/SENDMESSAGE", data={"chat_id": "5", "text": "hi"}
        ) as resp:
            assert resp.status == 200 and (await resp.json())["ok"] is True
        async with http.post(f"{fake.base_url}1:x/noSuchMethod") as resp:
            assert resp.status == 404
            assert await resp.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }


async def test_json_bodies_and_json_string_fields_are_accepted(fake: FakeTelegram) -> None:
    markup = {"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]}
    async with aiohttp.ClientSession() as http:
        for chat_id, reply_markup in ((7, markup), (8, json.dumps(markup))):
            body = {"chat_id": chat_id, "text": "123", "reply_markup": reply_markup}
            async with http.post(f"{fake.base_url}{TOKEN}/sendMessage", json=body) as resp:
                result = (await resp.json())["result"]
                assert result["reply_markup"] == markup and result["text"] == "123"
    assert [c.params["reply_markup"] for c in fake.calls] == [markup, markup]


async def test_html_is_rendered_and_malformed_html_refused(bot: Bot, fake: FakeTelegram) -> None:
    sent = await bot.send_message(5, "<b>Hồ sơ</b> &lt;A-1&gt; đã <i>xong</i>", parse_mode="HTML")
    assert sent.text == "Hồ sơ <A-1> đã xong"
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(5, "Ông <Nguyễn> gửi", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)can't find end tag"):
        await bot.send_message(5, "<b>đậm", parse_mode="HTML")
    with pytest.raises(BadRequest, match="reserved"):
        await bot.send_message(5, "Xong.", parse_mode="MarkdownV2")
    assert (await bot.send_message(5, r"*Xong*\.", parse_mode="MarkdownV2")).text == "Xong."


async def test_telegram_refuses_what_it_refuses(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(5, "x" * 4097)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(5, "   ")
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(5, "x", reply_markup=keyboard("d" * 65))
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(5, "x", reply_to_message_id=999)


# --- getUpdates and polling -----------------------------------------------------------------


async def test_get_updates_confirms_with_offset(bot: Bot, fake: FakeTelegram) -> None:
    first = fake.push_message(42, "một")
    fake.push_message(42, "hai")
    third = fake.push_message(42, "ba")
    assert first["update_id"] + 2 == third["update_id"]

    updates = await bot.get_updates()
    assert [u.message.text for u in updates if u.message] == ["một", "hai", "ba"]
    assert len(await bot.get_updates(limit=1)) == 1
    assert [u.update_id for u in await bot.get_updates(offset=-1)] == [third["update_id"]]
    assert await bot.get_updates(offset=third["update_id"] + 1) == ()
    assert fake.pending_updates == []


async def test_long_poll_waits_for_an_injected_update(bot: Bot, fake: FakeTelegram) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    url = f"{fake.base_url}{TOKEN}/getUpdates"  # raw: PTB sends whole seconds
    async with aiohttp.ClientSession() as http, http.post(url, data={"timeout": "0.3"}) as r:
        assert await r.json() == {"ok": True, "result": []}
    assert loop.time() - started >= 0.25

    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.1)
    assert not poll.done()
    update = fake.push_callback(42, "menu:hoso")
    [got] = await asyncio.wait_for(poll, 2)
    assert got.update_id == update["update_id"]
    assert got.callback_query is not None and got.callback_query.data == "menu:hoso"


async def test_a_second_poller_terminates_the_first_with_conflict(
    bot: Bot, fake: FakeTelegram
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    while not fake.is_polling:
        await asyncio.sleep(0.01)
    async with Bot(TOKEN, base_url=fake.base_url) as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await first


async def test_application_polling_receives_updates_and_replies(fake: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(
            update.effective_chat.id, "Dạ, xin chào!", reply_markup=keyboard("menu:hoso")
        )

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(f"Dạ, đã nhận: {update.message.text}", do_quote=True)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer()
        await update.callback_query.edit_message_text(f"Đã chọn {update.callback_query.data}")

    app = (
        Application.builder()
        .token(TOKEN)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        await app.updater.start_polling(poll_interval=0, timeout=1)  # type: ignore[union-attr]
        await app.start()
        fake.push_message(1001, "/start")
        fake.push_message(1001, "thủ tục khai sinh")
        await fake.wait_for("sendMessage", count=2)
        fake.push_callback(1001, "menu:hoso")
        await fake.wait_for("editMessageText")
        await app.updater.stop()  # type: ignore[union-attr]
        await app.stop()

    greeting, echoed = fake.sent_messages(1001)
    assert greeting["text"] == "Đã chọn menu:hoso" and "reply_markup" not in greeting
    assert echoed["text"] == "Dạ, đã nhận: thủ tục khai sinh"
    assert echoed["reply_to_message"]["text"] == "thủ tục khai sinh"
    assert fake.calls_to("answerCallbackQuery", ok=True)
    assert fake.calls_to("deleteWebhook")
    assert fake.pending_updates == []  # PTB's last getUpdates confirmed everything


# --- flood limits ---------------------------------------------------------------------------


async def test_per_chat_limit_gives_retry_after() -> None:
    async with FakeTelegram() as fake, Bot(TOKEN, base_url=fake.base_url) as bot:
        await bot.send_message(42, "một")
        with pytest.raises(RetryAfter) as raised:
            await bot.send_message(42, "hai")
        assert retry_seconds(raised.value) == 1
        assert fake.rejected_429 == 1
        await bot.send_message(43, "another chat is not limited")
        assert [c.status for c in fake.calls_to("sendMessage")] == [200, 429, 200]


async def test_group_and_overall_limits_with_an_injected_clock() -> None:
    clock = ManualClock()
    async with (
        FakeTelegram(limit_overall_per_s=3, clock=clock) as fake,
        Bot(TOKEN, base_url=fake.base_url) as bot,
    ):
        for _ in range(20):
            await bot.send_message(-100500, "tin nhóm")
            clock.now += 1.5
        with pytest.raises(RetryAfter) as raised:
            await bot.send_message(-100500, "the 21st within a minute")
        assert retry_seconds(raised.value) == 30  # when the first send leaves the window

        clock.now += 100
        for chat in (1, 2, 3):
            await bot.send_message(chat, "x")
        with pytest.raises(RetryAfter):
            await bot.send_message(4, "the fourth in one second")
        clock.now += 1
        await bot.send_message(4, "after a second")
        assert fake.rejected_429 == 2 and fake.pause_violations == []


async def test_a_send_inside_the_pause_is_a_violation() -> None:
    clock = ManualClock()
    async with FakeTelegram(clock=clock) as fake, Bot(TOKEN, base_url=fake.base_url) as bot:
        fake.force_retry_after(3)
        with pytest.raises(RetryAfter) as raised:
            await bot.send_message(42, "x")
        assert retry_seconds(raised.value) == 3
        clock.now += 1
        with pytest.raises(RetryAfter) as again:
            await bot.send_message(42, "too early")
        assert retry_seconds(again.value) == 2
        assert len(fake.pause_violations) == 1
        await bot.send_message(7, "another chat is not paused")
        clock.now += 2
        await bot.send_message(42, "in time")
        assert fake.rejected_429 == 2


async def test_limits_can_be_turned_off() -> None:
    unlimited = FakeTelegram(
        limit_overall_per_s=None, limit_per_chat_per_s=None, limit_per_group_per_min=None
    )
    async with unlimited as fake, Bot(TOKEN, base_url=fake.base_url) as bot:
        await asyncio.gather(*(bot.send_message(-1, str(i)) for i in range(50)))
        assert fake.rejected_429 == 0 and len(fake.sent_messages(-1)) == 50


# --- faults ---------------------------------------------------------------------------------


async def test_fail_next_maps_to_ptb_exceptions(bot: Bot, fake: FakeTelegram) -> None:
    fake.fail_next("sendMessage", 502)
    with pytest.raises(NetworkError) as raised:
        await bot.send_message(42, "x")
    assert not isinstance(raised.value, (BadRequest, RetryAfter))

    fake.fail_next("sendMessage", 400, description="Bad Request: chat not found")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(42, "x")

    fake.fail_next("sendmessage", 403)
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(42, "x")

    fake.fail_next("sendMessage", 429, retry_after=5)
    with pytest.raises(RetryAfter) as retry:
        await bot.send_message(43, "x")
    assert retry_seconds(retry.value) == 5
    assert [c.status for c in fake.calls_to("sendMessage")] == [502, 400, 403, 429]


async def test_blocked_and_unknown_chats(bot: Bot, fake: FakeTelegram) -> None:
    fake.blocked_chats.add(42)
    fake.unknown_chats.add(-100999)
    with pytest.raises(Forbidden, match="Forbidden: bot was blocked by the user"):
        await bot.send_message(42, "x")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(-100999, "x")
    assert fake.sent_messages() == []


async def test_fail_rate_is_seeded(bot: Bot, fake: FakeTelegram) -> None:
    async def outcomes() -> list[int]:
        fake.calls.clear()
        for chat in range(1, 41):
            try:
                await bot.send_message(chat * 1000 + len(fake.sent_messages()), "x")
            except NetworkError:
                pass
        return [c.status for c in fake.calls]

    fake.fail_rate(502, 0.3, seed=7)
    first = await outcomes()
    fake.clear_faults()
    fake.fail_rate(502, 0.3, seed=7)
    assert await outcomes() == first
    assert 4 <= first.count(502) <= 20


async def test_reset_and_delay(fake: FakeTelegram) -> None:
    request = HTTPXRequest(read_timeout=0.3)
    async with Bot(TOKEN, base_url=fake.base_url, request=request) as bot:
        fake.reset_next("sendMessage")
        with pytest.raises(NetworkError, match="disconnected"):
            await bot.send_message(42, "x")
        assert fake.sent_messages() == []

        fake.delay(1.0, method="sendMessage", count=1, after=True)
        with pytest.raises(TimedOut):
            await bot.send_message(43, "late answer")
        assert len(fake.sent_messages(43)) == 1  # sent, though the client never heard

        fake.delay(0.1, count=1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await bot.send_message(44, "a little slow")
        assert loop.time() - started >= 0.1


async def test_wait_for_fails_loudly(fake: FakeTelegram) -> None:
    with pytest.raises(AssertionError, match="sendMessage"):
        await fake.wait_for("sendMessage", timeout=0.1)


async def test_wait_for_accepts_predicates(bot: Bot, fake: FakeTelegram) -> None:
    async def later() -> None:
        await asyncio.sleep(0.05)
        await bot.send_message(9, "Dạ, hồ sơ đã xong")

    task = asyncio.create_task(later())
    [call] = await fake.wait_for(lambda c: c.ok and "hồ sơ" in c.params.get("text", ""))
    assert isinstance(call, Call) and call.chat_id == 9
    await task


# --- the other methods ----------------------------------------------------------------------


async def test_webhook_state_and_conflict(bot: Bot, fake: FakeTelegram) -> None:
    with pytest.raises(BadRequest, match="(?i)an https url must be provided"):
        await bot.set_webhook("http://127.0.0.1:8080/hook")
    await bot.set_webhook("https://motcua.example.gov.vn/webhook/telegram", secret_token="s3_t-K")
    assert fake.webhook.url == "https://motcua.example.gov.vn/webhook/telegram"
    assert fake.webhook.secret_token == "s3_t-K"
    with pytest.raises(Conflict):
        await bot.get_updates()
    fake.push_message(42, "chờ")
    info = await bot.get_webhook_info()
    assert info.url == fake.webhook.url and info.pending_update_count == 1
    await bot.delete_webhook(drop_pending_updates=True)
    assert fake.webhook.url == "" and fake.pending_updates == []


async def test_deliver_webhook_posts_with_the_secret(fake: FakeTelegram) -> None:
    received: list[tuple[str | None, dict[str, object]]] = []

    async def hook(request: aiohttp.web.Request) -> aiohttp.web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return aiohttp.web.Response()

    app = aiohttp.web.Application()
    app.router.add_post("/hook", hook)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        fake.webhook.secret_token = "abc"
        update = fake.push_message(42, "qua webhook")
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        assert await fake.deliver_webhook(update, url) == 200
    finally:
        await runner.cleanup()
    assert received == [("abc", update)]
    assert fake.pending_updates == []


async def test_forum_topics(bot: Bot, fake: FakeTelegram) -> None:
    fake.add_chat(-1001, "supergroup", title="Cán bộ một cửa", is_forum=True)
    topic = await bot.create_forum_topic(-1001, "Hồ sơ #A-17 — Nguyễn Văn An")
    assert topic.name == "Hồ sơ #A-17 — Nguyễn Văn An" and topic.message_thread_id > 0

    relayed = await bot.send_message(
        -1001, "Công dân hỏi: …", message_thread_id=topic.message_thread_id
    )
    assert relayed.message_thread_id == topic.message_thread_id and relayed.is_topic_message

    staff = fake.push_message(
        -1001,
        "Đã tiếp nhận",
        user_id=77,
        first_name="Cán bộ",
        message_thread_id=topic.message_thread_id,
        reply_to_message_id=relayed.message_id,
    )
    assert staff["message"]["reply_to_message"]["message_id"] == relayed.message_id
    plain = fake.push_message(-1001, "Không trả lời ai", message_thread_id=topic.message_thread_id)
    assert plain["message"]["reply_to_message"]["forum_topic_created"]["name"] == topic.name
    [_, got] = await bot.get_updates()
    assert got.message is not None and got.message.reply_to_message is not None

    with pytest.raises(BadRequest, match="Message thread not found"):
        await bot.send_message(-1001, "x", message_thread_id=999_999)
    fake.add_chat(-1002, "supergroup")
    with pytest.raises(BadRequest, match="The chat is not a forum"):
        await bot.create_forum_topic(-1002, "x")


async def test_copy_forward_and_edits(bot: Bot, fake: FakeTelegram) -> None:
    citizen = fake.push_message(42, "Tôi cần hỏi về hộ tịch")["message"]
    copied = await bot.copy_message(-1001, 42, citizen["message_id"])
    forwarded = await bot.forward_message(-1001, 42, citizen["message_id"])
    assert forwarded.forward_origin is not None and forwarded.text == citizen["text"]
    first, second = fake.sent_messages(-1001)
    assert first["message_id"] == copied.message_id and first["text"] == citizen["text"]
    assert "forward_origin" not in first and second["forward_origin"]["type"] == "user"
    with pytest.raises(BadRequest, match="Message to copy not found"):
        await bot.copy_message(-1001, 42, 999)

    sent = await bot.send_message(42, "Chọn:", reply_markup=keyboard("a"))
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("Chọn:", 42, sent.message_id, reply_markup=keyboard("a"))
    await bot.edit_message_reply_markup(42, sent.message_id, reply_markup=keyboard("b"))
    assert fake.sent_messages(42)[-1]["reply_markup"]["inline_keyboard"][0][0]["text"] == "B"
    edited = await bot.edit_message_text("Đã chọn.", 42, sent.message_id)
    assert isinstance(edited, object) and "reply_markup" not in fake.sent_messages(42)[-1]
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", 42, 12345)


async def test_callback_answers_are_checked(bot: Bot, fake: FakeTelegram) -> None:
    update = fake.push_callback(42, "menu:hoso")
    query_id = update["callback_query"]["id"]
    assert update["callback_query"]["message"]["reply_markup"]["inline_keyboard"]
    assert await bot.answer_callback_query(query_id, "Dạ")
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query_id)


async def test_files_photos_documents_and_albums(bot: Bot, fake: FakeTelegram) -> None:
    pushed = fake.push_message(42, "ảnh giấy tờ", photo=b"\xff\xd8\xff citizen photo")
    file_id = pushed["message"]["photo"][-1]["file_id"]
    assert pushed["message"]["caption"] == "ảnh giấy tờ"
    file = await bot.get_file(file_id)
    assert bytes(await file.download_as_bytearray()) == b"\xff\xd8\xff citizen photo"

    photo = await bot.send_photo(42, b"\xff\xd8\xff ours", caption="Mẫu tờ khai")
    again = await bot.get_file(photo.photo[-1].file_id)
    assert bytes(await again.download_as_bytearray()) == b"\xff\xd8\xff ours"
    document = await bot.send_document(42, b"%PDF-1.4 form", filename="to-khai.pdf")
    assert document.document is not None and document.document.file_name == "to-khai.pdf"
    album = await bot.send_media_group(
        42, [InputMediaPhoto(b"\xff\xd8\xff 1"), InputMediaPhoto(file_id, caption="2")]
    )
    assert len(album) == 2 and album[0].media_group_id == album[1].media_group_id
    with pytest.raises(BadRequest, match="Invalid file_id"):
        await bot.get_file("nope")
    assert fake.calls_to("sendPhoto")[0].params["photo"]["size"] == len(b"\xff\xd8\xff ours")


async def test_chats_members_commands_and_actions(bot: Bot, fake: FakeTelegram) -> None:
    fake.push_message(42, "xin chào", first_name="Lan")
    chat = await bot.get_chat(42)
    assert chat.type == "private" and chat.first_name == "Lan"
    fake.members[(-1001, 77)] = "creator"
    fake.members[(-1001, 78)] = "administrator"
    me = await bot.get_chat_member(-1001, BOT_ID)
    assert me.status == "administrator" and getattr(me, "can_manage_topics", False)
    assert (await bot.get_chat_member(-1001, 79)).status == "member"
    admins = await bot.get_chat_administrators(-1001)
    assert sorted(a.user.id for a in admins) == [77, 78, BOT_ID]

    await bot.set_my_commands([BotCommand("start", "Về menu chính")], language_code="vi")
    assert [c.command for c in await bot.get_my_commands(language_code="vi")] == ["start"]
    await bot.delete_my_commands(language_code="vi")
    assert fake.commands == {}
    assert await bot.send_chat_action(42, "typing")


async def test_every_kind_of_pushed_update_parses_in_ptb(bot: Bot, fake: FakeTelegram) -> None:
    fake.push_message(42, sticker=True)
    fake.push_message(42, location=(21.0285, 105.8542))
    fake.push_message(42, "tờ khai", document=("to-khai.pdf", b"%PDF-1.4 x"))
    fake.push_message(42, "/hoso A-17")
    group = fake.push_message(-100200, "chào cả nhóm", user_id=77, chat_title="Tổ một cửa")
    fake.push_message(
        -100200, "trả lời", user_id=78, reply_to_message_id=group["message"]["message_id"]
    )
    fake.push_update(
        {
            "my_chat_member": {
                "chat": {"id": 42, "type": "private", "first_name": "An"},
                "from": {"id": 42, "is_bot": False, "first_name": "An"},
                "date": 1_700_000_000,
                "old_chat_member": {
                    "status": "member",
                    "user": {"id": BOT_ID, "is_bot": True, "first_name": "Một cửa"},
                },
                "new_chat_member": {
                    "status": "kicked",
                    "until_date": 0,
                    "user": {"id": BOT_ID, "is_bot": True, "first_name": "Một cửa"},
                },
            }
        }
    )

    sticker, location, document, command, hello, reply, blocked = await bot.get_updates()
    assert sticker.message is not None and sticker.message.sticker is not None
    assert location.message is not None and location.message.location is not None
    assert document.message is not None and document.message.document is not None
    assert document.message.caption == "tờ khai"
    assert command.message is not None and command.message.entities[0].length == len("/hoso")
    assert hello.message is not None and hello.message.chat.title == "Tổ một cửa"
    assert reply.message is not None and reply.message.reply_to_message is not None
    assert reply.message.reply_to_message.text == "chào cả nhóm"
    assert blocked.my_chat_member is not None
    assert blocked.my_chat_member.new_chat_member.status == "kicked"


async def test_a_malformed_parameter_is_a_bad_request(fake: FakeTelegram) -> None:
    url = f"{fake.base_url}{TOKEN}/editMessageText"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data={"chat_id": "1", "message_id": "abc", "text": "x"}) as response,
    ):
        body = await response.json()
    assert response.status == 400 and body["ok"] is False
    assert body["description"].startswith("Bad Request:")


async def test_stop_answers_a_waiting_long_poll() -> None:
    fake = FakeTelegram()
    await fake.start()
    async with aiohttp.ClientSession() as http:
        url = f"{fake.base_url}{TOKEN}/getUpdates"
        poll = asyncio.create_task(http.post(url, data={"timeout": "30"}))
        while not fake.is_polling:
            await asyncio.sleep(0.01)
        await asyncio.wait_for(fake.stop(), 3)
        response = await asyncio.wait_for(poll, 3)
        assert await response.json() == {"ok": True, "result": []}


async def test_429_under_fail_rate_pauses_only_that_chat() -> None:
    clock = ManualClock()
    async with FakeTelegram(clock=clock) as fake, Bot(TOKEN, base_url=fake.base_url) as bot:
        fake.fail_rate(429, 1.0, seed=1, retry_after=2)
        with pytest.raises(RetryAfter):
            await bot.send_message(1, "x")
        fake.clear_faults()
        await bot.send_message(2, "another chat")
        clock.now += 2.1
        await bot.send_message(1, "after the pause")
        assert fake.pause_violations == [] and fake.rejected_429 == 1
