"""Ranked Vietnamese search over the catalogue, pure and synchronous.

``SearchIndex.build(procedures)`` indexes each procedure's *surfaces* (its official name, the
head of a name that goes on to list other cases (:func:`_head`), the names citizens use, short
result names) as folded words (no accents, đ → d) with their accent
keys. A query goes through:

1. normalisation (:mod:`procedures.normalize`) and repair of words the catalogue does not know:
   Telex/VNI leftovers, run-together syllables ("hochieu"), typos (rapidfuzz OSA distance);
2. *slots*: each word or known phrase becomes a slot with alternatives — an abbreviation
   ("cccd") stands for its expansion, an everyday name ("sổ đỏ") matches as written or as its
   official words; filler ("cho em hỏi … ạ") is optional;
3. candidates from an inverted index (rarest words first), then a score in 0..1 for each
   candidate surface combining: how much of the query it explains (IDF-weighted, with an accent
   bonus), how much of the surface the query explains, word order, rapidfuzz similarity, and
   small priors for popularity, commune level, citizen audience and a field whose name holds a
   query word the procedure's names do not. Candidates are scored in the order of a cheap upper
   bound of their score, computed for all their surfaces at once with numpy
   (:meth:`SearchIndex._bounds`), and scoring stops once the bound falls under the last result
   kept: the results are those of scoring them all.
   In a long message (from :data:`LONG_MESSAGE_WORDS` words) context words — family, places,
   times, hearsay (``data/context_words.txt``) — are optional too, and a procedure is scored by
   how well it explains the content words, not by how much of the story it covers
   (:meth:`SearchIndex.content_words` shows the words a message is scored on).

The same input always gives the same output: nothing that reaches a score or a tie depends on
the iteration order of a set or dict of strings (which changes with ``PYTHONHASHSEED``); ties
go to the earlier procedure of the catalogue. A built index can be cached on disk
(:mod:`procedures.search_cache`).

Results under :data:`MIN_SCORE` are dropped, so a query that fits nothing returns ``[]`` (show
:meth:`SearchIndex.fields` to browse instead).

The work per query is bounded: only :func:`bounded_query` of the text is read (at most
:data:`MAX_QUERY_WORDS` words: the beginning and the end of a longer text), candidates are
capped, so a 4,000-character message costs about what a long question does.
"""

from __future__ import annotations

import gc
import heapq
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import pairwise
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from procedures.aliases import (
    ABBREVIATIONS,
    ADDRESS_WORDS,
    AUDIENCES,
    CHAT,
    CHAT_PHRASES,
    CONTEXT,
    COUNTRIES,
    EVERYDAY_NAMES,
    FILLER,
    FOREIGN_PLACES,
    MIDDLE_NAMES,
    OFF_TOPIC,
    SURNAMES,
)
from procedures.catalogue import LEVEL_LABELS, LEVELS, Procedure
from procedures.fulltext import Likelihoods, TextIndex, procedure_texts
from procedures.lexicon import Entry
from procedures.lexicon import bundled as bundled_lexicon
from procedures.lexicon import tables as lexicon_tables
from procedures.normalize import (
    FINAL,
    KEY_NEIGHBOURS,
    ONSET,
    SYLLABLE,
    clean,
    decode_telex,
    decode_vni,
    find_code,
    fold,
    has_diacritics,
    split_tone,
    tokens,
)

RANKED_IN_FULL = 5
"""How many results a search ranks for certain (more when more are asked for)…"""
RERANKED = 10
"""…and how many it puts in order again by what the procedures' texts and names say
(:meth:`SearchIndex._reranked`): after those, the best of the others it scored on its way
(`_ranked`'s `spare`)."""
LIKELIEST_SCORE = 0.503
"""What the re-ranking counts as the names' score of the procedure the names did not find
whose names, read together, are likeliest to say the message (`_rerank_candidates`)…"""
LIKELIEST_BELOW = 0.8
"""…looked for only when the names' best scores under this: a message the names find well
they find whole (left out in turn on the dev sets, the same top-1 and top-3 as always looking
for it, and most messages spare the look-up)…"""
PLACE_WEIGHT = -0.175
"""What a place in the names' ranking is worth, times the log of 1 + the place (0 first),
besides the score (trust in that order)…"""
TEXT_WEIGHT = 0.370
"""…what a procedure's texts say of the query (:mod:`procedures.fulltext`) against the best of
the results, that best counted as at least :data:`TEXT_FLOOR`…"""
NAME_WORDS_WEIGHT = -0.144
"""…times the log of the words of its official name outside brackets (a level, a code), how
long that name is: a long name is a special case of its family ("… đối với trường hợp …"), the
short one what a citizen with the plain need means…"""
NAMES_WEIGHT = 0.0061
"""…and, times how much less likely its names (official and citizens' phrasings, read
together) are to say the query's words than the likeliest names among the results
(:class:`procedures.fulltext.Likelihoods`, a log-likelihood), what all its names say: the
score reads the best one of them. All learned together (pairwise logistic regression, the
score a feature too) on the dev sets (v2-dev and v3 to v16, each query as written and typed
without accents), never a held-out part; checked there by leaving each set out in turn
(`benchmarks/learn_rerank.py`; the name's length: top-1 +16, top-3 +16 of 5,068 queries on
v2-dev to v14; the names read together: see the README)."""
_BRACKETED = re.compile(r"\([^)]*\)")
_APART = "|"
"""A word no text holds: what the re-ranking reads after it is no neighbour of what before."""
TEXT_FLOOR = 10.0
"""A BM25 score of the texts of about one uncommon word and its pair: when the best of the
results' texts says no more than this, it is weak evidence ("gplx hỏng": only the police's own
licence's documents say "hỏng"; "làm hộ chíu": the texts do not read the slip as "chiếu")."""
MIN_SCORE = 0.5
"""Results under this are dropped. Chosen on the dev sets and 200 out-of-scope messages written
apart (chit-chat, prices, names, private services…): from 0.45, out of scope kept quiet 87 →
94 %, the dev sets' top-3 −0.8 points."""
OFF_TOPIC_REST_WORDS = 2
"""A message with a shopping phrase the catalogue's names use too ("trả góp") is searched when
the rest of it says at least this many content words (see `SearchIndex.search`)."""
OFF_TOPIC_WORDS = 20
"""A message of this many words tells a story: a shopping or everyday-life phrase in it ("…
gửi tin nhắn khuyến mãi cho khách quen …") does not make it off topic by itself; the search
judges it (a long story without a procedure still finds nothing)."""
CONFIDENT_SCORE = 0.6
"""At or above this a result may be presented as the answer rather than a suggestion."""

MAX_QUERY_CHARS = 400
"""A query is read up to this many characters; no question about a procedure needs more."""
MAX_QUERY_WORDS = 60
"""…and up to this many words: the cost of a search grows with its words (slots × candidate
surfaces); a message of three or four sentences, its need often in the middle, has 40 to 60."""

LONG_MESSAGE_WORDS = 12
"""From this many words a message tells a story around its need: its context words (family,
places, times, hearsay) are left out of the words a procedure must explain. In a short message
they are kept, as they are often what makes it out of scope ("giá vàng hôm nay")."""
UNMARKED_LONG_MARGIN = 0.05
"""How far above the bar a long message typed without marks must find its best: without them
its many words are read as any spelling, and chit-chat ("xe may cua em … kho no … bugi hay binh
ac quy") fits some name at the bar; a real need said so is found higher (dev sets, folded long
messages: of those whose best scored under the bar + 0.05, 10 of 19 out of scope, 8 wrong, 1
right in the top three)."""
NAME_SCORE = 0.85
"""A long message without a story word or a sentence break that, read as a name (not as a
story: `_Query.long_message`), finds a procedure at this score at least is that procedure's
name, copied from the portal or a paper."""
SENTENCES_BELOW = 0.7
"""A long message whose best result scores under this is searched sentence by sentence too."""
SENTENCE_FACTOR = 0.8
"""A procedure found by one sentence of a long message, or by the clause that says what is
wanted ("… tôi định đóng tạm mấy tháng"), scores this share of its score for that part alone:
the whole message, when it finds one as well, is the better witness. (0.9 → 0.8 once the
citizens' phrasings let whole messages find more: on the dev sets 0.75–0.85 are alike.) When
the whole message finds nothing, a sentence keeps its own score: "Hkd nghỉ bán 6 tháng báo
ubnd phường. Nhà có hai đứa nhỏ đang đi học. Mong anh chị hướng dẫn giúp em." finds what its
first sentence finds alone."""
NEED_LIMIT = 20
NEED_WEAK = 0.6
NEED_MISS = 0.85
"""In a long message with a need clause (`_needs`), a procedure the whole message finds that
is not among the clause's best :data:`NEED_LIMIT` over :data:`NEED_WEAK` of the least score
scores :data:`NEED_MISS` of itself: the story found it, not the need."""
NEED_KIND = 0.8
"""…unless the clause names only a kind of procedure (:func:`_names_a_kind`). On the dev sets
0.9–0.75 gain alike (+5 to +8 top-1, nothing lost); from 0.7 messages are lost."""
GENERIC_SHARE = 0.1
"""A word in more than this share of the procedures' names ("cấp", "giấy phép", "đăng ký")
names a kind of procedure, not one: a sentence of a long message saying only such words is
not searched alone (:meth:`SearchIndex._generic`)."""

_NEED_SLOTS = 8
"""A need is named in about this many content words; past them a long message (from
:data:`LONG_MESSAGE_WORDS` words) is judged on the words a procedure explains (cover against a
need-sized share, order and likeness on matched words)."""
_LONG_GATE = 0.3
"""Below this cover a long message's score is scaled down (0.4 for other questions): its cover
is already measured against a need-sized share, the rest is story."""

VARIANT_WORDS = (
    "lại", "xóa", "hủy", "đổi", "hồi", "dứt", "ngừng", "dừng", "chỉnh", "sung", "hạn"
)
"""Words that make a procedure a variant of a plainer sibling ("cấp lại", "xóa đăng ký", "thu
hồi", "chấm dứt", "dừng", "điều chỉnh", "bổ sung", "gia hạn"), recognised with their accents."""
VARIANT_FACTOR = 0.95
"""A surface holding a variant word the query does not have scores this share."""
ASKED_VARIANT_FACTOR = 0.9
"""A procedure lacking every variant the query asks for (:data:`VARIANT_PHRASES`) scores this
share, popularity included: "cấp lại giấy phép xây dựng" is not the popular first permit; one
that says one of them is not lowered ("đổi tên công ty, xin cấp lại …": the reissue)."""
CONTRASTS = ((("xuat", "khau"), ("nhap", "khau")), (("xuat", "canh"), ("nhap", "canh")))
"""Phrases (folded) that tell siblings apart as contraries: export and import, leaving and
entering the country."""
CONTRARY_FACTOR = 0.9
"""A procedure whose official name says the contrary of what the message says (and not what it
says too: "xuất khẩu, nhập khẩu") scores this share ("xin phép xuất khẩu hạt giống lúa lai …" is
not the import permit)."""
_CONTRAST_PHRASES = frozenset(phrase for pair in CONTRASTS for phrase in pair)
AUDIENCE_FACTOR = 0.9
"""A procedure for one group of people only, whose name does not say so (the people's police's
own health-insurance cards: `procedures.aliases.AUDIENCES`), scores this share when the message
names none of the group's words."""
FOREIGN_FACTOR = 0.95
"""A procedure whose official name says "nước ngoài" scores this share when the query says
nothing foreign (no "ngoài", which a named country or "việt kiều" brings too): "điều chỉnh giấy
phép hoạt động xây dựng" is not the one "cho nhà thầu nước ngoài"."""
CITIZEN_WORD_SHARE = 0.5
"""What a word no name uses but the dictionaries' citizen phrases do ("nhựa" of "thẻ nhựa",
"online") weighs in a query, as a share of the rarest name word's weight: it tells the story
around the need ("bán hàng online muốn tự đóng bảo hiểm xã hội"). A word nobody uses (a brand, a
typo past repair: "samsung", "netflix") keeps the whole weight: chit-chat stays quiet."""
UNPAIRED_SHARE = 0.05
UNPAIRED_USES = 100
"""Typed without accents, a filler spelling that pairs with no neighbour is read as the filler
word ("hkd can giay to": cần), unless the catalogue's names use its letters at least
:data:`UNPAIRED_USES` times and as the filler in under :data:`UNPAIRED_SHARE` of them: "dat" is
đất, never đắt ("cha me cho dat")."""
VARIANT_HEAD = 5
"""…among the first words of the surface (a later "thu hồi" names a case, not the action)."""

POPULARITY_BONUS = 0.08
"""Added to the prior of a procedure in proportion to its popularity (the curated ones)…"""
POPULARITY_COVER_POWER = 8
"""…times the share of the query's words its names explain to this power: a popular procedure
that leaves a word of the query unexplained ("tạm ngừng kinh doanh" of a *company*) yields to
the sibling that names it."""
LONG_MESSAGE_POPULARITY = 0.85
"""The share of its popularity a procedure keeps in a long message, whatever it covers: a story
names popular procedures in passing ("nhà em mở tiệm tạp hóa …" is not a new household
business)."""

FIELD_BONUS = 0.1
"""Added to the prior of a procedure whose field's lexicon holds a phrase of the query."""
ABBREVIATION_WORDS = 4
NEGATED_FACTOR = 0.8
"""A procedure whose names hold a phrase the citizen said they do not mean ("không phải hộ
kinh doanh") scores this share of itself."""

FIELD_WORD_BONUS = 0.04
"""Added to the prior of a procedure whose field's name holds a word of the query its names do
not ("nộp dần tiền thuế nợ hải quan": the same name stands in the fields Thuế and Hải quan)."""
WEAK_RELEVANCE = 0.3
"""The most a surface that is no witness of its procedure scores: one content word alone, or,
typed without accents, words scattered over a name (see `SearchIndex._score`)."""
DOC_WORDS_BONUS = 0.2
"""A surface is scored with this share of the query cover that the procedure's other names
explain and it does not: a procedure is found by the best of its names, helped by the rest
("góp vốn mở công ty với bạn" by one, "công ty cổ phần" by its official name)."""
_CANDIDATES = 80
READING_SHARE = 0.7
"""In choosing the candidates, a word that only a reading brings (the official words of a
citizen's phrase, not typed) counts this share of its idf: "sổ" read as giấy chứng nhận must
not keep "Cấp lại Sổ thuyền viên" out."""
_SCALE = 1.1
W_QUERY, Q_POWER, W_SURFACE, W_ORDER, W_FUZZY = 0.55, 1.0, 0.20, 0.10, 0.15
_MAX_PHRASE = 6
_GENERIC_RESULT = re.compile(
    r"^(quyết định|thông báo|văn bản|phiếu|công văn|cập nhật|kết quả|giấy tiếp nhận|trả lời)",
    re.IGNORECASE,
)
_NAME_PREFIX = re.compile(r"^\s*(thủ tục\s*:?\s*|[.\-:]\s*)+", re.IGNORECASE)
_CONSONANTS = set("bcdđghklmnpqrstvx")
_OPEN_NEEDS_FINAL = ("â", "ă", "iê", "yê", "uô", "ươ")
_SPOKEN_ONSET = re.compile(r"^(ch|tr|gi|[sxdrlv]|n(?![gh]))(?=[aăâeêioôơuưy])")
_SPOKEN_FINAL = re.compile(r"(?<=[aăâeêioôơuưy])(ng|[ntc])(\d?)$")
_SPOKEN = {
    "s": ("x",), "x": ("s",), "ch": ("tr",), "tr": ("ch",), "d": ("gi", "r", "v"),
    "gi": ("d", "r"), "r": ("d", "gi"), "l": ("n",), "n": ("l",), "v": ("d",),
}
_SPOKEN_FINALS = {"n": "ng", "ng": "n", "t": "c", "c": "t"}


def _spoken(word: str) -> list[str]:
    """The spellings of a word (folded, or an accent key) that sound alike in some region of
    the country and are confused in writing: onsets s/x, ch/tr, d/gi/r, l/n, v/d, finals n/ng,
    t/c ("căng cước", "hộ triếu", "căn cướt", "nàm")."""
    out = []
    onset = _SPOKEN_ONSET.match(word)
    if onset:
        out += [other + word[onset.end() :] for other in _SPOKEN[onset.group(1)]]
    final = _SPOKEN_FINAL.search(word)
    if final:
        out.append(word[: final.start()] + _SPOKEN_FINALS[final.group(1)] + final.group(2))
    return out


_DOUBLED_VOWEL = re.compile(r"([aăâeêiuươy])\1")  # "thừaa", "câaps"; "oo" is one ("xoong")


def _marks_off(key: str) -> str:
    """An accent key's letters without tone or vowel marks ("thê3" → "the")."""
    return fold(key.rstrip("012345"))


def _syllable(key: str) -> bool:
    """Whether an accent key (:func:`_term`) spells a Vietnamese syllable: an onset, one to
    three vowels, a final; "â", "ă", "iê", "yê", "uô", "ươ" only before a final ("hàgn",
    "giấ", "tiề" are none); "k", "gh", "ngh" only before "i", "y", "e", "ê", and "c", "ng" not
    there ("kách", "ngỉ"); "ch", "nh" only after "a", "ê", "i", "y" ("ônh"); a marked word
    ending in "c", "ch", "p", "t" only with the sắc or nặng tone ("ruôt", "nưc")."""
    match = SYLLABLE.fullmatch(key)
    if (
        match is None
        or match[3] is None and match[2].endswith(_OPEN_NEEDS_FINAL)
        or _DOUBLED_VOWEL.search(match[2]) is not None
    ):
        return False
    onset, vowels, final = match[1] or "", match[2], match[3] or ""
    front = vowels[0] in "iyeê"
    if onset in ("k", "gh", "ngh") and not front or onset in ("c", "ng") and front:
        return False
    if final in ("ch", "nh") and vowels[-1] not in "aêiy":
        return False
    marked = key != fold(key)
    return not (final in ("c", "ch", "p", "t") and marked and key[-1] not in "15")


_VOWEL_RUN = re.compile(r"[aeiouy]+")
_VOWELLESS = re.compile(f"(?:{ONSET})(?:{FINAL})")
"""A folded syllable with its vowels left out: an onset and a final alone ("php", "thnh")."""
_DOUBLED_LETTER = re.compile(r"([a-z])\1")
_CONFUSED_TONES = {"3": "4", "4": "3", "1": "5", "5": "1"}
"""hỏi ↔ ngã, sắc ↔ nặng: the tones a citizen's spelling confuses most."""
_LETTERS = "abcdeghiklmnopqrstuvxy"  # the letters of folded Vietnamese words
_Y_TO_I = str.maketrans("yýỳỷỹỵ", "iíìỉĩị")
_LEVEL_PRIOR = {"commune": 1.0, "province": 0.5, "other": 0.3, "ministry": 0.0}


def _iy(word: str) -> str:
    """``ký``/``kí``, ``lý``/``lí``: after a consonant a final y is written i."""
    if len(word) >= 2 and word[-1] in "yýỳỷỹỵ" and word[-2] in _CONSONANTS:
        return word[:-1] + word[-1].translate(_Y_TO_I)
    return word


@lru_cache(maxsize=200_000)
def _term(word: str) -> tuple[str, str, bool]:
    """(folded, accent key, has marks) of one clean word (cached: the vocabulary is small)."""
    base, tone = split_tone(word)
    folded = _iy(fold(word))
    key = _iy(base) + (str(tone) if tone else "")
    return folded, key, key != folded


def _digits(word: str) -> str:
    return word.lstrip("0") or "0" if word.isdigit() else word


_MEASURE = re.compile(r"\d+[a-z]{1,3}\d?")
"""A measure ("15m", "3ha", "50kg", "100m2"): how much, not which procedure."""


@dataclass(frozen=True)
class Hit:
    """One search result; ``score`` is 0..1, ``level`` one of commune/province/ministry/other."""

    code: str
    name: str
    score: float
    level: str
    field: str = ""

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS.get(self.level, "")

    @property
    def confident(self) -> bool:
        return self.score >= CONFIDENT_SCORE

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "score": self.score, "level": self.level}


@dataclass(frozen=True)
class FieldInfo:
    """A field (lĩnh vực) to browse, with how many procedures it holds."""

    name: str
    count: int
    popularity: float


@dataclass
class _Surface:
    doc: int
    folded: Sequence[str]  # tuples once built: the index of a large catalogue stays small
    keys: Sequence[str]
    content: Sequence[bool]
    text: str  # the folded words, sorted (for a token-sort similarity)
    factor: float
    text_length: int = 0
    positions: dict[str, tuple[int, ...]] = field(default_factory=dict)
    content_total: float = 0.0
    variants: frozenset[str] = frozenset()  # the words of VARIANT_WORDS it holds (folded)
    head: bool = False  # the head of the official name (`_head`)
    # Word → the second halves after it, when each of its places is the first half of a
    # compound (`_halves`).
    halves: dict[str, frozenset[str]] | None = None
    # Surfaces alike in all `_score` reads (one name at several levels: each level is a
    # procedure) share a shape: `_score` gives them the same relevance.
    shape: int = 0


@dataclass
class _Term:
    folded: str
    key: str
    marked: bool  # the citizen wrote accents on it: a matching accent earns a bonus
    repaired: bool = False


