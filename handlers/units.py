"""The 2025 administrative units (34 provinces, 3,321 communes, wards and special zones after
the 1 July 2025 reform), shipped in `handlers/data/admin-units-2025.json`, and finding them by
what a citizen types: accent-insensitive, with or without "xã"/"phường"/"tỉnh"."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from procedures.normalize import fold

PREFIXES = ("thanh pho", "tinh", "xa", "phuong", "dac khu", "tp.", "tp")


@dataclass(frozen=True)
class Commune:
    code: str
    name: str
    kind: str
    province: str
    province_code: str


@dataclass(frozen=True)
class Province:
    code: str
    name: str
    communes: tuple[Commune, ...]


def fold_words(text: str) -> str:
    """"Phường Hoàn-Kiếm" -> "phuong hoan kiem": folded, hyphens as spaces, single spaces."""
    return " ".join(fold(text).replace("-", " ").split())


def bare(text: str) -> str:
    """The folded name without its kind: "Xã Âu Lâu" -> "au lau"."""
    folded = fold_words(text)
    for prefix in PREFIXES:
        if folded.startswith(prefix + " "):
            return folded[len(prefix) + 1:]
    return folded


@cache
def provinces() -> tuple[Province, ...]:
    raw = resources.files("handlers").joinpath("data/admin-units-2025.json").read_text("utf-8")
    found = []
    for item in json.loads(raw)["provinces"]:
        code = str(item["code"])
        communes = tuple(Commune(str(c["code"]), c["name"], c.get("type", ""), item["name"], code)
                         for c in item["communes"])
        found.append(Province(code, item["name"], communes))
    return tuple(found)


@cache
def communes_by_code() -> dict[str, Commune]:
    return {c.code: c for p in provinces() for c in p.communes}


def get_commune(code: str | None) -> Commune | None:
    """A commune by its code ("70", or "00070" as some systems pad it)."""
    if not code:
        return None
    code = code.strip()
    return communes_by_code().get(code.lstrip("0") or "0") or communes_by_code().get(code)


def _rank(query: str, name: str) -> int | None:
    """0 exact, 1 prefix, 2 word prefix, 3 substring; None when not a match."""
    candidate = bare(name)
    if candidate == query or fold_words(name) == query:
        return 0
    if candidate.startswith(query):
        return 1
    if f" {query}" in f" {candidate}":
        return 2
    if query in candidate:
        return 3
    return None


ALIASES = {"hcm": "ho chi minh", "tphcm": "ho chi minh", "tp hcm": "ho chi minh",
           "sai gon": "ho chi minh", "saigon": "ho chi minh", "hn": "ha noi", "hue": "hue"}


def find_provinces(query: str, limit: int = 8) -> list[Province]:
    wanted = bare(query)
    wanted = ALIASES.get(wanted, wanted)
    if not wanted:
        return []
    ranked = [(rank, p.name, p) for p in provinces()
              if (rank := _rank(wanted, p.name)) is not None]
    return [p for _, _, p in sorted(ranked, key=lambda r: (r[0], r[1]))][:limit]


def find_communes(query: str, province_code: str | None = None,
                  limit: int = 8) -> list[Commune]:
    """Communes whose name matches `query`, best first, in one province or everywhere."""
    wanted = bare(query)
    if not wanted:
        return []
    pool = [c for p in provinces() if province_code in (None, p.code) for c in p.communes]
    ranked = [(rank, c.name, c) for c in pool if (rank := _rank(wanted, c.name)) is not None]
    return [c for _, _, c in sorted(ranked, key=lambda r: (r[0], r[1]))][:limit]
