"""Small data-access helpers shared by the core: dedupe, identities, conversation state.

These run on every inbound update, so they use few round trips: one insert to claim the
update, one joined read of who is writing and where their conversation stands, and writes
only for what changed. The core runs them as plain functions on the update's connection
(`AsyncConnection.run_sync`): one trip from the event loop for the claim and the read, one
for the writes, instead of one per statement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.models import ButtonPayload, Citizen, Conversation, Identity, ProcessedUpdate
from bot.db.sql import dialect_of, insert_ignore, insert_ignoring  # noqa: F401  (also used from here)

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
_SAVE_CONVERSATION = update(Conversation).where(
    Conversation.channel == bindparam("in_channel"), Conversation.chat_id == bindparam("in_chat")
).values(state=bindparam("new_state"), data=bindparam("new_data"), updated_at=bindparam("at"))
_NEW_CITIZEN = insert(Citizen).returning(Citizen.id)
_NEW_IDENTITY = insert(Identity)


async def claim_update(session: AsyncSession, key: str, at: datetime,
                       status: str = "handled") -> bool:
    """Record an inbound update; False if it was already handled (a duplicate delivery)."""
    connection = await session.connection()
    return await connection.run_sync(claim, key, at, status)


def claim(connection: Connection, key: str, at: datetime, status: str = "handled") -> bool:
    """`claim_update` on a connection."""
    result = connection.execute(_CLAIM[connection.dialect.name],
                                {"key": key, "status": status, "at": at})
    return bool(result.rowcount)


@dataclass
class ChatState:
    """Who is writing (their citizen id) and the stored conversation of the chat."""

    citizen_id: int
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    exists: bool = False


def open_update(connection: Connection, key: str, channel: str, user_id: str, chat_id: str,
                name: str, at: datetime, *, conversation_id: str | None = None
                ) -> ChatState | None:
    """Claim an inbound update (`claim`) and load its chat (`load_chat`); None when the
    update was handled already (a duplicate delivery)."""
    if not claim(connection, key, at):
        return None
    return load_chat(connection, channel, user_id, chat_id, name, at,
                     conversation_id=conversation_id)


def load_chat(
    connection: Connection, channel: str, user_id: str, chat_id: str, name: str, at: datetime,
    *, conversation_id: str | None = None,
) -> ChatState:
    """The writer's identity (created with a new citizen on first contact, refreshed when
    stale) and the chat's conversation, locked for this transaction on PostgreSQL so two
    processes handling the same chat take turns (SQLite serialises writers anyway)."""
    keys = {"channel": channel, "user_id": user_id, "conversation_id": conversation_id or chat_id}
    row = connection.execute(_LOAD_CHAT, keys).one_or_none()
    if row is None:
        citizen_id = _new_identity(connection, channel, user_id, chat_id, name, at)
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
            connection.execute(update(Identity).where(Identity.id == row.id).values(**changes))
        chat = ChatState(row.citizen_id, row.state, dict(row.data or {}),
                         row.conversation is not None)
        conversation_exists = chat.exists
    if connection.dialect.name == "postgresql":
        if not conversation_exists:
            connection.execute(insert_ignoring("postgresql", Conversation, {
                "channel": channel, "chat_id": keys["conversation_id"], "data": {}}))
        locked = connection.execute(_LOCK_CONVERSATION, keys).one()
        chat.state, chat.data, chat.exists = locked.state, dict(locked.data or {}), True
    return chat


def save_conversation(connection: Connection, channel: str, chat_id: str, chat: ChatState,
                      state: str | None, data: dict[str, Any], at: datetime) -> None:
    """Store the conversation if it changed."""
    if chat.exists and state == chat.state and data == chat.data:
        return
    if chat.exists:
        connection.execute(_SAVE_CONVERSATION, {"in_channel": channel, "in_chat": chat_id,
                                                "new_state": state, "new_data": data,
                                                "at": at})
    elif state is not None or data:
        connection.execute(insert_ignoring(connection.dialect.name, Conversation, {
            "channel": channel, "chat_id": chat_id, "state": state, "data": data,
            "updated_at": at}))


def _new_identity(connection: Connection, channel: str, user_id: str, chat_id: str,
                  name: str, at: datetime) -> int:
    citizen_id: int = connection.execute(
        _NEW_CITIZEN, {"display_name": name, "created_at": at}).scalar_one()
    connection.execute(_NEW_IDENTITY, {
        "citizen_id": citizen_id, "channel": channel, "user_id": user_id, "chat_id": chat_id,
        "display_name": name, "first_seen_at": at, "last_seen_at": at})
    return citizen_id


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


async def store_action(session: AsyncSession, key: str, action: str, at: datetime) -> None:
    """Keep a button's action under `key` (`ButtonPayload`). Writing it again marks it as
    used at `at`, so retention drops only the actions no message sent for its whole period."""
    dialect = postgresql if dialect_of(session) == "postgresql" else sqlite
    await session.execute(dialect.insert(ButtonPayload)
                          .values(id=key, action=action, created_at=at)
                          .on_conflict_do_update(index_elements=["id"],
                                                 set_={"created_at": at}))


async def stored_action(session: AsyncSession, key: str) -> str | None:
    return await session.scalar(select(ButtonPayload.action).where(ButtonPayload.id == key))
