"""One clarifying question when the best results are close siblings of one family.

Many procedures come in families whose members differ by one thing the citizen may not have
said: with a foreigner or between Vietnamese, from 14 years or under, a company or a household
business, a repair or a new building, a fishing boat or a sea-going ship, setting up or closing
down. When the results of a query hold members of two or more options of a :data:`FAMILIES`
entry near the top, and the query says nothing that picks one, :func:`clarify` gives the
question to ask ("Anh/chị đăng ký kết hôn giữa công dân Việt Nam với nhau hay có yếu tố nước
ngoài?") and, per option, the best result of it — instead of guessing.

An option is recognised in a procedure's name by its *marks* (folded phrases); the option
without marks (``marks=()``) is the plain member of a family ("Đăng ký kết hôn"), recognised
only as the name of a marked member without its marks, so that an unrelated result never
passes for it. A query that holds any of a family's *said* phrases has already chosen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from procedures.normalize import fold, tokens
from procedures.search import Hit

NEAR = 0.2
"""Results within this score of the first one are close enough to be asked about."""
LOOKED_AT = 5


@dataclass(frozen=True)
class Option:
    label: str
    marks: tuple[str, ...]


@dataclass(frozen=True)
class Family:
    name: str
    question: str  # "{what}": the plain name of the family's members, in lower case
    options: tuple[Option, ...]
    said: tuple[str, ...]
    leading: bool = False  # marks count only where a name starts ("Giải thể …")


@dataclass(frozen=True)
class Clarification:
    """The question and, per option, its label and the result it leads to."""

    family: str
    question: str
    choices: tuple[tuple[str, Hit], ...]


FAMILIES: tuple[Family, ...] = (
    Family(
        "foreign",
        "Anh/chị {what} giữa công dân Việt Nam với nhau, hay có yếu tố nước ngoài (người nước "
        "ngoài, hoặc người đang ở nước ngoài) ạ?",
        (
            Option("Giữa công dân Việt Nam", ()),
            Option("Có yếu tố nước ngoài", ("yeu to nuoc ngoai", "nuoc ngoai")),
        ),
        ("nuoc ngoai", "nn", "ngoai quoc", "tay", "viet kieu", "han quoc", "trung quoc",
         "nhat ban", "dai loan", "my", "uc", "phap", "duc", "lao", "campuchia", "thai lan",
         "quoc tich", "trong nuoc", "viet nam", "ngoai", "xuat canh", "dinh cu"),
    ),
    Family(
        "age14",
        "Người cần {what} từ đủ 14 tuổi trở lên hay dưới 14 tuổi ạ?",
        (
            Option("Từ đủ 14 tuổi trở lên", ("tu du 14 tuoi",)),
            Option("Dưới 14 tuổi", ("duoi 14 tuoi",)),
        ),
        ("tuoi", "con", "be", "chau", "tre", "tre em", "nguoi lon", "duoi", "tren", "du 14"),
    ),
    Family(
        "business",
        "Anh/chị hỏi cho công ty (doanh nghiệp), hộ kinh doanh, hợp tác xã hay tổ chức hành "
        "nghề luật sư ạ?",
        (
            Option("Công ty, doanh nghiệp", ("doanh nghiep", "cong ty co phan",
                                            "cong ty trach nhiem huu han")),
            Option("Hộ kinh doanh", ("ho kinh doanh",)),
            Option("Hợp tác xã", ("hop tac xa",)),
            Option("Tổ chức hành nghề luật sư", ("to chuc hanh nghe luat su", "cong ty luat",
                                                 "van phong luat su")),
        ),
        ("cong ty", "doanh nghiep", "dn", "tnhh", "co phan", "ho kinh doanh", "hkd", "ho ca the",
         "ca the", "hop tac xa", "htx", "luat", "luat su", "tiem", "quan", "cua hang", "buon ban",
         "tap hoa", "chi nhanh", "van phong"),
    ),
    Family(
        "building",
        "Anh/chị xin phép sửa chữa, cải tạo công trình đang có, hay xây dựng mới ạ?",
        (
            Option("Sửa chữa, cải tạo", ("sua chua cai tao",)),
            Option("Xây dựng mới", ("xay dung moi",)),
        ),
        ("sua", "cai tao", "nang cap", "moi", "xay moi", "lam moi", "noi", "nang tang",
         "sua chua", "coi noi", "xay them"),
    ),
    Family(
        "vessel",
        "Anh/chị hỏi về tàu cá hay tàu biển ạ?",
        (
            Option("Tàu cá", ("tau ca",)),
            Option("Tàu biển", ("tau bien",)),
        ),
        ("ca", "danh ca", "danh bat", "khai thac", "ngu", "ngu dan", "bien", "hang hai",
         "van tai", "cho hang", "tau bien", "tau ca"),
    ),
    Family(
        "company_life",
        "Anh/chị muốn thành lập (mở mới), tạm ngừng hay giải thể (đóng hẳn) ạ?",
        (
            Option("Thành lập, mở mới", ("thanh lap", "dang ky doanh nghiep")),
            Option("Tạm ngừng kinh doanh", ("tam ngung",)),
            Option("Giải thể, đóng hẳn", ("giai the", "cham dut hoat dong")),
        ),
        ("mo", "lap", "thanh lap", "dang ky moi", "tam", "ngung", "nghi", "dung", "dong",
         "giai the", "dep", "cham dut", "giai tan", "pha san", "tiep tuc", "doi", "thay doi",
         "sua", "bo sung", "cap lai", "chuyen"),
        leading=True,
    ),
)


def clarify(
    query: str, hits: Sequence[Hit], search: Callable[[str], Sequence[Hit]] | None = None
) -> Clarification | None:
    """The question to ask before showing `hits` (ranked results of `query`), or None when
    the first result stands alone or the query already tells the siblings apart. `search`
    (the index's, with a limit) finds the member of an option missing from `hits`: the query
    with the option's label added."""
    if not hits:
        return None
    close = [h for h in hits[:LOOKED_AT] if h.score >= hits[0].score - NEAR]
    words = f" {_words(query)} "
    for family in FAMILIES:
        if any(f" {phrase} " in words for phrase in family.said):
            continue
        top = _option(family, hits[0], close)
        if top is None:
            continue
        core = _core(family, query, hits[0])
        # The first result stands for its option; another option's member is best found by
        # asking for it ("… hợp tác xã"), else taken from the close results.
        best = {top: hits[0]}
        for number, option in enumerate(family.options):
            if number in best or not option.marks or search is None:
                continue
            found = search(f"{query} {option.label}")
            if found and _option(family, found[0], ()) == number and core <= _name_words(
                found[0]
            ):
                best[number] = found[0]
        for hit in close:
            chosen = _option(family, hit, close)
            if chosen is not None and chosen not in best and core <= _name_words(hit):
                best[chosen] = hit
        if len(best) >= 2:
            choices = tuple(
                (family.options[number].label, best[number]) for number in sorted(best)
            )
            what = _plain_name(family, choices)
            return Clarification(family.name, family.question.format(what=what), choices)
    return None


def _option(family: Family, hit: Hit, close: Sequence[Hit]) -> int | None:
    """The option of `family` the procedure of `hit` is, by the marks in its name's head
    (before any parenthesis: "(… Sửa chữa, cải tạo/…)" lists cases, it names no member)."""
    name = f" {_words(_head(hit.name))} "
    start = " ".join(name.split()[:4]) + " " if family.leading else name
    for number, option in enumerate(family.options):
        if option.marks and any(f" {mark} " in f" {start}" for mark in option.marks):
            return number
    plain = [n for n, o in enumerate(family.options) if not o.marks]
    if plain and any(_stem(family, other) == name.strip() for other in close if other != hit):
        return plain[0]
    return None


def _core(family: Family, query: str, hit: Hit) -> set[str]:
    """The query's words that the first result's name holds, but for the family's marks: a
    member found for another option must hold them too (the same need, another option)."""
    marks = {w for option in family.options for mark in option.marks for w in mark.split()}
    name = _name_words(hit)
    return {w for w in _words(query).split() if w in name and w not in marks}


def _name_words(hit: Hit) -> set[str]:
    return set(_words(_head(hit.name)).split())


def _head(name: str) -> str:
    return name.split("(", 1)[0]


def _stem(family: Family, hit: Hit) -> str:
    """The folded name of a marked member of `family` without its mark (and the "có"/"cho
    người" that introduces it): what the plain member is called."""
    name = f" {_words(_head(hit.name))} "
    for option in family.options:
        for mark in option.marks:
            if f" {mark} " in name:
                name = re.sub(rf"( co| cho nguoi| cho)? {mark} ", " ", name, count=1)
                return " ".join(name.split())
    return ""


def _plain_name(family: Family, choices: Sequence[tuple[str, Hit]]) -> str:
    """What the members are called, for the question: the first member's name without its
    mark and without the leading "Thủ tục", in lower case."""
    name = choices[0][1].name
    words = name.split()
    if words and fold(words[0]).lower() == "thu" and len(words) > 1:
        words = words[2:] if fold(words[1]).lower() == "tuc" else words
    text = " ".join(words)
    for option in family.options:
        for mark in option.marks:
            found = _find_folded(text, mark)
            if found is not None:
                start, end = found
                text = text[:start].rstrip()
                text = re.sub(r"\s+(có|cho người|cho)$", "", text)
                break
    return text[:1].lower() + text[1:]


def _find_folded(text: str, phrase: str) -> tuple[int, int] | None:
    """Where the folded `phrase` stands in `text` (as whole words), in `text`'s characters."""
    spans = [(m.start(), m.end(), fold(m.group()).lower()) for m in re.finditer(r"[^\W_]+", text)]
    wanted = phrase.split()
    for i in range(len(spans) - len(wanted) + 1):
        if [s[2] for s in spans[i : i + len(wanted)]] == wanted:
            return spans[i][0], spans[i + len(wanted) - 1][1]
    return None


@lru_cache(maxsize=20_000)
def _words(text: str) -> str:
    """Folded words, lower case (cached: the same result names come back query after query)."""
    return " ".join(fold(w).lower() for w in tokens(text))
