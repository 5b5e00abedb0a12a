"""The national snapshot's levels and its flattened "Cách thức thực hiện" table: the channels of
submission, each with its time limit and fees (amounts, exemptions, fees set by the province)."""

from __future__ import annotations

import re

from procedures.catalogue import (
    CHANNEL_LABELS,
    LEVELS,
    Channel,
    Fee,
    TimeLimit,
)
from procedures.importer.cells import LOWER, NO_INFO, clean_text, take_parenthesised
from procedures.importer.result import Problem

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
UNIT_OF = {
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


def parse_levels(text: str) -> list[str]:
    found = {LEVEL_NAMES.get(part.strip().lower()) for part in clean_text(text).split(",")}
    return [level for level in LEVELS if level in found]


def parse_amount(text: str) -> float:
    digits = text.replace(",", "").replace(".", "")
    return float(digits)


def amounts_in(text: str) -> list[tuple[float, str, str]]:
    """Money amounts written in a text: (amount, currency, per) — ``"2.000 đồng/trang"``."""
    found = []
    for match in _AMOUNT_IN_TEXT.finditer(text):
        number, currency, per = match.group(1), match.group(2), match.group(3) or ""
        value = parse_amount(number)
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
        return TimeLimit(value=number, unit=UNIT_OF[unit.lower()])
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
        value = parse_amount(fee_part)
        if value in text_amounts or value * 1000 in text_amounts:
            return time_part, fee_part
    return candidates[0]


def parse_channels(text: str, where: str, problems: list[Problem], context: str) -> list[Channel]:
    """Recover the channel table of ``cach_thuc_thuc_hien``."""
    text = clean_text(text)
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
                cell_amount = parse_amount(fee_match.group(3))
                currency = "USD" if fee_match.group(4) == "USD" else "VND"
            rest = rest[fee_match.end() :]
            if m := _PER_UNIT.match(rest):
                per, rest = m.group(1).strip(), rest[m.end() :]
        else:
            problems.append(Problem(label, f"không đọc được ô lệ phí: {rest[:60]!r}"))
        note, description = take_parenthesised(rest.strip())
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
