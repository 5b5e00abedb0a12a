"""What an account does to a ticket on the web desk. Replies, closing and reopening go through
the very handlers the Telegram staff group uses (handlers/staff.py), so the citizen receives
them through the outbox on the channel they wrote from, and both desks show the same
conversation: what the web desk writes is marked for the Telegram staff desk to relay."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db import feedback as tickets
from bot.desk.accounts import actor_of, audit
from bot.desk.models import StaffAccount
from bot.messages import Incoming
from bot.router import Context, ConversationState
from bot.staffscope import of_account

OUTCOMES = {
    "resolved": "Đã giải quyết",
    "explained": "Đã giải thích, hướng dẫn",
    "not_ours": "Không thuộc thẩm quyền, đã chuyển cơ quan có thẩm quyền",
    "duplicate": "Trùng với phản ánh khác",
    "no_info": "Không đủ thông tin để xử lý",
}
MAX_TEXT = 3000


def _as_staff_message(account: StaffAccount, text: str) -> Incoming:
    return Incoming(channel="desk", chat_id=f"desk:{account.username}",
                    user_id=account.username, update_key=f"desk:{uuid.uuid4().hex}",
                    display_name=account.username, text=text, is_staff_chat=True,
                    staff_scope=of_account(account))


async def _last_message_id(session: AsyncSession, ticket: tickets.Ticket) -> int:
    return int(await session.scalar(select(func.coalesce(func.max(tickets.TicketMessage.id), 0))
                                    .where(tickets.TicketMessage.ticket_id == ticket.id)) or 0)


async def _via_staff_handler(session: AsyncSession, settings: Settings,
                             services: dict[str, Any], now: datetime, account: StaffAccount,
                             ticket: tickets.Ticket, verb: str, body: str) -> None:
    from handlers import staff

    handler = {"reply": staff.on_reply_command, "close": staff.on_close,
               "reopen": staff.on_reopen, "assign": staff.on_assign}[verb]
    before = await _last_message_id(session, ticket)
    ctx = Context(settings, session, ConversationState(), 0, services, now)
    await handler(_as_staff_message(account, body), ctx, ticket, body)
    # What the desk wrote goes to the Telegram staff group too (bot/staffdesk.py).
    await session.execute(update(tickets.TicketMessage).where(
        tickets.TicketMessage.ticket_id == ticket.id, tickets.TicketMessage.id > before,
        tickets.TicketMessage.author == "staff").values(relayed=False))


async def reply(session: AsyncSession, settings: Settings, services: dict[str, Any],
                now: datetime, account: StaffAccount, ticket: tickets.Ticket, body: str) -> str:
    """Answer the citizen; returns what happened: "replied" or "closed" (nothing sent)."""
    if ticket.status == tickets.CLOSED:
        return "is_closed"
    await _via_staff_handler(session, settings, services, now, account, ticket, "reply",
                             body[:MAX_TEXT])
    audit(session, now, actor_of(account), "desk.reply", ticket.code)
    return "replied"


async def close(session: AsyncSession, settings: Settings, services: dict[str, Any],
                now: datetime, account: StaffAccount, ticket: tickets.Ticket, outcome: str,
                note: str) -> str:
    if ticket.status == tickets.CLOSED:
        return "is_closed"
    label = OUTCOMES[outcome]
    resolution = f"{label}. {note}".strip() if note else label
    await _via_staff_handler(session, settings, services, now, account, ticket, "close",
                             resolution[:MAX_TEXT])
    audit(session, now, actor_of(account), "desk.close", ticket.code, outcome=outcome)
    return "closed"


async def reopen(session: AsyncSession, settings: Settings, services: dict[str, Any],
                 now: datetime, account: StaffAccount, ticket: tickets.Ticket) -> str:
    if ticket.status != tickets.CLOSED:
        return "not_closed"
    await _via_staff_handler(session, settings, services, now, account, ticket, "reopen", "")
    audit(session, now, actor_of(account), "desk.reopen", ticket.code)
    return "reopened"


async def assign(session: AsyncSession, settings: Settings, services: dict[str, Any],
                 now: datetime, account: StaffAccount, ticket: tickets.Ticket,
                 name: str) -> str:
    """Give the ticket to someone (a desk username or any name, as /giao does)."""
    await _via_staff_handler(session, settings, services, now, account, ticket, "assign",
                             name[:120])
    audit(session, now, actor_of(account), "desk.assign", ticket.code, to=ticket.assigned_to)
    return "assigned"


async def note(session: AsyncSession, now: datetime, account: StaffAccount,
               ticket: tickets.Ticket, body: str) -> str:
    """An internal note: kept with the ticket for staff (both desks), never sent to the
    citizen nor shown in their "Phản ánh của tôi"."""
    await tickets.add_message(session, ticket, tickets.NOTE, body[:MAX_TEXT],
                              author_name=account.username, relayed=False, now=now)
    audit(session, now, actor_of(account), "desk.note", ticket.code)
    return "noted"
