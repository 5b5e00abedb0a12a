"""`motcua import-offices FILE` · `motcua export-offices FILE`: the communes' service points
(address, phone, opening hours, map link) as an official keeps them in a spreadsheet.

The layout: a header row, then one service point per row, CSV (UTF-8, comma or semicolon) or
XLSX (first sheet). Columns, in any order, by their names or Vietnamese headings:

    commune_code (Mã xã) · name (Tên) · address (Địa chỉ) · phone (Số điện thoại) ·
    opening_hours (Giờ làm việc) · map_url (Bản đồ)

The rules are the catalogue import's: a file that cannot be read, or whose header lacks
`commune_code` or `name` or has an unknown column, changes nothing; each row is checked and a
rejected row is reported with its line and reason while the others are imported; importing the
same file twice changes nothing (a row updates the office with the same commune and name).
Exit status: 0 all imported, 1 some rows rejected, 2 the file could not be read.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.dossiers_cli import heading_key
from procedures.tables import ReadFailed, Report, new_workbook, read_table

if TYPE_CHECKING:
    from bot.db.offices import OfficeFields

HEADINGS = {
    "commune_code": ("ma xa", "ma xa phuong", "ma don vi hanh chinh", "commune code"),
    "name": ("ten", "ten co quan", "ten diem phuc vu", "name"),
    "address": ("dia chi", "address"),
    "phone": ("so dien thoai", "dien thoai", "sdt", "phone"),
    "opening_hours": ("gio lam viec", "thoi gian lam viec", "opening hours", "hours"),
    "map_url": ("ban do", "duong dan ban do", "map", "map url"),
}
REQUIRED = ("commune_code", "name")
LIMITS = {"name": 200, "address": 500, "phone": 100, "opening_hours": 500, "map_url": 500}
PHONE_DIGITS = 8
"""A phone cell holds at least this many digits (a landline with its area code)."""
URL = re.compile(r"^https://\S+$")


def read_offices(path: Path) -> tuple[list[tuple[int, OfficeFields]], list[tuple[int, str]]]:
    """The valid rows as offices and the rejected ones with their reasons; `ReadFailed` when
    the file as a whole cannot be used."""
    from bot.db.offices import FIELDS

    (header_line, header), *body = read_table(path)
    columns = [heading_key(cell, HEADINGS) for cell in header]
    unknown = [str(cell) for cell, name in zip(header, columns, strict=True)
               if name is None and str(cell or "").strip()]
    missing = [name for name in REQUIRED if name not in columns]
    if missing or unknown:
        problems = ([f"thiếu cột {', '.join(missing)}"] if missing else []) + \
                   ([f"cột lạ {', '.join(unknown)}"] if unknown else [])
        raise ReadFailed(f"dòng {header_line}: {'; '.join(problems)} (các cột: "
                         f"{', '.join(FIELDS)}); không có gì thay đổi")
    offices, rejected = [], []
    for line, cells in body:
        values = {name: _cell(cell) for name, cell in zip(columns, cells, strict=False) if name}
        if not any(values.values()):
            continue
        try:
            offices.append((line, office_from_row(values)))
        except ValueError as error:
            rejected.append((line, str(error)))
    return offices, rejected


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def office_from_row(values: dict[str, str]) -> OfficeFields:
    """Check one row; `ValueError` says what is wrong with it."""
    from bot.db.offices import OfficeFields
    from handlers.units import get_commune

    commune = get_commune(values.get("commune_code"))
    if commune is None:
        raise ValueError(f"commune_code: không có xã/phường mã {values.get('commune_code')!r} "
                         "trong danh mục đơn vị hành chính 2025")
    if not values.get("name"):
        raise ValueError("name: trống")
    for name, limit in LIMITS.items():
        if len(values.get(name, "")) > limit:
            raise ValueError(f"{name}: dài quá {limit} ký tự")
    phone = values.get("phone", "")
    if phone and sum(ch.isdigit() for ch in phone) < PHONE_DIGITS:
        raise ValueError(f"phone: {phone!r} không giống số điện thoại")
    map_url = values.get("map_url", "")
    if map_url and not URL.match(map_url):
        raise ValueError("map_url: phải là một địa chỉ https://")
    if not any(values.get(name) for name in ("address", "phone", "opening_hours")):
        raise ValueError("cần ít nhất một trong address, phone, opening_hours")
    return OfficeFields(commune.code, values["name"], values.get("address", ""), phone,
                        values.get("opening_hours", ""), map_url)


async def import_offices(db: Any, path: Path, *, now: datetime | None = None,
                         dry_run: bool = False) -> Report:
    """Read `path` and upsert its offices in one transaction (none on a dry run)."""
    from bot.db.offices import upsert_office

    offices, rejected = read_offices(path)
    report = Report(str(path), "điểm phục vụ", rows=len(offices) + len(rejected),
                    rejected=rejected)
    seen: dict[tuple[str, str], int] = {}
    for line, office in offices:
        key = (office.commune_code, office.name)
        if key in seen:
            report.notes.append((line, f"trùng với dòng {seen[key]}; lấy dòng sau"))
        seen[key] = line
    try:
        async with db.session() as session:
            for _, office in offices:
                outcome = await upsert_office(session, office, now or datetime.now(UTC))
                setattr(report, outcome, getattr(report, outcome) + 1)
            if dry_run:
                raise _DryRun()
    except _DryRun:
        pass
    return report


class _DryRun(Exception):
    """Raised to roll the whole import back after counting."""


async def export_offices(db: Any, path: Path) -> int:
    from bot.db.offices import FIELDS, find_offices

    async with db.session() as session:
        rows = [[getattr(office, name) for name in FIELDS]
                for office in await find_offices(session)]
    if path.suffix.lower() == ".csv":
        with open(path, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(FIELDS)
            writer.writerows(rows)
    elif path.suffix.lower() == ".xlsx":
        workbook, sheet = new_workbook("diem_phuc_vu", FIELDS)
        for row in rows:
            sheet.append(row)
        workbook.save(path)
    else:
        raise ReadFailed(f"không xuất được ra {path.name}: dùng .csv hoặc .xlsx")
    return len(rows)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    imp = sub.add_parser("import-offices",
                         help="import the communes' service points (.csv or .xlsx)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--dry-run", action="store_true", help="check and report; change nothing")
    imp.set_defaults(func=cmd_import_offices)
    exp = sub.add_parser("export-offices", help="export the service points to .csv or .xlsx")
    exp.add_argument("file", type=Path)
    exp.set_defaults(func=cmd_export_offices)


def _run(work: Any) -> Any:
    """Run `work(db)` against the configured database."""
    from bot.config import load_settings
    from bot.db.session import Database

    settings = load_settings()

    async def run() -> Any:
        db = Database(settings.database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


def cmd_import_offices(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        report = _run(lambda db: import_offices(db, args.file, dry_run=args.dry_run))
    except ReadFailed as error:
        print(f"Nhập thất bại: {error}", file=sys.stderr)
        return 2
    except SQLAlchemyError as error:
        print(f"Không ghi được vào cơ sở dữ liệu (đã chạy `motcua db upgrade` chưa?): {error}",
              file=sys.stderr)
        return 2
    print(report.describe(args.dry_run))
    if args.dry_run:
        print("(--dry-run: không thay đổi cơ sở dữ liệu)")
    return 1 if report.rejected else 0


def cmd_export_offices(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        count = _run(lambda db: export_offices(db, args.file))
    except ReadFailed as error:
        print(f"Xuất thất bại: {error}", file=sys.stderr)
        return 2
    except SQLAlchemyError as error:
        print(f"Không đọc được cơ sở dữ liệu (đã chạy `motcua db upgrade` chưa?): {error}",
              file=sys.stderr)
        return 2
    print(f"Đã xuất {count} điểm phục vụ ra {args.file}")
    return 0
