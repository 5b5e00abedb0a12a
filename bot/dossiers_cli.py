"""`motcua import-dossiers FILE`: dossiers from a CSV or XLSX export of the one-stop system.

The layout (docs/dossiers.md): a header row, then one dossier per row. Columns are the API's
field names or their Vietnamese headings, in any order, case and accents ignored:

    code (Mã hồ sơ) · procedure_code (Mã thủ tục) · procedure_name (Tên thủ tục) ·
    applicant_name (Người nộp) · phone (Số điện thoại) · commune_code (Mã xã) ·
    received_at (Ngày tiếp nhận) · due_at (Ngày hẹn trả) · status (Trạng thái) · note (Ghi chú)

Dates as `2026-01-15`, `2026-01-15T08:30:00+07:00`, `15/01/2026` or `15/01/2026 08:30` (or
date cells in XLSX); local time when no offset is given; a bare date as `due_at` is the end of
that day. Status in English (`processing`) or as shown in Vietnamese (`Đang xử lý`).

Every row goes through the same validation and the same upsert as `PUT /api/v1/dossiers/{code}`
(a changed status is announced to subscribers through the outbox). Rejected rows are reported
with their line numbers and reasons. Exit status: 0 all imported, 1 some rows rejected,
2 the file could not be read.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from procedures.normalize import fold
from procedures.tables import ReadFailed, Report, read_table

if TYPE_CHECKING:
    from bot.config import Settings

FIELDS = ("code", "procedure_code", "procedure_name", "applicant_name", "phone", "commune_code",
          "received_at", "due_at", "status", "note")
REQUIRED = ("code", "procedure_code", "applicant_name", "phone", "received_at", "due_at")
HEADINGS = {
    "code": ("ma ho so", "so ho so", "ma hs", "code"),
    "procedure_code": ("ma thu tuc", "ma tthc", "procedure code"),
    "procedure_name": ("ten thu tuc", "thu tuc", "ten tthc", "procedure name"),
    "applicant_name": ("nguoi nop", "ho ten", "ho va ten", "ten nguoi nop", "chu ho so",
                       "applicant", "applicant name"),
    "phone": ("so dien thoai", "dien thoai", "sdt", "so dt", "phone number"),
    "commune_code": ("ma xa", "ma don vi hanh chinh", "commune code"),
    "received_at": ("ngay tiep nhan", "ngay nhan", "received at", "received"),
    "due_at": ("ngay hen tra", "hen tra", "ngay hen tra ket qua", "due at", "due"),
    "status": ("trang thai", "tinh trang", "status"),
    "note": ("ghi chu", "note", "notes"),
}
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ T,]+(\d{1,2})[:hH](\d{2})?)?$")


def heading_key(heading: object,
                headings: dict[str, tuple[str, ...]] = HEADINGS) -> str | None:
    """The field a column heading names ("Số điện thoại" → "phone"), or None."""
    plain = re.sub(r"[^a-z0-9]+", " ", fold(str(heading or ""))).strip()
    for name, aliases in headings.items():
        if plain == name.replace("_", " ") or plain in aliases:
            return name
    return None


def read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, {field: cell}) for each non-empty data row."""
    (header_line, header), *body = read_table(path)
    columns = [heading_key(cell) for cell in header]
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise ReadFailed(f"dòng {header_line}: thiếu cột {', '.join(missing)} "
                         f"(xem docs/dossiers.md)")
    rows = []
    for line, cells in body:
        if all(cell is None or str(cell).strip() == "" for cell in cells):
            continue
        row = {name: cell for name, cell in zip(columns, cells, strict=False) if name}
        rows.append((line, row))
    return rows


def _status_names() -> dict[str, str]:
    from bot.db.dossiers import Status
    from handlers.texts import text

    # the labels shown before 2026-12, as older exports may still write them
    names = {s.value: s.value for s in Status} | {
        "tu choi": Status.REJECTED.value, "rut ho so": Status.WITHDRAWN.value,
        "xin loi va hen lai": Status.DELAYED.value}
    for status in Status:
        label = text("dossiers.status_label", status=status.value)
        names[fold(label)] = status.value
    return names


