"""Zalo Bot Platform: long polling (one update per getUpdates, 408 = nothing new), the webhook
with `X-Bot-Api-Secret-Token` (both body shapes), dedupe on event_name + message_id, numbered
menus, the 2,000-character limit, photos by URL, error mapping — the whole service against the
fake Zalo Bot API over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import Service
from bot.channels.base import ChannelError
from bot.channels.zalo_bot import (
    ZaloBotApiError,
    channel_error,
    incoming_from_zalo_bot,
    unwrap,
    updates_in,
)
from bot.db.models import ProcessedUpdate
from bot.messages import Attachment, Button, ChatRef, Outgoing
from tests.conftest import make_settings
from tests.dialog import DatabaseDown, until
from tests.fakes.zalo_bot_api import BotCitizen, FakeZaloBot, options, texts

TOKEN = "3141592653:zalo-bot-secret-part"
CHAT = "e4ea2cd5189df1c3a88c"
MENU = ["Tra cứu thủ tục", "Tra cứu hồ sơ", "Gửi phản ánh, kiến nghị", "Đánh giá hài lòng",
        "Nhận thông báo của xã/phường", "Cài đặt", "Hồ sơ của tôi"]


# -- pure parts -------------------------------------------------------------------------------


def test_both_envelopes_and_errors() -> None:
    assert unwrap({"ok": True, "result": {"message_id": "m1"}}) == {"message_id": "m1"}
    assert unwrap({"error": 0, "message": "Success", "data": {"id": "x"}}) == {"id": "x"}
    with pytest.raises(ZaloBotApiError) as error:
        unwrap({"ok": False, "error_code": 408, "description": "Request timeout"})
    assert error.value.code == 408
    with pytest.raises(ZaloBotApiError) as error:
        unwrap({"error": -201, "message": "invalid"})
    assert error.value.code == -201
    assert channel_error(ZaloBotApiError(429, "slow down")).retry_after == 1.0
    assert channel_error(ZaloBotApiError(400, "bad")).permanent
    assert channel_error(ZaloBotApiError(403, "blocked")).permanent
    assert not channel_error(ZaloBotApiError(502, "bad gateway")).permanent
    assert not channel_error(TimeoutError()).permanent


def test_updates_parse_in_both_shapes() -> None:
    fake = FakeZaloBot()
    update = fake.make_update(CHAT, "message.text.received", text="xin chào")
    assert updates_in(update) == [update]
    assert updates_in({"ok": True, "result": update}) == [update]
    msg = incoming_from_zalo_bot(update)
    assert msg is not None and msg.chat_id == CHAT and msg.text == "xin chào"
    assert msg.update_key == f"zalo_bot:message.text.received:{update['message']['message_id']}"
    assert msg.display_name == "Nguyễn Văn An" and not msg.is_group
    photo = incoming_from_zalo_bot(fake.make_update(CHAT, "message.image.received",
                                                    photo_url="https://x/a.jpg", caption="đây"))
    assert photo is not None and photo.attachments == [Attachment("photo", url="https://x/a.jpg")]
    assert photo.text == "đây"
    old = incoming_from_zalo_bot(fake.make_update(CHAT, "message.image.received",
                                                  photo="https://x/b.jpg"))
    assert old is not None and old.attachments[0].url == "https://x/b.jpg"
    sticker = incoming_from_zalo_bot(fake.make_update(CHAT, "message.sticker.received",
                                                      sticker="abc"))
    assert sticker is not None and sticker.attachments[0].kind == "sticker"
    broken: object
    for broken in ({"event_name": "x"}, {"message": "no"}, [], {"ok": True, "result": None}):
        with pytest.raises(ValueError):
            updates_in(broken)
    with pytest.raises(ValueError):
        incoming_from_zalo_bot({"event_name": "message.text.received", "message": {"text": "a"}})


# -- polling ----------------------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeZaloBot]:
    async with FakeZaloBot(token=TOKEN, max_poll_wait=0.5) as api:
        yield api


@pytest.fixture
async def service(database_url: str, fake: FakeZaloBot) -> AsyncIterator[Service]:
    settings = make_settings(database_url, zalo_bot_token=TOKEN,
                             zalo_bot_api_base_url=fake.base_url, zalo_bot_rate_per_chat=50)
    async with Service(settings) as svc:
        yield svc


def citizen(service: Service, fake: FakeZaloBot, chat: str = CHAT) -> BotCitizen:
    channel = service.zalo_bot
    assert channel is not None

    async def settle(count: int) -> None:
        target = channel.handled + count
        deadline = asyncio.get_running_loop().time() + 10
        while channel.handled < target:
            assert asyncio.get_running_loop().time() < deadline, "update not handled"
            await asyncio.sleep(0.01)
        await channel.pump.drain()

    return BotCitizen(fake, chat, settle)


async def test_polling_menu_numbers_and_limits(service: Service, fake: FakeZaloBot) -> None:
    assert fake.calls_to("deleteWebhook") and not fake.calls_to("setWebhook")
    assert service.zalo_bot is not None and service.zalo_bot.status == "ok"
    async with aiohttp.ClientSession() as http, \
            http.get(f"http://127.0.0.1:{service.port}/healthz") as response:
        assert (await response.json())["channels"]["zalo_bot"] == "ok"
    me = citizen(service, fake)
    (greeting,) = await me.say("/start")
    assert "em chào anh/chị Nguyễn Văn An" in greeting["text"]
    assert [label for label, _ in options(greeting)] == MENU
    assert "Tra cứu hồ sơ" in greeting["text"] and "2. Tra cứu hồ sơ" in greeting["text"]
    (prompt,) = await me.say("2")
    assert "mã hồ sơ" in prompt["text"]
    await me.say("/huy")
    results = await me.say("làm căn cước")
    assert "Cấp thẻ căn cước" in texts(results)
    card = await me.choose("Từ đủ 14 tuổi trở lên")  # siblings: the age is asked
    links = [line for line in texts(card).splitlines() if line.startswith("• ")]
    assert links and "https://" in links[0]  # the official page, as a link line
    assert all(1 <= len(m["text"]) <= 2000 for m in fake.sent_messages(CHAT))


async def test_one_update_per_call_and_408_is_not_an_error(service: Service,
                                                           fake: FakeZaloBot) -> None:
    me = citizen(service, fake)
    for text in ("/start", "cảm ơn", "/trogiup"):
        fake.push_text(CHAT, text)
    await me.settle(3)
    assert len(fake.sent_messages(CHAT)) == 3 and fake.pending_updates == []
    await asyncio.sleep(0.7)  # an empty long poll ends with 408; polling goes on
    assert service.zalo_bot is not None and service.zalo_bot.status == "ok"
    assert "em chào anh/chị" in texts(await me.say("chào"))


async def test_long_texts_split_and_photos_by_url(service: Service, fake: FakeZaloBot) -> None:
    assert service.zalo_bot is not None
    chat = ChatRef("zalo_bot", CHAT)
    long_text = ("Thành phần hồ sơ gồm tờ khai và giấy tờ tùy thân. " * 40 + "\n\n") * 4
    await service.zalo_bot.send(chat, Outgoing(long_text, buttons=[[Button("Tiếp", "menu")]]))
    parts = fake.sent_messages(CHAT)
    assert len(parts) >= 4 and all(len(p["text"]) <= 2000 for p in parts)
    assert parts[-1]["text"].endswith("1. Tiếp")
    await service.zalo_bot.send(chat, Outgoing("Ảnh hiện trường",
                                               photo=Attachment("photo", url="https://x/1.jpg")))
    assert fake.sent_messages(CHAT)[-1] == {**fake.sent_messages(CHAT)[-1],
                                            "photo": "https://x/1.jpg",
                                            "caption": "Ảnh hiện trường"}
    with pytest.raises(ChannelError) as failure:
        await service.zalo_bot.send(chat, Outgoing("", photo=Attachment("photo", "tg-file-id")))
    assert failure.value.permanent


async def test_send_errors_are_mapped(service: Service, fake: FakeZaloBot) -> None:
    assert service.zalo_bot is not None
    chat = ChatRef("zalo_bot", CHAT)
    fake.fail_next("sendMessage", 429, description="Too many requests")
    with pytest.raises(ChannelError) as failure:
        await service.zalo_bot.send(chat, Outgoing("a"))
    assert failure.value.retry_after is not None and not failure.value.permanent
    fake.fail_next("sendMessage", 400, description="chat not found")
    with pytest.raises(ChannelError) as failure:
        await service.zalo_bot.send(chat, Outgoing("a"))
    assert failure.value.permanent
    fake.fail_next("sendMessage", 500, http_status=502)
    with pytest.raises(ChannelError) as failure:
        await service.zalo_bot.send(chat, Outgoing("a"))
    assert not failure.value.permanent


async def test_a_polling_failure_is_retried(service: Service, fake: FakeZaloBot) -> None:
    fake.fail_next("getUpdates", 500, count=1)
    me = citizen(service, fake)
    assert "em chào anh/chị" in texts(await me.say("/start"))


async def test_polling_waits_out_a_database_outage(service: Service, fake: FakeZaloBot,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Zalo keeps no offset for us: an update taken from getUpdates waits for the database
    however long it is down, and is answered once it is back."""
    monkeypatch.setattr("bot.channels.base.OUTAGE_RETRY", (0.05, 0.2))
    outage = DatabaseDown(service.core, attempts=8)
    me = citizen(service, fake)
    assert "em chào anh/chị" in texts(await me.say("/start"))
    assert outage.remaining == 0


