"""Rows of a spreadsheet an official sends: CSV (UTF-8, comma or semicolon) or XLSX.

Used by the imports of dossiers, offices and the search lexicon; the catalogue's own importer
(:mod:`procedures.importer`) reads its richer layout itself. `new_workbook` starts the XLSX
files the exports write.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet


class ReadFailed(Exception):
    """The file cannot be imported at all (unreadable, unknown type, missing columns)."""


@dataclass
class Report:
    """What an import of `noun`s ("hồ sơ", "điểm phục vụ") read and changed, per row."""

    source: str
    noun: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    notes: list[tuple[int, str]] = field(default_factory=list)

    def describe(self, dry_run: bool = False) -> str:
        verb = "Sẽ nhập" if dry_run else "Đã nhập"
        lines = [f"Đã đọc {self.rows} dòng từ {self.source}: {verb} "
                 f"{self.rows - len(self.rejected)} {self.noun} ({self.created} mới, "
                 f"{self.updated} cập nhật, {self.unchanged} không đổi), "
                 f"{len(self.rejected)} dòng bị từ chối."]
        lines += [f"  dòng {line}: {reason}" for line, reason in sorted(self.rejected)]
        lines += [f"  dòng {line} (lưu ý): {note}" for line, note in sorted(self.notes)]
        return "\n".join(lines)


def read_table(path: Path) -> list[tuple[int, list[Any]]]:
    """(line number, cells) for every row of a .csv or .xlsx file; `ReadFailed` when the file
    cannot be read as one, or is empty."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table = _read_csv(path)
    elif suffix in (".xlsx", ".xlsm"):
        table = _read_xlsx(path)
    else:
        raise ReadFailed(f"không nhận dạng được loại tệp {path.name} (cần .csv hoặc .xlsx)")
    if not table:
        raise ReadFailed("tệp trống")
    return table


def _read_csv(path: Path) -> list[tuple[int, list[Any]]]:
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ReadFailed(f"không đọc được {path}: {error}") from None
    first = raw.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(raw), delimiter=delimiter)
    try:
        return [(reader.line_num, row) for row in reader]
    except csv.Error as error:
        raise ReadFailed(f"{path.name} hỏng ở dòng {reader.line_num}: {error}") from None


def _read_xlsx(path: Path) -> list[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds
        raise ReadFailed(f"không đọc được {path}: {error}") from None
    try:
        sheet = workbook.worksheets[0]
        return [(number, list(row)) for number, row in
                enumerate(sheet.iter_rows(values_only=True), start=1)]
    finally:
        workbook.close()


def new_workbook(title: str, header: Sequence[str]) -> tuple[Workbook, Worksheet]:
    """A workbook whose one sheet is named `title` and starts with the `header` row."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = cast("Worksheet", workbook.active)  # a new workbook's one sheet is a worksheet
    sheet.title = title
    sheet.append(list(header))
    return workbook, sheet
