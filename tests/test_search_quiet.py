"""Messages about no procedure get none: a citizen's name, chit-chat, thanks, phone numbers,
addresses, prices, the weather. The bot then asks what is needed instead of offering a
procedure nobody asked for."""

from __future__ import annotations

import pytest

from procedures.catalogue import load_bundled
from procedures.search import SearchIndex


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex.build(load_bundled())


NAMES = [
    "Phạm Văn Đồng",  # was "xâm phạm … văn phòng"
    "bui thi lan",  # was "thất lạc"
    "Phan Văn Trị",
    "Hồ Văn Nam",
    "Chu Văn An",
    "Nguyễn Thị Kim Liên",
    "Ngô Bảo Châu",
    "Tô Lâm",
    "le van luong",  # "le van" also spells "lệ vận"
    "vu van dung",  # … and "vu van" "dịch vụ vận tải"
    "duong van quang",  # "quang" also spells "quặng"
    "do thi hang",  # "do thi" also spells "đô thị"
    "ngo van tuan",
]


@pytest.mark.parametrize("name", NAMES)
def test_a_name_alone_finds_nothing(index: SearchIndex, name: str) -> None:
    assert index.search(name) == []


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("ho khau", "1.004222"),  # Hồ + "khau": hộ khẩu, a pair of the catalogue
        ("ho chieu", "1.001456"),  # hộ chiếu
        ("lam cccd", "1.014061"),  # shorthand is no given name
        ("ly hon", "2.000554"),
    ],
)
def test_a_surname_spelling_inside_a_search(index: SearchIndex, query: str, code: str) -> None:
    assert code in [hit.code for hit in index.search(query, limit=3)]
