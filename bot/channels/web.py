"""The web chat: citizens chat from the portal page; the conversation is kept by a session.

Sessions are issued by the server only: the cookie is a random secret signed with
`SECRET_KEY` (itsdangerous), and the `web_sessions` table maps the secret's hash to the chat.
A cookie the server did not sign, or whose row is gone (rotated after a dossier was unlocked,
or idle longer than `WEB_SESSION_IDLE_DAYS`), opens nothing. Rows are written only when a
conversation starts, never for a page load or a history poll.

Replies and proactive messages are both stored in `web_messages`, so the page shows the
history after a reload and picks up outbox messages by polling.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy import Text, cast, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import WebMessage, WebPhoto, WebSession
from bot.db.session import Database
from bot.messages import Attachment, ChatRef, Incoming, Outgoing
from bot.router import Core

log = logging.getLogger(__name__)

HISTORY_LIMIT = 200
PHOTO_PREFIX = "web:"
"""A web photo's file id: "web:<web_photos.id>"."""
PHOTO_LABEL = "(Ảnh đính kèm)"
"""The citizen's side of the history for a photo they sent."""
PHOTO_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}


def photo_type(data: bytes) -> str | None:
    """The image type the bytes really are (JPEG, PNG, WebP), whatever the request claims."""
    for magic, kind in PHOTO_TYPES.items():
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


async def get_photo(session: AsyncSession, file_id: str | None) -> WebPhoto | None:
    """The stored photo a "web:<id>" file id names, or None."""
    number = (file_id or "").removeprefix(PHOTO_PREFIX)
    if not (file_id or "").startswith(PHOTO_PREFIX) or not number.isascii() or \
            not number.isdigit() or len(number) > 18:
        return None
    return await session.get(WebPhoto, int(number))
SESSION_REFRESH = timedelta(hours=1)
"""A session's last use (and its cookie) is renewed at most this often, so polls stay reads."""
PURGE_EVERY = timedelta(hours=1)
COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_.-]{20,200}$")
"""What a cookie we signed looks like; anything else (odd bytes included) is not looked at."""


def sid_hash(sid: str) -> str:
    """The session secret as stored: a database dump holds no usable session."""
    return hashlib.sha256(sid.encode()).hexdigest()


@dataclass(frozen=True)
class WebSessionRef:
    """A visitor's session: its secret (what the cookie signs) and its chat."""

    sid: str
    chat_id: str
    new: bool = False
    """Not stored yet: it is, together with the first message's rows."""
    renew_cookie: bool = False


@dataclass
class Conversed:
    """What one message from the page gave: the stored replies, the newest id of the chat, and
    the session to continue with (a new one after a dossier was unlocked)."""

    messages: list[dict[str, Any]]
    last_id: int
    session: WebSessionRef


class _ClockSigner(TimestampSigner):
    """Signs with the service clock, so idle lifetimes follow an injected clock in tests."""

    def __init__(self, secret: bytes, clock: Callable[[], datetime]) -> None:
        super().__init__(secret, salt="motcua.web-chat.session")
        self.clock = clock

    def get_timestamp(self) -> int:
        return int(self.clock().timestamp())


class WebSessions:
    """Issue, find, renew and rotate web-chat sessions."""

    def __init__(self, db: Database, secret: Callable[[], bytes], idle: timedelta,
                 clock: Callable[[], datetime]) -> None:
        self.db = db
        self._secret = secret
        self.idle = idle
        self.clock = clock
        self._purged_at: datetime | None = None

    @cached_property
    def signer(self) -> _ClockSigner:
        return _ClockSigner(self._secret(), self.clock)

    def cookie(self, session: WebSessionRef) -> str:
        return self.signer.sign(session.sid).decode()

    def begin(self) -> WebSessionRef:
        """A new session, stored only once its first message is."""
        return WebSessionRef(secrets.token_urlsafe(32), "w" + secrets.token_hex(12), new=True,
                             renew_cookie=True)

    async def find(self, cookie: str | None,
                   session: AsyncSession | None = None) -> WebSessionRef | None:
        """The live session the cookie opens, or None (not ours, rotated, idle, garbage); in
        `session` when given, else in a transaction of its own."""
        if not cookie or not COOKIE_VALUE.match(cookie):
            return None
        try:
            sid = self.signer.unsign(cookie, max_age=int(self.idle.total_seconds())).decode()
        except BadSignature:  # also expired signatures
            return None
        if session is not None:
            return await self._open(session, sid)
        async with self.db.session() as own:
            return await self._open(own, sid)

    async def _open(self, session: AsyncSession, sid: str) -> WebSessionRef | None:
        now = self.clock()
        row = await session.get(WebSession, sid_hash(sid))
        if row is None or now - row.last_seen_at > self.idle:
            return None
        renew = now - row.last_seen_at >= SESSION_REFRESH
        if renew:
            row.last_seen_at = now
        return WebSessionRef(sid, row.chat_id, renew_cookie=renew)

    def store(self, session: AsyncSession, ref: WebSessionRef) -> None:
        now = self.clock()
        session.add(WebSession(sid_hash=sid_hash(ref.sid), chat_id=ref.chat_id, created_at=now,
                               last_seen_at=now))

    async def rotate(self, ref: WebSessionRef) -> WebSessionRef:
        """A new secret for the same chat; the old cookie opens nothing from now on."""
        fresh = WebSessionRef(secrets.token_urlsafe(32), ref.chat_id, renew_cookie=True)
        async with self.db.session() as session:
            await session.execute(delete(WebSession).where(
                WebSession.sid_hash == sid_hash(ref.sid)))
            self.store(session, fresh)
        return fresh

    async def purge_idle(self) -> int:
        """Drop sessions idle past their lifetime (at most once per `PURGE_EVERY`)."""
        now = self.clock()
        if self._purged_at is not None and now - self._purged_at < PURGE_EVERY:
            return 0
        self._purged_at = now
        async with self.db.session() as session:
            result = await session.execute(
                delete(WebSession).where(WebSession.last_seen_at < now - self.idle))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def as_json(row_id: int, payload: Any) -> dict[str, Any] | None:
    """A stored message as the page shows it; None when the row is not a message we wrote."""
    if not isinstance(payload, dict):
        return None
    sender, text, rows = payload.get("from", "bot"), payload.get("text", ""), payload.get(
        "buttons") or []
    if sender not in ("bot", "user") or not isinstance(text, str) or not isinstance(rows, list):
        return None
    buttons: list[list[dict[str, Any]]] = []
    for row in rows:
        if not isinstance(row, list):
            return None
        shown = []
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("label"), str):
                return None
            shown.append({key: button.get(key) for key in ("label", "action", "url")
                          if isinstance(button.get(key), str) or key == "label"})
        buttons.append(shown)
    return {"id": row_id, "from": sender, "text": text, "buttons": buttons}


