"""/thongke for staff: satisfaction overall, by procedure and by week, on-time rate of
dossiers, open tickets and the median response time — as figures and a PNG chart, which the
Telegram channel uploads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.app import bundled_index
from bot.config import Settings
from bot.db import dossiers as repo
from bot.db import feedback as tickets
from bot.db import scheduler as store
from bot.db.dossiers import DossierFields, EventFields
from bot.db.session import Database
from bot.messages import Attachment, Outgoing
from bot.router import Core
from handlers import build_router
from tests.conftest import make_settings
from tests.dialog import Dialog

NOW = datetime(2026, 3, 20, 3, 0, tzinfo=UTC)


async def seed(db: Database) -> None:
    async with db.session() as session:
        for n, (procedure, score) in enumerate([("Đăng ký kết hôn", 3), ("Đăng ký kết hôn", 2),
                                                ("Đăng ký kết hôn", 1), ("Đăng ký khai sinh", 3)]):
            session.add(store.Survey(channel="web", subject="dossier", subject_id=str(n),
                                     procedure_name=procedure, scale=3, overall=score,
                                     created_at=NOW - timedelta(days=7 * (n % 2))))
        for n, (due_days, delayed) in enumerate([(2, False), (-1, False), (2, True)]):
            result = await repo.upsert_dossier(session, DossierFields(
                code=f"HS-260301-000{n}", procedure_code="1.000894",
                procedure_name="Đăng ký kết hôn", applicant_name="A", phone="0912345678",
                received_at=NOW - timedelta(days=5), due_at=NOW + timedelta(days=due_days)),
                NOW - timedelta(days=5))
            if delayed:
                await repo.add_event(session, result.dossier, EventFields(
                    "delayed", NOW - timedelta(days=1), new_due_at=NOW + timedelta(days=3),
                    reason="x"), NOW)
            await repo.add_event(session, result.dossier, EventFields("returned", NOW), NOW)
        for hours in (2, 4, 30):
            ticket = tickets.Ticket(channel="web", chat_id="c", category="khac",
                                    description="d", status=tickets.ANSWERED,
                                    created_at=NOW - timedelta(days=2), due_at=NOW,
                                    first_reply_at=NOW - timedelta(days=2)
                                    + timedelta(hours=hours))
            await tickets.add_ticket(session, ticket, NOW)


async def test_figures_and_chart(settings: Settings) -> None:
    settings = make_settings(settings.database_url, staff_user_ids="web:boss")
    db = Database(settings.database_url)
    await seed(db)
    core = Core(settings, db, build_router(), services={"catalogue": bundled_index()},
                clock=lambda: NOW)
    figures, chart = await Dialog(core, chat_id="boss").say("/thongke")
    assert "75.0% hài lòng trên 4 lượt" in figures.text
    assert "Đăng ký kết hôn: 66.7% (3 lượt)" in figures.text
    assert "Tuần 11/2026: 100.0% (2 lượt)\n- Tuần 12/2026: 50.0% (2 lượt)" in figures.text
    assert "Hồ sơ đã giải quyết: 3, đúng hạn 33.3%" in figures.text  # one late, one apologised
    assert "Phản ánh đang mở: 3; thời gian phản hồi trung vị: 4.0 giờ" in figures.text
    assert chart.photo is not None and chart.photo.data is not None
    assert chart.photo.data.startswith(b"\x89PNG")
    await db.dispose()


def test_generated_files_travel_through_the_outbox_as_base64() -> None:
    message = Outgoing("Biểu đồ", photo=Attachment("photo", name="a.png", data=b"\x89PNG\x00"))
    import json

    again = Outgoing.from_dict(json.loads(json.dumps(message.to_dict())))
    assert again == message
