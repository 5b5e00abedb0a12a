"""The catalogue in the database: idempotent imports, the bundled catalogue, local edits kept."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.db.catalogue import (
    catalogue_stamp,
    count_procedures,
    ensure_bundled,
    get_procedure,
    load_procedures,
    load_search_index,
    save_import,
    save_import_result,
)
from bot.db.models import ProcedureImport
from bot.db.session import Database
from procedures.catalogue import Fee, bundle_info
from procedures.importer.files import read_file
from procedures.importer.result import ImportFailed

pytestmark = pytest.mark.db
SAMPLE = Path(__file__).parent / "data" / "catalogue_snapshot_sample.jsonl"


@pytest.fixture
async def db(database_url: str):  # type: ignore[no-untyped-def]
    database = Database(database_url)
    yield database
    await database.dispose()


async def test_snapshot_import_is_idempotent(db: Database) -> None:
    result = read_file(SAMPLE)
    async with db.session() as session:
        first = await save_import_result(session, result)
    assert (first.created, first.updated, first.unchanged) == (len(result.procedures), 0, 0)
    async with db.session() as session:
        again = await save_import_result(session, read_file(SAMPLE))
        imports = await session.scalar(select(func.count()).select_from(ProcedureImport))
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(result.procedures))
    assert imports == 2  # each run is recorded, with its problems
    async with db.session() as session:
        run = await session.get(ProcedureImport, first.import_id)
        assert run is not None and run.problems and run.finished_at is not None
        procedure = await get_procedure(session, "1.004222")
    assert procedure is not None and procedure.channels[0].fees[0].amount == 20000


async def test_ensure_bundled_loads_once(db: Database) -> None:
    async with db.session() as session:
        summary = await ensure_bundled(session)
    assert summary is not None and summary.created == bundle_info()["count"]
    async with db.session() as session:
        assert await ensure_bundled(session) is None  # already in: one small query
        assert await count_procedures(session) == bundle_info()["count"]
        index = await load_search_index(session)
    assert index.search("dang ky ket hon")[0].code == "1.000894"


async def test_corrections_from_a_spreadsheet_survive_a_snapshot_reimport(
    db: Database, tmp_path: Path
) -> None:
    async with db.session() as session:
        await save_import_result(session, read_file(SAMPLE))
        procedure = await get_procedure(session, "1.004222")
    assert procedure is not None
    procedure.channels[0].fees = [Fee(kind="amount", amount=15000, label="Lệ phí")]
    procedure.source = "csv"
    async with db.session() as session:
        edited = await save_import(session, [procedure], source="sua.csv", kind="csv")
    assert edited.updated == 1
    async with db.session() as session:
        again = await save_import_result(session, read_file(SAMPLE))
        kept = await get_procedure(session, "1.004222")
    assert again.kept_local == 1 and again.updated == 0
    assert kept is not None and kept.channels[0].fees[0].amount == 15000


async def test_a_malformed_file_leaves_the_catalogue_intact(db: Database, tmp_path: Path) -> None:
    async with db.session() as session:
        await save_import_result(session, read_file(SAMPLE))
        before = [p.to_dict() for p in await load_procedures(session)]
        stamp = await catalogue_stamp(session)
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(gzip.compress(SAMPLE.read_bytes())[:200])
    with pytest.raises(ImportFailed):
        read_file(broken)
    async with db.session() as session:
        assert [p.to_dict() for p in await load_procedures(session)] == before
        assert await catalogue_stamp(session) == stamp


async def test_a_failing_write_rolls_back(db: Database) -> None:
    result = read_file(SAMPLE)
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            await save_import_result(session, result)
            raise RuntimeError("disk full")
    async with db.session() as session:
        assert await count_procedures(session) == 0
