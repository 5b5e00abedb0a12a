"""The citizens' phrasings (procedures/data/phrasings.tsv): data, import, search."""

from __future__ import annotations

import json
from pathlib import Path

from procedures.catalogue import load_bundled
from procedures.curated import apply_overlay, curated_codes, load_phrasings
from procedures.importer.snapshot import parse_snapshot_record
from procedures.normalize import fold
from procedures.search import SearchIndex

SAMPLE = Path(__file__).parent / "data" / "catalogue_snapshot_sample.jsonl"


def test_every_procedure_has_phrasings_and_the_bundle_holds_them() -> None:
    phrasings = load_phrasings()
    bundled = {p.code: p for p in load_bundled()}
    assert set(phrasings) == set(bundled)  # no code the catalogue lacks, none left out
    for code, phrases in phrasings.items():
        assert len(phrases) == len(set(phrases)), code
        assert all(2 <= len(phrase.split()) <= 20 for phrase in phrases), code
        # The bundle was rebuilt after the file changed (python -m procedures.build_bundle).
        assert set(phrases) <= set(bundled[code].aliases), code


def test_an_imported_snapshot_gets_the_phrasings_as_aliases() -> None:
    records = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    procedures = [parse_snapshot_record(r, "2026-07")[0] for r in records]
    plain = next(p for p in procedures if p.code not in curated_codes())
    assert plain.aliases == []
    apply_overlay(procedures)
    assert plain.aliases == load_phrasings()[plain.code]
    assert plain.source == "snapshot"  # phrasings make no procedure curated


def test_a_phrasing_finds_its_procedure_typed_with_or_without_accents() -> None:
    # Read as names, a procedure's phrasings find it (or a procedure of the same name at
    # another level) among the first three, typed as written or without accents; the few
    # misses are siblings whose phrasings say nearly the same (a ministry and a province
    # version). A phrasing copied onto a sibling, or aliases no longer read, fail this.
    procedures = load_bundled()
    index = SearchIndex.build(procedures)
    names = {p.code: p.name.lower() for p in procedures}
    sample = [
        (code, phrase)
        for code, phrases in sorted(load_phrasings().items())[::7]  # across every field
        for phrase in phrases
    ]
    for typed in (str, fold):
        found = sum(
            any(names[h.code] == names[code] for h in index.search(typed(phrase), limit=3))
            for code, phrase in sample
        )
        assert found / len(sample) >= 0.97, (typed, found / len(sample))
