"""Personal-data chores: the chats a citizen uses, cancelling messages they no longer want,
deleting a citizen's data on request (Law 91/2025/QH15) — leaving an audit entry that names
nobody —, pseudonymising the ids kept in security records, and the retention purge.

What deletion keeps, and why (also told to the citizen, handlers/texts/privacy.j2):
- a complaint's content and outcome, for the legal period, without who sent it: the personal
  fields are emptied and phone numbers, ID numbers, e-mail addresses and the citizen's name
  are redacted from its text and its messages;
- ratings of surveys, without who gave them or their comment;
- security records (failed dossier lookups and their audit entries): already pseudonymised
  by a keyed hash of the chat when written, kept `RETENTION_DAYS_SECURITY` days, so deleting
  one's data never resets a throttle.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db import dossiers, feedback
from bot.db import scheduler as store
from bot.db.models import (
    AuditLog,
    ButtonPayload,
    Citizen,
    Conversation,
    Identity,
    OutboxMessage,
    ProcessedUpdate,
    WebMessage,
    WebPhoto,
)

REDACTED = "[đã xóa]"

SECURITY_ACTIONS = ("dossier.lookup_failed", "dossier.throttled", "dossier.code_locked",
                    "staff.login", "staff.locked")
"""Audit entries that are security records, purged after `RETENTION_DAYS_SECURITY` days:
failed dossier lookups (pseudonymised) and the web desk's logins and lockouts (what staff
did with tickets is kept)."""


def pseudonym(secret: bytes, kind: str, value: str) -> str:
    """A keyed hash (HMAC-SHA256 with `SECRET_KEY`, 128 bits in hex) standing for an id in
    security records: the same id always gives the same key, and nobody without the secret
    can tell whose it is or recompute it from a guess."""
    return hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


def chat_pseudonym(secret: bytes, channel: str, chat_id: str) -> str:
    return pseudonym(secret, "chat", f"{channel}:{chat_id}")


# -- redaction of free text -----------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NUMBERS = re.compile(r"(?<![\w+])\+?\d+(?:[ .\-]\d+)*(?!\w)")
_SEPARATOR = re.compile(r"[ .\-]")


def _is_personal_number(digits: str) -> bool:
    """A Vietnamese phone number (mobile or landline, 0…, 84…, +84…) or an ID number (CMND 9
    digits, CCCD 12 digits)."""
    if digits.startswith("+"):
        return digits.startswith("+84") and 9 <= len(digits) - 3 <= 10
    if digits.startswith("84") and len(digits) in (11, 12):
        return True
    if digits.startswith("0") and len(digits) in (10, 11):
        return True
    return len(digits) in (9, 12)


def _redact_numbers(match: re.Match[str]) -> str:
    """Within a run of digit groups ("0912 345 678 và 001…" gives one run per number, "0912
    345 678" one run of three groups), the longest consecutive groups that form a personal
    number are replaced, left to right."""
    run = match.group(0)
    spans = [(m.start(), m.end()) for m in re.finditer(r"\+?\d+", run)]
    out: list[str] = []
    done = 0
    i = 0
    while i < len(spans):
        for j in range(len(spans), i, -1):
            digits = "".join(run[a:b] for a, b in spans[i:j])
            if _is_personal_number(digits):
                out.append(run[done:spans[i][0]] + REDACTED)
                done = spans[j - 1][1]
                i = j
                break
        else:
            i += 1
    out.append(run[done:])
    return "".join(out)


def redact(text: str, names: Iterable[str] = ()) -> str:
    """`text` without e-mail addresses, phone and ID numbers, and the given names (whole
    words, any case; names of one short word are left, they are ordinary words too)."""
    if not text:
        return text
    text = unicodedata.normalize("NFC", text)
    text = _EMAIL.sub(REDACTED, text)
    text = _NUMBERS.sub(_redact_numbers, text)
    for name in sorted({unicodedata.normalize("NFC", n).strip() for n in names if n},
                       key=len, reverse=True):
        if len(name.split()) >= 2 or len(name) >= 6:
            pattern = r"\s+".join(re.escape(word) for word in name.split())
            text = re.sub(rf"(?<!\w){pattern}(?!\w)", REDACTED, text, flags=re.IGNORECASE)
    return text


PURPOSE_ROWS = {
    store.STATUS: ("dossier_status", "reminder"),
    store.LETTERS: ("letter",),
    store.SURVEYS: ("survey",),
    store.NOTICES: ("notice",),
}
"""Outbox purposes each consent covers."""


async def find_chats(session: AsyncSession, citizen_id: int) -> set[tuple[str, str]]:
    """Every (channel, chat_id) the citizen writes from or receives messages in."""
    chats: set[tuple[str, str]] = set((await session.execute(
        select(Identity.channel, Identity.chat_id).where(Identity.citizen_id == citizen_id)
    )).all())
    chats |= set((await session.execute(
        select(dossiers.DossierSubscription.channel, dossiers.DossierSubscription.chat_id)
        .where(dossiers.DossierSubscription.citizen_id == citizen_id))).all())
    chats |= set((await session.execute(
        select(store.CommuneSubscription.channel, store.CommuneSubscription.chat_id)
        .where(store.CommuneSubscription.citizen_id == citizen_id))).all())
    return chats


def _to_chats(chats: Iterable[tuple[str, str]]) -> object:
    return or_(*(and_(OutboxMessage.channel == channel, OutboxMessage.chat_id == chat_id)
                 for channel, chat_id in chats))


async def cancel_pending(session: AsyncSession, citizen_id: int, purpose: str) -> int:
    """Withdrawn consent: messages of that purpose still waiting for the citizen end
    `failed` ("consent withdrawn"); returns how many."""
    chats = await find_chats(session, citizen_id)
    if not chats:
        return 0
    result = await session.execute(
        update(OutboxMessage)
        .where(_to_chats(chats),  # type: ignore[arg-type]
               OutboxMessage.purpose.in_(PURPOSE_ROWS[purpose]),
               OutboxMessage.status == "pending")
        .values(status="failed", last_error="consent withdrawn"))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def find_citizens_by_chat(session: AsyncSession, channel: str,
                                chat_id: str) -> list[int]:
    """The citizens who write from, or receive messages in, this chat."""
    found: set[int] = set(await session.scalars(select(Identity.citizen_id).where(
        Identity.channel == channel, Identity.chat_id == chat_id)))
    for model in (dossiers.DossierSubscription, store.CommuneSubscription):
        found |= set(await session.scalars(select(model.citizen_id).where(
            model.channel == channel, model.chat_id == chat_id)))
    return sorted(found)


async def forget_citizen(session: AsyncSession, citizen_id: int, now: datetime, *,
                         by: str = "citizen") -> dict[str, int]:
    """Delete the citizen's data: identities, conversations, web-chat messages, outbox rows
    to their chats, the dedupe keys that carry their chat id, consents and their log,
    subscriptions; tickets keep their content for the record but lose every personal field,
    and phone numbers, ID numbers, e-mails and the citizen's names are redacted from their
    text, their messages and their copies in the staff group's outbox rows; surveys keep the
    ratings (for statistics) but not who gave them or the comment; the audit entries of their
    actions are made anonymous. Security records (failed lookups, already pseudonymised) are
    left alone: deleting one's data never resets a throttle. One audit entry records the
    deletion, with counts only."""
    chats = await find_chats(session, citizen_id)
    counts: dict[str, int] = {}

    async def run(name: str, statement: object) -> None:
        result = await session.execute(statement)  # type: ignore[call-overload]
        counts[name] = counts.get(name, 0) + int(result.rowcount or 0)

    identities = list((await session.execute(
        select(Identity.channel, Identity.user_id, Identity.display_name).where(
            Identity.citizen_id == citizen_id))).all())
    names = {name for _, _, name in identities if name}
    citizen = await session.get(Citizen, citizen_id)
    if citizen is not None and citizen.display_name:
        names.add(citizen.display_name)
    for channel, chat_id in chats:
        await run("conversations", delete(Conversation).where(
            Conversation.channel == channel,
            or_(Conversation.chat_id == chat_id, Conversation.chat_id.like(f"%:{chat_id}"),
                Conversation.chat_id.like(f"{chat_id}:%"))))
        if channel == "web":
            await run("web_messages", delete(WebMessage).where(WebMessage.chat_id == chat_id))
            await run("web_photos", delete(WebPhoto).where(WebPhoto.chat_id == chat_id))
    prefixes = {f"{channel}:{chat_id}:" for channel, chat_id in chats if channel == "web"}
    for channel, user, _ in identities:  # keys naming the sender: console, Zalo OA follows
        if channel == "web":
            prefixes.add(f"web:{user}:")
        elif channel == "console":
            prefixes.add(f"console:{user}:")
        elif channel == "zalo_oa":
            prefixes.add(f"zalo_oa:follow:{user}:")
    for prefix in sorted(prefixes):
        await run("processed_updates", delete(ProcessedUpdate).where(
            ProcessedUpdate.key.startswith(prefix, autoescape=True)))
    if chats:
        await run("outbox", delete(OutboxMessage).where(_to_chats(chats)))  # type: ignore[arg-type]
    actors = [f"{channel}:{user}" for channel, user, _ in identities]
    if actors:
        await run("audit_redacted", update(AuditLog).where(AuditLog.actor.in_(actors))
                  .values(actor="deleted-citizen", detail={}))
    tickets = list(await session.scalars(select(feedback.Ticket).where(
        feedback.Ticket.citizen_id == citizen_id)))
    names |= {t.contact_name for t in tickets if t.contact_name}
    if tickets:
        await _redact_tickets(session, tickets, names, counts)
    await run("surveys", update(store.Survey).where(store.Survey.citizen_id == citizen_id)
              .values(citizen_id=None, comment=None))
    for model in (store.ConsentLog, store.Consent, store.CommuneSubscription,
                  dossiers.DossierSubscription, Identity):
        await run(model.__tablename__, delete(model).where(
            model.citizen_id == citizen_id))
    await run("citizens", delete(Citizen).where(Citizen.id == citizen_id))
    session.add(AuditLog(at=now, actor=by, action="privacy.forget", target="",
                         result="ok", detail={k: v for k, v in counts.items() if v}))
    return counts


async def _redact_tickets(session: AsyncSession, tickets: list[feedback.Ticket],
                          names: set[str], counts: dict[str, int]) -> None:
    """A complaint stays on record without who sent it: personal fields emptied, personal
    data redacted from its text, every message of it and the staff group's copies."""
    ids = [t.id for t in tickets]
    for ticket in tickets:
        await session.execute(update(feedback.Ticket).where(feedback.Ticket.id == ticket.id)
                              .values(citizen_id=None, chat_id="", contact_name=None,
                                      contact_phone=None, latitude=None, longitude=None,
                                      anonymous=True,
                                      description=redact(ticket.description, names)))
    counts["tickets"] = len(tickets)
    messages = list(await session.scalars(select(feedback.TicketMessage).where(
        feedback.TicketMessage.ticket_id.in_(ids))))
    for message in messages:
        values: dict[str, Any] = {"text": redact(message.text, names)}
        if message.author == "citizen":
            values.update(author_name="", attachments=[])
        await session.execute(update(feedback.TicketMessage)
                              .where(feedback.TicketMessage.id == message.id).values(**values))
    counts["ticket_messages"] = len(messages)
    copies = list(await session.scalars(select(OutboxMessage).where(
        OutboxMessage.ref.in_([f"ticket:{i}" for i in ids]))))
    for row in copies:
        payload = dict(row.payload or {})
        payload["text"] = redact(str(payload.get("text") or ""), names)
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id)
                              .values(payload=payload))
    counts["outbox_redacted"] = len(copies)


