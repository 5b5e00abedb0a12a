"""Search benchmark: motcua against SQLite FTS5 and rapidfuzz, in one run, on the same data.

    .venv/bin/python benchmarks/search.py [--synthetic 50000] [--repeat 3]

Prints, for each engine on the bundled catalogue and the evaluation set
(``tests/data/search_eval.tsv``, plus the held-out ``search_holdout.tsv``): top-1, top-3, MRR,
p50/p99 latency per query, index build time and memory; then the same latency figures on a
synthetic catalogue of 50,000 procedures. Then a report over the v2 set
(``tests/data/search_eval_v2.tsv``, issue 12): top-1, top-3 and MRR per kind, separately for the
dev and the held-out part (and the second held-out part, ``search_heldout_b.tsv``, written blind
over the same fields), and the out-of-scope quiet rate (an out-of-scope query is quiet when
the engine returns nothing), for motcua and the FTS5 baseline, and the same over the fresh dev
sets v3 to v16 (``tests/data/search_eval_v3.tsv`` … ``search_eval_v16.tsv``: written blind
later, dev fields only, each after the earlier ones had been tuned on), and the share of 200
out-of-scope messages written apart (``search_out_of_scope_v3.txt``) left unanswered.
``--v2-only`` prints just this report, ``--dev-only`` without the held-out parts (while tuning),
``--stripped`` over copies of the v2 to v16 queries with every accent taken off, đ → d, as many
citizens type. Only aggregates are printed: never read the held-out part query by query.
Baselines:

- **FTS5**: SQLite ``unicode61 remove_diacritics 2`` over the official names, query words
  OR-ed, ranked by BM25 (a plain search box); also over names + curated aliases;
- **rapidfuzz**: ``WRatio`` between the unaccented query and the unaccented names.

Memory is the growth of the process's resident set while building (includes SQLite's own
allocations). Start-up figures for motcua: reading the bundled catalogue, building the index,
writing and loading its cache (:mod:`procedures.search_cache`), and the first query after a
build and after a load. Goals: quality far above both baselines; p50 and p99 ≤ 1.0× FTS5 on
the bundled catalogue, p99 ≤ 10 ms at 50,000; build ≤ 2 s; cached load ≤ 0.5 s. Nothing here
is asserted; it prints figures.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from multiprocessing import get_context
from pathlib import Path

from rapidfuzz import fuzz, process

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from procedures import search_cache
from procedures.catalogue import Procedure, bundle_info, load_bundled
from procedures.normalize import _tokens as remembered_tokens
from procedures.normalize import clean, fold, tokens
from procedures.search import SearchIndex
from procedures.search import _folded_text as folded_text

if search_cache.engine_kind() == "stale":  # the compiled engine would measure old code
    sys.exit("the search engine's source changed after it was compiled: run `make compiled`")

EVAL = ROOT / "tests" / "data" / "search_eval.tsv"
HOLDOUT = ROOT / "tests" / "data" / "search_holdout.tsv"
EVAL_V2 = ROOT / "tests" / "data" / "search_eval_v2.tsv"
HELDOUT_B = ROOT / "tests" / "data" / "search_heldout_b.tsv"
"""The second held-out part: written blind over the held-out part's fields, in its shape."""
LATER = {f"v{n}": ROOT / "tests" / "data" / f"search_eval_v{n}.tsv" for n in range(3, 17)}
"""The fresh dev sets, each written blind once the ones before it had been tuned on."""
OUT_OF_SCOPE_V3 = ROOT / "tests" / "data" / "search_out_of_scope_v3.txt"
SPLITS = {
    "heldout": "Held-out part",
    "heldout_b": "Second held-out part (written blind over the same fields)",
    "dev": "Dev part",
    **{name: f"Fresh dev set {name}" for name in LATER},
}
V2_ENGINES = ("motcua", "SQLite FTS5 (names, BM25)")
V2_KINDS = ("long", "abbr", "question", "typo", "noacc", "coll", "acc", "sibling")

Searcher = Callable[[str], list[str]]
SYNTHETIC_QUERIES = 100


