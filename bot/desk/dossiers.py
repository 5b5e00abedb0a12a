"""Dossier search on the web desk: an officer finds a dossier by its code within the
account's communes. A dossier of another commune is answered exactly as a missing code, so
the desk never tells that a code exists elsewhere; every look-up is in the audit log
(`dossier.viewed`, `dossier.printed`, actor "staff:USERNAME", result ok / not_found /
other_commune / nothing). The card and the letters are the chat's own (handlers/dossiers.py):
the card masks the applicant as the staff group's `/hoso` does; the printed letter or apology
slip is addressed by name, as `/inthu` and `motcua letters print` make it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db import dossiers as repo
from bot.desk.accounts import actor_of, audit
from bot.desk.models import StaffAccount
from bot.router import Context, ConversationState


@dataclass
class Found:
    dossier: repo.Dossier
    card: str
    printable: str | None
    """The title of what can be printed for it (a letter, the apology slip), else None."""


@dataclass
class LookUp:
    code: str
    """The code as searched (canonical when it is one)."""
    dossier: repo.Dossier | None
    """The dossier, only when the account serves its commune."""
    result: str
    """For the audit log: ok, not_found, other_commune."""

    def audit(self, session: AsyncSession, account: StaffAccount, now: datetime, action: str,
              result: str | None = None) -> None:
        audit(session, now, actor_of(account), action, self.code, result or self.result)


async def look_up(session: AsyncSession, account: StaffAccount, raw: str) -> LookUp:
    """The dossier `raw` names, if the account serves its commune."""
    code = repo.normalize_code(raw) or repo.find_code(raw)
    dossier = await repo.get_dossier(session, code) if code else None
    if dossier is None:
        return LookUp(code or raw[:60], None, "not_found")
    if not account.serves(dossier.commune_code):
        return LookUp(dossier.code, None, "other_commune")
    return LookUp(dossier.code, dossier, "ok")


async def card(session: AsyncSession, settings: Settings, services: dict[str, Any],
               now: datetime, dossier: repo.Dossier) -> Found:
    """What the desk shows of a dossier found: the staff card of the chat, and what can be
    printed for it."""
    from handlers.dossiers import printable, status_card

    ctx = Context(settings, session, ConversationState(), 0, services, now)
    found = await printable(session, dossier, settings)
    return Found(dossier, await status_card(session, dossier, ctx, staff=True),
                 found[1].title if found else None)


async def letter_pdf(session: AsyncSession, settings: Settings, dossier: repo.Dossier,
                     size: str) -> tuple[str, bytes] | None:
    """The dossier's letter or apology slip as a PDF (its file name, its bytes), or None when
    there is nothing to print. The PDF is made in a worker thread (the font is embedded)."""
    import asyncio

    from documents.printing import PDF_NAMES, document_pdf
    from handlers.dossiers import printable

    found = await printable(session, dossier, settings)
    if found is None:
        return None
    kind, doc = found
    data = await asyncio.to_thread(document_pdf, doc, "A5" if size == "A5" else "A4")
    return PDF_NAMES[kind], data
