"""What citizens write instead of official words: abbreviations, everyday names, filler words.

Inside this bot the domain meaning wins over general chat shorthand: "ks" is khai sinh (not
kỹ sư), "đk" is đăng ký, "hs" is hồ sơ. Two kinds of entries:

- :data:`ABBREVIATIONS` are shorthand that official texts never use ("cccd", "gplx"); in the
  query they stand for their expansion, and in catalogue texts they are rewritten to it;
- :data:`EVERYDAY_NAMES` are real phrases ("sổ đỏ", "hộ khẩu", "bằng lái"); in a query the
  phrase may match as written *or* as its official equivalent.

A key written with accents only matches a query written without accents or with the same
accents ("sổ đỏ" never fires on "sơ đồ"). :data:`FILLER` words ("cho em hỏi", "cần những gì",
"ạ") are optional: they help when they match and cost nothing when they do not.
:data:`CONTEXT` words (``data/context_words.txt``: family, places, times, hearsay — "mẹ tôi ở
quê", "tháng trước", "nghe nói") are optional too: a long message tells its story in them, and a
procedure is scored by the words of the need, not by how much of the story it explains.
"""

from __future__ import annotations

from importlib import resources

CONTEXT_FILE = "context_words.txt"
OFF_TOPIC_FILE = "off_topic.txt"
PERSON_NAMES_FILE = "person_names.txt"
ADDRESS_WORDS_FILE = "address_words.txt"
AUDIENCES_FILE = "audiences.txt"

# Shorthand → official words (first expansion is used to rewrite catalogue texts).
ABBREVIATIONS: dict[str, list[str]] = {
    "cccd": ["căn cước"],
    "cc": ["căn cước"],
    "cmnd": ["chứng minh nhân dân", "căn cước"],
    "cmt": ["chứng minh nhân dân", "căn cước"],
    "cmtnd": ["chứng minh nhân dân", "căn cước"],
    "gplx": ["giấy phép lái xe"],
    "gpxd": ["giấy phép xây dựng"],
    "gpkd": ["giấy phép kinh doanh", "đăng ký kinh doanh"],
    "ks": ["khai sinh"],
    "kh": ["kết hôn"],
    "kt": ["khai tử"],
    "đk": ["đăng ký"],
    "sd": ["sử dụng"],
    "qsd": ["quyền sử dụng"],
    "gp": ["giấy phép"],
    "xd": ["xây dựng"],
    "cty cp": ["công ty cổ phần"],
    "hđ": ["hợp đồng"],
    "hđlđ": ["hợp đồng lao động"],
    "nlđ": ["người lao động"],
    "tnlđ": ["tai nạn lao động"],
    "bc": ["báo cáo"],
    "đki": ["đăng ký"],
    "đky": ["đăng ký"],
    "đkks": ["đăng ký khai sinh"],
    "đkkh": ["đăng ký kết hôn"],
    "đkkt": ["đăng ký khai tử"],
    "đkkd": ["đăng ký kinh doanh"],
    "đktt": ["đăng ký tạm trú", "đăng ký thường trú"],
    "xn": ["xác nhận"],
    "gxn": ["giấy xác nhận"],
    "gcn": ["giấy chứng nhận"],
    "qsdđ": ["quyền sử dụng đất"],
    "gcnqsdđ": ["giấy chứng nhận quyền sử dụng đất"],
    "bhxh": ["bảo hiểm xã hội"],
    "bhyt": ["bảo hiểm y tế"],
    "bhtn": ["bảo hiểm thất nghiệp"],
    "hkd": ["hộ kinh doanh"],
    "dntn": ["doanh nghiệp tư nhân"],
    "mst": ["mã số thuế"],
    "tncn": ["thu nhập cá nhân"],
    "lltp": ["lý lịch tư pháp"],
    "ubnd": ["ủy ban nhân dân"],
    "hđnd": ["hội đồng nhân dân"],
    "tthc": ["thủ tục hành chính"],
    "hs": ["hồ sơ"],
    "hc": ["hộ chiếu"],
    "xnc": ["xuất nhập cảnh"],
    "ct01": ["tờ khai thay đổi thông tin cư trú"],
    "ct07": ["xác nhận thông tin về cư trú"],
    "dc02": ["căn cước"],
    "kt3": ["tạm trú"],
    "vneid": ["định danh điện tử"],
    "passport": ["hộ chiếu"],
    "visa": ["thị thực"],
    "cavẹt": ["chứng nhận đăng ký xe"],
    "online": ["trực tuyến"],
    "onl": ["trực tuyến"],
    "sn": ["sinh"],
    "ng": ["người"],
    "nc": ["nước"],
    "nn": ["nước ngoài"],
    "tp": ["thành phố"],
    "đkx": ["đăng ký xe"],
    "hq": ["hải quan"],
    "qt": ["quyết toán"],
    "tk": ["tờ khai", "tài khoản"],
    "gđ": ["gia đình"],
    "hgđ": ["hộ gia đình"],
    "tkđd": ["tài khoản định danh"],
    "nvqs": ["nghĩa vụ quân sự"],
    "nk": ["nhập khẩu"],
    "xk": ["xuất khẩu"],
    "qte": ["quốc tế"],
    "bh": ["bảo hiểm"],
    "sx": ["sản xuất"],
    "đủ đk": ["đủ điều kiện"],
    "tthn": ["tình trạng hôn nhân"],
    "gxntthn": ["giấy xác nhận tình trạng hôn nhân"],
    "atvstp": ["an toàn thực phẩm"],
    "vpls": ["văn phòng luật sư"],
    "cq": ["cơ quan"],
    "nđt": ["nhà đầu tư"],
}

