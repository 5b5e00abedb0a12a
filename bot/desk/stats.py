"""Statistics on the web desk (leaders and admins). Tickets by category, counted within the
account's communes only: received, open, closed, closed by the deadline, open past it; and
the figures and chart of the staff group's /thongke for the same communes — satisfaction per
SIPAS aspect per month among them — computed by the same code (handlers/surveys.py), so both
show the same numbers. Exported as CSV (tickets) and XLSX (tickets and aspects)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db import feedback as tickets
from bot.router import Context, ConversationState
from bot.staffscope import Scope


@dataclass
class Row:
    key: str
    label: str
    received: int = 0
    open: int = 0
    closed: int = 0
    closed_on_time: int = 0
    overdue_open: int = 0

    @property
    def on_time_pct(self) -> float:
        return round(100.0 * self.closed_on_time / self.closed, 1) if self.closed else 0.0


@dataclass
class TicketStats:
    rows: list[Row] = field(default_factory=list)
    total: Row = field(default_factory=lambda: Row("", "Tổng cộng"))


async def ticket_stats(session: AsyncSession, query: Any, now: datetime) -> TicketStats:
    """`query` selects the tickets in scope (routes.scoped)."""
    stats = TicketStats([Row(key, label) for key, label in tickets.CATEGORIES.items()])
    by_key = {row.key: row for row in stats.rows}
    for t in await session.scalars(query):
        for row in (by_key.get(t.category) or by_key["khac"], stats.total):
            row.received += 1
            if t.status == tickets.CLOSED:
                row.closed += 1
                row.closed_on_time += bool(t.closed_at and t.closed_at <= t.due_at)
            else:
                row.open += 1
                row.overdue_open += t.due_at < now
    return stats


def ticket_table(stats: TicketStats) -> list[list[Any]]:
    """The header and one row per category, then the total (CSV and XLSX)."""
    return [["linh_vuc", "tiep_nhan", "dang_mo", "da_dong", "dong_dung_han",
             "ty_le_dung_han_pct", "qua_han_dang_mo"],
            *([row.label, row.received, row.open, row.closed, row.closed_on_time,
               row.on_time_pct, row.overdue_open] for row in [*stats.rows, stats.total])]


def as_csv(stats: TicketStats) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(ticket_table(stats))
    return out.getvalue()


@dataclass
class AspectTable:
    """Satisfaction per SIPAS aspect: one row per month, then all months (as /thongke)."""

    aspects: list[str]
    """The aspects' short names, in ASPECTS' order."""
    rows: list[tuple[str, list[dict[str, Any]]]]
    """(month "MM/YYYY" or "Cả kỳ", a cell per aspect: count and pct)."""


def aspect_table(figures: Any) -> AspectTable:
    from handlers.surveys import ASPECTS
    from handlers.texts import text

    return AspectTable([text("surveys.aspect_short", aspect=a) for a in ASPECTS],
                       [*((m["month"], m["cells"]) for m in figures.aspect_months),
                        ("Cả kỳ", figures.aspects)])


def as_xlsx(stats: TicketStats, aspects: AspectTable) -> bytes:
    """A workbook of two sheets: tickets by category, satisfaction per aspect per month.
    openpyxl is imported here only: the service starts without it."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    tickets_sheet = book.create_sheet("Phan anh")
    for row in ticket_table(stats):
        tickets_sheet.append(row)
    sheet = book.create_sheet("Hai long SIPAS")
    sheet.append(["thang", *(f"{name} ({unit})" for name in aspects.aspects
                             for unit in ("% hài lòng", "lượt"))])
    for month, cells in aspects.rows:
        sheet.append([month, *(value for c in cells for value in (
            c["pct"] if c["count"] else None, c["count"]))])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def province_figures(session: AsyncSession, settings: Settings, services: dict[str, Any],
                           now: datetime, scope: Scope) -> tuple[str, Any]:
    """/thongke's text and figures within `scope`, as a staff group of those communes gets
    them."""
    from handlers.surveys import compute_figures
    from handlers.texts import text

    ctx = Context(settings, session, ConversationState(), 0, services, now)
    figures = await compute_figures(ctx, scope=scope)
    return text("surveys.stats", v=figures), figures


def ticket_query() -> Any:
    return select(tickets.Ticket)
