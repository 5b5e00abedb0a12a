"""The leader's statistics on the web desk: satisfaction per SIPAS aspect per month within
the account's communes, the same figures as the staff group's /thongke for those communes,
and the XLSX export beside the CSV."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.app import Service
from bot.config import Settings
from bot.db import dossiers as dossier_repo
from bot.db import scheduler as store
from bot.messages import Incoming
from bot.staffscope import EVERYTHING, Scope, of_communes
from tests.test_desk import Clock, new_dossier, signed_in, staffed

ASPECTS = ["Tiếp cận dịch vụ", "Thủ tục hành chính", "Công chức giải quyết",
           "Kết quả giải quyết", "Tiếp nhận, xử lý phản ánh"]
ANSWERS = [  # (commune, when, overall, aspects) on the scale of three
    ("4543", datetime(2026, 10, 31, 17, 30, tzinfo=UTC), 3, {"civil_servants": 1}),  # 1 Nov here
    ("4543", datetime(2026, 11, 10, 3, tzinfo=UTC), 3,
     {"access": 3, "procedure": 1, "civil_servants": 2}),
    ("4543", datetime(2026, 11, 20, 3, tzinfo=UTC), 2, {"access": 1, "result": 3}),
    ("4543", datetime(2026, 12, 1, 3, tzinfo=UTC), 3, {"access": 3, "feedback": 2}),
    ("4543", datetime(2026, 12, 1, 4, tzinfo=UTC), 3, {}),  # the aspects skipped
    ("4544", datetime(2026, 12, 1, 3, tzinfo=UTC), 1, {"access": 1, "procedure": 1}),
]


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[Service]:
    async with staffed(settings, Clock()) as svc:
        ids = {}
        for commune in ("4543", "4544"):
            code = await new_dossier(svc, commune, f"000.00.12.H12-261101-{commune}",
                                     delayed=False)
            async with svc.db.session() as session:
                dossier = await dossier_repo.get_dossier(session, code)
                assert dossier is not None
                ids[commune] = dossier.id
        async with svc.db.session() as session:
            for commune, when, overall, aspects in ANSWERS:
                session.add(store.Survey(channel="web", subject="dossier",
                                         subject_id=str(ids[commune]), scale=3,
                                         overall=overall, aspects=aspects, created_at=when,
                                         procedure_name="Đăng ký kết hôn"))
        yield svc


async def thongke(service: Service, scope: Scope) -> str:
    replies = await service.core.handle(Incoming(
        channel="console", chat_id="staff-cli", user_id="cli", update_key=f"t:{scope}",
        text="/thongke", is_staff_chat=True, staff_scope=scope))
    return replies[0].text


def table(page: str) -> dict[str, list[str]]:
    """The aspects table of the statistics page: month → its cells as read."""
    body = page.split('class="stats aspects"', 1)[1].split("</table>", 1)[0]
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.DOTALL):
        cells = [" ".join(re.sub(r"<[^>]+>", " ", c).split())
                 for c in re.findall(r"<td>(.*?)</td>", row, re.DOTALL)]
        if cells:
            rows[cells[0]] = cells[1:]
    return rows


def aspect_lines(text: str) -> list[str]:
    """/thongke's aspect figures, as the desk's cells read: "66.7% (3)" or "—"."""
    found = {name: f"{share}% ({count})" if share else "—" for name, share, count in re.findall(
        r"^- ([^:\n]+): (?:(\d+\.\d)% \((\d+) lượt\)|chưa có)$", text, re.MULTILINE)}
    return [found[name] for name in ASPECTS]


def value(cell: object) -> object:
    """A figure as a number whichever way it was written ("0.0" in CSV, 0 in XLSX)."""
    try:
        return float(str(cell))
    except ValueError:
        return cell


async def test_a_leader_sees_satisfaction_per_aspect_per_month_as_thongke_counts_it(
        service: Service) -> None:
    async with await signed_in(service, "lanhdao_a") as leader:
        async with leader.get("/staff/stats") as response:
            page = html.unescape(await response.text())
    rows = table(page)
    assert rows == {"11/2026": ["50.0% (2)", "0.0% (1)", "50.0% (2)", "100.0% (1)", "—"],
                    "12/2026": ["100.0% (1)", "—", "—", "—", "100.0% (1)"],
                    "Cả kỳ": ["66.7% (3)", "0.0% (1)", "50.0% (2)", "100.0% (1)", "100.0% (1)"]}
    group = await thongke(service, of_communes(["4543"]))  # a staff group of commune 4543
    assert group in page
    assert aspect_lines(group) == rows["Cả kỳ"]


async def test_the_admin_counts_every_commune_as_the_province_group_does(
        service: Service) -> None:
    async with await signed_in(service, "quantri") as admin:
        async with admin.get("/staff/stats") as response:
            page = html.unescape(await response.text())
    rows = table(page)
    assert rows["12/2026"] == ["50.0% (2)", "0.0% (1)", "—", "—", "100.0% (1)"]
    province = await thongke(service, EVERYTHING)
    assert province in page and aspect_lines(province) == rows["Cả kỳ"] == [
        "50.0% (4)", "0.0% (2)", "50.0% (2)", "100.0% (1)", "100.0% (1)"]


async def test_the_statistics_export_to_xlsx_as_the_page_shows_them(service: Service) -> None:
    from openpyxl import load_workbook

    async with await signed_in(service, "lanhdao_a") as leader:
        async with leader.get("/staff/stats") as response:
            page = html.unescape(await response.text())
        async with leader.get("/staff/stats.csv") as response:
            csv_text = (await response.read()).decode("utf-8-sig")
        async with leader.get("/staff/stats.xlsx") as response:
            assert response.status == 200
            assert response.headers["Content-Disposition"].endswith('filename="thong-ke.xlsx"')
            book = load_workbook(io.BytesIO(await response.read()))
    tickets_sheet, aspects_sheet = book["Phan anh"], book["Hai long SIPAS"]
    assert [[value(v) for v in row] for row in tickets_sheet.iter_rows(values_only=True)] == [
        [value(v) for v in row] for row in csv.reader(io.StringIO(csv_text))]
    header, *months = list(aspects_sheet.iter_rows(values_only=True))
    assert header[:3] == ("thang", "Tiếp cận dịch vụ (% hài lòng)", "Tiếp cận dịch vụ (lượt)")
    read = {row[0]: ["—" if not row[i + 1] else f"{float(str(row[i])):.1f}% ({row[i + 1]})"
                     for i in range(1, 11, 2)] for row in months}
    assert read == table(page)
