"""The compiled passes of a search (procedures/_passes.pyx, `make compiled`: choosing the
candidates, bounding their surfaces) take the same sums as their numpy twins
(`procedures.search.best_docs`, `surface_bounds`), which run where nothing could be
compiled: same sums, same search results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from procedures import fulltext, search
from procedures.catalogue import load_bundled
from procedures.search import SearchIndex

DATA = Path(__file__).parent / "data"


def queries() -> list[str]:
    """Every kind of message: short, long, accented or not, with typos, out of scope."""
    rows = (DATA / "search_eval_v8.tsv").read_text(encoding="utf-8").splitlines()
    return [row.split("\t")[0] for row in rows[1:] if row and not row.startswith(("#", "query"))]


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex.build(load_bundled())


@pytest.mark.parametrize(("name", "per_query"), [("best_docs", 50), ("surface_bounds", 100)])
def test_the_compiled_passes_do_what_their_numpy_twins_do(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch, name: str, per_query: int
) -> None:
    compiled = pytest.importorskip("procedures._passes", reason="not compiled: numpy sums")
    calls = []

    def both(*args: object) -> object:
        got, want = getattr(compiled, name)(*args), getattr(search, name)(*args)
        if isinstance(want, list):  # docs
            assert got == want
            calls.append(len(got))
            return got
        assert len(got) == len(want)
        for mine, theirs in zip(got, want, strict=True):
            assert mine.dtype == theirs.dtype
            np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)  # sums in any order
        calls.append(len(got[0]))
        return got

    asked = queries()
    found = {query: index.search(query) for query in asked}
    monkeypatch.setattr(search, f"_{name}", both)
    assert {query: index.search(query) for query in asked} == found
    # Docs chosen, surfaces bounded:
    assert len(calls) >= len(asked) and sum(calls) > per_query * len(asked)
    monkeypatch.setattr(search, f"_{name}", getattr(search, name))
    assert {query: index.search(query) for query in asked} == found


def test_the_compiled_text_scores_are_their_numpy_twins(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the procedures' texts say of a query (`procedures.fulltext.text_scores`)."""
    compiled = pytest.importorskip("procedures._passes", reason="not compiled: numpy sums")
    calls = []

    def both(*args: object) -> list[float]:
        got, want = compiled.text_scores(*args), fulltext.text_scores(*args)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
        calls.append(sum(1 for score in want if score > 0))
        return got

    asked = queries()
    found = {query: index.search(query) for query in asked}
    monkeypatch.setattr(fulltext, "_text_scores", both)
    assert {query: index.search(query) for query in asked} == found
    # Most messages find two procedures or more, whose texts are read; the texts said something.
    assert len(calls) >= len(asked) * 0.75 and sum(calls) > 3 * len(calls)
    # Words no text says, a pair said only apart, one word, none:
    texts = index._texts
    for words in (["zzz", "qqq"], ["ket", "zzz", "hon"], ["hon"], []):
        numbers = np.array([texts._words.get(w, -1) for w in words], np.int64)
        args = (
            texts._keys, texts._starts, texts._weights, texts._span, numbers,
            np.arange(40, dtype=np.int64),
        )
        np.testing.assert_allclose(compiled.text_scores(*args), fulltext.text_scores(*args))


def test_the_compiled_likeliest_is_its_numpy_twin(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Which procedure's names, read together, are likeliest to say a query
    (`procedures.fulltext.likeliest`)."""
    compiled = pytest.importorskip("procedures._passes", reason="not compiled: numpy sums")
    calls = []

    def both(*args: Any) -> int:
        got, want = compiled.likeliest(*args), fulltext.likeliest(*args)
        assert got == want
        calls.append(got)
        return got

    asked = queries()
    found = {query: index.search(query) for query in asked}
    monkeypatch.setattr(fulltext, "_likeliest", both)
    assert {query: index.search(query) for query in asked} == found
    # Looked for where the names find no procedure well (`LIKELIEST_BELOW`): a fair share.
    assert len(calls) >= len(asked) * 0.2 and all(doc >= 0 for doc in calls)
    # Words no names say, every procedure left out, none:
    names = index._names_said
    for words, excluded in ((["zzz", "qqq"], []), (["dang", "ky"], list(range(len(index)))),
                            ([], [])):
        numbers = np.array([names._sums._words.get(w, -1) for w in words], np.int64)
        args = (
            names._known, names._rarity, names._holders, names._groups, names._weights,
            names._norms, names._sums._span, numbers, excluded,
        )
        assert compiled.likeliest(*args) == fulltext.likeliest(*args) == -1
