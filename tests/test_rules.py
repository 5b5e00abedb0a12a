"""The follow-up rules with an injected clock: each fires once at the right local time, moved
out of quiet hours; nothing without consent; nothing for refused or withdrawn dossiers; a rule
that fell due while the service was down is caught up once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.db import dossiers as repo
from bot.db import feedback as tickets
from bot.db import scheduler as store
from bot.db.dossiers import DossierFields, EventFields
from bot.db.models import Citizen, OutboxMessage
from bot.db.session import Database
from documents.letters import family_of, in_family
from scheduler.rules import Rules
from tests.conftest import make_settings

VN = ZoneInfo("Asia/Ho_Chi_Minh")
STAFF = -100777


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN)  # type: ignore[misc,arg-type]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Rig:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.clock = Clock(local(2026, 1, 5, 9, 0))
        self.rules = Rules(settings, self.clock)

    async def citizen(self, *, consents: tuple[str, ...] = ()) -> int:
        async with self.db.session() as session:
            citizen = Citizen(display_name="Dân", created_at=self.clock.now)
            session.add(citizen)
            await session.flush()
            for purpose in consents:
                await store.set_consent(session, citizen.id, purpose, True, "telegram",
                                        self.clock.now)
            return citizen.id

    async def dossier(self, code: str, procedure: str, *, due: datetime | None = None,
                      commune: str | None = None) -> int:
        async with self.db.session() as session:
            result = await repo.upsert_dossier(session, DossierFields(
                code=code, procedure_code=procedure, procedure_name="Thủ tục thử",
                applicant_name="Nguyễn Văn An", phone="0912345678",
                received_at=local(2026, 1, 5, 8, 0),
                due_at=due or local(2026, 1, 20, 17, 0), commune_code=commune),
                self.clock.now)
            return result.dossier.id

    async def subscribe(self, dossier_id: int, citizen_id: int, chat: str,
                        channel: str = "telegram") -> None:
        async with self.db.session() as session:
            row = await repo.record_verified(session, dossier_id, citizen_id, channel, chat,
                                             None, self.clock.now)
            await repo.set_subscribed(session, row, True, self.clock.now)

    async def event(self, dossier_id: int, status: str, at: datetime, **extra: object) -> None:
        async with self.db.session() as session:
            dossier = await repo.get_dossier_by_id(session, dossier_id)
            assert dossier is not None
            await repo.add_event(session, dossier, EventFields(status, at, **extra),  # type: ignore[arg-type]
                                 self.clock.now)

    async def scan(self, at: datetime | None = None) -> dict[str, int]:
        if at is not None:
            self.clock.now = at
        return (await self.rules.run(self.db)).queued

    async def rows(self, purpose: str | None = None) -> list[OutboxMessage]:
        async with self.db.session() as session:
            query = select(OutboxMessage).order_by(OutboxMessage.id)
            if purpose:
                query = query.where(OutboxMessage.purpose == purpose)
            return list(await session.scalars(query))


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    settings = make_settings(database_url, quiet_hours="21:00-07:00",
                             telegram_bot_token="123:abc", telegram_staff_chat_id=STAFF)
    rig = Rig(settings)
    yield rig
    await rig.db.dispose()


def when(row: OutboxMessage) -> datetime:
    return row.not_before.astimezone(VN)


def test_procedure_families() -> None:
    settings = make_settings("sqlite+aiosqlite:///x.db")
    assert in_family("1.000894.000.00.00.H29", ("1.000894",))
    assert not in_family("1.0008941", ("1.000894",))
    assert family_of("1.000894", settings) == "marriage"
    assert family_of("2.000986", settings) == "birth"  # combined birth procedures
    assert family_of("1.000656.000.00.00.H29", settings) == "death"
    assert family_of("2.000815", settings) is None


async def test_marriage_congratulation_and_survey_fire_once_at_their_time(rig: Rig) -> None:
    citizen = await rig.citizen(consents=(store.LETTERS, store.SURVEYS))
    dossier = await rig.dossier("KH-260105-0001", "1.000894", commune="4543")
    await rig.subscribe(dossier, citizen, "501")
    await rig.subscribe(dossier, citizen, "web-501", channel="web")
    await rig.event(dossier, "returned", local(2026, 1, 6, 10, 0))

    queued = await rig.scan(local(2026, 1, 6, 10, 1))
    assert queued == {"congratulation_marriage": 2, "survey": 2}
    letter, on_the_web = await rig.rows("letter")
    # Telegram takes files: the letter comes as a printable PDF too; the web chat, text only
    assert (letter.channel, on_the_web.channel) == ("telegram", "web")
    assert letter.payload["document"]["name"] == "thu-chuc-mung.pdf"
    assert on_the_web.payload["document"] is None
    assert on_the_web.payload["text"] == letter.payload["text"]
    assert when(letter) == local(2026, 1, 6, 11, 0)  # CONGRATULATION_DELAY_MINUTES = 60
    body = letter.payload["text"]
    assert "THƯ CHÚC MỪNG" in body and "đăng ký kết hôn" in body
    assert "Ủy ban nhân dân phường Âu Lâu" in body and "Âu Lâu, ngày 06 tháng 01 năm 2026" in body
    assert "Nguyễn Văn An" not in body and "0912345678" not in body
    survey, _ = await rig.rows("survey")
    assert when(survey) == local(2026, 1, 6, 12, 0)  # SURVEY_DELAY_MINUTES = 120
    assert [b[0]["label"] for b in survey.payload["buttons"]] == [
        "Rất hài lòng", "Hài lòng", "Không hài lòng"]
    assert survey.payload["buttons"][2][0]["action"] == f"sv:o:d:{dossier}:1"

    assert await rig.scan(local(2026, 1, 6, 10, 2)) == {}
    assert await rig.scan(local(2026, 1, 6, 12, 30)) == {}  # the watermark passed it
    assert len(await rig.rows()) == 4  # a letter and a survey for each chat


async def test_condolence_is_alone_and_waits_for_the_morning(rig: Rig) -> None:
    citizen = await rig.citizen(consents=(store.LETTERS, store.SURVEYS))
    dossier = await rig.dossier("KT-260105-0001", "1.000656")
    await rig.subscribe(dossier, citizen, "502")
    await rig.event(dossier, "returned", local(2026, 1, 6, 10, 0))
    assert await rig.scan(local(2026, 1, 6, 10, 5)) == {"condolence": 1}
    (letter,) = await rig.rows()
    # 10:00 + 720 minutes = 22:00, inside quiet hours 21:00-07:00: moved to 07:00
    assert letter.purpose == "letter" and when(letter) == local(2026, 1, 7, 7, 0)
    body = letter.payload["text"]
    assert "\nTHƯ CHIA BUỒN\n" in body and letter.payload["buttons"] == []
    assert "khảo sát" not in body and "hài lòng" not in body
    assert all(ord(ch) < 0x2000 or ch in "–" for ch in body)  # no emoji


async def test_birth_in_a_local_variant_code(rig: Rig) -> None:
    citizen = await rig.citizen(consents=(store.LETTERS,))
    dossier = await rig.dossier("KS-260105-0001", "1.001193.000.00.00.H29")
    await rig.subscribe(dossier, citizen, "503")
    await rig.event(dossier, "returned", local(2026, 1, 6, 20, 30))
    assert await rig.scan(local(2026, 1, 6, 20, 31)) == {"congratulation_birth": 1}
    (letter,) = await rig.rows()
    assert "thành viên mới" in letter.payload["text"]
    assert when(letter) == local(2026, 1, 7, 7, 0)  # 21:30 is quiet


async def test_nothing_without_consent(rig: Rig) -> None:
    status_only = await rig.citizen(consents=(store.STATUS,))
    letters_only = await rig.citizen(consents=(store.LETTERS,))
    dossier = await rig.dossier("KH-260105-0002", "1.000894")
    await rig.subscribe(dossier, status_only, "504")
    await rig.subscribe(dossier, letters_only, "505")
    unsubscribed = await rig.citizen(consents=(store.LETTERS, store.SURVEYS))
    async with rig.db.session() as session:  # verified the dossier but did not subscribe
        await repo.record_verified(session, dossier, unsubscribed, "telegram", "506", None,
                                   rig.clock.now)
    await rig.event(dossier, "returned", local(2026, 1, 6, 10, 0))
    assert await rig.scan(local(2026, 1, 6, 10, 1)) == {"congratulation_marriage": 1}
    assert [r.chat_id for r in await rig.rows()] == ["505"]


@pytest.mark.parametrize("status", ["rejected", "withdrawn"])
async def test_nothing_for_refused_or_withdrawn_dossiers(rig: Rig, status: str) -> None:
    citizen = await rig.citizen(consents=(store.LETTERS, store.SURVEYS))
    dossier = await rig.dossier("KH-260105-0003", "1.000894", due=local(2026, 1, 8, 17, 0))
    await rig.subscribe(dossier, citizen, "507")
    await rig.event(dossier, "returned", local(2026, 1, 6, 10, 0))
    await rig.event(dossier, status, local(2026, 1, 6, 10, 30))  # the result was recalled
    assert await rig.scan(local(2026, 1, 7, 9, 0)) == {}  # also no reminder on the 7th
    assert await rig.scan(local(2026, 1, 9, 9, 0)) == {}  # nor an overdue alert
    assert await rig.rows() == []


async def test_appointment_reminder_the_working_day_before_at_eight(rig: Rig) -> None:
    citizen = await rig.citizen()
    tuesday = await rig.dossier("HS-260105-0001", "2.000815", due=local(2026, 1, 20, 17, 0))
    monday = await rig.dossier("HS-260105-0002", "2.000815", due=local(2026, 1, 19, 9, 0))
    await rig.subscribe(tuesday, citizen, "508")
    await rig.subscribe(monday, citizen, "508")
    assert await rig.scan(local(2026, 1, 16, 7, 59)) == {}  # Friday before 08:00
    assert await rig.scan(local(2026, 1, 16, 8, 0)) == {"reminder": 1}  # Monday's is due
    assert await rig.scan(local(2026, 1, 17, 10, 0)) == {}  # weekend: nothing new
    assert await rig.scan(local(2026, 1, 19, 8, 0)) == {"reminder": 1}  # Tuesday's
    assert await rig.scan(local(2026, 1, 19, 8, 30)) == {}
    rows = await rig.rows("reminder")
    assert [when(r) for r in rows] == [local(2026, 1, 16, 8, 0), local(2026, 1, 19, 8, 0)]
    assert "HS-260105-0002" in rows[0].payload["text"] and "Căn cước" in rows[0].payload["text"]


async def test_overdue_without_delay_alerts_staff_once_per_missed_date(rig: Rig) -> None:
    late = await rig.dossier("HS-260105-0003", "2.000815", due=local(2026, 1, 8, 17, 0))
    apologised = await rig.dossier("HS-260105-0004", "2.000815", due=local(2026, 1, 8, 17, 0))
    await rig.event(apologised, "delayed", local(2026, 1, 8, 15, 0),
                    new_due_at=local(2026, 1, 15, 17, 0), reason="Cần xác minh")
    assert await rig.scan(local(2026, 1, 9, 8, 0)) == {"overdue_alert": 1}
    (alert,) = await rig.rows("overdue_alert")
    assert alert.chat_id == str(STAFF) and "HS-260105-0003" in alert.payload["text"]
    assert ("Đề nghị lập Phiếu xin lỗi và hẹn lại ngày trả kết quả trên hệ thống một cửa"
            in alert.payload["text"])
    assert "delayed" not in alert.payload["text"] and "sự kiện" not in alert.payload["text"]
    assert alert.ref == f"dossier:{late}"
    assert await rig.scan(local(2026, 1, 9, 9, 0)) == {}
    # the new date passes too: the apology is owed again
    assert await rig.scan(local(2026, 1, 16, 8, 0)) == {"overdue_alert": 1}


@pytest.mark.parametrize("status", ["waiting_payment", "need_more_info"])
async def test_no_overdue_alert_while_waiting_for_the_citizen(rig: Rig, status: str) -> None:
    waiting = await rig.dossier("HS-260105-0006", "2.000815", due=local(2026, 1, 8, 17, 0))
    await rig.event(waiting, status, local(2026, 1, 7, 9, 0))
    assert await rig.scan(local(2026, 1, 12, 8, 0)) == {}
    await rig.event(waiting, "processing", local(2026, 1, 12, 9, 0))  # paid: the clock runs
    assert await rig.scan(local(2026, 1, 12, 9, 30)) == {"overdue_alert": 1}


async def test_overdue_alert_at_night_waits_for_the_morning(rig: Rig) -> None:
    await rig.dossier("HS-260105-0005", "2.000815", due=local(2026, 1, 8, 17, 0))
    assert await rig.scan(local(2026, 1, 8, 23, 0)) == {"overdue_alert": 1}
    (alert,) = await rig.rows()
    assert when(alert) == local(2026, 1, 9, 7, 0)


async def test_catch_up_after_downtime_sends_once(rig: Rig) -> None:
    citizen = await rig.citizen(consents=(store.LETTERS, store.SURVEYS))
    dossier = await rig.dossier("KH-260105-0004", "1.000894", due=local(2026, 1, 7, 17, 0))
    await rig.subscribe(dossier, citizen, "509")
    await rig.event(dossier, "returned", local(2026, 1, 6, 10, 0))
    # the service was down from 09:00 until 23:30: both follow-ups fell due meanwhile
    assert await rig.scan(local(2026, 1, 6, 23, 30)) == {"congratulation_marriage": 1,
                                                        "survey": 1}
    rows = await rig.rows()
    assert {when(r) for r in rows} == {local(2026, 1, 7, 7, 0)}  # not at night: next morning
    for minute in (31, 32, 45):
        assert await rig.scan(local(2026, 1, 6, 23, minute)) == {}
    assert len(await rig.rows()) == 2


async def test_results_older_than_the_max_age_send_nothing(rig: Rig) -> None:
    citizen = await rig.citizen(consents=(store.LETTERS, store.SURVEYS))
    dossier = await rig.dossier("KH-250105-0005", "1.000894")
    await rig.subscribe(dossier, citizen, "510")
    await rig.event(dossier, "returned", local(2025, 12, 1, 10, 0))  # an import of old data
    assert await rig.scan(local(2026, 1, 6, 10, 0)) == {}


async def test_a_late_committed_event_is_still_seen(rig: Rig) -> None:
    """On PostgreSQL an event may get its id before another yet commit after it: the
    watermark passes only events older than SETTLE, so the late one is not skipped."""
    citizen = await rig.citizen(consents=(store.LETTERS,))
    first = await rig.dossier("KH-260105-0006", "1.000894")
    second = await rig.dossier("KH-260105-0007", "1.000894")
    await rig.subscribe(first, citizen, "511")
    await rig.subscribe(second, citizen, "511")

    async def returned(dossier_id: int, event_id: int) -> None:
        async with rig.db.session() as session:
            dossier = await repo.get_dossier_by_id(session, dossier_id)
            assert dossier is not None
            dossier.status, dossier.status_at = "returned", local(2026, 1, 6, 10, 0)
            session.add(repo.DossierEvent(id=event_id, dossier_id=dossier_id,
                                          dedupe_key=f"e{event_id}", status="returned",
                                          at=local(2026, 1, 6, 10, 0),
                                          created_at=local(2026, 1, 6, 10, 0)))

    await returned(second, 100)
    assert await rig.scan(local(2026, 1, 6, 10, 0, 30)) == {"congratulation_marriage": 1}
    async with rig.db.session() as session:
        assert await store.get_mark(session, "dossier_events") < 100  # not settled yet
    await returned(first, 50)  # took its id earlier, committed later
    assert await rig.scan(local(2026, 1, 6, 10, 0, 40)) == {"congratulation_marriage": 1}
    assert await rig.scan(local(2026, 1, 6, 10, 3)) == {}
    async with rig.db.session() as session:
        assert await store.get_mark(session, "dossier_events") == 100


async def test_ticket_closed_invites_a_survey_with_consent(rig: Rig) -> None:
    willing = await rig.citizen(consents=(store.SURVEYS,))
    unwilling = await rig.citizen()
    async with rig.db.session() as session:
        for citizen, chat in ((willing, "601"), (unwilling, "602")):
            ticket = tickets.Ticket(citizen_id=citizen, channel="telegram", chat_id=chat,
                                    category="khac", description="Đèn đường hỏng",
                                    status=tickets.CLOSED, created_at=rig.clock.now,
                                    due_at=rig.clock.now + timedelta(days=20),
                                    closed_at=local(2026, 1, 6, 15, 0))
            await tickets.add_ticket(session, ticket, rig.clock.now)
    assert await rig.scan(local(2026, 1, 6, 15, 1)) == {"ticket_survey": 1}
    (row,) = await rig.rows()
    assert row.chat_id == "601" and when(row) == local(2026, 1, 6, 17, 0)
    assert "phản ánh PA-" in row.payload["text"]
    assert await rig.scan(local(2026, 1, 6, 15, 2)) == {}


async def test_rules_can_be_switched_off_and_delays_set_to_zero(database_url: str) -> None:
    settings = make_settings(database_url, scheduler_rules_off="survey",
                             congratulation_delay_minutes=0)
    rig = Rig(settings)
    try:
        citizen = await rig.citizen(consents=(store.LETTERS, store.SURVEYS))
        dossier = await rig.dossier("KH-260105-0008", "1.000894")
        await rig.subscribe(dossier, citizen, "512")
        await rig.event(dossier, "returned", local(2026, 1, 6, 10, 0))
        assert await rig.scan(local(2026, 1, 6, 10, 0, 5)) == {"congratulation_marriage": 1}
        (letter,) = await rig.rows()
        assert when(letter) == local(2026, 1, 6, 10, 0, 5)  # at once (not before the scan)
    finally:
        await rig.db.dispose()
