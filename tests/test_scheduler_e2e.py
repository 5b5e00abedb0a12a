"""End to end with the Service and the fake Bot API (delays 0, no quiet hours): a citizen
subscribes to their dossiers on Telegram and agrees to letters and surveys; a marriage
dossier's `returned` event brings one congratulation; a death brings one condolence and no
survey; a survey answered "Không hài lòng" becomes a ticket in the staff group."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bot.app import Service
from tests.conftest import make_settings
from tests.dialog import until
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:TEST-token-for-the-fake-api_abcdefghij"
INGEST = "ingest-Token_0123456789abcdef"
CITIZEN = 6161
STAFF = -1006161


def buttons(message: dict[str, Any]) -> dict[str, str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return {b["text"]: b.get("callback_data", "") for row in rows for b in row}


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(limit_per_chat_per_s=None, limit_per_group_per_min=None) as api:
        api.add_chat(STAFF, "supergroup", title="Tổ một cửa", is_forum=False)
        yield api


@pytest.fixture
async def service(database_url: str, fake: FakeTelegram) -> AsyncIterator[Service]:
    settings = make_settings(
        database_url, telegram_bot_token=TOKEN, telegram_api_base_url=fake.base_url,
        ingest_api_token=INGEST, telegram_staff_chat_id=STAFF, telegram_rate_per_chat=50,
        telegram_rate_per_group_minute=600, congratulation_delay_minutes=0,
        condolence_delay_minutes=0, survey_delay_minutes=0, scheduler_interval_seconds=0.1,
        quiet_hours="")
    svc = Service(settings)
    assert svc.staff_desk is not None and svc.scheduler is not None
    svc.staff_desk.interval = 0.05
    async with svc:
        yield svc


class Citizen:
    def __init__(self, service: Service, fake: FakeTelegram) -> None:
        self.service = service
        self.fake = fake

    def messages(self) -> list[dict[str, Any]]:
        """What the citizen sees; a file's caption as its text."""
        return [{**m, "text": m.get("text") or m.get("caption") or ""}
                for m in self.fake.sent_messages(CITIZEN)]

    async def next(self, action: Callable[[], object]) -> dict[str, Any]:
        count = len(self.messages())
        action()
        await until(lambda: len(self.messages()) > count)
        return self.messages()[-1]

    async def say(self, text: str) -> dict[str, Any]:
        return await self.next(lambda: self.fake.push_message(CITIZEN, text))

    async def press(self, data: str) -> dict[str, Any]:
        return await self.next(lambda: self.fake.push_callback(CITIZEN, data))

    async def ingest(self, method: str, path: str, body: dict[str, Any]) -> int:
        url = f"http://127.0.0.1:{self.service.port}/api/v1/dossiers/{path}"
        async with aiohttp.ClientSession() as http, http.request(
                method, url, json=body, headers={"Authorization": f"Bearer {INGEST}"}) as resp:
            return resp.status

    async def dossier(self, code: str, procedure: str, *, consent: str | None) -> None:
        """The one-stop system sends the dossier; the citizen checks it and subscribes."""
        now = datetime.now(UTC)
        assert await self.ingest("PUT", code, {
            "procedure_code": procedure, "applicant_name": "Nguyễn Văn An",
            "phone": "0912345678", "received_at": (now - timedelta(days=1)).isoformat(),
            "due_at": (now + timedelta(days=5)).isoformat(), "status": "processing"}) == 201
        await self.say(f"/hoso {code}")
        card = await self.say("5678")
        confirmed = await self.press(buttons(card)["Nhận thông báo khi hồ sơ thay đổi"])
        assert "em sẽ nhắn anh/chị" in confirmed["text"]
        if consent is not None:
            assert "Thư chúc mừng" in confirmed["text"]  # asked once, nothing pre-selected
            answer = await self.press(buttons(confirmed)[consent])
            assert "em đã ghi nhận" in answer["text"]
        else:
            assert "Nhận cả thư và khảo sát" not in buttons(confirmed)  # not asked again

    async def returned(self, code: str) -> None:
        at = datetime.now(UTC).isoformat()
        assert await self.ingest("POST", f"{code}/events", {"status": "returned", "at": at}) \
            == 201


