"""SQLite under asyncio without a thread hop per statement.

SQLAlchemy's aiosqlite adapter sends every call — open a cursor, execute, fetch, close,
commit — to aiosqlite's worker thread and waits for the event loop to be woken with the
answer. For the short statements every inbound update runs (tens of microseconds each), the
trips, the wake-ups and the two threads taking turns at the GIL cost far more than the work:
on the benchmark they were most of the handler's time. This dialect is SQLAlchemy's aiosqlite
dialect with one change: statements, commits and rollbacks run on the event loop's thread, at
once, with SQLite's busy timeout at zero. Only when another connection holds the write lock
(another process, or another session of this one between its statements) does the statement
go to aiosqlite's thread, which waits for the lock up to the connection's ``timeout`` while the
event loop goes on serving everyone else. A statement refused with SQLITE_BUSY did nothing,
so running it again is safe.

URLs keep saying ``sqlite+aiosqlite``; `bot.db.session` picks this dialect for them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from threading import Thread
from typing import Any, TypeVar

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util.concurrency import await_

DRIVER = "sqlite+motcua_aiosqlite"
T = TypeVar("T")


def _is_busy(error: sqlite3.Error) -> bool:
    return isinstance(error, sqlite3.OperationalError) and \
        (error.sqlite_errorcode & 0xFF) == sqlite3.SQLITE_BUSY


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("busy_timeout_ms",)

    def __init__(self, dbapi: Any, connection: Any, busy_timeout: float) -> None:
        super().__init__(dbapi, connection)
        self.busy_timeout_ms = int(busy_timeout * 1000)

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work(conn)` now, on this thread; if the database is locked, on aiosqlite's
        thread with the busy timeout, so only this session waits for the lock."""
        conn: sqlite3.Connection = self._connection._conn
        try:
            return work(conn)
        except sqlite3.OperationalError as error:
            if not _is_busy(error):
                raise
        return await self._connection._execute(self._waiting, work, conn)

    def _waiting(self, work: Callable[[sqlite3.Connection], T], conn: sqlite3.Connection) -> T:
        conn.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
        try:
            return work(conn)
        finally:
            conn.execute("PRAGMA busy_timeout=0")

    def commit(self) -> None:
        self._end(sqlite3.Connection.commit)

    def rollback(self) -> None:
        self._end(sqlite3.Connection.rollback)

    def _end(self, work: Callable[[sqlite3.Connection], None]) -> None:
        if self._connection._connection:
            try:
                await_(self.run(work))
            except Exception as error:
                self._handle_exception(error)


class _DirectCursor:
    """Stands in for an aiosqlite cursor: `execute` runs the statement, fetches its rows and
    closes the sqlite3 cursor in one `_Connection.run`."""

    arraysize = 1

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def execute(self, sql: str, parameters: Any = None) -> _DirectCursor:
        def run(conn: sqlite3.Connection) -> tuple[Any, int, int | None, list[Any]]:
            cursor = conn.cursor()
            try:
                cursor.execute(sql, parameters if parameters is not None else ())
                rows = cursor.fetchall() if cursor.description else []
                return cursor.description, cursor.rowcount, cursor.lastrowid, rows
            finally:
                cursor.close()

        self.description, self.rowcount, self.lastrowid, self._rows = (
            await self._connection.run(run))
        return self

    async def executemany(self, sql: str, rows: Sequence[Any]) -> _DirectCursor:
        def run(conn: sqlite3.Connection) -> int:
            cursor = conn.cursor()
            try:
                cursor.executemany(sql, rows)
                return int(cursor.rowcount)
            finally:
                cursor.close()

        self.description, self.rowcount = None, await self._connection.run(run)
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    def close(self) -> None:
        """The sqlite3 cursor is closed already."""


class _Cursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()
    _awaitable_cursor_close = False
    """`_DirectCursor.close` is a plain method: no trip through the event loop to call it."""

    def _make_new_cursor(self, connection: Any) -> Any:
        return _DirectCursor(self._adapt_connection)  # type: ignore[arg-type]

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor  # nothing to enter: no trip through the event loop either


_Connection._cursor_cls = _Cursor


class _DBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> _Connection:
        busy_timeout = float(kw.pop("timeout", 5.0))
        # Opened on aiosqlite's thread, used from the event loop's (one user at a time).
        kw.update(timeout=0, check_same_thread=False)
        connection = self.aiosqlite.connect(*arg, **kw)
        thread = connection if isinstance(connection, Thread) else connection._thread
        thread.daemon = True  # as SQLAlchemy does: never keep the process alive
        return _Connection(self, await_(connection), busy_timeout)


class Dialect(SQLiteDialect_aiosqlite):
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> _DBAPI:
        return _DBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register("sqlite.motcua_aiosqlite", __name__, "Dialect")
