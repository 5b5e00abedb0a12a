"""Importers: the national snapshot's flattened tables, CSV/XLSX round trips, malformed files."""

from __future__ import annotations

import gzip
import json
import unicodedata
from pathlib import Path

import pytest

from procedures.catalogue import Procedure, load_bundled
from procedures.curated import apply_overlay
from procedures.importer.columns import COLUMN_NAMES, parse_fee_text, parse_time_text
from procedures.importer.files import read_file, write_csv, write_xlsx, xlsx_overflows
from procedures.importer.result import ImportFailed
from procedures.importer.snapshot import parse_snapshot_record, read_snapshot

SAMPLE = Path(__file__).parent / "data" / "catalogue_snapshot_sample.jsonl"


def raw_records() -> dict[str, dict[str, object]]:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    return {r["ma_thu_tuc"]: r for r in map(json.loads, lines)}


def parsed(code: str) -> tuple[Procedure, list[str]]:
    procedure, problems = parse_snapshot_record(raw_records()[code], "2026-07")
    return procedure, [p.message for p in problems]


def test_channels_fees_and_times_are_recovered() -> None:
    procedure, _ = parsed("1.004222")  # Đăng ký thường trú
    assert procedure.levels == ["commune"]
    in_person, online = procedure.channel("in_person"), procedure.channel("online")
    assert in_person and online
    assert (in_person.time_limit.value, in_person.time_limit.unit) == (7, "working_days")
    assert in_person.fees[0].kind == "amount" and in_person.fees[0].amount == 20000
    assert online.fees[0].amount == 10000
    assert procedure.channel("post") is None


def test_free_fee_cell_with_an_amount_in_the_description() -> None:
    procedure, problems = parsed("3.000347")  # Đổi GPLX: "Miễn phí(- Lệ phí …: 135.000 đồng/lần"
    fee = procedure.channels[0].fees[0]
    assert (fee.kind, fee.amount, fee.per) == ("amount", 135000, "lần")
    assert any("Miễn phí" in m and "mô tả" in m for m in problems)


def test_free_fee_cell_that_says_the_province_sets_it() -> None:
    procedure, problems = parsed("1.004873")  # Xác nhận tình trạng hôn nhân
    assert {f.kind for c in procedure.channels for f in c.fees} == {"set_by_province"}
    assert any("HĐND" in m for m in problems)


def test_bare_number_time_limits_are_repaired_and_reported() -> None:
    birth, problems = parsed("1.001193")  # "1" and "ngay trong ngày" in the steps
    assert birth.channels[0].time_limit.unit == "immediate"
    assert any("không có đơn vị" in m for m in problems)
    marriage, problems = parsed("1.000894")  # "1" with nothing to go by
    limit = marriage.channels[0].time_limit
    assert (limit.value, limit.unit, limit.verified) == (1, "working_days", False)
    assert any("chưa xác nhận" in m for m in problems)


def test_time_glued_to_a_fee_is_split() -> None:
    procedure, problems = parsed("1.000014")  # "Trực tuyến120 VNĐ(20.000 vnđ /tờ khai)"
    channel = procedure.channels[0]
    assert channel.time_limit.value == 1
    assert channel.fees[0].amount == 20000
    assert any("nghìn" in m or "hiểu là" in m for m in problems)


def test_documents_sections_forms_and_copies() -> None:
    procedure, _ = parsed("1.014063")  # Cấp đổi thẻ căn cước
    form = next(d for d in procedure.documents if d.form)
    assert "DC02" in form.form and form.copies == 1 and form.copy_kind == "original"
    birth, _ = parsed("1.001193")
    assert {d.requirement for d in birth.documents} >= {"submit", "show"}


