"""The search lexicon (issue 12): citizens' words per field, as data an official extends."""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest

from bot.cli import main
from procedures import lexicon, search
from procedures.aliases import ABBREVIATIONS, CHAT, EVERYDAY_NAMES
from procedures.catalogue import load_bundled
from procedures.normalize import fold
from procedures.search import SearchIndex


@pytest.fixture(scope="module")
def procedures() -> list:
    return load_bundled()


def test_bundled_lexicon_maps_onto_the_catalogue_in_every_field(procedures: list) -> None:
    entries = lexicon.bundled()
    assert lexicon.check(entries, procedures) == []
    fields = {p.field for p in procedures}
    covered = {e.field for e in entries}
    assert fields <= covered, sorted(fields - covered)
    assert len(entries) >= 2000


def test_a_row_written_with_combining_marks_reads_as_typed() -> None:
    # A spreadsheet may hold "ấ" as "â" and a combining mark; the field must still be known.
    text = "\t".join(["Cấp, quản lý căn cước", "name", "làm căn cước", "cấp thẻ căn cước"])
    (entry,) = lexicon.read_text(unicodedata.normalize("NFD", text))
    assert entry.field == "Cấp, quản lý căn cước"
    assert entry.citizen == "làm căn cước"


@pytest.mark.parametrize("table", [list(ABBREVIATIONS), list(EVERYDAY_NAMES)])
def test_no_two_dictionary_keys_read_alike(table: list[str]) -> None:
    # The search keys both by their unaccented spelling: the later would hide the earlier
    # ("dkx" hid "đkx", so "đkx" typed with its đ was no shorthand). One key with its marks
    # also matches the text typed without them.
    seen: dict[str, str] = {}
    for key in table:
        assert fold(key) not in seen, (seen[fold(key)], key)
        seen[fold(key)] = key


def test_chat_shorthand_typed_without_its_marks_stands_for_one_word() -> None:
    # "hông" and "hổng" both fold to "hong": both are "không"; no chat key is also shorthand.
    meant: dict[str, str] = {}
    for key, words in CHAT.items():
        assert meant.setdefault(fold(key), words[0]) == words[0], key
    assert not set(meant) & {fold(key) for key in ABBREVIATIONS}


def test_shorthand_typed_with_or_without_its_marks_is_read(procedures: list) -> None:
    index = SearchIndex.build(procedures)
    assert index.content_words("đkx mới") == index.content_words("dkx mới") == ["dang ki xe"]
    assert index.content_words("gcn đủ đk") == ["giay chung nhan", "du dieu kien"]


def test_lexicon_words_reach_the_official_procedure(
    procedures: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the procedures' aliases (the citizens' phrasings reach them too), in the names'
    # order (the procedures' texts say "giếng khoan" too: `search.TEXT_WEIGHT`).
    monkeypatch.setattr(search, "TEXT_WEIGHT", 0.0)
    monkeypatch.setattr(search, "NAME_WORDS_WEIGHT", 0.0)
    monkeypatch.setattr(search, "NAMES_WEIGHT", 0.0)
    bare = [replace(p, aliases=[]) for p in procedures]
    plain, read = SearchIndex.build(bare, ()), SearchIndex.build(bare)
    for query, code in (
        ("đổi tiền rách", "2.001077"),
        ("khoan giếng lấy nước", "1.001662"),
        ("dựng rạp trên lề đường", "1.013274"),
        ("chồng tôi muốn thành công dân việt nam", "2.002039"),
    ):
        assert [h.code for h in plain.search(query, limit=1)] != [code]
        assert [h.code for h in read.search(query, limit=1)] == [code]


def test_everyday_words_of_every_field(procedures: list) -> None:
    # Rows with no field: before, the first found a livestock farm's certificate, the second
    # nothing, the third the waiver of late-payment interest.
    index = SearchIndex.build(procedures)
    for query, code in (
        ("trại lợn bị hư hại vì dịch bệnh xin hỗ trợ", "1.013997"),  # thiệt hại
        ("xin treo nợ vay ngân hàng", "1.001068"),  # khoanh nợ
        ("doanh nghiệp xin chậm nộp thuế", "1.013490"),  # gia hạn nộp thuế
        # "xin thôi" is also the "thôi" of other names: a first version, miễn nhiệm only, lost
        # this message (its "quốc tích" left the field's own "xin thôi quốc tịch" unread).
        ("xin thôi quốc tích VN để nhập quốc tịch Đức", "2.002036"),  # thôi quốc tịch
    ):
        assert [h.code for h in index.search(query, limit=1)] == [code], query


def test_asking_for_a_paper_again_is_its_reissue(procedures: list) -> None:
    # "xin lại" is "cấp lại" in every field: before, a sea-going ship's reissued certificate
    # came first, the fishing boat's second.
    index = SearchIndex.build(procedures)
    found = index.search("giấy chứng nhận đăng ký tàu cá bị cháy xin lại", limit=1)
    assert found[0].code == "1.003634"  # Cấp lại giấy chứng nhận đăng ký tàu cá …


def test_an_activity_is_not_the_registration_of_it(procedures: list) -> None:
    # "bán hàng online" says what the household does, not that it asks to register: its tax
    # return comes first ("… đăng ký thành lập hộ kinh doanh" read from it did not leave it).
    index = SearchIndex.build(procedures)
    for query in (
        "bán hàng online có phải khai thuế không",
        "Em bán hàng online trên tiktok, một năm doanh thu chừng 800 triệu. Người ta nói giờ "
        "phải tự khai thuế rồi. Khai ở đâu ạ?",
    ):
        assert index.search(query, limit=1)[0].code == "1.011022", query
    # Asked for, the registration is still found.
    found = index.search("bán hàng online có phải đăng ký kinh doanh không", limit=1)
    assert found[0].code == "1.001612"


