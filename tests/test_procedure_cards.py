"""What a citizen reads on a procedure card: every card, section and case of the everyday
(curated) procedures is free of internal notes, glued list marks, staff-only instructions and
abolished government levels; document lists lead with what everybody brings and ask which case
applies; fees are the ones in force; names on cards and buttons are short and never cut
mid-word. The importer repairs the snapshot's list marks where the record is read."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from bot.app import bundled_index
from bot.config import Settings
from bot.db.session import Database
from bot.messages import Outgoing
from bot.router import Core
from handlers import build_router
from handlers.procedures import LABEL_LIMIT
from procedures.catalogue import load_bundled
from procedures.curated import curated_codes
from procedures.display import ABOLISHED_LEVEL, current_levels, cut_at_word, steps_view
from procedures.importer.sections import parse_documents
from tests.dialog import Dialog, actions, labels, texts

INTERNAL = re.compile(r"DOMAIN|§|bản ghi|nguồn thứ cấp|chưa xác nhận|\[[USC]\]|TODO", re.I)
GLUED = re.compile(r"\b(?:sao|chính|chụp)[a-zđ][.)]")
DOUBLE_BULLET = re.compile(r"^\s*[-+•]\s*[-+•]", re.M)
# Instructions to the receiving officer ("Người tiếp nhận có trách nhiệm…, không được yêu cầu…");
# the steps may still say what the officer does next ("Cán bộ tiếp nhận kiểm tra hồ sơ").
STAFF_ONLY = re.compile(
    r"tiếp nhận(?: hồ sơ)? có trách nhiệm|có trách nhiệm tiếp nhận"
    r"|không được yêu cầu (?:người|nộp)",
    re.I,
)
SECTIONS = ("docs", "fees", "where", "steps", "legal")


@pytest.fixture
async def core(settings: Settings) -> AsyncIterator[Core]:
    db = Database(settings.database_url)
    yield Core(settings, db, build_router(), services={"catalogue": bundled_index()})
    await db.dispose()


async def everything_shown(dialog: Dialog, code: str) -> list[Outgoing]:
    """The card, each section, and the documents of each case, as the citizen opens them."""
    shown = await dialog.press(f"proc:{code}")
    for section in SECTIONS:
        replies = await dialog.press(f"proc:{code}:{section}")
        shown += replies
        for action in actions(replies):
            if action.startswith(f"proc:{code}:docs:"):
                shown += await dialog.press(action)
    return shown


async def test_every_curated_card_reads_clean(core: Core) -> None:
    dialog = Dialog(core)
    codes = sorted(curated_codes())
    assert len(codes) >= 75
    faults: list[str] = []
    for code in codes:
        shown = await everything_shown(dialog, code)
        words = texts(shown) + "\n" + "\n".join(labels(shown))
        for name, pattern in [("internal note", INTERNAL), ("glued list mark", GLUED),
                              ("double bullet", DOUBLE_BULLET), ("staff-only", STAFF_ONLY),
                              ("abolished level", ABOLISHED_LEVEL)]:
            if match := pattern.search(words):
                start = max(match.start() - 40, 0)
                faults.append(f"{code} {name}: …{words[start : match.end() + 40]}…")
        for label in labels(shown):
            if len(label) > LABEL_LIMIT:
                faults.append(f"{code} label too long: {label}")
    assert not faults, "\n".join(faults)


async def test_marriage_documents_start_with_the_form(core: Core) -> None:
    documents = texts(await Dialog(core).press("proc:1.000894:docs"))
    first = next(line for line in documents.splitlines() if line.startswith("- "))
    assert first.startswith("- Tờ khai đăng ký kết hôn")
    assert documents.index("Giấy tờ phải nộp") < documents.index("Giấy tờ phải xuất trình")
    assert "cùng có mặt" in documents
    assert "Mẫu đơn, tờ khai: anh/chị tải tại trang chính thức https://dichvucong.gov.vn/" in (
        documents)


async def test_birth_documents_lead_with_the_form_and_the_birth_certificate(core: Core) -> None:
    documents = texts(await Dialog(core).press("proc:1.001193:docs"))
    items = [line for line in documents.splitlines() if line.startswith("- ")]
    assert items[0].startswith("- Tờ khai đăng ký khai sinh")
    assert items[1].startswith("- Giấy chứng sinh")
    assert any("bỏ rơi" in item for item in items[2:])


@pytest.mark.parametrize("channel", ["telegram", "zalo_oa", "zalo_bot", "web", "console"])
async def test_several_cases_ask_which_one_applies(core: Core, channel: str) -> None:
    dialog = Dialog(core, channel=channel, chat_id=f"cases-{channel}")
    replies = await dialog.press("proc:1.004222:docs")  # thường trú: own house, relatives…
    documents = texts(replies)
    assert "Anh/chị thuộc trường hợp nào?" in documents
    assert documents.count("\n- ") >= 1 and "CT01" in documents  # what everybody brings
    assert "Nhà thuê, mượn, ở nhờ" in labels(replies)
    assert "Giấy chứng nhận đăng ký phương tiện" not in documents  # house-boats: only if chosen
    rented = next(a for r in replies for b in r.flat_buttons()
                  if b.label == "Nhà thuê, mượn, ở nhờ" and (a := b.action))
    case = texts(await dialog.press(rented))
    assert "Trường hợp: Nhà thuê, mượn, ở nhờ" in case
    assert "Hợp đồng, văn bản cho thuê" in case and "CT01" in case
    assert "Giấy chứng nhận đăng ký phương tiện" not in case
    assert "trường hợp nào?" not in case


@pytest.mark.parametrize("number", ["99", "0", "-1", "2²", "9" * 25, "x"])
async def test_a_case_number_out_of_range_asks_again(core: Core, number: str) -> None:
    documents = texts(await Dialog(core).press(f"proc:1.004222:docs:{number}"))
    assert "Anh/chị thuộc trường hợp nào?" in documents


async def test_temporary_residence_fees(core: Core) -> None:
    fees = texts(await Dialog(core).press("proc:1.004194:fees"))
    in_person, online = fees.split("Trực tuyến:")
    assert "15.000 đồng/lần" in in_person and "7.000 đồng/lần" in online
    assert "10.000 đồng/người" not in online
    extension = texts(await Dialog(core).press("proc:1.002755:fees"))
    assert "15.000 đồng/lần" in extension and "7.000 đồng/lần" in extension


async def test_fees_of_land_transfer_identity_card_and_birth(core: Core) -> None:
    dialog = Dialog(core)
    land = texts(await dialog.press("proc:1.013831:fees"))
    assert "Miễn phí" not in land
    assert "lệ phí trước bạ" in land.lower() and "thuế thu nhập cá nhân" in land.lower()
    card = texts(await dialog.press("proc:1.014063:fees"))
    lines = [line for line in card.splitlines() if line.startswith("- ") and "đồng" in line]
    assert "25.000 đồng/thẻ" in lines[0] and "31/12/2026" in lines[0]
    birth = texts(await dialog.press("proc:1.001193:fees"))
    assert "60 ngày" in birth and "quá hạn" in birth


async def test_unconfirmed_facts_read_as_a_plain_sentence(core: Core) -> None:
    fees = texts(await Dialog(core).press("proc:1.013831:fees"))
    assert "(*) Thông tin này đang được cán bộ kiểm tra lại" in fees
    assert "Trung tâm Phục vụ hành chính công" in fees


def test_no_record_says_free_where_it_means_as_the_law_sets() -> None:
    faults = [
        f"{p.code}: {fee.note[:60]}"
        for p in load_bundled()
        for channel in p.channels
        for fee in channel.fees
        if fee.kind == "free"
        and re.search(r"theo quy định|luật phí và lệ phí", fee.note, re.I)
        and not re.search(r"miễn|không thu", fee.note, re.I)
    ]
    assert not faults, faults


def test_abolished_levels_are_shown_as_today_and_kept_in_the_data() -> None:
    assert current_levels("Ủy ban Nhân dân xã, phường, thị trấn") == "Ủy ban Nhân dân xã, phường"
    assert current_levels("Bảo hiểm xã hội cấp huyện") == "Bảo hiểm xã hội cơ sở"
    assert current_levels("UBND cấp huyện") == "UBND cấp xã"
    assert not ABOLISHED_LEVEL.search(current_levels("địa bàn huyện; Công an xã, thị trấn"))
    marriage = next(p for p in load_bundled() if p.code == "1.000894")
    assert "thị trấn" in " ".join(marriage.agencies)  # the record's own words


def test_labels_are_cut_after_a_whole_word() -> None:
    name = "Đăng ký thường trú vào chỗ ở hợp pháp thuộc quyền sở hữu của mình"
    short = cut_at_word(name, 40)
    assert short.endswith("…") and len(short) <= 40
    assert name.startswith(short[:-1]) and name[len(short) - 1] == " "
    assert cut_at_word("Ngắn", 40) == "Ngắn"


async def test_search_results_and_cards_use_short_names(core: Core) -> None:
    dialog = Dialog(core)
    replies = await dialog.say("dang ky thuong tru")
    assert "Đăng ký thường trú (Cấp xã)" in labels(replies)
    card = texts(await dialog.press("proc:1.013225"))
    assert card.startswith("Giấy phép xây dựng nhà ở, công trình mới\n")
    assert "Tên đầy đủ: Cấp giấy phép xây dựng mới" in card
    steps = texts(await dialog.press("proc:1.013225:steps"))
    assert steps.startswith("Trình tự thực hiện — Giấy phép xây dựng nhà ở, công trình mới")


def test_the_importer_splits_glued_list_marks_and_sets_staff_instructions_apart() -> None:
    header = "Tên giấy tờMẫu đơn, tờ khaiSố lượng"
    text = (
        f"* Giấy tờ phải nộp:{header}a) Tờ khai theo mẫu1 bản chínhb) Hóa đơn thương mại1 bản sao"
        f"c) Vận tải đơn1 bản chụp* Lưu ý:{header}+ Người tiếp nhận có trách nhiệm kiểm tra hồ sơ."
        "0 bản chính- + Bản chụp phải rõ nét.0 bản chính"
    )
    documents = parse_documents(text, "test", [])
    assert [d.name for d in documents] == [
        "Tờ khai theo mẫu", "Hóa đơn thương mại", "Vận tải đơn",
        "Người tiếp nhận có trách nhiệm kiểm tra hồ sơ.", "Bản chụp phải rõ nét.",
    ]
    assert [d.copy_kind for d in documents[:3]] == ["original", "copy", "photocopy"]
    assert [d.requirement for d in documents[3:]] == ["staff", "note"]


def test_no_glued_list_mark_is_left_in_the_bundled_catalogue() -> None:
    glued = [
        f"{p.code}: {d.name[:50]}"
        for p in load_bundled()
        for d in p.documents
        if GLUED.match(d.name) or GLUED.match(d.group) or DOUBLE_BULLET.match(d.name)
    ]
    assert not glued, glued[:10]


async def test_photocopies_are_named(core: Core) -> None:
    procedure = next(p for p in load_bundled()
                     if any(d.copy_kind == "photocopy" and d.requirement == "submit"
                            for d in p.documents) and p.code not in curated_codes())
    shown = texts(await everything_shown(Dialog(core), procedure.code))
    assert "bản chụp" in shown


async def test_a_recorded_case_heading_reads_as_a_choice(core: Core) -> None:
    """Outside the curated list the cases are the record's own headings, said shortly."""
    replies = await Dialog(core).press("proc:1.004845:docs")  # chấm dứt giám hộ: no cases
    assert "trường hợp nào" not in texts(replies)
    licence = await Dialog(core).press("proc:1.000239:docs")  # "Trường hợp giấy phép hết hạn…"
    choices = [b.label for r in licence for b in r.flat_buttons()
               if b.action and b.action.startswith("proc:1.000239:docs:")]
    assert choices[0] == "Giấy phép hết hạn hiệu lực"
    assert all(not c.lower().startswith(("trường hợp", "đối với")) for c in choices)
    assert all(not c.endswith((":", "gồm")) for c in choices)


def test_steps_leave_out_instructions_to_the_officer() -> None:
    procedure = next(p for p in load_bundled() if p.code == "1.004746")  # đăng ký lại kết hôn
    assert any("người tiếp nhận có trách nhiệm" in s.lower() for s in procedure.steps)  # kept
    shown = steps_view(procedure)
    assert shown and not any(STAFF_ONLY.search(step) for step in shown)
    assert not any(DOUBLE_BULLET.search(step) for step in shown)
    assert any(step.startswith("Nếu lựa chọn hình thức nộp hồ sơ trực tiếp") for step in shown)
