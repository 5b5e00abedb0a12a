"""Importers and exporters of the catalogue: national snapshot (.jsonl.gz), CSV and XLSX.

The national snapshot flattens the portal's tables into text
(``"Hình thức nộpThời gianPhí, lệ phíMô tảTrực tuyến1Miễn phí…"``); :func:`parse_snapshot_record`
recovers channels, time limits, fees, documents, legal bases and results, and says per record
what it could not parse or had to repair. Nothing is dropped silently: a record or row that
cannot be imported at all is listed in :attr:`ImportResult.problems`.

CSV and XLSX use the column layout of ``docs/catalogue-columns.md`` (:data:`COLUMNS`), one row
per procedure, so an official can add or correct procedures in a spreadsheet. A file that cannot
be read at all (broken gzip, wrong columns, not UTF-8) raises :class:`ImportFailed` before
anything is changed.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from procedures.catalogue import (
    CHANNEL_LABELS,
    LEVEL_LABELS,
    LEVELS,
    TIME_UNIT_LABELS,
    Channel,
    Document,
    Fee,
    LegalBasis,
    Procedure,
    Result,
    TimeLimit,
)
from procedures.display import STAFF_INSTRUCTION

CODE_FORMAT = re.compile(r"^\d\.\d{6}$")
NO_INFO = "Không có thông tin"
# Lower-case Vietnamese letters (a range like à-ỹ would also take capitals such as Đ).
LOWER = "a-zàáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"


class ImportFailed(Exception):
    """The file cannot be imported at all; the catalogue was not changed.

    The message is Vietnamese first, then English, and says what to fix.
    """


@dataclass
class Problem:
    """Something in one record or row that could not be parsed, or was repaired."""

    where: str
    message: str
    severity: str = "warning"  # "warning": imported with a repair; "error": not imported

    def to_dict(self) -> dict[str, str]:
        return {"where": self.where, "message": self.message, "severity": self.severity}

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class ImportResult:
    """What an importer read: the procedures and the problems, per record."""

    source: str
    kind: str
    procedures: list[Procedure] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    total: int = 0

    @property
    def skipped(self) -> int:
        return sum(1 for p in self.problems if p.severity == "error")

    def report(self) -> str:
        """A readable report for the command line."""
        summary = (
            f"Đã đọc {self.total} bản ghi từ {self.source} ({self.kind}): "
            f"{len(self.procedures)} thủ tục hợp lệ, {self.skipped} bị bỏ qua, "
            f"{len(self.problems)} vấn đề."
        )
        lines = [summary]
        lines += [f"  [{p.severity}] {p}" for p in self.problems]
        return "\n".join(lines)


# --- national snapshot ----------------------------------------------------------------------

LEVEL_NAMES = {
    "cấp xã": "commune",
    "cấp huyện": "commune",  # districts were abolished on 1 July 2025; their work went to communes
    "cấp tỉnh": "province",
    "cấp bộ": "ministry",
    "cơ quan khác": "other",
}
CHANNEL_NAMES = {"Trực tiếp": "in_person", "Trực tuyến": "online", "Dịch vụ bưu chính": "post"}
_TABLE_HEADER = "Hình thức nộpThời gianPhí, lệ phíMô tả"
_ROW_START = re.compile(r"(Trực tiếp|Trực tuyến|Dịch vụ bưu chính)(?=\d|Không có thông tin)")
_TIME_UNIT = r"(Ngày làm việc|Ngày|Giờ|Tháng|Năm|Tuần|Phút)"
_TIME_WITH_UNIT = re.compile(r"^(\d+(?:[.,]\d+)?)\s?" + _TIME_UNIT, re.IGNORECASE)
_CURRENCY = r"(Việt Nam Đồng|VNĐ|VND|USD|Đồng)"
_GLUED_FEE = re.compile(r"^(\d[\d,.]*)\s?" + _CURRENCY)
_BARE_TIME = re.compile(r"^(\d+)(?=Miễn phí|Không có thông tin)")
_FEE_CELL = re.compile(r"^(?:(Miễn phí)|(Không có thông tin)|(\d[\d,.]*)\s?" + _CURRENCY + ")")
_PER_UNIT = re.compile(r"^\(/([^)]*)\)")
_UNIT_OF = {
    "ngày làm việc": "working_days",
    "ngày": "days",
    "giờ": "hours",
    "tháng": "months",
    "phút": "hours",
    "tuần": "days",
    "năm": "months",
}
_AMOUNT_IN_TEXT = re.compile(
    r"(\d{1,3}(?:[.,]\d{3})+|\d+)\s?(đồng|đ|vnđ|VNĐ|VND|USD)(?![" + LOWER + r"])"
    r"(\s?/\s?[^\s,.;)]+(?: [^\s,.;)]+)?)?",
    re.IGNORECASE,
)
_PROVINCE_SETS = re.compile(r"Hội đồng nhân dân|HĐND", re.IGNORECASE)
_EXEMPTION = re.compile(r"[Mm]iễn (lệ )?phí|không thu|được miễn")
# "as the law sets it": a charge exists, its amount is elsewhere (never "free").
_PER_REGULATION = re.compile(r"theo quy định|luật phí và lệ phí", re.IGNORECASE)


def _clean_text(text: str) -> str:
    text = (text or "").replace("\xa0", " ").replace("\t", " ")
    return re.sub(r"[ ]{2,}", " ", text).strip()


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _none_if_no_info(text: str) -> str:
    text = _clean_text(text)
    return "" if text in {NO_INFO, "Không có", "--"} else text


def _split_outside_parens(text: str, sep: str = ",") -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == sep and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def _take_parenthesised(text: str) -> tuple[str, str]:
    """Split ``"(a (b) c)rest"`` into ``("a (b) c", "rest")``; no leading paren → ("", text)."""
    if not text.startswith("("):
        return "", text
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return text[1:i].strip(), text[i + 1 :]
    return text[1:].strip(), ""


def parse_levels(text: str) -> list[str]:
    found = {LEVEL_NAMES.get(part.strip().lower()) for part in _clean_text(text).split(",")}
    return [level for level in LEVELS if level in found]


def _amount(text: str) -> float:
    digits = text.replace(",", "").replace(".", "")
    return float(digits)


def amounts_in(text: str) -> list[tuple[float, str, str]]:
    """Money amounts written in a text: (amount, currency, per) — ``"2.000 đồng/trang"``."""
    found = []
    for match in _AMOUNT_IN_TEXT.finditer(text):
        number, currency, per = match.group(1), match.group(2), match.group(3) or ""
        value = _amount(number)
        if value <= 0:
            continue
        currency = "USD" if currency.upper() == "USD" else "VND"
        if currency == "VND" and value < 1000:
            continue  # "20 đồng" is never a real fee; written amounts always carry thousands
        found.append((value, currency, per.strip(" /")))
    return found


def parse_time(
    value: str, unit: str | None, context: str, where: str, problems: list[Problem]
) -> TimeLimit:
    """A time cell: ``("7", "Ngày làm việc")``; a bare number is repaired from `context`."""
    if not value:
        return TimeLimit(text="")
    number = float(value.replace(",", "."))
    if unit:
        return TimeLimit(value=number, unit=_UNIT_OF[unit.lower()])
    n = int(number) if number.is_integer() else number
    lowered = context.lower()
    padded = rf"0?{n}"
    if n == 1 and re.search(r"ngay trong ngày|trong ngày làm việc|trả kết quả ngay", lowered):
        problems.append(
            Problem(where, "thời hạn ghi '1' không có đơn vị; sửa thành 'ngay trong ngày'")
        )
        return TimeLimit(value=1, unit="immediate", text="Ngay trong ngày", verified=True)
    for pattern, unit_name in (
        (rf"\b{padded}\s*(?:\([^)]*\)\s*)?ngày làm việc", "working_days"),
        (rf"\b{padded}\s*(?:\([^)]*\)\s*)?giờ", "hours"),
        (rf"\b{padded}\s*(?:\([^)]*\)\s*)?ngày", "days"),
        (rf"\b{padded}\s*(?:\([^)]*\)\s*)?tháng", "months"),
    ):
        if re.search(pattern, lowered):
            problems.append(
                Problem(where, f"thời hạn ghi '{value}' không có đơn vị; lấy đơn vị từ mô tả")
            )
            return TimeLimit(value=number, unit=unit_name)
    problems.append(
        Problem(
            where,
            f"thời hạn ghi '{value}' không có đơn vị; tạm hiểu là {value} ngày làm việc "
            "(chưa xác nhận)",
        )
    )
    return TimeLimit(value=number, unit="working_days", verified=False)


def interpret_fee(
    cell: str,
    cell_amount: float | None,
    currency: str,
    per: str,
    note: str,
    where: str,
    problems: list[Problem],
) -> Fee:
    """One fee from its cell (``Miễn phí`` / amount / no info) and the note beside it."""
    from_text = amounts_in(note)
    province = bool(_PROVINCE_SETS.search(note))
    short_note = note[:500].strip()
    if cell_amount is not None:
        if currency == "VND" and cell_amount < 1000:
            # The portal sometimes shows thousands ("20 VNĐ" beside "20.000 đồng/tờ khai").
            problems.append(
                Problem(
                    where,
                    f"lệ phí ghi {cell_amount:g} VNĐ; hiểu là {cell_amount * 1000:,.0f} đồng",
                )
            )
            cell_amount *= 1000
        kind = "set_by_province" if province else "amount"
        return Fee(kind=kind, amount=cell_amount, currency=currency, per=per, note=short_note)
    if cell == "Miễn phí":
        if from_text:
            value, cur, unit = from_text[0]
            values = sorted({a for a, c, _ in from_text if c == cur})
            problems.append(
                Problem(
                    where, "ô lệ phí ghi 'Miễn phí' nhưng mô tả có mức thu; lấy mức thu từ mô tả"
                )
            )
            return Fee(
                kind="amount",
                amount=value,
                amount_max=values[-1] if len(values) > 1 and values[-1] != value else None,
                currency=cur,
                per=unit,
                note=short_note,
            )
        if province:
            problems.append(
                Problem(
                    where, "ô lệ phí ghi 'Miễn phí' nhưng mô tả nói mức thu do HĐND tỉnh quy định"
                )
            )
            return Fee(kind="set_by_province", note=short_note)
        if _PER_REGULATION.search(note) and not _EXEMPTION.search(note):
            problems.append(
                Problem(where, "ô lệ phí ghi 'Miễn phí' nhưng mô tả nói thu theo quy định")
            )
            return Fee(kind="per_regulation", note=short_note)
        return Fee(kind="free", note=short_note)
    # No information in the cell.
    if from_text:
        value, cur, unit = from_text[0]
        problems.append(Problem(where, "ô lệ phí trống; lấy mức thu từ mô tả"))
        return Fee(kind="amount", amount=value, currency=cur, per=unit, note=short_note)
    if province:
        return Fee(kind="set_by_province", note=short_note)
    if _EXEMPTION.search(note):
        return Fee(kind="free", note=short_note)
    return Fee(kind="unknown", note=short_note)


def _split_glued(digits: str, description: str) -> tuple[str, str]:
    """``"120,000"`` glued from time ``1`` and fee ``20,000``: find the split that makes sense."""
    candidates = []
    for k in range(1, len(digits)):
        time_part, fee_part = digits[:k], digits[k:]
        if not time_part.isdigit() or fee_part.startswith(("0", ",", ".")):
            continue
        if "," in fee_part and not re.fullmatch(r"\d{1,3}(,\d{3})+", fee_part):
            continue
        candidates.append((time_part, fee_part))
    if not candidates:
        return "", digits
    text_amounts = {a for a, _, _ in amounts_in(description)}
    for time_part, fee_part in candidates:
        value = _amount(fee_part)
        if value in text_amounts or value * 1000 in text_amounts:
            return time_part, fee_part
    return candidates[0]


def parse_channels(text: str, where: str, problems: list[Problem], context: str) -> list[Channel]:
    """Recover the channel table of ``cach_thuc_thuc_hien``."""
    text = _clean_text(text)
    if text.startswith(_TABLE_HEADER):
        text = text[len(_TABLE_HEADER) :]
    elif text:
        problems.append(Problem(where, "cách thức thực hiện: không thấy tiêu đề bảng"))
    starts = list(_ROW_START.finditer(text))
    if not starts:
        if text:
            problems.append(Problem(where, "cách thức thực hiện: không đọc được hàng nào"))
        return []
    channels: dict[str, Channel] = {}
    for i, match in enumerate(starts):
        kind = CHANNEL_NAMES[match.group(1)]
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        row = text[match.end() : end]
        label = f"{where} [{CHANNEL_LABELS[kind]}]"
        value, unit, rest = "", None, row
        if m := _TIME_WITH_UNIT.match(row):
            value, unit, rest = m.group(1), m.group(2), row[m.end() :]
        elif m := _GLUED_FEE.match(row):
            value, fee_digits = _split_glued(m.group(1), row)
            rest = fee_digits + " " + m.group(2) + row[m.end() :]
        elif m := _BARE_TIME.match(row):
            value, rest = m.group(1), row[m.end() :]
        elif row.startswith(NO_INFO):
            rest = row[len(NO_INFO) :]
        fee_match = _FEE_CELL.match(rest)
        cell, cell_amount, currency, per = NO_INFO, None, "VND", ""
        if fee_match:
            if fee_match.group(1):
                cell = "Miễn phí"
            elif fee_match.group(3):
                cell = fee_match.group(0)
                cell_amount = _amount(fee_match.group(3))
                currency = "USD" if fee_match.group(4) == "USD" else "VND"
            rest = rest[fee_match.end() :]
            if m := _PER_UNIT.match(rest):
                per, rest = m.group(1).strip(), rest[m.end() :]
        else:
            problems.append(Problem(label, f"không đọc được ô lệ phí: {rest[:60]!r}"))
        note, description = _take_parenthesised(rest.strip())
        fee = interpret_fee(cell, cell_amount, currency, per, note, label, problems)
        time_limit = parse_time(value, unit, row + " " + context, label, problems)
        description = description.strip()
        channel = channels.get(kind)
        if channel is None:
            channels[kind] = Channel(kind, time_limit, [fee], description)
        else:
            if fee not in channel.fees:
                channel.fees.append(fee)
            if channel.time_limit.value is None and time_limit.value is not None:
                channel.time_limit = time_limit
            if description and description not in channel.description:
                channel.description = (channel.description + "\n" + description).strip()
    order = {"in_person": 0, "online": 1, "post": 2}
    return sorted(channels.values(), key=lambda c: order[c.kind])


_DOC_HEADER = "Tên giấy tờMẫu đơn, tờ khaiSố lượng"
_DOC_ITEM = re.compile(
    r"(?P<body>.+?)(?P<count>\d+) ?(?P<kind>bản sao có chứng thực|bản chính|bản sao|bản chụp|bản)"
    # the kind ends at a non-letter, or where the next item's list mark is glued to it
    # ("1 bản chínhb) Hóa đơn…" is "bản chính" then "b) Hóa đơn…")
    rf"(?:(?![{LOWER}])|(?=[a-zđ][.)]))",
    re.DOTALL,
)
# A list mark or bullet in front of a document's name: "- ", "+ ", "++", "b) ", "(ii) ", "2. ".
_MARK = r"(?:[a-zđ]|[ivx]{1,4}|\d{1,2}(?:\.\d{1,2})*)"
_LIST_MARK = re.compile(rf"^(?:[-+•*–]+\s*|\(?{_MARK}[.)]\s+|\({_MARK}\)\s*)+")
_FORM_EXTENSIONS = (".doc", ".docx", ".pdf", ".xls", ".xlsx", ".rar", ".zip")
_SECTION = re.compile(r"\*\s*([^:*]{2,80}?)\s*:")
_COPY_KINDS = {
    "bản chính": "original",
    "bản sao": "copy",
    "bản sao có chứng thực": "certified_copy",
    "bản chụp": "photocopy",
    "bản": "",
}


def parse_documents(text: str, where: str, problems: list[Problem]) -> list[Document]:
    """Recover the dossier table of ``thanh_phan_ho_so`` (sections, forms, copies)."""
    text = _clean_text(text)
    if not text or text == NO_INFO:
        return []
    documents: list[Document] = []
    # Split into sections at each table header; the text before a header names the section.
    pieces = text.split(_DOC_HEADER)
    requirement, group = "submit", ""
    pending_heading = pieces[0]
    for piece in pieces[1:]:
        heading = _one_line(pending_heading).strip(" -")
        section = _SECTION.search(heading)
        if section:
            label = section.group(1).strip()
            lowered = label.lower()
            if "xuất trình" in lowered:
                requirement, group = "show", ""
            elif "phải nộp" in lowered or "nộp" == lowered:
                requirement, group = "submit", ""
            elif "lưu ý" in lowered:
                requirement, group = "note", ""
            else:
                group = label
        elif heading:
            group = document_name(heading)
        items = list(_DOC_ITEM.finditer(piece))
        consumed = 0
        for item in items:
            body = item.group("body").strip()
            consumed = item.end()
            form = ""
            form, body = _split_form(body)
            body = document_name(body)
            count = int(item.group("count"))
            if not re.search(r"\w", body):
                continue
            kind = "note" if requirement == "note" or count == 0 else requirement
            if kind == "note" and STAFF_INSTRUCTION.search(body):
                kind = "staff"
            documents.append(
                Document(
                    name=body,
                    form=form,
                    copies=count if count else None,
                    copy_kind=_COPY_KINDS.get(item.group("kind"), "") if count else "",
                    requirement=kind,
                    group=group,
                )
            )
        pending_heading = piece[consumed:]
        if not items and piece.strip():
            problems.append(
                Problem(where, f"thành phần hồ sơ: không tách được mục: {piece[:60]!r}")
            )
    leftover = document_name(pending_heading)
    if leftover and re.search(r"\w", leftover) and not _SECTION.fullmatch(leftover):
        kind = "staff" if STAFF_INSTRUCTION.search(leftover) else "note"
        documents.append(Document(name=leftover, requirement=kind, group=group))
    if not documents:
        problems.append(Problem(where, "thành phần hồ sơ: không đọc được giấy tờ nào"))
    return documents


def document_name(text: str) -> str:
    """A document's name on one line without the list marks the portal glued in front of it:
    ``"- + Người…"`` → ``"Người…"``, ``"b) Hóa đơn…"`` → ``"Hóa đơn…"``."""
    return _LIST_MARK.sub("", _one_line(text)).strip(" -")


def _split_form(body: str) -> tuple[str, str]:
    """``"Tờ khai (Mẫu CT01).Mau CT01.docx"`` → (``"Mau CT01.docx"``, ``"Tờ khai (Mẫu CT01)."``)."""
    lowered = body.lower()
    extension = next((e for e in _FORM_EXTENSIONS if lowered.endswith(e)), None)
    if extension is None:
        return "", body
    stem_end = len(body) - len(extension)
    cut = max(body.rfind(ch, 0, stem_end) for ch in ".()")
    form = body[cut + 1 :].strip()
    if len(form) <= len(extension):
        return body.strip(), ""
    return form, body[: cut + 1].strip()


_LEGAL_HEADER = "Tên văn bản pháp lýMã văn bản"
# A document number: 85/2019/TT-BTC, 60/2014/QH13, 66.7/2025/NQ-CP, 163/QĐ-BTP, 10/QĐ-TTg.
# A part stops before a capital that starts the next title ("…TT-BTCNghị định…").
_CAP = rf"(?:[A-ZĐ0-9](?![{LOWER}])|[A-ZĐ](?=ngày))"
_PART = rf"(?:TTg|[A-ZĐ]{_CAP}*|{_CAP}+)"
_LEGAL_NUMBER = re.compile(
    rf"(?:\d{{1,3}}(?:\.\d+)?/\d{{4}}/|\d{{1,4}}/)(?:TTg|[A-ZĐ]{_CAP}*)(?:-{_PART})*"
)


def _legal_numbers(text: str) -> list[tuple[int, int]]:
    """Spans of document numbers; ``"60/2014/QH1360/2014/QH13"`` gives two spans."""
    spans = []
    pos = 0
    while m := _LEGAL_NUMBER.search(text, pos):
        start, end = m.start(), m.end()
        if end < len(text) and text[end] == "/":
            # Greedy digits ate the start of a glued second number: give them back.
            for cut in range(start + 1, end):
                if _LEGAL_NUMBER.match(text, cut):
                    candidate = text[start:cut]
                    if _LEGAL_NUMBER.fullmatch(candidate):
                        end = cut
                        break
        spans.append((start, end))
        pos = end
    return spans


def parse_legal_bases(text: str, where: str, problems: list[Problem]) -> list[LegalBasis]:
    """Recover (title, number) pairs of ``can_cu_phap_ly``.

    The number column is glued to the next title, so a number counts as a column value only
    when no space follows it; numbers followed by a space belong to the title.
    """
    text = _clean_text(text)
    text = text.removeprefix(_LEGAL_HEADER)
    if not text or text == NO_INFO:
        return []
    bases: list[LegalBasis] = []
    start = 0
    for m_start, m_end in _legal_numbers(text):
        if m_end < len(text) and (not text[m_end].isalnum() or text.startswith("ngày", m_end)):
            continue  # inside the title ("… 123/2015/NĐ-CP ngày …", "(… 17/2024/TT-BCA)")
        number = text[m_start:m_end]
        title = text[start:m_start].strip(" ,;")
        start = m_end
        if not title and bases and bases[-1].number == number:
            continue
        if not title:
            title = number
        bases.append(LegalBasis(title=_one_line(title), number=number))
    tail = text[start:].strip()
    if tail:
        if bases:
            problems.append(
                Problem(where, f"căn cứ pháp lý: phần cuối không có số hiệu: {tail[:60]!r}")
            )
        bases.append(LegalBasis(title=_one_line(tail), number=""))
    # "Title 05/2012/NĐ-CP" + "05/2012/NĐ-CP": the title's own number was taken as a column.
    merged: list[LegalBasis] = []
    for basis in bases:
        if merged and merged[-1].title == merged[-1].number == basis.number:
            merged[-1] = basis
        elif merged and basis.title == basis.number and merged[-1].number == basis.number:
            continue
        else:
            merged.append(basis)
    return merged


_RESULT_CODE = re.compile(r"Mã:\s*(KQ\.[A-Z0-9]+\.\d+)")


def parse_results(text: str) -> list[Result]:
    text = _clean_text(text)
    text = re.split(r"Từ khóa|Chọn cơ quan thực hiện", text)[0]
    if not text or text == NO_INFO:
        return []
    results: list[Result] = []
    start = 0
    for m in _RESULT_CODE.finditer(text):
        name = text[start : m.start()].strip()
        results.append(Result(name=name, code=m.group(1)))
        start = m.end()
    tail = text[start:].strip()
    if tail:
        results.append(Result(name=tail))
    return results


def parse_steps(text: str) -> list[str]:
    text = (text or "").replace("\xa0", " ").strip()
    if not text or text == NO_INFO:
        return []
    if re.search(r"Bước\s*\d", text):
        parts = re.split(r"(?=Bước\s*\d+\s*[:.)-])", text)
    else:
        parts = text.split("\n")
    return [re.sub(r"\s*\n\s*", "\n", p).strip() for p in parts if p.strip()]


def _online_level(name: str) -> str:
    lowered = name.lower()
    if "toàn trình" in lowered:
        return "toàn trình"
    if "một phần" in lowered:
        return "một phần"
    return ""


def _agencies(raw: dict[str, Any]) -> list[str]:
    agencies: list[str] = []
    for key in ("co_quan_thuc_hien", "co_quan_co_tham_quyen", "co_quan_duoc_uy_quyen"):
        value = _one_line(_none_if_no_info(raw.get(key, ""))).rstrip(".")
        if value and value not in agencies:
            agencies.append(value)
    return agencies


def parse_snapshot_record(
    raw: dict[str, Any], data_date: str = ""
) -> tuple[Procedure, list[Problem]]:
    """One record of the national snapshot → a :class:`Procedure` and its problems."""
    code = _clean_text(str(raw.get("ma_thu_tuc", "")))
    where = code or "?"
    problems: list[Problem] = []
    name = _clean_text(str(raw.get("ten_thu_tuc", ""))).replace("\n", " ")
    name = re.sub(r"\s+", " ", name).strip()
    if not CODE_FORMAT.match(code):
        problems.append(Problem(where, f"mã thủ tục không đúng dạng d.dddddd: {code!r}"))
    levels = parse_levels(raw.get("cap_thuc_hien", ""))
    if not levels:
        problems.append(
            Problem(where, f"không đọc được cấp thực hiện: {raw.get('cap_thuc_hien')!r}")
        )
    context = " ".join(
        _clean_text(str(raw.get(k, ""))) for k in ("cach_thuc_thuc_hien", "trinh_tu_thuc_hien")
    )
    procedure = Procedure(
        code=code,
        name=name,
        field=_clean_text(raw.get("linh_vuc", "")),
        levels=levels,
        agencies=_agencies(raw),
        audience=_split_outside_parens(_none_if_no_info(raw.get("doi_tuong_thuc_hien", ""))),
        channels=parse_channels(raw.get("cach_thuc_thuc_hien", ""), where, problems, context),
        documents=parse_documents(raw.get("thanh_phan_ho_so", ""), where, problems),
        steps=parse_steps(raw.get("trinh_tu_thuc_hien", "")),
        legal_bases=parse_legal_bases(raw.get("can_cu_phap_ly", ""), where, problems),
        results=parse_results(raw.get("ket_qua_xu_ly", "")),
        conditions=_none_if_no_info(raw.get("yeu_cau_dieu_kien", "")),
        online_level=_online_level(name),
        detail_url=_clean_text(raw.get("detail_url", "")),
        data_date=data_date,
        decision=_none_if_no_info(raw.get("so_quyet_dinh", "")),
        ministry=_clean_text(raw.get("bo", "")),
        kind=_none_if_no_info(raw.get("loai_thu_tuc", "")),
        source="snapshot",
    )
    if "sổ hộ khẩu" in context.lower() or "sổ tạm trú" in context.lower():
        procedure.notes.append(
            "Sổ hộ khẩu, sổ tạm trú giấy không còn sử dụng từ 1/1/2023; nếu hướng dẫn còn nhắc "
            "đến thì anh/chị không cần mang, cán bộ tra cứu thông tin cư trú trong Cơ sở dữ liệu."
        )
    return procedure, problems


SNAPSHOT_KEYS = ("ma_thu_tuc", "ten_thu_tuc", "cap_thuc_hien", "cach_thuc_thuc_hien")


def _data_date_from_name(path: Path) -> str:
    match = re.search(r"(20\d{2})-(\d{2})(?:-(\d{2}))?", path.name)
    if not match:
        return ""
    return "-".join(g for g in match.groups() if g)


def read_snapshot(path: Path | str, data_date: str | None = None) -> ImportResult:
    """Read a national snapshot (``.jsonl.gz`` or ``.jsonl``)."""
    path = Path(path)
    date = data_date if data_date is not None else _data_date_from_name(path)
    try:
        raw_bytes = path.read_bytes()
        if path.suffix == ".gz":
            raw_bytes = gzip.decompress(raw_bytes)
        text = raw_bytes.decode("utf-8-sig")
    except FileNotFoundError:
        raise ImportFailed(f"Không tìm thấy tệp {path} (file not found).") from None
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise ImportFailed(
            f"Tệp {path.name} không phải gzip hợp lệ hoặc bị hỏng; danh mục không thay đổi. "
            f"(Broken or invalid gzip file: {error}; the catalogue was not changed.)"
        ) from None
    except UnicodeDecodeError:
        raise ImportFailed(
            f"Tệp {path.name} không mã hoá UTF-8; danh mục không thay đổi. "
            "(The file is not UTF-8 text; the catalogue was not changed.)"
        ) from None
    return parse_snapshot_lines(text.splitlines(), source=str(path), data_date=date)


def parse_snapshot_lines(
    lines: Iterable[str], source: str = "snapshot", data_date: str = ""
) -> ImportResult:
    result = ImportResult(source=source, kind="snapshot")
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        result.total += 1
        where = f"dòng {number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as error:
            result.problems.append(Problem(where, f"JSON hỏng ({error.msg}); bỏ qua", "error"))
            continue
        if not isinstance(raw, dict) or not all(k in raw for k in SNAPSHOT_KEYS[:2]):
            if result.total == 1:
                raise ImportFailed(
                    "Tệp không đúng định dạng bản chụp CSDL thủ tục hành chính quốc gia: thiếu "
                    f"trường {', '.join(SNAPSHOT_KEYS[:2])}; danh mục không thay đổi. "
                    "(Not a national snapshot: records need ma_thu_tuc and ten_thu_tuc; "
                    "the catalogue was not changed.)"
                )
            result.problems.append(Problem(where, "thiếu ma_thu_tuc/ten_thu_tuc; bỏ qua", "error"))
            continue
        procedure, problems = parse_snapshot_record(raw, data_date)
        result.problems.extend(problems)
        if not procedure.code or not procedure.name:
            result.problems.append(Problem(where, "mã hoặc tên thủ tục trống; bỏ qua", "error"))
            continue
        if procedure.code in seen:
            result.problems.append(
                Problem(procedure.code, f"trùng mã với dòng {seen[procedure.code]}; lấy dòng sau")
            )
            result.procedures = [p for p in result.procedures if p.code != procedure.code]
        seen[procedure.code] = number
        result.procedures.append(procedure)
    if result.total and not result.procedures:
        raise ImportFailed(
            "Không đọc được thủ tục nào từ tệp; danh mục không thay đổi. "
            "(No procedure could be read from the file; the catalogue was not changed.)"
        )
    return result


# --- CSV / XLSX -----------------------------------------------------------------------------

# (column, meaning). The layout is documented in docs/catalogue-columns.md.
COLUMNS: list[tuple[str, str]] = [
    ("ma_thu_tuc", "Mã thủ tục, dạng 1.001193 (bắt buộc)"),
    ("ten_thu_tuc", "Tên thủ tục chính thức (bắt buộc)"),
    ("ten_ngan", "Tên ngắn hiện trên thẻ và nút bấm (để trống: lấy từ tên chính thức)"),
    ("ten_goi_khac", "Tên người dân hay gọi, mỗi tên một dòng hoặc cách nhau bằng ';'"),
    ("linh_vuc", "Lĩnh vực"),
    ("cap_thuc_hien", "Cấp xã; Cấp tỉnh; Cấp bộ; Cơ quan khác"),
    ("co_quan_thuc_hien", "Cơ quan thực hiện, mỗi cơ quan một dòng"),
    ("doi_tuong", "Đối tượng thực hiện, cách nhau bằng ';'"),
    ("truc_tiep_thoi_han", "Nộp trực tiếp: thời hạn, vd '7 ngày làm việc', 'ngay', '4 giờ'"),
    ("truc_tiep_phi", "Nộp trực tiếp: phí, lệ phí, mỗi khoản một dòng"),
    ("truc_tiep_mo_ta", "Nộp trực tiếp: mô tả"),
    ("truc_tuyen_thoi_han", "Nộp trực tuyến: thời hạn"),
    ("truc_tuyen_phi", "Nộp trực tuyến: phí, lệ phí"),
    ("truc_tuyen_mo_ta", "Nộp trực tuyến: mô tả"),
    ("buu_chinh_thoi_han", "Nộp qua bưu chính: thời hạn"),
    ("buu_chinh_phi", "Nộp qua bưu chính: phí, lệ phí"),
    ("buu_chinh_mo_ta", "Nộp qua bưu chính: mô tả"),
    ("muc_do_truc_tuyen", "toàn trình / một phần / để trống"),
    ("thanh_phan_ho_so", "Giấy tờ, mỗi giấy tờ một dòng: tên | mẫu | số lượng | nộp/xuất trình"),
    ("trinh_tu", "Các bước, cách nhau bằng một dòng trống"),
    ("can_cu_phap_ly", "Văn bản, mỗi văn bản một dòng: tên | số hiệu"),
    ("ket_qua", "Kết quả, mỗi kết quả một dòng: tên | mã"),
    ("yeu_cau_dieu_kien", "Yêu cầu, điều kiện"),
    ("duong_dan", "Đường dẫn bản ghi chính thức (dichvucong.gov.vn)"),
    ("ngay_du_lieu", "Ngày của dữ liệu, vd 2026-07 hoặc 2026-07-15"),
    ("muc_pho_bien", "Mức phổ biến 0–1 (thủ tục hay hỏi thì cao)"),
    ("tom_tat", "Tóm tắt một hai câu cho người dân"),
    ("so_quyet_dinh", "Số quyết định công bố"),
    ("loai_thu_tuc", "Loại thủ tục"),
    ("bo_nganh", "Bộ, ngành quản lý (mã ngắn, vd bo-tu-phap)"),
    ("ghi_chu", "Ghi chú, mỗi ý một dòng"),
    ("chua_xac_nhan", "Thông tin chưa xác nhận, mỗi ý một dòng"),
]
COLUMN_NAMES = [name for name, _ in COLUMNS]
REQUIRED_COLUMNS = ("ma_thu_tuc", "ten_thu_tuc")
_CHANNEL_PREFIX = {"in_person": "truc_tiep", "online": "truc_tuyen", "post": "buu_chinh"}
_LEVEL_BY_LABEL = {label.lower(): key for key, label in LEVEL_LABELS.items()}
_REQUIREMENT_WORDS = {
    "nộp": "submit",
    "xuất trình": "show",
    "ghi chú": "note",
    "lưu ý": "note",
    "cán bộ": "staff",
}
_REQUIREMENT_LABEL = {"submit": "nộp", "show": "xuất trình", "note": "ghi chú", "staff": "cán bộ"}
_COPY_LABEL = {
    "original": "bản chính",
    "copy": "bản sao",
    "certified_copy": "bản sao có chứng thực",
    "photocopy": "bản chụp",
    "": "bản",
}


def _lines(value: str, semicolons: bool = False) -> list[str]:
    parts = re.split(r"[\n;]" if semicolons else r"\n", value or "")
    return [p.strip() for p in parts if p.strip()]


def format_time(limit: TimeLimit) -> str:
    """A time limit as spreadsheet text that :func:`parse_time_text` reads back:
    ``"7 ngày làm việc"``, ``"ngay — Ngay trong ngày"``, ``"1 ngày làm việc (chưa xác nhận)"``."""
    if limit.unit == "immediate":
        text = "ngay"
    elif limit.value is None:
        text = ""
    else:
        number = f"{limit.value:g}"
        if limit.value_max is not None:
            number += f"-{limit.value_max:g}"
        text = f"{number} {TIME_UNIT_LABELS.get(limit.unit, '')}".strip()
    if not limit.verified:
        text += " (chưa xác nhận)"
    if limit.text:
        text += f" — {limit.text}"
    return text.strip()


_TIME_TEXT = re.compile(
    r"^(\d+(?:[.,]\d+)?)(?:\s*[-–]\s*(\d+(?:[.,]\d+)?))?\s*(ngày làm việc|ngày|giờ|tháng)?\s*",
    re.IGNORECASE,
)


def parse_time_text(text: str) -> TimeLimit | None:
    """Spreadsheet time text: ``"7 ngày làm việc"``, ``"3–7 ngày"``, ``"ngay"``, ``""``."""
    text, _, note = text.strip().partition(" — ")
    text, note = text.strip(), note.strip()
    if not text:
        return TimeLimit(text=note)
    verified = "(chưa xác nhận)" not in text.lower()
    lowered = re.sub(r"\(chưa xác nhận\)", "", text, flags=re.IGNORECASE).strip().lower()
    if lowered in {"ngay", "giải quyết ngay", "ngay trong ngày", "trong ngày"}:
        return TimeLimit(value=1, unit="immediate", text=note, verified=verified)
    m = _TIME_TEXT.match(lowered)
    if not m or m.end() < len(lowered):
        return None
    unit = _UNIT_OF.get((m.group(3) or "ngày làm việc").lower(), "working_days")
    high = float(m.group(2).replace(",", ".")) if m.group(2) else None
    return TimeLimit(
        value=float(m.group(1).replace(",", ".")),
        unit=unit,
        value_max=high,
        text=note,
        verified=verified,
    )


def format_fee(fee: Fee) -> str:
    """A fee as spreadsheet text that :func:`parse_fee_text` reads back."""
    if fee.kind == "free":
        text = "Miễn phí"
    elif fee.kind == "set_by_province":
        text = "HĐND tỉnh quy định"
        if fee.amount is not None:
            text += f" (ví dụ {_money_text(fee.amount, fee.currency)})"
    elif fee.kind == "per_regulation":
        text = "Theo quy định"
    elif fee.kind == "amount" and fee.amount is not None:
        text = _money_text(fee.amount, fee.currency)
        if fee.amount_max is not None:
            text += " - " + _money_text(fee.amount_max, fee.currency)
        if fee.per:
            text += f"/{fee.per}"
    else:
        text = "Chưa có thông tin"
    if fee.label:
        text = f"{fee.label}: {text}"
    if not fee.verified:
        text += " (chưa xác nhận)"
    if fee.note:
        text += f" [{fee.note}]"
    return text


def _money_text(amount: float, currency: str) -> str:
    if currency == "VND":
        return f"{amount:,.0f}".replace(",", ".") + " đồng"
    return f"{amount:g} {currency}"


_FEE_AMOUNT = re.compile(
    r"^(\d{1,3}(?:\.\d{3})+|\d+)\s*(đồng|đ|vnđ|usd)"
    r"(?:\s*-\s*(\d{1,3}(?:\.\d{3})+|\d+)\s*(?:đồng|đ|vnđ|usd))?\s*(?:/\s*(.+))?$",
    re.IGNORECASE,
)


def parse_fee_text(text: str) -> Fee | None:
    """Spreadsheet fee text: ``"Lệ phí: 20.000 đồng/lần [note]"``, ``"Miễn phí"``, ``"HĐND…"``."""
    fee = _parse_fee_text(text)
    if fee is None and ":" in text:
        note = ""
        body = text
        if m := re.search(r"\[(.*)\]\s*$", text, re.DOTALL):
            note, body = m.group(1).strip(), text[: m.start()]
        head, _, tail = body.partition(":")
        fee = _parse_fee_text(tail.strip() + (f" [{note}]" if note else ""))
        if fee is not None:
            fee.label = head.strip()
    return fee


def _parse_fee_text(text: str) -> Fee | None:
    text = text.strip()
    note = ""
    if m := re.search(r"\[(.*)\]\s*$", text, re.DOTALL):
        note, text = m.group(1).strip(), text[: m.start()].strip()
    verified = True
    if re.search(r"\(chưa xác nhận\)", text, re.IGNORECASE):
        verified = False
        text = re.sub(r"\s*\(chưa xác nhận\)", "", text, flags=re.IGNORECASE).strip()
    label = ""
    if ":" in text:
        head, tail = text.split(":", 1)
        if not re.search(r"\d", head):
            label, text = head.strip(), tail.strip()
    lowered = text.lower()
    fee: Fee | None
    if lowered in {"miễn phí", "miễn", "không thu", "0", "0 đồng"}:
        fee = Fee(kind="free")
    elif lowered.startswith(("hđnd", "theo hđnd", "hội đồng nhân dân", "do hđnd")):
        example = re.search(r"(\d{1,3}(?:\.\d{3})+|\d+)\s*(đồng|usd)", lowered)
        fee = Fee(kind="set_by_province")
        if example:
            fee.amount = _amount(example.group(1))
            fee.currency = "USD" if example.group(2) == "usd" else "VND"
    elif lowered.startswith("theo quy định"):
        fee = Fee(kind="per_regulation")
    elif lowered in {"chưa có thông tin", "không có thông tin", ""}:
        fee = Fee(kind="unknown")
    elif m := _FEE_AMOUNT.match(text):
        currency = "USD" if m.group(2).lower() == "usd" else "VND"
        fee = Fee(
            kind="amount",
            amount=_amount(m.group(1)),
            amount_max=_amount(m.group(3)) if m.group(3) else None,
            currency=currency,
            per=(m.group(4) or "").strip(),
        )
    else:
        return None
    fee.label, fee.note, fee.verified = label, note, verified
    return fee


def procedure_to_row(procedure: Procedure) -> dict[str, str]:
    """One procedure as a spreadsheet row (see :data:`COLUMNS`)."""
    row = {name: "" for name in COLUMN_NAMES}
    row.update(
        ma_thu_tuc=procedure.code,
        ten_thu_tuc=procedure.name,
        ten_ngan=procedure.short_name,
        ten_goi_khac="\n".join(procedure.aliases),
        linh_vuc=procedure.field,
        cap_thuc_hien="; ".join(LEVEL_LABELS[level] for level in procedure.levels),
        co_quan_thuc_hien="\n".join(procedure.agencies),
        doi_tuong="; ".join(procedure.audience),
        muc_do_truc_tuyen=procedure.online_level,
        thanh_phan_ho_so="\n".join(_document_line(d) for d in procedure.documents),
        trinh_tu="\n\n".join(procedure.steps),
        can_cu_phap_ly="\n".join(f"{b.title} | {b.number}" for b in procedure.legal_bases),
        ket_qua="\n".join(f"{r.name} | {r.code}" for r in procedure.results),
        yeu_cau_dieu_kien=procedure.conditions,
        duong_dan=procedure.detail_url,
        ngay_du_lieu=procedure.data_date,
        muc_pho_bien=f"{procedure.popularity:g}" if procedure.popularity else "",
        tom_tat=procedure.summary,
        so_quyet_dinh=procedure.decision,
        loai_thu_tuc=procedure.kind,
        bo_nganh=procedure.ministry,
        ghi_chu="\n".join(procedure.notes),
        chua_xac_nhan="\n".join(procedure.unverified),
    )
    for channel in procedure.channels:
        prefix = _CHANNEL_PREFIX[channel.kind]
        row[f"{prefix}_thoi_han"] = format_time(channel.time_limit) or "Chưa có thông tin"
        row[f"{prefix}_phi"] = "\n".join(format_fee(f) for f in channel.fees)
        row[f"{prefix}_mo_ta"] = channel.description
    return row


def _document_line(document: Document) -> str:
    copies = ""
    if document.copies:
        copies = f"{document.copies} {_COPY_LABEL.get(document.copy_kind, 'bản')}"
    name = document.name.replace("\n", " ").replace("|", "/")
    if document.group:
        name = f"[{document.group.replace('|', '/')}] {name}"
    requirement = _REQUIREMENT_LABEL[document.requirement]
    if not document.verified:
        requirement += " (chưa xác nhận)"
    return f"{name} | {document.form} | {copies} | {requirement}"


def row_to_procedure(
    row: dict[str, str], where: str, problems: list[Problem], source: str
) -> Procedure | None:
    """One spreadsheet row → a procedure (None, with an error problem, when unusable)."""
    get = {k: (v or "").strip() if isinstance(v, str) else _cell_text(v) for k, v in row.items()}
    code = get.get("ma_thu_tuc", "")
    name = get.get("ten_thu_tuc", "")
    if not code and not name and not any(get.values()):
        return None
    if not CODE_FORMAT.match(code):
        problems.append(
            Problem(where, f"mã thủ tục {code!r} không đúng dạng d.dddddd; bỏ qua", "error")
        )
        return None
    if not name:
        problems.append(Problem(where, f"{code}: thiếu tên thủ tục; bỏ qua", "error"))
        return None
    label = f"{where} ({code})"
    levels = []
    for part in _lines(get.get("cap_thuc_hien", ""), semicolons=True):
        for piece in part.split(","):
            level = _LEVEL_BY_LABEL.get(piece.strip().lower()) or LEVEL_NAMES.get(
                piece.strip().lower()
            )
            if level is None and piece.strip() in LEVEL_LABELS:
                level = piece.strip()
            if level is None:
                problems.append(Problem(label, f"cấp thực hiện không rõ: {piece.strip()!r}"))
            elif level not in levels:
                levels.append(level)
    channels = []
    for kind, prefix in _CHANNEL_PREFIX.items():
        time_text = get.get(f"{prefix}_thoi_han", "")
        fee_text = get.get(f"{prefix}_phi", "")
        description = get.get(f"{prefix}_mo_ta", "")
        if not (time_text or fee_text or description):
            continue
        if time_text.lower() in {"chưa có thông tin", "không có thông tin"}:
            time_text = ""
        time_limit = parse_time_text(time_text)
        if time_limit is None:
            problems.append(Problem(label, f"không đọc được thời hạn {time_text!r}; để trống"))
            time_limit = TimeLimit(text=time_text)
        fees = []
        for fee_line in _fee_lines(fee_text):
            fee = parse_fee_text(fee_line)
            if fee is None:
                problems.append(
                    Problem(label, f"không đọc được lệ phí {fee_line!r}; ghi là chưa rõ")
                )
                fee = Fee(kind="unknown", note=fee_line)
            fees.append(fee)
        channels.append(Channel(kind, time_limit, fees, description))
    popularity = 0.0
    if text := get.get("muc_pho_bien", ""):
        try:
            popularity = min(1.0, max(0.0, float(text.replace(",", "."))))
        except ValueError:
            problems.append(Problem(label, f"mức phổ biến {text!r} không phải số; lấy 0"))
    online_level = get.get("muc_do_truc_tuyen", "").lower()
    if online_level not in ("toàn trình", "một phần", ""):
        problems.append(Problem(label, f"mức độ trực tuyến {online_level!r} không rõ; để trống"))
        online_level = ""
    return Procedure(
        code=code,
        name=name,
        short_name=get.get("ten_ngan", ""),
        aliases=_lines(get.get("ten_goi_khac", ""), semicolons=True),
        field=get.get("linh_vuc", ""),
        levels=levels,
        agencies=_lines(get.get("co_quan_thuc_hien", "")),
        audience=_lines(get.get("doi_tuong", ""), semicolons=True),
        channels=channels,
        documents=[_parse_document_line(line) for line in _lines(get.get("thanh_phan_ho_so", ""))],
        steps=[p.strip() for p in re.split(r"\n\s*\n", get.get("trinh_tu", "")) if p.strip()],
        legal_bases=[LegalBasis(*_two(line)) for line in _lines(get.get("can_cu_phap_ly", ""))],
        results=[Result(*_two(line)) for line in _lines(get.get("ket_qua", ""))],
        conditions=get.get("yeu_cau_dieu_kien", ""),
        online_level=online_level,
        detail_url=get.get("duong_dan", ""),
        data_date=get.get("ngay_du_lieu", ""),
        popularity=popularity,
        summary=get.get("tom_tat", ""),
        decision=get.get("so_quyet_dinh", ""),
        kind=get.get("loai_thu_tuc", ""),
        ministry=get.get("bo_nganh", ""),
        notes=_lines(get.get("ghi_chu", "")),
        unverified=_lines(get.get("chua_xac_nhan", "")),
        source=source,
    )


def _fee_lines(text: str) -> list[str]:
    """Fee lines; a note in [...] may itself span lines."""
    lines, current = [], ""
    for line in text.split("\n"):
        current = f"{current}\n{line}" if current else line
        if current.count("[") <= current.count("]"):
            if current.strip():
                lines.append(current.strip())
            current = ""
    if current.strip():
        lines.append(current.strip())
    return lines


def _two(line: str) -> tuple[str, str]:
    head, _, tail = line.partition("|")
    return head.strip(), tail.strip()


def _parse_document_line(line: str) -> Document:
    parts = [p.strip() for p in line.split("|")]
    parts += [""] * (4 - len(parts))
    name, form, copies_text, requirement_text = parts[:4]
    group = ""
    if m := re.match(r"^\[([^\]]*)\]\s*", name):
        group, name = m.group(1), name[m.end() :]
    copies, copy_kind = None, ""
    if m := re.match(r"^(\d+)\s*(.*)$", copies_text):
        copies = int(m.group(1)) or None
        kind_text = m.group(2).strip().lower()
        copy_kind = next((k for k, v in _COPY_LABEL.items() if v == kind_text and k), "")
    unconfirmed = re.compile(r"\s*\(chưa xác nhận\)", re.IGNORECASE)
    verified = not unconfirmed.search(requirement_text)
    requirement_text = unconfirmed.sub("", requirement_text).strip()
    requirement = _REQUIREMENT_WORDS.get(requirement_text.lower(), "submit")
    return Document(
        verified=verified,
        name=name,
        form=form,
        copies=copies,
        copy_kind=copy_kind,
        requirement=requirement,
        group=group,
    )


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _check_header(header: Sequence[str], source: str) -> list[str]:
    names = [(h or "").strip().lower() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    unknown = [h for h in names if h and h not in COLUMN_NAMES]
    if missing or unknown:
        detail = []
        if missing:
            detail.append(f"thiếu cột {', '.join(missing)} (missing columns)")
        if unknown:
            detail.append(f"cột lạ {', '.join(unknown)} (unknown columns)")
        raise ImportFailed(
            f"Tệp {source} không đúng bố cục cột: {'; '.join(detail)}. Xem "
            "docs/catalogue-columns.md; danh mục không thay đổi. (Wrong column layout; see "
            "docs/catalogue-columns.md; the catalogue was not changed.)"
        )
    return names


def _rows_to_result(
    header: list[str], rows: Iterable[Sequence[Any]], source: str, kind: str
) -> ImportResult:
    result = ImportResult(source=source, kind=kind)
    seen: dict[str, str] = {}
    for number, values in enumerate(rows, start=2):
        row = {header[i]: values[i] if i < len(values) else "" for i in range(len(header))}
        row.pop("", None)
        if not any(_cell_text(v) for v in row.values()):
            continue
        result.total += 1
        where = f"dòng {number}"
        procedure = row_to_procedure(row, where, result.problems, kind)
        if procedure is None:
            continue
        if procedure.code in seen:
            result.problems.append(
                Problem(where, f"{procedure.code} trùng với {seen[procedure.code]}; lấy dòng sau")
            )
            result.procedures = [p for p in result.procedures if p.code != procedure.code]
        seen[procedure.code] = where
        result.procedures.append(procedure)
    return result


def read_csv(path: Path | str) -> ImportResult:
    """Read a catalogue CSV (UTF-8, with or without BOM; comma or semicolon separated)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ImportFailed(f"Không tìm thấy tệp {path} (file not found).") from None
    except UnicodeDecodeError:
        raise ImportFailed(
            f"Tệp {path.name} không mã hoá UTF-8; hãy lưu lại bằng 'CSV UTF-8'. Danh mục không "
            "thay đổi. (The file is not UTF-8; save it as 'CSV UTF-8'. The catalogue was not "
            "changed.)"
        ) from None
    if "\x00" in text:
        raise ImportFailed(
            f"Tệp {path.name} không phải CSV dạng văn bản; danh mục không thay đổi. "
            "(Not a text CSV file; the catalogue was not changed.)"
        )
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFailed(f"Tệp {path.name} trống (empty file).") from None
    except csv.Error as error:
        raise ImportFailed(f"Tệp {path.name} không đọc được như CSV ({error}).") from None
    names = _check_header(header, path.name)
    try:
        return _rows_to_result(names, list(reader), str(path), "csv")
    except csv.Error as error:
        raise ImportFailed(
            f"Tệp {path.name} hỏng ở giữa ({error}); danh mục không thay đổi. "
            "(Malformed CSV; the catalogue was not changed.)"
        ) from None


