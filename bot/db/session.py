"""Engines and sessions: the only place that creates them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.db import (
    schema,  # noqa: F401  (every table registered before any session)
    sqlite_driver,
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(database_url: str) -> AsyncEngine:
    """`hide_parameters`: a database error's message (and so its logged trace) shows the SQL
    but not the values, which are names, phone numbers and what citizens typed."""
    url = make_url(database_url)
    if url.drivername == "sqlite+aiosqlite":
        url = url.set(drivername=sqlite_driver.DRIVER)
    if url.drivername.startswith("sqlite"):
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # Sessions always end in an explicit commit or rollback, so the pool need not roll
        # back again on check-in (one statement less per update).
        # `timeout`: how long a statement waits for another connection's write lock.
        engine = create_async_engine(url, connect_args={"timeout": 10},
                                     pool_reset_on_return=None, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True,
                               hide_parameters=True)


OUTAGE_SQLSTATES = frozenset({"08", "40", "53", "55", "57", "58", "XX"})
"""PostgreSQL error classes that say the server cannot serve now, not that the statement was
wrong: connection (08), serialization/deadlock (40), resources (53), lock not available
(55), shutdown or cancelled (57), system (58), internal (XX). Data (22), integrity (23),
syntax and access (42) are errors in what was asked."""


def is_outage(error: BaseException) -> bool:
    """Whether a failure means the database is unavailable (retry later: a webhook answers
    503, a polled update waits) rather than that this one statement was bad (a value out of
    range, a NUL in a string, a broken constraint: roll back, answer, move on). Every place
    that decides on an outage asks here."""
    if isinstance(error, (OSError, TimeoutError, exc.DisconnectionError, exc.TimeoutError)):
        return True  # connection refused or reset, timeouts, pool exhausted
    if not isinstance(error, exc.DBAPIError):
        return False  # e.g. StatementError around a value the driver could not bind
    if error.connection_invalidated:
        return True
    orig = error.orig
    driver = orig.__cause__ if orig is not None and orig.__cause__ is not None else orig
    if isinstance(driver, (OSError, TimeoutError)):
        return True
    if isinstance(driver, (ValueError, TypeError, OverflowError)):
        return False  # asyncpg refuses an unencodable parameter (its DataError is a ValueError)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(driver, "sqlstate", None)
    if isinstance(sqlstate, str) and len(sqlstate) == 5:
        return sqlstate[:2] in OUTAGE_SQLSTATES
    # SQLite ("database is locked", "disk I/O error") and drivers without SQLSTATE
    return isinstance(error, (exc.OperationalError, exc.InterfaceError))


class Database:
    """An engine and its session factory. `async with db.session() as s:` commits on success."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.engine = create_engine(database_url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
            return True
        except Exception:  # noqa: BLE001 - health reporting must not raise
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()


T = TypeVar("T")


def run_in_session(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """For a command-line task: `work` in one transaction of the database at `url`, then the
    engine disposed of."""

    async def run() -> T:
        db = Database(url)
        try:
            async with db.session() as session:
                return await work(session)
        finally:
            await db.dispose()

    return asyncio.run(run())
