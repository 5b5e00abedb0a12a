"""The CSV/XLSX column layout (docs/catalogue-columns.md) and the text of each cell: a procedure
as a row and back, time limits, fees and documents as an official writes them."""

from __future__ import annotations

import re

from procedures.catalogue import (
    LEVEL_LABELS,
    TIME_UNIT_LABELS,
    Channel,
    Document,
    Fee,
    LegalBasis,
    Procedure,
    Result,
    TimeLimit,
)
from procedures.importer.cells import CODE_FORMAT, cell_text
from procedures.importer.channels import LEVEL_NAMES, UNIT_OF, parse_amount
from procedures.importer.result import Problem

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
    unit = UNIT_OF.get((m.group(3) or "ngày làm việc").lower(), "working_days")
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
            fee.amount = parse_amount(example.group(1))
            fee.currency = "USD" if example.group(2) == "usd" else "VND"
    elif lowered.startswith("theo quy định"):
        fee = Fee(kind="per_regulation")
    elif lowered in {"chưa có thông tin", "không có thông tin", ""}:
        fee = Fee(kind="unknown")
    elif m := _FEE_AMOUNT.match(text):
        currency = "USD" if m.group(2).lower() == "usd" else "VND"
        fee = Fee(
            kind="amount",
            amount=parse_amount(m.group(1)),
            amount_max=parse_amount(m.group(3)) if m.group(3) else None,
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
    get = {k: (v or "").strip() if isinstance(v, str) else cell_text(v) for k, v in row.items()}
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
