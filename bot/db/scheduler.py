"""The scheduler's tables: consents per purpose (with an append-only log), the scanner's
watermarks, satisfaction surveys, citizens' commune subscriptions and commune notices — and
the repository functions the rules, the handlers and `motcua notice` use.

Consent is per citizen and purpose (`PURPOSES`); silence is not consent, so a missing row
means "no". Every change is also appended to `consent_log` (time, channel, source).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, Id, utcnow
from bot.db.sql import dialect_of, insert_ignore, insert_ignoring

STATUS, LETTERS, SURVEYS, NOTICES = "status", "letters", "surveys", "notices"
PURPOSES = (STATUS, LETTERS, SURVEYS, NOTICES)
"""status updates of dossiers; congratulation and condolence letters; satisfaction surveys;
commune notices."""


class Consent(Base):
    """A citizen's current answer for one purpose."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("citizen_id", "purpose"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))
    granted: Mapped[bool] = mapped_column(default=False)
    channel: Mapped[str] = mapped_column(String(20))
    """Where the answer was given."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsentLog(Base):
    """Append-only history of consent answers (who, purpose, yes/no, when, where, how)."""

    __tablename__ = "consent_log"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"),
                                            index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    granted: Mapped[bool] = mapped_column()
    channel: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(40), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class SchedulerState(Base):
    """Small named values of the scanner (watermarks), shared by every process."""

    __tablename__ = "scheduler_state"
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Survey(Base):
    """One satisfaction answer: the overall rating, optional SIPAS aspects and a comment,
    about a dossier, a procedure, a ticket or the service in general."""

    __tablename__ = "surveys"
    __table_args__ = (Index("ix_surveys_subject", "subject", "subject_id"),
                      Index("ux_surveys_dedupe_key", "dedupe_key", unique=True))
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    citizen_id: Mapped[int | None] = mapped_column(
        ForeignKey("citizens.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(10))  # dossier | ticket | procedure | general
    subject_id: Mapped[str] = mapped_column(String(60), default="")
    procedure_code: Mapped[str | None] = mapped_column(String(60))
    procedure_name: Mapped[str | None] = mapped_column(Text)
    scale: Mapped[int] = mapped_column(default=3)
    """How many answers the scale had (scores run from `scale`, best, down to 1)."""
    overall: Mapped[int | None] = mapped_column()
    aspects: Mapped[dict[str, Any]] = mapped_column(default=dict)
    comment: Mapped[str | None] = mapped_column(Text)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    """The feedback ticket opened for an unhappy answer."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(120))
    """Makes an answer the only one of its kind: `general:<citizen>:<local day>`,
    `procedure:<citizen>:<code>:<local day>`, `dossier:<citizen>:<id>`, `ticket:<citizen>:<id>`
    (NULL on answers stored before the rule)."""


class CommuneSubscription(Base):
    """A chat that asked for the notices of a commune (2025 administrative units)."""

    __tablename__ = "commune_subscriptions"
    __table_args__ = (UniqueConstraint("channel", "chat_id", "commune_code"),
                      Index("ix_commune_subscriptions_commune", "commune_code"))
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"),
                                            index=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(100))
    commune_code: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


DRAFT, PENDING, APPROVED, DELIVERING, DONE, REJECTED, CANCELLED = (
    "draft", "pending", "approved", "delivering", "done", "rejected", "cancelled")


class Notice(Base):
    """A commune notice: written by a staff member, approved by another, delivered through
    the outbox (rows with ref `notice:<id>`), then reported to its author."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_status_send_at", "status", "send_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    text: Mapped[str] = mapped_column(Text)
    photo: Mapped[dict[str, Any] | None] = mapped_column()
    communes: Mapped[list[Any]] = mapped_column(default=list)
    send_at: Mapped[datetime] = mapped_column()
    urgent: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default=DRAFT)
    author: Mapped[str] = mapped_column(String(150))
    """channel:user_id of the author."""
    author_name: Mapped[str] = mapped_column(String(150), default="")
    report_channel: Mapped[str] = mapped_column(String(20), default="")
    report_chat_id: Mapped[str] = mapped_column(String(100), default="")
    report_thread_id: Mapped[str | None] = mapped_column(String(50))
    approved_by: Mapped[str | None] = mapped_column(String(150))
    approved_at: Mapped[datetime | None] = mapped_column()
    recipients: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()
    reported_at: Mapped[datetime | None] = mapped_column()


# -- consents -------------------------------------------------------------------------------


async def get_consents(session: AsyncSession, citizen_id: int) -> dict[str, bool]:
    """Every purpose with the citizen's answer (False when never asked)."""
    rows = await session.scalars(select(Consent).where(Consent.citizen_id == citizen_id))
    answers = {row.purpose: row.granted for row in rows}
    return {purpose: answers.get(purpose, False) for purpose in PURPOSES}


