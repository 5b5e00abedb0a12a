"""/xoadulieu: after a confirmation the citizen's data is gone — identities, conversations,
web-chat messages, outbox rows to them, consents, subscriptions, tickets' personal fields — and
one audit entry without personal data remains."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.db import dossiers as repo
from bot.db import feedback as tickets
from bot.db import privacy
from bot.db import scheduler as store
from bot.db.models import (
    AuditLog,
    ButtonPayload,
    Citizen,
    Identity,
    OutboxMessage,
    ProcessedUpdate,
    WebMessage,
)
from bot.db.privacy import chat_pseudonym
from bot.db.schema import metadata
from bot.db.session import Database
from bot.messages import ChatRef, Outgoing
from bot.outbox import enqueue
from tests.conftest import make_settings
from tests.dialog import Dialog, core_with_dossier, texts

NOW = datetime(2026, 1, 6, 3, 0, tzinfo=UTC)
CODE = "000.00.01.H29-260105-0011"


async def dump(db: Database) -> str:
    """Every row of every table, as text."""
    async with db.session() as session:
        rows = []
        for table in metadata.sorted_tables:
            for row in await session.execute(select(table)):
                rows.append(json.dumps([str(v) for v in row], ensure_ascii=False))
    return "\n".join(rows)


async def test_forget_deletes_personal_data_after_confirmation(settings: Settings) -> None:
    core, _ = await core_with_dossier(settings, CODE, NOW)
    db = core.db
    dialog = Dialog(core, channel="web", chat_id="secret-web-chat-77", name="Trần Thị Bình")
    await dialog.say(f"/hoso {CODE}")
    card = await dialog.say("5678")
    await dialog.press(f"dossier:sub:{card[0].buttons[0][0].action.rsplit(':', 1)[1]}")
    await dialog.press("consent:ask:both")
    await dialog.press("consent:set:notices:1")
    async with db.session() as session:
        citizen = (await session.scalars(select(Identity.citizen_id).where(
            Identity.chat_id == "secret-web-chat-77"))).one()
        await store.add_commune_subscription(session, citizen, "web", "secret-web-chat-77",
                                             "4543", NOW)
        ticket = tickets.Ticket(citizen_id=citizen, channel="web", chat_id="secret-web-chat-77",
                                category="khac", description="Đường hỏng",
                                contact_name="Trần Thị Bình", contact_phone="0987654321",
                                status=tickets.OPEN, created_at=NOW, due_at=NOW)
        await tickets.add_ticket(session, ticket, NOW)
        await enqueue(session, ChatRef("web", "secret-web-chat-77"), Outgoing("Thư"),
                      key="letter:x", purpose="letter")
        session.add(store.Survey(citizen_id=citizen, channel="web", subject="general",
                                 overall=3, comment="Tên tôi là Trần Thị Bình", created_at=NOW))
    before = await dump(db)
    assert "secret-web-chat-77" in before and "Trần Thị Bình" in before

    asked = await dialog.say("/xoadulieu")
    assert "không thể hoàn tác" in texts(asked)
    assert "giữ nguyên" in texts(await dialog.press("privacy:forget:no"))
    assert "secret-web-chat-77" in await dump(db)
    await dialog.say("/forget")
    assert "đã xóa dữ liệu" in texts(await dialog.press("privacy:forget:yes"))

    after = await dump(db)
    for personal in ("secret-web-chat-77", "Trần Thị Bình", "0987654321"):
        assert personal not in after, personal
    async with db.session() as session:
        assert await session.get(Citizen, citizen) is None
        for model in (Identity, store.Consent, store.ConsentLog, repo.DossierSubscription,
                      store.CommuneSubscription):
            assert list(await session.scalars(select(model).where(
                model.citizen_id == citizen))) == []  # type: ignore[attr-defined]
        assert list(await session.scalars(select(OutboxMessage).where(
            OutboxMessage.chat_id == "secret-web-chat-77"))) == []
        kept = await tickets.get_ticket(session, ticket.id)
        assert kept is not None
        assert kept.citizen_id is None and kept.contact_phone is None
        (survey,) = await session.scalars(select(store.Survey).where(
            store.Survey.comment.is_(None), store.Survey.channel == "web"))
        assert survey.overall == 3 and survey.citizen_id is None  # the rating still counts
        entry = (await session.scalars(select(AuditLog).where(
            AuditLog.action == "privacy.forget"))).one()
        assert entry.actor == "citizen" and entry.detail["identities"] == 1
        assert repo.code_key(CODE)  # the dossier itself belongs to the agency and stays
        assert await repo.get_dossier(session, CODE) is not None
    await db.dispose()


# -- issue 11: what deletion keeps, what it must not leave, and the retention purge ----------

PERSONAL = ("0912 345 678", "+84 987.654.321", "001234567890", "binh.tran@example.vn",
            "Trần Thị Bình", "123456789")


async def citizen_of(db: Database, chat_id: str) -> int:
    async with db.session() as session:
        return (await session.scalars(select(Identity.citizen_id).where(
            Identity.chat_id == chat_id))).one()


async def add_complaint(db: Database, citizen: int, chat_id: str, description: str,
                        contact: str, said: str, staff_said: str) -> int:
    async with db.session() as session:
        ticket = tickets.Ticket(citizen_id=citizen, channel="web", chat_id=chat_id,
                                category="khac", description=description, contact_name=contact,
                                contact_phone="0987654321", status=tickets.OPEN, created_at=NOW,
                                due_at=NOW)
        await tickets.add_ticket(session, ticket, NOW)
        session.add_all([
            tickets.TicketMessage(ticket_id=ticket.id, author="citizen", author_name=contact,
                                  text=said, created_at=NOW),
            tickets.TicketMessage(ticket_id=ticket.id, author="staff", author_name="Cán bộ A",
                                  text=staff_said, created_at=NOW)])
        await enqueue(session, ChatRef("telegram", "-100777"), Outgoing(description),
                      key=f"ticket:{ticket.id}:card", purpose="ticket_card",
                      ref=f"ticket:{ticket.id}")
        return ticket.id


async def test_forget_redacts_the_citizens_complaints_and_drops_their_dedupe_keys(
        settings: Settings) -> None:
    from bot.channels.web import WebChannel, WebSessionRef

    core, _ = await core_with_dossier(settings, CODE, NOW)
    db = core.db
    web = WebChannel(core, db)
    await web.converse(WebSessionRef("sid-binh", "binh-web-chat", new=True), text="/start",
                       client_id="first-message")
    await Dialog(core, channel="web", chat_id="binh-web-chat",
                 name="Trần Thị Bình").say("xin chào")
    await Dialog(core, channel="web", chat_id="other-chat", name="Lê Văn Cường").say("xin chào")
    await web.converse(WebSessionRef("sid-other", "other-chat", new=True), text="/start",
                       client_id="other-message")
    binh, cuong = await citizen_of(db, "binh-web-chat"), await citizen_of(db, "other-chat")
    mine = await add_complaint(
        db, binh, "binh-web-chat",
        "Tôi là Trần Thị Bình, SĐT 0912 345 678, CCCD 001234567890, email "
        "binh.tran@example.vn. Đường trước nhà số 12 hỏng từ 15.01.2026, hồ sơ "
        "000.00.01.H29-260105-0011.", "Trần Thị Bình",
        "Gọi lại giúp tôi: +84 987.654.321 hoặc CMND 123456789, trần thị bình",
        "Kính gửi bà Trần Thị Bình, xã đã tiếp nhận.")
    theirs = await add_complaint(
        db, cuong, "other-chat", "Lê Văn Cường, SĐT 0912 345 678, đèn đường hỏng.",
        "Lê Văn Cường", "Số tôi 0987.654.321", "Kính gửi ông Lê Văn Cường.")
    async with db.session() as session:
        keys = set(await session.scalars(select(ProcessedUpdate.key)))
    assert "web:binh-web-chat:first-message" in keys

    await core.handle(Dialog(core, channel="web", chat_id="binh-web-chat").incoming(
        action="privacy:forget:yes"))

    async with db.session() as session:
        kept = await tickets.get_ticket(session, mine)
        assert kept is not None
        messages = await tickets.find_messages(session, mine)
        copies = list(await session.scalars(select(OutboxMessage.payload).where(
            OutboxMessage.ref == f"ticket:{mine}")))
        everything = "\n".join([kept.description, *(m.text for m in messages),
                                *(c["text"] for c in copies)])
        for personal in PERSONAL + ("0912345678", "trần thị bình"):
            assert personal not in everything, personal
        assert "Đường trước nhà số 12 hỏng từ 15.01.2026" in kept.description  # the complaint
        assert "000.00.01.H29-260105-0011" in kept.description
        assert kept.description.count("[đã xóa]") == 4
        assert "xã đã tiếp nhận" in everything
        other = await tickets.get_ticket(session, theirs)
        assert other is not None and other.description.startswith("Lê Văn Cường, SĐT 0912 345")
        assert [m.text for m in await tickets.find_messages(session, theirs)] == [
            "Số tôi 0987.654.321", "Kính gửi ông Lê Văn Cường."]
        keys = set(await session.scalars(select(ProcessedUpdate.key)))
    assert not [k for k in keys if "binh-web-chat" in k]
    assert "web:other-chat:other-message" in keys
    await db.dispose()


async def test_deleting_ones_data_does_not_reset_the_lookup_throttle(settings: Settings) -> None:
    core, _ = await core_with_dossier(settings, CODE, NOW)
    db = core.db
    dialog = Dialog(core, channel="telegram", chat_id="777001", name="Trần Thị Bình")
    await dialog.say(f"/hoso {CODE}")
    for _ in range(5):
        reply = texts(await dialog.say("0000"))
    assert "tạm dừng tra cứu" in reply
    await dialog.say("/xoadulieu")
    done = texts(await dialog.press("privacy:forget:yes"))
    assert "đã xóa dữ liệu" in done and "365 ngày" in done and "ẩn danh" in done
    left = [row for row in (await dump(db)).splitlines() if "777001" in row]
    assert len(left) == 1 and "reply:telegram" in left[0]  # only this very reply, until sent
    assert "tạm dừng tra cứu" in texts(await dialog.say(f"/hoso {CODE}"))
    assert "tạm dừng tra cứu" in texts(await dialog.say("5678"))  # even the right digits
    async with db.session() as session:
        failed = list(await session.scalars(select(AuditLog).where(
            AuditLog.action == "dossier.lookup_failed")))
        assert len(failed) == 5
        pseudonym = chat_pseudonym(settings.secret, "telegram", "777001")
        assert {e.actor for e in failed} == {f"telegram:~{pseudonym}"}
        assert len(list(await session.scalars(select(repo.DossierLookupFailure)))) == 5
    await db.dispose()


async def test_the_confirmation_says_what_is_kept(settings: Settings) -> None:
    core, _ = await core_with_dossier(settings, CODE, NOW)
    asked = texts(await Dialog(core).say("/xoadulieu"))
    for kept in ("Nội dung và kết quả xử lý các phản ánh", "Điểm đánh giá khảo sát",
                 "giữ 365 ngày", "không gỡ giới hạn tra cứu"):
        assert kept in asked, kept
    await core.db.dispose()


# -- retention ------------------------------------------------------------------------------


async def fill_old_and_new(db: Database, now: datetime = NOW) -> None:
    """Rows of every purged kind, one past its retention and one within it (defaults)."""
    old, new = now - timedelta(days=400), now - timedelta(days=1)
    async with db.session() as session:
        for label, at in (("old", old), ("new", new)):
            session.add(ProcessedUpdate(key=f"telegram:{label}", received_at=at))
            for status in ("sent", "failed", "pending"):
                session.add(OutboxMessage(
                    dedupe_key=f"{label}:{status}", channel="telegram", chat_id="1",
                    payload={"text": "x"}, status=status, created_at=at, not_before=at))
            session.add(WebMessage(chat_id=f"web-{label}", payload={"text": "x"},
                                   created_at=at))
            await repo.record_lookup_failure(session, repo.Guesser("web", f"key-{label}"),
                                             CODE, at)
            session.add(AuditLog(at=at, actor="web:~key", action="dossier.lookup_failed",
                                 target=CODE, result="denied"))
            session.add(AuditLog(at=at, actor="staff:1", action="ticket.closed",
                                 target=label, result="ok"))
            session.add(AuditLog(at=at, actor="desk", action="staff.login", target="canbo",
                                 result="wrong_password", detail={"origin": "203.0.113.9"}))
            session.add(ButtonPayload(id=f"btn-{label}", action="x", created_at=at))
        await repo.lock_code(session, "OLD-260101-0001", old, old + timedelta(days=1), 10)


async def test_the_purge_deletes_old_rows_and_keeps_recent_ones(settings: Settings) -> None:
    db = Database(settings.database_url)
    await fill_old_and_new(db)
    async with db.session() as session:
        counts = await privacy.purge_expired(session, settings, NOW)
    assert counts == {"processed_updates": 1, "outbox": 2, "web_messages": 1,
                      "lookup_failures": 2, "audit_security": 2, "button_payloads": 1}
    async with db.session() as session:
        assert set(await session.scalars(select(ProcessedUpdate.key))) == {"telegram:new"}
        assert set(await session.scalars(select(OutboxMessage.dedupe_key))) == {
            "old:pending", "new:sent", "new:failed", "new:pending"}  # pending never purged
        assert set(await session.scalars(select(WebMessage.chat_id))) == {"web-new"}
        assert set(await session.scalars(select(repo.DossierLookupFailure.chat_key))) == {
            "key-new"}
        assert list(await session.scalars(select(repo.DossierLookupLock))) == []
        assert sorted((e.action, e.target) for e in await session.scalars(select(AuditLog))) \
            == [("dossier.lookup_failed", CODE), ("staff.login", "canbo"),
                ("ticket.closed", "new"),
                ("ticket.closed", "old")]  # staff actions are not security records
        assert set(await session.scalars(select(ButtonPayload.id))) == {"btn-new"}
    async with db.session() as session:
        assert not any((await privacy.purge_expired(session, settings, NOW)).values())
    await db.dispose()


async def test_the_scheduler_runs_the_purge_daily_in_the_leading_process(
        settings: Settings) -> None:
    from scheduler.clock import SchedulerClock

    db = Database(settings.database_url)
    await fill_old_and_new(db)

    class Sender:
        is_leader = False

        def notify(self) -> None:
            pass

    sender = Sender()
    clock = SchedulerClock(settings, db, {"web": sender}, lambda: NOW)
    assert await clock.purge() is None  # another process leads
    sender.is_leader = True
    assert (await clock.purge() or {})["outbox"] == 2
    clock.start()
    try:
        job = clock.scheduler.get_job("retention-purge")
        assert job is not None and "hour='3', minute='30'" in str(job.trigger)
    finally:
        await clock.stop()
    await db.dispose()


# -- the command line -----------------------------------------------------------------------


def test_cli_forget_and_purge(database_url: str, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    settings = make_settings(database_url)

    async def prepare() -> None:
        core, _ = await core_with_dossier(settings, CODE, NOW)
        await Dialog(core, channel="telegram", chat_id="5550001", name="Trần Thị Bình").say(
            "xin chào")
        await fill_old_and_new(core.db, datetime.now(UTC))  # the command runs at the real time
        await core.db.dispose()

    asyncio.run(prepare())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "test-secret-key-not-for-production")

    assert main(["privacy", "forget", "--channel", "telegram", "--chat", "5550001"]) == 0
    out = capsys.readouterr().out
    assert "Deleted the data of citizen" in out and "identities: 1" in out
    assert main(["privacy", "forget", "--channel", "telegram", "--chat", "5550001"]) == 1
    assert "No citizen uses the telegram chat 5550001" in capsys.readouterr().out
    assert main(["privacy", "purge"]) == 0
    out = capsys.readouterr().out
    assert "Retention purge done" in out and "outbox: 2" in out and "button_payloads: 1" in out

    async def check() -> None:
        db = Database(database_url)
        assert "5550001" not in await dump(db) and "Trần Thị Bình" not in await dump(db)
        async with db.session() as session:
            entry = (await session.scalars(select(AuditLog).where(
                AuditLog.action == "privacy.forget"))).one()
            assert entry.actor == "official"
        await db.dispose()

    asyncio.run(check())