# (folded, accent key, marked, repaired, idf) per term; (terms, total idf) per alternative.
_CompiledTerm = tuple[str, str, bool, bool, float]
_CompiledAlternative = tuple[list[_CompiledTerm], float, bool]  # terms, total idf, whole only
# (optional, weight, alternatives, every folded word of them, the first alternative's words)
_CompiledSlot = tuple[bool, float, list[_CompiledAlternative], frozenset[str], tuple[str, ...]]


@dataclass(frozen=True)
class _Query:
    """A query ready to score surfaces against: its slots and what does not vary by surface."""

    slots: list[_CompiledSlot]
    terms: frozenset[str]
    required_terms: frozenset[str]
    shares: dict[str, float]  # word → the most of the query cover it can bring (`_bounds`)
    text: str  # the first alternatives' words, sorted (for a token-sort similarity)
    accented: bool
    required_slots: int
    required_weight: float
    optional_weight: float
    gate: float  # under this query cover relevance is scaled down (see `_score`)
    text_length: int
    bonus_bound: float  # the most the optional words and the accents can add
    long_message: bool = False  # judged on the words a procedure explains (see `_score`)
    need_weight: float = 0.0  # a long message: the weight of a need-sized share of it
    # A long message: word → the most characters (with a space) it can bring to the matched
    # words its likeness is judged on (`_bounds`).
    spans: dict[str, int] = field(default_factory=dict)
    # The variant words (:data:`VARIANT_WORDS`, folded) the query says: with their accents
    # when it has them ("lái xe" does not say "lại").
    variants: frozenset[str] = frozenset()
    guessed: frozenset[int] = frozenset()  # the slots (by number) of `_Slot.guessed`
    # A short query's word pairs (`_order_pairs`): each pair of neighbours its sequence may
    # hold, with how often at most; and how many pairs of different words it holds at least.
    pairs: dict[tuple[str, str], int] = field(default_factory=dict)
    pairs_least: int = 0
    # The words the query writes only with accents, with their accent keys (`_doc_words`).
    written: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass
class _Slot:
    alternatives: list[list[_Term]]
    weight: float
    optional: bool
    whole_first: bool = False  # the first alternative (a citizen's phrase) counts only whole
    fields: frozenset[str] = frozenset()  # the fields whose lexicon holds the phrase
    story: bool = False  # a context word or phrase (optional): part of the story told
    # One word typed without the accents of the everyday name it is read as ("cuoi": cưới →
    # kết hôn, though it may be cuối or cười): its reading's words were not said side by side.
    guessed: bool = False


@dataclass
class _SurfaceArrays:
    """Every surface as arrays, to bound all the surfaces of a query's candidates at once
    (:meth:`SearchIndex._bounds`): a doc's surfaces are consecutive; their words are rows of a
    sparse matrix (word ids, each with its idf times its count in the surface)."""

    doc_first: np.ndarray  # per doc: its first surface
    doc_count: np.ndarray  # per doc: how many surfaces it has
    row_start: np.ndarray  # per surface (and one past the last): where its words start
    # Per word of a surface: its id (:attr:`SearchIndex._word_ids`) | how often it stands there
    # << 32 | 1 << 63 when it stands as a content word (not filler) somewhere in it.
    rows: np.ndarray
    content_total: np.ndarray
    text_length: np.ndarray
    factor: np.ndarray
    head: np.ndarray
    variants: np.ndarray  # the variant words it holds, one bit each (:data:`_VARIANT_BITS`)
    # Per surface: how often its text holds each character, 255 for 255 or more (uint8).
    text_counts: np.ndarray
    text_alphabet: dict[str, int]  # a character of the texts → its column in `text_counts`
    pair_start: np.ndarray  # per surface (and one past the last): where its word pairs start
    # Its neighbours of different words, each pair once: the first's word id | the second's
    # << 32.
    pairs: np.ndarray


