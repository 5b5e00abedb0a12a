"""/xoadulieu: after a confirmation the citizen's data is gone — identities, conversations,
web-chat messages, outbox rows to them, consents, subscriptions, tickets' personal fields — and
one audit entry without personal data remains."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from bot.config import Settings
from bot.db import dossiers as repo
from bot.db import feedback as tickets
from bot.db import scheduler as store
from bot.db.models import AuditLog, Base, Citizen, Identity, OutboxMessage
from bot.db.session import Database
from bot.messages import ChatRef, Outgoing
from bot.outbox import enqueue
from tests.dialog import Dialog, core_with_dossier, texts

NOW = datetime(2026, 1, 6, 3, 0, tzinfo=UTC)
CODE = "000.00.01.H29-260105-0011"


async def dump(db: Database) -> str:
    """Every row of every table, as text."""
    async with db.session() as session:
        rows = []
        for table in Base.metadata.sorted_tables:
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
