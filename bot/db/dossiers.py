"""Dossiers (hồ sơ) pushed by the one-stop system: the status rules, the tables (dossiers, an
append-only event history, per-chat subscriptions, failed second-factor attempts) and the
repository functions the ingest API, the importer, the handlers and the scheduler use.

Codes: the one-stop systems write them in several shapes (`000.00.01.H29-240115-0001`,
`03706/2026/07906`, …). A dossier is identified by its *key* — the code's letters and digits
only, upper case — so case, spaces, dashes and stray punctuation never matter; the code as the
agency writes it is kept for display.

Statuses are stored in English (the contract in DESIGN.md) and shown in Vietnamese by the
texts. "Overdue" is derived, never stored: past `due_at` while the agency still holds the
dossier (not finished, no result waiting, not waiting for the citizen's supplement).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    and_,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import repositories
from bot.db.base import Base, Id, utcnow

# -- statuses -------------------------------------------------------------------------------


class Status(StrEnum):
    RECEIVED = "received"
    PROCESSING = "processing"
    NEED_MORE_INFO = "need_more_info"
    WAITING_PAYMENT = "waiting_payment"
    RESULT_READY = "result_ready"
    RETURNED = "returned"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    DELAYED = "delayed"


FINISHED = frozenset({Status.RETURNED, Status.REJECTED, Status.WITHDRAWN})
"""The dossier's life is over: nothing more will happen to it."""

WAITING_FOR_CITIZEN = frozenset({Status.NEED_MORE_INFO, Status.WAITING_PAYMENT})
"""The clock pauses: the citizen supplements the dossier or pays fees, charges or taxes."""

NOT_LATE = FINISHED | WAITING_FOR_CITIZEN | {Status.RESULT_READY}
"""Statuses in which a dossier past its date is not overdue (no apology, no staff alert): the
result is ready, or the clock is paused while the agency waits for the citizen."""

ALWAYS_ANNOUNCED = frozenset({Status.DELAYED, Status.NEED_MORE_INFO})
"""Announced even when the status does not change (a new date, a new supplement request)."""

def is_overdue(status: str, due_at: datetime, now: datetime) -> bool:
    return now > due_at and status not in NOT_LATE


def is_finished(status: str) -> bool:
    return status in FINISHED


# -- codes ----------------------------------------------------------------------------------

_DASHES = dict.fromkeys(map(ord, "‐‑‒–—―−﹣－_"), "-")
_SEP = r"[-./]"
_CANONICAL = re.compile(rf"^[A-Z0-9]+(?:{_SEP}[A-Z0-9]+)*$")
_AROUND_SEP = re.compile(r"\s*([-./])\s*")
_ONE_STOP = re.compile(
    r"(?<![A-Z0-9.])([A-Z0-9]+(?:\.[A-Z0-9]+)*)(?:\s*-\s*|\s+)(\d{6})(?:\s*-\s*|\s+)(\d{3,6})"
    r"(?![A-Z0-9])"
)
_SLASHED = re.compile(r"(?<![A-Z0-9/])(\d{3,6})\s*/\s*(\d{4})\s*/\s*(\d{3,8})(?![A-Z0-9/])")
_GENERIC = re.compile(rf"(?<![A-Z0-9])[A-Z0-9]+(?:{_SEP}[A-Z0-9]+){{2,}}(?![A-Z0-9])")
_DATE = re.compile(r"^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$")
_PROCEDURE_CODE = re.compile(r"^\d\.\d{6}(?:\.|$)")
MAX_CODE = 60


def _prepare(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_DASHES).upper()


def normalize_code(raw: str) -> str | None:
    """The canonical display form of a code someone typed or sent, or None when it cannot be a
    code: upper case, unified dashes, no spaces around separators, no stray punctuation at
    either end. `" 000.00.01.h29 – 240115-0001. "` → `"000.00.01.H29-240115-0001"`."""
    text = _prepare(raw).strip()
    text = re.sub(r"^[^A-Z0-9]+|[^A-Z0-9]+$", "", text)
    text = _AROUND_SEP.sub(r"\1", text)
    text = re.sub(r"\s+", "-", text)
    if not (4 <= len(text) <= MAX_CODE) or not _CANONICAL.match(text):
        return None
    if sum(ch.isdigit() for ch in text) < 3:
        return None
    return text