# Chat shorthand → the word it stands for: the pronouns and everyday words people type short
# on Zalo ("e mún lm cccd cho con", "vk ck", "báo trc bnhiu ngày"). Read in queries only (no
# catalogue text uses them); most stand for filler, so they cost nothing where nothing matches.
CHAT: dict[str, list[str]] = {
    "e": ["em"],
    "a": ["anh"],
    "c": ["chị"],
    "chj": ["chị"],
    "cj": ["chị"],
    "mk": ["mình"],
    "mik": ["mình"],
    "mjk": ["mình"],
    "t": ["tôi"],
    "tui": ["tôi"],
    "mún": ["muốn"],
    "ko": ["không"],
    "k": ["không"],
    "kh0": ["không"],
    "hok": ["không"],
    "hông": ["không"],
    "đc": ["được"],
    "j": ["gì"],
    "lm": ["làm"],
    "ntn": ["như thế nào"],
    "bn": ["bao nhiêu"],
    "bnhiu": ["bao nhiêu"],
    "bjo": ["bây giờ"],
    "vs": ["với"],
    "vk": ["vợ"],
    "ck": ["chồng"],
    "r": ["rồi"],
    "rùi": ["rồi"],
    "z": ["vậy"],
    "v": ["vậy"],
    "trc": ["trước"],
    "bít": ["biết"],
    "bik": ["biết"],
    "ak": ["ạ"],
    "thui": ["thôi"],
    "oy": ["rồi"],
    "ùi": ["rồi"],
    "bm": ["bố mẹ"],
    "bme": ["bố mẹ"],
    "mn": ["mọi người"],
    "mng": ["mọi người"],
    "ae": ["anh em"],
    "ngta": ["người ta"],
    "cx": ["cũng"],
    "cg": ["cũng"],
    "ms": ["mới"],
    "nx": ["nữa"],
    "ch": ["chưa"],
    "lun": ["luôn"],
    "ns": ["nói"],
    "bt": ["biết"],
    "kb": ["không biết"],
    "hk": ["không"],
    "nhìu": ["nhiều"],
    "hnay": ["hôm nay"],
    "hqua": ["hôm qua"],
    "bgio": ["bây giờ"],
    "tg": ["thời gian"],
    "gt": ["giấy tờ"],
    "kq": ["kết quả"],
    "nv": ["nhân viên"],
    "cv": ["công việc"],
    "sđt": ["số điện thoại"],
    "nt": ["nhắn tin"],
    "ib": ["nhắn tin"],
    "vn": ["việt nam"],
    # Central and Southern words for the ones the names use ("mần giấy khai sinh", "tạm ngưng")
    "rứa": ["vậy"],
    "chừ": ["giờ"],
    "mần": ["làm"],
    "hổng": ["không"],
    "nớ": ["đó"],
    "nè": ["này"],
    "bịnh": ["bệnh"],
    "ngưng": ["ngừng"],
    "mướn": ["thuê"],
    "dìa": ["về"],
    "xài": ["dùng"],
}

