"""The core database tables (SQLAlchemy 2 declarative): citizens and their chats, the outbox,
the web chat, the catalogue, the audit log. Schema changes go through Alembic migrations;
bot/db/schema.py gathers these and the feature modules' tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import (
    Base,
    Id,
    UTCDateTime,  # noqa: F401  (the migrations name bot.db.models.UTCDateTime)
    utcnow,
)


class Citizen(Base):
    """A person, who may reach us on several channels."""

    __tablename__ = "citizens"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    commune_code: Mapped[str | None] = mapped_column(String(20))
    """The commune the citizen said they live in (its counter answers their questions)."""


class Identity(Base):
    """One channel account of a citizen (a Telegram user, a Zalo user, a web-chat cookie)."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "user_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(String(100))
    chat_id: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    """Where a chat stands in a multi-step flow; survives restarts, shared by processes."""

    __tablename__ = "conversations"
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ProcessedUpdate(Base):
    """Each inbound platform update, by its dedupe key: handled once even if delivered twice."""

    __tablename__ = "processed_updates"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="handled")
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ButtonPayload(Base):
    """Button actions too long for a platform's callback field, stored under a short id."""

    __tablename__ = "button_payloads"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    action: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """A proactive message waiting for, or done with, the paced sender."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "channel", "status", "not_before"),
        # by ref, and a ref's rows by status: whether a notice's rows are all done is a
        # look-up, not a count over its tens of thousands of rows each scheduler round
        Index("ix_outbox_ref_status", "ref", "status"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(100))
    thread_id: Mapped[str | None] = mapped_column(String(50))
    is_group: Mapped[bool] = mapped_column(default=False)
    purpose: Mapped[str] = mapped_column(String(40), default="message")
    payload: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="pending")
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    platform_message_id: Mapped[str | None] = mapped_column(String(100))
    ref: Mapped[str | None] = mapped_column(String(60))
    """What the message is about (e.g. "ticket:12"), to map platform replies back to it."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column()


class SenderLease(Base):
    """Who holds the sender role of a channel; pacing is global, so one process sends."""

    __tablename__ = "sender_leases"
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column()


class WebMessage(Base):
    """Messages for a web-chat visitor, fetched by the page (proactive ones included)."""

    __tablename__ = "web_messages"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    chat_id: Mapped[str] = mapped_column(String(100), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class WebPhoto(Base):
    """A photo a web-chat visitor uploaded (type and size checked), kept here as Telegram
    keeps the photos sent there; a ticket refers to it as `web:<id>`."""

    __tablename__ = "web_photos"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    chat_id: Mapped[str] = mapped_column(String(100), index=True)
    content_type: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A web-chat session: the hash of the secret in the visitor's signed cookie, and the chat
    it opens. Written when a conversation starts; a rotated or idle session's row is gone, so
    its cookie opens nothing."""

    __tablename__ = "web_sessions"
    sid_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column(index=True)


class ProcedureImport(Base):
    """One run of an importer: what came in, what changed, what could not be parsed."""

    __tablename__ = "procedure_imports"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    total: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    problems: Mapped[list[Any]] = mapped_column(default=list)


class ProcedureRecord(Base):
    """A procedure of the catalogue; `data` holds the full structured record."""

    __tablename__ = "procedures"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    field: Mapped[str] = mapped_column(String(300), default="")
    levels: Mapped[list[Any]] = mapped_column(default=list)
    popularity: Mapped[float] = mapped_column(Float, default=0.0)
    source: Mapped[str] = mapped_column(String(40), default="snapshot")
    data: Mapped[dict[str, Any]] = mapped_column()
    content_hash: Mapped[str] = mapped_column(String(64))
    import_id: Mapped[int | None] = mapped_column(ForeignKey("procedure_imports.id"))
    data_date: Mapped[str | None] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LexiconRow(Base):
    """An entry of the search lexicon an official imported (:mod:`procedures.lexicon`); while
    no lexicon was ever imported the bundled one is used."""

    __tablename__ = "lexicon_entries"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    field: Mapped[str] = mapped_column(String(300), default="")
    kind: Mapped[str] = mapped_column(String(10))
    citizen: Mapped[str] = mapped_column(String(200))
    official: Mapped[str] = mapped_column(Text)
    import_id: Mapped[int] = mapped_column(ForeignKey("procedure_imports.id"))


class AuditLog(Base):
    """Append-only record of security events and staff actions."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(150))
    action: Mapped[str] = mapped_column(String(80))
    target: Mapped[str] = mapped_column(String(200), default="")
    result: Mapped[str] = mapped_column(String(40), default="ok")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
