"""Feedback tickets (phản ánh, kiến nghị): the tables and the repository functions the intake
flow, the staff group, the staff desk and `motcua tickets` use.

A ticket is stored before the citizen is told it was received. Every message about it — the
citizen's, the staff's, the bot's notes — is a row of `ticket_messages`; rows bound for the
staff group are relayed by the staff desk (bot/staffdesk.py) through the outbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, Id, utcnow
from bot.db.sql import dialect_of
from bot.staffscope import EVERYTHING, Scope

CATEGORIES = {
    "thu_tuc": "Thủ tục hành chính",
    "thai_do": "Thái độ phục vụ",
    "ha_tang": "Hạ tầng, môi trường",
    "an_ninh": "An ninh, trật tự",
    "khac": "Khác",
}
OPEN, ANSWERED, CLOSED = "open", "answered", "closed"
STATUS_LABELS = {OPEN: "Đang chờ xử lý", ANSWERED: "Đã trả lời", CLOSED: "Đã đóng"}
RATINGS = {3: "Rất hài lòng", 2: "Hài lòng", 1: "Không hài lòng"}


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_status_due", "status", "due_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    citizen_id: Mapped[int | None] = mapped_column(
        ForeignKey("citizens.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text)
    dossier_code: Mapped[str | None] = mapped_column(String(60))
    commune_code: Mapped[str | None] = mapped_column(String(20), index=True)
    """The commune the ticket belongs to (`commune_of`); staff of other communes never see it."""
    latitude: Mapped[float | None] = mapped_column()
    longitude: Mapped[float | None] = mapped_column()
    contact_name: Mapped[str | None] = mapped_column(String(120))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    anonymous: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default=OPEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column()
    first_reply_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    resolution: Mapped[str | None] = mapped_column(Text)
    assigned_to: Mapped[str | None] = mapped_column(String(120))
    rating: Mapped[int | None] = mapped_column()
    reopen_count: Mapped[int] = mapped_column(default=0)
    staff_chat_id: Mapped[str | None] = mapped_column(String(30))
    """The Telegram staff group the ticket was put in: its commune's (TELEGRAM_STAFF_CHATS) or
    the province-wide one; None: the province-wide one (TELEGRAM_STAFF_CHAT_ID)."""
    staff_thread_id: Mapped[str | None] = mapped_column(String(30))
    """The forum topic holding this ticket in its staff group (forum groups only)."""
    staff_ready: Mapped[bool] = mapped_column(default=False)
    """True once the staff desk has put the ticket in the staff group (topic or card)."""


class TicketMessage(Base):
    """One message about a ticket. `relayed` is False until the staff desk has queued it for
    the staff group (citizen messages and photos)."""

    __tablename__ = "ticket_messages"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                           index=True)
    author: Mapped[str] = mapped_column(String(20))  # citizen | staff | system
    author_name: Mapped[str] = mapped_column(String(120), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    relayed: Mapped[bool] = mapped_column(default=True, index=True)


class ReplyTemplate(Base):
    """Canned replies staff send with /mau; editable from the staff group."""

    __tablename__ = "reply_templates"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(120), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


def normalize_code(text: str) -> str:
    return text.strip().upper().replace(" ", "")


async def new_code(session: AsyncSession, now: datetime) -> str:
    """The next `PA-yymm-NNNN` of the month (a unique constraint settles races)."""
    prefix = f"PA-{now:%y%m}-"
    last = await session.scalar(
        select(func.max(Ticket.code)).where(Ticket.code.like(f"{prefix}%"))
    )
    number = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{number:04d}"


async def dossier_commune(session: AsyncSession, dossier_code: str | None) -> str | None:
    """The commune of the dossier a ticket names, when exactly one commune has it."""
    if not dossier_code:
        return None
    from bot.db.dossiers import Dossier

    code = dossier_code.strip().upper()
    communes = set(await session.scalars(
        select(Dossier.commune_code).where(or_(Dossier.code == code, Dossier.key == code),
                                           Dossier.commune_code.is_not(None)).limit(5)))
    return communes.pop() if len(communes) == 1 else None


async def commune_of(session: AsyncSession, ticket: Ticket) -> str | None:
    """The commune a new ticket belongs to: its dossier's, when it names a dossier of exactly
    one commune; else the one set before `add_ticket` (the citizen's commune, which the
    feedback flow asks when unknown)."""
    return await dossier_commune(session, ticket.dossier_code) or ticket.commune_code


async def add_ticket(session: AsyncSession, ticket: Ticket, now: datetime) -> Ticket:
    """Store a new ticket under a fresh code, retrying if another process took that code."""
    ticket.commune_code = await commune_of(session, ticket)
    for _ in range(20):
        ticket.code = await new_code(session, now)
        try:
            async with session.begin_nested():
                session.add(ticket)
                await session.flush()
            return ticket
        except IntegrityError:
            session.expunge(ticket) if ticket in session else None
    raise RuntimeError("could not allocate a ticket code")


async def get_ticket(session: AsyncSession, code_or_id: str | int, *,
                     lock: bool = False) -> Ticket | None:
    query = select(Ticket)
    if isinstance(code_or_id, int) or str(code_or_id).isdigit():
        query = query.where(Ticket.id == int(code_or_id))
    else:
        query = query.where(Ticket.code == normalize_code(str(code_or_id)))
    if lock and dialect_of(session) == "postgresql":
        query = query.with_for_update()
    return await session.scalar(query)


async def ticket_by_thread(session: AsyncSession, chat_id: str, thread_id: str, *,
                           province_wide: bool) -> Ticket | None:
    """The ticket of a forum topic of one staff group (topic ids repeat across groups);
    `province_wide`: the group of TELEGRAM_STAFF_CHAT_ID, which also holds the tickets
    placed before staff groups were recorded."""
    chat = Ticket.staff_chat_id == chat_id
    if province_wide:
        chat = or_(chat, Ticket.staff_chat_id.is_(None))
    return await session.scalar(select(Ticket).where(Ticket.staff_thread_id == thread_id, chat)
                                .order_by(Ticket.id.desc()).limit(1))


async def find_open_tickets(session: AsyncSession, scope: Scope = EVERYTHING) -> list[Ticket]:
    """Tickets not closed within `scope`, oldest first."""
    return list(await session.scalars(scope.apply(
        select(Ticket).where(Ticket.status != CLOSED), Ticket.commune_code)
        .order_by(Ticket.created_at)))


async def find_citizen_tickets(session: AsyncSession, citizen_id: int,
                               limit: int = 10) -> list[Ticket]:
    return list(await session.scalars(
        select(Ticket).where(Ticket.citizen_id == citizen_id)
        .order_by(Ticket.created_at.desc()).limit(limit)
    ))


NOTE = "note"
"""The author of an internal note written on the web desk: staff only, never the citizen."""


async def find_messages(session: AsyncSession, ticket_id: int, *,
                        notes: bool = False) -> list[TicketMessage]:
    """A ticket's messages in order; internal notes only when `notes` (staff views)."""
    query = select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)
    if not notes:
        query = query.where(TicketMessage.author != NOTE)
    return list(await session.scalars(query.order_by(TicketMessage.id)))


async def add_message(session: AsyncSession, ticket: Ticket, author: str, text: str, *,
                      author_name: str = "", attachments: list[Any] | None = None,
                      relayed: bool = True, now: datetime | None = None) -> TicketMessage:
    message = TicketMessage(ticket_id=ticket.id, author=author, author_name=author_name,
                            text=text, attachments=attachments or [], relayed=relayed,
                            created_at=now or utcnow())
    session.add(message)
    await session.flush()
    return message


async def find_templates(session: AsyncSession) -> list[ReplyTemplate]:
    return list(await session.scalars(select(ReplyTemplate).order_by(ReplyTemplate.name)))