def read_xlsx(path: Path | str) -> ImportResult:
    """Read a catalogue workbook: the first sheet, header in row 1."""
    from openpyxl import load_workbook

    path = Path(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise ImportFailed(f"Không tìm thấy tệp {path} (file not found).") from None
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise ImportFailed(
            f"Tệp {path.name} không phải bảng tính XLSX hợp lệ; danh mục không thay đổi. "
            f"(Not a valid XLSX workbook: {error}; the catalogue was not changed.)"
        ) from None
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise ImportFailed(f"Tệp {path.name} trống (empty workbook).")
        names = _check_header([_cell_text(h) for h in header], path.name)
        return _rows_to_result(names, [list(r) for r in rows], str(path), "xlsx")
    finally:
        workbook.close()


def read_file(path: Path | str) -> ImportResult:
    """Read any supported file, chosen by its name: ``.jsonl.gz``/``.jsonl``, ``.csv``, ``.xlsx``."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".jsonl.gz", ".jsonl", ".json.gz")):
        return read_snapshot(path)
    if name.endswith(".csv"):
        return read_csv(path)
    if name.endswith((".xlsx", ".xlsm")):
        return read_xlsx(path)
    raise ImportFailed(
        f"Không nhận dạng được loại tệp {path.name}: dùng .jsonl.gz, .csv hoặc .xlsx. "
        "(Unknown file type: use .jsonl.gz, .csv or .xlsx.)"
    )


def write_csv(procedures: Iterable[Procedure], path: Path | str) -> int:
    """Write procedures as CSV (UTF-8 with BOM so spreadsheet programs read the accents)."""
    count = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMN_NAMES)
        writer.writeheader()
        for procedure in procedures:
            writer.writerow(procedure_to_row(procedure))
            count += 1
    return count


XLSX_CELL_LIMIT = 32767


def write_xlsx(procedures: Iterable[Procedure], path: Path | str) -> int:
    """Write procedures as an XLSX workbook, with a second sheet explaining the columns."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    workbook = Workbook(write_only=False)
    sheet = workbook.active
    sheet.title = "thu_tuc"
    sheet.append(COLUMN_NAMES)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    count = 0
    for procedure in procedures:
        row = procedure_to_row(procedure)
        sheet.append([_xlsx_safe(row[name]) for name in COLUMN_NAMES])
        count += 1
    sheet.freeze_panes = "C2"
    guide = workbook.create_sheet("huong_dan")
    guide.append(["cột", "ý nghĩa"])
    for name, meaning in COLUMNS:
        guide.append([name, meaning])
    for cell in guide["B"]:
        cell.alignment = Alignment(wrap_text=True)
    workbook.save(path)
    return count


def xlsx_overflows(procedures: Iterable[Procedure]) -> list[str]:
    """Cells too long for a spreadsheet (Excel's 32,767 characters): cut in XLSX, whole in CSV."""
    found = []
    for procedure in procedures:
        for name, value in procedure_to_row(procedure).items():
            if len(value) > XLSX_CELL_LIMIT:
                found.append(f"{procedure.code}: {name} ({len(value)} ký tự)")
    return found


_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xlsx_safe(value: str) -> str:
    value = _ILLEGAL_XLSX.sub("", value)
    return value[:XLSX_CELL_LIMIT]


def write_file(procedures: Iterable[Procedure], path: Path | str) -> int:
    name = str(path).lower()
    if name.endswith(".csv"):
        return write_csv(procedures, path)
    if name.endswith(".xlsx"):
        return write_xlsx(procedures, path)
    raise ImportFailed(
        f"Không xuất được ra {Path(path).name}: dùng .csv hoặc .xlsx. (Use .csv or .xlsx.)"
    )