async def has_consent(session: AsyncSession, citizen_id: int, purpose: str) -> bool:
    return bool(await session.scalar(select(Consent.granted).where(
        Consent.citizen_id == citizen_id, Consent.purpose == purpose)))


async def consenting(session: AsyncSession, citizen_ids: Iterable[int],
                     purpose: str) -> set[int]:
    """Which of these citizens said yes to `purpose`."""
    ids = list(set(citizen_ids))
    found: set[int] = set()
    for start in range(0, len(ids), 500):
        found.update(await session.scalars(select(Consent.citizen_id).where(
            Consent.citizen_id.in_(ids[start:start + 500]), Consent.purpose == purpose,
            Consent.granted.is_(True))))
    return found


async def set_consent(session: AsyncSession, citizen_id: int, purpose: str, granted: bool,
                      channel: str, now: datetime, source: str = "") -> bool:
    """Record an answer (and log it); False when it was already so."""
    assert purpose in PURPOSES, purpose
    inserted = await insert_ignore(session, Consent, {
        "citizen_id": citizen_id, "purpose": purpose, "granted": granted, "channel": channel,
        "updated_at": now})
    if not inserted:
        row = (await session.scalars(select(Consent).where(
            Consent.citizen_id == citizen_id, Consent.purpose == purpose))).one()
        if row.granted == granted:
            return False
        await session.execute(update(Consent).where(Consent.id == row.id).values(
            granted=granted, channel=channel, updated_at=now))
    session.add(ConsentLog(citizen_id=citizen_id, purpose=purpose, granted=granted,
                           channel=channel, source=source[:40], at=now))
    await session.flush()
    return True


# -- watermarks -----------------------------------------------------------------------------


async def get_mark(session: AsyncSession, name: str) -> int:
    return int(await session.scalar(
        select(SchedulerState.value).where(SchedulerState.name == name)) or 0)


async def set_mark(session: AsyncSession, name: str, value: int, now: datetime) -> None:
    """Move a watermark forward (never back, whatever another process wrote)."""
    if not await insert_ignore(session, SchedulerState,
                               {"name": name, "value": value, "updated_at": now}):
        await session.execute(update(SchedulerState).where(
            SchedulerState.name == name, SchedulerState.value < value).values(
            value=value, updated_at=now))


# -- commune subscriptions ------------------------------------------------------------------


async def find_commune_subscriptions(session: AsyncSession, channel: str,
                                     chat_id: str) -> list[CommuneSubscription]:
    return list(await session.scalars(select(CommuneSubscription).where(
        CommuneSubscription.channel == channel, CommuneSubscription.chat_id == chat_id)
        .order_by(CommuneSubscription.id)))


async def add_commune_subscription(session: AsyncSession, citizen_id: int, channel: str,
                                   chat_id: str, commune_code: str, now: datetime) -> bool:
    return await insert_ignore(session, CommuneSubscription, {
        "citizen_id": citizen_id, "channel": channel, "chat_id": chat_id,
        "commune_code": commune_code, "created_at": now})


async def find_notice_recipients(session: AsyncSession,
                                 communes: list[str]) -> list[tuple[str, str, int, str]]:
    """(channel, chat_id, citizen_id, commune_code) of every chat subscribed to one of
    `communes` whose citizen consents to notices, each chat once (with the commune it
    subscribed to first, which the notice names as its sender)."""
    rows = await session.execute(
        select(CommuneSubscription.channel, CommuneSubscription.chat_id,
               CommuneSubscription.citizen_id, CommuneSubscription.commune_code)
        .join(Consent, (Consent.citizen_id == CommuneSubscription.citizen_id)
              & (Consent.purpose == NOTICES) & Consent.granted.is_(True))
        .where(CommuneSubscription.commune_code.in_([str(c) for c in communes]))
        .order_by(CommuneSubscription.id))
    seen: set[tuple[str, str]] = set()
    found: list[tuple[str, str, int, str]] = []
    for channel, chat_id, citizen_id, commune_code in rows:
        if (channel, chat_id) not in seen:
            seen.add((channel, chat_id))
            found.append((channel, chat_id, citizen_id, commune_code))
    return found


async def bulk_insert_ignore(session: AsyncSession, model: Any,
                             rows: list[dict[str, Any]]) -> None:
    """Many `insert_ignore`s: one statement, compiled once and run for each row (an
    executemany). A multi-row VALUES is compiled anew for each batch: for a notice to 30,000
    chats that was ~10 s of the event loop on a quiet machine (now ~1–2 s)."""
    if rows:
        connection = await session.connection()
        await connection.execute(insert_ignoring(dialect_of(session), model), rows)
