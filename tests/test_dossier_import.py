"""`motcua import-dossiers`: the documented CSV/XLSX layout, Vietnamese headings and dates,
a report of rejected rows with line numbers and reasons, idempotent re-imports, --dry-run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from bot.cli import main
from bot.db import dossiers as repo
from bot.db.dossiers import Dossier
from bot.db.session import Database
from bot.dossiers_cli import ReadFailed, heading_key, read_rows

SAMPLE = Path(__file__).parent / "data" / "dossiers_sample.csv"


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return database_url


async def stored(database_url: str) -> dict[str, Dossier]:
    db = Database(database_url)
    try:
        async with db.session() as session:
            return {d.code: d for d in await session.scalars(select(Dossier))}
    finally:
        await db.dispose()


async def run(*args: str) -> int:
    """The command as typed (it runs its own event loop, so in a thread here)."""
    return await asyncio.to_thread(main, ["import-dossiers", *args])


def test_headings_in_vietnamese_or_english() -> None:
    assert heading_key("Số điện thoại") == "phone"
    assert heading_key("so dien thoai") == "phone"
    assert heading_key("NGÀY HẸN TRẢ") == "due_at"
    assert heading_key("procedure_code") == "procedure_code"
    assert heading_key("Cột lạ") is None


async def test_csv_import_reports_rejected_rows_by_line(
        env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert await run(str(SAMPLE)) == 1
    out = capsys.readouterr().out
    assert "Đã đọc 7 dòng" in out and "3 hồ sơ (3 mới, 0 cập nhật, 0 không đổi)" in out
    assert "4 dòng bị từ chối" in out
    assert "dòng 4: phone:" in out
    assert "dòng 5: due_at: is before received_at; procedure_name: required" in out
    assert "dòng 6: code: required" in out
    assert "dòng 7: status: must be one of" in out
    dossiers = await stored(env)
    assert set(dossiers) == {"000.00.01.H29-260105-0001", "000.00.01.H29-260105-0002",
                             "03706/2026/07906"}
    first = dossiers["000.00.01.H29-260105-0001"]
    assert first.received_at == datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
    assert first.due_at == datetime(2026, 1, 20, 16, 59, tzinfo=UTC)
    assert first.status == "received"
    second = dossiers["000.00.01.H29-260105-0002"]
    assert second.phone == "0988001122" and second.procedure_name == "Đăng ký khai sinh"
    third = dossiers["03706/2026/07906"]
    assert third.status == "processing" and third.note == "Đã chuyển phòng Tư pháp"

    assert await run(str(SAMPLE)) == 1  # again: nothing changes
    assert "0 mới, 0 cập nhật, 3 không đổi" in capsys.readouterr().out


async def test_xlsx_with_date_cells_and_numeric_phones(env: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["code", "procedure_code", "procedure_name", "applicant_name", "phone",
                  "received_at", "due_at", "status"])
    sheet.append(["000.00.01.H29-260105-0009", "1.000894", "Đăng ký kết hôn", "Ngô Thị Hoa",
                  912345678, datetime(2026, 1, 5, 9, 30), datetime(2026, 1, 20), "received"])
    sheet.append([None] * 8)
    sheet.append(["000.00.01.H29-260105-0010", "1.000894", "Đăng ký kết hôn", "Mai Văn Ích",
                  "0987", datetime(2026, 1, 5), datetime(2026, 1, 20), "received"])
    path = tmp_path / "hoso.xlsx"
    book.save(path)
    assert await run(str(path)) == 1
    out = capsys.readouterr().out
    assert "dòng 4: phone:" in out and "1 hồ sơ (1 mới" in out
    dossier = (await stored(env))["000.00.01.H29-260105-0009"]
    assert dossier.phone == "0912345678"
    assert dossier.received_at == datetime(2026, 1, 5, 2, 30, tzinfo=UTC)
    assert dossier.due_at == datetime(2026, 1, 20, 16, 59, tzinfo=UTC)


async def test_dry_run_changes_nothing(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert await run(str(SAMPLE), "--dry-run") == 1
    out = capsys.readouterr().out
    assert "Sẽ nhập 3 hồ sơ" in out and "--dry-run" in out
    assert await stored(env) == {}


async def test_a_status_change_by_import_is_announced(env: str, tmp_path: Path) -> None:
    assert await run(str(SAMPLE)) == 1
    db = Database(env)
    async with db.session() as session:
        from bot.db.models import Citizen, OutboxMessage

        citizen = Citizen(display_name="")
        session.add(citizen)
        await session.flush()
        dossier = await repo.get_dossier(session, "03706/2026/07906")
        assert dossier is not None
        access = await repo.record_verified(session, dossier.id, citizen.id, "web", "w9", None,
                                            datetime.now(UTC))
        await repo.set_subscribed(session, access, True, datetime.now(UTC))
    changed = tmp_path / "changed.csv"
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    ready = lines[-1].replace("Đang xử lý", "Có kết quả, chờ trả")
    changed.write_text("\n".join([lines[0], ready]), encoding="utf-8")
    assert await run(str(changed)) == 0
    assert await run(str(changed)) == 0
    async with db.session() as session:
        rows = list(await session.scalars(select(OutboxMessage)))
        assert [r.chat_id for r in rows] == ["w9"]
        assert "Có kết quả, chờ trả" in rows[0].payload["text"]
        count = await session.scalar(select(func.count()).select_from(Dossier))
        assert count == 3
    await db.dispose()


async def test_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("Mã hồ sơ;Người nộp\nA-1;B\n", encoding="utf-8")
    with pytest.raises(ReadFailed, match="thiếu cột procedure_code"):
        read_rows(bad)
    with pytest.raises(ReadFailed, match="cần .csv hoặc .xlsx"):
        read_rows(tmp_path / "x.pdf")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ReadFailed, match="trống"):
        read_rows(empty)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/none.db")
    monkeypatch.chdir(tmp_path)
    assert await run(str(bad)) == 2
    assert "Nhập thất bại" in capsys.readouterr().err


async def test_impossible_rows_are_rejected_by_field_never_a_crash(
        env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The importer uses the API's checks: control and bidi characters, non-ASCII digits,
    dates in the future or off the calendar are rejected rows naming the field."""
    header = "Mã hồ sơ;Mã thủ tục;Người nộp;Số điện thoại;Ngày tiếp nhận;Ngày hẹn trả"
    rows = [
        "000.00.01.H29-260105-0001;1.000894;Nguyễn Văn An;0912345678;05/01/2026;20/01/2026",
        "000.00.01.H29-260105-0002;1.000894;Nguyễn\x00 Văn Bình;0912345678;05/01/2026;20/01/2026",
        "000.00.01.H29-260105-0003;1.000894;Trần \u202eThị;0912345678;05/01/2026;20/01/2026",
        "000.00.01.H29-260105-0004;1.000894;Lê Văn Cường;٠٩١٢٣٤٥٦٧٨;05/01/2026;20/01/2026",
        "000.00.01.H29-260105-0005;1.000894;Phạm Thị Dung;0912345678;01/01/0001;20/01/2026",
        "000.00.01.H29-260105-0006;1.000894;Đỗ Văn Em;0912345678;05/01/2099;20/01/2099",
        "000.00.01.H29-260105-0007;1.000894;Hồ Văn Phúc;0912345678;05/01/2026;31/12/9999",
    ]
    path = tmp_path / "hoso.csv"
    path.write_text("\n".join([header, *rows]), encoding="utf-8")
    assert await run(str(path)) == 1
    out = capsys.readouterr().out
    assert "1 hồ sơ (1 mới" in out and "6 dòng bị từ chối" in out
    assert "dòng 3: applicant_name: contains a NUL character" in out
    assert "dòng 4: applicant_name: contains a bidirectional control character" in out
    assert "dòng 5: phone:" in out
    assert "dòng 6: received_at:" in out
    assert "dòng 7: received_at: is in the future" in out
    assert "dòng 8: due_at: is more than 5 years ahead" in out
    assert "Bình" not in out and "Cường" not in out  # the report names fields, not values
    assert set(await stored(env)) == {"000.00.01.H29-260105-0001"}
