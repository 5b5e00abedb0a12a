"""Pure dossier rules: code normalisation and detection, phones, masking, overdue, and what
the card and the letters say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.db.dossiers import (
    Dossier,
    DossierEvent,
    Status,
    code_key,
    find_code,
    is_overdue,
    normalize_code,
    normalize_phone,
)
from handlers.dossiers import describe, event_message, mask_name, mask_phone
from handlers.texts import text
from tests.conftest import make_settings

TZ = "Asia/Ho_Chi_Minh"


@pytest.mark.parametrize(("raw", "expected"), [
    ("000.00.01.H29-240115-0001", "000.00.01.H29-240115-0001"),
    ("000.00.01.h29-240115-0001", "000.00.01.H29-240115-0001"),
    ("  000.00.01.H29 - 240115 - 0001. ", "000.00.01.H29-240115-0001"),
    ("000.00.01.H29–240115—0001", "000.00.01.H29-240115-0001"),
    ("«000.00.01.H29-240115-0001»", "000.00.01.H29-240115-0001"),
    ("03706/2026/07906", "03706/2026/07906"),
    ("03706 / 2026 / 07906", "03706/2026/07906"),
    ("０３７０６／２０２６／０７９０６", "03706/2026/07906"),
    ("HS_2024_000123", "HS-2024-000123"),
])
def test_codes_are_normalised(raw: str, expected: str) -> None:
    assert normalize_code(raw) == expected


@pytest.mark.parametrize("raw", ["", "abc", "làm giấy khai sinh", "12", "x" * 70, "A-B-C",
                                 "hồ sơ?"])
def test_things_that_are_not_codes(raw: str) -> None:
    assert normalize_code(raw) is None


def test_the_key_ignores_case_and_separators() -> None:
    assert code_key("000.00.01.h29-240115-0001") == code_key("000.00.01.H29 240115 0001")
    assert code_key("03706/2026/07906") == "03706202607906"


@pytest.mark.parametrize(("message", "code"), [
    ("000.00.01.H29-240115-0001", "000.00.01.H29-240115-0001"),
    ("hồ sơ 000.00.01.h29-240115-0001 của tôi đến đâu rồi", "000.00.01.H29-240115-0001"),
    ("mã hồ sơ: 000.00.01.H29 240115 0001", "000.00.01.H29-240115-0001"),
    ("tra ho so 03706/2026/07906", "03706/2026/07906"),
    ("G12.34-260105-0012", "G12.34-260105-0012"),
    ("kiểm tra HS-2024-000123 giúp em", "HS-2024-000123"),
])
def test_codes_are_found_in_free_text(message: str, code: str) -> None:
    assert find_code(message) == code


@pytest.mark.parametrize("message", [
    "làm giấy khai sinh cho con", "cccd", "1.000894", "thủ tục 1.000894.000.00.00.H29",
    "ngày 15/01/2024", "sdt 0912.345.678", "0912345678", "đăng ký kết hôn năm 2026",
    "15-01-2024", "tôi nộp hồ sơ hôm 15/1 mà chưa thấy gì, mã là gì tôi cũng không nhớ rõ "
    "vì đã lâu lắm rồi không xem lại 000.00.01.H29-240115-0001",
])
def test_procedure_questions_dates_and_phones_are_not_codes(message: str) -> None:
    assert find_code(message) is None


@pytest.mark.parametrize(("raw", "phone"), [
    ("0912 345 678", "0912345678"), ("+84 912 345 678", "0912345678"),
    ("84912345678", "0912345678"), ("(024) 3825.1234", "02438251234"),
    ("12", None), ("09123abc78", None),
])
def test_phones(raw: str, phone: str | None) -> None:
    assert normalize_phone(raw) == phone


def test_masks_never_show_the_full_name_or_phone() -> None:
    assert mask_name("Nguyễn Văn An") == "Nguyễn V. A."
    assert mask_name("Lê Thị Thu Hà") == "Lê T. T. H."
    assert mask_name("An") == "A."
    assert mask_phone("0912345678") == "09******78"
    assert mask_phone("02438251234") == "02*******34"


NOW = datetime(2026, 3, 16, 3, 0, tzinfo=UTC)  # Monday 10:00 in Hà Nội


@pytest.mark.parametrize(("status", "due_offset", "overdue"), [
    ("processing", -1, True), ("processing", 1, False), ("received", -1, True),
    ("delayed", -1, True), ("waiting_payment", -1, False),
    ("result_ready", -1, False), ("returned", -1, False), ("rejected", -1, False),
    ("withdrawn", -1, False), ("need_more_info", -1, False),
])
def test_overdue_is_derived_from_the_date_and_status(status: str, due_offset: int,
                                                     overdue: bool) -> None:
    assert is_overdue(status, NOW + timedelta(hours=due_offset), NOW) is overdue


def make_dossier(**overrides: object) -> Dossier:
    values: dict[str, object] = dict(
        id=7, key="X", code="000.00.01.H29-260305-0001", procedure_code="1.000894",
        procedure_name="Đăng ký kết hôn", applicant_name="Nguyễn Văn An", phone="0912345678",
        received_at=datetime(2026, 3, 5, 2, 0, tzinfo=UTC),
        due_at=datetime(2026, 3, 18, 10, 0, tzinfo=UTC), status="processing",
        status_at=datetime(2026, 3, 6, 2, 0, tzinfo=UTC), note="")
    values.update(overrides)
    return Dossier(**values)


def test_the_card_counts_working_days_left() -> None:
    card = text("dossiers.card", v=describe(make_dossier(), [], None, NOW, TZ))
    assert "Còn 2 ngày làm việc" in card
    assert "Nguyễn V. A." in card and "09******78" in card
    assert "Nguyễn Văn An" not in card and "0912345678" not in card
    assert "Đang xử lý" in card and "Đăng ký kết hôn" in card
    assert "thứ Tư, 18/03/2026" in card


def test_the_card_says_overdue_and_apologises() -> None:
    dossier = make_dossier(due_at=datetime(2026, 3, 12, 10, 0, tzinfo=UTC))
    card = text("dossiers.card", v=describe(dossier, [], None, NOW, TZ))
    assert "quá ngày hẹn trả 2 ngày làm việc" in card and "xin lỗi" in card
    assert "Còn" not in card


def test_the_card_shows_a_delay_with_the_new_date_and_reason() -> None:
    delay = DossierEvent(status="delayed", at=datetime(2026, 3, 17, 2, tzinfo=UTC), note="",
                         new_due_at=datetime(2026, 3, 25, 10, 0, tzinfo=UTC),
                         reason="Chờ xác minh nhân thân")
    dossier = make_dossier(status="delayed", due_at=delay.new_due_at)
    card = text("dossiers.card", v=describe(dossier, [delay], delay, NOW, TZ))
    assert "(đã hẹn lại)" in card and "Chờ xác minh nhân thân" in card
    assert "thứ Tư, 25/03/2026" in card and "Đang xử lý (đã hẹn lại ngày trả)" in card


@pytest.mark.parametrize(("status", "words"), [
    ("result_ready", "đến nhận tại Trung tâm Phục vụ hành chính công"),
    ("need_more_info", "bổ sung"),
    ("waiting_payment", "nghĩa vụ tài chính"),
    ("rejected", "Phiếu từ chối"),
])
def test_the_card_says_what_to_do_next(status: str, words: str) -> None:
    card = text("dossiers.card", v=describe(make_dossier(status=status), [], None, NOW, TZ))
    assert words in card


def test_every_status_has_a_vietnamese_label() -> None:
    labels = {text("dossiers.status_label", status=s.value) for s in Status}
    assert len(labels) == len(Status)
    assert text("dossiers.status_label", status="waiting_payment") == (
        "Chờ thực hiện nghĩa vụ tài chính")
    assert [text("dossiers.status_label", status=s) for s in ("delayed", "rejected",
                                                              "withdrawn")] == [
        "Đang xử lý (đã hẹn lại ngày trả)", "Từ chối giải quyết", "Đã rút hồ sơ"]


def test_the_apology_slip_in_the_form_of_the_agency() -> None:
    dossier = make_dossier(status="delayed", due_at=datetime(2026, 3, 25, 10, tzinfo=UTC),
                           commune_code="4543")
    event = DossierEvent(id=3, status="delayed", at=NOW, note="",
                         new_due_at=datetime(2026, 3, 25, 10, 0, tzinfo=UTC),
                         previous_due_at=datetime(2026, 3, 18, 10, 0, tzinfo=UTC),
                         reason="Chờ ý kiến của Sở Tư pháp.")
    message = event_message(dossier, event, make_settings("sqlite+aiosqlite:///x.db"))
    lines = message.text.splitlines()
    assert lines[:5] == ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "",
                         "ỦY BAN NHÂN DÂN", "PHƯỜNG ÂU LÂU"]
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in lines
    assert "Kính gửi: Ông/Bà" in lines
    assert ("Ủy ban nhân dân phường Âu Lâu đã tiếp nhận hồ sơ 000.00.01.H29-260305-0001 của "
            "Ông/Bà (thủ tục Đăng ký kết hôn) vào 09 giờ 00, thứ Năm, ngày 05/03/2026; ngày hẹn "
            "trả kết quả ghi trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả là 17 giờ 00, thứ Tư, "
            "ngày 18/03/2026.") in lines
    assert "Lý do: Chờ ý kiến của Sở Tư pháp." in message.text
    assert ("xin lỗi Ông/Bà và mong nhận được sự thông cảm." in message.text)
    assert ("hẹn trả kết quả giải quyết hồ sơ cho Ông/Bà vào 17 giờ 00, thứ Tư, ngày "
            "25/03/2026.") in message.text
    assert "Thứ" not in message.text  # no capital "Thứ" in the middle of a sentence
    assert "Âu Lâu, ngày 16 tháng 3 năm 2026" in lines
    assert lines[-4:] == ["Trân trọng./.", "", "TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"]
    assert "Nguyễn" not in message.text
    assert [b.action for b in message.flat_buttons()] == ["dossier:view:7", "dossier:unsub:7"]


def test_waiting_for_a_payment_pauses_the_clock() -> None:
    dossier = make_dossier(status="waiting_payment", due_at=datetime(2026, 3, 10, 10, tzinfo=UTC))
    card = text("dossiers.card", v=describe(dossier, [], None, NOW, TZ))
    assert "nghĩa vụ tài chính" in card
    assert "quá ngày" not in card and "xin lỗi" not in card and "Còn" not in card


def test_the_card_shows_what_to_supplement() -> None:
    request = DossierEvent(status="need_more_info", at=datetime(2026, 3, 10, 2, tzinfo=UTC),
                           note="Bổ sung bản sao giấy khai sinh")
    card = text("dossiers.card", v=describe(make_dossier(status="need_more_info"), [request],
                                            None, NOW, TZ))
    assert "• Ghi chú: Bổ sung bản sao giấy khai sinh" in card
    assert "tạm dừng" in card and "Còn" not in card and "quá ngày" not in card


def test_imports_read_the_labels_old_and_new() -> None:
    from bot.dossiers_cli import _status_names

    names = _status_names()
    for label, status in (("tu choi giai quyet", "rejected"), ("tu choi", "rejected"),
                          ("da rut ho so", "withdrawn"), ("rut ho so", "withdrawn"),
                          ("dang xu ly (da hen lai ngay tra)", "delayed"),
                          ("xin loi va hen lai", "delayed"), ("dang xu ly", "processing")):
        assert names[label] == status, label
