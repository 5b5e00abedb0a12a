"""`motcua search`, `motcua import-procedures`, `motcua export-procedures` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main

SAMPLE = Path(__file__).parent / "data" / "catalogue_snapshot_sample.jsonl"


@pytest.fixture
def fresh_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No database at all yet (the search falls back to the bundled catalogue)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/data/motcua.db")
    return tmp_path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_search_json_on_a_fresh_install_as_a_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_URL")}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/data/motcua.db"
    for query, check in (
        ("dang ky ket hon", lambda hit: hit["code"] == "1.000894"),
        ("lam can cuoc", lambda hit: "căn cước" in hit["name"].lower()),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "search", query, "--json"],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout)
        assert answer["query"] == query
        assert check(answer["results"][0])
        assert set(answer["results"][0]) == {"code", "name", "score", "level"}
    assert not (tmp_path / "data" / "motcua.db").exists()  # searching created no database


def test_search_limit_and_nothing_fits(
    fresh_install: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["search", "đổi bằng lái xe", "--json", "--limit", "2"], capsys)
    answer = json.loads(out)
    assert code == 0 and len(answer["results"]) == 2
    assert answer["results"][0]["code"] == "3.000347"
    code, out, _ = run(["search", "thời tiết hôm nay", "--json"], capsys)
    assert json.loads(out) == {"query": "thời tiết hôm nay", "results": []}


def test_search_table_and_field_suggestions(
    fresh_install: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["search", "giấy độc thân"], capsys)
    assert code == 0 and "1.004873" in out and "Cấp xã" in out
    code, out, _ = run(["search", "asdfgh"], capsys)
    assert "Không tìm thấy" in out and "Hộ tịch" in out


def test_search_batch(fresh_install: Path, capsys: pytest.CaptureFixture[str]) -> None:
    batch = fresh_install / "queries.txt"
    batch.write_text("cccd\n\nlltp\ncảm ơn\nsang ten xe\n", encoding="utf-8")
    code, out, _ = run(["search", "--batch", str(batch), "--json"], capsys)
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [line["query"] for line in lines] == ["cccd", "", "lltp", "cảm ơn", "sang ten xe"]
    assert lines[0]["results"][0]["code"].startswith("1.0140")
    assert lines[1]["results"] == [] and lines[3]["results"] == []
    assert lines[4]["results"][0]["code"] == "1.013076"


def test_search_needs_a_query(fresh_install: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["search"], capsys)
    assert code == 2 and "QUERY" in err


def test_import_reimport_and_search_the_database(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    code, out, _ = run(["import-procedures", str(SAMPLE)], capsys)
    assert code == 0
    assert "10 thêm mới" in out and "không có đơn vị" in out  # the per-record report
    code, out, _ = run(["import-procedures", str(SAMPLE)], capsys)
    assert "0 thêm mới, 0 cập nhật, 10 không đổi" in out
    # The database now holds only the sample: search reads it, not the bundle.
    code, out, _ = run(["search", "làm căn cước", "--json"], capsys)
    found = [r["code"] for r in json.loads(out)["results"]]
    assert found[0] == "1.014063"
    sample = {json.loads(line)["ma_thu_tuc"] for line in SAMPLE.read_text().splitlines()}
    assert set(found) <= sample


def test_import_of_a_broken_file_changes_nothing(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    broken = tmp_path / "snapshot.jsonl.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00 broken")
    code, _, err = run(["import-procedures", str(broken)], capsys)
    assert code == 1 and "gzip" in err and "not changed" in err
    code, _, _ = run(["export-procedures", str(tmp_path / "out.csv")], capsys)
    assert code == 0  # nothing was imported: the export falls back to the bundled catalogue


def test_export_and_reimport_a_spreadsheet(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    run(["import-procedures", str(SAMPLE)], capsys)
    code, out, _ = run(["export-procedures", str(tmp_path / "danh-muc.csv")], capsys)
    assert code == 0 and "10 thủ tục" in out
    code, out, _ = run(["import-procedures", str(tmp_path / "danh-muc.csv")], capsys)
    assert code == 0 and "0 thêm mới, 0 cập nhật" in out