def code_key(code: str) -> str:
    """The identity of a code: its letters and digits, upper case."""
    return "".join(ch for ch in _prepare(code) if ch.isalnum())


def find_code(text: str, *, max_words: int = 14) -> str | None:
    """A dossier code in a short free-text message ("hồ sơ 03706/2026/07906 đến đâu rồi"),
    canonical, or None. Strict on purpose: dates, phone numbers and procedure codes
    (1.000894) are not dossier codes; plain text goes to procedure search."""
    if not text or len(text.split()) > max_words:
        return None
    prepared = _prepare(text)
    match = _ONE_STOP.search(prepared)
    if match and (re.search(r"[A-Z.]", match.group(1)) or "-" in match.group(0)):
        return f"{match.group(1)}-{match.group(2)}-{match.group(3)}"
    match = _SLASHED.search(prepared)
    if match:
        return "/".join(match.groups())
    for match in _GENERIC.finditer(prepared):
        token = match.group(0)
        digits = sum(ch.isdigit() for ch in token)
        if (digits >= 6 and re.search(r"[A-Z]", token) and not _DATE.match(token)
                and not _PROCEDURE_CODE.match(token) and len(token) <= MAX_CODE):
            return token
    return None


# -- phones and names -----------------------------------------------------------------------

_ASCII_DIGITS = re.compile(r"[0-9]+")


def normalize_phone(raw: str) -> str | None:
    """Digits of a Vietnamese phone number (+84 → 0), or None when it is not one. Only the
    ASCII digits 0-9: `str.isdigit` (and NFKC) would also take "٠٩١٢…", "０９１２…" or "⁰⁹¹²…",
    which no telephone network dials and no citizen could match with the last 4 digits."""
    digits = re.sub(r"[\s().\-]", "", raw or "")
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) >= 11:
        digits = "0" + digits[2:]
    if not _ASCII_DIGITS.fullmatch(digits) or not 9 <= len(digits) <= 11:
        return None
    return digits


# -- tables ---------------------------------------------------------------------------------


class Dossier(Base):
    """A dossier as the one-stop system last described it."""

    __tablename__ = "dossiers"
    __table_args__ = (Index("ix_dossiers_status_due", "status", "due_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(MAX_CODE), unique=True)
    code: Mapped[str] = mapped_column(String(MAX_CODE))
    procedure_code: Mapped[str] = mapped_column(String(60))
    procedure_name: Mapped[str] = mapped_column(Text)
    applicant_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(20))
    commune_code: Mapped[str | None] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column()
    due_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(20))
    status_at: Mapped[datetime] = mapped_column()
    """When the current status took effect (events older than this are history only)."""
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def is_overdue(self, now: datetime) -> bool:
        return is_overdue(self.status, self.due_at, now)


