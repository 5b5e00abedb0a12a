"""Letters per commune: the shared template with each commune's letterhead (an editable file),
a commune's own template, and `/mau xem …` previews for staff."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from bot.app import bundled_index
from bot.config import Settings
from bot.db.session import Database
from bot.router import Core
from handlers import build_router, letters
from handlers.texts import TEXTS_DIR
from tests.conftest import make_settings
from tests.dialog import Dialog, texts

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def test_letterhead_from_the_units_and_the_file(tmp_path: Path) -> None:
    settings = make_settings("sqlite+aiosqlite:///x.db")
    head = letters.letterhead("4543", settings)
    assert (head.commune, head.authority, head.place) == (
        "Phường Âu Lâu", "Ủy ban nhân dân phường Âu Lâu", "Âu Lâu")
    assert head.signer_on_behalf == "TM. ỦY BAN NHÂN DÂN" and head.signer_title == "CHỦ TỊCH"
    assert letters.letterhead("04543", settings) == head  # padded codes too
    assert letters.letterhead(None, settings).authority == "Bộ phận Một cửa"

    own = tmp_path / "letterheads.json"
    own.write_text(json.dumps({"4543": {"signer_name": "Chủ tịch thử nghiệm",
                                        "signer_title": "PHÓ CHỦ TỊCH"}}), "utf-8")
    edited = make_settings("sqlite+aiosqlite:///x.db", letterheads_file=str(own))
    message = letters.letter("congratulation_birth", "4543", edited, NOW)
    assert message.text.endswith("Âu Lâu, ngày 2 tháng 3 năm 2026\nPHÓ CHỦ TỊCH\n"
                                 "Chủ tịch thử nghiệm")


def test_a_commune_may_rewrite_a_letter() -> None:
    settings = make_settings("sqlite+aiosqlite:///x.db")
    own = TEXTS_DIR / "letters_70.j2"
    own.write_text("{% macro condolence(h, d) -%}\nPhường Hoàn Kiếm kính viếng.\n"
                   "{%- endmacro %}\n", "utf-8")
    try:
        assert letters.letter("condolence", "70", settings, NOW).text == \
            "Phường Hoàn Kiếm kính viếng."
        # what the commune did not rewrite comes from the shared template
        assert letters.letter("congratulation_marriage", "70", settings, NOW).text.startswith(
            "THƯ CHÚC MỪNG")
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
    assert "THƯ CHÚC MỪNG" in shown and "Âu Lâu, ngày 2 tháng 3 năm 2026" in shown
    assert "THƯ CHIA BUỒN" in texts(await boss.say("/mau xem chiabuon"))
    assert "Căn cước" in texts(await boss.say("/mau xem nhachen 4543"))
    assert "chiabuon, chucmung" in texts(await boss.say("/mau xem"))
    assert "chỉ dành cho cán bộ" in texts(await Dialog(core, chat_id="x").say("/mau xem chiabuon"))
    await db.dispose()
