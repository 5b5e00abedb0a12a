"""Vietnamese normalisation: NFC/NFD, tone placement, đ look-alikes, Telex and VNI leftovers."""

from __future__ import annotations

import unicodedata

import pytest

from procedures.normalize import (
    accent_key,
    canonical,
    clean,
    decode_telex,
    decode_vni,
    find_code,
    fold,
    has_diacritics,
    place_tone,
    tokens,
)


def test_nfd_and_nfc_text_are_the_same_words() -> None:
    nfd = unicodedata.normalize("NFD", "Đăng ký khai sinh")
    assert clean(nfd) == clean("Đăng ký khai sinh") == "đăng ký khai sinh"


def test_a_tone_typed_before_the_hat_still_makes_one_letter() -> None:
    # "o" + acute + circumflex (the tone first) composes to "ó" and a stray hat, which split
    # the word in two ("bắt buó", "c").
    tone_first = "bắt buo\u0301\u0302c đổi nghie\u0323\u0302p"
    assert clean(tone_first) == "bắt buốc đổi nghiệp"
    assert tokens(tone_first) == ["bắt", "buốc", "đổi", "nghiệp"]


@pytest.mark.parametrize("lookalike", ["Ðăng ký", "ðăng ký", "Ɖăng ký", "ĐĂNG KÝ"])
def test_d_lookalikes_and_case(lookalike: str) -> None:
    assert clean(lookalike) == "đăng ký"
    assert fold(lookalike) == "dang ky"


def test_old_and_new_tone_placement_share_an_accent_key() -> None:
    assert accent_key("hoà") == accent_key("hòa") == "hoa2"
    assert accent_key("thuý") == accent_key("thúy")
    assert accent_key("khoẻ") == accent_key("khỏe")
    assert canonical("Hòa bình, sức khỏe") == "hoà bình, sức khoẻ"


def test_accent_key_keeps_vowel_marks_and_tone() -> None:
    assert accent_key("vàng") != accent_key("vắng")
    assert accent_key("đăng") == "đăng"
    assert accent_key("ký") == "ky1"


@pytest.mark.parametrize(
    ("base", "tone", "expected"),
    [
        ("hoa", 2, "hoà"),
        ("thuy", 1, "thuý"),
        ("nguyên", 3, "nguyển"),
        ("mia", 1, "mía"),
        ("qua", 3, "quả"),
        ("gia", 2, "già"),
        ("giêng", 1, "giếng"),
        ("người", 0, "người"),
        ("trương", 2, "trường"),
    ],
)
def test_tone_placement(base: str, tone: int, expected: str) -> None:
    assert place_tone(base, tone) == expected


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("ddawng", "đăng"),
        ("kys", "ký"),
        ("keets", "kết"),
        ("hoon", "hôn"),
        ("cuwowcs", "cước"),
        ("dduwowcj", "được"),
        ("nguwowif", "người"),
        ("hoaf", "hoà"),
        ("tamj", "tạm"),
        ("nhw", "như"),
    ],
)
def test_telex_leftovers(typed: str, meant: str) -> None:
    assert decode_telex(typed) == meant


@pytest.mark.parametrize("word", ["visa", "online", "cccd", "gplx", "sinh", "kinh"])
def test_telex_leaves_ordinary_words_alone(word: str) -> None:
    assert decode_telex(word) is None


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("d9a8ng", "đăng"),
        ("ky1", "ký"),
        ("ke6t1", "kết"),
        ("ke6t", "kêt"),
        ("cu7o71c", "cước"),
        ("tu73", "tử"),
    ],
)
def test_vni_leftovers(typed: str, meant: str) -> None:
    assert decode_vni(typed) == meant


def test_vni_leaves_numbers_and_codes_alone() -> None:
    assert decode_vni("2026") is None
    assert decode_vni("ct07") is None
    assert decode_vni("b2") is None


def test_tokens_drop_punctuation() -> None:
    assert tokens("Làm CCCD, ở đâu???") == ["làm", "cccd", "ở", "đâu"]


def test_has_diacritics() -> None:
    assert has_diacritics("đăng ký")
    assert not has_diacritics("dang ky")


@pytest.mark.parametrize("text", ["mã 1.001193 nhé", "1,001193", "thủ tục 1. 001193"])
def test_find_code(text: str) -> None:
    assert find_code(text) == "1.001193"


def test_shorthand_joined_by_an_ampersand_is_one_word() -> None:
    assert tokens("tổ chức KH&CN") == ["tổ", "chức", "khcn"]
    assert tokens("Sở TN&MT tỉnh") == ["sở", "tnmt", "tỉnh"]
    assert tokens("m&a công ty") == ["m", "a", "công", "ty"]  # one letter: "ma" is a word
    assert tokens("Bố & mẹ") == ["bố", "mẹ"]
