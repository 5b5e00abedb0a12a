"""Button actions too long for a platform's button field are kept in the database under a
short key (`bot.channels.base.StoredActions`), written once an hour at most per process, and
kept by retention for as long as messages go on sending them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.channels.base import StoredActions
from bot.config import Settings
from bot.db import privacy
from bot.db.models import ButtonPayload
from bot.db.repositories import store_action
from bot.db.session import Database

ACTION = "proc:field:1:" + "Hộ tịch, chứng thực và các lĩnh vực khác " * 3


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def written_at(db: Database) -> list[datetime]:
    async with db.session() as session:
        return list(await session.scalars(select(ButtonPayload.created_at)))


async def test_an_action_is_stored_once_an_hour_and_read_back(database_url: str) -> None:
    db = Database(database_url)
    clock = Clock()
    actions = StoredActions(db, rewrite_after=3600, clock=clock)
    key = await actions.key(ACTION)
    assert len(key) == 20 and await actions.action(key) == ACTION
    (first,) = await written_at(db)
    clock.now += 3599
    assert await actions.key(ACTION) == key
    assert await written_at(db) == [first]  # not written again within the hour
    clock.now += 2
    assert await actions.key(ACTION) == key
    (again,) = await written_at(db)
    assert again > first  # written again: its retention starts over
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(ButtonPayload)) == 1
    # Another process (another StoredActions) reads what this one stored.
    assert await StoredActions(db).action(key) == ACTION
    await db.dispose()


async def test_unknown_and_malformed_keys_are_not_actions(database_url: str) -> None:
    db = Database(database_url)
    actions = StoredActions(db)
    assert await actions.action("0" * 20) is None
    assert await actions.action("'; DROP TABLE button_payloads; --") is None
    assert await actions.action("") is None
    await db.dispose()


async def test_an_action_still_sent_is_kept_by_retention(settings: Settings) -> None:
    db = Database(settings.database_url)
    now = datetime.now(UTC)
    long_ago = now - timedelta(days=settings.retention_days_button_payloads + 10)
    async with db.session() as session:
        await store_action(session, "a" * 20, "x", long_ago)
        await store_action(session, "b" * 20, "y", long_ago)
        await store_action(session, "b" * 20, "y", now - timedelta(days=1))  # sent again
    async with db.session() as session:
        counts = await privacy.purge_expired(session, settings, now)
    assert counts["button_payloads"] == 1
    async with db.session() as session:
        assert list(await session.scalars(select(ButtonPayload.id))) == ["b" * 20]
    await db.dispose()