def count(messages: list[dict[str, Any]], title: str) -> int:
    return sum(1 for m in messages if title in (m.get("text") or "").splitlines())


async def test_congratulation_condolence_and_an_unhappy_survey(service: Service,
                                                              fake: FakeTelegram) -> None:
    citizen = Citizen(service, fake)
    await citizen.dossier("KH-260105-0001", "1.000894", consent="Nhận cả thư và khảo sát")
    await citizen.returned("KH-260105-0001")
    await until(lambda: count(citizen.messages(), "THƯ CHÚC MỪNG") == 1
                and any("cho biết mức độ hài lòng" in (m.get("text") or "")
                        for m in citizen.messages()))
    letter = next(m for m in citizen.messages() if "THƯ CHÚC MỪNG" in m["text"])
    assert "đăng ký kết hôn" in letter["text"] and "reply_markup" not in letter
    assert letter["document"]["file_name"] == "thu-chuc-mung.pdf"  # printable, as a file
    survey = next(m for m in citizen.messages()
                  if "cho biết mức độ hài lòng" in (m.get("text") or ""))
    assert list(buttons(survey)) == ["Rất hài lòng", "Hài lòng", "Không hài lòng"]

    # a death registered in the family: one condolence, nothing else about that dossier
    before = len(citizen.messages())
    await citizen.dossier("KT-260105-0002", "1.000656", consent=None)
    await citizen.returned("KT-260105-0002")
    await until(lambda: count(citizen.messages(), "THƯ CHIA BUỒN") == 1)
    await asyncio.sleep(1.0)  # several scheduler rounds: nothing more comes
    later = citizen.messages()[before:]
    condolence = next(m for m in later if "THƯ CHIA BUỒN" in m["text"])
    assert "reply_markup" not in condolence and "hài lòng" not in condolence["text"]
    assert condolence["document"]["file_name"] == "thu-chia-buon.pdf"
    assert not any("cho biết mức độ hài lòng" in (m.get("text") or "") for m in later)
    assert count(citizen.messages(), "THƯ CHÚC MỪNG") == 1

    # "Không hài lòng" on the marriage survey: a ticket reaches the staff group
    reply = await citizen.press(buttons(survey)["Không hài lòng"])
    assert "xin lỗi" in reply["text"] and "PA-" in reply["text"]
    code = reply["text"].split("mã ")[1].split(";")[0]
    await until(lambda: any(code in (m.get("text") or "") for m in fake.sent_messages(STAFF)))
    card = next(m for m in fake.sent_messages(STAFF) if code in (m.get("text") or ""))
    assert "Không hài lòng" in card["text"] and "KH-260105-0001" in card["text"]
    # a comment reaches the same ticket
    await citizen.press(buttons(reply)["Góp ý thêm"])
    await citizen.say("Chờ lâu quá, cán bộ không hướng dẫn rõ.")
    await until(lambda: any("Chờ lâu quá" in (m.get("text") or "")
                            for m in fake.sent_messages(STAFF)))


async def test_stats_chart_is_uploaded_to_the_staff_group(service: Service,
                                                         fake: FakeTelegram) -> None:
    fake.push_message(STAFF, "/thongke", user_id=777)
    await fake.wait_for(lambda c: c.method == "sendPhoto" and c.ok, timeout=30)
    texts = [m.get("text") or "" for m in fake.sent_messages(STAFF)]
    assert any(t.startswith("THỐNG KÊ MỨC ĐỘ HÀI LÒNG") for t in texts)
    photo = next(m for m in fake.sent_messages(STAFF) if m.get("photo"))
    assert photo["caption"].startswith("Biểu đồ đến")
