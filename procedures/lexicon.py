"""The search lexicon: per field, the words citizens use for the official ones.

Each entry says that in a field (lĩnh vực) a citizen's word or phrase stands for one or more
official phrases of that field's procedure names: "đóng cửa công ty" → "giải thể", "đăng kiểm"
→ "kiểm định", "tiền rách" → "tiền không đủ tiêu chuẩn lưu thông". Two kinds, as in
:mod:`procedures.aliases`: ``name`` (an everyday phrase: in a query it matches as written *or*
as its official phrases) and ``abbr`` (shorthand official texts never use: it stands for its
official phrases only, and catalogue texts that use it are read as its first official phrase).

The lexicon is data an official can extend: ``procedures/data/lexicon.tsv`` is bundled, and
``motcua export-lexicon`` / ``motcua import-lexicon`` move it through CSV or XLSX (columns
:data:`COLUMNS`). Every official phrase must stand, as consecutive words, in a name of a
procedure of its field (:func:`check`): the lexicon maps onto the catalogue's own words, so an
entry cannot point at nothing, and a reader can see what it is for. A new entry that may lead
the search astray is imported with a caution (:func:`cautions`).
"""

from __future__ import annotations

import csv
import hashlib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from procedures.aliases import ABBREVIATIONS, EVERYDAY_NAMES
from procedures.catalogue import Procedure
from procedures.importer.result import Problem
from procedures.normalize import SYLLABLE, fold, tokens
from procedures.tables import ReadFailed, new_workbook, read_table

BUNDLED_FILE = "lexicon.tsv"
COLUMNS = ("field", "kind", "citizen", "official")
KINDS = ("name", "abbr")
SEPARATOR = " | "
MAX_WORDS = 6
"""A citizen phrase is matched on at most this many words (the search's longest phrase)."""


@dataclass(frozen=True)
class Entry:
    """One citizen phrase of a field and the official phrases it stands for."""

    field: str
    kind: str
    citizen: str
    official: tuple[str, ...]

    def row(self) -> dict[str, str]:
        return {
            "field": self.field,
            "kind": self.kind,
            "citizen": self.citizen,
            "official": SEPARATOR.join(self.official),
        }


def parse_row(values: Sequence[object], where: str, problems: list[Problem]) -> Entry | None:
    """An entry from the four columns of a row; None (and a problem) when it is unusable."""
    # Composed accents (NFC), as the catalogue writes them: a spreadsheet may hold "ấ" as "â"
    # and a combining mark, and the field would then be unknown.
    cells = [
        " ".join(unicodedata.normalize("NFC", str(v or "")).split()) for v in values
    ] + [""] * len(COLUMNS)
    field, kind, citizen, official = cells[:4]
    if not any(cells[:4]):
        return None
    kind = kind.lower() or "name"
    phrases = tuple(dict.fromkeys(p.strip() for p in official.split("|") if p.strip()))
    error = None
    if kind not in KINDS:
        error = f"loại '{kind}' không hợp lệ: dùng name hoặc abbr"
    elif not tokens(citizen):
        error = "thiếu cách gọi của người dân (cột citizen)"
    elif len(tokens(citizen)) > MAX_WORDS:
        error = f"cách gọi dài quá {MAX_WORDS} từ"
    elif not phrases:
        error = "thiếu cụm từ chính thức (cột official)"
    if error:
        problems.append(Problem(where, error, "error"))
        return None
    return Entry(field, kind, citizen.lower(), phrases)


def read_text(text: str, source: str = BUNDLED_FILE) -> list[Entry]:
    """Entries of a TSV text (the bundled form): ``#`` starts a comment line."""
    problems: list[Problem] = []
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        entry = parse_row(line.split("\t"), f"{source}:{number}", problems)
        if entry is not None:
            entries.append(entry)
    if problems:
        raise ReadFailed("; ".join(str(p) for p in problems))
    return entries


@cache
def bundled() -> tuple[Entry, ...]:
    """The lexicon shipped with the package."""
    text = resources.files("procedures.data").joinpath(BUNDLED_FILE).read_text(encoding="utf-8")
    return tuple(read_text(text))


def digest(entries: Iterable[Entry]) -> str:
    """A hash of a lexicon's content (part of a cached search index's key)."""
    hashed = hashlib.sha256()
    for entry in entries:
        hashed.update("\t".join(entry.row().values()).encode() + b"\n")
    return hashed.hexdigest()


def check(entries: Iterable[Entry], procedures: Iterable[Procedure]) -> list[Problem]:
    """Problems of entries against a catalogue: an unknown field, an official phrase that
    stands in no name of the field's procedures, the same citizen phrase twice in a field."""
    names: dict[str, list[str]] = {}
    for procedure in procedures:
        texts = [procedure.name, *procedure.aliases, *(r.name for r in procedure.results[:3])]
        names.setdefault(procedure.field, []).extend(f" {_words(t)} " for t in texts)
    everything = [text for texts in names.values() for text in texts]
    problems = []
    seen: set[tuple[str, str]] = set()
    for number, entry in enumerate(entries, start=1):
        where = f"dòng {number} ({entry.citizen})"
        key = (entry.field, _words(entry.citizen))
        if key in seen:
            problems.append(Problem(where, "trùng cách gọi trong cùng lĩnh vực", "error"))
        seen.add(key)
        if entry.field and entry.field not in names:
            problems.append(Problem(where, f"không có lĩnh vực '{entry.field}'", "error"))
            continue
        haystack = names[entry.field] if entry.field else everything
        for phrase in entry.official:
            if not any(f" {_words(phrase)} " in text for text in haystack):
                problems.append(Problem(
                    where, f"'{phrase}' không có trong tên thủ tục nào của lĩnh vực", "error"))
    return problems


