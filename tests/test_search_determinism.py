"""Same input, same output: `motcua search --batch --json` under two hash seeds.

Python salts ``hash()`` of strings per process (``PYTHONHASHSEED``), so any set or dict of
words whose iteration order reaches a score or a tie-break would make two processes disagree.
Every query of the evaluation sets (in scope, held out, out of scope) is searched in two
processes with different seeds; codes and scores must be identical.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]


def all_queries() -> list[str]:
    queries = []
    for name in ("search_eval.tsv", "search_holdout.tsv", "search_out_of_scope.txt"):
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                queries.append(line.split("\t")[0])
    return queries


def search_batch(batch: Path, seed: str, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    env["PYTHONHASHSEED"] = seed
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "search", "--bundled", "--batch", str(batch), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )


def test_two_hash_seeds_give_the_same_results(tmp_path: Path) -> None:
    queries = all_queries()
    assert len(queries) > 400
    batch = tmp_path / "queries.txt"
    batch.write_text("\n".join(queries) + "\n", encoding="utf-8")
    processes = [search_batch(batch, seed, tmp_path) for seed in ("1", "12345")]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        outputs.append(out.splitlines())
    first, second = outputs
    assert len(first) == len(second) == len(queries)
    differing = [a for a, b in zip(first, second, strict=True) if a != b]
    assert not differing, f"{len(differing)} queries differ, e.g. {differing[0]}"
