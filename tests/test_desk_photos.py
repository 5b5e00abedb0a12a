"""Photos on the web desk's ticket page: what the citizen sent from the web chat is shown
(served under /staff, only to accounts serving the ticket's commune, with the stored type and
`nosniff`); a Telegram photo, whose bytes stay with Telegram, keeps its note."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.app import Service
from bot.config import Settings
from bot.db import feedback as tickets
from tests.test_desk import (
    START,
    Clock,
    add_web_photo,
    browser,
    chat,
    new_ticket,
    signed_in,
    staffed,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
TELEGRAM_NOTE = "ảnh gửi qua Telegram xem trong nhóm cán bộ"


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[Service]:
    async with staffed(settings, Clock()) as svc:
        yield svc


async def test_a_photo_from_the_web_chat_is_shown_on_the_ticket_page(service: Service) -> None:
    async with browser(service) as citizen:
        await chat(citizen, text="/phananh")
        await chat(citizen, action="fb:cat:ha_tang")
        await chat(citizen, text="Ống cống trước chợ bị vỡ, nước tràn ra đường mỗi khi mưa")
        async with citizen.post("/chat/api/photos", data=PNG,
                                headers={"Content-Type": "image/png"}) as response:
            assert response.status == 200
        await chat(citizen, action="fb:next")
        await chat(citizen, action="fb:anon")
        await chat(citizen, action="fb:send")
    async with service.db.session() as session:
        (ticket,) = list(await session.scalars(select(tickets.Ticket)))
        ticket.commune_code = "4543"  # as if the citizen had named it
        code = ticket.code
    async with await signed_in(service, "canbo_a") as officer:
        async with officer.get(f"/staff/tickets/{code}") as response:
            page = html.unescape(await response.text())
        (src,) = set(re.findall(r'<img src="([^"]+)"', page))
        assert src.startswith(f"/staff/tickets/{code}/photos/")
        assert TELEGRAM_NOTE not in page and "1 ảnh đính kèm" in page
        async with officer.get(src) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "image/png"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert await response.read() == PNG
    async with await signed_in(service, "canbo_b") as other_commune:
        async with other_commune.get(src) as response:
            assert response.status == 403 and PNG not in await response.read()


async def test_a_photo_is_served_only_through_its_own_ticket(service: Service) -> None:
    mine = await new_ticket(service, "4543", "Đèn đường ở thôn Một bị hỏng đã lâu")
    elsewhere = await new_ticket(service, "4544", "Rác thải ở chợ Hai không được thu gom")
    foreign = await add_web_photo(service, elsewhere, PNG)
    own = await add_web_photo(service, mine, PNG)
    async with await signed_in(service, "canbo_a") as officer:
        async with officer.get(f"/staff/tickets/{mine}/photos/{foreign}") as response:
            assert response.status == 404 and PNG not in await response.read()
        async with officer.get(f"/staff/tickets/{mine}/photos/{own + 1000}") as response:
            assert response.status == 404
        async with officer.get(f"/staff/tickets/{mine}/photos/{own}") as response:
            assert response.status == 200 and await response.read() == PNG


async def test_a_telegram_photo_keeps_its_note(service: Service) -> None:
    code = await new_ticket(service, "4543", "Đèn đường ở thôn Một bị hỏng đã lâu")
    await add_web_photo(service, code, PNG)
    async with service.db.session() as session:
        ticket = await tickets.get_ticket(session, code)
        assert ticket is not None
        await tickets.add_message(session, ticket, "citizen", "Ảnh thêm", now=START,
                                  attachments=[{"channel": "telegram", "file_id": "AgACAgUAAx"}])
    async with await signed_in(service, "canbo_a") as officer:
        async with officer.get(f"/staff/tickets/{code}") as response:
            page = html.unescape(await response.text())
    assert page.count(TELEGRAM_NOTE) == 1 and page.count("<img ") == 1
    assert page.index("<img ") < page.index(TELEGRAM_NOTE)
