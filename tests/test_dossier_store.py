"""The dossier repository: the event history and its rules (order, duplicates, delays) and
the queries the scheduler will use (overdue without an apology, events since)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.db import dossiers as repo
from bot.db.dossiers import DossierEvent, DossierFields, EventFields
from bot.db.session import Database

NOW = datetime(2026, 3, 16, 3, 0, tzinfo=UTC)
T = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)


def fields(code: str, due: datetime, status: str = "received") -> DossierFields:
    return DossierFields(code=code, procedure_code="1.000894", procedure_name="Kết hôn",
                         applicant_name="Nguyễn Văn An", phone="0912345678", received_at=T,
                         due_at=due, status=status)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def test_events_in_and_out_of_order(db: Database) -> None:
    async with db.session() as session:
        dossier = (await repo.upsert_dossier(session, fields("A-260305-0001", NOW), T)).dossier
        first = await repo.add_event(session, dossier, EventFields("processing", T + timedelta(1)),
                                     NOW)
        assert first.event is not None and first.announce and dossier.status == "processing"
        again = await repo.add_event(session, dossier, EventFields("processing", T + timedelta(1),
                                                                   "other note"), NOW)
        assert again.event is None and not again.announce
        later = await repo.add_event(session, dossier, EventFields("result_ready",
                                                                   T + timedelta(5)), NOW)
        assert later.announce
        older = await repo.add_event(session, dossier, EventFields("waiting_payment",
                                                                   T + timedelta(3)), NOW)
        assert older.event is not None and not older.event.applied and not older.announce
        assert dossier.status == "result_ready"
        same = await repo.add_event(session, dossier, EventFields("result_ready",
                                                                  T + timedelta(6)), NOW)
        assert same.event is not None and not same.announce  # no change, nothing to say
        history = await repo.find_events(session, dossier.id, limit=10)
        assert [e.status for e in history] == ["received", "processing", "waiting_payment",
                                               "result_ready", "result_ready"]


async def test_a_late_delayed_event_still_owes_the_apology(db: Database) -> None:
    async with db.session() as session:
        dossier = (await repo.upsert_dossier(session, fields("A-260305-0002", NOW), T)).dossier
        await repo.add_event(session, dossier, EventFields("processing", T + timedelta(4)), NOW)
        new_due = NOW + timedelta(days=7)
        late = await repo.add_event(session, dossier, EventFields(
            "delayed", T + timedelta(2), "", new_due, "Chờ xác minh"), NOW)
        assert late.event is not None and late.announce
        assert dossier.status == "processing" and dossier.due_at == new_due
        assert late.event.previous_due_at == NOW


async def test_overdue_dossiers_are_owed_an_apology(db: Database) -> None:
    async with db.session() as session:
        late = (await repo.upsert_dossier(session, fields("A-260305-0003",
                                                          NOW - timedelta(days=2)), T)).dossier
        apologised = (await repo.upsert_dossier(session, fields("A-260305-0004",
                                                                NOW - timedelta(days=2)),
                                                T)).dossier
        await repo.add_event(session, apologised, EventFields(
            "delayed", NOW - timedelta(days=3), "", NOW + timedelta(days=3), "Chờ"), NOW)
        await repo.upsert_dossier(session, fields("A-260305-0005", NOW - timedelta(days=2),
                                                  "result_ready"), T)
        await repo.upsert_dossier(session, fields("A-260305-0006", NOW - timedelta(days=2),
                                                  "need_more_info"), T)
        await repo.upsert_dossier(session, fields("A-260305-0010", NOW - timedelta(days=2),
                                                  "waiting_payment"), T)
        await repo.upsert_dossier(session, fields("A-260305-0007", NOW + timedelta(days=2)), T)
        # the new date passed too: owed again
        again = (await repo.upsert_dossier(session, fields("A-260305-0008",
                                                           NOW - timedelta(days=9)), T)).dossier
        await repo.add_event(session, again, EventFields(
            "delayed", NOW - timedelta(days=8), "", NOW - timedelta(days=1), "Chờ"), NOW)
        overdue = await repo.find_overdue(session, NOW)
        assert [d.code for d in overdue] == [late.code, again.code]
        assert again.is_overdue(NOW) and not apologised.is_overdue(NOW)


async def test_events_since_for_the_scheduler(db: Database) -> None:
    async with db.session() as session:
        dossier = (await repo.upsert_dossier(session, fields("A-260305-0009", NOW), T)).dossier
        await repo.add_event(session, dossier, EventFields("result_ready", T + timedelta(1)), NOW)
        await repo.add_event(session, dossier, EventFields("returned", T + timedelta(2)), NOW)
        events = await repo.find_events_since(session, 0, {"returned"})
        assert [e.status for e in events] == ["returned"]
        assert await repo.find_events_since(session, events[-1].id, {"returned"}) == []


async def test_failures_are_counted_in_a_window_and_purged(db: Database) -> None:
    c1 = repo.Guesser("web", "key-c1", "addr-1")
    async with db.session() as session:
        for minutes in (0, 5, 20):
            await repo.record_lookup_failure(session, c1, "a-260305-0001",
                                             NOW - timedelta(minutes=minutes))
        await repo.record_lookup_failure(session, repo.Guesser("telegram", "key-c2"),
                                         "A 260305 0001", NOW)
        since = NOW - timedelta(minutes=15)
        assert await repo.count_lookup_failures(session, since, chat_key="key-c1") == 2
        assert await repo.count_lookup_failures(session, since, chat_key="key-c3") == 0
        assert await repo.count_lookup_failures(session, since, origin_key="addr-1") == 2
        assert await repo.count_lookup_failures(session, since, code="A-260305-0001") == 3
        assert await repo.purge_lookup_failures(session, since) == 1


async def test_the_event_history_is_append_only_by_key(db: Database) -> None:
    async with db.session() as session:
        dossier = (await repo.upsert_dossier(session, fields("a-260305-0010", NOW), T)).dossier
        await repo.add_event(session, dossier, EventFields("processing", T + timedelta(1)), NOW)
        keys = sorted(await session.scalars(select(DossierEvent.dedupe_key)))
    assert keys == ["A2603050010|processing|2026-03-06T02:00:00.000000Z",
                    "A2603050010|received|2026-03-05T02:00:00.000000Z"]
