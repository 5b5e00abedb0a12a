"""`motcua search`, `motcua import-procedures`, `motcua export-procedures`,
`motcua import-lexicon`, `motcua export-lexicon` (catalogue tasks).

``search`` reads the catalogue and the search lexicon from the database when it holds them,
otherwise the ones bundled in the package (so it works on a fresh install, before any
migration).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from procedures.catalogue import LEVEL_LABELS, Procedure, bundle_info, load_bundled
from procedures.tables import ReadFailed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from procedures import lexicon
    from procedures.search import SearchIndex

T = TypeVar("T")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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

    imp_lex = sub.add_parser(
        "import-lexicon",
        help="replace the search lexicon (citizens' words per field) from .csv or .xlsx",
    )
    imp_lex.add_argument("file", type=Path)
    imp_lex.add_argument("--dry-run", action="store_true", help="check only; change nothing")
    imp_lex.set_defaults(func=cmd_import_lexicon)

    exp_lex = sub.add_parser("export-lexicon", help="export the search lexicon to .csv or .xlsx")
    exp_lex.add_argument("file", type=Path)
    exp_lex.add_argument("--bundled", action="store_true", help="export the bundled lexicon")
    exp_lex.set_defaults(func=cmd_export_lexicon)


# --- loading ----------------------------------------------------------------------------------


def load_catalogue(use_bundled: bool = False) -> list[Procedure]:
    """The database's catalogue when there is one, else the bundled catalogue."""
    from bot.db.catalogue import load_procedures

    procedures = None if use_bundled else _from_database(load_procedures)
    return procedures or load_bundled()


def load_lexicon(use_bundled: bool = False) -> tuple[lexicon.Entry, ...]:
    """The search lexicon in use: the database's (once one was imported), else the bundled."""
    from bot.db.catalogue import load_lexicon as load
    from procedures import lexicon

    entries = None if use_bundled else _from_database(load)
    return lexicon.bundled() if entries is None else entries


def search_index(use_bundled: bool = False) -> SearchIndex:
    """The search index of the catalogue and lexicon in use, loaded from the service's cache
    (`DATA_DIR/search-cache`) when it holds it, else built and cached there."""
    from bot.config import load_settings
    from procedures import lexicon, search_cache

    async def version_and_lexicon(session: AsyncSession) -> tuple[str, tuple[lexicon.Entry, ...]]:
        # imported here: with no database (a fresh install) search loads no SQLAlchemy tables
        from bot.db.catalogue import catalogue_version, count_procedures
        from bot.db.catalogue import load_lexicon as load_db_lexicon

        version = await catalogue_version(session) if await count_procedures(session) else ""
        return version, await load_db_lexicon(session)

    cache = load_settings().search_cache
    version, entries = (None if use_bundled else _from_database(version_and_lexicon)) or (
        "", lexicon.bundled())
    if version:
        return search_cache.load_or_build(cache, version, load_catalogue, entries)[0]
    bundle = f"bundle:{bundle_info()['version']}"
    return search_cache.load_or_build(cache, bundle, load_bundled, entries)[0]


def _from_database(load: Callable[[AsyncSession], Awaitable[T]]) -> T | None:
    """What `load` reads from the configured database; None on a fresh install (no database
    file: none is created just to read) or when the database cannot be read."""
    from bot.config import load_settings

    settings = load_settings()
    local_file = settings.sqlite_file
    if local_file is not None and not local_file.exists():
        return None
    # SQLAlchemy and the engine's imports only when there is a database to read
    from sqlalchemy.exc import SQLAlchemyError

    from bot.db.session import run_in_session

    try:
        return run_in_session(settings.database_url, load)
    except (SQLAlchemyError, OSError):
        return None  # not migrated yet, or unreachable: the bundled data still answers


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
    index = search_index(args.bundled)
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
    from procedures.curated import apply_overlay
    from procedures.importer.files import read_file
    from procedures.importer.result import ImportFailed

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

    from bot.db.catalogue import save_import_result

    return _store(lambda session: save_import_result(session, result))


def _store(save: Callable[[AsyncSession], Awaitable[Any]]) -> int:
    """Run `save` in a transaction of the configured database and print its summary."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.config import load_settings
    from bot.db.session import run_in_session

    async def describe(session: AsyncSession) -> str:
        return str((await save(session)).describe())

    try:
        print(run_in_session(load_settings().database_url, describe))
    except SQLAlchemyError as error:
        print(
            f"Không ghi được vào cơ sở dữ liệu (đã chạy `motcua db upgrade` chưa?): {error}",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from procedures.importer.files import write_file, xlsx_overflows
    from procedures.importer.result import ImportFailed

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


def cmd_import_lexicon(args: argparse.Namespace) -> int:
    """Replace the search lexicon with a file's entries, all checked first against the
    catalogue: one bad row and nothing changes; a new entry that may lead the search astray
    is imported with a caution (:func:`procedures.lexicon.cautions`)."""
    from procedures import lexicon

    try:
        entries, problems = lexicon.read_file(args.file)
    except ReadFailed as error:
        print(f"Nhập thất bại: {error}", file=sys.stderr)
        return 1
    problems += lexicon.check(entries, load_catalogue())
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    if problems:
        print(
            f"Nhập thất bại: {len(problems)} lỗi; từ điển không thay đổi. Sửa các dòng trên rồi "
            "nhập lại. (Nothing was changed.)",
            file=sys.stderr,
        )
        return 1
    cautions = lexicon.cautions(entries, load_lexicon())
    for caution in cautions:
        print(f"  Lưu ý — {caution}")
    print(f"Đọc được {len(entries)} mục, không có lỗi" + (
        f"; {len(cautions)} lưu ý ở trên: mục mới có thể làm tìm kiếm đọc lạc, nên xem lại "
        "(vẫn nhập)." if cautions else "."))
    if args.dry_run:
        print("(--dry-run: không thay đổi cơ sở dữ liệu)")
        return 0
    from bot.db.catalogue import save_lexicon

    return _store(lambda session: save_lexicon(session, entries, str(args.file)))


def cmd_export_lexicon(args: argparse.Namespace) -> int:
    from procedures import lexicon

    entries = load_lexicon(args.bundled)
    try:
        count = lexicon.write_file(entries, args.file)
    except ReadFailed as error:
        print(f"Xuất thất bại: {error}", file=sys.stderr)
        return 1
    print(f"Đã xuất {count} mục của từ điển tìm kiếm ra {args.file}")
    return 0