# -- webhook ----------------------------------------------------------------------------------


@pytest.fixture
async def webhook_service(database_url: str, fake: FakeZaloBot) -> AsyncIterator[Service]:
    settings = make_settings(database_url, zalo_bot_token=TOKEN,
                             zalo_bot_api_base_url=fake.base_url,
                             public_base_url="https://motcua.example.gov.vn",
                             zalo_bot_webhook_secret="zalo-secret-123")
    async with Service(settings) as svc:
        yield svc


async def stored(service: Service) -> list[str]:
    async with service.db.session() as session:
        return list((await session.scalars(select(ProcessedUpdate.status))).all())


async def test_webhook_is_registered_and_checked(webhook_service: Service,
                                                 fake: FakeZaloBot) -> None:
    assert fake.webhook_url == "https://motcua.example.gov.vn/webhook/zalo-bot"
    assert fake.webhook_secret == "zalo-secret-123"
    await asyncio.sleep(0.1)
    assert not fake.calls_to("getUpdates")
    url = f"http://127.0.0.1:{webhook_service.port}/webhook/zalo-bot"
    update = fake.make_update(CHAT, "message.text.received", text="/start")
    assert await fake.deliver_webhook(update, url, secret="wrong-secret") == 403
    async with aiohttp.ClientSession() as http, http.post(url, json=update) as response:
        assert response.status == 401
    assert await stored(webhook_service) == [] and fake.sent_messages(CHAT) == []
    assert await fake.deliver_webhook(update, url) == 200
    assert await fake.deliver_webhook(update, url) == 200  # a retry: handled once
    wrapped = fake.make_update(CHAT, "message.text.received", text="cảm ơn")
    assert await fake.deliver_webhook(wrapped, url, wrapped=True) == 200
    assert await fake.deliver_webhook({"nothing": "here"}, url) == 200  # malformed
    await webhook_service.zalo_bot.pump.drain()  # type: ignore[union-attr]
    assert len(fake.sent_messages(CHAT)) == 2
    assert sorted(await stored(webhook_service)) == ["handled", "handled", "rejected"]


