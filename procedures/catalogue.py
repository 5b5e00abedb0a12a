"""The procedure catalogue: plain dataclasses, their dict form, and the bundled default catalogue.

A :class:`Procedure` is one administrative procedure (thủ tục hành chính) as a citizen needs it:
where to submit, how long it takes, what it costs, which papers to bring, on what legal basis.
Everything is plain data (``to_dict``/``from_dict`` round-trip through JSON), so the same record
lives in the bundled file, in the database (``procedures.data``) and in CSV/XLSX exports.

Facts an official has not confirmed are kept with ``verified=False`` (shown to citizens as
"chưa xác nhận", never as fact) and listed in ``Procedure.unverified``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from dataclasses import field as _field
from functools import lru_cache
from importlib import resources
from typing import Any, Self

LEVELS = ("commune", "province", "ministry", "other")
LEVEL_LABELS = {
    "commune": "Cấp xã",
    "province": "Cấp tỉnh",
    "ministry": "Cấp bộ",
    "other": "Cơ quan khác",
}
CHANNEL_KINDS = ("in_person", "online", "post")
CHANNEL_LABELS = {"in_person": "Trực tiếp", "online": "Trực tuyến", "post": "Dịch vụ bưu chính"}
TIME_UNITS = ("immediate", "hours", "days", "working_days", "months", "unknown")
TIME_UNIT_LABELS = {
    "immediate": "ngay",
    "hours": "giờ",
    "days": "ngày",
    "working_days": "ngày làm việc",
    "months": "tháng",
    "unknown": "",
}
FEE_KINDS = ("free", "amount", "set_by_province", "per_regulation", "unknown")
ONLINE_LEVELS = ("toàn trình", "một phần", "")
BUNDLE_FILE = "catalogue.jsonl.gz"
BUNDLE_META_FILE = "catalogue.meta.json"


class _FromDict:
    """`from_dict` for the plain parts of a procedure: keys it does not know (written by a
    newer version) are left out."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(**_known(cls, data))


@dataclass
class TimeLimit(_FromDict):
    """How long a channel takes: ``value`` (``value_max`` for a range) in ``unit``."""

    value: float | None = None
    unit: str = "unknown"
    value_max: float | None = None
    text: str = ""
    verified: bool = True

    def describe(self) -> str:
        """For a citizen: ``"7 ngày làm việc"``; the curated wording when there is one."""
        if self.text:
            return self.text
        if self.unit == "immediate":
            return "Giải quyết ngay"
        if self.value is None:
            return "Chưa có thông tin"
        number = _number(self.value)
        if self.value_max is not None and self.value_max != self.value:
            number = f"{number}–{_number(self.value_max)}"
        label = TIME_UNIT_LABELS.get(self.unit, "")
        return f"{number} {label}".strip()


@dataclass
class Fee(_FromDict):
    """One charge of a channel. ``amount`` in ``currency`` (VND unless said), per ``per``."""

    kind: str = "unknown"
    amount: float | None = None
    amount_max: float | None = None
    currency: str = "VND"
    per: str = ""
    label: str = ""
    note: str = ""
    verified: bool = True

    def describe(self) -> str:
        if self.kind == "free":
            text = "Miễn phí"
        elif self.kind == "set_by_province":
            text = "Theo mức do HĐND tỉnh, thành phố quy định"
            if self.amount is not None:
                text += f" (ví dụ {_money(self.amount, self.currency)})"
        elif self.kind == "per_regulation":
            text = "Theo quy định"
        elif self.kind == "amount" and self.amount is not None:
            text = _money(self.amount, self.currency)
            if self.amount_max is not None and self.amount_max != self.amount:
                text = f"{text} – {_money(self.amount_max, self.currency)}"
            if self.per:
                text = f"{text}/{self.per}"
        else:
            text = "Chưa có thông tin"
        if self.label:
            text = f"{self.label}: {text}"
        return text


@dataclass
class Channel:
    """A way to submit: in person, online or by post, with its time limit and fees."""

    kind: str
    time_limit: TimeLimit = _field(default_factory=TimeLimit)
    fees: list[Fee] = _field(default_factory=list)
    description: str = ""

    @property
    def label(self) -> str:
        return CHANNEL_LABELS.get(self.kind, self.kind)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Channel:
        return cls(
            kind=data.get("kind", "in_person"),
            time_limit=TimeLimit.from_dict(data.get("time_limit") or {}),
            fees=[Fee.from_dict(f) for f in data.get("fees") or []],
            description=data.get("description", ""),
        )