def test_legal_bases_and_results() -> None:
    procedure, _ = parsed("1.014063")
    numbers = [b.number for b in procedure.legal_bases]
    assert "26/2023/QH15" in numbers and "64/2025/TT-BTC" in numbers
    assert procedure.results[0].name == "Thẻ căn cước"
    assert procedure.results[0].code == "KQ.G01.000023"
    assert procedure.detail_url.startswith("https://dichvucong.gov.vn/")
    assert procedure.data_date == "2026-07"


def test_names_and_fields_are_written_with_composed_accents() -> None:
    # Some records write "ấ" as "â" and a combining mark: the field "Cấp, quản lý căn cước"
    # would not be the one an official types, nor a name the words a citizen types.
    raw = dict(raw_records()["1.004222"])
    raw["linh_vuc"] = unicodedata.normalize("NFD", "Cấp, quản lý căn cước")
    raw["ten_thu_tuc"] = unicodedata.normalize("NFD", "Cấp thẻ căn cước")
    procedure, _ = parse_snapshot_record(raw, "2026-07")
    assert (procedure.field, procedure.name) == ("Cấp, quản lý căn cước", "Cấp thẻ căn cước")
    for bundled in load_bundled():
        assert unicodedata.is_normalized("NFC", bundled.field + bundled.name), bundled.code


def test_snapshot_file_reports_every_record(tmp_path: Path) -> None:
    path = tmp_path / "national-procedures-2026-07.jsonl.gz"
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    path.write_bytes(gzip.compress(("\n".join([*lines, "{not json", "{}"]) + "\n").encode()))
    result = read_snapshot(path)
    assert result.total == len(lines) + 2
    assert len(result.procedures) == len(lines)
    errors = [p for p in result.problems if p.severity == "error"]
    assert len(errors) == 2  # reported, not dropped silently
    assert all(p.data_date == "2026-07" for p in result.procedures)
    assert "bỏ qua" in result.report()


def test_curated_overlay_cleans_the_most_asked(tmp_path: Path) -> None:
    procedures = [parsed(code)[0] for code in ("1.001193", "1.014063")]
    apply_overlay(procedures)
    birth, card = procedures
    assert "làm giấy khai sinh" in birth.aliases and birth.popularity == 1.0
    assert birth.source == "curated"
    fee = card.channels[0].fees[0]
    assert fee.amount == 25000 and "64/2025" in fee.note and "31/12/2026" in fee.label


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"this is not gzip", "snapshot.jsonl.gz"),
        (gzip.compress(b'{"ma_thu_tuc": "1.000001"')[:-6], "truncated.jsonl.gz"),
        (gzip.compress(b'{"foo": 1}\n'), "wrong.jsonl.gz"),
        (gzip.compress("tên".encode("utf-16")), "utf16.jsonl.gz"),
        (b"a,b\n1,2\n", "wrong-columns.csv"),
        ("ma_thu_tuc,ten_thu_tuc\n1.000001,Tên\n".encode("cp1258"), "latin.csv"),
        (b"", "empty.csv"),
        (b"PK\x03\x04 not really a workbook", "broken.xlsx"),
        (b"whatever", "catalogue.pdf"),
    ],
)
def test_malformed_files_fail_clearly(tmp_path: Path, content: bytes, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportFailed) as failure:
        read_file(path)
    message = str(failure.value)
    assert "(" in message and ")" in message  # Vietnamese, then English in parentheses


def test_csv_with_a_new_social_assistance_procedure(tmp_path: Path) -> None:
    path = tmp_path / "bo-sung.csv"
    path.write_text(
        "ma_thu_tuc;ten_thu_tuc;ten_goi_khac;linh_vuc;cap_thuc_hien;truc_tiep_thoi_han;"
        "truc_tiep_phi;muc_pho_bien\n"
        "2.000286;Trợ cấp xã hội hằng tháng cho người cao tuổi;tiền già;Bảo trợ xã hội;"
        "Cấp xã;20 ngày làm việc;Miễn phí;0,6\n"
        "xyz;Sai mã;;;;;;\n",
        encoding="utf-8",
    )
    result = read_file(path)
    assert [p.code for p in result.procedures] == ["2.000286"]
    procedure = result.procedures[0]
    assert procedure.aliases == ["tiền già"] and procedure.levels == ["commune"]
    assert procedure.popularity == 0.6 and procedure.source == "csv"
    channel = procedure.channels[0]
    assert (channel.time_limit.value, channel.time_limit.unit) == (20, "working_days")
    assert channel.fees[0].kind == "free"
    assert [p.severity for p in result.problems] == ["error"]  # the bad code, reported