def cell_to_api(name: str, value: Any) -> Any:
    """A spreadsheet cell as the API would receive it."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if (value.hour, value.minute, value.second) == (0, 0, 0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and name == "phone":
        digits = str(value)
        return "0" + digits if len(digits) == 9 else digits  # the leading 0 a number loses
    text = str(value).strip()
    if text == "":
        return None
    if name in ("received_at", "due_at"):
        match = _DMY.match(text)
        if match:
            day, month, year, hour, minute = match.groups()
            iso = f"{int(year):04d}-{int(month):02d}-{int(day):02d}"
            if hour is not None:
                iso += f"T{int(hour):02d}:{int(minute or 0):02d}:00"
            return iso
    if name == "status":
        return _status_names().get(fold(text), text)
    return text


async def import_rows(db: Any, rows: list[tuple[int, dict[str, Any]]], source: str,
                      settings: Settings, *, now: datetime | None = None,
                      dry_run: bool = False) -> tuple[Report, set[str]]:
    """Validate and upsert each row; one transaction for the whole file (nothing is written
    on --dry-run). Returns the report and the channels with new outbox rows."""
    from pydantic import ValidationError

    from bot.ingest import (
        Bounds,
        DossierIn,
        Invalid,
        apply_dossier,
        dossier_fields,
        field_errors,
    )

    now = now or datetime.now(UTC)
    report = Report(source, "hồ sơ", rows=len(rows))
    woken: set[str] = set()
    try:
        async with db.session() as session:
            for line, row in rows:
                data = {name: cell_to_api(name, value) for name, value in row.items()}
                data = {name: value for name, value in data.items() if value is not None}
                try:
                    body = DossierIn.model_validate(data)
                    fields = await dossier_fields(session, str(data.get("code") or ""), body,
                                                  Bounds.of(settings, now))
                except ValidationError as error:
                    report.rejected.append((line, _reasons(field_errors(error))))
                    continue
                except Invalid as error:
                    report.rejected.append((line, _reasons(error.errors)))
                    continue
                result, channels = await apply_dossier(session, fields, now, settings,
                                                       source="import")
                woken |= channels
                if result.created:
                    report.created += 1
                elif result.changed:
                    report.updated += 1
                else:
                    report.unchanged += 1
            if dry_run:
                raise _DryRun()
    except _DryRun:
        woken = set()
    return report, woken


class _DryRun(Exception):
    """Raised to roll the whole import back after reporting."""


def _reasons(errors: dict[str, str]) -> str:
    return "; ".join(f"{name}: {message}" for name, message in errors.items())


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `import-dossiers` to the `motcua` parser."""
    imp = sub.add_parser("import-dossiers",
                         help="import dossiers from the one-stop system: .csv or .xlsx")
    imp.add_argument("file", type=Path)
    imp.add_argument("--dry-run", action="store_true", help="check and report; change nothing")
    imp.set_defaults(func=cmd_import_dossiers)


def cmd_import_dossiers(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.config import load_settings
    from bot.db.session import Database

    settings = load_settings()
    try:
        rows = read_rows(args.file)
    except ReadFailed as error:
        print(f"Nhập thất bại: {error}", file=sys.stderr)
        return 2

    async def run() -> Report:
        db = Database(settings.database_url)
        try:
            report, _ = await import_rows(db, rows, str(args.file), settings,
                                          dry_run=args.dry_run)
            return report
        finally:
            await db.dispose()

    try:
        report = asyncio.run(run())
    except SQLAlchemyError as error:
        print(f"Không ghi được vào cơ sở dữ liệu (đã chạy `motcua db upgrade` chưa?): {error}",
              file=sys.stderr)
        return 2
    print(report.describe(args.dry_run))
    if args.dry_run:
        print("(--dry-run: không thay đổi cơ sở dữ liệu)")
    return 1 if report.rejected else 0