@dataclass
class Document(_FromDict):
    """A paper of the dossier: to ``submit`` (nộp) or to ``show`` (xuất trình), a ``note``, or
    ``staff`` (an instruction to the receiving officer, kept from the record, never shown).
    ``group`` names the case (trường hợp) the paper belongs to; "" means every case."""

    name: str
    form: str = ""
    copies: int | None = None
    copy_kind: str = ""
    requirement: str = "submit"
    group: str = ""
    verified: bool = True


@dataclass
class LegalBasis(_FromDict):
    title: str
    number: str = ""


@dataclass
class Result(_FromDict):
    name: str
    code: str = ""


@dataclass
class Procedure:
    """One administrative procedure of the catalogue."""

    code: str
    name: str
    short_name: str = ""
    aliases: list[str] = _field(default_factory=list)
    field: str = ""
    levels: list[str] = _field(default_factory=list)
    agencies: list[str] = _field(default_factory=list)
    audience: list[str] = _field(default_factory=list)
    channels: list[Channel] = _field(default_factory=list)
    documents: list[Document] = _field(default_factory=list)
    steps: list[str] = _field(default_factory=list)
    legal_bases: list[LegalBasis] = _field(default_factory=list)
    results: list[Result] = _field(default_factory=list)
    conditions: str = ""
    online_level: str = ""
    detail_url: str = ""
    data_date: str = ""
    popularity: float = 0.0
    decision: str = ""
    ministry: str = ""
    kind: str = ""
    summary: str = ""
    notes: list[str] = _field(default_factory=list)
    unverified: list[str] = _field(default_factory=list)
    source: str = "snapshot"

    @property
    def level(self) -> str:
        """The level a citizen most likely deals with (commune first)."""
        for level in LEVELS:
            if level in self.levels:
                return level
        return "other"

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS.get(self.level, "")

    def channel(self, kind: str) -> Channel | None:
        return next((c for c in self.channels if c.kind == kind), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Procedure:
        values = _known(cls, data)
        values["channels"] = [Channel.from_dict(c) for c in data.get("channels") or []]
        values["documents"] = [Document.from_dict(d) for d in data.get("documents") or []]
        values["legal_bases"] = [LegalBasis.from_dict(b) for b in data.get("legal_bases") or []]
        values["results"] = [Result.from_dict(r) for r in data.get("results") or []]
        values["popularity"] = float(values.get("popularity") or 0.0)
        return cls(**values)

    def content_hash(self) -> str:
        """A stable hash of the content (not of where it came from): equal hashes mean nothing
        changed, so an import of the same content is idempotent."""
        data = self.to_dict()
        data.pop("source", None)
        payload = json.dumps(_canonical_numbers(data), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _canonical_numbers(value: Any) -> Any:
    """8000 and 8000.0 are the same fee: hash them the same."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _canonical_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical_numbers(v) for v in value]
    return value


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = cls.__dataclass_fields__  # type: ignore[attr-defined]
    return {k: v for k, v in data.items() if k in names}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value).replace(".", ",")


def _money(amount: float, currency: str) -> str:
    if currency == "VND":
        return f"{amount:,.0f}".replace(",", ".") + " đồng"
    return f"{_number(amount)} {currency}"


# --- (de)serialising many -------------------------------------------------------------------


def dump_jsonl(procedures: Iterable[Procedure]) -> bytes:
    lines = (json.dumps(p.to_dict(), ensure_ascii=False, sort_keys=True) for p in procedures)
    return ("\n".join(lines) + "\n").encode("utf-8")


def load_jsonl(data: bytes) -> Iterator[Procedure]:
    for line in data.decode("utf-8").splitlines():
        if line.strip():
            yield Procedure.from_dict(json.loads(line))


@lru_cache(maxsize=1)
def _bundle_bytes() -> bytes:
    return resources.files("procedures.data").joinpath(BUNDLE_FILE).read_bytes()


def load_bundled() -> list[Procedure]:
    """The default catalogue shipped in the package (snapshot + curated overlay)."""
    return list(load_jsonl(gzip.decompress(_bundle_bytes())))


def bundle_info() -> dict[str, Any]:
    """Metadata of the bundled catalogue: ``version`` (a hash), ``count``, ``data_date``."""
    meta = resources.files("procedures.data").joinpath(BUNDLE_META_FILE)
    return dict(json.loads(meta.read_text(encoding="utf-8")))
