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


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("ho khau", "1.004222"),  # Hồ + "khau": hộ khẩu, a pair of the catalogue
        ("ho chieu", "1.001456"),  # hộ chiếu
        ("lam cccd", "1.014061"),  # shorthand is no given name
        ("đăng ký tạm trú ở số 5 ngõ 3", "1.004194"),  # an address inside a need
        ("phòng cháy chữa cháy", "3.000489"),  # address words without a number
    ],
)
def test_a_surname_or_address_word_inside_a_search(
    index: SearchIndex, query: str, code: str
) -> None:
    assert code in [hit.code for hit in index.search(query, limit=3)]


def test_ly_hon_is_a_divorce_not_a_surname(index: SearchIndex) -> None:
    # "Lý" is a surname; "ly hon" is ly hôn: what is found is about a divorce.
    hits = index.search("ly hon", limit=3)
    assert hits
    for hit in hits:
        procedure = index.get(hit.code)
        assert procedure is not None
        assert any("ly hôn" in text.lower() for text in [procedure.name, *procedure.aliases])


OUT_OF_SCOPE = [
    # chit-chat, thanks, greetings
    "cảm ơn bạn nhiều nhé",
    "cam on nhieu a",
    "ok em cảm ơn",
    "dạ vâng",
    "chào buổi sáng",
    "bạn là ai vậy",
    "ban khoe khong",
    "ăn cơm chưa",
    "an com chua",
    "haha buồn cười quá",
    "em không hiểu",
    "đợi em tí",
    "duoc roi",
    "tạm biệt",
    "chúc ngủ ngon",
    "xin loi nhe",
    # phone numbers
    "0912345678",
    "sđt của em là 0987654321",
    "so dien thoai 0903 123 456",
    # addresses
    "số 12 ngõ 5 phường Cầu Giấy",
    "so 12 ngo 5 phuong Cau Giay",  # was "Cấp lại Giấy chứng nhận đăng ký phương tiện"
    "so nha 15 duong tran phu",  # was "… an toàn kỹ thuật … phụ tùng"
    "45 Lê Lợi, quận 1",
    "tổ 7 phường Đồng Tâm",
    "ap 2 xa tan phu huyen chau thanh",
    "phòng 302 tòa A chung cư Vinhomes",
    "toi o ha noi",
    # prices, amounts
    "500 nghìn",
    "giá bao nhiêu tiền",
    "2 triệu rưỡi",
    "giá 200k",
    # weather, dates
    "mai trời có mưa không",
    "hom nay troi co mua khong",  # mưa, not mua (to buy)
    "chiều nay ngoài huyện có mưa không ad",
    "tối qua đội tuyển đá thắng tỉ số mấy",
    "troi hom nay nong qua",
    "thời tiết Hà Nội ngày mai",
    "có bão không",
    "hôm nay thứ mấy",
    "ngày 15/3/2024",
    "8 giờ sáng",
    # football, flirting, translation (before, each found a procedure: the border pass to
    # Laos, a land allocation, the certification of a translator's signature)
    "viet nam da voi lao may gio",
    "em ơi có người yêu chưa",
    '"xin chào" tiếng Nhật nói sao',
    # opening hours of a shop, a game (before: a household business, a driving licence)
    "quán phở đầu ngõ mở cửa mấy giờ",
    "cách lấy bằng lái xe trong game",
    # a name with a phone number, also without accents (before, that found a vehicle's
    # registration) or with the number spaced
    "Phạm Thị Hoa, 0912345678",
    "do minh tuan, 0903112244",
    "Trần Văn Nam 0903 112 244",
    # a phone number said as one (before, "số điện thoại" found a vehicle's registration)
    "sdt e 0356112233",
    "số điện thoại của em là 0356112233",
    "zalo 0903 112 244 gọi lại giúp em",
    # a shop's opening hours, also asked with "nào"
    "quan com tam nao mo cua khuya vay mn",
]


@pytest.mark.parametrize("message", NAMES + OUT_OF_SCOPE)
def test_a_name_or_other_out_of_scope_message_is_quiet(index: SearchIndex, message: str) -> None:
    assert index.search(message) == []
