"""How a procedure reads to a citizen: today's names of government levels, a short name, and the
document list split into what everybody brings and the cases (trường hợp) of the procedure.

Pure functions over :class:`procedures.catalogue.Procedure`; the data keeps the record's own
words (an official compares them with the national database), the card shows these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import partial

from procedures.catalogue import Document, Procedure

SHORT_NAME_LIMIT = 70

# Since 1 July 2025 there are provinces and communes only: no district (huyện, quận, thị xã,
# thành phố thuộc tỉnh) and no thị trấn. Older records still name them; shown as today's units.
_CURRENT_LEVELS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.IGNORECASE), r)
    for p, r in [
        (r"\b(xã|phường)\s*[,/]\s*(phường|xã)\s*[,/]\s*thị trấn\b", r"\1, \2"),
        (r"\b(xã|phường)\s*[,/]\s*thị trấn\b", r"\1"),
        (r"\b(Bảo hiểm xã hội|BHXH) cấp huyện\b", r"\1 cơ sở"),
        (r"\bcấp tỉnh, cấp huyện\b", "cấp tỉnh, cấp xã"),
        (r"\bcấp huyện\b(?= trước ngày 0?1(?:/| tháng )0?7(?:/| năm )2025)", "cấp huyện (cũ)"),
        (r"\bcấp huyện\b(?! \(cũ\))", "cấp xã"),
        (r"\bđịa bàn (?:quận|huyện)\b", "địa bàn xã"),
        (r"\bthị trấn\b", "xã"),
        (r"\bcấp Xã\b", "cấp xã"),
    ]
]
ABOLISHED_LEVEL = re.compile(
    r"thị trấn|cấp huyện(?! \(cũ\))|địa bàn (?:quận|huyện)", re.IGNORECASE
)
"""Words that present an abolished level as current (the test of every curated card uses it)."""


def current_levels(text: str) -> str:
    """``"Ủy ban nhân dân xã, phường, thị trấn"`` → ``"Ủy ban nhân dân xã, phường"``."""
    for pattern, replacement in _CURRENT_LEVELS:
        text = pattern.sub(partial(_same_case, replacement=replacement), text)
    return text


def _same_case(match: re.Match[str], replacement: str) -> str:
    result = match.expand(replacement)
    if match.group(0)[:1].isupper() and result[:1].islower():
        result = result[:1].upper() + result[1:]
    return result


def short_name(procedure: Procedure) -> str:
    """The name on cards and buttons: the curated short name, or the official name without
    "Thủ tục", cut after a word when very long."""
    if procedure.short_name:
        return procedure.short_name
    name = re.sub(r"^thủ tục\s+", "", procedure.name, flags=re.IGNORECASE)
    name = current_levels(name[:1].upper() + name[1:])
    return cut_at_word(name, SHORT_NAME_LIMIT)


def cut_at_word(text: str, limit: int) -> str:
    """``text`` when it fits, else its words up to ``limit`` characters and "…" (never a word
    cut in two)."""
    if len(text) <= limit:
        return text
    head = text[: limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[: limit - 1]
    return head.rstrip(" ,;:-–(") + "…"


_FORM_FIRST = re.compile(r"^(tờ khai|đơn|mẫu|phiếu|văn bản đề nghị|bản khai)", re.IGNORECASE)
_CONDITIONAL = re.compile(r"^(trường hợp|đối với|nếu|riêng)\b", re.IGNORECASE)


def _order(document: Document) -> int:
    """What everybody brings first (the form, then the papers), then the "if…" cases."""
    if _FORM_FIRST.match(document.name) or document.form:
        return 0
    if _CONDITIONAL.match(document.name):
        return 2
    return 1


@dataclass
class DocumentView:
    """The documents a citizen reads for one case (or the common ones)."""

    submit: list[Document] = field(default_factory=list)
    show: list[Document] = field(default_factory=list)
    notes: list[Document] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.submit or self.show or self.notes)


def cases(procedure: Procedure) -> list[str]:
    """The cases the document list distinguishes, in the record's order ([] for one list)."""
    names = list(dict.fromkeys(d.group for d in procedure.documents if d.group))
    return names if len(names) > 1 else []


_CASE_WORDS = re.compile(r"^(?:đối với\s+)?(?:trường hợp\s+)?", re.IGNORECASE)
_CASE_TAIL = re.compile(
    r"[,;:]?\s*(?:thì\s+)?(?:thành phần\s+)?hồ sơ[^,;:]{0,20}gồm(?: có)?\W*$", re.IGNORECASE
)


def case_label(case: str) -> str:
    """A case as a button reads: ``"Đối với trường hợp đổi tên…:"`` → ``"Đổi tên…"``."""
    label = _CASE_TAIL.sub("", _CASE_WORDS.sub("", current_levels(case))).strip(" :;.-")
    return label[:1].upper() + label[1:] if label else case


def documents_view(procedure: Procedure, case: str | None = None) -> DocumentView:
    """The documents of every case, plus those of ``case`` (of all, when the procedure has
    one list); staff-only instructions left out; forms and common papers first."""
    several = bool(cases(procedure))
    chosen = [
        d
        for d in procedure.documents
        if d.requirement != "staff" and (not several or d.group in ("", case))
    ]
    view = DocumentView()
    for document in sorted(chosen, key=_order):
        shown = Document(
            name=current_levels(document.name),
            form=document.form,
            copies=document.copies,
            copy_kind=document.copy_kind,
            requirement=document.requirement,
            group=document.group,
        )
        {"submit": view.submit, "show": view.show}.get(document.requirement, view.notes).append(
            shown
        )
    return view


# A paragraph that instructs the receiving officer ("Người tiếp nhận có trách nhiệm…, không được
# yêu cầu người dân nộp thêm…"): the record keeps it, the citizen does not need it.
STAFF_INSTRUCTION = re.compile(
    r"(?:người|cán bộ|công chức)[^.;:]{0,40}tiếp nhận(?: hồ sơ)?[^.;:]{0,60}có trách nhiệm"
    r"|có trách nhiệm tiếp nhận|không được yêu cầu (?:người|công dân|nộp)",
    re.IGNORECASE,
)
_BULLETS = re.compile(r"^[ \t]*[-+•]+[ \t]*", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.;])\s+(?=[A-ZĐÀ-Ỹ])")


def steps_view(procedure: Procedure) -> list[str]:
    """The steps without the sentences that instruct the officer, in one bullet style."""
    steps = []
    for step in procedure.steps:
        lines = []
        for line in _BULLETS.sub("- ", step.strip()).splitlines():
            sentences = _SENTENCE_END.split(line)
            kept = [s for s in sentences if not STAFF_INSTRUCTION.search(s)]
            if kept and (len(kept) == len(sentences) or kept[0].strip() != "-"):
                lines.append(" ".join(kept))
        text = "\n".join(line for line in lines if line.strip(" -"))
        if text:
            steps.append(text[2:] if text.startswith("- ") else text)
    return steps


def conditions_view(procedure: Procedure) -> str:
    """The conditions (yêu cầu, điều kiện) in one bullet style."""
    return _BULLETS.sub("- ", procedure.conditions.strip())
