"""Commune notices on the web desk, by the rules of the staff group's /thongbao (the same
code: handlers/subscriptions.py): an account writes a notice for communes it serves; another
account — a leader or an admin serving every target commune — approves or rejects it; the
scheduler delivers it (scheduler/notices.py) and the desk shows the delivery report."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db import scheduler as store
from bot.desk.accounts import actor_of, audit
from bot.desk.models import StaffAccount
from bot.desk.roles import ADMIN, LEADER
from bot.messages import Incoming
from bot.router import Context, ConversationState
from bot.staffscope import of_account

MAX_TEXT = 2000
STATUS_LABELS = {store.PENDING: "Chờ duyệt", store.APPROVED: "Đã duyệt, chờ gửi",
                 store.DELIVERING: "Đang gửi", store.DONE: "Đã gửi xong",
                 store.REJECTED: "Bị từ chối", store.CANCELLED: "Đã hủy", store.DRAFT: "Nháp"}


def _as_staff(account: StaffAccount, action: str = "") -> Incoming:
    return Incoming(channel="desk", chat_id=f"desk:{account.username}",
                    user_id=account.username, update_key=f"desk:{uuid.uuid4().hex}",
                    display_name=account.username, action=action or None, is_staff_chat=True,
                    staff_scope=of_account(account))


def _ctx(session: AsyncSession, settings: Settings, services: dict[str, Any],
         now: datetime) -> Context:
    return Context(settings, session, ConversationState(), 0, services, now)


def serves_all(account: StaffAccount, communes: list[str]) -> bool:
    return all(account.serves(code) for code in communes)


def can_approve(account: StaffAccount, notice: store.Notice) -> bool:
    return (account.role in (LEADER, ADMIN) and serves_all(account, notice.communes)
            and notice.author != f"desk:{account.username}")


async def visible(session: AsyncSession, account: StaffAccount,
                  limit: int = 50) -> list[store.Notice]:
    """The latest notices whose every target commune the account serves."""
    rows = await session.scalars(select(store.Notice).order_by(store.Notice.id.desc())
                                 .limit(limit * 4))
    return [n for n in rows if account.role == ADMIN or serves_all(account, n.communes)][:limit]


async def compose(session: AsyncSession, settings: Settings, services: dict[str, Any],
                  now: datetime, account: StaffAccount, body: str, communes: list[str],
                  send_at: datetime, urgent: bool) -> store.Notice:
    from handlers.subscriptions import create_notice

    nt = {"text": body[:MAX_TEXT], "photo": None, "targets": communes,
          "send_at": max(send_at, now).isoformat(), "urgent": urgent}
    notice = await create_notice(_ctx(session, settings, services, now), _as_staff(account), nt)
    notice.report_channel, notice.report_chat_id = "", ""  # the report is read on the desk
    audit(session, now, actor_of(account), "desk.notice", f"notice:{notice.id}",
          communes=communes, status=notice.status)
    return notice


async def decide(session: AsyncSession, settings: Settings, services: dict[str, Any],
                 now: datetime, account: StaffAccount, notice: store.Notice,
                 approve: bool) -> str:
    """Approve or reject through /thongbao's own decision (which refuses the author)."""
    from handlers.subscriptions import decide as staff_decide

    action = f"nt:{'ok' if approve else 'no'}:{notice.id}"
    await staff_decide(_as_staff(account, action), _ctx(session, settings, services, now),
                       approve=approve)
    await session.flush()
    audit(session, now, actor_of(account), "desk.notice_approve" if approve else
          "desk.notice_reject", f"notice:{notice.id}", result=notice.status)
    return notice.status
