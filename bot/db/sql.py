"""SQL helpers that work on SQLite and PostgreSQL alike (no table definitions here, so every
module of bot/db can use them without import cycles)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_of(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def insert_ignoring(dialect: str, model: Any, values: dict[str, Any] | None = None) -> Insert:
    """INSERT of a row but where its unique key exists, in `dialect`'s words; without
    `values`, the statement to run with a list of rows (an executemany)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model) if values is None else insert(model).values(values)
    return statement.on_conflict_do_nothing()


async def insert_ignore(session: AsyncSession, model: Any, values: dict[str, Any]) -> bool:
    """INSERT unless a row with the same unique key exists; True when a row was inserted."""
    result = await session.execute(insert_ignoring(dialect_of(session), model, values))
    return bool(result.rowcount)  # type: ignore[attr-defined]
