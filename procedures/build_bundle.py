"""Build the bundled catalogue shipped in ``procedures/data/`` from a snapshot and the overlay.

    python -m procedures.build_bundle PATH/TO/national-procedures-YYYY-MM.jsonl.gz

Writes ``catalogue.jsonl.gz`` (every snapshot record, parsed, with the curated overlay applied)
and ``catalogue.meta.json`` (version hash, counts, data date, problem counts). Run it when the
snapshot or ``curated.json`` changes and commit both files; the service never reads the
snapshot itself.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import hashlib
import json
import re
import sys
from pathlib import Path

from procedures.catalogue import BUNDLE_FILE, BUNDLE_META_FILE, dump_jsonl
from procedures.curated import apply_overlay
from procedures.importer.result import ImportFailed, ImportResult
from procedures.importer.snapshot import read_snapshot

DATA_DIR = Path(__file__).parent / "data"


def build(snapshot: Path, out_dir: Path = DATA_DIR) -> tuple[ImportResult, dict[str, object]]:
    result = read_snapshot(snapshot)
    missing = apply_overlay(result.procedures)
    if missing:
        raise SystemExit(f"curated.json names codes missing from the snapshot: {missing}")
    procedures = sorted(result.procedures, key=lambda p: p.code)
    payload = dump_jsonl(procedures)
    version = hashlib.sha256(payload).hexdigest()[:16]
    # mtime=0 keeps the file byte-identical between builds of the same content.
    (out_dir / BUNDLE_FILE).write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))
    kinds = collections.Counter(
        re.sub(r"'[^']*'|\d[\d.,]*", "…", p.message.split(";")[0]) for p in result.problems
    )
    meta: dict[str, object] = {
        "version": version,
        "count": len(procedures),
        "curated": sum(1 for p in procedures if p.source == "curated"),
        "data_date": max((p.data_date for p in procedures), default=""),
        "source": snapshot.name,
        "problems": len(result.problems),
        "problem_kinds": dict(kinds.most_common()),
    }
    (out_dir / BUNDLE_META_FILE).write_text(
        json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return result, meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--report", action="store_true", help="print every problem")
    args = parser.parse_args(argv)
    try:
        result, meta = build(args.snapshot, args.out)
    except ImportFailed as error:
        print(error, file=sys.stderr)
        return 1
    if args.report:
        print(result.report())
    print(json.dumps(meta, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