@dataclass
class Figures:
    engine: str
    top1: float
    top3: float
    mrr: float
    p50_ms: float
    p99_ms: float
    build_s: float
    memory_mb: float
    holdout_top1: float = float("nan")
    holdout_top3: float = float("nan")


def read_eval(path: Path) -> list[tuple[str, set[str]]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            query, codes, _kind = line.split("\t")
            rows.append((query, set(codes.split(","))))
    return rows


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def build_timed(make: Callable[[], Searcher]) -> tuple[Searcher, float, float]:
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    searcher = make()
    elapsed = time.perf_counter() - started
    gc.collect()
    return searcher, elapsed, max(0.0, rss_mb() - before)


# --- engines ------------------------------------------------------------------------------------


def motcua(procedures: Sequence[Procedure]) -> Searcher:
    index = SearchIndex.build(procedures)

    def search(query: str) -> list[str]:
        # What the engine remembers of texts it cleaned, split and folded (`fold`, `clean`,
        # `tokens`, `_folded_text`) would help a query measured again: each query starts
        # without it.
        fold.cache_clear()
        clean.cache_clear()
        remembered_tokens.cache_clear()
        folded_text.cache_clear()
        return [hit.code for hit in index.search(query, limit=5)]

    return search


def fts5(procedures: Sequence[Procedure], with_aliases: bool = False) -> Searcher:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute(
        "CREATE VIRTUAL TABLE p USING fts5(code UNINDEXED, text, "
        "tokenize = 'unicode61 remove_diacritics 2')"
    )
    rows = []
    for p in procedures:
        text = p.name + (" " + " ; ".join(p.aliases) if with_aliases else "")
        rows.append((p.code, text))
    db.executemany("INSERT INTO p (code, text) VALUES (?, ?)", rows)
    db.commit()

    def search(query: str) -> list[str]:
        words = [w.replace('"', "") for w in tokens(query)]
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)
        cursor = db.execute(
            "SELECT code FROM p WHERE p MATCH ? ORDER BY bm25(p) LIMIT 5", (match,)
        )
        return [row[0] for row in cursor]

    return search


def rapidfuzz_wratio(procedures: Sequence[Procedure]) -> Searcher:
    codes = [p.code for p in procedures]
    names = [fold(p.name) for p in procedures]

    def search(query: str) -> list[str]:
        found = process.extract(fold(query), names, scorer=fuzz.WRatio, limit=5)
        return [codes[index] for _name, _score, index in found]

    return search


ENGINES: dict[str, Callable[[Sequence[Procedure]], Searcher]] = {
    "motcua": motcua,
    "SQLite FTS5 (names, BM25)": fts5,
    "SQLite FTS5 (names+aliases, BM25)": lambda ps: fts5(ps, with_aliases=True),
    "rapidfuzz WRatio (unaccented names)": rapidfuzz_wratio,
}


# --- measuring ----------------------------------------------------------------------------


def quality(search: Searcher, rows: list[tuple[str, set[str]]]) -> tuple[float, float, float]:
    top1 = top3 = reciprocal = 0.0
    for query, codes in rows:
        got = search(query)
        rank = next((i for i, code in enumerate(got) if code in codes), None)
        if rank is not None:
            reciprocal += 1 / (rank + 1)
            top1 += rank == 0
            top3 += rank < 3
    n = len(rows)
    return top1 / n, top3 / n, reciprocal / n


def latencies(
    searches: list[Searcher], queries: list[str], repeat: int
) -> list[tuple[float, float]]:
    """p50 and p99 ms a query, per engine. Several engines take each query in turn, so that
    a machine slowed by its neighbours slows them alike (measured one after the other, their
    ratio moved by up to ±30 % between runs)."""
    for query in queries:  # warm up
        for search in searches:
            search(query)
    samples: list[list[float]] = [[] for _ in searches]
    for _ in range(repeat):
        for query in queries:
            for search, taken in zip(searches, samples, strict=True):
                started = time.perf_counter()
                search(query)
                taken.append(time.perf_counter() - started)
    figures = []
    for taken in samples:
        taken.sort()
        p99 = taken[min(len(taken) - 1, int(0.99 * len(taken)))]
        figures.append((statistics.median(taken) * 1000, p99 * 1000))
    return figures


