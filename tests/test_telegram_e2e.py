"""Telegram end to end: the real python-telegram-bot client against the fake Bot API, with the
whole service (polling and webhook modes)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import Service
from bot.db.models import ProcessedUpdate
from bot.messages import Button, ChatRef, Outgoing
from tests.conftest import make_settings
from tests.dialog import DatabaseDown, until
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:TEST-token-for-the-fake-api_abcdefghij"
MENU = ["Tra cứu thủ tục", "Tra cứu hồ sơ", "Gửi phản ánh, kiến nghị", "Đánh giá hài lòng",
        "Nhận thông báo của xã/phường", "Cài đặt", "Hồ sơ của tôi"]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as api:
        yield api


async def delivered(fake: FakeTelegram, count: int = 1, since: int = 0) -> None:
    """Wait for `count` successful sendMessage calls (a 429'd reply is re-sent later)."""
    await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, count=count, since=since,
                        timeout=10)


def keyboard_labels(message: dict) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button["text"] for row in rows for button in row]


def keyboard_data(message: dict) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button.get("callback_data", "") for row in rows for button in row]


async def test_polling_start_menu_and_button_press(database_url: str, fake: FakeTelegram) -> None:
    settings = make_settings(database_url, telegram_bot_token=TOKEN,
                             telegram_api_base_url=fake.base_url)
    async with Service(settings) as service:
        assert service.telegram and service.telegram.status == "ok"
        fake.push_message(1001, "/start")
        await delivered(fake)
        greeting = fake.sent_messages(1001)[-1]
        assert "em chào anh/chị Nguyễn Văn An" in greeting["text"]
        assert keyboard_labels(greeting) == MENU
        assert all(len(d.encode()) <= 64 for d in keyboard_data(greeting))

        since = len(fake.calls)
        fake.push_callback(1001, keyboard_data(greeting)[1])
        await fake.wait_for("answerCallbackQuery", since=since)
        await delivered(fake, since=since)
        assert "mã hồ sơ" in fake.sent_messages(1001)[-1]["text"]
        assert fake.calls_to("setMyCommands")


