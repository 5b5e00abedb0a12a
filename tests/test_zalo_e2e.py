"""A Zalo citizen's whole journey, on the Official Account and on the Zalo Bot, with the real
service, the fake Zalo servers and the fake Telegram staff group (forum topics): search a
procedure and open its documents, check a dossier, file feedback with a photo (the photo reaches
the staff group), and receive the staff member's reply written in the Telegram topic."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.app import Service
from bot.db import dossiers as repo
from bot.db.dossiers import DossierFields
from tests.conftest import make_settings
from tests.dialog import until
from tests.fakes import zalo_bot_api, zalo_oa_api
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_bot_api import BotCitizen, FakeZaloBot
from tests.fakes.zalo_oa_api import FakeZaloOA, OACitizen

TOKEN = "123456:TEST-token-for-the-fake-api_abcdefghij"
BOT_TOKEN = "3141592653:zalo-bot-secret-part"
STAFF = -1001234567
CODE = "000.00.01.H29-260305-0001"
DESCRIPTION = "Đèn đường trước nhà văn hoá thôn Đông bị hỏng hai tuần nay, tối rất nguy hiểm."
PHOTO = "https://photo-talk.zadn.vn/fake/den-duong.jpg"


@dataclass
class World:
    service: Service
    telegram: FakeTelegram
    oa: FakeZaloOA
    bot: FakeZaloBot


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    async with FakeTelegram(limit_per_chat_per_s=None, limit_per_group_per_min=None) as tg, \
            FakeZaloOA() as oa, FakeZaloBot(token=BOT_TOKEN, max_poll_wait=1.0) as bot:
        tg.add_chat(STAFF, "supergroup", title="Tổ phản ánh", is_forum=True)
        settings = make_settings(
            database_url, telegram_bot_token=TOKEN, telegram_api_base_url=tg.base_url,
            telegram_staff_chat_id=STAFF, telegram_rate_per_chat=20,
            telegram_rate_per_group_minute=600, zalo_bot_token=BOT_TOKEN,
            zalo_bot_api_base_url=bot.base_url, zalo_oa_rate_per_chat=20,
            zalo_bot_rate_per_chat=20, **oa.settings())
        service = Service(settings)
        assert service.staff_desk is not None
        service.staff_desk.interval = 0.05
        async with service:
            async with service.db.session() as session:
                await repo.upsert_dossier(session, DossierFields(
                    code=CODE, procedure_code="1.000894", procedure_name="Đăng ký kết hôn",
                    applicant_name="Nguyễn Văn An", phone="0912345678",
                    received_at=datetime(2026, 3, 5, 2, 0, tzinfo=UTC),
                    due_at=datetime(2036, 3, 18, 10, 0, tzinfo=UTC)), datetime.now(UTC))
            yield World(service, tg, oa, bot)


class Citizen:
    """The same moves on either Zalo channel; `inbox()` is what the citizen has received."""

    def __init__(self, world: World, channel: str) -> None:
        self.channel = channel
        service = world.service
        if channel == "zalo_oa":
            assert service.zalo_oa is not None
            url = f"http://127.0.0.1:{service.port}/webhook/zalo-oa"
            self.user: Any = OACitizen(world.oa, url, "oa-citizen-1",
                                       service.zalo_oa.pump.drain)
            self.inbox: Callable[[], list[dict[str, Any]]] = \
                lambda: world.oa.sent_to("oa-citizen-1")
            self.texts: Callable[[list[dict[str, Any]]], str] = zalo_oa_api.texts
        else:
            channel_ = service.zalo_bot
            assert channel_ is not None

            async def settle(count: int) -> None:
                target = channel_.handled + count
                await until(lambda: channel_.handled >= target)
                await channel_.pump.drain()

            self.user = BotCitizen(world.bot, "e4ea2cd5189df1c3a88c", settle)
            self.inbox = lambda: world.bot.sent_messages("e4ea2cd5189df1c3a88c")
            self.texts = zalo_bot_api.texts

    async def say(self, text: str) -> str:
        return self.texts(await self.user.say(text))

    async def choose(self, label: str) -> str:
        return self.texts(await self.user.choose(label))

    async def photo(self, url: str) -> str:
        return self.texts(await self.user.photo(url))


@pytest.mark.parametrize("channel", ["zalo_oa", "zalo_bot"])
async def test_a_zalo_citizens_journey(world: World, channel: str) -> None:
    me = Citizen(world, channel)
    tg = world.telegram

    # a procedure, then its documents
    results = await me.say("làm căn cước")
    assert "Cấp thẻ căn cước" in results
    card = await me.choose("Từ đủ 14 tuổi trở lên")  # siblings: the age is asked
    assert "Cấp thẻ căn cước cho người từ đủ 14 tuổi trở lên" in card
    documents = await me.choose("Hồ sơ cần chuẩn bị")
    assert "Hồ sơ" in documents or "hồ sơ" in documents
    assert all(len(m.get("text") or m.get("caption") or "") <= 2000 for m in me.inbox())

    # a dossier, with the second factor
    assert "mã hồ sơ" in await me.say("/hoso")
    assert "4 số cuối" in await me.say(CODE)
    status = await me.say("5678")
    assert CODE in status and "Mới tiếp nhận" in status and "0912345678" not in status

    # feedback with a photo
    assert "lĩnh vực" in await me.say("/phananh")
    assert "mô tả nội dung" in await me.choose("Hạ tầng, môi trường")
    await me.say(DESCRIPTION)
    assert "đã nhận 1 ảnh" in await me.photo(PHOTO)
    assert "xã, phường nào" in await me.choose("Tiếp tục")
    assert "ẩn danh" in await me.say("phường Âu Lâu")
    summary = await me.choose("Gửi ẩn danh")
    assert "kiểm tra lại phản ánh" in summary and "Xã, phường: Phường Âu Lâu" in summary
    assert "Em đã nhận phản ánh" in await me.choose("Gửi phản ánh")

    # the staff group: a topic, the card, and the citizen's photo (by URL)
    await tg.wait_for("createForumTopic", timeout=10)
    await until(lambda: any(m.get("photo") for m in tg.sent_messages(STAFF)))
    thread_id = tg.sent_messages(STAFF)[0]["message_thread_id"]
    assert DESCRIPTION in tg.sent_messages(STAFF)[0]["text"]
    (photo_call,) = [c for c in tg.calls_to("sendPhoto", ok=True)]
    assert photo_call.params["photo"] == PHOTO

    # a staff member answers in the topic -> the citizen gets it on Zalo
    before = len(me.inbox())
    tg.push_message(STAFF, "Chào anh/chị, tổ điện sẽ thay bóng đèn trong tuần này.",
                    user_id=777, first_name="Cán bộ Hà", message_thread_id=thread_id)
    await until(lambda: any("tổ điện sẽ thay bóng đèn" in (m.get("text") or "")
                            for m in me.inbox()[before:]))
    reply = next(m for m in me.inbox()[before:] if "tổ điện" in (m.get("text") or ""))
    assert "đã trả lời phản ánh" in reply["text"]
    await until(lambda: "Đã gửi cho người dân" in (tg.sent_messages(STAFF)[-1].get("text")
                                                    or ""))

    # and the citizen can answer back from Zalo, into the same topic
    await me.choose("Trả lời cán bộ")
    await me.say("Cảm ơn cán bộ, nhờ thay sớm giúp ạ.")
    await until(lambda: any("nhờ thay sớm" in (m.get("text") or "")
                            for m in tg.sent_messages(STAFF)
                            if m.get("message_thread_id") == thread_id))


