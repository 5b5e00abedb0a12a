"""Integrity of the v2 search evaluation set (``tests/data/search_eval_v2.tsv``, issue 12).

Checks the data only, never the engine: every code exists in the bundled catalogue, kinds and
splits are valid, the minimum counts of the issue hold, every field of the catalogue is covered
(at least 10 queries for each of the 20 largest fields), the held-out split is by field, and no
query appears twice. The later dev sets (v3 to v16) keep off the held-out fields; the second
held-out part (``search_heldout_b.tsv``) keeps to them.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from procedures.catalogue import load_bundled

EVAL_V2 = Path(__file__).parent / "data" / "search_eval_v2.tsv"
HELDOUT_B = Path(__file__).parent / "data" / "search_heldout_b.tsv"
LATER_DEV_SETS = [Path(__file__).parent / "data" / f"search_eval_v{n}.tsv" for n in range(3, 17)]
KINDS = {"long", "abbr", "question", "typo", "noacc", "coll", "acc", "sibling", "oos"}
SPLITS = {"dev", "heldout"}
MINIMUMS = {"long": 60, "abbr": 60, "question": 60, "typo": 60, "oos": 40}
MIN_QUERIES = 600
TOP_FIELDS = 20
MIN_PER_TOP_FIELD = 10


@cache
def rows(path: Path = EVAL_V2) -> tuple[tuple[str, tuple[str, ...], str, str, str], ...]:
    out = []
    lines = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "query\tcodes\tkind\tfield\tsplit"
    for line in lines[1:]:
        parts = line.split("\t")
        assert len(parts) == 5, line
        query, codes, kind, field, split = parts
        out.append((query, tuple(c for c in codes.split(",") if c), kind, field, split))
    return tuple(out)


@cache
def catalogue() -> dict[str, str]:
    """code -> field of the bundled catalogue."""
    return {p.code: p.field for p in load_bundled()}


def heldout_fields_in_header() -> set[str]:
    fields = set()
    for line in EVAL_V2.read_text(encoding="utf-8").splitlines():
        if line.startswith("#     - "):
            fields.add(line[len("#     - ") :])
    return fields


def test_enough_queries_and_kinds_valid() -> None:
    data = rows()
    assert len(data) >= MIN_QUERIES
    kinds = Counter(r[2] for r in data)
    assert set(kinds) <= KINDS, set(kinds) - KINDS
    for kind, minimum in MINIMUMS.items():
        assert kinds[kind] >= minimum, (kind, kinds[kind])
    assert kinds["sibling"] > 0
    assert {r[4] for r in data} <= SPLITS


def test_every_code_exists_and_field_matches() -> None:
    cat = catalogue()
    for query, codes, kind, field, _ in rows():
        if kind == "oos":
            assert not codes and not field, query
            continue
        assert codes, query
        missing = [c for c in codes if c not in cat]
        assert not missing, (query, missing)
        assert len(set(codes)) == len(codes), query
        assert field == cat[codes[0]], (query, field, cat[codes[0]])


def test_every_field_covered_and_top_fields_have_ten() -> None:
    cat = catalogue()
    sizes = Counter(cat.values())
    covered = Counter(r[3] for r in rows() if r[2] != "oos")
    assert set(sizes) <= set(covered), set(sizes) - set(covered)
    for field, _ in sizes.most_common(TOP_FIELDS):
        assert covered[field] >= MIN_PER_TOP_FIELD, (field, covered[field])


def test_split_by_field() -> None:
    data = rows()
    held = heldout_fields_in_header()
    assert held, "the header lists the held-out fields"
    dev_fields = {r[3] for r in data if r[4] == "dev" and r[2] != "oos"}
    heldout_fields = {r[3] for r in data if r[4] == "heldout" and r[2] != "oos"}
    assert dev_fields.isdisjoint(heldout_fields), dev_fields & heldout_fields
    assert heldout_fields == held & {r[3] for r in data}
    all_fields = set(catalogue().values())
    assert held <= all_fields
    assert 0.3 <= len(held) / len(all_fields) <= 0.5
    oos = Counter(r[4] for r in data if r[2] == "oos")
    assert abs(oos["dev"] - oos["heldout"]) <= 1, oos
    # both parts measure every kind
    for split in SPLITS:
        kinds = {r[2] for r in data if r[4] == split}
        assert kinds == KINDS, (split, KINDS - kinds)


def test_no_duplicate_queries() -> None:
    seen = Counter(" ".join(r[0].lower().split()) for r in rows())
    dups = [q for q, n in seen.items() if n > 1]
    assert not dups, dups


@pytest.mark.parametrize("kind", sorted(MINIMUMS))
def test_minimum_per_kind(kind: str) -> None:
    assert sum(1 for r in rows() if r[2] == kind) >= MINIMUMS[kind]


@pytest.mark.parametrize("path", LATER_DEV_SETS, ids=lambda path: path.stem)
def test_a_later_dev_set_keeps_off_the_held_out_fields(path: Path) -> None:
    held = heldout_fields_in_header()
    fields = catalogue()
    data = rows(path)
    assert len(data) >= 150
    for query, codes, kind, field, _split in data:
        assert kind in KINDS, query
        if kind == "oos":
            assert not codes and not field, query
            continue
        assert codes and all(code in fields for code in codes), query
        assert fields[codes[0]] == field, query
        assert not {fields[code] for code in codes} & held, query
    # No in-scope message of v2 again (a chit-chat "bạn là ai vậy" may well be written twice).
    earlier = {" ".join(r[0].lower().split()) for r in rows()}
    again = {" ".join(r[0].lower().split()) for r in data if r[2] != "oos"} & earlier
    assert not again, again


def test_the_second_held_out_part_keeps_to_the_held_out_fields() -> None:
    """Every kind of the held-out part, every in-scope code of a held-out field (each the
    field it is labelled with), no message of v2 again, none twice."""
    held = heldout_fields_in_header()
    fields = catalogue()
    data = rows(HELDOUT_B)
    assert len(data) >= 300
    assert {r[2] for r in data} == KINDS
    for query, codes, kind, field, split in data:
        assert split == "heldout", query
        if kind == "oos":
            assert not codes and not field, query
            continue
        assert codes and all(fields.get(code) == field for code in codes), query
        assert field in held, query
    written = [" ".join(r[0].lower().split()) for r in data]
    assert len(set(written)) == len(written)
    assert not set(written) & {" ".join(r[0].lower().split()) for r in rows()}
