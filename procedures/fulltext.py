"""What a procedure's own texts say, beyond its names: BM25 weights of the words and of the
pairs of neighbouring words of its name, documents, conditions, results and audience.

The names are what the search ranks by (:mod:`procedures.search`); among the few procedures it
finds best, the one whose texts share most of the citizen's words is more likely the one meant:
"nhập hộ khẩu vào nhà người thân" is in the texts of the permanent registration, not in its
name. The steps are left out: the same boilerplate everywhere (with them the ranking gained
less on the dev sets).

Words come folded (no marks, đ → d), as :func:`procedures.search._folded_text` gives them. A
term is a word's number, or a pair's (``SPAN`` × first + second + ``SPAN``); the index holds, for
every procedure and term it says, the term's weight, under ``doc × SPAN² + term`` in one sorted
array: a query's terms are looked up for a few procedures at once.

:class:`Likelihoods` reads each procedure's names (official and citizens' phrasings) as one
text: how likely they are, together, to say a message's words, where the names' score reads
the best one of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from procedures.catalogue import Procedure

K1 = 1.2
"""How fast repeating a word stops adding weight (BM25's k1)."""
B = 0.75
"""How much a long text's words weigh less (BM25's b)."""
SMOOTHING = 0.1
"""How often a text is taken to say a term it never says (:class:`Likelihoods`)."""


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


def terms(numbers: np.ndarray, span: int) -> np.ndarray:
    """The terms of a text given as its words' numbers: the words, then the pairs of
    neighbours (``span`` × (first + 1) + second)."""
    return np.concatenate([numbers, (numbers[:-1] + 1) * span + numbers[1:]])


class TextIndex:
    """Per procedure (by its number), the BM25 weight of each of its terms."""

    def __init__(self) -> None:
        self._words: dict[str, int] = {}  # word → its number
        self._span = 1  # more than any word's number
        self._keys = np.zeros(0, np.int64)  # doc × span² + term, ascending
        self._starts = np.zeros(1, np.int64)  # doc → where its keys start (and the end)
        self._weights = np.zeros(0, np.float32)

    @classmethod
    def build(cls, documents: Sequence[Sequence[str]]) -> TextIndex:
        """The index of documents given as their folded words, in the procedures' order."""
        numbers = _numbered({w for d in documents for w in d})
        span = max(1, len(numbers))
        rows = [
            np.unique(terms(np.array([numbers[w] for w in d], np.int64), span),
                      return_counts=True)
            for d in documents
        ]
        lengths = np.array([len(d) for d in documents], np.float64)
        average = max(1.0, float(lengths.mean())) if len(documents) else 1.0
        said = np.concatenate([held for held, _ in rows]) if rows else np.zeros(0, np.int64)
        counts = np.concatenate([c for _, c in rows]).astype(np.float64) if rows else said
        docs = np.repeat(np.arange(len(rows)), [len(held) for held, _ in rows])
        known, frequency = np.unique(said, return_counts=True)
        idf = np.log(1 + (len(rows) - frequency + 0.5) / (frequency + 0.5))
        norm = K1 * (1 - B + B * lengths[docs] / average)
        weights = idf[np.searchsorted(known, said)] * counts * (K1 + 1) / (counts + norm)
        return cls.of(numbers, docs * (span + 1) * span + said, weights, len(rows))

    @classmethod
    def of(
        cls, numbers: dict[str, int], keys: np.ndarray, weights: np.ndarray, docs: int
    ) -> TextIndex:
        """The index of `docs` documents whose words have the `numbers` given, from its keys
        (ascending) and their weights."""
        index = cls()
        index._words, index._span = numbers, max(1, len(numbers))
        index._keys, index._weights = keys, weights.astype(np.float32)
        size = (index._span + 1) * index._span
        index._starts = np.searchsorted(keys // size, np.arange(docs + 1)).astype(np.int64)
        return index

    def scores(self, words: Sequence[str], docs: Sequence[int]) -> list[float]:
        """The BM25 score of each of `docs` for a query of folded `words` (each term once)."""
        numbers = np.array([self._words.get(w, -1) for w in words], np.int64)
        return _text_scores(
            self._keys, self._starts, self._weights, self._span, numbers, np.array(docs, np.int64)
        )


class Likelihoods:
    """Per group of texts (a procedure's names), how likely the group is to say a query's
    words: the log-likelihood of the query's terms (words and pairs of neighbours, each once)
    in the group's terms (naive Bayes, :data:`SMOOTHING` for a term the group never says),
    each term weighted by its rarity among the groups, log(1 + groups / groups saying it);
    terms no group says are left out. Kept as a :class:`TextIndex` is, so the compiled look-up
    serves: a group's weight of a term it says is rarity × log(1 + count / SMOOTHING), and one
    more row, after the groups, holds every term's rarity, for what the terms a group does not
    say take from it. The same weights by term (each term's groups) find the likeliest of all
    the groups (:meth:`likeliest`)."""

    def __init__(self) -> None:
        self._sums = TextIndex()  # the groups' weights, then every term's rarity
        self._norms = np.zeros(0)  # per group: the log of its terms' count, smoothed
        self._known = np.zeros(0, np.int64)  # every term a group says, ascending…
        self._rarity = np.zeros(0)  # …its rarity…
        self._holders = np.zeros(1, np.int64)  # …and where its groups start in:
        self._groups = np.zeros(0, np.int64)  # the groups saying each term,
        self._weights = np.zeros(0)  # with their weights of it

    @classmethod
    def build(cls, groups: Sequence[Sequence[Sequence[str]]]) -> Likelihoods:
        """The model of groups given as their texts, each text its folded words."""
        model = cls()
        numbers = _numbered({w for g in groups for t in g for w in t})
        span = max(1, len(numbers))
        size = (span + 1) * span
        said = [
            number * size + terms(np.array([numbers[w] for w in text], np.int64), span)
            for number, texts in enumerate(groups)
            for text in texts
            if text
        ]
        keys, counts = np.unique(np.concatenate(said) if said else np.zeros(0, np.int64),
                                 return_counts=True)
        known, saying = np.unique(keys % size, return_counts=True)
        rarity = np.log(1 + len(groups) / saying)
        weights = rarity[np.searchsorted(known, keys % size)] * np.log1p(counts / SMOOTHING)
        model._sums = TextIndex.of(
            numbers,
            np.concatenate([keys, len(groups) * size + known]),
            np.concatenate([weights, rarity]),
            len(groups) + 1,
        )
        totals = np.bincount(keys // size, weights=counts, minlength=len(groups))
        model._norms = np.log(totals + SMOOTHING * len(known))
        by_term = np.argsort(keys % size, kind="stable")
        model._known, model._rarity = known, rarity
        model._holders = np.concatenate([[0], np.cumsum(saying)]).astype(np.int64)
        model._groups, model._weights = keys[by_term] // size, weights[by_term]
        return model

    def scores(self, words: Sequence[str], groups: Sequence[int]) -> list[float]:
        """The weighted log-likelihood of a query of folded `words` in each of `groups`, less
        what it is in every group alike."""
        *said, rarity = self._sums.scores(words, [*groups, len(self._norms)])
        return [float(s - rarity * self._norms[g]) for s, g in zip(said, groups, strict=True)]

    def likeliest(self, words: Sequence[str], excluded: Sequence[int]) -> int | None:
        """Of all the groups but the `excluded`, the one likeliest to say a query of folded
        `words` (:meth:`scores`' best; the first of equals); ``None`` when no group says a
        word of it."""
        sums = self._sums
        numbers = np.array([sums._words.get(w, -1) for w in words], np.int64)
        best = _likeliest(
            self._known, self._rarity, self._holders, self._groups, self._weights, self._norms,
            sums._span, numbers, list(excluded),
        )
        return best if best >= 0 else None


def _numbered(words: set[str]) -> dict[str, int]:
    """Each word's number, in their sorted order."""
    return {word: number for number, word in enumerate(sorted(words))}


def text_scores(
    keys: np.ndarray,
    starts: np.ndarray,
    weights: np.ndarray,
    span: int,
    numbers: np.ndarray,
    docs: np.ndarray,
) -> list[float]:
    """:meth:`TextIndex.scores` past the words' numbers (-1: a word no text says, neither it
    nor its pairs are looked up). In numpy, over all the keys at once;
    :func:`procedures._passes.text_scores` (compiled by ``make compiled``) does the same in one
    loop, within each doc's keys (`starts`): a query touches little of the index."""
    known = np.concatenate([numbers >= 0, (numbers[:-1] >= 0) & (numbers[1:] >= 0)])
    wanted = np.unique(terms(numbers, span)[known])
    if not len(wanted) or not len(docs) or not len(keys):
        return [0.0] * len(docs)
    asked = (docs[:, None] * ((span + 1) * span) + wanted).ravel()
    found = np.searchsorted(keys, asked)
    found[found == len(keys)] = 0
    said = np.where(keys[found] == asked, weights[found].astype(np.float64), 0.0)
    return [float(score) for score in said.reshape(len(docs), -1).sum(axis=1)]


def likeliest(
    known: np.ndarray,
    rarities: np.ndarray,
    holders: np.ndarray,
    groups: np.ndarray,
    weights: np.ndarray,
    norms: np.ndarray,
    span: int,
    numbers: np.ndarray,
    excluded: list[int],
) -> int:
    """:meth:`Likelihoods.likeliest` past the words' numbers: the group's number, -1 for
    none. In numpy; :func:`procedures._passes.likeliest` (compiled) does the same in one loop."""
    if not len(known):
        return -1
    asked = np.concatenate([numbers >= 0, (numbers[:-1] >= 0) & (numbers[1:] >= 0)])
    wanted = np.unique(terms(numbers, span)[asked])
    at = np.searchsorted(known, wanted)
    at = at[(at < len(known)) & (known[np.minimum(at, len(known) - 1)] == wanted)]
    if not len(at):
        return -1
    held = np.concatenate([np.arange(holders[a], holders[a + 1]) for a in at])
    said = np.bincount(groups[held], weights=weights[held], minlength=len(norms))
    value = said - rarities[at].sum() * norms
    value[excluded] = -np.inf
    best = int(np.argmax(value))
    return best if value[best] > -np.inf else -1


try:
    from procedures._passes import likeliest as _likeliest
    from procedures._passes import text_scores as _text_scores
except ImportError:  # not compiled (`make compiled`)
    _likeliest, _text_scores = likeliest, text_scores
