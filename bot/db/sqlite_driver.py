"""SQLite under asyncio with one trip to the database thread per statement.

SQLAlchemy's aiosqlite adapter makes up to four trips to aiosqlite's worker thread for each
statement — open a cursor, execute, fetch the rows, close the cursor — and every trip wakes
the event loop. On the path every inbound update takes, those trips were most of the time
spent in the database. This dialect is SQLAlchemy's aiosqlite dialect with one change: a
statement is executed, its rows fetched and its cursor closed in a single trip. URLs keep
saying ``sqlite+aiosqlite``; `bot.db.session` picks this dialect for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from threading import Thread
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util.concurrency import await_

DRIVER = "sqlite+motcua_aiosqlite"


class _OneTripCursor:
    """Stands in for an aiosqlite cursor: `execute` runs the statement, fetches its rows and
    closes the sqlite3 cursor in one call on the connection's thread."""

    arraysize = 1

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> _OneTripCursor:
        return self

    async def execute(self, sql: str, parameters: Any = None) -> _OneTripCursor:
        def run(conn: Any = self._connection._conn) -> tuple[Any, int, int | None, list[Any]]:
            cursor = conn.cursor()
            try:
                cursor.execute(sql, parameters if parameters is not None else ())
                rows = cursor.fetchall() if cursor.description else []
                return cursor.description, cursor.rowcount, cursor.lastrowid, rows
            finally:
                cursor.close()

        self.description, self.rowcount, self.lastrowid, self._rows = (
            await self._connection._execute(run))
        return self

    async def executemany(self, sql: str, rows: Sequence[Any]) -> _OneTripCursor:
        def run(conn: Any = self._connection._conn) -> int:
            cursor = conn.cursor()
            try:
                cursor.executemany(sql, rows)
                return int(cursor.rowcount)
            finally:
                cursor.close()

        self.description, self.rowcount = None, await self._connection._execute(run)
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def close(self) -> None:
        """The sqlite3 cursor is closed already."""


class _Cursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def _make_new_cursor(self, connection: Any) -> Any:
        return _OneTripCursor(connection)


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _Cursor


class _DBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> _Connection:
        connection = self.aiosqlite.connect(*arg, **kw)
        thread = connection if isinstance(connection, Thread) else connection._thread
        thread.daemon = True  # as SQLAlchemy does: never keep the process alive
        return _Connection(self, await_(connection))


class Dialect(SQLiteDialect_aiosqlite):
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> _DBAPI:  # type: ignore[override]
        return _DBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register("sqlite.motcua_aiosqlite", __name__, "Dialect")
