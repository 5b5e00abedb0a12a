"""Learn the re-ranking's weights (``PLACE_WEIGHT``, ``TEXT_WEIGHT``, ``NAME_WORDS_WEIGHT``,
``NAMES_WEIGHT``, ``LIKELIEST_SCORE`` in ``procedures/search.py``) on the dev sets, and check
them by leaving each set out in turn.

    .venv/bin/python benchmarks/learn_rerank.py

For every in-scope dev query (v2-dev and v3 to v16, each as written and typed without accents;
never a held-out part) the candidates are collected as the engine hands them to the
re-ranking: the names' best ten (the best five, then the best of the others scored on the
way) and the procedure the names did not find whose names, read together, are likeliest to
say the query. Each has its features: the names' score (none for the likeliest, which has a
column of its own instead), the log of 1 + its place, what its texts say of the query against
the best of them (at least ``TEXT_FLOOR``), the log of the words of its official name outside
brackets and how likely all its names (official and citizens' phrasings, read together) are
to say the query's words against the likeliest of them (a log-likelihood). A pairwise
logistic regression (the right procedure against each wrong one of the same query) learns one
weight per feature; the score's weight is 1 once scaled, so the others read as what they add
to it. Printed: the weights learned on all sets, then top-1 / top-3 of each set with the
engine's weights, with weights learned on the other sets only, and so without the names read
together. Nothing here changes the engine: copy the weights in by hand.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from search import LATER, read_eval_v2  # benchmarks/search.py

from procedures import search as engine
from procedures.catalogue import load_bundled
from procedures.normalize import fold


@dataclass
class Query:
    split: str
    right: list[bool]  # per candidate, in the names' order, the likeliest (if added) last
    features: np.ndarray  # candidates × features, without the place


def collect() -> list[Query]:
    index = engine.SearchIndex.build(load_bundled())
    rows = [r for r in read_eval_v2() if r.split == "dev"]
    rows += [r for name, path in LATER.items() for r in read_eval_v2(path, split_as=name)]
    out = []
    for stripped in (False, True):
        for row in rows:
            if row.kind == "oos":
                continue
            text = fold(row.query) if stripped else row.query
            query = index._written_out(engine.bounded_query(text))
            # The names' best, as `SearchIndex.search` hands them to the re-ranking.
            found = engine._capped(index._search(
                query, engine.RANKED_IN_FULL, None, engine.MIN_SCORE,
                spare=engine.RERANKED - engine.RANKED_IN_FULL,
            ))
            words, docs, scores, added = index._rerank_candidates(query, found, None)
            likeliest = [0.0] * (len(docs) - added) + [1.0] * added
            features = np.array(
                [
                    [0.0 if extra else score, *features, extra]
                    for score, features, extra in zip(
                        scores, index._rerank_features(words, docs), likeliest, strict=True
                    )
                ]
            ).reshape(len(docs), 5)
            right = [index.procedures[doc].code in row.codes for doc in docs]
            out.append(Query(row.split, right, features))
    return out


def design(query: Query, names: bool = True) -> np.ndarray:
    """Each candidate's features with the log of 1 + its place (0 first); `names` False: the
    names' column is 0 (the re-ranking without it)."""
    places = np.log1p(np.arange(len(query.right)))[:, None]
    features = query.features if names else query.features * np.array([1, 1, 1, 0, 1])
    return np.hstack([features, places])


def fit(queries: list[Query], names: bool = True, l2: float = 1.0) -> np.ndarray:
    """Weights (score, texts, name length, names, likeliest, place), the score's scaled to
    1."""
    pairs = []
    for query in queries:
        if len(query.right) < 2 or not any(query.right) or all(query.right):
            continue
        x = design(query, names)
        first = query.right.index(True)
        pairs += [x[first] - x[other] for other, ok in enumerate(query.right) if not ok]
    d = np.vstack([np.array(pairs), -np.array(pairs)])
    y = np.concatenate([np.ones(len(pairs)), np.zeros(len(pairs))])
    w = np.zeros(d.shape[1])
    for _ in range(50):  # Newton's method on the L2-regularised log loss
        p = 1 / (1 + np.exp(-(d @ w)))
        gradient = d.T @ (p - y) + l2 * w
        hessian = (d * (p * (1 - p))[:, None]).T @ d + l2 * np.eye(len(w))
        w -= np.linalg.solve(hessian, gradient)
    return w / w[0]


def measured(w: np.ndarray, queries: list[Query]) -> tuple[int, int]:
    top1 = top3 = 0
    for query in queries:
        right = query.right
        if len(right) >= 2:
            value = design(query) @ w
            right = [right[i] for i in sorted(range(len(right)), key=lambda i: (-value[i], i))]
        top1 += bool(right) and right[0]
        top3 += any(right[:3])
    return top1, top3


def main() -> int:
    queries = collect()
    engine_w = np.array(
        [
            1.0,
            engine.TEXT_WEIGHT,
            engine.NAME_WORDS_WEIGHT,
            engine.NAMES_WEIGHT,
            engine.LIKELIEST_SCORE,
            engine.PLACE_WEIGHT,
        ]
    )
    learned = fit(queries)
    labels = ["score", "texts", "name length", "names", "likeliest", "place"]
    weights = zip(labels, learned, strict=True)
    print("learned on all dev sets: " + ", ".join(f"{n} {v:+.4f}" for n, v in weights))
    print(
        "\n| set | queries | engine top-1 | top-3 | left out top-1 | top-3 "
        "| left out, no names read together top-1 | top-3 |\n|---|---|---|---|---|---|---|---|"
    )
    totals = np.zeros(6, int)
    for split in sorted({q.split for q in queries}):
        inside = [q for q in queries if q.split == split]
        others = [q for q in queries if q.split != split]
        figures = [
            *measured(engine_w, inside),
            *measured(fit(others), inside),
            *measured(fit(others, names=False), inside),
        ]
        totals += figures
        print(f"| {split} | {len(inside)} | " + " | ".join(str(f) for f in figures) + " |")
    print(f"| all | {len(queries)} | " + " | ".join(str(f) for f in totals) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
