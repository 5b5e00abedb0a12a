"""The search index cached on disk: same answers as a built one, rebuilt when the catalogue or
the engine changed, never trusted when damaged; a restarted service loads it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.app import Service
from procedures import search_cache
from procedures.catalogue import Procedure, bundle_info, load_bundled
from procedures.search import SearchIndex
from tests.conftest import make_settings

DATA = Path(__file__).parent / "data"
BUNDLE = f"bundle:{bundle_info()['version']}"


def queries() -> list[str]:
    out = []
    for name in ("search_eval.tsv", "search_holdout.tsv", "search_out_of_scope.txt"):
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                out.append(line.split("\t")[0])
    return out


def small(name: str = "Hỗ trợ chi phí mai táng") -> list[Procedure]:
    return [
        Procedure(code="9.000001", name="Trợ cấp xã hội hằng tháng", levels=["commune"]),
        Procedure(code="9.000002", name=name, levels=["commune"]),
    ]


def the_file(directory: Path) -> Path:
    (path,) = directory.glob("search-*.idx")
    return path


def test_a_cached_index_answers_every_query_as_the_built_one(tmp_path: Path) -> None:
    built, cached = search_cache.load_or_build(tmp_path, BUNDLE, load_bundled)
    assert not cached
    loaded, cached = search_cache.load_or_build(tmp_path, BUNDLE, list)
    assert cached
    assert len(loaded) == len(built)
    assert loaded.get("1.000894") == built.get("1.000894")
    assert loaded.fields() == built.fields()
    for query in queries():
        assert loaded.search(query) == built.search(query), query


def test_another_catalogue_or_engine_is_built_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    search_cache.load_or_build(tmp_path, "v1", small)
    index, cached = search_cache.load_or_build(tmp_path, "v2", lambda: small("Cấp giấy phép"))
    assert not cached and index.search("giấy phép")[0].code == "9.000002"
    assert search_cache.load_or_build(tmp_path, "v1", small)[1]  # both kept
    monkeypatch.setattr(search_cache, "engine_version", lambda: "a changed search.py")
    assert not search_cache.load_or_build(tmp_path, "v1", small)[1]


def test_old_cache_files_are_removed(tmp_path: Path) -> None:
    for version in range(search_cache.KEEP_FILES + 3):
        search_cache.load_or_build(tmp_path, f"v{version}", small)
    assert len(list(tmp_path.glob("search-*.idx"))) == search_cache.KEEP_FILES + 1
    assert not list(tmp_path.glob(".search-*"))  # no temporary file left


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-1000],  # cut short
        lambda data: data[:-10] + bytes(10),  # payload changed
        lambda data: b"\x80\x05" + data,  # not our header
        lambda data: b"",
    ],
)
def test_a_damaged_cache_file_is_rebuilt(tmp_path: Path, damage, caplog) -> None:  # type: ignore[no-untyped-def]
    search_cache.load_or_build(tmp_path, "v1", small)
    path = the_file(tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    with caplog.at_level(logging.WARNING, logger="procedures.search_cache"):
        index, cached = search_cache.load_or_build(tmp_path, "v1", small)
    assert not cached and index.search("mai táng")[0].code == "9.000002"
    assert "rebuilding" in caplog.text
    assert search_cache.load_or_build(tmp_path, "v1", small)[1]  # written again, sound


def test_a_cache_that_cannot_be_written_still_gives_the_index(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with caplog.at_level(logging.WARNING, logger="procedures.search_cache"):
        index, cached = search_cache.load_or_build(blocked, "v1", small)
    assert not cached and len(index) == 2
    assert "could not cache" in caplog.text


def test_the_cache_directory_is_private(tmp_path: Path) -> None:
    directory = tmp_path / "search-cache"
    search_cache.load_or_build(directory, "v1", small)
    assert directory.stat().st_mode & 0o777 == 0o700


@pytest.mark.db
async def test_a_restarted_service_loads_the_index_from_its_cache(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.db.catalogue import ensure_bundled

    settings = make_settings(database_url, data_dir=str(tmp_path))
    caplog.set_level(logging.INFO, logger="bot.app")
    async with Service(settings) as service:
        async with service.db.session() as session:
            await ensure_bundled(session)  # as `motcua run` does before starting
        await service.refresh_catalogue()
        built: SearchIndex = service.services["catalogue"]
    assert "index built" in caplog.text
    assert the_file(tmp_path / "search-cache").exists()
    caplog.clear()
    async with Service(settings) as service:
        loaded: SearchIndex = service.services["catalogue"]
    assert "index loaded from cache" in caplog.text
    for query in ("dang ky ket hon", "làm lại sổ đỏ bị mất", "cấp căn cước cho con"):
        assert loaded.search(query) == built.search(query)
