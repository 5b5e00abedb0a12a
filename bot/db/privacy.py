"""Personal-data chores: the chats a citizen uses, cancelling messages they no longer want,
and deleting a citizen's data on request (Law 91/2025/QH15), leaving an audit entry that
names nobody."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import dossiers, feedback
from bot.db import scheduler as store
from bot.db.models import AuditLog, Citizen, Conversation, Identity, OutboxMessage, WebMessage

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


async def forget_citizen(session: AsyncSession, citizen_id: int, now: datetime) -> dict[str, int]:
    """Delete the citizen's data: identities, conversations, web-chat messages, outbox rows
    to their chats, consents and their log, subscriptions, lookup failures; tickets keep
    their content for the record but lose every personal field; surveys keep the ratings
    (for statistics) but not who gave them or the comment; the security log's entries about
    them are made anonymous. One audit entry records the deletion, with counts only."""
    chats = await find_chats(session, citizen_id)
    counts: dict[str, int] = {}

    async def run(name: str, statement: object) -> None:
        result = await session.execute(statement)  # type: ignore[call-overload]
        counts[name] = counts.get(name, 0) + int(result.rowcount or 0)

    user_ids = list((await session.execute(select(Identity.channel, Identity.user_id).where(
        Identity.citizen_id == citizen_id))).all())
    for channel, chat_id in chats:
        await run("conversations", delete(Conversation).where(
            Conversation.channel == channel,
            or_(Conversation.chat_id == chat_id, Conversation.chat_id.like(f"%:{chat_id}"),
                Conversation.chat_id.like(f"{chat_id}:%"))))
        if channel == "web":
            await run("web_messages", delete(WebMessage).where(WebMessage.chat_id == chat_id))
        await run("lookup_failures", delete(dossiers.DossierLookupFailure).where(
            dossiers.DossierLookupFailure.channel == channel,
            dossiers.DossierLookupFailure.chat_id == chat_id))
    if chats:
        await run("outbox", delete(OutboxMessage).where(_to_chats(chats)))  # type: ignore[arg-type]
    actors = [f"{channel}:{user}" for channel, user in user_ids]
    if actors:
        await run("audit_redacted", update(AuditLog).where(AuditLog.actor.in_(actors))
                  .values(actor="deleted-citizen", detail={}))
    ticket_ids = list(await session.scalars(select(feedback.Ticket.id).where(
        feedback.Ticket.citizen_id == citizen_id)))
    if ticket_ids:
        await run("tickets", update(feedback.Ticket).where(feedback.Ticket.id.in_(ticket_ids))
                  .values(citizen_id=None, chat_id="", contact_name=None, contact_phone=None,
                          latitude=None, longitude=None, anonymous=True))
        await run("ticket_messages", update(feedback.TicketMessage).where(
            feedback.TicketMessage.ticket_id.in_(ticket_ids),
            feedback.TicketMessage.author == "citizen").values(author_name="", attachments=[]))
    await run("surveys", update(store.Survey).where(store.Survey.citizen_id == citizen_id)
              .values(citizen_id=None, comment=None))
    for model in (store.ConsentLog, store.Consent, store.CommuneSubscription,
                  dossiers.DossierSubscription, Identity):
        await run(model.__tablename__, delete(model).where(
            model.citizen_id == citizen_id))  # type: ignore[attr-defined]
    await run("citizens", delete(Citizen).where(Citizen.id == citizen_id))
    session.add(AuditLog(at=now, actor="citizen", action="privacy.forget", target="",
                         result="ok", detail={k: v for k, v in counts.items() if v}))
    return counts