def _words(text: str) -> str:
    return " ".join(fold(word) for word in tokens(text))


def cautions(entries: Sequence[Entry], established: Iterable[Entry]) -> list[Problem]:
    """Warnings (the entries are still imported) for the entries that are not in `established`
    (the lexicon in use) and may lead the search astray: shorthand that spells a Vietnamese
    syllable (a slip of a word typed would read as it: "coc" for "cóc", "cọc"), shorthand one
    letter from another that stands for other words ("gplt" beside "gpdt"), and a citizen's
    phrase that already stands for other official words (in the general tables or another
    field: a second meaning takes messages that meant the first, and the field of an entry
    whose phrase a message holds is favoured)."""
    known = set(established)
    senses: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {}  # key → (kind, where, words)
    for kind, table in (("abbr", ABBREVIATIONS), ("name", EVERYDAY_NAMES)):
        for key, phrases in table.items():
            senses.setdefault(_words(key), []).append((kind, "từ điển chung", tuple(phrases)))
    for entry in [*known, *entries]:
        where = entry.field or "mọi lĩnh vực"
        senses.setdefault(_words(entry.citizen), []).append((entry.kind, where, entry.official))
    shorthand = sorted(key for key, said in senses.items() if any(k == "abbr" for k, *_ in said))
    problems = []
    for number, entry in enumerate(entries, start=1):
        if entry in known:
            continue
        key, here = _words(entry.citizen), entry.field or "mọi lĩnh vực"
        where = f"dòng {number} ({entry.citizen})"
        if entry.kind == "abbr" and key.isalpha() and SYLLABLE.fullmatch(key):
            problems.append(Problem(where, f"viết tắt '{key}' cũng là một tiếng: gõ sai một chữ "
                                    "của từ khác sẽ bị đọc thành viết tắt này"))
        near = entry.kind == "abbr" and next(
            (
                (other, official[0])
                for other in shorthand
                if Levenshtein.distance(key, other, score_cutoff=1) == 1
                for _, _, official in senses[other]
                if not _alike(entry.official, official)
            ),
            None,
        )
        if near:
            problems.append(Problem(where, f"viết tắt '{key}' chỉ khác '{near[0]}' ({near[1]}) "
                                    "một chữ: gõ nhầm sẽ bị đọc lẫn"))
        other = next(
            (
                (place, official[0])
                for _, place, official in senses[key]
                if place != here and not _alike(entry.official, official)
            ),
            None,
        )
        if other:
            problems.append(Problem(where, f"'{entry.citizen}' đã có nghĩa khác ({other[0]}: "
                                    f"{other[1]}): tìm kiếm có thể đọc lạc"))
    return problems


def _alike(official: Sequence[str], other: Sequence[str]) -> bool:
    """Whether two entries' official phrases share a meaning: one phrase stands in another
    ("căn cước" in "cấp thẻ căn cước")."""
    return any(
        f" {_words(a)} " in f" {_words(b)} " or f" {_words(b)} " in f" {_words(a)} "
        for a in official for b in other
    )


def tables(
    entries: Iterable[Entry],
    abbreviations: dict[str, list[str]],
    names: dict[str, list[str]],
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The search's shorthand and everyday-name tables: the general ones given, then each
    entry's official phrases added under its citizen phrase (fields merge)."""
    merged = ({k: list(v) for k, v in abbreviations.items()},
              {k: list(v) for k, v in names.items()})
    for entry in entries:
        table = merged[0] if entry.kind == "abbr" else merged[1]
        phrases = table.setdefault(entry.citizen, [])
        phrases.extend(p for p in entry.official if p not in phrases)
    return merged


# --- files an official edits ------------------------------------------------------------------


def read_file(path: Path | str) -> tuple[list[Entry], list[Problem]]:
    """Entries and problems of a CSV or XLSX file with the :data:`COLUMNS` header;
    :class:`ReadFailed` when the file cannot be read at all."""
    path = Path(path)
    (_, header), *rows = read_table(path)
    if [str(h or "").strip().lower() for h in header[: len(COLUMNS)]] != list(COLUMNS):
        raise ReadFailed(
            f"tệp {path.name} cần dòng tiêu đề {', '.join(COLUMNS)}; từ điển không thay đổi "
            f"(the header must be {', '.join(COLUMNS)}; the lexicon was not changed)"
        )
    problems: list[Problem] = []
    entries = []
    for number, row in rows:
        entry = parse_row(list(row)[: len(COLUMNS)], f"dòng {number}", problems)
        if entry is not None:
            entries.append(entry)
    return entries, problems


def write_file(entries: Iterable[Entry], path: Path | str) -> int:
    """Write entries as CSV (UTF-8 with BOM, for spreadsheet programs) or XLSX."""
    rows = [entry.row() for entry in entries]
    if str(path).lower().endswith(".xlsx"):
        workbook, sheet = new_workbook("tu_dien", COLUMNS)
        for row in rows:
            sheet.append([row[c] for c in COLUMNS])
        workbook.save(path)
    elif str(path).lower().endswith(".csv"):
        with open(path, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    else:
        raise ReadFailed(f"không xuất được ra {Path(path).name}: dùng .csv hoặc .xlsx")
    return len(rows)
