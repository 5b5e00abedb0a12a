"""`motcua search`, `motcua import-procedures`, `motcua export-procedures` (catalogue tasks).

``search`` reads the catalogue from the database when it holds one, otherwise the catalogue
bundled in the package (so it works on a fresh install, before any migration).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from procedures.catalogue import LEVEL_LABELS, Procedure, load_bundled
from procedures.curated import apply_overlay
from procedures.importer import ImportFailed, read_file, write_file, xlsx_overflows
from procedures.search import SearchIndex


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the catalogue commands to the `motcua` parser."""
    search = sub.add_parser("search", help="find procedures for a citizen's words")
    search.add_argument("query", nargs="?", help="what the citizen typed")
    search.add_argument("--json", action="store_true", help="print JSON")
    search.add_argument("--limit", type=int, default=5, help="at most N results (default 5)")
    search.add_argument("--batch", type=Path, help="one query per line; one JSON line each")
    search.add_argument("--level", help="only this level: commune, province, ministry, other")
    search.add_argument("--field", help="only this field (lĩnh vực)")
    search.add_argument(
        "--bundled", action="store_true", help="use the bundled catalogue, not the database"
    )
    search.set_defaults(func=cmd_search)

    imp = sub.add_parser(
        "import-procedures", help="import procedures: national snapshot .jsonl.gz, .csv, .xlsx"
    )
    imp.add_argument("file", type=Path)
    imp.add_argument("--dry-run", action="store_true", help="read and report only; change nothing")
    imp.add_argument(
        "--no-curation",
        action="store_true",
        help="snapshot only: do not apply the curated overlay (aliases, clean fees)",
    )
    imp.set_defaults(func=cmd_import)

    exp = sub.add_parser("export-procedures", help="export the catalogue to .csv or .xlsx")
    exp.add_argument("file", type=Path)
    exp.add_argument("--field", help="only this field (lĩnh vực)")
    exp.add_argument("--bundled", action="store_true", help="export the bundled catalogue")
    exp.set_defaults(func=cmd_export)


# --- loading ----------------------------------------------------------------------------------


def load_catalogue(use_bundled: bool = False) -> list[Procedure]:
    """The database's catalogue when there is one, else the bundled catalogue."""
    if not use_bundled:
        procedures = _load_from_database()
        if procedures:
            return procedures
    return load_bundled()


def _load_from_database() -> list[Procedure]:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from bot.cli import load_settings

    settings = load_settings()
    url = make_url(settings.database_url)
    database = url.database
    local_file = url.drivername.startswith("sqlite") and database and database != ":memory:"
    if local_file and not Path(str(database)).exists():
        return []  # fresh install: do not create a database just to search

    async def load() -> list[Procedure]:
        from bot.db.catalogue import load_procedures
        from bot.db.session import Database

        db = Database(settings.database_url)
        try:
            async with db.session() as session:
                return await load_procedures(session)
        finally:
            await db.dispose()

    try:
        return asyncio.run(load())
    except (SQLAlchemyError, OSError):
        return []  # not migrated yet, or unreachable: the bundled catalogue still answers


# --- search -----------------------------------------------------------------------------------


def cmd_search(args: argparse.Namespace) -> int:
    if args.query is None and args.batch is None:
        print(
            "motcua search: cần QUERY hoặc --batch FILE (QUERY or --batch FILE needed)",
            file=sys.stderr,
        )
        return 2
    if args.limit < 1:
        print("motcua search: --limit phải ≥ 1 (--limit must be at least 1)", file=sys.stderr)
        return 2
    index = SearchIndex.build(load_catalogue(args.bundled))
    out = sys.stdout
    if args.batch is not None:
        try:
            lines = args.batch.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            print(f"motcua search: không đọc được {args.batch}: {error}", file=sys.stderr)
            return 2
        for line in lines:
            _print_json(out, line, _search(index, line, args))
        out.flush()
        return 0
    hits = _search(index, args.query, args)
    if args.json:
        _print_json(out, args.query, hits)
    else:
        _print_table(out, index, args.query, hits)
    return 0


def _search(index: SearchIndex, query: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    hits = index.search(query, limit=args.limit, level=args.level, field=args.field)
    return [hit.to_dict() for hit in hits]


def _print_json(out: TextIO, query: str, results: list[dict[str, Any]]) -> None:
    out.write(json.dumps({"query": query, "results": results}, ensure_ascii=False) + "\n")


def _print_table(
    out: TextIO, index: SearchIndex, query: str, results: list[dict[str, Any]]
) -> None:
    if not results:
        out.write(f"Không tìm thấy thủ tục phù hợp với “{query}”.\n")
        fields = ", ".join(f.name for f in index.fields()[:8])
        out.write(f"Có thể xem theo lĩnh vực: {fields}\n")
        return
    out.write(f"{'#':>2}  {'điểm':>5}  {'mã':<9} {'cấp':<12} tên thủ tục\n")
    for rank, hit in enumerate(results, start=1):
        name = hit["name"] if len(hit["name"]) <= 90 else hit["name"][:89] + "…"
        level = LEVEL_LABELS.get(hit["level"], hit["level"])
        out.write(f"{rank:>2}  {hit['score']:>5.3f}  {hit['code']:<9} {level:<12} {name}\n")


# --- import / export ----------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    try:
        result = read_file(args.file)
    except ImportFailed as error:
        print(f"Nhập thất bại: {error}", file=sys.stderr)
        return 1
    if result.kind == "snapshot" and not args.no_curation:
        apply_overlay(result.procedures)
    print(result.report())
    if args.dry_run:
        print("(--dry-run: không thay đổi cơ sở dữ liệu)")
        return 0

    from bot.cli import load_settings

    settings = load_settings()

    async def store() -> str:
        from bot.db.catalogue import save_import_result
        from bot.db.session import Database

        db = Database(settings.database_url)
        try:
            async with db.session() as session:
                summary = await save_import_result(session, result)
            return summary.describe()
        finally:
            await db.dispose()

    from sqlalchemy.exc import SQLAlchemyError

    try:
        print(asyncio.run(store()))
    except SQLAlchemyError as error:
        print(
            f"Không ghi được vào cơ sở dữ liệu (đã chạy `motcua db upgrade` chưa?): {error}",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    procedures = load_catalogue(args.bundled)
    if args.field:
        procedures = [p for p in procedures if p.field == args.field]
    if str(args.file).lower().endswith(".xlsx"):
        for overflow in xlsx_overflows(procedures):
            print(
                f"Cảnh báo: ô quá dài cho XLSX, bị cắt (dùng CSV để giữ đủ): {overflow}",
                file=sys.stderr,
            )
    try:
        count = write_file(procedures, args.file)
    except ImportFailed as error:
        print(f"Xuất thất bại: {error}", file=sys.stderr)
        return 1
    print(f"Đã xuất {count} thủ tục ra {args.file}")
    return 0
