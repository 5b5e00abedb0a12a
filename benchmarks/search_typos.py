"""Typo robustness of the search: dev queries with one synthetic typo each, against FTS5.

    .venv/bin/python benchmarks/search_typos.py [--seed 11]

Takes the in-scope queries of the first evaluation set (``tests/data/search_eval.tsv``) and of
the dev part of v2 (everyday wording, close to the name, questions, shorthand; never the
held-out part), and makes one variant of each per kind of slip a phone keyboard produces, on
one word of three letters or more chosen with a seeded random generator:

- **tone**: the hỏi and ngã marks, or sắc and nặng, swapped ("thủ tục" → "thũ tục");
- **drop**: a letter left out ("giấy" → "giấ");
- **swap**: two neighbouring letters swapped ("hàng" → "hàgn");
- **double**: a letter typed twice ("không" → "khôông");
- **near**: a letter typed as its neighbour on the keyboard ("giấy" → "giấu"; not the first,
  nor one carrying a mark);
- **extra**: a key beside the one meant pressed too ("giấy" → "giấty");
- **space**: the space bar hit inside a word ("căn cước" → "căn c ước");
- **unmarked**: one mark of a word left out, a tone, a vowel's hat or hook, or đ's bar
  ("đăng ký" → "dăng ký", "giấy" → "giây");
- **spoken**: a spelling written by ear, one onset or final a region confuses ("căn cước" →
  "căng cước", "xin" → "sin", "trước" → "chước", "giấy" → "dấy", "làm" → "nàm").

Prints, for motcua and the FTS5 baseline, top-1 and top-3 on the clean queries and on each kind
of variant. Nothing is asserted; the variants are made afresh in each run from the seed.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from search import ENGINES, EVAL, quality, read_eval, read_eval_v2  # noqa: E402

from procedures.catalogue import load_bundled  # noqa: E402
from procedures.normalize import KEY_NEIGHBOURS, composed  # noqa: E402

KINDS_READ = ("coll", "acc", "question", "abbr")
TONES = {"\u0309": "\u0303", "\u0303": "\u0309", "\u0301": "\u0323", "\u0323": "\u0301"}


def tone(word: str, rng: random.Random) -> str | None:
    marks = unicodedata.normalize("NFD", word)
    places = [i for i, ch in enumerate(marks) if ch in TONES]
    if not places:
        return None
    i = rng.choice(places)
    # As a keyboard composes the letter ("ố", not "ó" and a stray hat).
    return composed(marks[:i] + TONES[marks[i]] + marks[i + 1 :])


def drop(word: str, rng: random.Random) -> str | None:
    if len(word) < 4:
        return None
    i = rng.randrange(1, len(word))
    return word[:i] + word[i + 1 :]


def swap(word: str, rng: random.Random) -> str | None:
    if len(word) < 4:
        return None
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def double(word: str, rng: random.Random) -> str | None:
    i = rng.randrange(len(word))
    return word[:i] + word[i] + word[i:]




def near(word: str, rng: random.Random) -> str | None:
    marks = unicodedata.normalize("NFD", word)
    places = [  # not a letter carrying a mark ("ấ" typed wrong is another slip)
        i
        for i, ch in enumerate(marks)
        if ch in KEY_NEIGHBOURS
        and i > 0
        and not unicodedata.combining(marks[i + 1 : i + 2] or "a")
    ]
    if not places:
        return None
    i = rng.choice(places)
    typed = marks[:i] + rng.choice(KEY_NEIGHBOURS[marks[i]]) + marks[i + 1 :]
    return unicodedata.normalize("NFC", typed)


def extra(word: str, rng: random.Random) -> str | None:
    marks = unicodedata.normalize("NFD", word)
    places = [  # after a letter and its marks
        i
        for i, ch in enumerate(marks)
        if ch in KEY_NEIGHBOURS and not unicodedata.combining(marks[i + 1 : i + 2] or "a")
    ]
    if not places:
        return None
    i = rng.choice(places)
    typed = marks[: i + 1] + rng.choice(KEY_NEIGHBOURS[marks[i]]) + marks[i + 1 :]
    return unicodedata.normalize("NFC", typed)


def space(word: str, rng: random.Random) -> str | None:
    if len(word) < 3:
        return None
    i = rng.randrange(1, len(word))
    return word[:i] + " " + word[i:]


def unmarked(word: str, rng: random.Random) -> str | None:
    marks = unicodedata.normalize("NFD", word)
    places = [i for i, ch in enumerate(marks) if unicodedata.combining(ch)]
    places += [i for i, ch in enumerate(marks) if ch == "đ"]
    if not places:
        return None
    i = rng.choice(places)
    typed = marks[:i] + ("d" if marks[i] == "đ" else "") + marks[i + 1 :]
    return unicodedata.normalize("NFC", typed)


SPOKEN = (
    ("^s", "x"), ("^x", "s"), ("^ch", "tr"), ("^tr", "ch"), ("^gi", "d"), ("^d", "gi"),
    ("^r", "d"), ("^d", "r"), ("^n", "l"), ("^l", "n"), ("^v", "d"), ("n$", "ng"), ("ng$", "n"),
    ("t$", "c"), ("c$", "t"),
)
"""Letters a spelling written by ear confuses: onsets s/x, ch/tr, d/gi/r, l/n, v/d (North and
South), finals n/ng, t/c (South)."""


def spoken(word: str, rng: random.Random) -> str | None:
    found = [(pattern, other) for pattern, other in SPOKEN if re.search(pattern, word)]
    if not found or not re.search("[aeiouy]", unicodedata.normalize("NFD", word)):  # shorthand
        return None
    pattern, other = rng.choice(found)
    return re.sub(pattern, other, word, count=1)


SLIPS: dict[str, Callable[[str, random.Random], str | None]] = {
    "tone": tone,
    "drop": drop,
    "swap": swap,
    "double": double,
    "near": near,
    "unmarked": unmarked,
    "spoken": spoken,
    "extra": extra,
    "space": space,
}


def variants(rows: list[tuple[str, set[str]]], seed: int) -> dict[str, list[tuple[str, set[str]]]]:
    """Per kind of slip, one variant of each query that has a word to slip on."""
    rng = random.Random(seed)
    out: dict[str, list[tuple[str, set[str]]]] = {kind: [] for kind in SLIPS}
    for query, codes in rows:
        words = query.split()
        places = [i for i, w in enumerate(words) if len(w) >= 3 and w.isalpha()]
        if not places:
            continue
        for kind, slip in SLIPS.items():
            for _ in range(5):
                i = rng.choice(places)
                typed = slip(words[i], rng)
                if typed and typed != words[i]:
                    out[kind].append((" ".join([*words[:i], typed, *words[i + 1 :]]), codes))
                    break
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    rows = [(q, c) for q, c in read_eval(EVAL) if c]
    rows += [
        (r.query, r.codes) for r in read_eval_v2() if r.split == "dev" and r.kind in KINDS_READ
    ]
    slipped = variants(rows, args.seed)
    procedures = load_bundled()
    print(f"{len(rows)} dev queries; one variant per kind of slip (seed {args.seed})\n")
    print("| engine | clean top-1 | top-3 |" + "".join(f" {k} top-1 | top-3 |" for k in SLIPS))
    print("|---|---|---|" + "---|---|" * len(SLIPS))
    for name in ("motcua", "SQLite FTS5 (names, BM25)"):
        search = ENGINES[name](procedures)
        top1, top3, _ = quality(search, rows)
        line = f"| {name} | {top1:.1%} | {top3:.1%} |"
        for kind in SLIPS:
            top1, top3, _ = quality(search, slipped[kind])
            line += f" {top1:.1%} ({len(slipped[kind])}) | {top3:.1%} |"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
