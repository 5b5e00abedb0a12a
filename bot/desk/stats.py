"""Statistics on the web desk (leaders and admins). Tickets by category, counted within the
account's communes only: received, open, closed, closed by the deadline, open past it; and
the figures and chart of the staff group's /thongke for the same communes, computed by the
same code (handlers/surveys.py), so both show the same numbers."""

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


def as_csv(stats: TicketStats) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["linh_vuc", "tiep_nhan", "dang_mo", "da_dong", "dong_dung_han",
                     "ty_le_dung_han_pct", "qua_han_dang_mo"])
    for row in [*stats.rows, stats.total]:
        writer.writerow([row.label, row.received, row.open, row.closed, row.closed_on_time,
                         row.on_time_pct, row.overdue_open])
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
