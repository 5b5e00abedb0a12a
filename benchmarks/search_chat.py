"""Chat shorthand: dev queries rewritten the way people type on Zalo, against the clean ones.

    .venv/bin/python benchmarks/search_chat.py [--seed 11] [--fails]

Takes the in-scope queries of every dev set (the dev part of v2 and the fresh sets v3…v10;
never the held-out part) and rewrites each with the shorthand of chat messages, every rule
applied where it fits with a seeded chance: pronouns (em → e, anh → a, chị → c, mình → mk,
tôi → t), everyday words (muốn → mún, không → ko, được → dc, gì → j, làm → lm, người → ng,
bao nhiêu → bn, vợ → vk, chồng → ck, rồi → r, vậy → z, trước → trc, với → vs, biết → bít,
ạ → a, thế nào → ntn, 14 tuổi → 14t) and the "ph" → "f" of teen writing. A query no rule fits
is left out. Prints top-1 / top-3 on the rewritten queries as typed and typed without accents
(most chat shorthand comes without them), beside the same queries clean, for motcua and FTS5.
Nothing is asserted; the rules were written from how people write, before reading any result.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from search import ENGINES, LATER, quality, read_eval_v2  # noqa: E402

from procedures.catalogue import load_bundled  # noqa: E402
from procedures.normalize import fold  # noqa: E402

CHANCE = 0.7
"""The chance each rule that fits is applied."""

PHRASES: dict[str, tuple[str, ...]] = {
    "như thế nào": ("ntn",),
    "thế nào": ("ntn",),
    "bao nhiêu": ("bn", "bnhiu"),
    "bây giờ": ("bjo", "bh"),
}
WORDS: dict[str, tuple[str, ...]] = {
    "em": ("e",),
    "anh": ("a",),
    "chị": ("c", "chj"),
    "mình": ("mk", "mik"),
    "tôi": ("t", "tui"),
    "muốn": ("mún", "mun"),
    "không": ("ko", "k", "hok", "hông"),
    "được": ("dc", "đc"),
    "gì": ("j",),
    "làm": ("lm",),
    "người": ("ng",),
    "vợ": ("vk",),
    "chồng": ("ck",),
    "rồi": ("r", "rùi"),
    "vậy": ("z", "v"),
    "trước": ("trc",),
    "với": ("vs",),
    "biết": ("bít", "bik"),
    "ạ": ("a", "ak"),
    "thôi": ("thui",),
}
AGE = re.compile(r"\b(\d+) tuổi\b")


def chat(query: str, rng: random.Random) -> str | None:
    """The query in chat shorthand, or None when no rule fits it."""
    text, changed = query.lower(), False
    for phrase, short in PHRASES.items():
        if re.search(rf"(?<!\w){phrase}(?!\w)", text) and rng.random() < CHANCE:
            text, changed = re.sub(rf"(?<!\w){phrase}(?!\w)", rng.choice(short), text), True
    if AGE.search(text) and rng.random() < CHANCE:
        text, changed = AGE.sub(r"\1t", text), True
    words = text.split(" ")
    for i, word in enumerate(words):
        bare = word.strip(",.?!")
        if bare in WORDS and rng.random() < CHANCE:
            words[i], changed = word.replace(bare, rng.choice(WORDS[bare])), True
        elif bare.startswith("ph") and rng.random() < CHANCE / 4:
            words[i], changed = "f" + word[2:], True
    return " ".join(words) if changed else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--fails", action="store_true", help="print motcua's misses (dev only)")
    args = parser.parse_args(argv)
    rows = [r for r in read_eval_v2() if r.split == "dev"]
    rows += [r for name, path in LATER.items() for r in read_eval_v2(path, split_as=name)]
    rng = random.Random(args.seed)
    clean, typed, bare = [], [], []
    for row in rows:
        if row.codes and (short := chat(row.query, rng)):
            clean.append((row.query, row.codes))
            typed.append((short, row.codes))
            bare.append((fold(short), row.codes))
    procedures = load_bundled()
    print(f"{len(clean)} dev queries with chat shorthand (seed {args.seed})\n")
    print("| engine | clean top-1 | top-3 | shorthand top-1 | top-3 | no accents top-1 | top-3 |")
    print("|---|---|---|---|---|---|---|")
    for name in ("motcua", "SQLite FTS5 (names, BM25)"):
        search = ENGINES[name](procedures)
        line = f"| {name} |"
        for queries in (clean, typed, bare):
            top1, top3, _ = quality(search, queries)
            line += f" {top1:.1%} | {top3:.1%} |"
        print(line)
        if args.fails and name == "motcua":
            for (query, codes), (short, _), (folded, _) in zip(clean, typed, bare, strict=True):
                good = bool(search(query)[:1]) and search(query)[0] in codes
                for text in (short, folded):
                    if good and not (search(text)[:1] and search(text)[0] in codes):
                        print(f"  miss: {text}   (clean: {query})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
