"""Start-up benchmark: how long `motcua --help` and `motcua search` take, against a bare Python.

    .venv/bin/python benchmarks/startup.py [--runs 7]

Each command runs `--runs` times as a new process (after one unmeasured run, which also writes
the search index cache) in a temporary folder with no database, as on a fresh install; the
median wall time of each is printed with its ratio to `python -c pass` measured in the same
run. Goal (issue 16): `motcua --help` and `motcua search` ≤ 1 s on a quiet machine. Nothing is
asserted; it prints figures. `python -X importtime -m bot.cli --help` shows what an import costs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def motcua() -> list[str]:
    """The installed `motcua` script beside this Python, else the module it runs."""
    script = Path(sys.executable).with_name("motcua")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def wall_times(command: list[str], runs: int, cwd: Path, env: dict[str, str]) -> list[float]:
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="measured runs of each command")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="motcua-startup-"))
    env = os.environ | {"DATA_DIR": str(folder / "data"),
            "DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'data' / 'motcua.db'}"}
    commands = {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "motcua --help": [*motcua(), "--help"],
        'motcua search "lam cccd"': [*motcua(), "search", "lam cccd"],
    }
    try:
        medians = {name: statistics.median(wall_times(command, args.runs, folder, env))
                   for name, command in commands.items()}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    baseline = medians["python -c pass (baseline)"]
    print(f"median of {args.runs} runs each (fresh install: no database)")
    for name, seconds in medians.items():
        print(f"  {name:<28} {seconds:6.3f} s  {seconds / baseline:6.1f}× bare Python")


if __name__ == "__main__":
    main()
