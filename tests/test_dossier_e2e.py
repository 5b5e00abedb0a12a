"""End to end: the one-stop system PUTs a dossier and posts events over HTTP; a citizen on
Telegram (the real python-telegram-bot client against the fake Bot API) checks it, subscribes,
and gets exactly one message per event — the apology letter for a delay."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from bot.app import Service
from bot.db.models import OutboxMessage
from tests.conftest import make_settings
from tests.fakes.telegram_api import FakeTelegram

BOT_TOKEN = "123456:TEST-token-for-the-fake-api_abcdefghij"
INGEST = "ingest-Token_0123456789abcdef"
AUTH = {"Authorization": f"Bearer {INGEST}"}
CODE = "000.00.01.H29-260105-0001"
CITIZEN = 5551
STAFF_GROUP = -100555


def keyboard(message: dict[str, Any]) -> list[tuple[str, str]]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


async def sent(fake: FakeTelegram, count: int = 1, since: int = 0) -> list[dict[str, Any]]:
    """Wait for `count` more successful sends to the citizen; return all they have seen."""
    await fake.wait_for(lambda c: c.method in ("sendMessage", "sendDocument") and c.ok
                        and str(c.chat_id) == str(CITIZEN), count=count, since=since,
                        timeout=15)
    return fake.sent_messages(CITIZEN)


async def download(fake: FakeTelegram, file_id: str) -> bytes:
    """A file the bot sent, fetched as a client would (getFile, then the file URL)."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{fake.base_url}{BOT_TOKEN}/getFile",
                            params={"file_id": file_id}) as response:
            path = (await response.json())["result"]["file_path"]
        async with http.get(f"{fake.base_file_url}{BOT_TOKEN}/{path}") as response:
            return await response.read()


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """Without the 1 message/s per chat limit (pacing has its own tests), so this runs in a
    couple of seconds rather than one second per message."""
    async with FakeTelegram(limit_per_chat_per_s=None) as api:
        yield api


@pytest.fixture
async def service(database_url: str, fake: FakeTelegram) -> AsyncIterator[Service]:
    settings = make_settings(database_url, telegram_bot_token=BOT_TOKEN,
                             telegram_api_base_url=fake.base_url, ingest_api_token=INGEST,
                             telegram_staff_chat_id=STAFF_GROUP, telegram_rate_per_chat=50.0)
    async with Service(settings) as running:
        yield running


async def ingest(service: Service, method: str, path: str, body: dict[str, Any]) -> int:
    url = f"http://127.0.0.1:{service.port}/api/v1/dossiers/{path}"
    async with aiohttp.ClientSession() as http, http.request(method, url, json=body,
                                                             headers=AUTH) as response:
        return response.status


DOSSIER = {
    "procedure_code": "1.000894", "applicant_name": "Nguyễn Văn An", "phone": "0912345678",
    "received_at": "2026-01-05T09:00:00+07:00", "due_at": "2026-01-20T17:00:00+07:00",
    "status": "received",
}