# Dialect phrases whose key word is also another word ("mô" in "mô tô", "chi" in "chi nhánh",
# "răng" teeth): written out only as these phrases, typed with their marks.
CHAT_PHRASES: dict[str, str] = {
    "ở mô": "ở đâu",
    "đi mô": "đi đâu",
    "chỗ mô": "chỗ nào",
    "nơi mô": "nơi nào",
    "mô rứa": "đâu vậy",
    "làm răng": "làm sao",
    "răng mà": "sao mà",
    "vì răng": "vì sao",
    "răng rứa": "sao vậy",
    "giấy tờ chi": "giấy tờ gì",
    "làm chi": "làm gì",
    "cần chi": "cần gì",
    "cái chi": "cái gì",
    "chi rứa": "gì vậy",
}

# Everyday phrase → official phrases it stands for (the phrase itself still matches too).
EVERYDAY_NAMES: dict[str, list[str]] = {
    "sổ đỏ": ["giấy chứng nhận quyền sử dụng đất"],
    "sổ hồng": ["giấy chứng nhận quyền sử dụng đất quyền sở hữu nhà ở"],
    "bìa đỏ": ["giấy chứng nhận quyền sử dụng đất"],
    "sổ": ["giấy chứng nhận"],
    "thổ cư": ["đất ở"],
    "đất vườn": ["đất nông nghiệp"],
    "hộ khẩu": ["thường trú"],
    "sổ hộ khẩu": ["thường trú"],
    "nhập hộ khẩu": ["đăng ký thường trú"],
    "chuyển khẩu": ["đăng ký thường trú"],
    "chuyển hộ khẩu": ["đăng ký thường trú"],
    "cắt khẩu": ["xóa đăng ký thường trú"],
    "cắt hộ khẩu": ["xóa đăng ký thường trú"],
    "tách khẩu": ["tách hộ"],
    "tách hộ khẩu": ["tách hộ"],
    "chứng minh thư": ["căn cước"],
    "chứng minh nhân dân": ["căn cước"],
    "căn cước công dân": ["căn cước"],
    "bằng lái": ["giấy phép lái xe"],
    "bằng lái xe": ["giấy phép lái xe"],
    "bằng lái xe máy": ["giấy phép lái xe"],
    "bằng lái ô tô": ["giấy phép lái xe"],
    "cà vẹt": ["chứng nhận đăng ký xe"],
    "cà vẹt xe": ["chứng nhận đăng ký xe"],
    "giấy tờ xe": ["chứng nhận đăng ký xe"],
    "bấm biển": ["đăng ký biển số xe"],
    "biển số": ["biển số xe"],
    "giấy độc thân": ["giấy xác nhận tình trạng hôn nhân"],
    "xác nhận độc thân": ["xác nhận tình trạng hôn nhân"],
    "độc thân": ["tình trạng hôn nhân"],
    "giấy chứng tử": ["khai tử"],
    "chứng tử": ["khai tử"],
    "báo tử": ["khai tử"],
    "giấy báo tử": ["khai tử"],
    "người mất": ["khai tử"],
    "mới mất": ["khai tử"],
    "hôn thú": ["kết hôn"],
    "giấy hôn thú": ["giấy chứng nhận kết hôn"],
    "cưới": ["kết hôn"],
    "lấy chồng": ["kết hôn"],
    "lấy vợ": ["kết hôn"],
    "photo công chứng": ["chứng thực bản sao từ bản chính"],
    "công chứng photo": ["chứng thực bản sao từ bản chính"],
    "sao y": ["chứng thực bản sao"],
    "sao y bản chính": ["chứng thực bản sao từ bản chính"],
    "công chứng": ["chứng thực"],
    "lăn tay": ["điểm chỉ"],
    "đổi chủ": ["thay đổi chủ xe"],
    "mới sinh": ["khai sinh"],
    "mới đẻ": ["khai sinh"],
    "giấy khai sinh": ["khai sinh"],
    "tiền án": ["lý lịch tư pháp"],
    "tiền sự": ["lý lịch tư pháp"],
    "lí lịch": ["lý lịch"],
    "thai sản": ["chế độ thai sản"],
    "sinh con": ["thai sản"],
    "nghỉ việc": ["một lần"],
    "luật sư miễn phí": ["trợ giúp pháp lý"],
    "hộ cá thể": ["hộ kinh doanh"],
    "kinh doanh cá thể": ["hộ kinh doanh"],
    "quán ăn": ["hộ kinh doanh"],
    "tạp hóa": ["hộ kinh doanh"],
    "cửa hàng": ["hộ kinh doanh"],
    "giấy phép kinh doanh": ["đăng ký kinh doanh"],
    "xây nhà": ["xây dựng nhà ở"],
    "sửa nhà": ["sửa chữa cải tạo nhà"],
    "nhà cấp 4": ["nhà ở riêng lẻ"],
    "mẹ côi": ["giám hộ"],
    "mồ côi": ["giám hộ"],
    "người thuê trọ": ["tạm trú"],
    "thuê trọ": ["tạm trú"],
    "nhà trọ": ["tạm trú"],
    "định danh": ["định danh điện tử"],
    "mức 2": ["mức độ 02"],
    "ô tô": ["xe ô tô", "xe cơ giới", "xe"],
    "ôtô": ["xe ô tô", "xe cơ giới", "xe"],  # typed glued; also "oto"
    "xe máy": ["xe"],
    "xe hơi": ["xe"],
    "passport": ["hộ chiếu"],
    "con ngoài giá thú": ["nhận cha mẹ con"],
    "nước ngoài": ["yếu tố nước ngoài"],
    "người nước ngoài": ["yếu tố nước ngoài"],
    "hàn quốc": ["yếu tố nước ngoài"],
    "trung quốc": ["yếu tố nước ngoài"],
    "nhật bản": ["yếu tố nước ngoài"],
    "đài loan": ["yếu tố nước ngoài"],
    "việt kiều": ["yếu tố nước ngoài"],
    "đi làm xa": ["tạm vắng"],
    "khách": ["lưu trú"],
    "nhà nghỉ": ["lưu trú"],
    "ở nhờ": ["lưu trú"],
    "thẻ pet": ["đổi giấy phép lái xe"],
    "hết hạn": ["gia hạn", "đổi"],
    "bị mất": ["cấp lại"],
    "mất": ["cấp lại", "trình báo mất"],
    "làm lại": ["cấp lại"],
    "xin lại": ["cấp lại"],  # "… bị cháy xin lại": not the first registration
    "lãnh": ["hưởng"],
    "rút": ["hưởng"],
    "nhận tiền": ["hưởng"],
    "mua bảo hiểm y tế": ["đăng ký đóng cấp thẻ bảo hiểm y tế"],
    "tự đóng": ["tự nguyện"],
    "đổi tên": ["thay đổi cải chính"],
    "sửa sai": ["cải chính"],
    "sửa tên": ["cải chính"],
    "sửa ngày sinh": ["cải chính"],
    "đổi họ": ["thay đổi cải chính"],
    "lần đầu": ["lần đầu"],
    # The everyday verbs for the official actions, in every field.
    "giải tán": ["giải thể", "chấm dứt hoạt động"],
    "đóng cửa": ["giải thể", "chấm dứt hoạt động"],
    "dẹp": ["chấm dứt hoạt động", "giải thể"],
    "tạm nghỉ": ["tạm ngừng"],
    "nghỉ tạm": ["tạm ngừng"],
    "tạm đóng": ["tạm ngừng"],
    "đóng tạm": ["tạm ngừng"],
    "mở lại": ["tiếp tục"],
    "kéo dài": ["gia hạn"],
    "kéo dài thêm": ["gia hạn"],
    "sửa": ["điều chỉnh", "sửa đổi", "sửa chữa"],
    "lấy lại tiền": ["hoàn"],
    # Everyday nouns for the names' words, in every field.
    "heo": ["lợn"],
    "thuyền": ["phương tiện thủy nội địa", "tàu"],
    "xuồng": ["phương tiện thủy nội địa"],
    "cháy": ["hỏa hoạn"],
    "trả lại tiền": ["hoàn"],
}

