"""The procedure catalogue in the database: imports (idempotent by content hash) and loading.

Each import run is a row of ``procedure_imports`` (counts and per-record problems); each
procedure a row of ``procedures`` whose ``data`` holds the full record. Importing the same
content again changes nothing (0 created, 0 updated). Corrections an official made through a
CSV/XLSX import are kept when the snapshot or the bundled catalogue is imported again.

The service calls :func:`ensure_bundled` at start-up (fast when the bundle was loaded before)
and :func:`load_search_index` to build the in-memory search index from the database.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.models import LexiconRow, ProcedureImport, ProcedureRecord
from procedures import lexicon
from procedures.catalogue import Procedure, bundle_info, load_bundled
from procedures.importer.result import ImportResult, Problem
from procedures.search import SearchIndex

LOCAL_SOURCES = ("csv", "xlsx")
BUNDLE_KIND = "bundle"
LEXICON_KIND = "lexicon"


@dataclass
class ImportSummary:
    """What an import changed in the database."""

    import_id: int
    total: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_local: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)

    def describe(self) -> str:
        text = (
            f"Lần nhập #{self.import_id}: {self.total} thủ tục — {self.created} thêm mới, "
            f"{self.updated} cập nhật, {self.unchanged} không đổi"
        )
        if self.kept_local:
            text += f", {self.kept_local} giữ bản sửa tại địa phương"
        return text + "."


async def save_import(
    session: AsyncSession,
    procedures: Sequence[Procedure],
    *,
    source: str,
    kind: str,
    problems: Sequence[Problem] = (),
    total: int | None = None,
) -> ImportSummary:
    """Upsert `procedures` (by code) and record the run; unchanged records are not touched."""
    record = ProcedureImport(
        source=source[-300:],
        kind=kind[:20],
        total=total if total is not None else len(procedures),
        problems=[p.to_dict() for p in problems],
    )
    session.add(record)
    await session.flush()
    summary = ImportSummary(import_id=record.id, total=record.total)
    existing = {
        code: (content_hash, existing_source)
        for code, content_hash, existing_source in (
            await session.execute(
                select(ProcedureRecord.code, ProcedureRecord.content_hash, ProcedureRecord.source)
            )
        ).all()
    }
    new_rows: list[dict[str, Any]] = []
    changed: dict[str, tuple[Procedure, str]] = {}
    now = utcnow()
    for procedure in procedures:
        content_hash = procedure.content_hash()
        current = existing.get(procedure.code)
        if current is None:
            new_rows.append(_row(procedure, content_hash, record.id, now))
        elif current[0] == content_hash:
            summary.unchanged += 1
        elif current[1] in LOCAL_SOURCES and procedure.source not in LOCAL_SOURCES:
            summary.kept_local += 1
        else:
            changed[procedure.code] = (procedure, content_hash)
    if new_rows:
        await session.execute(insert(ProcedureRecord), new_rows)
        summary.created = len(new_rows)
    if changed:
        rows = await session.scalars(
            select(ProcedureRecord).where(ProcedureRecord.code.in_(list(changed)))
        )
        for row in rows:
            procedure, content_hash = changed[row.code]
            for key, value in _row(procedure, content_hash, record.id, now).items():
                setattr(row, key, value)
        summary.updated = len(changed)
    record.created, record.updated = summary.created, summary.updated
    record.unchanged = summary.unchanged + summary.kept_local
    if summary.kept_local:
        record.problems = [
            *record.problems,
            {
                "where": "*",
                "message": f"giữ {summary.kept_local} thủ tục đã được sửa qua CSV/XLSX",
                "severity": "warning",
            },
        ]
    record.finished_at = utcnow()
    summary.problems = list(record.problems)
    return summary


def _row(procedure: Procedure, content_hash: str, import_id: int, now: Any) -> dict[str, Any]:
    return {
        "code": procedure.code,
        "name": procedure.name,
        "field": procedure.field[:300],
        "levels": list(procedure.levels),
        "popularity": float(procedure.popularity),
        "source": procedure.source[:40],
        "data": procedure.to_dict(),
        "content_hash": content_hash,
        "import_id": import_id,
        "data_date": procedure.data_date[:20] or None,
        "updated_at": now,
    }


async def save_import_result(session: AsyncSession, result: ImportResult) -> ImportSummary:
    """Store what an importer read (see :mod:`procedures.importer`)."""
    return await save_import(
        session,
        result.procedures,
        source=result.source,
        kind=result.kind,
        problems=result.problems,
        total=result.total,
    )


async def count_procedures(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(ProcedureRecord)) or 0)


async def load_procedures(session: AsyncSession) -> list[Procedure]:
    """Every procedure of the catalogue, by code."""
    rows = await session.scalars(select(ProcedureRecord.data).order_by(ProcedureRecord.code))
    return [Procedure.from_dict(data) for data in rows]


async def get_procedure(session: AsyncSession, code: str) -> Procedure | None:
    data = await session.scalar(select(ProcedureRecord.data).where(ProcedureRecord.code == code))
    return None if data is None else Procedure.from_dict(data)


async def catalogue_version(session: AsyncSession) -> str:
    """A hash of the database's catalogue content (codes, content hashes, sources), read
    without loading the records: the key of the cached search index."""
    rows = await session.execute(
        select(
            ProcedureRecord.code, ProcedureRecord.content_hash, ProcedureRecord.source
        ).order_by(ProcedureRecord.code)
    )
    digest = hashlib.sha256()
    for code, content_hash, source in rows:
        digest.update(f"{code}\t{content_hash}\t{source}\n".encode())
    return f"database:{digest.hexdigest()}"


async def catalogue_stamp(session: AsyncSession) -> int:
    """The id of the latest import: when it changes, rebuild the search index."""
    return int(await session.scalar(select(func.max(ProcedureImport.id))) or 0)


async def ensure_bundled(session: AsyncSession) -> ImportSummary | None:
    """Load the bundled catalogue when the table is empty or this bundle was never loaded.

    Returns None (after one small query) when this bundle version is already in.
    """
    version = bundle_info()["version"]
    marker = f"bundle:{version}"
    done = await session.scalar(
        select(ProcedureImport.id).where(
            ProcedureImport.kind == BUNDLE_KIND, ProcedureImport.source == marker
        )
    )
    if done is not None and await count_procedures(session) > 0:
        return None
    procedures = load_bundled()
    return await save_import(session, procedures, source=marker, kind=BUNDLE_KIND)


async def load_search_index(session: AsyncSession) -> SearchIndex:
    """The search index over the database's catalogue (the bundled one when it is empty)."""
    procedures = await load_procedures(session)
    return SearchIndex.build(procedures or load_bundled(), await load_lexicon(session))