async def test_webhook_answers_503_when_the_database_is_gone(webhook_service: Service,
                                                             fake: FakeZaloBot,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """The database cannot be reached: every new connection fails (sessions and the core's
    own connection alike), as when the server is down or the file is gone."""
    url = f"http://127.0.0.1:{webhook_service.port}/webhook/zalo-bot"
    await webhook_service.db.engine.dispose()  # no pooled connection left to use

    def unreachable(*args: object, **kwargs: object) -> None:
        raise OSError("database is down")

    with monkeypatch.context() as patch:
        patch.setattr(webhook_service.db.engine.sync_engine.dialect, "connect", unreachable)
        update = fake.make_update(CHAT, "message.text.received", text="/start")
        assert await fake.deliver_webhook(update, url) == 503
    assert await fake.deliver_webhook(update, url) == 200
    async with webhook_service.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 1


# -- Zalo down at start -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_zalo_down_at_start_comes_up_by_itself(database_url: str, fake: FakeZaloBot,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     mode: str) -> None:
    """getMe fails at start: the service is ready, /healthz shows zalo_bot "down"; once Zalo
    answers the webhook is set (or removed, and polling starts) without a restart."""
    monkeypatch.setattr("bot.channels.zalo_bot.START_RETRY", (0.05, 0.2), raising=False)
    fake.fail_next("getMe", 500, count=3)
    webhook = {"public_base_url": "https://motcua.example.gov.vn",
               "zalo_bot_webhook_secret": "zalo-secret-123"} if mode == "webhook" else {}
    settings = make_settings(database_url, zalo_bot_token=TOKEN,
                             zalo_bot_api_base_url=fake.base_url, **webhook)
    async with Service(settings) as service:
        channel = service.zalo_bot
        assert channel is not None
        async with aiohttp.ClientSession() as http, \
                http.get(f"http://127.0.0.1:{service.port}/healthz") as response:
            assert response.status == 200
            assert (await response.json())["channels"]["zalo_bot"] == "down"
        await until(lambda: channel.status == "ok")
        if mode == "webhook":
            assert fake.webhook_url == "https://motcua.example.gov.vn/webhook/zalo-bot"
        else:
            assert fake.calls_to("deleteWebhook")
            assert "em chào anh/chị" in texts(await citizen(service, fake).say("/start"))