@pytest.mark.parametrize("writer,suffix", [(write_csv, ".csv"), (write_xlsx, ".xlsx")])
def test_export_then_import_round_trips(tmp_path: Path, writer: object, suffix: str) -> None:
    wanted = {"1.001193", "1.004222", "2.000815", "1.014063", "1.000894", "3.000346"}
    if suffix == ".csv":
        wanted.add("1.013236")  # its document list is longer than a spreadsheet cell allows
    procedures = [p for p in load_bundled() if p.code in wanted]
    path = tmp_path / f"catalogue{suffix}"
    assert writer(procedures, path) == len(procedures)  # type: ignore[operator]
    result = read_file(path)
    assert not result.problems
    back = {p.code: p for p in result.procedures}
    for procedure in procedures:
        assert back[procedure.code].content_hash() == procedure.content_hash(), procedure.code


def test_cells_too_long_for_xlsx_are_reported() -> None:
    procedures = [p for p in load_bundled() if p.code in {"1.013236", "1.001193"}]
    assert xlsx_overflows(procedures) == [
        o for o in xlsx_overflows(procedures) if o.startswith("1.013236: thanh_phan_ho_so")
    ]
    assert xlsx_overflows(procedures)


def test_column_layout_is_documented() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "catalogue-columns.md").read_text("utf-8")
    for column in COLUMN_NAMES:
        assert f"`{column}`" in doc


@pytest.mark.parametrize(
    ("text", "kind", "amount", "per"),
    [
        ("Miễn phí", "free", None, ""),
        ("Lệ phí: 20.000 đồng/lần", "amount", 20000, "lần"),
        ("10 USD/bản", "amount", 10, "bản"),
        ("HĐND tỉnh quy định (ví dụ 150.000 đồng)", "set_by_province", 150000, ""),
        ("Theo quy định", "per_regulation", None, ""),
    ],
)
def test_fee_cells(text: str, kind: str, amount: float | None, per: str) -> None:
    fee = parse_fee_text(text)
    assert fee is not None and (fee.kind, fee.amount, fee.per) == (kind, amount, per)


def test_time_cells() -> None:
    assert parse_time_text("ngay").unit == "immediate"  # type: ignore[union-attr]
    limit = parse_time_text("3-7 ngày")
    assert limit is not None and (limit.value, limit.value_max, limit.unit) == (3, 7, "days")
    assert parse_time_text("4 giờ").unit == "hours"  # type: ignore[union-attr]
    assert parse_time_text("mấy hôm") is None


def test_what_a_citizen_reads() -> None:
    by_code = {p.code: p for p in load_bundled()}
    birth = by_code["1.001193"].channels[0]
    assert birth.time_limit.describe().startswith("Ngay trong ngày")
    assert birth.fees[0].describe() == "Đăng ký trong 60 ngày kể từ ngày sinh: Miễn phí"
    card = by_code["1.014063"].channels[0]
    assert card.time_limit.describe() == "7 ngày làm việc"
    assert card.fees[0].describe() == "Lệ phí đến hết 31/12/2026 (giảm 50%): 25.000 đồng/thẻ"
    business = by_code["1.001612"].channels[0].fees[0]
    assert business.describe().startswith("Theo mức do HĐND")
    unsure = by_code["1.014061"].channels[0].fees[0]
    assert not unsure.verified and by_code["1.014061"].unverified