class DossierEvent(Base):
    """One status event, append-only. `dedupe_key` (code key + status + time) makes the
    same event sent twice a no-op."""

    __tablename__ = "dossier_events"
    __table_args__ = (Index("ix_dossier_events_dossier_at", "dossier_id", "at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column()
    note: Mapped[str] = mapped_column(Text, default="")
    new_due_at: Mapped[datetime | None] = mapped_column()
    previous_due_at: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20), default="api")
    applied: Mapped[bool] = mapped_column(default=True)
    """False for an event older than the dossier's current status (kept as history)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DossierSubscription(Base):
    """A chat that proved it owns a dossier (`verified_at`), and whether it opted in to
    status notifications (`active`, with the time of the last opt-in and opt-out)."""

    __tablename__ = "dossier_subscriptions"
    __table_args__ = (UniqueConstraint("dossier_id", "channel", "chat_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"),
                                            index=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(100))
    thread_id: Mapped[str | None] = mapped_column(String(50))
    verified_at: Mapped[datetime] = mapped_column()
    active: Mapped[bool] = mapped_column(default=False)
    subscribed_at: Mapped[datetime | None] = mapped_column()
    unsubscribed_at: Mapped[datetime | None] = mapped_column()


class DossierLookupFailure(Base):
    """A failed second factor (unknown code or wrong digits): a security record, counted per
    chat, per code and per web client address to throttle guessing. Pseudonymised from the
    start — the chat and the address only as keyed hashes (`bot.db.privacy.pseudonym`) — so it
    is kept for its retention period when a citizen deletes their data, and deleting one's
    data never resets a throttle."""

    __tablename__ = "dossier_lookup_failures"
    __table_args__ = (
        Index("ix_dossier_lookup_failures_chat", "chat_key", "at"),
        Index("ix_dossier_lookup_failures_code", "code_key", "at"),
        Index("ix_dossier_lookup_failures_origin", "origin_key", "at"),
        Index("ix_dossier_lookup_failures_at", "at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat_key: Mapped[str] = mapped_column(String(64))
    code_key: Mapped[str] = mapped_column(String(MAX_CODE))
    """The code as typed (its key), whether or not such a dossier exists."""
    origin_key: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column()


class DossierLookupLock(Base):
    """A code locked for lookups by digits after too many failures from anywhere; one row per
    code, reused by the next lock once `until` has passed."""

    __tablename__ = "dossier_lookup_locks"
    code_key: Mapped[str] = mapped_column(String(MAX_CODE), primary_key=True)
    locked_at: Mapped[datetime] = mapped_column()
    until: Mapped[datetime] = mapped_column(index=True)
    failures: Mapped[int] = mapped_column(default=0)


# -- dossiers -------------------------------------------------------------------------------


@dataclass
class DossierFields:
    """What the one-stop system says about a dossier (validated before it gets here)."""

    code: str
    procedure_code: str
    procedure_name: str
    applicant_name: str
    phone: str
    received_at: datetime
    due_at: datetime
    status: str = Status.RECEIVED
    commune_code: str | None = None
    note: str = ""


@dataclass
class EventFields:
    status: str
    at: datetime
    note: str = ""
    new_due_at: datetime | None = None
    reason: str | None = None


@dataclass
class Upserted:
    dossier: Dossier
    created: bool
    changed: bool
    event: DossierEvent | None
    """The status event recorded when the status changed (to announce), else None."""


async def get_dossier(session: AsyncSession, code: str, *, lock: bool = False) -> Dossier | None:
    """The dossier with this code in any spelling, or None."""
    statement = select(Dossier).where(Dossier.key == code_key(code))
    if lock and repositories.dialect_of(session) == "postgresql":
        statement = statement.with_for_update()
    return (await session.scalars(statement)).one_or_none()


async def get_dossier_by_id(session: AsyncSession, dossier_id: int) -> Dossier | None:
    return await session.get(Dossier, dossier_id)


def event_key(key: str, status: str, at: datetime) -> str:
    """The dedupe key of an event: dossier key, status and time (UTC, microseconds)."""
    return f"{key}|{status}|{at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"


_COMPARED = ("code", "procedure_code", "procedure_name", "applicant_name", "phone",
             "commune_code", "received_at", "due_at", "note")


async def upsert_dossier(session: AsyncSession, fields: DossierFields, now: datetime, *,
                         source: str = "put") -> Upserted:
    """Create or update a dossier. A status that differs from the stored one is recorded as
    an event (time `now`, or `received_at` for a new dossier) to be announced; the same body
    twice changes nothing."""
    key = code_key(fields.code)
    values: dict[str, Any] = {name: getattr(fields, name) for name in _COMPARED}
    dossier = await get_dossier(session, fields.code, lock=True)
    if dossier is None:
        status_at = fields.received_at if fields.status == Status.RECEIVED else now
        inserted = await repositories.insert_ignore(session, Dossier, {
            **values, "key": key, "status": fields.status, "status_at": status_at,
            "created_at": now, "updated_at": now,
        })
        dossier = await get_dossier(session, fields.code, lock=True)
        assert dossier is not None
        if inserted:
            await _record_event(session, dossier, EventFields(fields.status, status_at,
                                                              fields.note),
                                now, source=source, applied=True)
            return Upserted(dossier, True, True, None)  # nobody can be subscribed yet
    changes = {name: value for name, value in values.items() if getattr(dossier, name) != value}
    event: DossierEvent | None = None
    if fields.status != dossier.status:
        event = await _record_event(session, dossier, EventFields(fields.status, now, fields.note),
                                    now, source=source, applied=True)
        if event is not None:
            changes.update(status=fields.status, status_at=now)
    if not changes:
        return Upserted(dossier, False, False, None)
    changes["updated_at"] = now
    await session.execute(update(Dossier).where(Dossier.id == dossier.id).values(**changes))
    for name, value in changes.items():
        setattr(dossier, name, value)
    return Upserted(dossier, False, True, event)


async def _record_event(session: AsyncSession, dossier: Dossier, fields: EventFields,
                        now: datetime, *, source: str, applied: bool,
                        previous_due_at: datetime | None = None) -> DossierEvent | None:
    """Insert the event unless the same one exists; None for a duplicate (one round trip:
    INSERT … ON CONFLICT DO NOTHING RETURNING, on SQLite and PostgreSQL alike)."""
    insert = (postgresql.insert if repositories.dialect_of(session) == "postgresql"
              else sqlite.insert)
    statement = insert(DossierEvent).values(
        dossier_id=dossier.id, dedupe_key=event_key(dossier.key, fields.status, fields.at),
        status=fields.status, at=fields.at, note=fields.note or "", new_due_at=fields.new_due_at,
        previous_due_at=previous_due_at, reason=fields.reason, source=source, applied=applied,
        created_at=now,
    ).on_conflict_do_nothing().returning(DossierEvent)
    return (await session.scalars(statement)).one_or_none()


@dataclass
class Recorded:
    event: DossierEvent | None
    """None when the same event was already recorded (nothing changed)."""
    announce: bool
    """Whether subscribers should hear of it."""


async def add_event(session: AsyncSession, dossier: Dossier, fields: EventFields,
                    now: datetime, *, source: str = "api") -> Recorded:
    """Record a status event. It becomes the dossier's status unless an event with a later
    time already did (then it is history only); a `delayed` event also moves `due_at` to its
    new date. Announced when it changes the status, and always for `delayed` and
    `need_more_info` (a new date, a new request) — a late `delayed` still owes the apology."""
    applied = fields.at >= dossier.status_at
    moves_due = fields.status == Status.DELAYED and fields.new_due_at is not None and (
        applied or await _latest_delay_before(session, dossier.id, fields.at))
    event = await _record_event(session, dossier, fields, now, source=source, applied=applied,
                                previous_due_at=dossier.due_at if moves_due else None)
    if event is None:
        return Recorded(None, False)
    changes: dict[str, Any] = {}
    announce = False
    if applied:
        announce = fields.status != dossier.status or fields.status in ALWAYS_ANNOUNCED
        changes.update(status=fields.status, status_at=fields.at)
    elif fields.status == Status.DELAYED:
        announce = True
    if moves_due:
        changes["due_at"] = fields.new_due_at
    if changes:
        changes["updated_at"] = now
        await session.execute(update(Dossier).where(Dossier.id == dossier.id).values(**changes))
        for name, value in changes.items():
            setattr(dossier, name, value)
    return Recorded(event, announce)


async def _latest_delay_before(session: AsyncSession, dossier_id: int, at: datetime) -> bool:
    """True when no other `delayed` event of the dossier is later than `at`."""
    later = await session.scalar(
        select(func.count()).select_from(DossierEvent).where(
            DossierEvent.dossier_id == dossier_id, DossierEvent.status == Status.DELAYED,
            DossierEvent.at > at))
    return not later


async def find_events(session: AsyncSession, dossier_id: int,
                      limit: int = 5) -> list[DossierEvent]:
    """The newest `limit` events, oldest first."""
    rows = list(await session.scalars(
        select(DossierEvent).where(DossierEvent.dossier_id == dossier_id)
        .order_by(DossierEvent.at.desc(), DossierEvent.id.desc()).limit(limit)))
    rows.reverse()
    return rows


async def get_latest_delay(session: AsyncSession, dossier_id: int) -> DossierEvent | None:
    return (await session.scalars(
        select(DossierEvent).where(DossierEvent.dossier_id == dossier_id,
                                   DossierEvent.status == Status.DELAYED)
        .order_by(DossierEvent.at.desc(), DossierEvent.id.desc()).limit(1))).one_or_none()


async def find_overdue(session: AsyncSession, now: datetime, limit: int = 500) -> list[Dossier]:
    """Dossiers past their date that the agency still holds, oldest date first. A `delayed`
    event moves `due_at` to the new date, so each of these is owed a "Phiếu xin lỗi và hẹn
    lại" (again, when a new date passed too): the scheduler's staff alert, keyed on
    (dossier id, due_at) so that each missed date is raised once."""
    return list(await session.scalars(
        select(Dossier).where(Dossier.due_at < now, Dossier.status.not_in(list(NOT_LATE)))
        .order_by(Dossier.due_at, Dossier.id).limit(limit)))


async def find_events_since(session: AsyncSession, since_id: int, statuses: set[str],
                            limit: int = 500) -> list[DossierEvent]:
    """Events after id `since_id` with one of `statuses`, oldest first (scheduler rules such
    as "result returned → survey" scan these)."""
    return list(await session.scalars(
        select(DossierEvent).where(DossierEvent.id > since_id,
                                   DossierEvent.status.in_(list(statuses)))
        .order_by(DossierEvent.id).limit(limit)))


# -- access and subscriptions ---------------------------------------------------------------


async def record_verified(session: AsyncSession, dossier_id: int, citizen_id: int,
                          channel: str, chat_id: str, thread_id: str | None,
                          now: datetime) -> DossierSubscription:
    """This chat passed the second factor for this dossier."""
    inserted = await repositories.insert_ignore(session, DossierSubscription, {
        "dossier_id": dossier_id, "citizen_id": citizen_id, "channel": channel,
        "chat_id": chat_id, "thread_id": thread_id, "verified_at": now, "active": False,
    })
    row = await get_subscription(session, dossier_id, channel, chat_id)
    assert row is not None
    if not inserted:
        await session.execute(update(DossierSubscription)
                              .where(DossierSubscription.id == row.id)
                              .values(verified_at=now, citizen_id=citizen_id))
        row.verified_at = now
    return row


async def get_subscription(session: AsyncSession, dossier_id: int, channel: str,
                           chat_id: str) -> DossierSubscription | None:
    """The chat's access row for the dossier (None if it never proved ownership)."""
    return (await session.scalars(select(DossierSubscription).where(
        DossierSubscription.dossier_id == dossier_id, DossierSubscription.channel == channel,
        DossierSubscription.chat_id == chat_id))).one_or_none()


