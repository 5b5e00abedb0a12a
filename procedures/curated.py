"""The curated overlay (``procedures/data/curated.json``) applied on top of imported records.

The national snapshot is complete but written for officials; the overlay adds what a citizen
needs for the most asked procedures: the names people use (aliases), a short name, a
popularity weight, clean fees and time limits, and a document list written for citizens (the
papers everybody brings first, then one list per case) in place of the record's. Unconfirmed
facts stay marked (``verified: false`` and ``unverified`` notes): citizens read only that the
information is being checked, never the note itself.

Beside it, ``procedures/data/phrasings.tsv`` gives every procedure of the catalogue the words
the people who need it use to ask for it ("bán tàu cá xóa tên khỏi sổ đăng ký" for "Xóa đăng
ký tàu cá…"), written from the names without sight of any evaluation query; they are added to
the aliases (the catalogue's "Tên gọi khác" column, so an official edits them there) and the
search reads them as names. They mark no procedure as curated.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from procedures.catalogue import CHANNEL_KINDS, Channel, Document, Fee, Procedure, TimeLimit

OVERLAY_FILE = "curated.json"
PHRASINGS_FILE = "phrasings.tsv"


@lru_cache(maxsize=1)
def load_overlay() -> dict[str, Any]:
    text = resources.files("procedures.data").joinpath(OVERLAY_FILE).read_text(encoding="utf-8")
    return dict(json.loads(text))


def curated_codes() -> set[str]:
    return set(load_overlay()["procedures"])


@lru_cache(maxsize=1)
def load_phrasings() -> dict[str, list[str]]:
    """Code → the citizens' phrasings of :data:`PHRASINGS_FILE` (``code<TAB>phrase`` lines)."""
    text = resources.files("procedures.data").joinpath(PHRASINGS_FILE).read_text(encoding="utf-8")
    phrasings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            code, phrase = line.split("\t")
            phrasings.setdefault(code.strip(), []).append(" ".join(phrase.split()))
    return phrasings


def apply_overlay(procedures: list[Procedure], overlay: dict[str, Any] | None = None) -> list[str]:
    """Apply the overlay and the phrasings in place; returns the overlay codes missing from
    `procedures` (phrasings of codes a catalogue lacks are left out without a word)."""
    overlay = overlay if overlay is not None else load_overlay()
    entries: dict[str, dict[str, Any]] = overlay["procedures"]
    by_code = {p.code: p for p in procedures}
    missing = []
    for code, entry in entries.items():
        procedure = by_code.get(code)
        if procedure is None:
            missing.append(code)
            continue
        curate(procedure, entry, overlay.get("data_date", ""))
    phrasings = load_phrasings()
    for procedure in procedures:
        for phrase in phrasings.get(procedure.code, ()):
            if phrase not in procedure.aliases:
                procedure.aliases.append(phrase)
    return missing


def curate(procedure: Procedure, entry: dict[str, Any], data_date: str = "") -> None:
    """Apply one overlay entry to a procedure."""
    for alias in entry.get("aliases", []):
        if alias not in procedure.aliases:
            procedure.aliases.append(alias)
    if "popularity" in entry:
        procedure.popularity = float(entry["popularity"])
    for key in ("short_name", "summary", "online_level"):
        if key in entry:
            setattr(procedure, key, entry[key])
    if "documents" in entry:
        procedure.documents = [Document.from_dict(d) for d in entry["documents"]]
    if "steps" in entry:
        procedure.steps = list(entry["steps"])
    for note in entry.get("notes", []):
        if note not in procedure.notes:
            procedure.notes.append(note)
    for note in entry.get("unverified", []):
        if note not in procedure.unverified:
            procedure.unverified.append(note)
    times: dict[str, dict[str, Any]] = entry.get("time", {})
    fees: dict[str, list[dict[str, Any]]] = entry.get("fees", {})
    if times or fees:
        kinds = [c.kind for c in procedure.channels] or ["in_person"]
        named = [k for k in CHANNEL_KINDS if k in times or k in fees]
        for kind in [*kinds, *named]:
            channel = procedure.channel(kind)
            if channel is None:
                channel = Channel(kind)
                procedure.channels.append(channel)
            if spec := times.get(kind, times.get("all")):
                channel.time_limit = TimeLimit.from_dict(spec)
            if (fee_specs := fees.get(kind, fees.get("all"))) is not None:
                channel.fees = [Fee.from_dict(spec) for spec in fee_specs]
        order = {k: i for i, k in enumerate(CHANNEL_KINDS)}
        procedure.channels.sort(key=lambda c: order.get(c.kind, 9))
    procedure.source = "curated"
    if data_date:
        procedure.data_date = data_date
