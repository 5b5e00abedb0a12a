"""Item 8 of issue 13: photos from the web chat (type and size checked, stored, shown to
staff like a Telegram photo) and a typed address accepted as the location of a feedback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import Service
from bot.db import feedback as tickets
from bot.db.models import WebPhoto
from tests.conftest import make_settings
from tests.dialog import until
from tests.fakes.telegram_api import FakeTelegram
from tests.test_feedback import DESCRIPTION, STAFF, TOKEN

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
GIF = b"GIF89a" + b"\x00" * 200


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as api:
        yield api


@pytest.fixture
async def service(database_url: str, fake: FakeTelegram) -> AsyncIterator[Service]:
    settings = make_settings(database_url, telegram_bot_token=TOKEN,
                             telegram_api_base_url=fake.base_url, telegram_staff_chat_id=STAFF,
                             web_photo_max_bytes=20_000, telegram_rate_per_group_minute=600)
    svc = Service(settings)
    assert svc.staff_desk is not None
    svc.staff_desk.interval = 0.05
    async with svc:
        yield svc


@pytest.fixture
async def http(service: Service) -> AsyncIterator[aiohttp.ClientSession]:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{service.port}", cookie_jar=jar) as s:
        yield s


async def say(http: aiohttp.ClientSession, **body: str) -> str:
    async with http.post("/chat/api/messages", json=body) as response:
        assert response.status == 200
        return "\n".join(m["text"] for m in (await response.json())["messages"])


async def photo(http: aiohttp.ClientSession, data: bytes,
                content_type: str = "image/png") -> tuple[int, dict]:
    async with http.post("/chat/api/photos", data=data,
                         headers={"Content-Type": content_type}) as response:
        return response.status, await response.json()


async def stored_photos(service: Service) -> int:
    async with service.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(WebPhoto)) or 0)


async def test_a_web_photo_and_a_typed_address_reach_the_ticket_and_the_staff(
        http: aiohttp.ClientSession, service: Service, fake: FakeTelegram) -> None:
    status, _ = await photo(http, PNG)
    assert status == 409  # no conversation yet
    await say(http, text="/phananh")
    await say(http, action="fb:cat:ha_tang", label="Hạ tầng")
    extras = await say(http, text=DESCRIPTION)
    assert "bấm nút 📷" in extras and "Vị trí" not in extras  # the page has no map pin

    status, body = await photo(http, PNG)
    assert status == 200 and "đã nhận 1 ảnh" in body["messages"][0]["text"]
    for data, kind, expected in ((GIF, "image/png", 415), (PNG, "text/plain", 415),
                                 (PNG + b"\x00" * 20_000, "image/png", 413)):
        status, body = await photo(http, data, kind)
        assert status == expected and body["error"]
    assert await stored_photos(service) == 1
    assert "đã ghi địa điểm" in await say(http, text="Trước số 12 đường Hùng Vương")
    await say(http, action="fb:next", label="Tiếp tục")
    summary = await say(http, action="fb:anon", label="Ẩn danh")
    assert "Ảnh: 1 ảnh" in summary and "Địa điểm: Trước số 12 đường Hùng Vương" in summary
    assert "Em đã nhận phản ánh" in await say(http, action="fb:send", label="Gửi")
    async with http.get("/chat/api/messages?after=0") as response:
        history = [m["text"] for m in (await response.json())["messages"] if m["from"] == "user"]
    assert "(Ảnh đính kèm)" in history

    async with service.db.session() as session:
        ticket = (await session.scalars(select(tickets.Ticket))).one()
        (first,) = await tickets.find_messages(session, ticket.id)
    assert "Địa điểm (người dân ghi): Trước số 12 đường Hùng Vương" in ticket.description
    assert [(a["channel"], a["file_id"].startswith("web:")) for a in first.attachments] == [
        ("web", True)]
    await until(lambda: any(m.get("photo") for m in fake.sent_messages(STAFF)))
    shown = next(m for m in fake.sent_messages(STAFF) if m.get("photo"))
    assert shown["photo"][0]["file_size"] == len(PNG)  # the citizen's bytes, uploaded
    assert shown["caption"] == ticket.code
