"""What a procedure's own texts say, beyond its names: BM25 weights of the words and of the
pairs of neighbouring words of its name, documents, conditions, results and audience.

The names are what the search ranks by (:mod:`procedures.search`); among the few procedures it
finds best, the one whose texts share most of the citizen's words is more likely the one meant:
"đổi tiền rách" names no document, but the procedure's documents say "tiền rách"; a message
about a boat "chưa đăng ký" fits the sibling whose conditions say so. The steps are left out:
they are the same boilerplate everywhere (measured: with them the ranking gains less).

Words come folded (no marks, đ → d), as :func:`procedures.search._folded_text` gives them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise

import numpy as np

from procedures.catalogue import Procedure

K1 = 1.2
"""How fast repeating a word stops adding weight (BM25's k1)."""
B = 0.75
"""How much a long text's words weigh less (BM25's b)."""


def procedure_texts(procedure: Procedure) -> list[str]:
    """The texts of a procedure that are read: its name, conditions, summary, documents,
    results and audience."""
    return [
        procedure.name,
        procedure.conditions,
        procedure.summary,
        *(document.name for document in procedure.documents),
        *(result.name for result in procedure.results),
        *procedure.audience,
    ]


def terms(words: Sequence[str]) -> list[str]:
    """The words and the pairs of neighbouring words."""
    return [*words, *(f"{a} {b}" for a, b in pairwise(words))]


class TextIndex:
    """Per procedure (by its number), the BM25 weight of each of its terms (:func:`terms`)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}  # term → its number
        self._starts = np.zeros(1, np.int64)  # doc → where its terms start in `_terms`
        self._terms = np.zeros(0, np.int32)  # the term numbers of each doc, ascending
        self._weights = np.zeros(0, np.float32)

    @classmethod
    def build(cls, documents: Iterable[Sequence[str]]) -> TextIndex:
        """The index of documents given as their folded words, in the procedures' order."""
        index = cls()
        counts = [Counter(terms(words)) for words in documents]
        lengths = [sum(1 for term in count.elements() if " " not in term) for count in counts]
        frequency: Counter[str] = Counter()
        for count in counts:
            frequency.update(count.keys())
        n = len(counts)
        average = max(1.0, sum(lengths) / max(1, n))
        index._ids = {term: number for number, term in enumerate(sorted(frequency))}
        idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in frequency.items()}
        starts, numbers, weights = [0], [], []
        for count, length in zip(counts, lengths, strict=True):
            norm = K1 * (1 - B + B * length / average)
            row = sorted(
                (index._ids[t], idf[t] * c * (K1 + 1) / (c + norm)) for t, c in count.items()
            )
            numbers += [number for number, _ in row]
            weights += [weight for _, weight in row]
            starts.append(len(numbers))
        index._starts = np.array(starts, np.int64)
        index._terms = np.array(numbers, np.int32)
        index._weights = np.array(weights, np.float32)
        return index

    def scores(self, words: Sequence[str], docs: Sequence[int]) -> list[float]:
        """The BM25 score of each of `docs` for a query of folded `words` (each term once)."""
        wanted = np.array(
            sorted({self._ids[t] for t in terms(words) if t in self._ids}), np.int32
        )
        out = []
        for doc in docs:
            start, end = int(self._starts[doc]), int(self._starts[doc + 1])
            said = np.isin(self._terms[start:end], wanted, assume_unique=True)
            out.append(float(self._weights[start:end][said].sum()))
        return out
