"""Cleaning one text field of the catalogue, as the snapshot and spreadsheets write it: spaces,
"Không có thông tin", commas outside parentheses."""

from __future__ import annotations

import re
from typing import Any

CODE_FORMAT = re.compile(r"^\d\.\d{6}$")
NO_INFO = "Không có thông tin"
# Lower-case Vietnamese letters (a range like à-ỹ would also take capitals such as Đ).
LOWER = "a-zàáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"


def clean_text(text: str) -> str:
    text = (text or "").replace("\xa0", " ").replace("\t", " ")
    return re.sub(r"[ ]{2,}", " ", text).strip()


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def none_if_no_info(text: str) -> str:
    text = clean_text(text)
    return "" if text in {NO_INFO, "Không có", "--"} else text


def split_outside_parens(text: str, sep: str = ",") -> list[str]:
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


def take_parenthesised(text: str) -> tuple[str, str]:
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


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
