"""Printable letters and apology slips: PDF files in the administrative layout (A4 and A5),
opened and read back; `motcua letters print`, `/inthu` in the staff group, and the PDF that
goes with a letter or a slip to channels that take files."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from bot.app import bundled_index
from bot.config import Settings
from bot.db import dossiers as repo
from bot.db.dossiers import DossierFields, EventFields
from bot.db.session import Database
from bot.router import Core
from documents import letters
from documents.printing import PDF_NAMES, document_pdf, with_pdf
from handlers import build_router
from handlers.dossiers import apology_slip_of, event_message
from handlers.texts import TEXTS_DIR
from tests.conftest import make_settings
from tests.dialog import Dialog, texts
from tests.test_console_and_cli import run_cli

NOW = datetime(2026, 3, 5, 3, 0, tzinfo=UTC)  # 10:00 on Thursday 5 March in Hà Nội
MM = 72 / 25.4  # PDF points per millimetre


def signed_settings(tmp_path: Path, database_url: str = "sqlite+aiosqlite:///x.db") -> Settings:
    own = tmp_path / "letterheads.json"
    shipped = json.loads((TEXTS_DIR.parent / "data" / "letterheads.json").read_text("utf-8"))
    own.write_text(json.dumps({**shipped, "4543": {"signer_name": "Nguyễn Văn Bình"}}), "utf-8")
    return make_settings(database_url, letterheads_file=str(own))


def read(data: bytes) -> tuple[str, list[tuple[float, float]]]:
    """The text of a PDF and the size of its pages in millimetres."""
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    sizes = [(round(float(p.mediabox.width) / MM), round(float(p.mediabox.height) / MM))
             for p in reader.pages]
    return "\n".join(page.extract_text() for page in reader.pages), sizes


def flat(shown: str) -> str:
    """Text extraction breaks lines where the page does: compare words, not lines."""
    return " ".join(shown.split())


@pytest.mark.parametrize("kind", letters.LETTERS)
@pytest.mark.parametrize(("size", "paper"), [("A4", (210, 297)), ("A5", (148, 210))])
def test_each_letter_prints_as_an_administrative_document(
        kind: str, size: str, paper: tuple[int, int], tmp_path: Path) -> None:
    for settings, name in ((signed_settings(tmp_path), "Nguyễn Văn Bình"),
                           (make_settings("sqlite+aiosqlite:///x.db"), None)):
        doc = letters.letter_document(kind, "4543", settings, NOW, to="Trần Thị Hoa")
        shown, sizes = read(document_pdf(doc, size))  # type: ignore[arg-type]
        assert sizes == [paper]
        lines = [line.strip() for line in shown.splitlines()]
        assert lines[:2] == ["ỦY BAN NHÂN DÂN", "PHƯỜNG ÂU LÂU"]
        assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in lines
        assert "Độc lập - Tự do - Hạnh phúc" in lines
        assert "Âu Lâu, ngày 05 tháng 3 năm 2026" in lines
        assert doc.title in lines and doc.title.startswith("THƯ ")
        assert "Kính gửi: Ông/Bà Trần Thị Hoa và gia đình" in flat(shown)
        assert "tại phường Âu Lâu" in flat(shown) or "phường Âu Lâu xin gửi" in flat(shown)
        expected_end = ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"] + ([name] if name else [])
        assert [line for line in lines if line][-len(expected_end):] == expected_end


def test_the_apology_slip_prints_with_the_agency_and_the_new_date(tmp_path: Path) -> None:
    doc = letters.sample_slip("4543", signed_settings(tmp_path), NOW)
    shown, sizes = read(document_pdf(doc))
    assert sizes == [(210, 297)]
    words = flat(shown)
    for part in ("ỦY BAN NHÂN DÂN PHƯỜNG ÂU LÂU", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                 "Âu Lâu, ngày 05 tháng 3 năm 2026",
                 "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ", "Kính gửi: Ông/Bà",
                 "xin lỗi Ông/Bà và mong nhận được sự thông cảm",
                 "vào 17 giờ 00, thứ Hai, ngày 19/01/2026", "Trân trọng./.",
                 "TM. ỦY BAN NHÂN DÂN CHỦ TỊCH Nguyễn Văn Bình"):
        assert part in words, part
    centre = flat(read(document_pdf(letters.sample_slip(None, signed_settings(tmp_path),
                                                        NOW)))[0])
    assert centre.startswith("TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG") and centre.endswith("GIÁM ĐỐC")
    assert "Bộ phận Một cửa" not in centre


async def add_dossier(settings: Settings, code: str, procedure: str, *,
                      delayed: bool = False) -> None:
    db = Database(settings.database_url)
    async with db.session() as session:
        dossier = (await repo.upsert_dossier(session, DossierFields(
            code=code, procedure_code=procedure, procedure_name="Đăng ký kết hôn",
            applicant_name="Nguyễn Văn An", phone="0912345678", commune_code="4543",
            received_at=NOW - timedelta(days=10), due_at=NOW - timedelta(days=1),
            status="processing"), NOW)).dossier
        if delayed:
            await repo.add_event(session, dossier, EventFields(
                "delayed", NOW, "", NOW + timedelta(days=5), "Chờ xác minh tại nơi cư trú."),
                NOW)
        else:
            await repo.add_event(session, dossier, EventFields("returned", NOW), NOW)
    await db.dispose()


async def test_motcua_letters_print(settings: Settings, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    configured = signed_settings(tmp_path, settings.database_url)
    await add_dossier(configured, "KH-260305-0001", "1.000894")
    await add_dossier(configured, "KH-260305-0002", "1.000894", delayed=True)
    await add_dossier(configured, "CT-260305-0003", "2.000815")
    monkeypatch.chdir(tmp_path)

    from bot import letters_cli

    assert await letters_cli.print_letter(configured, "kh-260305-0001") == 0
    letter = tmp_path / f"KH-260305-0001-{PDF_NAMES['congratulation_marriage']}"
    shown = flat(read(letter.read_bytes())[0])
    assert "THƯ CHÚC MỪNG" in shown and "Kính gửi: Ông/Bà Nguyễn Văn An và gia đình" in shown
    assert shown.endswith("CHỦ TỊCH Nguyễn Văn Bình")

    slip = tmp_path / "slip.pdf"
    assert await letters_cli.print_letter(configured, "KH-260305-0002", "A5", str(slip)) == 0
    shown, sizes = read(slip.read_bytes())
    assert sizes == [(148, 210)] and "PHIẾU XIN LỖI" in shown
    assert "Kính gửi: Ông/Bà Nguyễn Văn An" in flat(shown)
    assert "Chờ xác minh tại nơi cư trú." in flat(shown)

    assert await letters_cli.print_letter(configured, "CT-260305-0003") == 1  # no letter
    assert await letters_cli.print_letter(configured, "XX-260305-0009") == 1
    assert "Nothing to print" in capsys.readouterr().out
    # the command as staff type it (its own process, the settings from the environment)
    result = run_cli(["letters", "print", "KH-260305-0001", "--out", "again.pdf"],
                     {"DATABASE_URL": configured.database_url,
                      "LETTERHEADS_FILE": str(configured.letterheads_file)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "THƯ CHÚC MỪNG (A4)" in result.stdout
    assert "Nguyễn Văn Bình" in flat(read((tmp_path / "again.pdf").read_bytes())[0])


async def test_staff_print_from_the_staff_chat(settings: Settings, tmp_path: Path) -> None:
    configured = signed_settings(tmp_path, settings.database_url)
    configured = make_settings(configured.database_url, staff_user_ids="web:boss",
                               letterheads_file=configured.letterheads_file)
    await add_dossier(configured, "KH-260305-0004", "1.000656")
    db = Database(configured.database_url)
    core = Core(configured, db, build_router(), services={"catalogue": bundled_index()},
                clock=lambda: NOW)
    boss = Dialog(core, chat_id="boss")
    (reply,) = await boss.say("/inthu KH-260305-0004")
    assert reply.document is not None and reply.document.name == "thu-chia-buon.pdf"
    assert reply.document.data is not None
    assert "THƯ CHIA BUỒN" in read(reply.document.data)[0]
    assert "Thư chia buồn của hồ sơ KH-260305-0004" in reply.text
    assert "/inthu" in texts(await boss.say("/inthu"))
    assert "chỉ dành cho cán bộ" in texts(await Dialog(core, chat_id="x").say(
        "/inthu KH-260305-0004"))
    await db.dispose()


async def test_the_slip_goes_as_a_pdf_where_the_channel_takes_files() -> None:
    settings = make_settings("sqlite+aiosqlite:///x.db")
    dossier = repo.Dossier(
        id=7, key="X", code="KH-260305-0005", procedure_code="1.000894",
        procedure_name="Đăng ký kết hôn", applicant_name="Nguyễn Văn An", phone="0912345678",
        commune_code="4543", received_at=NOW - timedelta(days=10), due_at=NOW,
        status="delayed", status_at=NOW, note="")
    event = repo.DossierEvent(id=3, status="delayed", at=NOW, note="",
                              new_due_at=NOW + timedelta(days=5), previous_due_at=NOW,
                              reason="Chờ xác minh.")
    plain = event_message(dossier, event, settings)
    assert plain.document is None
    printed = await with_pdf(plain, apology_slip_of(dossier, event, settings), "apology")
    assert printed.text == plain.text and printed.buttons == plain.buttons
    assert printed.document is not None and printed.document.name == PDF_NAMES["apology"]
    assert printed.document.data is not None
    shown = flat(read(printed.document.data)[0])
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in shown and "Nguyễn" not in shown