async def test_put_check_subscribe_event_once_and_the_apology(service: Service,
                                                              fake: FakeTelegram) -> None:
    assert await ingest(service, "PUT", CODE, DOSSIER) == 201

    fake.push_message(CITIZEN, f"/hoso {CODE.lower()}")
    messages = await sent(fake)
    assert "4 số cuối" in messages[-1]["text"]

    since = len(fake.calls)
    fake.push_message(CITIZEN, "5678")
    card = (await sent(fake, since=since))[-1]
    assert f"thông tin hồ sơ {CODE}" in card["text"]
    assert "Đăng ký kết hôn" in card["text"] and "Mới tiếp nhận" in card["text"]
    assert "Nguyễn V. A." in card["text"] and "0912345678" not in card["text"]
    label, data = keyboard(card)[0]
    assert label == "Nhận thông báo khi hồ sơ thay đổi"

    since = len(fake.calls)
    fake.push_callback(CITIZEN, data)
    confirmed = (await sent(fake, since=since))[-1]
    assert "em sẽ nhắn anh/chị" in confirmed["text"]

    event = {"status": "processing", "at": "2026-01-06T08:00:00+07:00",
             "note": "Đã chuyển phòng Tư pháp"}
    since = len(fake.calls)
    assert await ingest(service, "POST", f"{CODE}/events", event) == 201
    notice = (await sent(fake, since=since))[-1]
    assert f"hồ sơ {CODE} (Đăng ký kết hôn) vừa được cập nhật: Đang xử lý" in notice["text"]
    assert "Đã chuyển phòng Tư pháp" in notice["text"]
    assert [label for label, _ in keyboard(notice)] == ["Xem chi tiết hồ sơ",
                                                        "Hủy nhận thông báo"]

    assert await ingest(service, "POST", f"{CODE}/events", event) == 200  # sent again

    delay = {"status": "delayed", "at": "2026-01-19T15:00:00+07:00",
             "new_due_at": "2026-01-27T17:00:00+07:00",
             "reason": "Cần xác minh thêm thông tin hộ tịch tại nơi cư trú trước đây."}
    since = len(fake.calls)
    assert await ingest(service, "POST", f"{CODE}/events", delay) == 201
    messages = await sent(fake, since=since)
    slip = messages[-1]  # the slip as a PDF file, its text as the caption
    apology = slip.get("caption") or slip["text"]
    assert slip["document"]["file_name"] == "phieu-xin-loi-va-hen-lai.pdf"
    printed = await download(fake, slip["document"]["file_id"])
    assert printed.startswith(b"%PDF-")
    shown = " ".join(PdfReader(io.BytesIO(printed)).pages[0].extract_text().split())
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in shown
    assert "vào 17 giờ 00, thứ Ba, ngày 27/01/2026" in shown and "Nguyễn" not in shown
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in apology
    assert "vào 17 giờ 00, thứ Ba, ngày 27/01/2026." in apology
    assert "Cần xác minh thêm thông tin hộ tịch" in apology
    assert "hẹn trả kết quả là 17 giờ 00, thứ Ba, ngày 20/01/2026" in apology
    assert "Nguyễn" not in apology  # the chat copy names nobody

    # exactly one message per event: the duplicate event sent nothing
    texts = [m.get("text") or m.get("caption") or "" for m in messages]
    assert sum("vừa được cập nhật" in t for t in texts) == 1
    assert sum("PHIẾU XIN LỖI" in t for t in texts) == 1
    async with service.db.session() as session:
        rows = list(await session.scalars(select(OutboxMessage).where(
            OutboxMessage.purpose == "dossier_status")))
    assert len(rows) == 2  # one row per event and subscriber

    # the notification's button reopens the card with the new date
    since = len(fake.calls)
    fake.push_callback(CITIZEN, keyboard(messages[-1])[0][1])
    card = (await sent(fake, since=since))[-1]["text"]
    assert "(đã hẹn lại)" in card and "Đang xử lý (đã hẹn lại ngày trả)" in card

    # "Hủy nhận thông báo" stops them
    since = len(fake.calls)
    fake.push_callback(CITIZEN, keyboard(messages[-1])[1][1])
    assert "đã dừng gửi thông báo" in (await sent(fake, since=since))[-1]["text"]
    assert await ingest(service, "POST", f"{CODE}/events",
                        {"status": "result_ready", "at": "2026-01-26T10:00:00+07:00"}) == 201
    async with service.db.session() as session:
        rows = list(await session.scalars(select(OutboxMessage).where(
            OutboxMessage.purpose == "dossier_status")))
    assert len(rows) == 2


async def test_staff_group_sees_the_status_without_digits(service: Service,
                                                         fake: FakeTelegram) -> None:
    assert await ingest(service, "PUT", CODE, DOSSIER) == 201
    fake.push_message(STAFF_GROUP, f"/hoso {CODE}", user_id=777)
    await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, timeout=10)
    card = fake.sent_messages(STAFF_GROUP)[-1]["text"]
    assert f"thông tin hồ sơ {CODE}" in card and "Tra cứu nội bộ" in card
    assert "0912345678" not in card and "Nguyễn Văn An" not in card

    fake.push_message(-100999, f"/hoso {CODE}", user_id=778)  # any other group
    await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, count=2, timeout=10)
    assert "nhắn riêng" in fake.sent_messages(-100999)[-1]["text"]
