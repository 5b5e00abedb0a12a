"""The staff desk in a real browser (Chromium at 390 px, a phone's width): an officer signs
in, finds the citizen's ticket in the inbox, replies; the citizen sees the reply in the web
chat page; the officer closes the ticket and the citizen rates the handling. Also the web
chat's photo on the ticket page, the dossier search and the statistics, none wider than the
phone."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.app import Service
from bot.config import Settings
from bot.db import dossiers as dossier_repo
from bot.db import feedback as tickets
from bot.db import scheduler as store
from bot.desk import accounts

PASSWORD = "mật khẩu đủ dài 2026"
PHONE = {"width": 390, "height": 844}
WAIT = 30_000  # ms the page may take to show something (the chat polls every 4 s)


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[Service]:
    async with Service(settings) as svc:
        now = datetime.now(UTC)
        async with svc.db.session() as session:
            await accounts.add_account(session, "canbo_a", "officer", ["4543"], PASSWORD, now)
            await dossier_repo.upsert_dossier(session, dossier_repo.DossierFields(
                code="000.00.12.H12-261202-0001", procedure_code="1.000894",
                procedure_name="Đăng ký kết hôn", applicant_name="Nguyễn Văn An",
                phone="0912345678", received_at=now, due_at=now, commune_code="4543"), now)
        yield svc


async def no_sideways_scroll(page: Any) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide on a 390 px phone"


async def say(page: Any, text: str, then: str) -> None:
    """Type `text` in the chat and wait until the page shows `then`."""
    await page.fill("#input", text)
    await page.press("#input", "Enter")
    await page.get_by_text(then).last.wait_for(timeout=WAIT)


async def press(page: Any, label: str, then: str) -> None:
    """Press the latest button labelled exactly `label`; wait until the page shows `then`."""
    await page.get_by_role("button", name=label, exact=True).last.click()
    await page.get_by_text(then).last.wait_for(timeout=WAIT)


async def test_login_inbox_reply_close_and_rating_round_trip(service: Service, browser: Any,
                                                              tmp_path: Any) -> None:
    base = f"http://127.0.0.1:{service.port}"
    citizen = await (await browser.new_context(viewport=PHONE)).new_page()
    await citizen.goto(base + "/")
    await say(citizen, "/phananh", "muốn phản ánh, kiến nghị về việc gì")
    await press(citizen, "Thủ tục hành chính", "mô tả nội dung phản ánh")
    await say(citizen, "Hồ sơ kết hôn của tôi đã quá hạn mà chưa được trả kết quả",
              "Xong, anh/chị bấm")
    await say(citizen, "000.00.12.H12-261202-0001", "em đã ghi mã hồ sơ")
    await press(citizen, "Tiếp tục", "để lại họ tên và số điện thoại")
    await press(citizen, "Gửi ẩn danh", "kiểm tra lại phản ánh trước khi gửi")
    await press(citizen, "Gửi phản ánh", "Em đã nhận phản ánh")
    received = citizen.get_by_text("Em đã nhận phản ánh")
    await received.wait_for(timeout=WAIT)
    code = re.search(r"PA-\d{4}-\d{4}", await received.inner_text())
    assert code is not None
    code_text = code.group(0)

    officer = await (await browser.new_context(viewport=PHONE)).new_page()
    await officer.goto(base + "/staff")
    assert officer.url.endswith("/staff/login")
    await officer.fill("#username", "canbo_a")
    await officer.fill("#password", PASSWORD)
    await officer.get_by_role("button", name="Đăng nhập").click()
    await officer.get_by_role("heading", name="Phản ánh, kiến nghị").wait_for()
    await no_sideways_scroll(officer)
    if os.environ.get("MOTCUA_DESK_SCREENSHOT"):
        await officer.screenshot(path=os.environ["MOTCUA_DESK_SCREENSHOT"], full_page=True)
    await officer.get_by_role("link", name=code_text).click()
    await officer.get_by_role("heading", name=code_text).wait_for()
    await no_sideways_scroll(officer)
    await officer.fill("#reply", "Hồ sơ sẽ có kết quả vào sáng thứ Sáu.")
    await officer.get_by_role("button", name="Gửi trả lời").click()
    await officer.get_by_text("Đã gửi trả lời cho người dân").wait_for()

    await citizen.get_by_text("Hồ sơ sẽ có kết quả vào sáng thứ Sáu").wait_for(timeout=WAIT)

    await officer.select_option("#outcome", "resolved")
    await officer.fill("#resolution", "Đã trả kết quả hồ sơ ngày 04/12.")
    await officer.get_by_role("button", name="Đóng phản ánh").click()
    await officer.get_by_text("Đã đóng phản ánh").first.wait_for()

    await citizen.get_by_text("Đã trả kết quả hồ sơ ngày 04/12").wait_for(timeout=WAIT)
    await press(citizen, "Rất hài lòng", "cảm ơn anh/chị đã đánh giá")
    async with service.db.session() as session:
        ticket = await tickets.get_ticket(session, code_text)
        assert ticket is not None
        assert (ticket.status, ticket.rating, ticket.commune_code) == (tickets.CLOSED, 3, "4543")
    await officer.reload()
    assert "3/3" in await officer.inner_text("dl.facts")


async def sign_in(browser: Any, base: str, username: str) -> Any:
    page = await (await browser.new_context(viewport=PHONE)).new_page()
    await page.goto(base + "/staff/login")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.get_by_role("button", name="Đăng nhập").click()
    await page.get_by_role("heading", name="Phản ánh, kiến nghị").wait_for()
    return page


async def test_a_message_typed_while_the_bot_answers_is_sent_after_it(service: Service,
                                                                    browser: Any) -> None:
    """Enter pressed while the greeting is on its way is not lost: the text is sent once the
    greeting has come."""
    page = await (await browser.new_context(viewport=PHONE)).new_page()
    held: list[Any] = []

    async def hold_the_greeting(route: Any) -> None:
        if route.request.method == "POST" and not held:
            held.append(route)  # answered below, once the citizen has pressed Enter
            return
        await route.continue_()

    await page.route("**/chat/api/messages*", hold_the_greeting)
    await page.goto(f"http://127.0.0.1:{service.port}/")
    for _ in range(200):
        if held:
            break
        await asyncio.sleep(0.05)
    assert held, "the page sent no greeting"
    await page.fill("#input", "/phananh")
    await page.press("#input", "Enter")
    await held[0].continue_()
    await page.get_by_text("muốn phản ánh, kiến nghị về việc gì").last.wait_for(timeout=WAIT)
    assert await page.input_value("#input") == ""


async def test_a_notice_written_by_one_account_is_approved_by_another(
        service: Service, browser: Any) -> None:
    base = f"http://127.0.0.1:{service.port}"
    async with service.db.session() as session:
        await accounts.add_account(session, "lanhdao_a", "leader", ["4543"], PASSWORD,
                                   datetime.now(UTC))
    officer = await sign_in(browser, base, "canbo_a")
    await officer.get_by_role("link", name="Thông báo").click()
    await officer.fill("#notice-text", "Sáng thứ Bảy xã tổ chức tiêm chủng tại nhà văn hóa.")
    await officer.locator("input[name=commune][value='4543']").check()
    await officer.get_by_role("button", name="Tạo thông báo").click()
    await officer.get_by_text("chờ một người khác duyệt").wait_for()
    await no_sideways_scroll(officer)
    assert await officer.get_by_role("button", name="Duyệt").count() == 0

    leader = await sign_in(browser, base, "lanhdao_a")
    await leader.get_by_role("link", name="Thông báo").click()
    await leader.get_by_text("Sáng thứ Bảy xã tổ chức tiêm chủng").wait_for()
    await leader.get_by_role("button", name="Duyệt", exact=True).click()
    await leader.get_by_text("đã được duyệt").wait_for()
    await leader.get_by_role("link", name="Thống kê").click()
    await leader.get_by_role("heading", name="Thống kê phản ánh").wait_for()
    await no_sideways_scroll(leader)


def tiny_png() -> bytes:
    """A real 2 × 2 PNG (the browser decodes it)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xc8\x10\x2e" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


