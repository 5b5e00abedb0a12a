"""The national snapshot's other flattened sections: the documents to bring (with their forms,
counts and kinds of copy), the legal bases, the results and the steps."""

from __future__ import annotations

import re

from procedures.catalogue import (
    Document,
    LegalBasis,
    Result,
)
from procedures.display import STAFF_INSTRUCTION
from procedures.importer.cells import LOWER, NO_INFO, clean_text, one_line
from procedures.importer.result import Problem

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
    text = clean_text(text)
    if not text or text == NO_INFO:
        return []
    documents: list[Document] = []
    # Split into sections at each table header; the text before a header names the section.
    pieces = text.split(_DOC_HEADER)
    requirement, group = "submit", ""
    pending_heading = pieces[0]
    for piece in pieces[1:]:
        heading = one_line(pending_heading).strip(" -")
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
    return _LIST_MARK.sub("", one_line(text)).strip(" -")


def _split_form(body: str) -> tuple[str, str]:
    """``"Tờ khai (Mẫu CT01).Mau CT01.docx"`` →
    (``"Mau CT01.docx"``, ``"Tờ khai (Mẫu CT01)."``)."""
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
    text = clean_text(text)
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
        bases.append(LegalBasis(title=one_line(title), number=number))
    tail = text[start:].strip()
    if tail:
        if bases:
            problems.append(
                Problem(where, f"căn cứ pháp lý: phần cuối không có số hiệu: {tail[:60]!r}")
            )
        bases.append(LegalBasis(title=one_line(tail), number=""))
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
    text = clean_text(text)
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
