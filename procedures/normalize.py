"""Vietnamese text normalisation for search: NFC, đ look-alikes, case, tone marks, IME leftovers.

Three forms of a word are used:

- the *folded* form: lower case, no diacritics at all, đ → d (``"Đăng" → "dang"``); matching
  is done on it, because many citizens type without accents;
- the *accent key*: the letters with their vowel marks (â ă ê ô ơ ư đ) and the tone as a digit
  (``"hoà"`` and ``"hòa"`` → ``"hoa2"``), independent of where the tone mark was placed (old or
  new style); it gives a bonus when the accents a citizen typed match the catalogue's;
- the *canonical* form: NFC, lower case, tone placed by the modern rule; for display and tests.

Telex (``"ddawng kys"``) and VNI (``"d9a8ng ky1"``) leftovers are decoded by
:func:`decode_telex` and :func:`decode_vni`; the search decides when to trust them (only when
the decoded word exists in the catalogue's vocabulary).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Combining marks that carry the tone (sắc, huyền, hỏi, ngã, nặng) and the deprecated
# combining tone marks some keyboards emit.
TONE_MARKS = {
    "\u0301": 1,  # sắc
    "\u0300": 2,  # huyền
    "\u0309": 3,  # hỏi
    "\u0303": 4,  # ngã
    "\u0323": 5,  # nặng
}
_TONE_OF_MARK = {**TONE_MARKS, "\u0341": 1, "\u0340": 2}
_MARK_OF_TONE = {tone: mark for mark, tone in TONE_MARKS.items()}

# Everything that looks like đ/Đ: Latin eth, African D, retroflex d.
_D_LOOKALIKES = str.maketrans(
    {
        "Đ": "đ",
        "Ð": "đ",
        "ð": "đ",
        "Ɖ": "đ",
        "ɖ": "đ",
        "\u0340": "\u0300",
        "\u0341": "\u0301",
    }
)

_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
_JOINED = re.compile(r"\b([^\W\d_]{2,4})&([^\W\d_]{2,4})\b")
CODE_RE = re.compile(r"\b([123])\s?[.,]\s?(\d{6})\b")

_VOWELS = set("aăâeêioôơuưy")
ONSET = "ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnprstvx]"
FINAL = "ch|nh|ng|[cmnpt]"
SYLLABLE = re.compile(rf"({ONSET})?([aăâeêioôơuưy]{{1,3}})({FINAL})?\d?")
"""The shape of a Vietnamese syllable, folded or as an accent key (its tone a digit): an onset,
one to three vowels, a final."""


@lru_cache(maxsize=64)
def clean(text: str) -> str:
    """NFC, lower case, đ look-alikes unified, whitespace collapsed. Remembered for a few
    texts: one search cleans its query (and each sentence of a long one) a dozen times."""
    text = unicodedata.normalize("NFD", text).translate(_D_LOOKALIKES)
    text = unicodedata.normalize("NFC", text).lower()
    if _MARK.search(text):  # a mark left over: typed before the hat it belongs after?
        text = composed(text)
    return " ".join(text.split())


_MARK = re.compile("[\u0300-\u036f]")
_MARKS = re.compile("[\u0300-\u036f]{2,}")
_VOWEL_MARKS = frozenset("\u0302\u0306\u031b")  # â ê ô, ă, ơ ư


def composed(text: str) -> str:
    """NFC, each vowel's hat, breve or horn put before its tone, as a keyboard composes the
    letter: marks in any order make one letter ("o" + acute + circumflex is "ố")."""
    return unicodedata.normalize(
        "NFC", _MARKS.sub(_hat_before_tone, unicodedata.normalize("NFD", text))
    )


def _hat_before_tone(marks: re.Match[str]) -> str:
    """A vowel's marks with its hat, breve or horn first: typed or decomposed with the tone
    first ("ó" + hat), they would not compose into one letter ("ố") and split the word."""
    return "".join(sorted(marks[0], key=lambda mark: mark not in _VOWEL_MARKS))


@lru_cache(maxsize=2048)
def fold(text: str) -> str:
    """Lower case without any diacritic: ``"Đăng ký"`` → ``"dang ky"``. Remembered: one
    message is folded by several handlers in turn (command words, greetings, thanks, units,
    the search), and procedure names by the search's clarifying questions."""
    text = unicodedata.normalize("NFD", text.translate(_D_LOOKALIKES).lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.replace("đ", "d")


def has_diacritics(text: str) -> bool:
    """True when the text carries any Vietnamese mark (so the writer used accents)."""
    cleaned = clean(text)
    return fold(cleaned) != cleaned


def split_tone(word: str) -> tuple[str, int]:
    """Return the word without its tone mark (vowel marks kept, NFC) and the tone (0 = none)."""
    decomposed = unicodedata.normalize("NFD", word.translate(_D_LOOKALIKES).lower())
    tone = 0
    kept = []
    for ch in decomposed:
        mark = _TONE_OF_MARK.get(ch)
        if mark is not None:
            tone = mark
            continue
        kept.append(ch)
    return unicodedata.normalize("NFC", "".join(kept)), tone


def accent_key(word: str) -> str:
    """Placement-independent key of a written word: ``"hoà"``/``"hòa"`` → ``"hoa2"``."""
    base, tone = split_tone(word)
    return f"{base}{tone}" if tone else base


def tokens(text: str) -> list[str]:
    """Words of a text in :func:`clean` form (punctuation dropped); shorthand of two
    parts joined by "&" is one word ("kh&cn" → "khcn"; not "m&a")."""
    return list(_tokens(text))


@lru_cache(maxsize=64)
def _tokens(text: str) -> tuple[str, ...]:
    """:func:`tokens`, remembered for a few texts: one search reads its query a dozen times."""
    return tuple(_WORD_RE.findall(_JOINED.sub(r"\1\2", clean(text))))


def folded_tokens(text: str) -> list[str]:
    return _WORD_RE.findall(fold(text))


def find_code(text: str) -> str | None:
    """A procedure code written in the text (``1.001193``, ``1,001193``, ``1. 001193``)."""
    match = CODE_RE.search(text)
    return f"{match.group(1)}.{match.group(2)}" if match else None


# --- tone placement -------------------------------------------------------------------------

_MODIFIED = set("ăâêôơư")


def place_tone(base: str, tone: int) -> str:
    """Put `tone` on the right vowel of a syllable written without tone (modern rule).

    ``place_tone("hoa", 2)`` → ``"hoà"``, ``place_tone("thuy", 1)`` → ``"thuý"``,
    ``place_tone("nguyên", 3)`` → ``"nguyển"``, ``place_tone("mia", 1)`` → ``"mía"``.
    """
    if not tone:
        return base
    chars = list(unicodedata.normalize("NFC", base))
    index = _tone_index(chars)
    if index is None:
        return base
    marked = unicodedata.normalize("NFD", chars[index]) + _MARK_OF_TONE[tone]
    chars[index] = unicodedata.normalize("NFC", marked)
    return "".join(chars)


def _tone_index(chars: list[str]) -> int | None:
    lowered = [c.lower() for c in chars]
    positions = [i for i, c in enumerate(lowered) if c in _VOWELS]
    if not positions:
        return None
    word = "".join(lowered)
    # "qu" and "gi" (before another vowel) are consonants.
    if (
        word.startswith("qu")
        and len(positions) > 1
        and positions[0] == 1
        or word.startswith("gi")
        and len(positions) > 1
        and positions[0] == 1
    ):
        positions = positions[1:]
    modified = [i for i in positions if lowered[i] in _MODIFIED]
    if modified:
        # "ươ": the tone goes on ơ.
        return modified[-1]
    if len(positions) == 1:
        return positions[0]
    last = positions[-1]
    has_final = last < len(lowered) - 1
    if len(positions) >= 3:
        return positions[1]
    if has_final:
        return positions[-1]
    pair = lowered[positions[0]] + lowered[positions[1]]
    if pair in {"oa", "oe", "uy"}:
        return positions[1]
    return positions[0]


def canonical(text: str) -> str:
    """NFC lower case with every tone placed by the modern rule (``"hòa"`` → ``"hoà"``)."""
    out = []
    for part in re.split(r"([^\W_]+)", clean(text)):
        if part and _WORD_RE.fullmatch(part):
            base, tone = split_tone(part)
            out.append(place_tone(base, tone))
        else:
            out.append(part)
    return "".join(out)


# --- IME leftovers --------------------------------------------------------------------------

_KEY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
KEY_NEIGHBOURS = {
    letter: "".join(
        _KEY_ROWS[r][c]
        for r in (row - 1, row, row + 1)
        for c in (col - 1, col, col + 1)
        if 0 <= r < 3 and 0 <= c < len(_KEY_ROWS[r]) and (r, c) != (row, col)
    )
    for row, keys in enumerate(_KEY_ROWS)
    for col, letter in enumerate(keys)
}
"""The letters next to each letter on a keyboard (a phone's is QWERTY too): what a slip of the
finger types instead ("siny" for sinh) or beside it ("khyai")."""

_TELEX_TONES = {"s": 1, "f": 2, "r": 3, "x": 4, "j": 5}
_CIRCUMFLEX = {"a": "â", "e": "ê", "o": "ô"}
_BREVE_HORN = {"a": "ă", "o": "ơ", "u": "ư"}
_TELEX_HINT = re.compile(r"dd|aa|ee|oo|aw|ow|uw|w|[aeiouy][a-z]*[sfrxj]$")


def looks_like_telex(word: str) -> bool:
    return word.isascii() and word.isalpha() and bool(_TELEX_HINT.search(word))


def decode_telex(word: str) -> str | None:
    """Decode a Telex leftover: ``"ddawng"`` → ``"đăng"``, ``"kys"`` → ``"ký"``.

    Returns None when the word does not decode to something syllable-like.
    """
    word = word.lower()
    if not looks_like_telex(word):
        return None
    tone = 0
    letters: list[str] = []
    seen_vowel = False
    for ch in word:
        if seen_vowel and ch in _TELEX_TONES:
            tone = _TELEX_TONES[ch]
            continue
        if ch in "aeiouy":
            seen_vowel = True
        letters.append(ch)
    text = "".join(letters)
    if text.startswith("dd"):
        text = "đ" + text[2:]
    for double, mark in (("aa", "â"), ("ee", "ê"), ("oo", "ô")):
        text = text.replace(double, mark)
    text = re.sub("uw?ow", "ươ", text, count=1)
    if "w" in text:
        applied = _apply_w(text)
        if applied is None:
            return None
        text = applied
    if not any(c in _VOWELS for c in text) or not text.isalpha():
        return None
    return place_tone(text, tone)


def _apply_w(text: str) -> str | None:
    count = text.count("w")
    text = text.replace("w", "")
    if count > 1:
        return None
    if "uo" in text:
        return text.replace("uo", "ươ", 1)
    for i in range(len(text) - 1, -1, -1):
        if text[i] in _BREVE_HORN:
            return text[:i] + _BREVE_HORN[text[i]] + text[i + 1 :]
    # A bare "w" is ư in Telex ("nhw" = "như").
    return None if not text else text + "ư" if text[-1] not in _VOWELS else None


_VNI_RE = re.compile(r"^(?=.*[a-z])(?=.*[1-9])[a-z1-9]+$")


def decode_vni(word: str) -> str | None:
    """Decode a VNI leftover: ``"d9a8ng"`` → ``"đăng"``, ``"ky1"`` → ``"ký"``."""
    word = word.lower()
    if not _VNI_RE.match(word):
        return None
    tone = 0
    chars: list[str] = []
    for ch in word:
        if ch.isdigit():
            digit = int(ch)
            if 1 <= digit <= 5:
                tone = digit
            elif digit == 9:
                if "d" not in chars:
                    return None
                chars[chars.index("d")] = "đ"
            elif digit == 6:
                if not _mark_last(chars, _CIRCUMFLEX):
                    return None
            elif digit == 7:
                joined = "".join(chars)
                if "uo" in joined:
                    i = joined.index("uo")
                    chars[i], chars[i + 1] = "ư", "ơ"
                elif not _mark_last(chars, {"o": "ơ", "u": "ư"}):
                    return None
            elif digit == 8 and not _mark_last(chars, {"a": "ă"}):
                return None
            continue
        chars.append(ch)
    text = "".join(chars)
    if not any(c in _VOWELS for c in text):
        return None
    return place_tone(text, tone)


def _mark_last(chars: list[str], table: dict[str, str]) -> bool:
    for i in range(len(chars) - 1, -1, -1):
        if chars[i] in table:
            chars[i] = table[chars[i]]
            return True
    return False