async def set_subscribed(session: AsyncSession, row: DossierSubscription, active: bool,
                         now: datetime) -> bool:
    """Opt in or out; False when it already was so."""
    if row.active == active:
        return False
    values: dict[str, Any] = {"active": active}
    values["subscribed_at" if active else "unsubscribed_at"] = now
    await session.execute(update(DossierSubscription)
                          .where(DossierSubscription.id == row.id).values(**values))
    for name, value in values.items():
        setattr(row, name, value)
    return True


async def find_subscribers(session: AsyncSession, dossier_id: int) -> list[DossierSubscription]:
    return list(await session.scalars(select(DossierSubscription).where(
        DossierSubscription.dossier_id == dossier_id, DossierSubscription.active.is_(True))
        .order_by(DossierSubscription.id)))


# -- throttling -----------------------------------------------------------------------------


def _lookup_key(code: str) -> str:
    """The code as typed, as failures and locks store it (its key, cut to the column)."""
    return code_key(code)[:MAX_CODE]


@dataclass(frozen=True)
class Guesser:
    """Who typed a code and digits, pseudonymised: the chat's key and, on the web chat, the
    client address's key (None on messengers)."""

    channel: str
    chat_key: str
    origin_key: str | None = None


async def record_lookup_failure(session: AsyncSession, who: Guesser, code: str,
                                now: datetime) -> None:
    session.add(DossierLookupFailure(channel=who.channel, chat_key=who.chat_key,
                                     code_key=_lookup_key(code),
                                     origin_key=who.origin_key, at=now))
    await session.flush()