def test_a_lexicon_phrase_pointing_at_nothing_is_refused(procedures: list) -> None:
    wrong = lexicon.Entry("Hộ tịch", "name", "giấy cưới", ("giấy đăng ký tàu bay",))
    unknown = lexicon.Entry("Không có", "name", "abc", ("kết hôn",))
    problems = lexicon.check([wrong, unknown], procedures)
    assert [p.where for p in problems] == ["dòng 1 (giấy cưới)", "dòng 2 (abc)"]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/motcua.db")
    assert main(["db", "upgrade"]) == 0
    return tmp_path


def test_export_edit_import_changes_what_search_finds(
    installed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported = installed / "tu_dien.csv"
    code, out, _ = run(["export-lexicon", str(exported)], capsys)
    assert code == 0 and f"{len(lexicon.bundled())} mục" in out
    rows = list(csv.DictReader(exported.open(encoding="utf-8-sig")))
    assert len(rows) == len(lexicon.bundled())
    query = "xin giấy bông hồng"  # a made-up local word for the marriage certificate
    code, out, _ = run(["search", query, "--json"], capsys)
    assert '"1.000894"' not in out
    with exported.open("a", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerow(["Hộ tịch", "name", "giấy bông hồng", "đăng ký kết hôn"])
    code, out, _ = run(["import-lexicon", str(exported)], capsys)
    assert code == 0, out
    assert f"{len(rows) + 1} mục — 1 mục mới, 0 mục bỏ đi" in out
    code, out, _ = run(["search", query, "--json"], capsys)
    assert '"code": "1.000894"' in out.split("}")[0]
    # the same file again changes nothing
    code, out, _ = run(["import-lexicon", str(exported)], capsys)
    assert "0 mục mới, 0 mục bỏ đi" in out


def test_a_bad_row_changes_nothing_and_says_where(
    installed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = installed / "sai.csv"
    bad.write_text(
        "field,kind,citizen,official\n"
        "Hộ tịch,name,giấy bông hồng,đăng ký kết hôn\n"
        "Hộ tịch,viết tắt,gbh,đăng ký kết hôn\n"
        "Hộ tịch,name,giấy cưới,tàu bay\n",
        encoding="utf-8",
    )
    code, _, err = run(["import-lexicon", str(bad)], capsys)
    assert code == 1
    assert "dòng 3: loại 'viết tắt' không hợp lệ" in err
    assert "'tàu bay' không có trong tên thủ tục nào" in err
    assert "từ điển không thay đổi" in err
    exported = installed / "sau.csv"
    run(["export-lexicon", str(exported)], capsys)
    assert "giấy bông hồng" not in exported.read_text(encoding="utf-8-sig")
    wrong_header = installed / "header.csv"
    wrong_header.write_text("a,b\n1,2\n", encoding="utf-8")
    code, _, err = run(["import-lexicon", str(wrong_header)], capsys)
    assert code == 1 and "field, kind, citizen, official" in err


def test_a_new_row_that_may_lead_the_search_astray_is_imported_with_a_caution(
    installed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The rules the lexicon's second pass was filtered by, told to the official who imports.
    exported = installed / "tu_dien.csv"
    run(["export-lexicon", str(exported)], capsys)
    code, out, _ = run(["import-lexicon", str(exported), "--dry-run"], capsys)
    assert code == 0 and "Lưu ý" not in out  # the rows in use: nothing new to caution
    with exported.open("a", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Cấp, quản lý căn cước", "abbr", "coc", "cấp thẻ căn cước"])
        writer.writerow(["Hộ tịch", "name", "sổ đỏ", "đăng ký kết hôn"])
        writer.writerow(["Hộ tịch", "name", "giấy bông hồng", "đăng ký kết hôn"])
    code, out, _ = run(["import-lexicon", str(exported)], capsys)
    assert code == 0, out
    cautions = [line for line in out.splitlines() if "Lưu ý" in line]
    assert any("(coc): viết tắt 'coc' cũng là một tiếng" in line for line in cautions)
    assert any(
        "(sổ đỏ): 'sổ đỏ' đã có nghĩa khác (từ điển chung: giấy chứng nhận quyền sử dụng đất)"
        in line for line in cautions
    )
    assert not any("giấy bông hồng" in line for line in cautions)
    assert f"{len(cautions)} lưu ý ở trên" in out
    assert "3 mục mới" in out  # imported all the same


def test_shorthand_a_letter_from_another_meaning_else_is_cautioned() -> None:
    established = list(lexicon.bundled())
    near = lexicon.Entry("Đường bộ", "abbr", "gplt", ("giấy phép lái xe",))
    alike = lexicon.Entry("Cấp, quản lý căn cước", "abbr", "cccdd", ("căn cước",))
    problems = lexicon.cautions([*established, near, alike], established)
    assert [p.where for p in problems] == [f"dòng {len(established) + 1} (gplt)"]
    assert "chỉ khác 'gpdt' (giấy chứng nhận đăng ký đầu tư) một chữ" in problems[0].message
    assert problems[0].severity == "warning"


def test_xlsx_round_trip(tmp_path: Path) -> None:
    entries = list(lexicon.bundled()[:50])
    path = tmp_path / "tu_dien.xlsx"
    assert lexicon.write_file(entries, path) == 50
    read, problems = lexicon.read_file(path)
    assert problems == [] and read == entries
