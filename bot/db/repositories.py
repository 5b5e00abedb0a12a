"""Small data-access helpers shared by the core: dedupe, identities, conversation state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Base, Citizen, Conversation, Identity, ProcessedUpdate


async def insert_ignore(session: AsyncSession, model: type[Base], values: dict[str, Any]) -> bool:
    """INSERT unless a row with the same unique key exists; True when a row was inserted."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model).values(**values).on_conflict_do_nothing()
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def claim_update(session: AsyncSession, key: str, at: datetime, status: str = "handled") -> bool:
    """Record an inbound update; False if it was already handled (a duplicate delivery)."""
    return await insert_ignore(
        session, ProcessedUpdate, {"key": key, "status": status, "received_at": at}
    )


async def touch_identity(
    session: AsyncSession, channel: str, user_id: str, chat_id: str, name: str, at: datetime
) -> Identity:
    """The identity of this channel account, created (with a new citizen) on first contact."""
    identity = await session.scalar(
        select(Identity).where(Identity.channel == channel, Identity.user_id == user_id)
    )
    if identity is None:
        citizen = Citizen(display_name=name, created_at=at)
        session.add(citizen)
        await session.flush()
        identity = Identity(
            citizen_id=citizen.id, channel=channel, user_id=user_id, chat_id=chat_id,
            display_name=name, first_seen_at=at, last_seen_at=at,
        )
        session.add(identity)
        await session.flush()
    else:
        identity.last_seen_at = at
        identity.chat_id = chat_id
        if name:
            identity.display_name = name
    return identity


async def lock_conversation(session: AsyncSession, channel: str, chat_id: str) -> Conversation:
    """The chat's conversation row, locked for this transaction (PostgreSQL) so that two
    processes handling the same chat take turns."""
    query = select(Conversation).where(
        Conversation.channel == channel, Conversation.chat_id == chat_id
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    conversation = await session.scalar(query)
    if conversation is None:
        await insert_ignore(
            session, Conversation, {"channel": channel, "chat_id": chat_id, "data": {}}
        )
        conversation = await session.scalar(query)
    assert conversation is not None
    return conversation