async def test_polling_waits_out_a_database_outage_and_loses_nothing(
        database_url: str, fake: FakeTelegram, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A polled update is never sent again by Telegram: while the database is down it waits
    (the updates behind it too), and it is handled once the database is back."""
    monkeypatch.setattr("bot.channels.base.OUTAGE_RETRY", (0.05, 0.2))
    settings = make_settings(database_url, telegram_bot_token=TOKEN,
                             telegram_api_base_url=fake.base_url)
    async with Service(settings) as service:
        outage = DatabaseDown(service.core, attempts=8)
        with caplog.at_level(logging.WARNING):
            fake.push_message(1010, "/start")
            fake.push_message(1011, "/trogiup")
            await delivered(fake, 2)
        assert outage.remaining == 0
        assert keyboard_labels(fake.sent_messages(1010)[-1]) == MENU
        assert fake.sent_messages(1011)
        assert await count_updates(service) == 2
        assert any("database unavailable" in r.getMessage() for r in caplog.records)


async def test_every_callback_is_answered_even_a_stale_one(database_url: str,
                                                           fake: FakeTelegram) -> None:
    settings = make_settings(database_url, telegram_bot_token=TOKEN,
                             telegram_api_base_url=fake.base_url)
    async with Service(settings):
        fake.push_callback(1002, "no-such-action:42")
        await fake.wait_for("answerCallbackQuery")
        await delivered(fake)
        assert "hết hiệu lực" in fake.sent_messages(1002)[-1]["text"]


async def test_long_button_actions_are_stored_server_side(database_url: str,
                                                          fake: FakeTelegram) -> None:
    settings = make_settings(database_url, telegram_bot_token=TOKEN,
                             telegram_api_base_url=fake.base_url)
    async with Service(settings) as service:
        assert service.telegram
        long_action = "menu:" + "x" * 100  # resolves to the "menu" handler by prefix
        await service.telegram.send(
            ChatRef("telegram", "1003"), Outgoing("Chọn", buttons=[[Button("A", long_action)]])
        )
        data = keyboard_data(fake.sent_messages(1003)[-1])[0]
        assert len(data.encode()) <= 64 and data != long_action
        since = len(fake.calls)
        fake.push_callback(1003, data)
        await delivered(fake, since=since)
        assert keyboard_labels(fake.sent_messages(1003)[-1]) == MENU


async def test_odd_messages_get_a_clear_answer_on_telegram(database_url: str,
                                                           fake: FakeTelegram) -> None:
    settings = make_settings(database_url, telegram_bot_token=TOKEN,
                             telegram_api_base_url=fake.base_url)
    async with Service(settings):
        fake.push_message(1004, sticker=True)
        fake.push_message(1004, photo=True)
        fake.push_message(1004, "/lenhla")
        fake.push_message(1004, "x" * 10_000)
        await delivered(fake, 5)
        texts = [m["text"] for m in fake.sent_messages(1004)]
        assert "nhãn dán" in texts[0]
        assert "một ảnh" in texts[1]
        assert '"/lenhla"' in texts[2]
        assert "4000 ký tự" in texts[3]


async def test_a_conversation_survives_a_restart(database_url: str, fake: FakeTelegram) -> None:
    settings = make_settings(database_url, telegram_bot_token=TOKEN,
                             telegram_api_base_url=fake.base_url)
    async with Service(settings):
        fake.push_message(1005, "/phananh")
        await delivered(fake)
        fake.push_callback(1005, "fb:cat:ha_tang")
        await delivered(fake, 2)
        assert "mô tả nội dung phản ánh" in fake.sent_messages(1005)[-1]["text"]
    assert fake.pending_updates == []
    async with Service(settings):  # a new process: the step and the draft are remembered
        since = len(fake.calls)
        fake.push_message(1005, "Đèn đường ở ngõ 12 thôn Đông bị hỏng từ tuần trước")
        await delivered(fake, since=since)
        assert "em đã ghi nội dung" in fake.sent_messages(1005)[-1]["text"]


# -- webhook mode ---------------------------------------------------------------------------


@pytest.fixture
async def webhook_service(database_url: str, fake: FakeTelegram) -> AsyncIterator[Service]:
    settings = make_settings(database_url, telegram_bot_token=TOKEN,
                             telegram_api_base_url=fake.base_url,
                             public_base_url="https://motcua.example.gov.vn",
                             telegram_webhook_secret="s3cret_Value-1")
    async with Service(settings) as service:
        yield service


async def count_updates(service: Service) -> int:
    async with service.db.session() as session:
        return await session.scalar(select(func.count()).select_from(ProcessedUpdate)) or 0


async def test_webhook_is_registered_with_the_secret(webhook_service: Service,
                                                     fake: FakeTelegram) -> None:
    assert fake.webhook.url == "https://motcua.example.gov.vn/webhook/telegram"
    assert fake.webhook.secret_token == "s3cret_Value-1"
    assert not fake.calls_to("getUpdates")


async def test_webhook_right_wrong_and_missing_secret(webhook_service: Service,
                                                      fake: FakeTelegram) -> None:
    url = f"http://127.0.0.1:{webhook_service.port}/webhook/telegram"
    update = fake.push_message(2001, "/start")
    assert await fake.deliver_webhook(update, url, secret_token="wrong") == 403
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=update) as response:
            assert response.status == 401
    assert await count_updates(webhook_service) == 0
    assert not fake.sent_messages(2001)

    assert await fake.deliver_webhook(update, url) == 200
    await delivered(fake)
    assert keyboard_labels(fake.sent_messages(2001)[-1]) == MENU


async def test_webhook_duplicate_update_is_handled_once(webhook_service: Service,
                                                        fake: FakeTelegram) -> None:
    url = f"http://127.0.0.1:{webhook_service.port}/webhook/telegram"
    update = fake.push_message(2002, "/start")
    assert await fake.deliver_webhook(update, url) == 200
    assert await fake.deliver_webhook(update, url) == 200
    await delivered(fake)
    fake.push_message(2002, "/trogiup")  # a later update proves the first one's replies are done
    assert await fake.deliver_webhook(fake.pending_updates[-1], url) == 200
    await delivered(fake, 2)
    assert [keyboard_labels(m) for m in fake.sent_messages(2002)] == [MENU, ["Về menu chính"]]
    assert await count_updates(webhook_service) == 2


async def test_webhook_malformed_but_authenticated_is_acknowledged(
    webhook_service: Service, fake: FakeTelegram
) -> None:
    url = f"http://127.0.0.1:{webhook_service.port}/webhook/telegram"
    headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret_Value-1"}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=b"{not json", headers=headers) as response:
            assert response.status == 200
        async with http.post(url, data=b"x" * (1024 * 1024 + 1), headers=headers) as response:
            assert response.status == 413
        # JSON with an update_id but a malformed update (each fails in another way).
        for body in ({"update_id": 7, "message": "x"}, {"update_id": 8, "message": {"a": 1}},
                     {"update_id": 9, "message": {"message_id": "a", "date": "x",
                                                  "chat": {"id": 1, "type": "private"}}},
                     {"update_id": 10, "callback_query": {"id": "1"}}):
            async with http.post(url, json=body, headers=headers) as response:
                assert response.status == 200, body
    async with webhook_service.db.session() as session:
        statuses = list(await session.scalars(select(ProcessedUpdate.status)))
    assert statuses == ["rejected"] * 5


async def test_webhook_answers_503_when_the_database_is_gone(webhook_service: Service,
                                                             fake: FakeTelegram) -> None:
    url = f"http://127.0.0.1:{webhook_service.port}/webhook/telegram"
    update = fake.push_message(2003, "/start")
    DatabaseDown(webhook_service.core, attempts=1)
    assert await fake.deliver_webhook(update, url) == 503
    assert await fake.deliver_webhook(update, url) == 200  # the platform's retry succeeds
    await delivered(fake)


# -- Telegram down at start -------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["http 502", "connection reset"])
async def test_telegram_down_at_start_holds_nothing_back_and_comes_up_later(
        database_url: str, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch,
        failure: str) -> None:
    """getMe fails at start: the service starts anyway, the web chat answers, /healthz is
    200 and shows telegram "down"; once the Bot API answers again the channel comes up by
    itself (commands, polling) and a waiting update is answered."""
    monkeypatch.setattr("bot.channels.telegram.START_RETRY", (0.05, 0.2), raising=False)
    if failure == "http 502":
        fake.fail_next("getMe", 502, count=1_000_000)
    else:
        fake.reset_next("getMe", count=1_000_000)
    settings = make_settings(database_url, telegram_bot_token=TOKEN,
                             telegram_api_base_url=fake.base_url)
    async with Service(settings) as service, aiohttp.ClientSession(
            base_url=f"http://127.0.0.1:{service.port}") as http:
        async with http.get("/healthz") as response:
            assert response.status == 200
            assert (await response.json())["channels"] == {"web": "ok", "telegram": "down"}
        async with http.post("/chat/api/messages", json={"text": "/start"}) as response:
            assert response.status == 200
            assert "em chào anh/chị" in (await response.json())["messages"][0]["text"]
        fake.push_message(1020, "/start")  # waits at Telegram meanwhile
        assert not fake.calls_to("getUpdates")
        fake.clear_faults()
        await fake.wait_for("getUpdates", timeout=10)
        await delivered(fake)
        assert "em chào anh/chị" in fake.sent_messages(1020)[-1]["text"]
        assert fake.calls_to("setMyCommands") and fake.calls_to("deleteWebhook")
        async with http.get("/healthz") as response:
            assert (await response.json())["channels"] == {"web": "ok", "telegram": "ok"}


async def test_the_webhook_is_set_once_telegram_answers(database_url: str, fake: FakeTelegram,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.channels.telegram.START_RETRY", (0.05, 0.2), raising=False)
    fake.fail_next("setWebhook", 502, count=3)
    settings = make_settings(database_url, telegram_bot_token=TOKEN,
                             telegram_api_base_url=fake.base_url,
                             public_base_url="https://motcua.example.gov.vn",
                             telegram_webhook_secret="s3cret_Value-1")
    async with Service(settings) as service:
        assert service.telegram is not None and service.telegram.status == "down"
        await fake.wait_for(lambda c: c.method == "setWebhook" and c.ok, timeout=10)
        await fake.wait_for("getMe")
        assert fake.webhook.url == "https://motcua.example.gov.vn/webhook/telegram"
        telegram = service.telegram
        await until(lambda: telegram.status == "ok")  # app.start() follows setWebhook
        assert len(fake.calls_to("getMe", ok=True)) == 1  # not asked again once known