COUNTRIES = (
    "hàn", "hàn quốc", "nhật", "nhật bản", "trung quốc", "đài loan", "úc", "hoa kỳ", "canada",
    "anh quốc", "séc", "ba lan", "hà lan", "thụy điển", "thái lan", "campuchia", "singapore",
    "malaysia", "philippines", "indonesia", "ấn độ", "trung đông", "châu âu", "new zealand",
)
"""Countries citizens name instead of "nước ngoài" ("người Hàn", "đang ở Úc"): only after
:data:`FOREIGN_PLACES`' words, since alone some are other words. Left out: those that start
a Vietnamese place or people's name too ("Mỹ Tho", "Đức Phổ", "Nga Sơn", "Lào Cai", "Ý Yên",
"người Thái") or a common phrase ("bên pháp lý")."""
FOREIGN_PLACES = {
    "người": ["người nước ngoài"],
    "ở": ["ở nước ngoài"],
    "bên": ["ở nước ngoài"],
    "sang": ["ra nước ngoài", "nước ngoài"],
    "đi": ["đi nước ngoài", "ra nước ngoài", "nước ngoài"],
    "qua": ["ra nước ngoài", "nước ngoài"],
}
"""How a country is said of a person or a place ("người Úc", "bên Nhật", "sang Hàn", "đi Úc",
"qua Đài Loan"), and the official words it stands for."""
for _before, _official in FOREIGN_PLACES.items():
    for _country in COUNTRIES:
        EVERYDAY_NAMES.setdefault(f"{_before} {_country}", _official)
