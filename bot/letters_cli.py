"""`motcua letters print DOSSIER_CODE [--size A4|A5] [--out FILE]`: the printable PDF of a
dossier for staff to hand over at the counter — the apology slip ("Phiếu xin lỗi và hẹn lại
ngày trả kết quả") while a late dossier is still being handled, else the congratulation or
condolence letter of a returned marriage, birth or death registration; addressed to the
applicant by name. Exit status 1 when there is no such dossier or nothing to print for it.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    letters = sub.add_parser("letters", help="printable letters and apology slips")
    letters_sub = letters.add_subparsers(dest="letters_command", required=True, metavar="TASK")
    printing = letters_sub.add_parser(
        "print", help="the letter or apology slip of a dossier as a PDF file")
    printing.add_argument("code", metavar="DOSSIER_CODE")
    printing.add_argument("--size", choices=("A4", "A5"), default="A4", help="paper size")
    printing.add_argument("--out", help="the PDF file to write (default: <code>-<name>.pdf)")
    printing.set_defaults(func=cmd_print)


def cmd_print(args: argparse.Namespace) -> int:
    from bot.config import load_settings

    return asyncio.run(print_letter(load_settings(), args.code, args.size, args.out))


async def print_letter(settings: Settings, code: str, size: str = "A4",
                       out: str | None = None) -> int:
    from bot.db import dossiers as repo
    from bot.db.migrate import upgrade_async
    from bot.db.session import Database
    from documents.printing import PDF_NAMES, document_pdf
    from handlers.dossiers import printable

    normalized = repo.normalize_code(code)
    if normalized is None:
        print(f"{code!r} is not a dossier code.")
        return 1
    await upgrade_async(settings.database_url)
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            dossier = await repo.get_dossier(session, normalized)
            found = await printable(session, dossier, settings) if dossier else None
    finally:
        await db.dispose()
    if dossier is None:
        print(f"No dossier {normalized}.")
        return 1
    if found is None:
        print(f"Nothing to print for {normalized} (status {dossier.status}): a letter follows a "
              "returned marriage, birth or death registration, the apology slip a delay.")
        return 1
    kind, doc = found
    path = Path(out or f"{re.sub(r'[^A-Za-z0-9.-]+', '-', normalized)}-{PDF_NAMES[kind]}")
    path.write_bytes(document_pdf(doc, "A5" if size == "A5" else "A4"))
    print(f"{doc.title} ({size}): {path}")
    return 0