async def test_photos_dossier_search_and_statistics_on_a_phone(service: Service,
                                                               browser: Any) -> None:
    from bot.db.models import WebPhoto

    base, now = f"http://127.0.0.1:{service.port}", datetime.now(UTC)
    async with service.db.session() as session:
        await accounts.add_account(session, "lanhdao_a", "leader", ["4543"], PASSWORD, now)
        ticket = tickets.Ticket(channel="web", chat_id="w-1", category="ha_tang",
                                description="Ống cống trước chợ bị vỡ", commune_code="4543",
                                status=tickets.OPEN, created_at=now, due_at=now)
        await tickets.add_ticket(session, ticket, now)
        photo = WebPhoto(chat_id="w-1", content_type="image/png", data=tiny_png(),
                         created_at=now)
        session.add(photo)
        await session.flush()
        await tickets.add_message(session, ticket, "citizen", "Ống cống trước chợ bị vỡ",
                                  now=now, attachments=[{"channel": "web",
                                                         "file_id": f"web:{photo.id}"}])
        code = ticket.code
        session.add(store.Survey(channel="web", subject="ticket", subject_id=str(ticket.id),
                                 scale=3, overall=3, created_at=now, aspects={
                                     "access": 3, "procedure": 2, "civil_servants": 3,
                                     "result": 1, "feedback": 2}))
    officer = await sign_in(browser, base, "canbo_a")
    await officer.get_by_role("link", name=code).click()
    image = officer.get_by_role("img", name="Ảnh người dân gửi 1")
    await image.wait_for()
    assert await image.evaluate("img => img.complete && img.naturalWidth") == 2
    await no_sideways_scroll(officer)

    await officer.get_by_role("link", name="Hồ sơ").click()
    await officer.fill("#code", "000.00.12.H12-261202-0001")
    await officer.get_by_role("button", name="Tra cứu").click()
    await officer.get_by_text("Nguyễn V. A.").wait_for()
    await no_sideways_scroll(officer)

    leader = await sign_in(browser, base, "lanhdao_a")
    await leader.get_by_role("link", name="Thống kê").click()
    await leader.get_by_role("heading", name="Mức độ hài lòng theo khía cạnh (SIPAS), theo tháng"
                             ).wait_for()
    await leader.get_by_role("cell", name="Cả kỳ").wait_for()
    await no_sideways_scroll(leader)