del _before, _official, _country

# Words that carry no procedure meaning in a question ("cho em hỏi … cần những gì ạ").
FILLER: set[str] = {
    # Two filler syllables read as one word: typed without accents each alone is mostly a
    # word of the names ("huong dan": hưởng, dân), the pair is the courtesy word.
    "hướng dẫn",
    "quy trình",
    "bao nhiêu",
    "bây giờ",
    "làm",
    "cần",
    "những",
    "gì",
    "thủ tục",
    "như",
    "thế",
    "nào",
    "bao",
    "nhiêu",
    "lâu",
    "ở",
    "đâu",
    "muốn",
    "mình",
    "tôi",
    "em",
    "anh",
    "chị",
    "cho",
    "hỏi",
    "xin",
    "ạ",
    "ơi",
    "nhé",
    "nha",
    "với",
    "thì",
    "là",
    "để",
    "được",
    "không",
    "có",
    "của",
    "và",
    "các",
    "mới",
    "đi",
    "phải",
    "sao",
    "gồm",
    "mang",
    "theo",
    "tiền",
    "phí",
    "lệ phí",
    "giấy tờ",
    "hồ sơ",
    "ạh",
    "vậy",
    "giúp",
    "hướng",
    "dẫn",
    "cách",
    "quy",
    "trình",
    "bây",
    "giờ",
    "hiện",
    "nay",
    "bé",
    "con",
    "cháu",
    "ông",
    "bà",
    "bố",
    "mẹ",
    "vợ",
    "chồng",
    "thân",
    "năm",
    "ngày",
    "khi",
    "nếu",
    "rồi",
    "đã",
    "sẽ",
    "đang",
    "nữa",
    "hay",
    "hoặc",
    "vẫn",
    "xong",
    "cảm",
    "ơn",
    "cám",
    "chào",
    "xin chào",
    "hello",
    "hi",
    "ok",
    "oke",
    "okela",
    "alo",
    "thanks",
    "thank",
    "bạn",
    "hihi",
    "haha",
    "hehe",
    "kkk",
    "kk",
    "hì",
    "dạ",
    "vâng",
    "à",
    "ừ",
    "ư",
    "nhỉ",
    "hả",
    "chứ",
    "mà",
    "nhỏ",
    "mất bao lâu",
    "ra",
    "vào",
    "lên",
    "xuống",
    "ai",
    "chỗ",
    "nơi",
    "đến",
    "tại",
    "về",
    "trên",
    "tuần",
    "tháng",
    "hôm",
    "qua",
    "tối",
    "sáng",
    "chiều",
    "nhất",
    "rẻ",
    "đắt",
    "nhanh",
    "giá",
    "ad",
    "admin",
    "app",
}