class WebChannel:
    name = "web"
    status = "ok"

    def __init__(self, core: Core, db: Database) -> None:
        self.core = core
        self.db = db
        settings = core.settings
        self.sessions = WebSessions(db, lambda: settings.secret,
                                    timedelta(days=settings.web_session_idle_days), core.clock)

    async def send(self, chat: ChatRef, message: Outgoing) -> str | None:
        async with self.db.session() as session:
            row = WebMessage(chat_id=chat.chat_id, payload={"from": "bot", **message.to_dict()})
            session.add(row)
            await session.flush()
            return str(row.id)

    async def converse(
        self, visitor: WebSessionRef, *, text: str = "", action: str | None = None,
        label: str | None = None, client_id: str | None = None, origin: str | None = None,
        attachments: list[Attachment] | None = None,
    ) -> Conversed:
        """Handle one message from the page; gives the bot's replies as stored and the id of
        the newest stored message of this chat (the citizen's own included). A new session is
        stored with the replies; one that unlocked a dossier is rotated."""
        chat_id = visitor.chat_id
        msg = Incoming(
            channel="web", chat_id=chat_id, user_id=chat_id,
            update_key=f"web:{chat_id}:{client_id or uuid.uuid4().hex}",
            text=text, action=action, origin=origin, attachments=attachments or [],
        )
        shown = label if action or attachments else msg.text
        last_id = 0
        if shown and not shown.startswith("/"):
            async with self.db.session() as session:
                own = WebMessage(chat_id=chat_id, payload={"from": "user", "text": shown})
                session.add(own)
                await session.flush()
                last_id = own.id
        replies = await self.core.handle(msg)
        async with self.db.session() as session:
            if visitor.new:
                self.sessions.store(session, visitor)
            rows = [WebMessage(chat_id=chat_id, payload={"from": "bot", **reply.to_dict()})
                    for reply in replies]
            session.add_all(rows)
            await session.flush()
            shown_rows = [as_json(row.id, row.payload) for row in rows]
            last_id = max([last_id] + [row.id for row in rows])
        if visitor.new:
            await self.sessions.purge_idle()
        result = Conversed([m for m in shown_rows if m is not None], last_id, visitor)
        if msg.unlocked and not visitor.new:  # a new session's cookie was never out yet
            result.session = await self.sessions.rotate(visitor)
        return result

    async def photo(self, visitor: WebSessionRef, data: bytes, content_type: str,
                    client_id: str | None = None) -> Conversed:
        """A checked photo from the page: stored, then handled as a photo message (the
        feedback flow keeps it like a Telegram photo: `web:<id>`)."""
        async with self.db.session() as session:
            row = WebPhoto(chat_id=visitor.chat_id, content_type=content_type, data=data,
                           created_at=self.core.clock())
            session.add(row)
            await session.flush()
            file_id = f"{PHOTO_PREFIX}{row.id}"
        return await self.converse(visitor, label=PHOTO_LABEL, client_id=client_id,
                                   attachments=[Attachment("photo", file_id=file_id)])

    async def poll(self, cookie: str | None, after: int
                   ) -> tuple[WebSessionRef | None, list[dict[str, Any]], int]:
        """The session the cookie opens (None: no messages) and its chat's messages after id
        `after`, oldest first; for `after=0` the newest page of them. Also the newest id looked
        at, so a skipped (corrupt) row is not fetched again. One transaction: polls are the web
        chat's most frequent request."""
        newest_first = after == 0
        async with self.db.session() as session:
            visitor = await self.sessions.find(cookie, session)
            if visitor is None:
                return None, [], after
            rows = list((await session.execute(
                select(WebMessage.id, cast(WebMessage.payload, Text))
                .where(WebMessage.chat_id == visitor.chat_id, WebMessage.id > after)
                .order_by(WebMessage.id.desc() if newest_first else WebMessage.id)
                .limit(HISTORY_LIMIT)
            )).all())
        if newest_first:
            rows.reverse()
        messages = []
        for row_id, raw in rows:
            try:
                message = as_json(row_id, json.loads(raw) if raw is not None else None)
            except ValueError:
                message = None
            if message is None:
                log.warning("web chat: message %s is not readable and is skipped", row_id)
                continue
            messages.append(message)
        return visitor, messages, max([after] + [row_id for row_id, _ in rows])
