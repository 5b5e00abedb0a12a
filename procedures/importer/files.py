"""Reading and writing catalogue files, chosen by name: the snapshot, CSV (UTF-8, comma or
semicolon) and XLSX; what a file too big for XLSX cells would lose."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from procedures.catalogue import (
    Procedure,
)
from procedures.importer.cells import cell_text
from procedures.importer.columns import (
    COLUMN_NAMES,
    COLUMNS,
    REQUIRED_COLUMNS,
    procedure_to_row,
    row_to_procedure,
)
from procedures.importer.result import ImportFailed, ImportResult, Problem
from procedures.importer.snapshot import read_snapshot
from procedures.tables import new_workbook


def _check_header(header: Sequence[str], source: str) -> list[str]:
    names = [(h or "").strip().lower() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    unknown = [h for h in names if h and h not in COLUMN_NAMES]
    if missing or unknown:
        detail = []
        if missing:
            detail.append(f"thiếu cột {', '.join(missing)} (missing columns)")
        if unknown:
            detail.append(f"cột lạ {', '.join(unknown)} (unknown columns)")
        raise ImportFailed(
            f"Tệp {source} không đúng bố cục cột: {'; '.join(detail)}. Xem "
            "docs/catalogue-columns.md; danh mục không thay đổi. (Wrong column layout; see "
            "docs/catalogue-columns.md; the catalogue was not changed.)"
        )
    return names


def _rows_to_result(
    header: list[str], rows: Iterable[Sequence[Any]], source: str, kind: str
) -> ImportResult:
    result = ImportResult(source=source, kind=kind)
    seen: dict[str, str] = {}
    for number, values in enumerate(rows, start=2):
        row = {header[i]: values[i] if i < len(values) else "" for i in range(len(header))}
        row.pop("", None)
        if not any(cell_text(v) for v in row.values()):
            continue
        result.total += 1
        where = f"dòng {number}"
        procedure = row_to_procedure(row, where, result.problems, kind)
        if procedure is None:
            continue
        if procedure.code in seen:
            result.problems.append(
                Problem(where, f"{procedure.code} trùng với {seen[procedure.code]}; lấy dòng sau")
            )
            result.procedures = [p for p in result.procedures if p.code != procedure.code]
        seen[procedure.code] = where
        result.procedures.append(procedure)
    return result


def read_csv(path: Path | str) -> ImportResult:
    """Read a catalogue CSV (UTF-8, with or without BOM; comma or semicolon separated)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ImportFailed(f"Không tìm thấy tệp {path} (file not found).") from None
    except UnicodeDecodeError:
        raise ImportFailed(
            f"Tệp {path.name} không mã hoá UTF-8; hãy lưu lại bằng 'CSV UTF-8'. Danh mục không "
            "thay đổi. (The file is not UTF-8; save it as 'CSV UTF-8'. The catalogue was not "
            "changed.)"
        ) from None
    if "\x00" in text:
        raise ImportFailed(
            f"Tệp {path.name} không phải CSV dạng văn bản; danh mục không thay đổi. "
            "(Not a text CSV file; the catalogue was not changed.)"
        )
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFailed(f"Tệp {path.name} trống (empty file).") from None
    except csv.Error as error:
        raise ImportFailed(f"Tệp {path.name} không đọc được như CSV ({error}).") from None
    names = _check_header(header, path.name)
    try:
        return _rows_to_result(names, list(reader), str(path), "csv")
    except csv.Error as error:
        raise ImportFailed(
            f"Tệp {path.name} hỏng ở giữa ({error}); danh mục không thay đổi. "
            "(Malformed CSV; the catalogue was not changed.)"
        ) from None


def read_xlsx(path: Path | str) -> ImportResult:
    """Read a catalogue workbook: the first sheet, header in row 1."""
    from openpyxl import load_workbook

    path = Path(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise ImportFailed(f"Không tìm thấy tệp {path} (file not found).") from None
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise ImportFailed(
            f"Tệp {path.name} không phải bảng tính XLSX hợp lệ; danh mục không thay đổi. "
            f"(Not a valid XLSX workbook: {error}; the catalogue was not changed.)"
        ) from None
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise ImportFailed(f"Tệp {path.name} trống (empty workbook).")
        names = _check_header([cell_text(h) for h in header], path.name)
        return _rows_to_result(names, [list(r) for r in rows], str(path), "xlsx")
    finally:
        workbook.close()


def read_file(path: Path | str) -> ImportResult:
    """Read any supported file, chosen by its name: ``.jsonl.gz``/``.jsonl``, ``.csv``,
    ``.xlsx``."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".jsonl.gz", ".jsonl", ".json.gz")):
        return read_snapshot(path)
    if name.endswith(".csv"):
        return read_csv(path)
    if name.endswith((".xlsx", ".xlsm")):
        return read_xlsx(path)
    raise ImportFailed(
        f"Không nhận dạng được loại tệp {path.name}: dùng .jsonl.gz, .csv hoặc .xlsx. "
        "(Unknown file type: use .jsonl.gz, .csv or .xlsx.)"
    )


def write_csv(procedures: Iterable[Procedure], path: Path | str) -> int:
    """Write procedures as CSV (UTF-8 with BOM so spreadsheet programs read the accents)."""
    count = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMN_NAMES)
        writer.writeheader()
        for procedure in procedures:
            writer.writerow(procedure_to_row(procedure))
            count += 1
    return count


XLSX_CELL_LIMIT = 32767


def write_xlsx(procedures: Iterable[Procedure], path: Path | str) -> int:
    """Write procedures as an XLSX workbook, with a second sheet explaining the columns."""
    from openpyxl.styles import Alignment, Font

    workbook, sheet = new_workbook("thu_tuc", COLUMN_NAMES)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    count = 0
    for procedure in procedures:
        row = procedure_to_row(procedure)
        sheet.append([_xlsx_safe(row[name]) for name in COLUMN_NAMES])
        count += 1
    sheet.freeze_panes = "C2"
    guide = workbook.create_sheet("huong_dan")
    guide.append(["cột", "ý nghĩa"])
    for name, meaning in COLUMNS:
        guide.append([name, meaning])
    for cell in guide["B"]:
        cell.alignment = Alignment(wrap_text=True)
    workbook.save(path)
    return count


def xlsx_overflows(procedures: Iterable[Procedure]) -> list[str]:
    """Cells too long for a spreadsheet (Excel's 32,767 characters): cut in XLSX, whole in CSV."""
    found = []
    for procedure in procedures:
        for name, value in procedure_to_row(procedure).items():
            if len(value) > XLSX_CELL_LIMIT:
                found.append(f"{procedure.code}: {name} ({len(value)} ký tự)")
    return found


_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xlsx_safe(value: str) -> str:
    value = _ILLEGAL_XLSX.sub("", value)
    return value[:XLSX_CELL_LIMIT]


def write_file(procedures: Iterable[Procedure], path: Path | str) -> int:
    name = str(path).lower()
    if name.endswith(".csv"):
        return write_csv(procedures, path)
    if name.endswith(".xlsx"):
        return write_xlsx(procedures, path)
    raise ImportFailed(
        f"Không xuất được ra {Path(path).name}: dùng .csv hoặc .xlsx. (Use .csv or .xlsx.)"
    )
