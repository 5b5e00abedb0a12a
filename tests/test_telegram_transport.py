"""python-telegram-bot over aiohttp (bot/channels/aiohttp_request.py), against the fake Bot API:
what arrives is what was sent, files go as multipart, timeouts and unreachable servers come
back as PTB's errors, and no error message carries the bot token."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import NetworkError, TimedOut

from bot.channels.aiohttp_request import AiohttpRequest, JsonData
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:TRANSPORT-token-for-the-fake"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(limit_overall_per_s=None, limit_per_chat_per_s=None,
                            limit_per_group_per_min=None) as server:
        yield server


async def test_text_keyboard_and_raw_calls_arrive_as_sent(fake: FakeTelegram) -> None:
    async with Bot(TOKEN, base_url=fake.base_url, request=AiohttpRequest()) as bot:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Hồ sơ", callback_data="proc:1")]])
        message = await bot.send_message(42, "Đăng ký khai sinh & kết hôn?", reply_markup=markup)
        raw = await bot.request.post(f"{bot.base_url}/sendMessage", JsonData({
            "chat_id": "42", "text": "Thủ tục: 100%", "reply_to_message_id": None,
            "reply_markup": {"inline_keyboard": [[{"text": "Xem", "callback_data": "proc:2"}]]}}))
    sent = fake.sent_messages(42)
    assert [m["text"] for m in sent] == ["Đăng ký khai sinh & kết hôn?", "Thủ tục: 100%"]
    assert sent[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "proc:1"
    assert sent[1]["reply_markup"]["inline_keyboard"][0][0]["text"] == "Xem"
    assert message.message_id == sent[0]["message_id"]
    assert raw["message_id"] == sent[1]["message_id"]


async def test_a_file_goes_as_multipart(fake: FakeTelegram) -> None:
    async with Bot(TOKEN, base_url=fake.base_url, request=AiohttpRequest()) as bot:
        await bot.send_document(42, b"%PDF-1.4 letter", filename="thu-moi.pdf",
                                caption="Thư mời nhận kết quả")
    [call] = fake.calls_to("sendDocument", ok=True)
    assert call.params["caption"] == "Thư mời nhận kết quả"
    assert call.params["document"]["upload"] == "thu-moi.pdf"


async def test_a_late_answer_is_timed_out(fake: FakeTelegram) -> None:
    async with Bot(TOKEN, base_url=fake.base_url,
                   request=AiohttpRequest(read_timeout=0.3)) as bot:
        fake.delay(2.0, method="sendMessage", count=1)
        with pytest.raises(TimedOut):
            await bot.send_message(42, "trễ")
        await bot.send_message(42, "kịp")  # the pool is usable again
    assert [m["text"] for m in fake.sent_messages(42)][-1] == "kịp"


async def test_an_unreachable_server_is_a_network_error_without_the_token() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    request = AiohttpRequest(connect_timeout=2.0)
    bot = Bot(TOKEN, base_url=f"http://127.0.0.1:{port}/bot", request=request)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await bot.request.post(f"{bot.base_url}/sendMessage",
                                   JsonData({"chat_id": 1, "text": "x"}))
    finally:
        await request.shutdown()
    assert TOKEN not in str(raised.value)
    assert TOKEN.split(":")[1] not in repr(raised.value)
