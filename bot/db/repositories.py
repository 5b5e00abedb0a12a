"""Small data-access helpers shared by the core: dedupe, identities, conversation state.

These run on every inbound update, so they use few round trips: one insert to claim the
update, one joined read of who is writing and where their conversation stands, and writes
only for what changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.models import Citizen, Conversation, Identity, ProcessedUpdate
from bot.db.sql import dialect_of, insert_ignore  # noqa: F401  (also used from here)

SEEN_RESOLUTION = timedelta(minutes=15)
"""last_seen_at is kept to this resolution, so most updates do not rewrite the identity."""


# The statements that run on every update are built once (their SQL is cached by SQLAlchemy,
# but building the statement objects anew is a good part of the per-update cost).
_CLAIM = {
    dialect: insert(ProcessedUpdate)
    .values(key=bindparam("key"), status=bindparam("status"), received_at=bindparam("at"))
    .on_conflict_do_nothing()
    for dialect, insert in (("sqlite", sqlite.insert), ("postgresql", postgresql.insert))
}
_CONVERSATION = and_(Conversation.channel == bindparam("channel"),
                     Conversation.chat_id == bindparam("conversation_id"))
_LOAD_CHAT = (
    select(Identity.id, Identity.citizen_id, Identity.last_seen_at, Identity.chat_id,
           Identity.display_name, Conversation.state, Conversation.data,
           Conversation.chat_id.label("conversation"))
    .outerjoin(Conversation, _CONVERSATION)
    .where(Identity.channel == bindparam("channel"), Identity.user_id == bindparam("user_id"))
)
_LOCK_CONVERSATION = select(Conversation.state, Conversation.data).where(_CONVERSATION) \
    .with_for_update()


async def claim_update(session: AsyncSession, key: str, at: datetime,
                       status: str = "handled") -> bool:
    """Record an inbound update; False if it was already handled (a duplicate delivery)."""
    connection = await session.connection()
    result = await connection.execute(_CLAIM[connection.dialect.name],
                                      {"key": key, "status": status, "at": at})
    return bool(result.rowcount)


@dataclass
class ChatState:
    """Who is writing (their citizen id) and the stored conversation of the chat."""

    citizen_id: int
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    exists: bool = False


async def load_chat(
    session: AsyncSession, channel: str, user_id: str, chat_id: str, name: str, at: datetime,
    *, conversation_id: str | None = None,
) -> ChatState:
    """The writer's identity (created with a new citizen on first contact, refreshed when
    stale) and the chat's conversation, locked for this transaction on PostgreSQL so two
    processes handling the same chat take turns (SQLite serialises writers anyway)."""
    keys = {"channel": channel, "user_id": user_id, "conversation_id": conversation_id or chat_id}
    connection = await session.connection()
    row = (await connection.execute(_LOAD_CHAT, keys)).one_or_none()
    if row is None:
        citizen_id = await _new_identity(session, channel, user_id, chat_id, name, at)
        chat = ChatState(citizen_id)
        conversation_exists = False
    else:
        changes: dict[str, Any] = {}
        if at - row.last_seen_at > SEEN_RESOLUTION:
            changes["last_seen_at"] = at
        if row.chat_id != chat_id:
            changes["chat_id"] = chat_id
        if name and row.display_name != name:
            changes["display_name"] = name
        if changes:
            await session.execute(update(Identity).where(Identity.id == row.id).values(**changes))
        chat = ChatState(row.citizen_id, row.state, dict(row.data or {}),
                         row.conversation is not None)
        conversation_exists = chat.exists
    if connection.dialect.name == "postgresql":
        if not conversation_exists:
            await insert_ignore(session, Conversation, {
                "channel": channel, "chat_id": keys["conversation_id"], "data": {}})
        locked = (await connection.execute(_LOCK_CONVERSATION, keys)).one()
        chat.state, chat.data, chat.exists = locked.state, dict(locked.data or {}), True
    return chat


async def save_conversation(session: AsyncSession, channel: str, chat_id: str,
                            chat: ChatState, state: str | None, data: dict[str, Any],
                            at: datetime) -> None:
    """Store the conversation if it changed."""
    if chat.exists and state == chat.state and data == chat.data:
        return
    if chat.exists:
        await session.execute(
            update(Conversation)
            .where(Conversation.channel == channel, Conversation.chat_id == chat_id)
            .values(state=state, data=data, updated_at=at)
        )
    elif state is not None or data:
        await insert_ignore(session, Conversation, {"channel": channel, "chat_id": chat_id,
                                                    "state": state, "data": data,
                                                    "updated_at": at})


async def _new_identity(session: AsyncSession, channel: str, user_id: str, chat_id: str,
                        name: str, at: datetime) -> int:
    citizen = Citizen(display_name=name, created_at=at)
    session.add(citizen)
    await session.flush()
    session.add(Identity(citizen_id=citizen.id, channel=channel, user_id=user_id,
                         chat_id=chat_id, display_name=name, first_seen_at=at, last_seen_at=at))
    await session.flush()
    return citizen.id


async def remember_menu(session: AsyncSession, channel: str, chat_id: str,
                        actions: list[str]) -> None:
    """Store the numbered options last shown in a chat (see Core numbered menus). The core
    may be handling a message of the same chat at this moment: the write only lands on the
    row as it was read (compare-and-set on `updated_at`), so it never undoes a step."""
    conversation = and_(Conversation.channel == channel, Conversation.chat_id == chat_id)
    query = select(Conversation.data, Conversation.updated_at).where(conversation)
    if dialect_of(session) == "postgresql":
        query = query.with_for_update()
    for _ in range(3):
        row = (await session.execute(query)).one_or_none()
        if row is None:
            if await insert_ignore(session, Conversation, {
                    "channel": channel, "chat_id": chat_id, "data": {"menu": actions}}):
                return
            continue
        result = await session.execute(
            update(Conversation)
            .where(conversation, Conversation.updated_at == row.updated_at)
            .values(data={**(row.data or {}), "menu": actions}, updated_at=utcnow()))
        if result.rowcount:  # type: ignore[attr-defined]
            return