def read_context_words(text: str) -> list[str]:
    """Entries of a context-word list: one per line, ``#`` starts a comment, order kept."""
    out: list[str] = []
    for line in text.splitlines():
        entry = " ".join(line.split("#", 1)[0].lower().split())
        if entry and entry not in out:
            out.append(entry)
    return out


CONTEXT: list[str] = read_context_words(
    resources.files("procedures.data").joinpath(CONTEXT_FILE).read_text(encoding="utf-8")
)
"""Words and phrases that tell the story around a need (who, where, when, hearsay)."""


OFF_TOPIC: list[str] = read_context_words(
    resources.files("procedures.data").joinpath(OFF_TOPIC_FILE).read_text(encoding="utf-8")
)
"""Phrases of shopping, market and everyday-life questions ("giá vàng hôm nay", "quán nào
ngon"): a message holding one is no question about a procedure. "…" joins two parts."""


def read_sections(text: str) -> dict[str, list[str]]:
    """Entries of a list in ``[section]`` parts (as :func:`read_context_words` reads each)."""
    sections: dict[str, list[str]] = {}
    name = ""
    lines: list[str] = []
    for line in [*text.splitlines(), "[]"]:
        header = line.strip()
        if header.startswith("[") and header.endswith("]"):
            if name:
                sections[name] = read_context_words("\n".join(lines))
            name, lines = header[1:-1].strip(), []
        else:
            lines.append(line)
    return sections


_PERSON_NAMES = read_sections(
    resources.files("procedures.data").joinpath(PERSON_NAMES_FILE).read_text(encoding="utf-8")
)
SURNAMES: list[str] = _PERSON_NAMES["surnames"]
"""Common Vietnamese surnames: a message of 2–4 words that starts with one and forms no word
pair of the catalogue is a person's name, not a search (``data/person_names.txt``)."""
MIDDLE_NAMES: list[str] = _PERSON_NAMES["middle names"]
"""Common middle names (Văn, Thị, Đức…): the second word of a name of 3 or 4 words."""


ADDRESS_WORDS: list[str] = read_context_words(
    resources.files("procedures.data").joinpath(ADDRESS_WORDS_FILE).read_text(encoding="utf-8")
)
"""Words that open a part of an address ("số", "ngõ", "phường"): a message that is only an
address gets no procedure (``data/address_words.txt``)."""


AUDIENCES: dict[tuple[str, ...], list[str]] = {
    tuple(" ".join(word.split()) for word in header.split(",") if word.strip()): codes
    for header, codes in read_sections(
        resources.files("procedures.data").joinpath(AUDIENCES_FILE).read_text(encoding="utf-8")
    ).items()
}
"""The words that name a group of people → the codes of the procedures only for that group,
although their names do not say so (``data/audiences.txt``)."""