async def load_lexicon(session: AsyncSession) -> tuple[lexicon.Entry, ...]:
    """The search lexicon: the last one imported (:func:`save_lexicon`), else the bundled."""
    imported = await session.scalar(
        select(func.max(ProcedureImport.id)).where(ProcedureImport.kind == LEXICON_KIND)
    )
    if imported is None:
        return lexicon.bundled()
    rows = await session.scalars(
        select(LexiconRow).where(LexiconRow.import_id == imported).order_by(LexiconRow.id)
    )
    return tuple(
        lexicon.Entry(row.field, row.kind, row.citizen,
                      tuple(row.official.split(lexicon.SEPARATOR)))
        for row in rows
    )


async def save_lexicon(
    session: AsyncSession, entries: Sequence[lexicon.Entry], source: str
) -> LexiconSummary:
    """Make `entries` the search lexicon (replacing the one in use); every process rebuilds
    its index at its next catalogue check, as after a catalogue import."""
    before, after = set(await load_lexicon(session)), set(entries)
    record = ProcedureImport(
        source=source[-300:], kind=LEXICON_KIND, total=len(entries),
        created=len(after - before), unchanged=len(after & before), finished_at=utcnow(),
    )
    session.add(record)
    await session.flush()
    await session.execute(delete(LexiconRow))
    if entries:
        await session.execute(insert(LexiconRow), [
            {**entry.row(), "import_id": record.id} for entry in entries
        ])
    return LexiconSummary(record.id, len(entries), len(after - before), len(before - after))


@dataclass(frozen=True)
class LexiconSummary:
    """What a lexicon import changed."""

    import_id: int
    total: int
    added: int
    removed: int

    def describe(self) -> str:
        return (
            f"Lần nhập #{self.import_id}: từ điển tìm kiếm có {self.total} mục — "
            f"{self.added} mục mới, {self.removed} mục bỏ đi."
        )


async def timed_ensure_and_load(session: AsyncSession) -> tuple[SearchIndex, float]:
    """Start-up helper: ensure the bundle, build the index; returns it and the seconds taken."""
    started = time.perf_counter()
    await ensure_bundled(session)
    index = await load_search_index(session)
    return index, time.perf_counter() - started