async def count_lookup_failures(session: AsyncSession, since: datetime, *,
                                chat_key: str | None = None, code: str | None = None,
                                origin_key: str | None = None) -> int:
    """Failures after `since` of one chat, one code or one address (exactly one is given)."""
    column, value = ((DossierLookupFailure.chat_key, chat_key) if chat_key is not None
                     else (DossierLookupFailure.code_key, _lookup_key(code))
                     if code is not None else (DossierLookupFailure.origin_key, origin_key))
    if value is None:
        return 0
    return await session.scalar(
        select(func.count()).select_from(DossierLookupFailure).where(
            column == value, DossierLookupFailure.at > since)) or 0


async def count_guesser_failures(session: AsyncSession, who: Guesser, chat_since: datetime,
                                 origin_since: datetime) -> tuple[int, int]:
    """In one query: the failures of `who`'s chat after `chat_since`, and of its address
    after `origin_since` (0 when it has none)."""
    F = DossierLookupFailure
    of_chat = and_(F.chat_key == who.chat_key, F.at > chat_since)
    if who.origin_key is None:
        return await count_lookup_failures(session, chat_since, chat_key=who.chat_key), 0
    of_origin = and_(F.origin_key == who.origin_key, F.at > origin_since)
    row = (await session.execute(
        select(func.count(case((of_chat, 1))), func.count(case((of_origin, 1))))
        .where(or_(of_chat, of_origin)))).one()
    return int(row[0] or 0), int(row[1] or 0)


