"""Letters per commune: the shared template with each commune's letterhead (an editable file),
a commune's own template, and `/mau xem …` previews for staff."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import bundled_index
from bot.config import Settings
from bot.db.session import Database
from bot.router import Core
from documents import letters
from handlers import build_router
from handlers.texts import TEXTS_DIR
from tests.conftest import make_settings
from tests.dialog import Dialog, texts

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


NATIONAL = ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"]


@pytest.fixture
def signed(tmp_path: Path) -> Settings:
    """A deployment whose Âu Lâu entry names its chairman."""
    own = tmp_path / "letterheads.json"
    shipped = json.loads((TEXTS_DIR.parent / "data" / "letterheads.json").read_text("utf-8"))
    own.write_text(json.dumps({**shipped, "4543": {"signer_name": "Nguyễn Văn Bình"}}), "utf-8")
    return make_settings("sqlite+aiosqlite:///x.db", letterheads_file=str(own))


def test_letterhead_from_the_units_and_the_file(signed: Settings) -> None:
    settings = make_settings("sqlite+aiosqlite:///x.db")
    head = letters.letterhead("4543", settings)
    assert (head.commune, head.authority, head.place, head.where) == (
        "Phường Âu Lâu", "Ủy ban nhân dân phường Âu Lâu", "Âu Lâu", "phường Âu Lâu")
    assert head.agency == ("ỦY BAN NHÂN DÂN", "PHƯỜNG ÂU LÂU")
    assert head.signer_on_behalf == "TM. ỦY BAN NHÂN DÂN" and head.signer_title == "CHỦ TỊCH"
    assert letters.letterhead("04543", settings) == head  # padded codes too
    assert letters.letterhead("4543", signed).signer_name == "Nguyễn Văn Bình"
    centre = letters.letterhead(None, settings)
    assert centre.authority == "Trung tâm Phục vụ hành chính công"
    assert centre.agency == ("TRUNG TÂM PHỤC VỤ", "HÀNH CHÍNH CÔNG")


@pytest.mark.parametrize("kind", letters.LETTERS)
def test_each_letter_is_an_administrative_document(kind: str, signed: Settings) -> None:
    unsigned = make_settings("sqlite+aiosqlite:///x.db")
    for settings, name in ((signed, ["Nguyễn Văn Bình"]), (unsigned, [])):
        message = letters.letter(kind, "4543", settings, NOW)
        lines = message.text.splitlines()
        assert lines[:6] == [*NATIONAL, "", "ỦY BAN NHÂN DÂN", "PHƯỜNG ÂU LÂU", ""]
        assert "Âu Lâu, ngày 02 tháng 3 năm 2026" in lines  # Decree 30: "02", but "3"
        assert lines[-3 - len(name):] == ["", "TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH", *name]
        assert "Kính gửi: Ông/Bà và gia đình" in lines
        assert "Bộ phận Một cửa" not in message.text and "anh, chị" not in message.text
        assert not message.buttons


def test_a_letter_without_a_known_commune_comes_from_the_centre() -> None:
    settings = make_settings("sqlite+aiosqlite:///x.db")
    shown = letters.letter("condolence", "99999999", settings, NOW).text
    assert "TRUNG TÂM PHỤC VỤ\nHÀNH CHÍNH CÔNG" in shown
    assert "Trung tâm Phục vụ hành chính công xin gửi tới gia đình" in shown
    assert "Bộ phận Một cửa" not in shown and "ỦY BAN" not in shown
    assert shown.endswith("\n\nGIÁM ĐỐC")


def test_the_date_line_follows_decree_30() -> None:
    settings = make_settings("sqlite+aiosqlite:///x.db")
    for moment, expected in (
            (datetime(2026, 2, 4, 3, tzinfo=UTC), "Âu Lâu, ngày 04 tháng 02 năm 2026"),
            (datetime(2026, 1, 15, 3, tzinfo=UTC), "Âu Lâu, ngày 15 tháng 01 năm 2026"),
            (datetime(2026, 11, 9, 3, tzinfo=UTC), "Âu Lâu, ngày 09 tháng 11 năm 2026"),
            (datetime(2026, 8, 31, 18, tzinfo=UTC), "Âu Lâu, ngày 01 tháng 9 năm 2026")):
        assert letters.dateline("Âu Lâu", moment, settings) == expected


def test_the_wording_of_each_letter() -> None:
    settings = make_settings("sqlite+aiosqlite:///x.db")
    marriage = letters.letter("congratulation_marriage", "4543", settings, NOW).text
    assert "Ủy ban nhân dân phường Âu Lâu trân trọng chúc mừng Ông/Bà đã đăng ký kết hôn " \
        "tại phường Âu Lâu" in marriage
    for commercial in ("chúng tôi", "lãnh đạo và cán bộ", "tin tưởng", "thực hiện thủ tục"):
        assert commercial not in marriage
    birth = letters.letter("congratulation_birth", "4543", settings, NOW).text
    assert "trong vòng tay yêu thương của gia đình" in birth
    assert "cha mẹ" not in birth and "tại phường Âu Lâu" in birth
    condolence = letters.letter("condolence", "4543", settings, NOW)
    assert ("Được tin gia đình có người thân từ trần, Ủy ban nhân dân phường Âu Lâu xin gửi "
            "tới gia đình lời chia buồn sâu sắc.") in condolence.text
    assert "vừa" not in condolence.text and "khảo sát" not in condolence.text
    assert all(ord(c) < 0x2000 for c in condolence.text)  # no emoji, no symbol
    assert not condolence.buttons


def test_the_apology_slip_with_and_without_a_signer(signed: Settings) -> None:
    unsigned = make_settings("sqlite+aiosqlite:///x.db")
    slip = letters.sample_slip("4543", signed, NOW).chat_text()
    assert slip.endswith("Trân trọng./.\n\nTM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH\nNguyễn Văn Bình")
    plain = letters.sample_slip("4543", unsigned, NOW).chat_text()
    assert plain.endswith("Trân trọng./.\n\nTM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH")
    centre = letters.sample_slip(None, unsigned, NOW).chat_text()
    assert "Trung tâm Phục vụ hành chính công xin lỗi Ông/Bà và mong nhận được sự thông cảm." \
        in centre
    assert centre.endswith("Trân trọng./.\n\nGIÁM ĐỐC")


def test_a_commune_may_rewrite_a_letter() -> None:
    settings = make_settings("sqlite+aiosqlite:///x.db")
    own = TEXTS_DIR / "letters_70.j2"
    own.write_text("{% macro condolence(h) -%}\nTHƯ CHIA BUỒN\n\nPhường Hoàn Kiếm kính viếng.\n"
                   "{%- endmacro %}\n", "utf-8")
    try:
        shown = letters.letter("condolence", "70", settings, NOW).text
        assert "THƯ CHIA BUỒN\n\nPhường Hoàn Kiếm kính viếng.\n\nTM. ỦY BAN NHÂN DÂN" in shown
        assert "PHƯỜNG HOÀN KIẾM" in shown  # the heading still comes from the shared file
        # what the commune did not rewrite comes from the shared template
        assert "Kính gửi: Ông/Bà và gia đình" in letters.letter(
            "congratulation_marriage", "70", settings, NOW).text
    finally:
        own.unlink()


async def test_staff_preview_the_letters(settings: Settings) -> None:
    settings = make_settings(settings.database_url, staff_user_ids="web:boss")
    db = Database(settings.database_url)
    core = Core(settings, db, build_router(), services={"catalogue": bundled_index()},
                clock=lambda: NOW)
    boss = Dialog(core, chat_id="boss")
    shown = texts(await boss.say("/mau xem chucmung 4543"))
    assert 'Bản xem trước "chucmung" của Phường Âu Lâu' in shown
    assert "THƯ CHÚC MỪNG" in shown and "Âu Lâu, ngày 02 tháng 3 năm 2026" in shown
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in texts(
        await boss.say("/mau xem xinloi 4543"))
    assert "THƯ CHIA BUỒN" in texts(await boss.say("/mau xem chiabuon"))
    assert "Căn cước" in texts(await boss.say("/mau xem nhachen 4543"))
    assert "chiabuon, chucmung" in texts(await boss.say("/mau xem"))
    assert "chỉ dành cho cán bộ" in texts(await Dialog(core, chat_id="x").say("/mau xem chiabuon"))
    await db.dispose()