# -- retention ------------------------------------------------------------------------------


def retention(settings: Settings) -> dict[str, int]:
    """Days each kind of record is kept (the settings `RETENTION_DAYS_*`)."""
    return {
        "processed_updates": settings.retention_days_processed_updates,
        "outbox": settings.retention_days_outbox,
        "web_messages": settings.retention_days_web_messages,
        "security": settings.retention_days_security,
        "button_payloads": settings.retention_days_button_payloads,
    }


async def purge_expired(session: AsyncSession, settings: Settings,
                        now: datetime) -> dict[str, int]:
    """Delete what has outlived its retention period; returns how many rows of each kind.
    Outbox rows still pending or being sent are never purged, whatever their age."""
    days = retention(settings)

    def before(kind: str) -> datetime:
        return now - timedelta(days=days[kind])

    counts: dict[str, int] = {}

    async def run(name: str, statement: object) -> None:
        result = await session.execute(statement)  # type: ignore[call-overload]
        counts[name] = counts.get(name, 0) + int(result.rowcount or 0)

    await run("processed_updates", delete(ProcessedUpdate).where(
        ProcessedUpdate.received_at < before("processed_updates")))
    await run("outbox", delete(OutboxMessage).where(
        OutboxMessage.status.in_(("sent", "failed")),
        OutboxMessage.created_at < before("outbox")))
    await run("web_messages", delete(WebMessage).where(
        WebMessage.created_at < before("web_messages")))
    counts["lookup_failures"] = await dossiers.purge_lookup_failures(session, before("security"))
    await run("audit_security", delete(AuditLog).where(
        AuditLog.action.in_(SECURITY_ACTIONS), AuditLog.at < before("security")))
    await run("button_payloads", delete(ButtonPayload).where(
        ButtonPayload.created_at < before("button_payloads")))
    return counts