async def get_lookup_lock(session: AsyncSession, code: str) -> DossierLookupLock | None:
    """The code's last lock, current or past."""
    return await session.get(DossierLookupLock, _lookup_key(code))


LOOKUP_LOCK_CLASS = 0x6D630001
"""The first key of the PostgreSQL advisory locks that serialize digit checks of one code."""


async def hold_code_checks(session: AsyncSession, code: str) -> None:
    """Until this transaction ends, no other one checks digits for this code, so the lock and
    the failure count it reads next include every earlier check: concurrent guesses cannot
    all pass before the lock is written. PostgreSQL only: a SQLite transaction that writes
    (every update's does, from its first statement) already runs alone."""
    if repositories.dialect_of(session) != "postgresql":
        return
    digest = hashlib.sha256(_lookup_key(code).encode()).digest()
    await session.execute(select(func.pg_advisory_xact_lock(
        LOOKUP_LOCK_CLASS, int.from_bytes(digest[:4], "big", signed=True))))


async def is_code_locked(session: AsyncSession, code: str, now: datetime) -> bool:
    lock = await get_lookup_lock(session, code)
    return lock is not None and lock.until > now


async def lock_code(session: AsyncSession, code: str, now: datetime, until: datetime,
                    failures: int) -> bool:
    """Lock the code until `until`; True when this call started the lock (False when it was
    locked already, by this process or another)."""
    key = _lookup_key(code)
    values = {"locked_at": now, "until": until, "failures": failures}
    if await repositories.insert_ignore(session, DossierLookupLock, {"code_key": key, **values}):
        return True
    result = await session.execute(
        update(DossierLookupLock)
        .where(DossierLookupLock.code_key == key, DossierLookupLock.until <= now)
        .values(**values).execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def purge_lookup_failures(session: AsyncSession, before: datetime) -> int:
    """Forget failures and ended locks older than `before`; returns how many rows."""
    result = await session.execute(
        delete(DossierLookupFailure).where(DossierLookupFailure.at < before))
    locks = await session.execute(
        delete(DossierLookupLock).where(DossierLookupLock.until < before))
    return int(result.rowcount or 0) + int(locks.rowcount or 0)  # type: ignore[attr-defined]