class SearchIndex:
    """An in-memory index of procedures; build once, search many times (thread-safe reads)."""

    def __init__(self) -> None:
        self.procedures: list[Procedure] = []
        self._by_code: dict[str, int] = {}
        self._surfaces: list[_Surface] = []
        self._doc_surfaces: list[list[int]] = []
        self._doc_variants: list[frozenset[str]] = []  # the variant words its surfaces start with
        # The log of the words of its official name outside brackets (`NAME_WORDS_WEIGHT`).
        self._name_length: list[float] = []
        self._foreign: set[int] = set()  # procedures whose official name says "nước ngoài"
        self._foreign_docs = np.zeros(0, np.bool_)  # the same, per doc
        # Each phrase of `CONTRASTS` → the procedures whose official name says it.
        self._contrast_docs: dict[tuple[str, str], frozenset[int]] = {}
        # Procedures whose official name says what they are not: those phrases (`_ranked`).
        self._name_negations: dict[int, tuple[tuple[str, ...], ...]] = {}
        self._postings: dict[str, np.ndarray] = {}  # word → the docs holding it, ascending
        self._word_ids: dict[str, int] = {}  # word → its number in the catalogue's words, sorted
        self._arrays: _SurfaceArrays | None = None
        self._idf: dict[str, float] = {}
        self._max_idf = 1.0
        self._vocab: list[str] = []
        self._vocab_set: set[str] = set()
        self._priors: list[float] = []
        self._popularity: list[float] = []  # the popularity share of each prior
        self._prior_array = np.zeros(0)
        self._levels: list[set[str]] = []
        self._fields: list[str] = []
        self._field_words: dict[str, frozenset[str]] = {}  # field → its content words (folded)
        self._field_numbers: dict[str, int] = {}  # field → its number (as `_field_words` go)
        self._field_of = np.zeros(0, np.int64)  # doc → its field's number
        self._word_fields: dict[str, list[int]] = {}  # word → the fields whose names hold it
        self._loose_filler: set[str] = set()
        self._rare_filler: set[str] = set()  # filler spellings read as filler when unpaired
        self._loose_context: set[str] = set()
        self._bigrams: dict[tuple[str, str], int] = {}
        self._key_bigrams: set[tuple[str, str]] = set()
        # Word pairs of the names (folded) in which "mot", "cai" or "duoc" is another word than
        # the small word of a phrase (:data:`GAP_WORDS`): mốt, cải tạo, dược phẩm.
        self._gap_bound: set[tuple[str, str]] = set()
        self._keys: list[str] = []  # the accented words of the names (accent keys), sorted
        self._key_set: set[str] = set()
        # …and of every word citizens are known to write: the names', the phrasings', the
        # dictionaries' (`_repair_non_syllables`).
        self._written_keys: frozenset[str] = frozenset()
        self._toned: dict[str, list[str]] = {}  # accent key without its tone → the keys
        self._toned_bases: list[str] = []
        self._near: dict[str, list[str]] = {}  # accent key → `_near_keys` (filled by queries)
        self._shorthands: dict[str, list[str]] = {}  # word → `_shorthands_near` (the same)
        self._vocabulary = _vocabulary(())
        self._field_list: list[FieldInfo] | None = None
        # The off-topic phrases (`search`), apart and in the catalogue's names.
        self._off_topic = _phrases_pattern(OFF_TOPIC)
        self._named_off_topic = _phrases_pattern(())
        # Per group of people: the words that name it and its procedures (`AUDIENCE_FACTOR`).
        self._audiences: list[tuple[re.Pattern[str], frozenset[int]]] = []
        self._texts = TextIndex()  # what each procedure's own texts say (`_reranked`)
        self._names_said = Likelihoods()  # what all the names of each procedure say (`_reranked`)

    # --- building -------------------------------------------------------------------------

    @classmethod
    def build(
        cls, procedures: Iterable[Procedure], lexicon: Iterable[Entry] | None = None
    ) -> SearchIndex:
        """The index of `procedures`, read with `lexicon` (the bundled one when None)."""
        with collector_paused():
            index = cls._build(procedures, bundled_lexicon() if lexicon is None else lexicon)
        # The first collection walks every object built (~80 ms): here, not in the first
        # citizen's search. (A loaded index's objects do not cost this.)
        gc.collect()
        return index

    @classmethod
    def _build(cls, procedures: Iterable[Procedure], lexicon: Iterable[Entry]) -> SearchIndex:
        index = cls()
        index._vocabulary = _vocabulary(tuple(lexicon))
        doc_terms: list[set[str]] = []
        contrasts: dict[tuple[str, str], set[int]] = {}
        aliases: set[int] = set()  # the surfaces that are aliases (the citizens' words)
        for procedure in procedures:
            doc = len(index.procedures)
            index.procedures.append(procedure)
            index._by_code[procedure.code] = doc
            index._levels.append(set(procedure.levels))
            index._name_length.append(
                math.log(len(_BRACKETED.sub(" ", procedure.name).split()) or 1)
            )
            index._fields.append(procedure.field)
            if procedure.field not in index._field_words:
                folded = (_term(w)[0] for w in tokens(procedure.field))
                index._field_words[procedure.field] = frozenset(
                    w for w in folded if w not in _FILLER_FOLDED
                )
            terms: set[str] = set()
            ids = []
            for text, factor, head, alias in _surface_texts(procedure):
                surface = _make_surface(doc, text, factor, index._vocabulary.rewrite)
                if not surface.folded:
                    continue
                surface.head = head
                if alias:
                    aliases.add(len(index._surfaces))
                ids.append(len(index._surfaces))
                index._surfaces.append(surface)
                terms.update(surface.folded)
            # A variant ("Cấp lại …") stays one by every name: its aliases and result names
            # ("giáo viên dạy lái bị mất giấy") do not make it the plain member of its family.
            for number in ids[1:]:
                index._surfaces[number].variants |= index._surfaces[ids[0]].variants
            index._doc_surfaces.append(ids)
            index._doc_variants.append(
                frozenset().union(*(index._surfaces[i].variants for i in ids))
            )
            doc_terms.append(terms)
            name_pairs = set(pairwise(index._surfaces[ids[0]].folded)) if ids else set()
            if ("nuoc", "ngoai") in name_pairs:
                index._foreign.add(doc)  # its official name says "nước ngoài"
            for phrase in _CONTRAST_PHRASES & name_pairs:
                contrasts.setdefault(phrase, set()).add(doc)
            if ids and (negations := _name_negations(index._surfaces[ids[0]].folded)):
                index._name_negations[doc] = negations
            citizen = any(
                "công dân" in a.lower() or "cá nhân" in a.lower() for a in procedure.audience
            )
            index._popularity.append(POPULARITY_BONUS * min(1.0, procedure.popularity))
            index._priors.append(
                index._popularity[-1]
                + 0.03 * _LEVEL_PRIOR.get(procedure.level, 0.0)
                + (0.02 if citizen else 0.0)
            )
        postings: dict[str, list[int]] = {}
        for doc, terms in enumerate(doc_terms):
            for term in terms:
                postings.setdefault(term, []).append(doc)
        count = max(1, len(index.procedures))
        index._postings = {t: np.array(docs, dtype=np.int32) for t, docs in postings.items()}
        index._prior_array = np.array(index._priors, dtype=np.float64)
        index._foreign_docs = np.isin(np.arange(len(index.procedures)), list(index._foreign))
        index._contrast_docs = {phrase: frozenset(docs) for phrase, docs in contrasts.items()}
        index._field_numbers = {name: number for number, name in enumerate(index._field_words)}
        index._field_of = np.array([index._field_numbers[f] for f in index._fields], np.int64)
        index._texts = TextIndex.build([_text_words(p) for p in index.procedures])
        index._names_said = Likelihoods.build([
            [_affirmed(_folded_words(procedure.name)), *map(_folded_words, procedure.aliases)]
            for procedure in index.procedures
        ])
        for name, words in index._field_words.items():
            for word in words:
                index._word_fields.setdefault(word, []).append(index._field_numbers[name])
        index._idf = {t: math.log(1 + count / len(docs)) for t, docs in postings.items()}
        index._max_idf = math.log(1 + count)
        index._vocab = sorted(t for t in postings if len(t) >= 2 and not t.isdigit())
        index._vocab_set = set(postings)
        filler_uses: dict[str, int] = {}
        uses: dict[str, int] = {}
        context_total: dict[str, int] = {}
        context_uses: dict[str, int] = {}
        bigrams = index._bigrams
        key_uses: dict[str, int] = {}
        key_pairs: dict[tuple[str, str], int] = {}
        for number, surface in enumerate(index._surfaces):
            surface.positions = _positions(surface.folded)
            if number in aliases:
                # How the catalogue writes (its pairs, how it uses filler and context words)
                # is read from its official texts: the citizens' phrasings tell needs in
                # everyday words ("… cần giấy tờ gì", "… nhà mình"), which would make those
                # words read as needs in a message.
                continue
            for pair in zip(surface.folded, surface.folded[1:], strict=False):
                bigrams[pair] = bigrams.get(pair, 0) + 1
            index._key_bigrams.update(pairwise(surface.keys))
            for at, (word, key) in enumerate(zip(surface.folded, surface.keys, strict=True)):
                if word in _LOOSE_GAP and key not in _GAP_KEYS:
                    index._gap_bound.update(pairwise(surface.folded[max(0, at - 1) : at + 2]))
            for key in surface.keys:
                key_uses[key] = key_uses.get(key, 0) + 1
            for pair in pairwise(surface.keys):
                key_pairs[pair] = key_pairs.get(pair, 0) + 1
            for position, term in enumerate(surface.folded):
                if term in _CONTEXT_WORDS:
                    context_total[term] = context_total.get(term, 0) + 1
                    if surface.keys[position] in _CONTEXT_WORDS[term]:
                        context_uses[term] = context_uses.get(term, 0) + 1
                if term in _FILLER_FOLDED:
                    uses[term] = uses.get(term, 0) + 1
                    if not surface.content[position]:
                        filler_uses[term] = filler_uses.get(term, 0) + 1
        for surface in index._surfaces:
            surface.content_total = sum(
                index._idf[t] for t, c in zip(surface.folded, surface.content, strict=True) if c
            )
            surface.folded = tuple(surface.folded)
            surface.keys = tuple(surface.keys)
            surface.content = tuple(surface.content)
        names = "\n".join(" ".join(surface.folded) for surface in index._surfaces)
        plain = [p for p in OFF_TOPIC if "…" not in p]
        said = set(_phrases_pattern(plain).findall(names))  # one pass over the names
        named = [p for p in plain if _folded_text(p) in said]
        index._off_topic = _phrases_pattern(p for p in OFF_TOPIC if p not in named)
        index._named_off_topic = _phrases_pattern(named)
        by_code = index._by_code
        index._audiences = [
            (_phrases_pattern(words), frozenset(by_code[c] for c in codes if c in by_code))
            for words, codes in AUDIENCES.items()
        ]
        compounds = _compounds(key_uses, key_pairs)
        shapes: dict[tuple[object, ...], int] = {}
        for surface in index._surfaces:
            surface.halves = _halves(surface, compounds)
            alike = (
                surface.folded,  # tuples by now
                surface.keys,
                surface.content,
                surface.factor,
                surface.head,
                surface.variants,  # a variant procedure's names all are variants
            )
            surface.shape = shapes.setdefault(alike, len(shapes))
        index._word_ids = {word: number for number, word in enumerate(sorted(postings))}
        index._arrays = index._surface_arrays()
        index._key_set = {key for pair in index._key_bigrams for key in pair}
        index._written_keys = frozenset(
            {key for surface in index._surfaces for key in surface.keys}
            | index._vocabulary.written_keys
            | _STORY_KEYS
        )
        index._keys = sorted(key for key in index._key_set if len(key) > 1)
        for key in index._keys:
            if key[-1].isdigit():
                index._toned.setdefault(key[:-1], []).append(key)
        index._toned_bases = sorted(index._toned)
        def filler_where(least_uses: int, share: float) -> set[str]:
            """The filler spellings the names use fewer times than `least_uses`, or as the
            filler in at least `share` of their uses."""
            return {
                term
                for term in _FILLER_FOLDED
                if uses.get(term, 0) < least_uses
                or filler_uses.get(term, 0) >= share * uses[term]
            }

        # An unaccented word counts as filler only where the catalogue itself mostly uses it so
        # ("cho" yes; "ho" no: it is mostly hộ, "chieu" mostly chiếu).
        index._loose_filler = filler_where(3, 0.5)
        index._rare_filler = filler_where(UNPAIRED_USES, UNPAIRED_SHARE)
        # The same for a context word: "ba" counts as ba (father) only where the catalogue
        # itself mostly writes "ba" so, not bà or bá.
        index._loose_context = {
            term
            for term in _CONTEXT_WORDS
            if context_total.get(term, 0) < 3
            or context_uses.get(term, 0) >= 0.5 * context_total[term]
        }
        return index

    def __len__(self) -> int:
        return len(self.procedures)

    def get(self, code: str) -> Procedure | None:
        doc = self._by_code.get(code.strip())
        return None if doc is None else self.procedures[doc]

    def fields(self) -> list[FieldInfo]:
        """Fields to browse, the ones citizens use most first (counted once per index)."""
        if self._field_list is None:
            self._field_list = self._count_fields()
        return list(self._field_list)

    def _count_fields(self) -> list[FieldInfo]:
        counts: dict[str, int] = {}
        weight: dict[str, float] = {}
        for procedure in self.procedures:
            if not procedure.field:
                continue
            counts[procedure.field] = counts.get(procedure.field, 0) + 1
            weight[procedure.field] = weight.get(procedure.field, 0.0) + procedure.popularity
        return sorted(
            (FieldInfo(name, counts[name], round(weight[name], 3)) for name in counts),
            key=lambda f: (-f.popularity, -f.count, f.name),
        )

    def in_field(self, name: str, limit: int | None = None) -> list[Procedure]:
        """Procedures of a field, most asked and commune level first."""
        wanted = fold(name).strip()
        found = [p for p in self.procedures if fold(p.field).strip() == wanted]
        found.sort(key=lambda p: (-p.popularity, LEVELS.index(p.level), p.name))
        return found[:limit] if limit else found

    # --- searching ------------------------------------------------------------------------

    def search(
        self,
        query: str,
        limit: int = 5,
        level: str | None = None,
        field: str | None = None,
        min_score: float = MIN_SCORE,
    ) -> list[Hit]:
        """Ranked procedures for a citizen's text; ``[]`` when nothing fits. Only
        :func:`bounded_query` of the text is read."""
        query = self._written_out(bounded_query(query))
        allowed = self._filter(level, field)
        code = find_code(query)
        if code and code in self._by_code:
            doc = self._by_code[code]
            if allowed is None or doc in allowed:
                return [self._hit(doc, 1.0)]
        if _only_an_address(query) or self._only_a_name(query) or self._only_contact(query):
            return []
        # A shopping or everyday-life phrase ("giá vàng hôm nay", "uy tín") makes a message
        # off topic. One the catalogue's names use too ("xổ số", "trả góp") does, unless the
        # rest of the message says enough to name a procedure ("nợ thuế nhiều quá xin trả
        # góp"; not "xổ số hôm nay"): then only procedures whose names say it, and that fit
        # well, are found.
        folded = _folded_text(query)
        if self._off_topic.search(folded) and len(tokens(query)) < OFF_TOPIC_WORDS:
            return []
        said = self._named_off_topic.findall(folded)
        if said:
            rest = self._named_off_topic.sub(" ", folded)
            if self._content_word_count(rest) < OFF_TOPIC_REST_WORDS:
                return []
            return _capped([
                hit
                for hit in self._search(query, limit * 2, allowed, max(min_score, CONFIDENT_SCORE))
                if self._says(self._by_code[hit.code], tuple(_phrase_terms(p) for p in said))
            ][:limit])
        ranked = max(limit, RANKED_IN_FULL)
        found = _capped(
            self._search(query, ranked, allowed, min_score, spare=max(0, RERANKED - ranked))
        )
        if (
            found
            and found[0].score < min_score + UNMARKED_LONG_MARGIN
            and len(tokens(query)) >= LONG_MESSAGE_WORDS
            and not has_diacritics(query)
        ):
            return []  # a long story typed without marks that nothing fits well
        return self._reranked(query, found, allowed)[:limit]

    def _reranked(self, query: str, hits: list[Hit], allowed: set[int] | None) -> list[Hit]:
        """The best :data:`RERANKED` hits and the procedure all of whose names read together
        are likeliest to say the message (`_rerank_candidates`) in the order their names'
        scores and ranks, their texts, their names' lengths and all their names read together
        (:data:`PLACE_WEIGHT`, :data:`TEXT_WEIGHT`, :data:`NAME_WORDS_WEIGHT`,
        :data:`NAMES_WEIGHT`) say, each at the score of the place it takes (the likeliest's
        place, last, the last names' score): the order moves, the confidence in the first
        result stays the names'. The texts of a procedure for a group the message does not
        name (`AUDIENCE_FACTOR`) say nothing of the citizen."""
        best = hits[:RERANKED]
        words, docs, scores, added = self._rerank_candidates(query, hits, allowed)
        if len(docs) < 2:
            return hits
        value = [
            score + PLACE_WEIGHT * math.log1p(rank) + TEXT_WEIGHT * said
            + NAME_WORDS_WEIGHT * length + NAMES_WEIGHT * names
            for rank, (score, (said, length, names)) in enumerate(
                zip(scores, self._rerank_features(words, docs), strict=True)
            )
        ]
        order = sorted(range(len(docs)), key=lambda rank: -value[rank])
        if not added and order == list(range(len(docs))):
            return hits
        places = [hit.score for hit in best] + ([best[-1].score] if added else [])
        moved = [
            self._hit(docs[rank], score) for rank, score in zip(order, places, strict=True)
        ]
        return moved + hits[RERANKED:]

    def _rerank_candidates(
        self, query: str, hits: list[Hit], allowed: set[int] | None
    ) -> tuple[list[str], list[int], list[float], bool]:
        """What the re-ranking reads: the message's folded words, without what the citizen
        says they do not mean (`_negated`) and with a country named as abroad read as the words
        it stands for (`_abroad`); the procedures to order, the best :data:`RERANKED` `hits`'
        and, when the names found any but none as well as :data:`LIKELIEST_BELOW`, the one
        likeliest to say the message of all those whose names, read together, the names did
        not find (`Likelihoods.likeliest`: a procedure's phrasings together may say what none
        of them says alone) if it is `allowed`; their scores (the likeliest's
        :data:`LIKELIEST_SCORE`); whether it was added."""
        folded = _folded_text(_negated(query)[0])
        words = folded.split()
        words += _abroad(words)
        found = [self._by_code[hit.code] for hit in hits]
        docs, scores = found[:RERANKED], [hit.score for hit in hits[:RERANKED]]
        if hits and hits[0].score < LIKELIEST_BELOW:
            likeliest = self._names_said.likeliest(words, found)
            if likeliest is not None and (allowed is None or likeliest in allowed):
                docs.append(likeliest)
                scores.append(LIKELIEST_SCORE)
        return words, docs, scores, len(docs) > min(len(hits), RERANKED)

    def _rerank_features(
        self, words: list[str], docs: list[int]
    ) -> list[tuple[float, float, float]]:
        """What the re-ranking reads of each of `docs` besides its score and place, for a
        message's words (`_rerank_candidates`): what its texts say of them against the best of
        them, that best counted as at least :data:`TEXT_FLOOR` (nothing for a group the
        message does not name), the log of the words of its official name, and how likely all
        its names are to say the words against the likeliest of theirs (also read by
        ``benchmarks/learn_rerank.py``)."""
        unmeant = self._unmeant(" ".join(words))
        said = [
            0.0 if doc in unmeant else score
            for doc, score in zip(docs, self._texts.scores(words, docs), strict=True)
        ]
        most = max([*said, TEXT_FLOOR]) or 1.0
        lengths = [self._name_length[doc] for doc in docs]
        names = self._names_said.scores(words, docs)
        likeliest = max(names, default=0.0)
        return [
            (text / most, length, name - likeliest)
            for text, length, name in zip(said, lengths, names, strict=True)
        ]

    def _contrary(self, folded: str) -> frozenset[int]:
        """The procedures whose official name says the contrary (:data:`CONTRASTS`) of what a
        (folded) message says: an import's when it says "xuất khẩu" and not "nhập khẩu"."""
        words = folded.split()
        said = {pair for pair in pairwise(words) if pair in _CONTRAST_PHRASES}
        out: frozenset[int] = frozenset()
        docs = self._contrast_docs
        for first, second in CONTRASTS:
            for this, other in ((first, second), (second, first)):
                if this in said and other not in said:
                    out |= docs.get(other, frozenset()) - docs.get(this, frozenset())
        return out

    def _unmeant(self, folded: str) -> frozenset[int]:
        """The procedures for a group of people a (folded) message names none of the words of
        (`AUDIENCE_FACTOR`)."""
        return frozenset().union(
            *(docs for words, docs in self._audiences if not words.search(folded))
        )

    def _search(
        self, query: str, limit: int, allowed: set[int] | None, min_score: float, spare: int = 0
    ) -> list[Hit]:
        """`search` past the messages that find nothing (codes, names, addresses, shopping);
        `spare` as :meth:`_ranked`'s."""
        query, negated = _negated(query)
        query = self._without_reason(query)
        slots = self._slots(query)
        long_message = len(tokens(query)) >= LONG_MESSAGE_WORDS
        # A long official name copied from the portal is no story: without a story word or a
        # sentence break, a message read as a name that finds a procedure as well as
        # `NAME_SCORE` is that name ("Đăng ký hoạt động của chi nhánh của tổ chức hành nghề
        # luật sư", which a story's reading finds as the firm's own registration).
        if (
            long_message
            and not any(s.story for s in slots)
            and not _SENTENCE_END.search(query.rstrip(". "))
        ):
            named = self._ranked(
                query, limit, allowed, min_score, negated=negated, slots=slots, as_name=True,
                spare=spare,
            )
            if named and named[0].score >= NAME_SCORE:
                return named
        found = self._ranked(
            query, limit, allowed, min_score, negated=negated, slots=slots, spare=spare
        )
        if not long_message:
            return found
        # A long message: its need is often said in one sentence ("Giờ tôi muốn đóng hẳn
        # công ty."), and the story around it may find another procedure well ("Công ty …
        # thành lập được 3 năm"). The clause that says what is wanted ("… tôi muốn đóng hẳn
        # công ty cho xong") is searched too; unless the whole found a good match, so is each
        # sentence that names more than a kind of procedure (`_generic`). A procedure keeps its
        # best score.
        # Each need clause with its slots; "… có cần xin phép hay đăng ký gì không" names no
        # need, whatever its words stand for.
        needs: list[tuple[str, list[_Slot] | None]] = [
            (clause, slots)
            for clause in _needs(query)
            if self._content_word_count(clause) >= 3
            for slots in [self._slots(clause, story=True)]
            if not self._generic(slots, readings=True)
        ]
        # Each part read once, with its hits.
        read: list[list[Hit]] = []
        if not found or found[0].score < SENTENCES_BELOW:
            for sentence in _sentences(query):
                slots = self._slots(sentence, story=True)
                if not self._generic(slots):
                    read.append(self._ranked(
                        sentence, limit, allowed, min_score, story=True, negated=negated,
                        slots=slots, spare=spare,
                    ))
        # Without "muốn", "cần" … the question asked says the need ("… Giờ hàng về tới cảng
        # rồi, làm thủ tục hải quan nhận lại hàng thế nào ạ"), when it finds a procedure by
        # itself.
        clauses = needs or [
            (clause, None)
            for clause in _questions(query)
            if self._content_word_count(clause) >= 3
        ]
        # What each clause finds, even weakly, unless it names only a kind of procedure
        # (`_names_a_kind`).
        found_by = []
        for clause, clause_slots in clauses:
            hits = self._ranked(
                clause, NEED_LIMIT, allowed, min_score * NEED_WEAK, story=True,
                negated=negated, slots=clause_slots,
            )
            if _names_a_kind(hits) or not needs and not (hits and hits[0].score >= min_score):
                continue
            found_by.append(hits)
        by_sentence = len(read)  # the first parts read are sentences; then the clauses
        if found_by:
            # A procedure the whole message finds that no need clause does comes from the
            # story ("Chị bán hàng online ở nhà … muốn tự đóng bảo hiểm …": not the
            # household business).
            fits = {hit.code for hits in found_by for hit in hits}
            read += [[hit for hit in hits if hit.score >= min_score][:limit] for hits in found_by]
            found = [
                hit if hit.code in fits else replace(hit, score=round(hit.score * NEED_MISS, 3))
                for hit in found
            ]
        if not read:
            return found
        best = {hit.code: hit for hit in found}
        for part, hits in enumerate(read):
            factor = 1.0 if part < by_sentence and not found else SENTENCE_FACTOR
            for hit in hits:
                scaled = replace(hit, score=round(hit.score * factor, 3))
                known = best.get(hit.code)
                if scaled.score >= min_score and (known is None or scaled.score > known.score):
                    best[hit.code] = scaled
        ranked = sorted(best.values(), key=lambda h: (-h.score, self._by_code[h.code]))
        return ranked[: limit + spare]

    def _only_a_name(self, text: str) -> bool:
        """Whether the text is only a person's name ("Phạm Văn Đồng", "bui thi lan"), with a
        phone number or not ("do minh tuan, 0903112244"): 2 to 4 words, the first a surname
        (:data:`procedures.aliases.SURNAMES`), the second a middle name
        (:data:`~procedures.aliases.MIDDLE_NAMES`) when there are 3 or 4, no two
        neighbours a word pair of the catalogue's names (with their accents when both have
        them: "hộ khẩu", "ho chieu" stay searches) and no phrase of the dictionaries
        ("cccd"). Read as a search, a name's syllables find any name that scatters them ("xâm
        phạm … văn phòng")."""
        words = tokens(_PHONE.sub(" ", text))
        if not 2 <= len(words) <= 4 or not all(w.isalpha() for w in words):
            return False
        terms = [_term(w) for w in words]
        if not all(
            _syllable(key) if marked else SYLLABLE.fullmatch(folded)
            for folded, key, marked in terms
        ):
            return False  # each word of a name is a syllable ("ho cihu" is hộ chiếu mistyped)
        if not _spelled(terms[0], _SURNAMES):
            return False
        if len(terms) > 2 and not _spelled(terms[1], _MIDDLE_NAMES):
            return False
        # The surname and middle name of a longer name may spell a pair without accents
        # ("do thi" đô thị, "vu van" dịch vụ vận tải): the given name must pair with neither.
        for first, second in pairwise(terms[1:] if len(terms) > 2 else terms):
            if first[2] and second[2]:
                if (first[1], second[1]) in self._key_bigrams:
                    return False
            elif (first[0], second[0]) in self._bigrams:
                return False
        folded = [t[0] for t in terms]
        vocabulary = self._vocabulary
        # One word of an everyday name may be a given name ("quặng" typed "quang").
        for size in range(1, len(folded) + 1):
            for start in range(len(folded) - size + 1):
                phrase = " ".join(folded[start : start + size])
                if phrase in vocabulary.abbreviations or size > 1 and phrase in vocabulary.names:
                    return False
        return True

    def _only_contact(self, text: str) -> bool:
        """Whether the text is a phone number and words that say so ("sđt em 0356112233", "số
        điện thoại của tôi là 0903 112 244, gọi lại giúp em"): its words would find the
        procedures that change a registered phone number."""
        if not _PHONE.search(text):
            return False
        rest = _CONTACT.sub(" ", _folded_text(_PHONE.sub(" ", text)))
        return self._content_word_count(rest) == 0

    def _generic(self, slots: list[_Slot], readings: bool = False) -> bool:
        """Whether a sentence of a long message (its `slots`) says only words of many
        procedures (in more than :data:`GENERIC_SHARE` of them): "Chủ trọ bảo phải đăng ký cho
        mình." names a kind of procedure, the story around it says which; alone it would find
        any "Đăng ký …". `readings`: the official words the citizen's stand for too ("đóng hẳn
        công ty": giải thể doanh nghiệp), else the words as said."""
        common = math.log(1 + 1 / GENERIC_SHARE)  # the idf of such a word at most
        words = [
            t.folded
            for slot in slots
            if not slot.optional
            for alternative in (slot.alternatives if readings else slot.alternatives[:1])
            for t in alternative
        ]
        return all(self._idf.get(word, math.inf) <= common for word in words)

    def _ranked(
        self,
        query: str,
        limit: int,
        allowed: set[int] | None,
        min_score: float,
        story: bool = False,
        negated: tuple[tuple[tuple[str, str], ...], ...] = (),
        slots: list[_Slot] | None = None,
        as_name: bool = False,
        spare: int = 0,
    ) -> list[Hit]:
        """The best `limit` procedures for a query (already bounded), over `min_score`;
        `story`: the query is a sentence of a long message (its context words are optional);
        `negated`: the phrases the citizen said they do not mean (a procedure whose names
        hold one scores :data:`NEGATED_FACTOR` of itself); `slots`: the query's, when already
        read (`_slots`); `as_name`: a long query is read as a name, not as a story; `spare`:
        after the best `limit`, up to as many of the others scored on the way, best first (for
        the re-ranking: a candidate whose bound fell under the best `limit`'s is not scored,
        so they need not be the next best)."""
        if slots is None:
            slots = self._slots(query, story)
        required = [s for s in slots if not s.optional]
        if not required:
            return []
        candidates = self._candidates(required, allowed)
        if not candidates:
            return []
        compiled = self._compile(slots, 0 if as_name else len(tokens(query)))
        # A field whose lexicon holds a phrase of the query is likely the one meant.
        hinted = frozenset().union(*(s.fields for s in required))
        # "cấp lại", "gia hạn", "điều chỉnh" said: the plain sibling is not meant.
        asked = _asked_variants(query)
        doc_variants = self._doc_variants
        foreign, foreign_said = self._foreign, "ngoai" in compiled.terms
        name_negations = self._name_negations
        folded = _folded_text(query)
        # The query's words, unless it denies something itself ("… không phải xin phép").
        affirmed = frozenset() if "khong phai" in folded else compiled.required_terms
        unmeant = self._unmeant(folded)
        field_words = self._field_words
        fields = self._fields
        terms, required_terms = compiled.terms, compiled.required_terms
        surfaces, priors, popularity = self._surfaces, self._priors, self._popularity
        docs = np.array(candidates, np.int64)
        # The prior at most: the field bonuses (the field named; its name holds a word of the
        # query), no popularity cut (the exact one is below).
        numbers = self._field_numbers
        most = self._prior_array[docs]
        for bonus, named in (
            (FIELD_BONUS, [numbers[f] for f in hinted if f in numbers]),
            (FIELD_WORD_BONUS, [f for w in required_terms for f in self._word_fields.get(w, ())]),
        ):
            if named:
                per_field = np.zeros(len(numbers))
                per_field[named] = bonus
                most = most + per_field[self._field_of[docs]]
        # What a candidate's score is multiplied by for what the query asks, whoever it names
        # (below), known before scoring.
        factors = np.ones(len(candidates))
        if asked:
            factors[[n for n, d in enumerate(candidates) if asked.isdisjoint(doc_variants[d])]] = (
                ASKED_VARIANT_FACTOR
            )
        if not foreign_said:
            factors *= np.where(self._foreign_docs[docs], FOREIGN_FACTOR, 1.0)
        if unmeant:
            factors *= [AUDIENCE_FACTOR if d in unmeant else 1.0 for d in candidates]
        contrary = self._contrary(folded)
        if contrary:
            factors *= [CONTRARY_FACTOR if d in contrary else 1.0 for d in candidates]
        # Candidates in the order of a bound on their score (`_bounds`); once the bound falls
        # under the score a result must beat, no later candidate can be among the results.
        (
            surface_ids, _starts, surface_bounds, others_most, ranked, firsts, covers, bounded,
            order,
        ) = self._bounds(docs, compiled, most, factors)
        doc_bounds, factor_list = bounded.tolist(), factors.tolist()
        firsts_list, covers_list = firsts.tolist(), covers.tolist()
        # The surfaces' figures in the order the candidates take them, made lists one
        # candidate at a time: a query visits a few of its candidates (7 of 80 is typical).
        ids_in_order, bounds_in_order = surface_ids[ranked], surface_bounds[ranked]
        others_in_order = others_most[ranked]
        top: list[tuple[float, int]] = []  # a min-heap of (score, -doc): the best `limit`
        passed: list[tuple[float, int]] = []  # the others scored over `min_score`
        scored: dict[int, tuple[float, float]] = {}  # shape → relevance, the cut it met
        for number in order.tolist():
            threshold = max(min_score, top[0][0]) if len(top) == limit else min_score
            if doc_bounds[number] + _BOUND_SLACK < threshold:
                break
            doc = candidates[number]
            # Its surfaces that explain a required word, the likeliest first (`_bounds`).
            first, last = firsts_list[number], firsts_list[number + 1]
            if first == last:
                continue
            ids: list[int] = ids_in_order[first:last].tolist()
            bounds: list[float] = bounds_in_order[first:last].tolist()
            others: list[float] = others_in_order[first:last].tolist()
            prior = priors[doc] + (FIELD_BONUS if hinted and fields[doc] in hinted else 0.0)
            # What a surface may get besides its relevance: FIELD_WORD_BONUS when the field's
            # name explains a word of the query it does not ("… hải quan" of a name in the
            # field Hải quan); DOC_WORDS_BONUS for the words the procedure's other names
            # explain (`_bounds`), once it finds the procedure by itself (below).
            hits = required_terms & field_words[fields[doc]]  # most fields: none
            field_most = FIELD_WORD_BONUS if hits else 0.0
            reach = bounds[0] + others[0] + field_most
            factor = factor_list[number]
            if (reach + prior) / _SCALE * factor + _BOUND_SLACK < threshold:
                continue
            if popularity[doc] and compiled.long_message:
                prior -= popularity[doc] * (1.0 - LONG_MESSAGE_POPULARITY)
            elif popularity[doc]:
                cover = covers_list[number]
                prior -= popularity[doc] * (1.0 - cover**POPULARITY_COVER_POWER)
                if (reach + prior) / _SCALE * factor + _BOUND_SLACK < threshold:
                    continue
            # A surface whose relevance cannot lift the doc over `threshold` may stop early.
            need = (threshold - _BOUND_SLACK) * _SCALE / factor - prior - _BOUND_SLACK
            best = 0.0
            doc_words: frozenset[str] | None = None
            # The likeliest surface first: a surface that cannot beat the best so far is not
            # scored, or stops early (the score is the best of them all the same).
            for j in range(last - first):
                floor = need if need > best else best
                if bounds[j] + others[j] + field_most + _BOUND_SLACK < floor:
                    break
                surface = surfaces[ids[j]]
                present = terms.intersection(surface.positions)
                field_word = field_most if hits and not hits <= present else 0.0
                cut = floor - field_word - others[j]
                # A shape scored already: its relevance (`_score` is exact unless it returns 0
                # for not reaching its cut), or 0 if it fell short of a cut no higher than this.
                known = scored.get(surface.shape)
                if known is not None and (known[0] > 0 or known[1] <= cut):
                    relevance = known[0]
                else:
                    relevance = self._score(surface, present, compiled, cut)
                    scored[surface.shape] = (relevance, cut)
                if relevance <= 0:
                    continue
                relevance += field_word
                if others[j] and (relevance + prior) / _SCALE >= min_score:
                    # The others help a surface that finds the procedure by itself: they
                    # rank what is found, and never make an answer of scattered words
                    # ("cuoi tuan nay di dau choi": "cưới" in one name, "chơi" in another).
                    if doc_words is None:
                        doc_words = self._doc_words(doc, compiled)
                    shares = sum(
                        share
                        for word, share in compiled.shares.items()  # in a fixed order
                        if word in doc_words and word not in present
                    )
                    relevance += DOC_WORDS_BONUS * min(1.0, shares)
                best = max(best, relevance)
            score = (best + prior) / _SCALE if best > 0 else 0.0
            if asked and asked.isdisjoint(doc_variants[doc]):
                score *= ASKED_VARIANT_FACTOR
            if doc in foreign and not foreign_said:
                score *= FOREIGN_FACTOR
            if doc in unmeant:
                score *= AUDIENCE_FACTOR
            if doc in contrary:
                score *= CONTRARY_FACTOR
            if negated and self._says(doc, negated):
                score *= NEGATED_FACTOR
            elif doc in name_negations and any(
                affirmed.issuperset(phrase) for phrase in name_negations[doc]
            ):
                score *= NEGATED_FACTOR  # "là cộng tác viên": not "… không phải là cộng tác viên"
            if score < min_score:
                continue
            if len(top) < limit:
                heapq.heappush(top, (score, -doc))
            elif (score, -doc) > top[0]:
                passed.append(heapq.heapreplace(top, (score, -doc)))
            else:
                passed.append((score, -doc))
        top.sort(reverse=True)
        if spare:
            top += heapq.nlargest(spare, passed)
        return [self._hit(-doc, score) for score, doc in top]

    def _surface_arrays(self) -> _SurfaceArrays:
        surfaces = self._surfaces
        word_ids = self._word_ids
        row_start = [0]
        rows: list[int] = []
        pair_start = [0]
        pairs: list[tuple[int, int]] = []
        for surface in surfaces:
            for word, places in surface.positions.items():
                content = _content_word(word, places, surface.content)
                rows.append(word_ids[word] | len(places) << 32 | content << 63)
            row_start.append(len(rows))
            pairs.extend(sorted({(word_ids[a], word_ids[b])
                                 for a, b in pairwise(surface.folded) if a != b}))
            pair_start.append(len(pairs))
        return _SurfaceArrays(
            doc_first=np.array([ids[0] if ids else 0 for ids in self._doc_surfaces], np.int64),
            doc_count=np.array([len(ids) for ids in self._doc_surfaces], np.int64),
            row_start=np.array(row_start, np.int64),
            rows=np.array(rows, np.uint64),
            content_total=np.array([s.content_total for s in surfaces], np.float64),
            text_length=np.array([s.text_length for s in surfaces], np.float64),
            factor=np.array([s.factor for s in surfaces], np.float64),
            head=np.array([s.head for s in surfaces], np.bool_),
            variants=np.array([_variant_bits(s.variants) for s in surfaces], np.int64),
            **_text_counts([s.text for s in surfaces]),
            pair_start=np.array(pair_start, np.int64),
            pairs=np.array([a | b << 32 for a, b in pairs], np.uint64),
        )

    def _bounds(
        self, candidates: np.ndarray, query: _Query, priors: np.ndarray, factors: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """At least what :meth:`_score` gives each surface of the candidates, computed at once
        without matching: the query cover is the one `_score` measures (each required slot's
        best alternative the surface holds; in a long message, against the need-sized share)
        and each query word it holds brings all its idf to the surface cover; word order
        counts as much as the query's neighbours the surface holds side by side (in a long
        message, as full); the likeness at most what the two texts' characters allow (in a
        long message, as high as the lengths allow); the cut for a variant the query does not
        say and the cap on one content word apply; the accent and repair factors are left out
        (at most 1).

        `priors`: the most each candidate's prior can add; `factors`: what its score is
        multiplied by, known before scoring. Returns what :func:`surface_bounds` returns: a
        surface that cannot score (it explains no required word, or is a name's head holding
        one word of the query: the name holding it is scored) is bounded by -1."""
        arrays = self._arrays
        assert arrays is not None
        # The query's words the catalogue has; each word id's place among them, if any.
        words = [w for w in sorted(query.terms) if w in self._word_ids]
        places = np.full(len(self._word_ids), -1, np.int32)
        places[[self._word_ids[w] for w in words]] = np.arange(len(words), dtype=np.int32)
        held_words = (
            places,
            np.array([self._idf[w] for w in words]),
            np.array([query.shares.get(w, 0.0) for w in words]),
            np.array([w in query.required_terms for w in words], np.uint8),
            np.array([query.spans.get(w, 0) for w in words], np.float64),
        )
        # Each pair of the query's neighbours as said, with how often at most (by place); a
        # long message's order is judged on the words each surface explains: no bound.
        said = None
        if query.pairs and not query.long_message:
            said = np.zeros((len(words), len(words)))
            for (one, other), often in query.pairs.items():
                if one in self._word_ids and other in self._word_ids:
                    said[places[self._word_ids[one]], places[self._word_ids[other]]] += often
        # The required slots as `_score` reads them: their weights, their alternatives (where
        # each slot's start, and one past the last; their total weight; whether a whole phrase)
        # and the alternatives' words (where each alternative's start; their places, -1 for a
        # word no name holds; their weights). For each surface's query cover, and for the
        # share of the query each candidate's scoring surfaces explain (the cover its
        # popularity is cut by; a long message's against a need-sized share, as in `_score`).
        number = {word: place for place, word in enumerate(words)}
        slot_weights: list[float] = []
        alternative_firsts, totals, wholes = [0], [], []
        term_firsts, term_places, term_weights = [0], list[int](), list[float]()
        for optional, weight, alternatives, _words, _default in query.slots:
            if optional:
                continue
            slot_weights.append(weight)
            for terms, total, phrase in alternatives:
                term_places.extend(number.get(t[0], -1) for t in terms)
                term_weights.extend(t[4] for t in terms)
                term_firsts.append(len(term_places))
                totals.append(total)
                wholes.append(phrase)
            alternative_firsts.append(len(totals))
        whole = query.required_weight
        if query.long_message:
            whole = min(whole, query.need_weight)
        asked = (
            query.text, query.long_message, query.required_weight, query.need_weight,
            query.gate, query.bonus_bound, query.pairs_least, query.accented,
            _variant_bits(query.variants), whole,
        )
        slots = (
            np.array(slot_weights, np.float64), np.array(alternative_firsts, np.int64),
            np.array(totals, np.float64), np.array(wholes, np.uint8),
            np.array(term_firsts, np.int64), np.array(term_places, np.int32),
            np.array(term_weights, np.float64),
        )
        return _surface_bounds(
            arrays, candidates, held_words, said, slots, asked, BOUND_WEIGHTS, priors, factors
        )

    def _doc_words(self, doc: int, query: _Query) -> frozenset[str]:
        """The query words with a cover share that a name of `doc` holds; a word the citizen
        wrote only with accents, where a name writes it so ("chú" is not the "chủ" of another
        name). What they add to a surface lacking them (`DOC_WORDS_BONUS`) is at most the bound
        `_bounds` gives, which takes any accents."""
        wanted = [word for word, share in query.shares.items() if share > 0]
        held: set[str] = set()
        for number in self._doc_surfaces[doc]:
            surface = self._surfaces[number]
            positions = surface.positions
            for word in wanted:
                if word in held or word not in positions:
                    continue
                written = query.written.get(word)
                if written is None or any(
                    _same_word(key, surface.keys[p]) for key in written for p in positions[word]
                ):
                    held.add(word)
            if len(held) == len(wanted):
                break
        return frozenset(held)

    def _without_reason(self, query: str) -> str:
        """The query without a reason clause ("… vì làm ăn thua lỗ": why, not what, is asked);
        typed without accents "vi" is "vì" only before a filler or context word ("vi khong
        …", "vi toi …") and where it pairs with no neighbour in the catalogue's names
        ("vi phạm", "phạm vi" stay)."""

        def drop(match: re.Match[str]) -> str:
            if match.group(1).lower() == "vì":
                return " "
            words = [_term(w)[0] for w in tokens(query[: match.start()])[-1:]]
            after = [_term(w)[0] for w in tokens(match.group(2))[:1]]
            if (
                not after
                or not _is_story(after[0])
                or (words and (words[0], "vi") in self._bigrams)
                or ("vi", after[0]) in self._bigrams
            ):
                return match.group(0)
            return " "

        return _REASON.sub(drop, query).strip() or query

    def _says(self, doc: int, phrases: tuple[tuple[tuple[str, str], ...], ...]) -> bool:
        """Whether a name of `doc` holds one of `phrases` (words as (folded, accent key); an
        unmarked key matches any accents)."""
        for surface_id in self._doc_surfaces[doc]:
            surface = self._surfaces[surface_id]
            folded, keys = surface.folded, surface.keys
            for phrase in phrases:
                for start in surface.positions.get(phrase[0][0], ()):
                    if _negated_at(folded, start):
                        continue  # "… không phải là cộng tác viên" does not say it
                    if all(
                        start + n < len(folded)
                        and folded[start + n] == word
                        and key in (word, keys[start + n])
                        for n, (word, key) in enumerate(phrase)
                    ):
                        return True
        return False

    def _hit(self, doc: int, score: float) -> Hit:
        procedure = self.procedures[doc]
        return Hit(
            code=procedure.code,
            name=procedure.name,
            score=round(score, 3),
            level=procedure.level,
            field=procedure.field,
        )

    def _filter(self, level: str | None, field_name: str | None) -> set[int] | None:
        if not level and not field_name:
            return None
        docs = set(range(len(self.procedures)))
        if level:
            wanted = _level_key(level)
            docs = {d for d in docs if wanted in self._levels[d]}
        if field_name:
            wanted_field = fold(field_name).strip()
            docs = {d for d in docs if fold(self._fields[d]).strip() == wanted_field}
        return docs

    def _candidates(self, required: list[_Slot], allowed: set[int] | None) -> list[int]:
        terms: dict[str, float] = {}
        typed = {t.folded for slot in required for t in slot.alternatives[0]}
        for slot in required:
            for alternative in slot.alternatives:
                for term in alternative:
                    if term.folded in self._postings:
                        share = 1.0 if term.folded in typed else READING_SHARE
                        terms[term.folded] = self._idf[term.folded] * share
        if not terms:
            return []
        limit = max(2000, len(self.procedures) // 10)
        postings: list[np.ndarray] = []
        weights: list[float] = []
        for word, idf in sorted(terms.items(), key=lambda item: -item[1]):
            docs = self._postings[word]
            if postings and len(docs) > limit:
                continue  # very common words only rank candidates found by rarer ones
            postings.append(docs)
            weights.append(idf)
        return _best_docs(postings, weights, self._prior_array, allowed, _CANDIDATES)

    def _compile(self, slots: list[_Slot], message_words: int = 0) -> _Query:
        """The query of `slots`; `message_words`: the words of the text they come from (a long
        message, from :data:`LONG_MESSAGE_WORDS`, is scored on the words a procedure explains)."""
        compiled: list[_CompiledSlot] = []
        every: set[str] = set()
        required_terms: set[str] = set()
        required_weight = optional_weight = 0.0
        for slot in slots:
            alternatives: list[_CompiledAlternative] = []
            for number, alternative in enumerate(slot.alternatives):
                terms = [
                    (t.folded, t.key, t.marked, t.repaired, self._idf.get(t.folded, self._max_idf))
                    for t in alternative
                ]
                whole = slot.whole_first and number == 0 and len(terms) > 1
                alternatives.append((terms, sum(w for *_, w in terms), whole))
            words = frozenset(t.folded for alternative in slot.alternatives for t in alternative)
            default = tuple(t.folded for t in slot.alternatives[0])
            compiled.append((slot.optional, slot.weight, alternatives, words, default))
            every |= words
            if slot.optional:
                optional_weight += slot.weight
            else:
                required_weight += slot.weight
                required_terms |= words
        text = " ".join(sorted(t.folded for s in slots for t in s.alternatives[0]))
        accented = any(t.marked for s in slots for alt in s.alternatives for t in alt)
        required_slots = sum(1 for s in slots if not s.optional)
        # Past a need-sized number of words told (content and context: how many of the story's
        # words the context list knows must not change how it is read) a long message's cover,
        # order and likeness are judged on the words a procedure explains (`_score`).
        told = required_slots + sum(1 for s in slots if s.story)
        long_message = message_words >= LONG_MESSAGE_WORDS and told > _NEED_SLOTS
        # A long message's word order is judged on the words each procedure explains: no bound.
        pairs, pairs_least = ({}, 0) if long_message else _order_pairs(slots)
        return _Query(
            slots=compiled,
            terms=frozenset(every),
            required_terms=frozenset(required_terms),
            shares=_cover_shares(compiled, required_weight),
            text=text,
            accented=accented,
            required_slots=required_slots,
            required_weight=required_weight,
            optional_weight=optional_weight,
            # Long questions carry context words no procedure name has ("ở nông thôn").
            gate=0.6 if required_slots <= 3 else _LONG_GATE if long_message else 0.4,
            text_length=len(text),
            bonus_bound=0.03 * (optional_weight > 0) + 0.03 * accented,
            long_message=long_message,
            need_weight=required_weight * _NEED_SLOTS / required_slots if long_message else 0.0,
            spans=_matched_spans(compiled) if long_message else {},
            guessed=frozenset(number for number, s in enumerate(slots) if s.guessed),
            pairs=pairs,
            pairs_least=pairs_least,
            written=_written(slots),
            variants=frozenset(
                t.folded
                for s in slots
                for alt in s.alternatives
                for t in alt
                # Typed without accents a word may be the variant; with them, or as the official
                # words of a phrase ("bằng lái" → giấy phép lái xe), only as its own spelling.
                if t.folded in _VARIANT_FOLDED and (t.key == t.folded or t.key in _VARIANT_KEYS)
            ),
        )

    def _score(
        self, surface: _Surface, present: frozenset[str], query: _Query, need: float = -1.0
    ) -> float:
        """The surface's relevance to the query; `present`: the query's words it holds. Only
        they can match: a slot holding none explains nothing (it adds 0 to the sums below) and
        only lends its words to `sequence`. Keep :meth:`_bounds` above this.

        When, once the query cover is known, the relevance cannot reach `need`, 0 is returned
        without the rest (the surface cannot change the results)."""
        positions = surface.positions
        if query.required_terms.isdisjoint(present):
            return 0.0
        keys = surface.keys
        halves = surface.halves
        matched_weight = optional_matched = 0.0
        accent_hits = accent_total = 0
        accent_agreement = 0.0
        # ordered: their idf is summed below; the accent key the query wrote them with, if any
        matched_terms: dict[str, str | None] = {}
        required_matched: set[str] = set()
        # Required words matched only as a slot's extra repair (`_add_context_repairs`): made
        # up to pair with a neighbour, their pairing witnesses nothing ("an com" → "án có").
        guessed: set[str] = set()
        sequence: list[str] = []
        # Places in `sequence` whose word the citizen did not type next to the one before: the
        # words of the reading of a guessed slot (`_Slot.guessed`), when the query asks more
        # than it ("cuoi tuan … choi"; "giay to cuoi" is kết hôn).
        unsaid: set[int] = set()
        accents: dict[tuple[str, str], float] = {}
        for number, (optional, slot_weight, alternatives, words, default) in enumerate(
            query.slots
        ):
            if words.isdisjoint(present):
                sequence.extend(default)
                continue
            best_fraction, best_terms = 0.0, alternatives[0][0]
            for terms, total, whole in alternatives:
                got = 0.0
                for folded, key, marked, repaired, weight in terms:
                    if folded not in present:
                        continue
                    factor = 1.0
                    if marked:
                        factor = accents.get((folded, key), -1.0)
                        if factor < 0:
                            factor = max(_accent_factor(key, keys[p]) for p in positions[folded])
                            accents[(folded, key)] = factor
                    if repaired:
                        factor *= 0.8
                    if halves and folded in halves and halves[folded].isdisjoint(query.terms):
                        factor *= HALF_FACTOR
                    got += weight * factor
                if whole and not all(t[0] in present for t in terms):
                    continue  # "sổ đỏ" is a phrase: its "sổ" alone is not it
                if got and total and got / total > best_fraction:
                    best_fraction, best_terms = got / total, terms
            if number in query.guessed and query.required_slots > 1:
                unsaid.update(range(len(sequence) + 1, len(sequence) + len(best_terms)))
            for folded, key, marked, guess, _weight in best_terms:
                sequence.append(folded)
                if folded in present:
                    # The official words of a phrase keep their accents ("lái" of giấy phép
                    # lái xe); a word typed without them may stand for any spelling (None).
                    written = key if marked or key != folded else None
                    if written is None or folded not in matched_terms:
                        matched_terms[folded] = written
                    if not optional:
                        required_matched.add(folded)
                        if guess and best_terms is not alternatives[0][0]:
                            guessed.add(folded)
                    if marked:
                        accent_total += 1
                        agreement = accents.get((folded, key), -1.0)
                        if agreement < 0:
                            agreement = max(
                                _accent_factor(key, keys[p]) for p in positions[folded]
                            )
                            accents[(folded, key)] = agreement
                        accent_agreement += agreement
                        if agreement == 1.0:
                            accent_hits += 1
            if optional:
                optional_matched += slot_weight * best_fraction
            else:
                matched_weight += slot_weight * best_fraction
        required_weight = query.required_weight
        if required_weight <= 0 or matched_weight <= 0:
            return 0.0
        query_cover = matched_weight / required_weight
        if query.long_message:
            # A need takes a few words; the rest of a long message is its story, which is not
            # the procedure's to explain: cover is measured against at most what this surface
            # explains or the weight of a need-sized share of the message (`_bounds` alike).
            share = max(surface.content_total, query.need_weight)
            query_cover = min(1.0, matched_weight / min(required_weight, share))
        gate = query.gate
        if need > 0:
            upper = W_QUERY * query_cover**Q_POWER + W_SURFACE + W_ORDER + W_FUZZY
            upper += query.bonus_bound
            if query.accented and accent_total:
                upper *= accent_agreement / accent_total
            if query_cover < gate:
                upper *= query_cover / gate
            if upper * surface.factor < need:
                return 0.0
        content_total = surface.content_total
        content_got = 0.0
        idf = self._idf
        content = surface.content
        for term, written in matched_terms.items():
            if term in _FILLER_FOLDED:
                for p in positions[term]:
                    if content[p]:
                        content_got += idf[term]
            elif written is not None:
                # Written with accents, a word explains only its own places in the surface:
                # "lái xe" does not explain the "lại" of "Cấp lại … lái xe".
                for p in positions[term]:
                    if _same_word(written, keys[p]):
                        content_got += idf[term]
            else:
                content_got += idf[term] * len(positions[term])
        surface_cover = min(1.0, content_got / content_total) if content_total else 0.0
        if surface.head and surface_cover < HEAD_COVER:
            return 0.0  # a few words of a name's head are no witness: the whole name is
        query_text = query.text
        if query.long_message:
            # Word order and likeness are judged on the words this surface explains, not the story.
            sequence = [t for t in sequence if t in matched_terms]
            query_text = " ".join(sorted(sequence))
        pairs = adjacent = 0
        for number in range(1, len(sequence)):  # each word and the one before it
            first, second = sequence[number - 1], sequence[number]
            if first == second:
                continue
            pairs += 1
            if first in present and second in present:
                after = positions[second]
                if any(p + 1 in after for p in positions[first]):
                    adjacent += 1
        order = adjacent / pairs if pairs else 0.0
        # Both texts hold their words sorted: this is rapidfuzz's token_sort_ratio.
        similarity = fuzz.ratio(query_text, surface.text) / 100.0
        relevance = (
            W_QUERY * query_cover**Q_POWER
            + W_SURFACE * surface_cover
            + W_ORDER * order
            + W_FUZZY * similarity
        )
        optional_weight = query.optional_weight
        if optional_weight:
            relevance += 0.03 * optional_matched / optional_weight
        if query.accented and accent_total:
            relevance += 0.03 * accent_hits / accent_total
            # Words matched only without their accents are likely other words ("sơ đồ").
            relevance *= accent_agreement / accent_total
        if query_cover < gate:
            relevance *= query_cover / gate
        if not surface.variants <= query.variants:
            # "Cấp lại …", "Xóa đăng ký …" when the citizen said neither: the plain sibling
            # ("Cấp …", "Đăng ký …") is meant.
            relevance *= VARIANT_FACTOR
        if surface_cover < 0.99 and _one_content_word_at_most(
            required_matched, positions, content
        ):
            # One word alone ("tên", "yêu") is not enough to name a procedure, unless the
            # surface is exactly that word.
            relevance = min(relevance, WEAK_RELEVANCE)
        elif (
            # Without accents a syllable matches any word of its letters ("an" án, "mua" mưa):
            # a short query's words scattered over a name, no two of them side by side there as
            # in the query, are likely other words ("an com chua"), not a witness of the name.
            not query.accented
            and not query.long_message
            and not _witnessed_pair(sequence, required_matched - guessed, positions, unsaid)
        ):
            relevance = min(relevance, WEAK_RELEVANCE)
        return relevance * surface.factor

    # --- query analysis -------------------------------------------------------------------

    def _slots(self, query: str, story: bool = False) -> list[_Slot]:
        raw_words = [_digits(w) for w in tokens(query)]
        accented_text = any(_term(w)[2] for w in raw_words)
        flat: list[tuple[str, str, bool, bool]] = []  # folded, key, marked, repaired
        for i, raw in enumerate(raw_words):
            told = self._told_repair(raw_words, i, accented_text)
            if told is not None:
                flat.append((told.folded, told.key, told.marked, True))
                continue
            before = after = ""
            if not accented_text:  # the neighbours tell which slip a word is (`_slip`)
                before = _term(raw_words[i - 1])[0] if i > 0 else ""
                after = _term(raw_words[i + 1])[0] if i + 1 < len(raw_words) else ""
            repaired, word = self._repair(raw, accented_text, before, after)
            for part in word:
                folded, key, marked = _term(part)
                flat.append((folded, key, marked, repaired))
        accented = any(t[2] for t in flat)
        long_message = story or len(raw_words) >= LONG_MESSAGE_WORDS
        if accented:
            self._repair_non_syllables(flat, phrases=not long_message)
        slots = self._segmentation(flat, accented, long_message)
        self._add_context_repairs(slots, accented, phrases=not long_message)
        return slots

    def _segmentation(
        self, flat: list[tuple[str, str, bool, bool]], accented: bool, long_message: bool
    ) -> list[_Slot]:
        """The slots of the words `flat`: the reading whose known phrases cover the most words,
        then with the fewest pieces, then whose phrases start furthest right. A phrase read
        first from the left often eats the start of the next one ("giay phep mo | chi nhanh",
        "thành lập công ty | bảo hiểm"); Vietnamese names its head first and qualifies it
        after, so of two readings covering as much the later phrase is the whole one."""
        n = len(flat)
        words = [t[0] for t in flat]
        # best[i]: (words covered by phrases, -pieces, start of the first phrase, slots) of
        # the best reading of flat[i:].
        best: list[tuple[int, int, int, list[_Slot]]] = [(0, 0, n, [])] * (n + 1)
        for i in range(n - 1, -1, -1):
            options: list[tuple[int, list[_Slot]]] = []  # (words taken, slots)
            longest = self._vocabulary.lengths.get(flat[i][0], 0)  # no phrase starts here: 0
            if long_message:
                longest = max(longest, _CONTEXT_LENGTHS.get(flat[i][0], 0))
            single = None
            for size in range(min(_MAX_PHRASE, n - i, longest), 0, -1):
                phrase = " ".join(words[i : i + size])
                slot = None
                if long_message:
                    slot = self._context_slot(flat, i, size, accented, phrase)
                slot = slot or self._phrase_slot(phrase, flat[i : i + size], accented, flat, i)
                if slot is None:
                    continue
                if size == 1:
                    single = slot
                else:
                    options.append((size, [slot]))
            if longest > 1 and not options:
                gapped = self._gapped_slot(flat, i, longest, accented)
                if gapped is not None:
                    options.append((gapped[1], gapped[0]))
            if single is None:
                folded, key, marked, repaired = flat[i]
                term = _Term(folded, key, marked, repaired)
                optional = folded.isdigit() or (
                    len(folded) == 1 or _MEASURE.fullmatch(folded) is not None
                ) and folded not in self._vocab_set
                single = _Slot([[term]], self._weight(folded), optional)
            covered, pieces, first, rest = best[i + 1]
            choice = (covered, pieces - 1, first, [single, *rest])
            for size, taken in options:
                covered, pieces, first, rest = best[i + size]
                candidate = (covered + size, pieces - len(taken), i, taken + rest)
                if candidate[:3] > choice[:3]:
                    choice = candidate
            assert choice is not None  # the single word is always an option
            best[i] = choice
        return list(best[0][3])

    def _content_word_count(self, text: str) -> int:
        """How many words of `text` are content words (a phrase counts each of its words)."""
        return sum(len(words.split()) for words in self.content_words(text))

    def content_words(self, query: str) -> list[str]:
        """The words of a message a procedure is scored on, folded, one entry per word or known
        phrase: filler ("cho em hỏi … ạ") and context (family, places, times, hearsay) left
        out. ``"vợ em mới về nhà chồng, giờ muốn nhập hộ khẩu"`` → ``["nhap ho khau"]``."""
        slots = self._slots(self._written_out(bounded_query(query)))
        return [" ".join(t.folded for t in s.alternatives[0]) for s in slots if not s.optional]

    def _written_out(self, query: str) -> str:
        """The query with a word the space bar split joined again (:meth:`_rejoined`), chat
        shorthand written out ("e mún lm cccd" → "em muốn làm cccd") and teen spellings read
        ("fải" → "phải", "jấy" → "giấy", "wê" → "quê"), so that every rule after reads the
        words it knows ("… được k" asks, "k phải công ty" says which not). Shorthand typed
        without its marks is written out only where the catalogue does not use that spelling
        for a word of its own ("hong" may be hồng) or it is one letter; the reading of the
        words left is the slots' (:meth:`_slots`)."""
        query = self._rejoined(query)
        if not any(
            word in _CHAT_TYPED or word in _CHAT_BARE or "f" in word or word[0] in "wjz"
            or word in _CHAT_PHRASE_WORDS
            for word in tokens(query)
        ):
            return query
        query = _CHAT_PHRASE.sub(lambda match: CHAT_PHRASES[match.group(0)], query)
        marked = has_diacritics(query)

        def written(match: re.Match[str]) -> str:
            typed = match.group(0)
            word = typed.lower()  # "VN", "K"
            folded, _key, word_marked = _term(word)
            expansion = _CHAT_TYPED.get(word)
            if expansion is None and not word_marked and (
                len(word) == 1 or folded not in self._vocab_set
            ):
                expansion = _CHAT_BARE.get(word)
            if len(word) == 1 and _CLASS_WORD.search(query, 0, match.start()):
                expansion = None  # "bằng lái hạng C", "điểm c khoản 1": a class, not chị
            if expansion is not None:
                return expansion if marked else fold(expansion)
            if folded in self._vocab_set or not word.isalpha():
                return typed
            for spelling in _teen_spellings(typed):
                if _term(spelling)[0] in self._vocab_set:
                    return spelling
            return typed

        return _WORD.sub(written, query)

    def _rejoined(self, query: str) -> str:
        """The query with a word the space bar split joined again ("kha i sinh", "căn c ước",
        "l àm"): two neighbours that make a word of the names together (typed with marks, one
        the names or citizens' phrases write so: "ở đ âu"), not a pair of theirs apart, one of
        them no word of theirs or a letter alone that is no filler ("mẹ ở" stays), two such
        strays side by side first ("xe m áy"); or that make shorthand citizens write, neither
        half being shorthand itself unless a letter alone ("b hyt", "hk d"; not "1 tv")."""
        words = tokens(query)
        vocab = self._vocab_set

        def stray(word: str) -> bool:
            # No word of the names, a letter alone ("ở" is one) or a spelling with marks
            # nobody writes ("hi ểm", "m áy").
            folded, key, marked = _term(word)
            return (
                folded not in vocab
                or len(word) == 1 and not (folded in _FILLER_FOLDED or folded in _CONTEXT_WORDS)
                or marked and key not in self._written_keys
            )

        strays = [stray(w) for w in words]
        if not any(strays):
            return query
        known = self._vocabulary.known
        # Two strays first: "xe m áy" is "xe máy", not "xem áy".
        for both in (True, False):
            for (a, b), (a_stray, b_stray) in zip(
                pairwise(words), pairwise(strays), strict=True
            ):
                if not (a_stray and b_stray if both else a_stray or b_stray):
                    continue
                folded, key, marked = _term(a + b)
                if (_term(a)[0], _term(b)[0]) in self._bigrams:
                    continue
                if (
                    _syllable(key)
                    and folded in vocab
                    and (key in self._written_keys if marked else True)
                    # …or shorthand citizens write, split where neither half is one ("b hyt",
                    # "hk d", "vne id"; not "2tv thêm 1 tv", "dn nn").
                    or not marked and folded.isalpha() and folded in known and not _syllable(key)
                    and (len(a) == 1 or len(b) == 1 or not ({_iy(a), _iy(b)} & known))
                ):
                    apart = rf"(?<!\w){re.escape(a)}\s+{re.escape(b)}(?!\w)"
                    query = re.sub(apart, a + b, query, count=1)
        return query

    def _gapped_slot(
        self, flat: list[tuple[str, str, bool, bool]], i: int, longest: int, accented: bool
    ) -> tuple[list[_Slot], int] | None:
        """A phrase of the dictionaries said with one or two small words inside ("đóng hẳn
        công ty", "mở thêm một chi nhánh"): the phrase's slot and an optional slot for those
        words, and the number of words they take."""
        gap_words = _GAP_KEYS if accented else _GAP_FOLDED
        # Most phrases hold no small word at all (the places a gap can be: i + 1 … i + longest).
        if not any(
            (w[1] if accented else w[0]) in gap_words or not accented and w[0] in _LOOSE_GAP
            for w in flat[i + 1 : i + longest + 1]
        ):
            return None
        bound = self._gap_bound
        for size in range(min(longest + 2, len(flat) - i), 2, -1):
            span = flat[i : i + size]
            for gap in range(1, size - 1):
                for width in (1, 2):
                    words = span[gap : gap + width]
                    if gap + width >= size or any(
                        (w[1] if accented else w[0]) not in gap_words
                        and (
                            # Without accents "mot", "cai", "duoc" are the small word only
                            # where they form no pair of the names as another word.
                            accented
                            or w[0] not in _LOOSE_GAP
                            or (span[gap + n - 1][0], w[0]) in bound
                            or (w[0], span[gap + n + 1][0]) in bound
                        )
                        for n, w in enumerate(words)
                    ):
                        continue
                    rest = span[:gap] + span[gap + width :]
                    if len(rest) > longest:
                        continue
                    slot = self._phrase_slot(" ".join(t[0] for t in rest), rest, accented)
                    if slot is None or slot.optional:
                        continue
                    terms = [_Term(*w) for w in words]
                    weight = sum(self._weight(w[0]) for w in words)
                    return [slot, _Slot([terms], weight, True)], size
        return None

    def _context_slot(
        self, flat: list[tuple[str, str, bool, bool]], i: int, size: int, accented: bool,
        phrase: str,
    ) -> _Slot | None:
        """An optional slot when ``flat[i : i + size]`` (its folded words: `phrase`) is a
        context word or phrase (:data:`procedures.aliases.CONTEXT`) used as such: not bound to
        a neighbour by a word pair the catalogue knows ("bảo" in "bảo hiểm", "mai" in "mai
        táng")."""
        spellings = _CONTEXT.get(phrase)
        if spellings is None:
            return None
        span = flat[i : i + size]
        if accented and tuple(t[1] for t in span) not in spellings:
            return None  # in a text with accents each word is written as meant: "thay" ≠ thấy
        if not accented and size == 1 and phrase not in self._loose_context:
            # One syllable typed without accents is often another word ("co": cô, có, cơ); two
            # of a context phrase together seldom are, and a pair with a neighbour still binds.
            return None
        # A neighbour that is itself filler or context binds nothing ("về nhà chồng").
        before = flat[i - 1] if i > 0 and not _is_story(flat[i - 1][0]) else None
        after = flat[i + size] if i + size < len(flat) else None
        after = None if after is None or _is_story(after[0]) else after
        if before and self._paired(before, span[0], accented):
            return None
        if after and self._paired(span[-1], after, accented):
            return None
        terms = [_Term(f, k, m, r) for f, k, m, r in span]
        return _Slot([terms], sum(self._weight(t.folded) for t in terms), True, story=True)

    def _paired(
        self,
        first: tuple[str, str, bool, bool],
        second: tuple[str, str, bool, bool],
        accented: bool,
    ) -> bool:
        """Whether two words form a pair the catalogue's names use (with their accents when the
        text has them)."""
        if accented:
            return self._pair_known(first[1], second[1], True, phrases=False)
        return self._pair_known(first[0], second[0], False, phrases=False)

    def _add_context_repairs(
        self, slots: list[_Slot], accented: bool, phrases: bool = False
    ) -> None:
        """A known word that fits none of its neighbours may be a typo of one that does:
        "ho chiu" → "ho chieu"; in a text with accents also a real syllable typed for another
        ("gia hạng" → gia hạn, "căng cước" → căn cước, "khai tữ" → khai tử), judged on the
        pairs of accented words the catalogue's names use, and one that fits one neighbour
        only when a near spelling fits both ("giải thẻ công ty"). With `phrases` (a short
        message: a long one's story holds many pairs no phrase means), the pairs of the
        citizens' phrases count too ("tách khu": tách khẩu). The repair is only an extra
        alternative of the slot."""
        for i, slot in enumerate(slots):
            if slot.optional or len(slot.alternatives) != 1 or len(slot.alternatives[0]) != 1:
                continue
            term = slot.alternatives[0][0]
            if len(term.folded) < (2 if accented else 3) or term.folded.isdigit():
                continue
            if accented:  # neighbours in the need: filler and context words are no witnesses
                before_term = next((s.alternatives[0][-1] for s in reversed(slots[:i])
                                    if not s.optional), None)
                after_term = next((s.alternatives[0][0] for s in slots[i + 1:]
                                   if not s.optional), None)
            else:
                before_term = slots[i - 1].alternatives[0][-1] if i > 0 else None
                after_term = slots[i + 1].alternatives[0][0] if i + 1 < len(slots) else None
            if before_term is None and after_term is None:
                continue
            if accented:
                word, before, after = term.key, _key_of(before_term), _key_of(after_term)
            else:
                word, before, after = term.folded, _folded_of(before_term), _folded_of(after_term)
            paired = self._pair_known(before, word, accented, phrases) + self._pair_known(
                word, after, accented, phrases
            )
            if paired == 2 or paired and (not accented or not before or not after):
                continue  # (one that fits one neighbour is repaired only to fit both)
            if not accented and word in self._rare_filler:
                # Without accents a filler spelling that pairs with no neighbour is the filler
                # word ("hkd can giay to": cần), not a typo of another word ("cap"), unless the
                # names mostly use its letters as another word (:data:`UNPAIRED_USES`).
                slots[i] = replace(slot, optional=True)
                continue
            repair = (self._accented_repair if accented else self._folded_repair)(
                term, before, after, phrases
            )
            if repair is not None and paired:
                # It fits one neighbour: the repair must fit both ("giải thẻ công ty": "thẻ
                # công" is a pair of the names, "giải thể công ty" two).
                fits = self._pair_known(before, repair.key, accented, phrases) + (
                    self._pair_known(repair.key, after, accented, phrases)
                )
                repair = repair if fits > paired else None
            if repair is None:
                continue
            if phrases and not accented and len(repair.folded) > len(term.folded):
                # A letter left out is the commonest slip: the word it puts back, pairing with
                # a neighbour, is read first in a short message typed without accents ("lam ho
                # chiu": hộ chiếu, "can cuc": căn cước), and its pair witnesses the procedure
                # (`_score`) as one typed would.
                slot.alternatives.insert(0, [repair])
            else:
                slot.alternatives.append([repair])

    def _names_pair(self, before: str, key: str, after: str) -> bool:
        """Whether an accent key forms a pair of the names' accented words with a neighbour."""
        return (before, key) in self._key_bigrams or (key, after) in self._key_bigrams

    def _pair_known(self, first: str, second: str, accented: bool, phrases: bool) -> bool:
        """Whether two words (accent keys when `accented`, else folded) are a pair of the
        catalogue's names, or with `phrases` of the citizens' phrases too."""
        pair = (first, second)
        if accented:
            return pair in self._key_bigrams or phrases and pair in self._vocabulary.key_pairs
        return pair in self._bigrams or phrases and pair in self._vocabulary.pairs

    def _told_repair(self, words: list[str], i: int, accented: bool) -> _Term | None:
        """The word meant by a slip its neighbours tell: a word typed with marks that no
        Vietnamese syllable spells, or one with its vowels left out that is no shorthand (an
        onset and a final alone: "php", "thnh", "chc"), stands for the word within one edit
        (a vowel and its tone count as one) that forms a pair of the names with a neighbour
        ("trợ giúp php lí": pháp; "bảo hiể": hiểm); other words with no vowel are shorthand
        (:meth:`_shorthand_told`). None when no such word pairs: the word is then read as one
        word alone (`_repair`)."""
        word = words[i]
        folded, key, marked = _term(word)
        if not word.isalpha() or len(folded) < 3 or key in self._key_set:
            return None
        if marked and (_syllable(key) or _DOUBLED_LETTER.search(folded)):
            return None  # a syllable, or a letter typed twice (`_slip`)
        if not marked and (folded in self._vocab_set or folded in self._vocabulary.known):
            return None
        if not marked and not _VOWELLESS.fullmatch(folded):
            return None if _VOWEL_RUN.search(folded) else self._shorthand_told(folded, words, i)
        term = _Term(folded, key, marked)
        before = _term(words[i - 1]) if i > 0 else ("", "", False)
        after = _term(words[i + 1]) if i + 1 < len(words) else ("", "", False)
        if accented:
            told = self._accented_repair(term, before[1], after[1])
        else:
            told = self._folded_repair(term, before[0], after[0])
        if told is None or not marked and _VOWEL_RUN.sub("", told.folded) != folded:
            return None  # the vowels left out, not another letter ("tht" is no "thi")
        return told

    def _repair_non_syllables(
        self, flat: list[tuple[str, str, bool, bool]], phrases: bool = False
    ) -> None:
        """In a text with accents, a word typed with marks that is no Vietnamese syllable at all
        ("cuhyển", "bằgn", "hàgn") stands for the accented word within one edit that pairs
        with a neighbour ("lập vi bằng"), else for the nearest word of the names (any
        accents): it was not typed on purpose. So does a syllable the names never use that is
        no filler or context word either ("mất căn cớưc", "nước ngài"), when a word
        within one edit pairs with a neighbour; else it is read as typed. First of all, a word
        nobody writes so (not the names, the phrasings, the dictionaries) stands for its
        sound-alike (:func:`_spoken`) that pairs with a neighbour ("hộ triếu": chiếu), else for
        the one with the tone it is most often confused with, when the names write that ("đỗi
        bằng lái": đổi), else for the word within one edit that pairs with a neighbour ("chưng
        thực": chứng, not the "trưng" a voice may say), else for its one sound-alike the names
        write ("báng đất": bán). A
        word no syllable spells that nothing near pairs with takes the tone its final stop
        needs ("cươc": cước), else is read without its marks when the names have its letters,
        else as the nearest word of theirs."""
        for i, (folded, key, marked, repaired) in enumerate(flat):
            unwritten = marked and not repaired and key not in self._written_keys
            syllable = _syllable(key)
            term = _Term(folded, key, marked)
            before = flat[i - 1][1] if i > 0 else ""
            after = flat[i + 1][1] if i + 1 < len(flat) else ""
            if unwritten and syllable:
                # Written by ear ("hộ triếu"): the spelling that sounds alike and pairs with
                # a neighbour.
                heard = next(
                    (other for other in _spoken(key) if self._names_pair(before, other, after)),
                    None,
                )
                if heard is not None:
                    flat[i] = (_iy(_marks_off(heard)), heard, True, True)
                    continue
            tone = _CONFUSED_TONES.get(key[-1:])
            if tone and unwritten:
                # A tone nobody writes on these letters: the one a Southern or Central voice
                # confuses it with ("đỗi" đổi, "mợi" mới, "thũ" thủ), when the names write it.
                other = key[:-1] + tone
                if other in self._key_set:
                    # …unless only a word within one edit pairs with a neighbour ("hộ chíu":
                    # chiếu, not chịu).
                    near = None
                    if syllable and not self._names_pair(before, other, after):
                        near = self._accented_repair(term, before, after, phrases)
                    flat[i] = (folded, other, True, True) if near is None else (
                        near.folded, near.key, True, True)
                    continue
            if unwritten and syllable:
                # A mark left out or mistyped, which a neighbour tells ("chưng thực").
                near = self._accented_repair(term, before, after, phrases)
                if near is not None:
                    flat[i] = (near.folded, near.key, True, True)
                    continue
                # Written by ear, no neighbour telling ("báng đất", "chặc cây"): the one
                # sound-alike the names write.
                written = [other for other in _spoken(key) if other in self._key_set]
                if len(written) == 1:
                    flat[i] = (_iy(_marks_off(written[0])), written[0], True, True)
                continue  # else read as typed: its near words were tried above
            if (
                not marked
                or repaired
                or len(folded) < 3
                or key in self._key_set  # the names write it so ("tnlđ", "nitơ")
                # Known to the dictionaries, unless it is no syllable and no shorthand
                # either ("ruôt": ruột).
                or folded in self._vocabulary.known
                and (syllable or not _VOWEL_RUN.search(folded))
            ):
                continue
            if syllable and (
                folded in self._vocab_set or folded in _FILLER_FOLDED or folded in _CONTEXT_WORDS
            ):
                continue
            fixed = self._accented_repair(term, before, after, phrases)
            if fixed is not None:
                flat[i] = (fixed.folded, fixed.key, True, True)
            elif not syllable and (toned := [
                key + tone for tone in "15" if key + tone in self._key_set
            ]):
                # "cươc", "ruôt": the tone a final stop needs, sắc unless only nặng is written
                # or pairs with a neighbour.
                paired = [k for k in toned if self._names_pair(before, k, after)]
                flat[i] = (folded, (paired or toned)[0], True, True)
            elif not syllable and folded in self._vocab_set:
                flat[i] = (folded, folded, False, True)  # its marks are slips: read without
            elif not syllable and (nearest := self._nearest(folded)):
                flat[i] = (nearest, nearest, False, True)

    def _near_keys(self, key: str) -> list[str]:
        """The accented words of the names one edit away from `key` (remembered: the words
        citizens type are few)."""
        near = self._near.get(key)
        if near is None:
            near = [
                found
                for found, _distance, _ in process.extract(
                    key, self._keys, scorer=OSA.distance, score_cutoff=1, limit=12
                )
                if found != key
            ]
            if not key[-1].isdigit():
                # A vowel with the tone on it left out ("cưc" for cước): two edits of its key.
                near += [
                    toned
                    for base, _distance, _ in process.extract(
                        key, self._toned_bases, scorer=OSA.distance, score_cutoff=1, limit=None
                    )
                    if len(base) == len(key) + 1
                    for toned in self._toned[base]
                ]
            if len(self._near) < 50_000:
                self._near[key] = near
        return near

    def _folded_repair(
        self, term: _Term, before: str, after: str, phrases: bool = False
    ) -> _Term | None:
        """The word within one edit of an unaccented word, or spelt alike by ear
        (:func:`_spoken`), that pairs most with its neighbours (in the names). With `phrases`
        (a short message) the citizens' phrases' pairs count too, and every word within one
        edit is weighed: first the one that pairs with more neighbours, then one with a letter
        more (a letter left out is the commonest slip: "can coc" → cước, not các), then the
        one that pairs more often. A long message holds many words that pair by chance: there
        only the first dozen near words are weighed, by how often they pair."""
        said = self._vocabulary.pairs if phrases else {}
        best, best_rank = None, (0, False, 0)
        near = process.extract(
            term.folded, self._vocab, scorer=OSA.distance, score_cutoff=1,
            limit=None if phrases else 12,
        )
        spoken = [word for word in _spoken(term.folded) if word in self._vocab_set]
        for word in [*(str(found) for found, _distance, _ in near), *spoken]:
            if word == term.folded:
                continue
            fits = count = 0
            for pair in ((before, word), (word, after)):
                often = self._bigrams.get(pair, 0) + said.get(pair, 0)
                fits += often > 0
                count += often
            rank = (fits, len(word) > len(term.folded), count) if phrases else (0, False, count)
            if count and rank > best_rank:
                best, best_rank = word, rank
        return None if best is None else _Term(best, best, False, repaired=True)

    def _accented_repair(
        self, term: _Term, before: str, after: str, phrases: bool = False
    ) -> _Term | None:
        """The accented word within one edit (a letter, a vowel mark or the tone) of an
        accented word, or spelt alike by ear (:func:`_spoken`: "hộ triếu"), that forms a pair
        the catalogue's names use (with `phrases`, or a citizens' phrase) with a neighbour."""
        known = term.key in self._key_set
        best, best_count = None, 0
        spoken = [key for key in _spoken(term.key) if key in self._key_set]
        for key in [*self._near_keys(term.key), *spoken]:
            count = self._pair_known(before, key, True, phrases) + self._pair_known(
                key, after, True, phrases
            )
            # A word the names use is taken as typed unless the other fits both its
            # neighbours, or differs from it in its marks only ("giải thẻ" → giải thể), or
            # has a letter more and fits one (a letter left out is the commonest slip: "nhập
            # hộ khu" → khẩu; `_add_context_repairs` asks this only of a word that fits no
            # neighbour).
            if (
                known
                and count < 2
                and _marks_off(key) != _marks_off(term.key)
                and not (key in spoken and count == bool(before) + bool(after))
                and not (count == 1 and len(_marks_off(key)) > len(term.folded))
            ):
                continue
            # Of two that fit as well, the longer: a letter left out is the likelier slip.
            if count > best_count or count == best_count and best and len(key) > len(best):
                best, best_count = key, count
        if best is None:
            return None
        return _Term(_iy(_marks_off(best)), best, True, repaired=True)

    def _phrase_slot(
        self,
        phrase: str,
        span: list[tuple[str, str, bool, bool]],
        accented: bool,
        flat: list[tuple[str, str, bool, bool]] | None = None,
        start: int = 0,
    ) -> _Slot | None:
        """The slot of a known phrase (shorthand, everyday name, filler) at ``flat[start:]``,
        None when `phrase` is none."""
        vocabulary = self._vocabulary
        entries = [vocabulary.abbreviations.get(phrase), vocabulary.names.get(phrase)]
        spellings = _FILLER.get(phrase)
        if entries == [None, None] and spellings is None:
            return None
        original = [_Term(f, k, m, r) for f, k, m, r in span]
        weight = sum(self._weight(t.folded) for t in original)
        for entry, keep_original in zip(entries, (False, True), strict=True):
            if entry is None or not _accents_agree(entry[0], span):
                continue
            if keep_original and accented and len(span) == 1 and not span[0][2] and entry[0][0][2]:
                # One everyday word typed without marks in a text with them is written as
                # meant: "do" (by) is not "đò" (a ferry boat); shorthand is typed so anyway.
                continue
            alternatives = [list(vocabulary.expansions[text]) for text in entry[1]]
            if not keep_original:
                # Shorthand for an everyday name ("cty" → công ty) stands for its official
                # words too (doanh nghiệp).
                for alternative in list(alternatives):
                    named = vocabulary.names.get(" ".join(t.folded for t in alternative))
                    for text in named[1] if named else ():
                        alternatives.append(list(vocabulary.expansions[text]))
            if keep_original:
                alternatives.insert(0, original)
            if not keep_original and all(t.folded in self._vocab_set for t in original):
                alternatives.append(original)
            if not keep_original:
                weight = max(
                    sum(self._weight(t.folded) for t in alt) / max(1, len(alt)) * len(span)
                    for alt in alternatives
                )
            optional = all(t.key in _FILLER_KEYS for alt in alternatives for t in alt)
            fields = vocabulary.fields.get(phrase, frozenset())
            guessed = len(span) == 1 and entry[0][0][2] and not span[0][2]
            return _Slot(
                alternatives,
                weight,
                optional,
                whole_first=keep_original,
                fields=fields,
                guessed=guessed,
            )
        # In a text written with accents, an unmarked word is written as meant ("anh").
        loose = accented or len(span) > 1 or phrase in self._loose_filler
        if not (spellings and loose and any(_accents_agree(s, span) for s in spellings)):
            return None
        if accented and flat is not None and not any(
            tuple(t[1] for t in spelling) == tuple(t[1] for t in span) for spelling in spellings
        ):
            # Typed without the marks of its filler spelling ("chi" for chị) in a text with
            # accents: a word, unless it forms no pair of the names with a neighbour ("chi
            # nhánh").
            before = flat[start - 1] if start > 0 else None
            after = flat[start + len(span)] if start + len(span) < len(flat) else None
            if (before and self._paired(before, span[0], True)) or (
                after and self._paired(span[-1], after, True)
            ):
                return None
        return _Slot([original], weight, True)

    def _weight(self, folded: str) -> float:
        weight = self._idf.get(folded)
        if weight is not None:
            return weight
        # A word no name uses weighs as the rarest of theirs, unless citizens' words are known
        # to use it (`CITIZEN_WORD_SHARE`).
        known = folded in self._vocabulary.known
        return self._max_idf * (CITIZEN_WORD_SHARE if known else 1.0)

    def _repair(
        self, word: str, accented_text: bool = False, before: str = "", after: str = ""
    ) -> tuple[bool, list[str]]:
        """Words the catalogue does not know: IME leftovers, glued syllables, typos;
        `before`, `after`: its neighbours (folded), when they may tell which slip it is."""
        folded, key, marked = _term(word)
        if (
            folded in self._vocab_set
            or folded in self._vocabulary.known
            or folded in _FILLER_FOLDED
            or folded in _CONTEXT_WORDS
            or not word.isalnum()
            or _MEASURE.fullmatch(folded)
        ):
            return False, [word]
        for decoded in (decode_telex(word), decode_vni(word)):
            if decoded and _iy(fold(decoded)) in self._vocab_set:
                # Marks typed as letters are often slips ("ddaang" for đăng): the word is
                # read without them, as if typed without accents.
                return False, [_iy(fold(decoded))]
        syllable = _syllable(key)
        if word.isalpha():
            slipped = self._slip(
                fold(word), marked and syllable, syllable or not marked, before, after
            )
            if slipped:
                return True, [slipped]
        if word.isalpha() and len(folded) >= 4 and len(_VOWEL_RUN.findall(folded)) >= 2:
            # Glued syllables have a vowel group each: "nhuộm" is one syllable, not "nhu om".
            parts = self._segment(folded)
            if parts:
                return True, parts
        if word.isalpha() and len(folded) >= 3 and not syllable:
            # Shorthand with a letter slipped ("bxh", "ccd", "gpl"; "bhyh", "lotp": a vowel
            # typed for a letter beside it makes no syllable either): the one shorthand it is
            # within one edit of, a letter left out first.
            shorthand = self._near_shorthand(folded)
            if shorthand:
                return True, [shorthand]
        if word.isalpha() and len(folded) >= 3 and (
            not accented_text or not _VOWEL_RUN.search(folded)
        ):
            # In a text typed with accents each word was typed on purpose, unless it has no
            # vowel ("lch"): no typo guessing (but see `_repair_non_syllables`).
            fixed = self._nearest(folded)
            if fixed:
                return True, [fixed]
        return False, [word]

    def _slip(
        self, folded: str, typed_syllable: bool, heard: bool = True, before: str = "",
        after: str = "",
    ) -> str | None:
        """The word of the names one common slip away from a word they do not know, tried in
        turn: two neighbouring letters swapped ("cuco", "nưgời"), a letter typed twice
        ("thuees"), a spelling written by ear (:func:`_spoken`: "cuot", "triếu"), a letter
        left out ("giy", "chuyn"; not from a syllable typed with its marks, which is more often
        another word, nor from a word with no vowel, which is shorthand), a letter typed as its
        neighbour on the keyboard ("siny", "giag"; the same guards), a key beside one of its
        letters pressed too ("khyai", "cuyoc"; the same guards, four letters or more). Of
        several, the one most names use; None when there is none. `folded` is the word folded
        as typed (its final "y" not yet read "i": "siny" is sinh); `heard`: False for a word
        no syllable spells, which was mistyped, not written by ear ("nưc" is no "lục").

        With its neighbours (`before`, `after`, folded), the word of any of these slips that
        forms the most pairs of the names with them is meant, if one forms any: "khai sin cho
        con" is khai sinh (a letter left out), not the "xin" a voice may say for "sin"."""
        first: str | None = None
        best, best_count = None, 0
        for found in _slips(folded, typed_syllable, heard):
            known = {_iy(word) for word in found} & self._vocab_set
            if not known:
                continue
            if first is None:
                first = max(sorted(known), key=lambda word: len(self._postings[word]))
                if not (before or after):
                    return first
            for word in sorted(known):
                count = self._bigrams.get((before, word), 0) + self._bigrams.get((word, after), 0)
                if count > best_count:
                    best, best_count = word, count
        return best or first

    def _segment(self, folded: str) -> list[str] | None:
        """``"hochieu"`` → ``["ho", "chieu"]`` with the fewest known syllables (at least two)."""
        n = len(folded)
        best: list[list[str] | None] = [None] * (n + 1)
        best[0] = []
        for end in range(1, n + 1):
            for start in range(max(0, end - 7), end - 1):
                previous = best[start]
                piece = folded[start:end]
                if previous is None or piece not in self._vocab_set:
                    continue
                candidate = [*previous, piece]
                current = best[end]
                if current is None or len(candidate) < len(current):
                    best[end] = candidate
        result = best[n]
        return result if result and len(result) >= 2 else None

    def _shorthands_near(self, folded: str) -> list[str]:
        """The shorthand one edit from a word, with its first letter (remembered, as
        :meth:`_near_keys`)."""
        found = self._shorthands.get(folded)
        if found is None:
            found = [
                str(key)
                for key, _distance, _ in process.extract(
                    folded, self._vocabulary.shorthand, scorer=OSA.distance, score_cutoff=1,
                    limit=None,
                )
                if key[0] == folded[0]
            ]
            if len(self._shorthands) < 50_000:
                self._shorthands[folded] = found
        return found

    def _shorthand_told(self, folded: str, words: list[str], i: int) -> _Term | None:
        """The shorthand a word with no vowel left a letter out of, when it could be several
        and a neighbour tells which: the one whose words form a pair of the names with it
        ("gpx quốc tế": gplx, giấy phép lái xe quốc tế; "gpd sửa chữa": gpxd). One alone is
        :meth:`_near_shorthand`'s. `folded`: ``words[i]`` folded."""
        found = [k for k in self._shorthands_near(folded) if len(k) == len(folded) + 1]
        if len(found) < 2:
            return None
        before = _term(words[i - 1])[0] if i > 0 else ""
        after = _term(words[i + 1])[0] if i + 1 < len(words) else ""
        vocabulary = self._vocabulary
        told = [
            key
            for key in found
            if any(
                (before, terms[0].folded) in self._bigrams
                or (terms[-1].folded, after) in self._bigrams
                for text in vocabulary.abbreviations[key][1]
                for terms in [vocabulary.expansions[text]]
                if terms
            )
        ]
        return _Term(told[0], told[0], False, repaired=True) if len(told) == 1 else None

    def _near_shorthand(self, folded: str) -> str | None:
        """The shorthand one edit from a word with no vowel, with its first letter: the only
        one with a letter more (a letter was left out), else the only one as long (a letter
        swapped or mistyped), else the only one with a letter less (one typed twice); None
        when there is none or more than one."""
        found = self._shorthands_near(folded)
        for longer in (1, 0, -1):
            keys = [k for k in found if len(k) == len(folded) + longer]
            if keys:
                return keys[0] if len(keys) == 1 else None
        return None

    def _nearest(self, folded: str) -> str | None:
        limit = 1 if len(folded) <= 5 else 2
        matches = process.extract(
            folded, self._vocab, scorer=OSA.distance, score_cutoff=limit, limit=8
        )
        if not matches:
            return None
        usable = [m for m in matches if _plausible_typo(folded, str(m[0]))]
        if not usable:
            return None
        best = min(usable, key=lambda m: (m[1], -len(self._postings[m[0]])))
        return str(best[0])


# --- helpers shared by building and searching ------------------------------------------------


@contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection while an index's objects are made (built or loaded): collections
    that walk hundreds of thousands of new objects and free none took half of a build."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_WORD = re.compile(r"[^\W_]+")

_CLASS_WORD = re.compile(r"\b(?:hạng|hang|loại|loai|nhóm|nhom|điểm|diem|mục|muc) $")
"""A word a one-letter class follows ("hạng C"): there the letter is no chat shorthand."""
_CHAT_TYPED = {clean(key): words[0] for key, words in CHAT.items()}
"""Chat shorthand as typed → the words it stands for."""
_CHAT_BARE = {fold(key): words[0] for key, words in CHAT.items()}
"""…and typed without its marks."""
_CHAT_PHRASE = re.compile(
    r"(?<!\w)(?:" + "|".join(sorted(CHAT_PHRASES, key=len, reverse=True)) + r")(?!\w)"
)
_CHAT_PHRASE_WORDS = frozenset({"mô", "răng", "chi"})
"""The dialect words that only :data:`CHAT_PHRASES` write out."""


def _slips(folded: str, typed_syllable: bool, heard: bool = True) -> Iterator[set[str]]:
    """The spellings one slip away from a word (:meth:`SearchIndex._slip`), kind by kind, each
    made only when asked for; those written by ear only when `heard`."""
    n = len(folded)
    if n >= 4:
        yield {folded[:i] + folded[i + 1] + folded[i] + folded[i + 2 :] for i in range(n - 1)}
    if n >= 3:
        yield {folded[:i] + folded[i + 1 :] for i in range(1, n) if folded[i] == folded[i - 1]}
    if heard:
        yield set(_spoken(folded))
    if n < 3 or typed_syllable or not _VOWEL_RUN.search(folded):
        return
    yield {folded[:i] + letter + folded[i:] for i in range(1, n + 1) for letter in _LETTERS}
    yield {
        folded[:i] + letter + folded[i + 1 :]
        for i in range(1, n)
        for letter in KEY_NEIGHBOURS.get(folded[i], "")
    }
    if n >= 4:
        yield {
            folded[:i] + folded[i + 1 :]
            for i in range(1, n)
            if folded[i] in KEY_NEIGHBOURS.get(folded[i - 1], "")
            or i + 1 < n and folded[i] in KEY_NEIGHBOURS.get(folded[i + 1], "")
        }


def _teen_spellings(word: str) -> list[str]:
    """The spellings a word typed the teen way may stand for: "f" for "ph" ("fải", "tư
    fáp"), and at its start "w" for "qu" ("wê"), "j" for "gi" ("jấy"), "z" for "d" or "gi"."""
    out = [word.replace("f", "ph")] if "f" in word else []
    first, rest = word[0], word[1:]
    if first == "w":
        out.append("qu" + rest)
    elif first == "j":
        out.append("gi" + rest)
    elif first == "z":
        out += ["d" + rest, "gi" + rest]
    return out


def _capped(hits: list[Hit]) -> list[Hit]:
    """The hits with their scores at most 1 (ranked by what they scored, bonuses and all)."""
    return [replace(hit, score=1.0) if hit.score > 1.0 else hit for hit in hits]


def bounded_query(query: str) -> str:
    """What the search reads of a text, in :func:`clean` form: all of it when it has at most
    :data:`MAX_QUERY_WORDS` words within :data:`MAX_QUERY_CHARS` characters; otherwise its
    beginning and its end, half the bound each (a long message names its subject first and asks
    its question last), with no half word at a cut."""
    chars, words = (MAX_QUERY_CHARS - 2) // 2, MAX_QUERY_WORDS // 2
    if len(query) <= MAX_QUERY_CHARS:
        text = clean(query)
        found = list(_WORD.finditer(text))
        if len(found) <= MAX_QUERY_WORDS:
            return text
        return f"{text[: found[words - 1].end()]}. {text[found[-words].start() :]}"
    head = query[:chars]
    if query[chars].isalnum() and (space := head.rfind(" ")) > 0:
        head = head[:space]
    tail = query[-chars:]
    if query[-chars - 1].isalnum() and (space := tail.find(" ")) >= 0:
        tail = tail[space + 1 :]
    head, tail = clean(head), clean(tail)
    for count, word in enumerate(_WORD.finditer(head), start=1):
        if count == words:
            head = head[: word.end()]
            break
    found = list(_WORD.finditer(tail))
    if len(found) > words:
        tail = tail[found[-words].start() :]
    return f"{head}. {tail}"


_SENTENCE_END = re.compile(r"(?:[?!;\n]|(?<!\d)\.|\.(?!\d))+")
"""Where a sentence ends; a point inside a number ("3.000 con heo") ends none."""


def _sentences(text: str) -> list[str]:
    """The sentences of a message that have at least three words."""
    return [s.strip() for s in _SENTENCE_END.split(text) if len(tokens(s)) >= 3]


_NEED = re.compile(
    r"\b(?:muốn|muon|định|cần|xin)\b((?:[^.,;!?\n]|(?<=\d)[.,](?=\d))*)", re.IGNORECASE
)


def _needs(text: str) -> list[str]:
    """The clauses of a message that say what is wanted: after "muốn" (typed without accents
    too: "muon" is hardly ever muộn in a need), "định", "cần", "xin", to the end of the
    clause, when they have at least three words (a clause is searched when it has three content
    words: "cần giấy phép không" names no need)."""
    return [m.group(1).strip() for m in _NEED.finditer(text) if len(tokens(m.group(1))) >= 3]


def _names_a_kind(hits: list[Hit]) -> bool:
    """Whether the hits of a need clause (:data:`NEED_LIMIT` asked) say it names only a kind of
    procedure ("… nên cần kéo dài thêm": any "Gia hạn …"): as many as asked, the last within
    :data:`NEED_KIND` of the first. The story around it says which."""
    return len(hits) == NEED_LIMIT and hits[-1].score >= NEED_KIND * hits[0].score


def _questions(text: str) -> list[str]:
    """The sentences of a message that ask a question (:data:`_QUESTION`) and say no need
    (:data:`_NEED`)."""
    return [s for s in _sentences(text) if _QUESTION.search(s) and not _NEED.search(s)]


_QUESTION = re.compile(
    r"\b(?:ở đâu|o dau|thế nào|the nao|làm sao|lam sao|ra sao|được không|duoc khong|"
    r"làm gì|lam gi|bao lâu|bao lau|thủ tục gì|thu tuc gi|giấy gì|giay gi|"
    r"hay (?:ở|o|lên|len|ra|phải|phai))\b",
    re.IGNORECASE,
)
"""How a citizen asks ("… ở đâu", "… thế nào", "… được không", "nộp ở xã hay lên tỉnh")."""


def _phrase_terms(folded: str) -> tuple[tuple[str, str], ...]:
    """A folded phrase as :meth:`SearchIndex._says` reads it (any accents)."""
    return tuple((word, word) for word in folded.split())


def _text_words(procedure: Procedure) -> list[str]:
    """The words of a procedure's texts (:func:`procedure_texts`) folded as a query's are
    (:func:`_folded_text`); each distinct word folded once (a catalogue's texts hold a million
    words, a few thousand distinct)."""
    return _folded_words(" ".join(procedure_texts(procedure)))


def _folded_words(text: str) -> list[str]:
    """The words of a catalogue's text, folded as a query's are (:func:`_folded_text`)."""
    words = _WORD.findall(unicodedata.normalize("NFC", text).lower())
    return [_folded_word(word) for word in words]


@lru_cache(maxsize=100_000)
def _folded_word(word: str) -> str:
    return _iy(fold.__wrapped__(word))


@lru_cache(maxsize=16)
def _folded_text(text: str) -> str:
    """The words of a text (:func:`tokens`) folded, as one string: one fold for all of them.
    Remembered for a few texts: one search reads its query more than once."""
    return " ".join(_iy(word) for word in _WORD.findall(fold(" ".join(tokens(text)))))


def _phrases_pattern(phrases: Iterable[str]) -> re.Pattern[str]:
    """One pattern for `phrases` (of :data:`procedures.aliases.OFF_TOPIC`) on folded text;
    "…" joins two parts that must both stand, in order. Matches nothing when there are none."""
    patterns = [
        r"\b.*\b".join(re.escape(_folded_text(part)) for part in phrase.split("…"))
        for phrase in phrases
    ]
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b" if patterns else r"(?!)")


_NEGATION = re.compile(
    r"(?:(?:[,;(]|\b(?:chứ|chu|mà|ma))\s*(?:không|khong|ko|k)\s+(?:phải|phai)(?:\s+(?:là|la))?"
    r"|\b(?:chứ|chu)\s+(?:không|khong|ko|chưa|chua)(?:\s+(?:muốn|muon|cần|can|phải|phai))?"
    r"|(?<!hàng )(?<!hang )\b(?:không|khong|ko|chưa|chua)\s+(?:muốn|muon|cần|can)"
    r"(?![^,.;!?()\n]*\b(?:nữa|nua)\b)"
    r"|\b(?:không|khong|ko)\s+(?:có|co)(?=\s+(?:yếu tố|yeu to)\b))"
    r"(?:\s+(?:lên|len|ra|đi|di|đến|den|tới|toi))?\s+([^,.;!?()\n]+)",
    re.IGNORECASE,
)

_NOT_A = re.compile(
    r"\b(?:em|tôi|toi|mình|minh|tui|dịch|dich)\s+(?:không|khong|ko|k)\s+(?:phải|phai)"
    r"(?:\s+(?:là|la))?\s+([^,.;!?()\n]+)",
    re.IGNORECASE,
)
"""Who the citizen (or their translator) is not: "em không phải cộng tác viên …". The words
stay in the query (the sibling whose name says so is meant: `_name_negations`), and a name
that says them as they are ("… là cộng tác viên") is not meant."""

_DONE = re.compile(
    r"(?:^|[,.;:!?(\n]|\b(?:và|va|thì|thi|mà|ma|nhưng|nhung)\b)([^,.;:!?()\n]*?)\s+(?:"
    r"(?:đã|da)\s+(?:có|co|xong|làm|lam|nộp|nop|được|duoc)(?:\s+(?:hết|het|cả|ca|xong))?"
    r"\s+(?:rồi|roi)|(?:có|co|xong)(?:\s+(?:hết|het|cả|ca))?\s+(?:rồi|roi))"
    r"(?=\s*(?:[,.;:!?()\n]|$))",
    re.IGNORECASE,
)
"""What the citizen says they have already ("giấy phép kinh doanh vận tải thì có rồi", "hộ
chiếu với visa xong hết rồi"): the clause before "(đã) có rồi", "xong (hết) rồi" at its end is
not what is asked, as if said not to be meant (`_negated`)."""

_NEGATED_RUN = 3
"""A name says a negated phrase when it holds this many of its words in a row (`_negated`)."""

_REASON = re.compile(r"\b(?:bởi |tại |boi |tai )?(vì|vi)\b([^,.;!?()\n]*)", re.IGNORECASE)
"""A reason ("… vì làm ăn thua lỗ") up to the end of its clause: why, not what, is asked."""


@lru_cache(maxsize=16)
def _negated(query: str) -> tuple[str, tuple[tuple[tuple[str, str], ...], ...]]:
    """The query without what the citizen says they do not mean and those phrases as
    (folded, accent key) words, filler at their ends left out (an unmarked word's key is its
    folded form): "…, không phải hộ kinh doanh", "chứ không phải tàu cá", "chứ không đăng ký
    hộ kinh doanh", "không muốn lập hợp tác xã", "không cần lên văn phòng công chứng".
    "không phải" counts only after a contrast (a comma, a bracket, "chứ", "mà"): "chuyển mục
    đích không phải xin phép" is a name. "hàng không cần …" is aviation, and "không muốn …
    nữa" says the need itself (to stop). Who the citizen is not (`_NOT_A`) is a phrase too,
    but stays in the query. Remembered for a few queries: the search and its re-ranking read
    it."""
    phrases = []
    for match in [*_NEGATION.finditer(query), *_NOT_A.finditer(query), *_DONE.finditer(query)]:
        words = [_term(w) for w in tokens(match.group(1))]
        while words and words[-1][0] in _FILLER_FOLDED:
            words.pop()
        said = [(f, k if m else f) for f, k, m in words]
        # A name says a longer phrase when it holds three of its words in a row ("đăng ký hộ
        # kinh doanh": "Đăng ký thành lập hộ kinh doanh"): each run is a phrase.
        size = min(len(said), _NEGATED_RUN)
        phrases += [tuple(said[i : i + size]) for i in range(len(said) - size + 1) if size]
    if not phrases:
        return query, ()
    return _NEGATION.sub(" ", query), tuple(phrases)


_NEGATED_SCOPE = 6
"""The words after "không phải (là)" in a name that it denies (`_negated_at`)."""


def _negated_at(folded: Sequence[str], start: int) -> bool:
    """Whether the word of a name at `start` is among those "không phải (là)" denies."""
    return any(
        tuple(folded[j : j + 2]) == ("khong", "phai")
        for j in range(max(0, start - _NEGATED_SCOPE - 2), start - 1)
    )


_COUNTRY_PHRASES = {
    _folded_text(f"{before} {country}"): _folded_text(official[0]).split()
    for before, official in FOREIGN_PLACES.items()
    for country in COUNTRIES
}
_COUNTRY_WORDS = max(len(phrase.split()) for phrase in _COUNTRY_PHRASES)
_COUNTRY_BEFORE = frozenset(phrase.split()[0] for phrase in _COUNTRY_PHRASES)


def _abroad(words: list[str]) -> list[str]:
    """For each country a message's folded `words` name as abroad ("nguoi uc", "sang han"),
    :data:`_APART` and the official words it stands for ("nguoi nuoc ngoai"): the catalogue's
    texts and names never say a country (:data:`procedures.aliases.COUNTRIES`)."""
    out: list[str] = []
    for i, word in enumerate(words):
        if word not in _COUNTRY_BEFORE:
            continue
        for size in range(2, _COUNTRY_WORDS + 1):
            official = _COUNTRY_PHRASES.get(" ".join(words[i : i + size]))
            if official:
                out += [_APART, *official]
    return out


def _affirmed(folded: list[str]) -> list[str]:
    """A name's words without what it says "không phải (là)" of (:func:`_name_negations`):
    "… mà người dịch không phải là cộng tác viên …" does not say "cộng tác viên"."""
    denied = {k for at, start in _denials(folded) for k in range(at, start + _NEGATED_RUN)}
    return [word for k, word in enumerate(folded) if k not in denied]


def _name_negations(folded: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """The phrases a name says "không phải (là)" of: its next words, up to three."""
    phrases = (tuple(folded[start : start + _NEGATED_RUN]) for _, start in _denials(folded))
    return tuple(phrase for phrase in phrases if phrase)


def _denials(folded: Sequence[str]) -> list[tuple[int, int]]:
    """Where a name says "không phải (là)", and where the phrase it denies starts."""
    return [
        (j, j + 3 if folded[j + 2] == "la" else j + 2)
        for j in range(len(folded) - 2)
        if tuple(folded[j : j + 2]) == ("khong", "phai")
    ]


_ADDRESS_WORDS = {tuple(_term(w)[0] for w in tokens(entry)) for entry in ADDRESS_WORDS}
_ADDRESS_LONGEST = max(len(words) for words in _ADDRESS_WORDS)
_ADDRESS_FIRST = frozenset(words[0] for words in _ADDRESS_WORDS)
_ADDRESS_NAME_WORDS = 4


_PHONE = re.compile(r"(?<!\w)(?:\+?84|0)(?:[ .-]?\d){8,10}(?!\w)")
"""A Vietnamese phone number ("0903112244", "0903 112 244", "+84 903 112 244")."""
_CONTACT = re.compile(r"\b(?:so )?(?:dien thoai|sdt|dt|zalo)\b|\b(?:goi|nhan tin)(?: lai)?\b")
"""Words that introduce a phone number (folded): "số điện thoại", "sđt", "zalo", "gọi lại"."""


def _only_an_address(text: str) -> bool:
    """Whether the text is only an address ("số 12 ngõ 5 phường Cầu Giấy") or a phone number
    ("sđt 0903 123 456"): a run of parts, each an address word
    (:data:`procedures.aliases.ADDRESS_WORDS`, without accents) followed by numbers or a name
    of at most :data:`_ADDRESS_NAME_WORDS` words without digits, one of them with a number
    ("đường bộ", "phòng cháy" stay searches)."""
    words = tokens(text)
    if not words or _term(words[0])[0] not in _ADDRESS_FIRST:
        return False  # most texts: no address word first
    words = [_term(w)[0] for w in words]
    i, numbered = 0, False
    while i < len(words):
        size = _address_word(words, i)
        if not size:
            return False
        i += size
        if i < len(words) and words[i].isdigit():
            while i < len(words) and words[i].isdigit():  # "0903 123 456"
                numbered, i = True, i + 1
            continue
        name = 0
        while i < len(words) and not words[i].isdigit() and not _address_word(words, i):
            name, i = name + 1, i + 1
        if not 1 <= name <= _ADDRESS_NAME_WORDS:
            return False
    return numbered


def _address_word(words: Sequence[str], i: int) -> int:
    """How many words the longest address word at ``words[i]`` takes (0: none)."""
    for size in range(_ADDRESS_LONGEST, 0, -1):
        if tuple(words[i : i + size]) in _ADDRESS_WORDS:
            return size
    return 0


def _spellings(words: Iterable[str]) -> dict[str, frozenset[str]]:
    """Folded word → the accent keys of its spellings in `words`."""
    table: dict[str, frozenset[str]] = {}
    for word in words:
        folded, key, _marked = _term(word)
        table[folded] = table.get(folded, frozenset()) | {key}
    return table


_SURNAMES = _spellings(SURNAMES)
_MIDDLE_NAMES = _spellings(MIDDLE_NAMES)


def _spelled(term: tuple[str, str, bool], table: Mapping[str, frozenset[str]]) -> bool:
    """Whether a word is one of `table`'s: typed with accents, as one of its spellings."""
    spellings = table.get(term[0])
    return spellings is not None and (not term[2] or term[1] in spellings)


def _asked_variants(query: str) -> frozenset[str]:
    """The variant words (folded, as in :data:`VARIANT_WORDS`) a query asks for by one of
    :data:`VARIANT_PHRASES`: with its accents when typed with them; without, only the two-word
    phrases ("cap lai", "gia han"), as a lone "lai" or "doi" is as often another word."""
    if _VARIANT_PHRASES.keys().isdisjoint(_folded_text(query).split()):
        return frozenset()  # most queries: no word a variant phrase ends with
    terms = [_term(w) for w in tokens(query)]
    asked: set[str] = set()
    for number, (folded, _key, marked) in enumerate(terms):
        for phrase, variant in _VARIANT_PHRASES.get(folded, ()):
            span = terms[number - len(phrase) + 1 : number + 1]
            if len(span) != len(phrase) or len(phrase) < 2 and not marked:
                continue
            if all(t[0] == p[0] and (not t[2] or t[1] == p[1])
                   for t, p in zip(span, phrase, strict=True)):
                asked.add(variant)
    return frozenset(asked)


def _plausible_typo(typed: str, word: str) -> bool:
    """A short word losing a letter is more often another word than a typo ("phim" ≠ "phi")."""
    if len(word) >= len(typed) or len(typed) > 5:
        return True
    return any(typed[i] == typed[i + 1] for i in range(len(typed) - 1))


def _level_key(level: str) -> str:
    lowered = level.strip().lower()
    for key, label in LEVEL_LABELS.items():
        if lowered in (key, label.lower(), fold(label)):
            return key
    aliases = {"xa": "commune", "xã": "commune", "tinh": "province", "tỉnh": "province"}
    return aliases.get(lowered, lowered)


HEAD_WORDS = 3
HEAD_FACTOR = 0.95
"""The head of a name (:func:`_head`) scores this share: the whole name, when it explains the
query as well, is the better witness."""
HEAD_COVER = 0.7
"""…and only when the query explains at least this share of it."""
_HEAD_END = re.compile(r"[,;(]")
_QUALIFIER = re.compile(r"\b(?:đối với|trường hợp)\b", re.IGNORECASE)


ALIAS_FACTOR = 0.9
"""An alias (a citizen's phrasing: "chồng đang đóng bảo hiểm thì qua đời nhận tuất") tells a
need in everyday words, which everyday chat also uses ("chó nhà mình bỏ ăn"): it scores this
share of what the official name would."""


def _positions(words: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Each word → the places it stands at."""
    positions: dict[str, list[int]] = {}
    for position, word in enumerate(words):
        positions.setdefault(word, []).append(position)
    return {word: tuple(places) for word, places in positions.items()}


def _surface_texts(procedure: Procedure) -> list[tuple[str, float, bool, bool]]:
    """(text, factor, is the name's head, is an alias) of each surface of a procedure: its
    official name, the head of that name (:func:`_head`), its aliases, short result names."""
    name = _NAME_PREFIX.sub("", procedure.name).strip() or procedure.name
    texts = [(name, 1.0, False, False)]
    head = _head(name)
    if head:
        texts.append((head, HEAD_FACTOR, True, False))
    texts += [(alias, ALIAS_FACTOR, False, True) for alias in procedure.aliases]
    for result in procedure.results[:3]:
        result_name = result.name.strip()
        if (
            result_name
            and len(result_name.split()) <= 6
            and not _GENERIC_RESULT.match(result_name)
        ):
            texts.append((result_name, 0.8, False, False))
    return texts


def _head(name: str) -> str:
    """The words an official name starts with, up to its first comma, semicolon or bracket,
    when they are at least :data:`HEAD_WORDS`: what the procedure is ("Cấp lại Giấy chứng nhận
    đăng ký doanh nghiệp, Giấy xác nhận về việc thay đổi …", "Thông báo tạm ngừng kinh doanh,
    tiếp tục kinh doanh … (doanh nghiệp, chi nhánh …)"), before the list of other cases or the
    qualifiers that make a long name look poorly explained by a query that names just it. No
    head when it has already started a qualifier ("… đối với cán bộ, chiến sĩ …"): the comma
    then lists who the procedure is for, not what it is."""
    head = _HEAD_END.split(name, 1)[0].strip()
    if head == name or len(tokens(head)) < HEAD_WORDS or _QUALIFIER.search(head):
        return ""
    return head


def _make_surface(
    doc: int, text: str, factor: float, rewrite: dict[str, list[tuple[str, str, bool]]]
) -> _Surface:
    folded_words: list[str] = []
    keys: list[str] = []
    for word in tokens(text):
        term = _term(_digits(word))
        # Shorthand is written without vowel or tone marks: "vật" is not "VAT".
        expansion = rewrite.get(term[0]) if _unmarked(word) else None
        for folded, key, _marked in expansion or (term,):
            folded_words.append(folded)
            keys.append(key)
    content = [key not in _FILLER_KEYS for key in keys]
    # "lần đầu", "cấp mới" name the plain member of a family, which a citizen does not say.
    for start in range(len(keys) - 1):
        if tuple(keys[start : start + 2]) in _PLAIN_MARKS:
            content[start + 1] = False
            if keys[start] == _PLAIN_MARKS_FIRST:
                content[start] = False
    text = " ".join(sorted(folded_words))
    # The action a name starts with ("Cấp lại", "Xóa đăng ký", "Thu hồi") makes it a variant.
    head = zip(folded_words[:VARIANT_HEAD], keys[:VARIANT_HEAD], strict=True)
    variants = frozenset(f for f, k in head if k in _VARIANT_KEYS)
    return _Surface(doc, folded_words, keys, content, text, factor, len(text), variants=variants)


_PLAIN_MARKS = frozenset({("lân2", "đâu2"), ("câp1", "mơi1")})
_PLAIN_MARKS_FIRST = "lân2"
_OTHER_WORD = 0.45
"""The accent factor of a word matched only by its letters, with another tone or vowel."""


@lru_cache(maxsize=100_000)
def _accent_factor(query_key: str, surface_key: str) -> float:
    if query_key == surface_key:
        return 1.0
    q_base, q_tone = query_key.rstrip("012345"), query_key[len(query_key.rstrip("012345")) :]
    s_base = surface_key.rstrip("012345")
    if not q_tone and q_base.replace("đ", "d") == s_base.replace("đ", "d"):
        return 0.85  # accents typed partly (no tone mark): a likely slip, not another word
    if fold(q_base) == fold(s_base) and not q_tone and not any(c in "ăâêôơư" for c in q_base):
        return 0.85
    return _OTHER_WORD  # another tone or vowel: another word ("vàng" is not "vắng")


def _same_word(written: str, name_key: str) -> bool:
    """Whether a word the citizen wrote with accents (its key) is the name's word there, not
    another word of the same letters (`_accent_factor`): "lái" is not the "lại" of a name."""
    return _accent_factor(written, name_key) > _OTHER_WORD


_BOUND_SLACK = 1e-9
"""Rounding room between :meth:`SearchIndex._bounds` and the score it bounds."""


COMPOUND_SHARE = 0.9
"""A word the catalogue's names write at least this share of the time before one partner ("đào"
before "tạo", "căn" before "cước") is the first half of a compound there…"""
COMPOUND_USES = 5
"""…when the names use it at least this many times (fewer say nothing)."""
HALF_FACTOR = 0.3
"""A query word matched only by first halves of compounds whose second half the query does not
say counts this share of its weight: "đào đất" is hardly "đào tạo", "đang" hardly "đăng ký"."""


def _compounds(uses: Mapping[str, int], pairs: Mapping[tuple[str, str], int]) -> dict[str, str]:
    """The words (accent keys) that are the first half of a compound in the names
    (:data:`COMPOUND_SHARE`), with the second half."""
    best: dict[str, tuple[int, str]] = {}
    for (first, second), count in sorted(pairs.items()):
        if count > best.get(first, (0, ""))[0]:
            best[first] = (count, second)
    return {
        word: second
        for word, (count, second) in best.items()
        if uses[word] >= COMPOUND_USES and count >= COMPOUND_SHARE * uses[word]
    }


def _halves(surface: _Surface, compounds: Mapping[str, str]) -> dict[str, frozenset[str]] | None:
    """The words of a surface each of whose places is the first half of a compound
    (:func:`_compounds`), with the second halves (folded) standing after them; None when
    there are none."""
    keys, folded = surface.keys, surface.folded
    halves: dict[str, frozenset[str]] = {}
    for word, places in sorted(surface.positions.items()):
        if all(p + 1 < len(keys) and compounds.get(keys[p]) == keys[p + 1] for p in places):
            halves[word] = frozenset(folded[p + 1] for p in places)
    return halves or None


def _matched_spans(slots: list[_CompiledSlot]) -> dict[str, int]:
    """For each word of the slots, the most characters it can bring (with a separating space)
    to a long message's matched words: each slot gives the words of one of its alternatives, so
    a word stands there at most as often as in the alternative holding it most."""
    counts: dict[str, int] = {}
    for _optional, _weight, alternatives, words, _default in slots:
        for word in words:
            most = max(sum(1 for t in terms if t[0] == word) for terms, *_ in alternatives)
            counts[word] = counts.get(word, 0) + most
    return {word: count * (len(word) + 1) for word, count in counts.items()}


def _cover_shares(slots: list[_CompiledSlot], required_weight: float) -> dict[str, float]:
    """For each word of the required slots, the most of the query cover it can bring: its
    share of the alternative it is in (the largest, when in several; counted as often as it
    stands there), times the slot's share of the required weight. A surface's query cover is
    at most the sum over the words it holds."""
    shares: dict[str, float] = {}
    for optional, slot_weight, alternatives, _words, _default in slots:
        if optional:
            continue
        best: dict[str, float] = {}
        for terms, total, _whole in alternatives:
            if not total:
                continue
            within: dict[str, float] = {}  # a word may stand twice in one alternative
            for folded, *_, weight in terms:
                within[folded] = within.get(folded, 0.0) + weight
            for folded, weight in within.items():
                best[folded] = max(best.get(folded, 0.0), weight / total)
        for folded, share in best.items():
            shares[folded] = shares.get(folded, 0.0) + share * slot_weight / required_weight
    return shares


def _content_word(term: str, places: Sequence[int], content: Sequence[bool]) -> bool:
    """Whether `term`, standing at `places` of a surface, is a content word there (not
    filler): a word that is no filler's folded form is content wherever it stands."""
    return term not in _FILLER_FOLDED or any(content[p] for p in places)


def _one_content_word_at_most(
    terms: Iterable[str], positions: Mapping[str, Sequence[int]], content: Sequence[bool]
) -> bool:
    """Whether at most one of `terms` stands as a content word in the surface
    (:func:`_content_word`)."""
    count = 0
    for term in terms:
        if _content_word(term, positions[term], content):
            count += 1
            if count > 1:
                return False
    return True


def _witnessed_pair(
    sequence: Sequence[str],
    terms: set[str],
    positions: Mapping[str, Sequence[int]],
    unsaid: set[int],
) -> bool:
    """Whether two of `terms` said side by side in the query (`sequence`) stand side by side
    in the surface too, in either order ("trong cay" of "cây trồng"). The words at `unsaid`
    places were not typed next to the one before (`_Slot.guessed`): they witness nothing by
    themselves."""
    for place in range(1, len(sequence)):  # each word and the one before it
        if place in unsaid:
            continue
        first, second = sequence[place - 1], sequence[place]
        if first != second and first in terms and second in terms:
            before, after = positions[first], positions[second]
            if any(p + 1 in after or p - 1 in after for p in before):
                return True
    return False


def _accents_agree(key_terms: list[tuple[str, str, bool]], span: Sequence[tuple]) -> bool:
    """A dictionary key with accents matches unaccented text or the same accents only."""
    for (k_folded, k_key, k_marked), term in zip(key_terms, span, strict=True):
        _folded, key, marked = term[0], term[1], term[2]
        if marked and k_marked and key != k_key:
            return False
        if marked and not k_marked and key != k_folded:
            return False
    return True


def _expansion_terms(
    text: str, rewrite: dict[str, list[tuple[str, str, bool]]] | None = None
) -> list[_Term]:
    """The words of an official phrase; shorthand in it ("tnhh mtv") read as the catalogue's
    texts are (`rewrite`: :attr:`_Vocabulary.rewrite`)."""
    terms = []
    for word in tokens(text):
        term = _term(word)
        expansion = (rewrite or {}).get(term[0]) if _unmarked(word) else None
        for folded, key, _marked in expansion or (term,):
            terms.append(_Term(folded, key, marked=False))
    return terms


def _unmarked(word: str) -> bool:
    """Whether a word has no vowel or tone marks (đ aside): only such a word may be shorthand."""
    lowered = word.lower().replace("đ", "d")
    return fold(lowered) == lowered


def _key_of(term: _Term | None) -> str:
    return term.key if term is not None else ""


def _folded_of(term: _Term | None) -> str:
    return term.folded if term is not None else ""


def _is_filler(folded: str) -> bool:
    return folded in _FILLER_FOLDED


def _is_story(folded: str) -> bool:
    """A filler or context word (folded)."""
    return folded in _FILLER_FOLDED or folded in _CONTEXT_WORDS


def _phrase_table(
    table: dict[str, list[str]],
) -> dict[str, tuple[list[tuple[str, str, bool]], list[str]]]:
    out: dict[str, tuple[list[tuple[str, str, bool]], list[str]]] = {}
    for key, expansions in table.items():
        words = [_digits(w) for w in tokens(key)]
        terms = [_term(w) for w in words]
        out[" ".join(t[0] for t in terms)] = (terms, expansions)
    return out


_NOT_REWRITTEN = {"ng", "nc", "nn", "sn", "tp"}
"""Shorthand too short or too common to be read as its expansion inside catalogue texts."""


class _Vocabulary:
    """The phrases a query is read with: shorthand (:data:`ABBREVIATIONS`), everyday names
    (:data:`EVERYDAY_NAMES`) and a lexicon's entries (:mod:`procedures.lexicon`) merged in."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        abbreviations, names = lexicon_tables(entries, ABBREVIATIONS, EVERYDAY_NAMES)
        self.abbreviations = _phrase_table(abbreviations)
        # One-word shorthand of three letters or more ("bhxh", "cccd"): what a slip is near.
        self.shorthand = sorted(k for k in self.abbreviations if " " not in k and len(k) >= 3)
        self.names = _phrase_table(names)
        # First word of a dictionary or filler phrase → the longest such phrase (in words).
        self.lengths: dict[str, int] = {}
        for phrase in [*self.abbreviations, *self.names, *_FILLER]:
            words = phrase.split(" ")
            self.lengths[words[0]] = max(self.lengths.get(words[0], 0), len(words))
        # One-word shorthand in a catalogue text is read as its first expansion.
        self.rewrite = {
            _iy(fold(key)): [_term(w) for w in tokens(expansions[0])]
            for key, expansions in abbreviations.items()
            if " " not in key and key not in _NOT_REWRITTEN
        }
        # The words of each official phrase, read once (`_expansion_terms`).
        self.expansions = {
            text: tuple(_expansion_terms(text, self.rewrite))
            for table in (self.abbreviations, self.names)
            for _terms, texts in table.values()
            for text in texts
        }
        # The accent keys of the citizens' phrases' words.
        self.written_keys = frozenset(
            _term(w)[1] for phrase in [*abbreviations, *names] for w in tokens(phrase)
        )
        # Their neighbouring words, folded (with how many phrases hold each pair) and as accent
        # keys ("tách khẩu", "giấy bìa"): pairs a slip may be repaired to, as the names' are.
        self.pairs: dict[tuple[str, str], int] = {}
        key_pairs: set[tuple[str, str]] = set()
        for phrase in [*abbreviations, *names]:
            for first, second in pairwise([_term(w) for w in tokens(phrase)]):
                self.pairs[first[0], second[0]] = self.pairs.get((first[0], second[0]), 0) + 1
                key_pairs.add((first[1], second[1]))
        self.key_pairs = frozenset(key_pairs)
        # Folded as query words are (`_iy`: "cty" is read "cti").
        self.known = {_iy(fold(k)) for k in abbreviations} | {
            " ".join(_iy(fold(w)) for w in tokens(k)) for k in names
        }
        # …and each word of those phrases is one citizens write: not a typo of a word of the
        # names ("viet kieu" is việt kiều, not "viet dieu").
        self.known |= {word for phrase in self.known for word in phrase.split(" ")}
        # A citizen's phrase → the fields whose lexicon has it: a hint of the field meant.
        fields: dict[str, set[str]] = {}
        for entry in entries:
            if entry.field:
                phrase = " ".join(_term(_digits(w))[0] for w in tokens(entry.citizen))
                fields.setdefault(phrase, set()).add(entry.field)
        self.fields = {phrase: frozenset(names) for phrase, names in fields.items()}


@lru_cache(maxsize=4)
def _vocabulary(entries: tuple[Entry, ...]) -> _Vocabulary:
    return _Vocabulary(entries)


def _filler_table() -> dict[str, list[list[tuple[str, str, bool]]]]:
    """Folded filler phrase → its spellings: "a" is both "ạ" and "à", "toi" "tôi" and "tối".
    All are kept, in sorted order, so what matches never depends on a set's hash order."""
    out: dict[str, list[list[tuple[str, str, bool]]]] = {}
    for phrase in sorted(FILLER):
        terms = [_term(w) for w in tokens(phrase)]
        out.setdefault(" ".join(t[0] for t in terms), []).append(terms)
    return out


_FILLER = _filler_table()
_CONTEXT: dict[str, frozenset[tuple[str, ...]]] = {}
"""Folded context phrase → the accent keys of its spellings ("ba" father, "bà" is filler)."""
_CONTEXT_WORDS: dict[str, frozenset[str]] = {}
"""Folded one-word context entries → their accent keys."""
_CONTEXT_LENGTHS: dict[str, int] = {}
"""First word of a context phrase (folded) → the longest such phrase (in words)."""
for _phrase in sorted(CONTEXT):  # sorted: nothing depends on the list's or a set's order
    _terms = [_term(w) for w in tokens(_phrase)]
    _folded = " ".join(t[0] for t in _terms)
    _CONTEXT[_folded] = _CONTEXT.get(_folded, frozenset()) | {tuple(t[1] for t in _terms)}
    if len(_terms) == 1:
        _CONTEXT_WORDS[_folded] = _CONTEXT_WORDS.get(_folded, frozenset()) | {_terms[0][1]}
    _CONTEXT_LENGTHS[_terms[0][0]] = max(_CONTEXT_LENGTHS.get(_terms[0][0], 0), len(_terms))
del _phrase, _terms, _folded
_FILLER_KEYS = {_term(w)[1] for phrase in FILLER if " " not in phrase for w in tokens(phrase)}
_STORY_KEYS = frozenset(_term(w)[1] for phrase in [*CONTEXT, *FILLER] for w in tokens(phrase))
"""The accent keys of the words of the context and filler phrases."""
_FILLER_FOLDED = {_term(w)[0] for phrase in FILLER for w in tokens(phrase)}
_VARIANT_KEYS = frozenset(_term(word)[1] for word in VARIANT_WORDS)
_VARIANT_FOLDED = frozenset(_term(word)[0] for word in VARIANT_WORDS)


def _order_pairs(slots: Sequence[_Slot]) -> tuple[dict[tuple[str, str], int], int]:
    """The pairs of neighbours of the query's word sequences (each slot read by any of its
    alternatives, as `_score` may), each with how often one sequence may hold it at most; and
    how many pairs of different words every sequence holds at least (`_Query.pairs`)."""
    pairs: dict[tuple[str, str], int] = {}
    least = 0
    lasts: set[str] = set()
    for number, slot in enumerate(slots):
        readings = [[t.folded for t in alternative] for alternative in slot.alternatives]
        if not readings or not all(readings):
            return {}, 0  # no bound: `_order_bounds` takes any order
        most: dict[tuple[str, str], int] = {}
        fewest = math.inf
        for words in readings:
            inside: dict[tuple[str, str], int] = {}
            for k in range(1, len(words)):
                if words[k - 1] != words[k]:
                    pair = (words[k - 1], words[k])
                    inside[pair] = inside.get(pair, 0) + 1
            for pair, count in inside.items():
                most[pair] = max(most.get(pair, 0), count)
            fewest = min(fewest, sum(inside.values()))
        for pair, count in most.items():
            pairs[pair] = pairs.get(pair, 0) + count
        least += int(fewest)
        firsts = {words[0] for words in readings}
        if number:
            for pair in {(a, b) for a in lasts for b in firsts if a != b}:
                pairs[pair] = pairs.get(pair, 0) + 1
            least += lasts.isdisjoint(firsts)
        lasts = {words[-1] for words in readings}
    return pairs, least


def _written(slots: Sequence[_Slot]) -> dict[str, frozenset[str]]:
    """The words of `slots` written only with accents (by the citizen, or as the official words
    of a phrase: as `_score` reads them), each with the accent keys it is written with."""
    keys: dict[str, set[str]] = {}
    loose: set[str] = set()
    for slot in slots:
        for alternative in slot.alternatives:
            for term in alternative:
                if term.marked or term.key != term.folded:
                    keys.setdefault(term.folded, set()).add(term.key)
                else:
                    loose.add(term.folded)
    return {word: frozenset(spellings) for word, spellings in keys.items() if word not in loose}


def best_docs(
    postings: list[np.ndarray],
    weights: list[float],
    priors: np.ndarray,
    allowed: set[int] | None,
    size: int,
) -> list[int]:
    """The `size` docs (of `allowed`, when given) with the highest sum of weight + prior over
    the `postings` (doc ids, ascending) holding them, added in the postings' order one float
    at a time (so equal sums stay equal); ties go to the doc met first: by the first posting
    holding it, then by doc. All the docs any posting holds, in doc order, when no more.

    In numpy; :func:`procedures._passes.best_docs` (compiled by ``make compiled``) does the
    same in a few loops."""
    accumulated = np.zeros(len(priors))
    for docs, weight in zip(postings, weights, strict=True):
        accumulated[docs] = accumulated[docs] + weight + priors[docs]
    first = np.full(len(priors), len(postings), dtype=np.int32)
    for number in range(len(postings) - 1, -1, -1):
        first[postings[number]] = number
    found = np.flatnonzero(first < len(postings))
    if allowed is not None:
        found = np.array([d for d in found.tolist() if d in allowed], dtype=np.int64)
    if len(found) > size:
        # All those at least as good as the size-th sum, then the order among them.
        sums = accumulated[found]
        least = -np.partition(-sums, size - 1)[size - 1]
        found = found[sums >= least]
        found = found[np.lexsort((found, first[found], -accumulated[found]))[:size]]
    return list(found.tolist())


BOUND_WEIGHTS = (
    W_QUERY, Q_POWER, W_SURFACE, W_ORDER, W_FUZZY, VARIANT_FACTOR, WEAK_RELEVANCE,
    DOC_WORDS_BONUS, _SCALE,
)
"""The constants of the relevance formula, as :func:`surface_bounds` takes them."""


def surface_bounds(
    arrays: _SurfaceArrays,
    candidates: np.ndarray,
    held_words: tuple[np.ndarray, ...],
    said: np.ndarray | None,
    slots: tuple[np.ndarray, ...],
    asked: tuple[str, bool, float, float, float, float, int, bool, int, float],
    weights: tuple[float, ...],
    priors: np.ndarray,
    factors: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """`SearchIndex._bounds` of the surfaces of the `candidates` (theirs in turn), from the
    query's words the catalogue has (`held_words`: each word id's place among them, -1 for none;
    their idf, cover shares, whether required, spans), `said`: how often each pair of the
    query's neighbours is said, by place (None: word order is not bounded), `slots`: the
    required slots (`SearchIndex._bounds` says how), and `asked`: the query's text, whether a
    long message, its required weight, need weight, gate, bonus bound, least pairs, whether
    accented, its variant bits and the weight its cover is measured against; `weights`:
    :data:`BOUND_WEIGHTS`.

    Per surface: of the query's words it holds, their idf, cover shares and spans summed, how
    many, how many are required and how many of those stand as content words; the cover shares
    of the query's words any surface of its candidate holds; how often at most the pairs it
    holds side by side are said, and whether one of them is said in either order (a witness);
    then the relevance formula over those. Returns the surfaces' ids, where each candidate's
    start, their bounds (-1: cannot score), what the other surfaces can add, and the surfaces
    that can score (their places in the first), each candidate's by bound with what the others
    add, the highest first (in turn when equal), with where each candidate's start there (and
    one past the last); per candidate the share of the query's required weight whose slots
    hold a word of its surfaces that can score (at most 1); per candidate the bound on its
    score: the best of its surfaces' bounds with what the others add, plus the most its prior
    can add (`priors`), scaled, times its `factors` (0: none can score); and the candidates by
    that bound, the highest first (in turn when equal).

    In numpy; :func:`procedures._passes.surface_bounds` (compiled by ``make compiled``) does the
    same in two loops, several times faster."""
    (text, long_message, whole, need_weight, gate, bonus, pairs_least, accented,
     variant_bits, cover_whole) = asked
    (w_query, q_power, w_surface, w_order, w_fuzzy, variant_factor, weak, others_bonus,
     scale) = weights
    places, idfs, shares, required, spans = held_words
    counts = arrays.doc_count[candidates]
    starts = np.cumsum(counts) - counts
    surface_ids = _ranges(arrays.doc_first[candidates], counts)
    lengths = arrays.row_start[surface_ids + 1] - arrays.row_start[surface_ids]
    entries = _ranges(arrays.row_start[surface_ids], lengths)
    row_of = np.repeat(np.arange(len(surface_ids)), lengths)  # an entry's surface
    row = arrays.rows[entries]
    number = places[(row & _ROW_WORD).astype(np.int64)]
    hit = number >= 0
    row_of, entries, number, row = row_of[hit], entries[hit], number[hit], row[hit]
    size = len(surface_ids)
    doc_of = np.repeat(np.arange(len(candidates)), counts)
    kept = np.zeros((len(candidates), len(shares)), np.bool_)  # candidate × query word
    kept[doc_of[row_of], number] = True
    got = np.bincount(row_of, idfs[number] * ((row >> 32) & _ROW_COUNT), size)
    shared = np.bincount(row_of, shares[number], size)
    hits = np.bincount(row_of, minlength=size)
    required_here = np.bincount(row_of, required[number], size)
    content_words = np.bincount(row_of, required[number] * (row >> 63).astype(np.int64), size)
    # What the candidate's other surfaces can add (`DOC_WORDS_BONUS`): the cover shares of
    # the query words any of its surfaces holds and this one does not.
    others = others_bonus * np.minimum(1.0, np.maximum((kept @ shares)[doc_of] - shared, 0.0))
    matching = (required_here > 0) & ~(arrays.head[surface_ids] & (hits < 2))
    content_total = arrays.content_total[surface_ids]
    # The query cover `_score` measures, without the accent and repair factors (at most 1):
    # per required slot, the largest share of an alternative the surface holds (a whole phrase
    # all or nothing), weighted.
    holds = np.zeros((size, len(shares)), np.bool_)  # surface × query word
    holds[row_of, number] = True
    slot_weights, alternative_firsts, totals, wholes, term_firsts, term_places, term_weights = (
        column.tolist() for column in slots
    )
    cover = np.zeros(size)
    for slot, weight in enumerate(slot_weights):
        fraction = np.zeros(size)
        for alternative in range(alternative_firsts[slot], alternative_firsts[slot + 1]):
            taken, complete = np.zeros(size), np.ones(size, np.bool_)
            for term in range(term_firsts[alternative], term_firsts[alternative + 1]):
                place = term_places[term]
                here = holds[:, place] if place >= 0 else np.zeros(size, np.bool_)
                taken += term_weights[term] * here
                complete &= here
            total = totals[alternative]
            if total > 0:
                fits = (taken > 0) & (taken / total > fraction)
                if wholes[alternative]:
                    fits &= complete
                fraction = np.where(fits, taken / total, fraction)
        cover += weight * fraction
    cover = cover / whole if whole > 0 else cover
    if long_message:
        cover *= whole / np.minimum(whole, np.maximum(content_total, need_weight))
    np.minimum(cover, 1.0, out=cover)
    surface_cover = np.divide(got, content_total, out=np.zeros(size), where=content_total > 0)
    np.minimum(surface_cover, 1.0, out=surface_cover)
    if long_message:
        b = arrays.text_length[surface_ids]
        a = np.bincount(row_of, spans[number], size) - 1
        similarity = np.ones(size)
        shorter = matching & (a < b)
        similarity[shorter] = 2 * a[shorter] / (a[shorter] + b[shorter])
    else:
        # At most the likeness `_score` measures (rapidfuzz's ratio: twice the longest common
        # subsequence of the two texts over their length): a common subsequence holds each
        # character at most as often as the text holding it less does.
        wanted = np.zeros(arrays.text_counts.shape[1])
        for character in text:
            if character in arrays.text_alphabet:
                wanted[arrays.text_alphabet[character]] += 1
        held_counts = arrays.text_counts[surface_ids]
        # 255 stands for at least as many: the query's count then.
        common = np.where(held_counts == 255, wanted, np.minimum(held_counts, wanted)).sum(axis=1)
        total = len(text) + arrays.text_length[surface_ids]
        similarity = (1.0 - (total - 2 * common) / total) * 100.0 / 100.0
    order: np.ndarray | float = 1.0
    unwitnessed: np.ndarray | bool = False
    if said is not None:
        # Short queries: no pair of the query's neighbours side by side in the surface, in
        # either order, is no witness (`_witnessed_pair`).
        pair_starts = arrays.pair_start[surface_ids]
        lengths = arrays.pair_start[surface_ids + 1] - pair_starts
        pairs = _ranges(pair_starts, lengths)
        packed = arrays.pairs[pairs]
        first = places[(packed & _ROW_WORD).astype(np.int64)]
        second = places[(packed >> 32).astype(np.int64)]
        both = (first >= 0) & (second >= 0)
        pair_of = np.repeat(np.arange(size), lengths)[both]
        first, second = first[both], second[both]
        adjacent = np.bincount(pair_of, said[first, second], size)
        witnessed = np.bincount(pair_of, (said + said.T)[first, second] > 0, size) > 0
        order = np.minimum(1.0, adjacent / max(1, pairs_least))
        unwitnessed = ~witnessed & (not accented)
    relevance = (
        w_query * cover**q_power
        + w_surface * surface_cover
        + w_order * order
        + w_fuzzy * similarity
        + bonus
    )
    relevance = np.where(cover < gate, relevance * cover / gate, relevance)
    unsaid = (arrays.variants[surface_ids] & ~variant_bits) != 0
    relevance = np.where(unsaid, relevance * variant_factor, relevance)
    # One content word alone: capped (`_score`).
    capped = (content_words <= 1) & (surface_cover < 0.99) | unwitnessed
    relevance = np.where(capped, np.minimum(relevance, weak), relevance)
    bounds = np.where(matching, relevance * arrays.factor[surface_ids], -1.0)
    best = np.maximum.reduceat(np.where(matching, bounds + others, -1.0), starts)
    ranked = np.lexsort((-(bounds + others), doc_of))
    ranked = ranked[matching[ranked]]
    firsts = np.zeros(len(candidates) + 1, np.int64)
    np.cumsum(np.bincount(doc_of[matching], minlength=len(candidates)), out=firsts[1:])
    explained = np.zeros((len(candidates), len(shares)), np.bool_)  # by scoring surfaces
    scoring_rows = matching[row_of]
    explained[doc_of[row_of[scoring_rows]], number[scoring_rows]] = True
    matched = np.zeros(len(candidates))
    for slot, weight in enumerate(slot_weights):
        terms = term_places[term_firsts[alternative_firsts[slot]] : term_firsts[
            alternative_firsts[slot + 1]
        ]]
        matched += weight * explained[:, [p for p in terms if p >= 0]].any(axis=1)
    covers = np.minimum(1.0, matched / cover_whole) if cover_whole > 0 else matched * 0.0
    bounded = np.where(best >= 0, (np.maximum(best, 0) + priors) / scale * factors, 0)
    by_bound = np.argsort(-bounded, kind="stable")
    return surface_ids, starts, bounds, others, ranked, firsts, covers, bounded, by_bound


try:
    from procedures._passes import best_docs as _best_docs
    from procedures._passes import surface_bounds as _surface_bounds
except ImportError:  # not compiled (`make compiled`)
    _best_docs, _surface_bounds = best_docs, surface_bounds


_COUNTED_CHARACTERS = 64


def _text_counts(texts: list[str]) -> dict[str, Any]:
    """How often each text holds each character, for the bound on the likeness
    (:func:`surface_bounds`): one column per character, the characters past the first
    :data:`_COUNTED_CHARACTERS` - 1 counted together in the last (counted together, characters
    only ever raise the bound); 255 stands for 255 or more. Counted a few hundred texts at a
    time: the build's memory stays small."""
    used = sorted(set().union(*texts))
    alphabet = {c: min(number, _COUNTED_CHARACTERS - 1) for number, c in enumerate(used)}
    width = max(alphabet.values(), default=0) + 1
    table = np.zeros(max((ord(c) for c in used), default=0) + 1, np.int64)
    table[[ord(c) for c in used]] = list(alphabet.values())
    counts = np.zeros((len(texts), width), np.uint8)
    for first in range(0, len(texts), 500):
        part = texts[first : first + 500]
        codes = np.frombuffer("".join(part).encode("utf-32-le"), np.uint32)
        rows = np.repeat(np.arange(len(part)), [len(text) for text in part])
        found = np.bincount(rows * width + table[codes], minlength=len(part) * width)
        counts[first : first + len(part)] = np.minimum(found, 255).reshape(len(part), width)
    return {"text_counts": counts, "text_alphabet": alphabet}


_ROW_WORD, _ROW_COUNT = np.uint64(2**32 - 1), np.uint64(2**31 - 1)  # `_SurfaceArrays.rows`


def _ranges(firsts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The ranges ``first … first + length - 1``, one after the other."""
    return np.repeat(firsts - (np.cumsum(lengths) - lengths), lengths) + np.arange(lengths.sum())


_VARIANT_BITS = {word: 1 << bit for bit, word in enumerate(sorted(_VARIANT_FOLDED))}


def _variant_bits(variants: Iterable[str]) -> int:
    return sum(_VARIANT_BITS[word] for word in set(variants))


VARIANT_PHRASES = (
    "cấp lại", "làm lại", "gia hạn", "điều chỉnh", "thu hồi", "chấm dứt", "bổ sung", "cấp đổi",
    "đổi", "xóa", "hủy", "dừng",
)
"""How a citizen asks for a variant (:data:`VARIANT_WORDS`): a procedure whose names start with
no such word scores :data:`VARIANT_FACTOR` of itself."""
_VARIANT_PHRASES: dict[str, list[tuple[tuple[tuple[str, str], ...], str]]] = {}
"""The folded last word of a variant phrase → (its words' (folded, key)), its variant word."""
for _phrase in VARIANT_PHRASES:
    _words = tuple(_term(w)[:2] for w in tokens(_phrase))
    _VARIANT_PHRASES.setdefault(_words[-1][0], []).append((_words, _words[-1][0]))
del _phrase, _words
GAP_WORDS = (
    "hẳn", "luôn", "thêm", "một", "cái", "chiếc", "mấy", "giúp", "dùm", "giùm", "bị", "được", "về"
)
"""Small words a citizen puts inside a known phrase ("đóng hẳn công ty", "mở thêm chi nhánh",
"gplx bị hỏng", "nhận cháu về làm con")."""
_GAP_KEYS = frozenset(_term(word)[1] for word in GAP_WORDS)
# Without accents "mot", "cai" and "duoc" are often words of their own (mốt, cải, dược): they
# are small words only where they pair with no neighbour as such (`SearchIndex._gap_bound`).
_LOOSE_GAP = frozenset({"mot", "cai", "duoc"})
_GAP_FOLDED = frozenset(_term(word)[0] for word in GAP_WORDS) - _LOOSE_GAP

# Exported for benchmarks and tests that want the exact folding the index uses.
fold_for_index = _iy
clean_text = clean
