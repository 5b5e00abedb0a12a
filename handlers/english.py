"""English messages: recognising one, and the Vietnamese names of the everyday procedures it
names, so the search can answer (handlers/procedures.py adds a short note in English)."""

from __future__ import annotations

import re

ENGLISH = frozenset(
    "how what where when which why who is are does please need want apply applying register "
    "registration certificate passport birth marriage office hours open you your get for with "
    "and of the to can i'm i my me do".split())
"""English words; most words of an English message are among them."""
ENGLISH_ONLY = frozenset("how what where when which why who is are does please need want apply "
                         "applying register registration certificate passport birth marriage "
                         "office hours open you your get with and of".split())
"""English words that cannot be Vietnamese typed without accents ("the" is thẻ, "can" cần,
"do" đỏ: not these); an English message has two of them at least."""


ENGLISH_TERMS = {
    "temporary residence": "đăng ký tạm trú",
    "permanent residence": "đăng ký thường trú",
    "marital status": "xác nhận tình trạng hôn nhân",
    "single status": "xác nhận tình trạng hôn nhân",
    "id card": "cấp thẻ căn cước",
    "identity card": "cấp thẻ căn cước",
    "citizen id": "cấp thẻ căn cước",
    "driving licence": "đổi giấy phép lái xe",
    "driving license": "đổi giấy phép lái xe",
    "driver's license": "đổi giấy phép lái xe",
    "criminal record": "lý lịch tư pháp",
    "building permit": "giấy phép xây dựng",
    "certified copy": "chứng thực bản sao",
    "household business": "đăng ký hộ kinh doanh",
    "passport": "cấp hộ chiếu phổ thông",
    "birth": "đăng ký khai sinh",
    "marriage": "đăng ký kết hôn",
    "married": "đăng ký kết hôn",
    "death": "đăng ký khai tử",
}
"""Everyday English names of the most asked-for procedures, searched in Vietnamese."""


def english_query(message: str) -> str:
    """The Vietnamese names of the procedures an English message names (else the message)."""
    lowered, found = message.lower(), []
    for term in sorted(ENGLISH_TERMS, key=len, reverse=True):
        if re.search(rf"\b{re.escape(term)}\b", lowered):
            lowered = lowered.replace(term, " ")
            found.append(ENGLISH_TERMS[term])
    return " ".join(found) or message


def is_english(message: str) -> bool:
    """An English question: no Vietnamese letters, mostly English words, two of them
    unmistakable."""
    if not message.isascii():
        return False
    words = "".join(ch if ch.isalpha() or ch == "'" else " " for ch in message.lower()).split()
    english = [w for w in words if w in ENGLISH]
    return sum(w in ENGLISH_ONLY for w in words) >= 2 and len(english) * 2 >= len(words)
