"""Dossier search on the web desk: found only within the account's communes (another
commune's dossier answers as a missing code does), shown masked as the chat shows it, every
look-up in the audit log, and the printable letter of a dossier as a PDF."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from urllib.parse import quote

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import Service
from bot.config import Settings
from bot.db.models import AuditLog
from tests.test_desk import Clock, new_dossier, signed_in, staffed

OURS, THEIRS, MISSING = "000.00.12.H12-261202-0001", "000.00.12.H12-261202-0002", \
    "000.00.12.H12-261202-0003"


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[Service]:
    async with staffed(settings, Clock()) as svc:
        yield svc


async def search(http: aiohttp.ClientSession, code: str) -> tuple[int, str]:
    async with http.get(f"/staff/dossiers?code={quote(code)}") as response:
        return response.status, html.unescape(await response.text())


async def audited(service: Service, action: str) -> list[tuple[str, str, str]]:
    async with service.db.session() as session:
        return [(a.actor, a.target, a.result) for a in await session.scalars(
            select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))]


async def test_an_officer_finds_the_dossiers_of_its_communes_only(service: Service) -> None:
    await new_dossier(service, "4543", OURS)
    await new_dossier(service, "4544", THEIRS)
    async with await signed_in(service, "canbo_a") as officer:
        status, page = await search(officer, " 000.00.12.h12 – 261202-0001 ")
        assert status == 200
        assert "Đăng ký kết hôn" in page and "Nguyễn V. A." in page and "09******78" in page
        assert "Nguyễn Văn An" not in page and "0912345678" not in page
        assert "hẹn lại ngày trả kết quả" in page  # the delay and its apology
        elsewhere, other_page = await search(officer, THEIRS)
        missing, missing_page = await search(officer, MISSING)
    assert (elsewhere, missing) == (404, 404)
    assert other_page.replace(THEIRS, "X") == missing_page.replace(MISSING, "X")
    assert "Đăng ký kết hôn" not in other_page
    assert await audited(service, "dossier.viewed") == [
        ("staff:canbo_a", OURS, "ok"), ("staff:canbo_a", THEIRS, "other_commune"),
        ("staff:canbo_a", MISSING, "not_found")]
    async with await signed_in(service, "quantri") as admin:
        assert (await search(admin, THEIRS))[0] == 200
        async with admin.get("/staff/audit?actor=staff:canbo_a") as response:
            log = await response.text()
    assert log.count("dossier.viewed") == 3


async def test_the_letter_of_a_dossier_is_printed_as_a_pdf(service: Service) -> None:
    await new_dossier(service, "4543", OURS)
    await new_dossier(service, "4543", MISSING, delayed=False)  # received: nothing to print
    await new_dossier(service, "4544", THEIRS)
    async with await signed_in(service, "canbo_a") as officer:
        _, page = await search(officer, OURS)
        link = f"/staff/dossiers/letter.pdf?code={quote(OURS, safe='')}&size=A5"
        assert "Phiếu xin lỗi và hẹn lại ngày trả kết quả" in page and link in page
        async with officer.get(link) as response:
            assert response.status == 200 and response.content_type == "application/pdf"
            assert 'filename="000.00.12.H12-261202-0001-' in response.headers[
                "Content-Disposition"]
            assert (await response.read()).startswith(b"%PDF")
        _, nothing_page = await search(officer, MISSING)
        assert "chưa có thư hay phiếu nào để in" in nothing_page and "letter.pdf" not in \
            nothing_page
        for code in (MISSING, THEIRS):
            async with officer.get(f"/staff/dossiers/letter.pdf?code={quote(code)}") as response:
                assert response.status == 404 and response.content_type == "text/html"
    assert await audited(service, "dossier.printed") == [
        ("staff:canbo_a", OURS, "ok"), ("staff:canbo_a", MISSING, "nothing"),
        ("staff:canbo_a", THEIRS, "other_commune")]


async def test_leaders_do_not_search_dossiers(service: Service) -> None:
    await new_dossier(service, "4543", OURS)
    async with await signed_in(service, "lanhdao_a") as leader:
        status, page = await search(leader, OURS)
        async with leader.get("/staff") as response:
            nav = await response.text()
    assert status == 403 and "Nguyễn V. A." not in page
    assert 'href="/staff/dossiers"' not in nav