def served() -> None:
    """The collector as the service leaves it once started (bot/app.py): the index's
    long-lived objects out of its full passes."""
    gc.collect()
    gc.freeze()


def synthetic(procedures: Sequence[Procedure], size: int, seed: int = 7) -> list[Procedure]:
    """The real catalogue plus variants built from its own words, up to `size` procedures."""
    rng = random.Random(seed)
    names = [p.name for p in procedures]
    fragments = [
        part.strip() for name in names for part in name.replace(";", ",").split(",") if part
    ]
    out = list(procedures)
    while len(out) < size:
        template = rng.choice(procedures)
        extra = rng.choice(fragments)
        name = f"{template.name} {extra}" if rng.random() < 0.7 else f"{extra} {template.name}"
        out.append(
            replace(
                template,
                code=f"9.{len(out):06d}",
                name=name,
                aliases=list(template.aliases) if rng.random() < 0.05 else [],
                popularity=0.0,
            )
        )
    return out


@dataclass
class V2Row:
    query: str
    codes: set[str]
    kind: str
    field: str
    split: str


def read_eval_v2(
    path: Path = EVAL_V2, split_as: str = "", stripped: bool = False
) -> list[V2Row]:
    """The v2 set: query, codes (empty = out of scope), kind, field, split (dev / heldout);
    the v3 set has the same columns (all dev: `split_as` "v3" tells it apart); `stripped`:
    each query without its accents (:func:`fold`)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith(("#", "query\t")):
            continue
        query, codes, kind, field, split = line.split("\t")
        codes_set = {c for c in codes.split(",") if c}
        query = fold(query) if stripped else query
        rows.append(V2Row(query, codes_set, kind, field, split_as or split))
    return rows


def v2_figures(search: Searcher, rows: list[V2Row]) -> dict[tuple[str, str], tuple]:
    """(split, kind) -> (n, top-1, top-3, MRR) for in-scope kinds and "all";
    (split, "oos") -> (n, quiet rate)."""
    out: dict[tuple[str, str], tuple] = {}
    for split in SPLITS:
        part = [r for r in rows if r.split == split]
        in_scope = [r for r in part if r.kind != "oos"]
        for kind in (*V2_KINDS, "all"):
            chosen = [r for r in in_scope if kind in ("all", r.kind)]
            if chosen:
                top1, top3, mrr = quality(search, [(r.query, r.codes) for r in chosen])
                out[split, kind] = (len(chosen), top1, top3, mrr)
        oos = [r for r in part if r.kind == "oos"]
        if oos:
            quiet = sum(1 for r in oos if not search(r.query))
            out[split, "oos"] = (len(oos), quiet / len(oos))
    return out


def v2_report(
    procedures: Sequence[Procedure], held_out: bool = True, stripped: bool = False
) -> str:
    """The v2 report; `held_out` False leaves the held-out part out (while tuning); `stripped`:
    over copies of the queries without accents."""
    rows = [
        *read_eval_v2(stripped=stripped),
        *read_eval_v2(HELDOUT_B, split_as="heldout_b", stripped=stripped),
        *(
            row
            for name, path in LATER.items()
            for row in read_eval_v2(path, split_as=name, stripped=stripped)
        ),
    ]
    if not held_out:
        rows = [r for r in rows if not r.split.startswith("heldout")]
    fields = {
        split: len({r.field for r in rows if r.split == split and r.field}) for split in SPLITS
    }
    messages = [
        line
        for line in OUT_OF_SCOPE_V3.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    figures, quiet = {}, {}
    for name in V2_ENGINES:
        search, _build_s, _memory = build_timed(partial(ENGINES[name], procedures))
        figures[name] = v2_figures(search, rows)
        quiet[name] = sum(1 for m in messages if not search(fold(m) if stripped else m))
        del search
    title = (
        f"## v2 to v16 evaluation sets{', accents stripped' if stripped else ''} ({len(rows)} "
        f"queries; v2 dev: {fields['dev']} fields, held-out: {fields['heldout']} fields "
        f"(second part: {fields['heldout_b']}); "
        + "; ".join(f"{name}: {fields[name]} fields" for name in LATER)
        + ")"
    )
    out = [title]
    for split, heading in SPLITS.items():
        if not any(r.split == split for r in rows):
            continue
        out += ["", f"### {heading}", ""]
        head = "| kind | n |" + "".join(f" {name} top-1 | top-3 | MRR |" for name in V2_ENGINES)
        out += [head, "|---|---|" + "---|---|---|" * len(V2_ENGINES)]
        for kind in (*V2_KINDS, "all"):
            first = figures[V2_ENGINES[0]].get((split, kind))
            if first is None:
                continue
            row = f"| {kind} | {first[0]} |"
            for name in V2_ENGINES:
                _n, top1, top3, mrr = figures[name][split, kind]
                row += f" {top1:.1%} | {top3:.1%} | {mrr:.3f} |"
            out.append(row)
        oos = [(name, figures[name].get((split, "oos"))) for name in V2_ENGINES]
        if oos[0][1] is not None:
            out.append("")
            out.append(
                f"Out of scope ({oos[0][1][0]} queries), quiet rate: "
                + "; ".join(f"{name} {value[1]:.1%}" for name, value in oos if value)
            )
    out += [
        "",
        f"Out-of-scope messages written apart ({len(messages)}, dev), quiet rate: "
        + "; ".join(f"{name} {quiet[name] / len(messages):.1%}" for name in V2_ENGINES),
    ]
    return "\n".join(out)


def start_up(first_query: str) -> dict[str, float]:
    """Seconds to read the bundled catalogue, build, write the cache, load it; milliseconds
    of the first query after a build and after a load."""
    figures: dict[str, float] = {}
    started = time.perf_counter()
    procedures = load_bundled()
    figures["read catalogue s"] = time.perf_counter() - started
    started = time.perf_counter()
    built = SearchIndex.build(procedures)
    figures["build s"] = time.perf_counter() - started
    started = time.perf_counter()
    built.search(first_query)
    figures["first query after build ms"] = (time.perf_counter() - started) * 1000
    version = f"bundle:{bundle_info()['version']}"
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        search_cache.write(Path(directory), version, built)
        figures["write cache s"] = time.perf_counter() - started
        del built
        gc.collect()
        started = time.perf_counter()
        loaded = search_cache.read(Path(directory), version)
        figures["cached load s"] = time.perf_counter() - started
    assert loaded is not None
    started = time.perf_counter()
    loaded.search(first_query)
    figures["first query after load ms"] = (time.perf_counter() - started) * 1000
    return figures


def table(rows: list[Figures], holdout: bool) -> str:
    head = "| engine | top-1 | top-3 | MRR | p50 ms | p99 ms | build s | memory MB |"
    line = "|---|---|---|---|---|---|---|---|"
    if holdout:
        head += " held-out top-1 | held-out top-3 |"
        line += "---|---|"
    out = [head, line]
    for f in rows:
        row = (
            f"| {f.engine} | {f.top1:.1%} | {f.top3:.1%} | {f.mrr:.3f} | {f.p50_ms:.2f} | "
            f"{f.p99_ms:.2f} | {f.build_s:.2f} | {f.memory_mb:.0f} |"
        )
        if holdout:
            row += f" {f.holdout_top1:.1%} | {f.holdout_top3:.1%} |"
        out.append(row)
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3, help="latency passes over the queries")
    parser.add_argument("--v2-only", action="store_true", help="only the v2-v16 sets report")
    parser.add_argument(
        "--dev-only", action="store_true", help="with --v2-only: leave the held-out parts out"
    )
    parser.add_argument(
        "--stripped", action="store_true", help="only the v2-v16 report, without accents"
    )
    args = parser.parse_args(argv)

    if args.v2_only or args.stripped:
        print(v2_report(load_bundled(), held_out=not args.dev_only, stripped=args.stripped))
        return 0
    rows = read_eval(EVAL)
    # In a process of its own, where nothing of the engine has run yet (and whose index, built
    # and freed, would leave memory this process reuses: the engines' memory would read ~0).
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as child:
        start = child.submit(start_up, rows[0][0]).result()
    procedures = load_bundled()
    held = read_eval(HOLDOUT)
    queries = [q for q, _ in rows]
    print(
        f"catalogue: {len(procedures)} procedures (bundled); eval: {len(rows)} queries; "
        f"held-out: {len(held)}; python {sys.version.split()[0]}; "
        f"search engine {search_cache.engine_kind()}\n"
    )

    built = [build_timed(partial(make, procedures)) for make in ENGINES.values()]
    served()
    # motcua and its baseline (FTS5 over the names) query by query; each other engine alone
    # (rapidfuzz, ~20 ms a query, would leave motcua's caches cold).
    searches = [search for search, _, _ in built]
    timed = latencies(searches[:2], queries, args.repeat) + [
        latencies([search], queries, args.repeat)[0] for search in searches[2:]
    ]
    results = []
    for name, (search, build_s, memory), (p50, p99) in zip(ENGINES, built, timed, strict=True):
        top1, top3, mrr = quality(search, rows)
        h1, h3, _ = quality(search, held)
        results.append(Figures(name, top1, top3, mrr, p50, p99, build_s, memory, h1, h3))
    del built
    print("## Bundled catalogue\n")
    print(table(results, holdout=True))
    ours = results[0]
    for other in results[1:]:
        print(
            f"\nmotcua vs {other.engine}: top-1 ×{ours.top1 / max(other.top1, 1e-9):.2f}, "
            f"top-3 ×{ours.top3 / max(other.top3, 1e-9):.2f}, "
            f"MRR ×{ours.mrr / max(other.mrr, 1e-9):.2f}, "
            f"p50 ×{ours.p50_ms / other.p50_ms:.2f}, p99 ×{ours.p99_ms / other.p99_ms:.2f}"
        )
    fts5 = results[1]
    print("\n## motcua start-up (bundled catalogue)\n")
    print("| " + " | ".join(start) + " |")
    print("|" + "---|" * len(start))
    print("| " + " | ".join(f"{value:.3f}" for value in start.values()) + " |")

    if args.synthetic:
        big = synthetic(procedures, args.synthetic)
        print(
            f"\n## Synthetic catalogue of {len(big)} procedures: the bundled ones plus variants "
            f"of their names; first {SYNTHETIC_QUERIES} eval queries (latency; quality only "
            "indicative)\n"
        )
        engines = {name: make for name, make in ENGINES.items() if "aliases" not in name}
        built = [build_timed(partial(make, big)) for make in engines.values()]
        served()
        # The first 100 queries: rapidfuzz over 50,000 names takes ~0.5 s a query.
        sample = rows[:SYNTHETIC_QUERIES]
        searches = [search for search, _, _ in built]
        asked = [q for q, _ in sample]
        timed = latencies(searches[:2], asked, 1) + [latencies(searches[2:], asked, 1)[0]]
        synthetic_rows = []
        for name, (search, build_s, memory), (p50, p99) in zip(engines, built, timed, strict=True):
            top1, top3, mrr = quality(search, sample)
            synthetic_rows.append(Figures(name, top1, top3, mrr, p50, p99, build_s, memory))
        del built
        print(table(synthetic_rows, holdout=False))

    goals = [
        ("top-1 ≥ 85 %", ours.top1 >= 0.85),
        ("top-3 ≥ 95 %", ours.top3 >= 0.95),
        ("p50 ≤ 1.0× FTS5 (bundled)", ours.p50_ms <= fts5.p50_ms),
        ("p99 ≤ 1.0× FTS5 (bundled)", ours.p99_ms <= fts5.p99_ms),
        ("build ≤ 2 s (bundled)", ours.build_s <= 2),
        ("cached load ≤ 0.5 s (bundled)", start["cached load s"] <= 0.5),
    ]
    if args.synthetic:
        goals.append((f"p99 ≤ 10 ms ({len(big)})", synthetic_rows[0].p99_ms <= 10))
    print("\nGoals: " + "; ".join(f"{goal}: {'met' if ok else 'NOT met'}" for goal, ok in goals))
    print("\n" + v2_report(procedures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
