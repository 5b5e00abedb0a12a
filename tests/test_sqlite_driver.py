"""The SQLite dialect (bot/db/sqlite_driver.py) runs statements on the event loop's thread;
a statement that meets another connection's write lock must wait for it off the loop, so the
rest of the service goes on, and give up with "database is locked" after the timeout."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db import sqlite_driver
from bot.db.session import Database


async def make_db(path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{path}")
    async with db.session() as session:
        await session.execute(text("CREATE TABLE notes (body TEXT)"))
    return db


def other_process_lock(path: Path) -> sqlite3.Connection:
    """A connection of "another process" holding the write lock."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO notes VALUES ('other')")
    return holder


async def count_notes(db: Database) -> int:
    async with db.session() as session:
        return int((await session.execute(text("SELECT count(*) FROM notes"))).scalar_one())


async def test_a_write_waits_for_a_lock_while_the_loop_serves_others(tmp_path: Path) -> None:
    db = await make_db(tmp_path / "locked.db")  # waits up to 10 s for a lock
    assert db.engine.url.drivername == sqlite_driver.DRIVER
    holder = other_process_lock(tmp_path / "locked.db")

    async def write() -> None:
        async with db.session() as session:
            await session.execute(text("INSERT INTO notes VALUES ('ours')"))

    loop = asyncio.get_running_loop()
    started = loop.time()
    writing = asyncio.create_task(write())
    await asyncio.sleep(0.3)
    # Had the write waited for the lock on the loop's thread, this sleep would have lasted
    # the whole busy timeout (10 s), not 0.3 s; the bound is loose for a busy machine.
    assert loop.time() - started < 5, "the event loop was blocked while waiting for the lock"
    assert not writing.done()
    assert await count_notes(db) == 0  # readers are not held up (WAL), nor is the loop
    holder.commit()
    await writing
    assert await count_notes(db) == 2
    holder.close()
    await db.dispose()


async def test_a_lock_held_past_the_timeout_gives_a_clear_error_and_loses_nothing(
        tmp_path: Path) -> None:
    path = tmp_path / "stuck.db"
    await (await make_db(path)).dispose()
    engine = create_async_engine(f"{sqlite_driver.DRIVER}:///{path}",
                                 connect_args={"timeout": 0.2})
    holder = other_process_lock(path)
    with pytest.raises(OperationalError, match="database is locked"):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO notes VALUES ('ours')"))
    holder.commit()
    async with engine.begin() as conn:  # the same pooled connection works again
        await conn.execute(text("INSERT INTO notes VALUES ('ours')"))
        rows = (await conn.execute(text("SELECT body FROM notes ORDER BY body"))).scalars()
        assert list(rows) == ["other", "ours"]
    holder.close()
    await engine.dispose()
