"""Among the procedures the names find best, the one whose own texts (documents, conditions,
results, audience) say the citizen's words comes first (`procedures.fulltext`)."""

from __future__ import annotations

import pytest

from procedures import search
from procedures.catalogue import load_bundled
from procedures.fulltext import TextIndex
from procedures.search import SearchIndex


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex.build(load_bundled())


def test_a_text_holding_the_words_and_their_pairs_scores_more() -> None:
    texts = TextIndex.build([
        "giay phep khai thac nuoc duoi dat".split(),
        "dang ky khoan gieng khai thac".split(),
        "khoan to khai dang ky gieng".split(),
        "cap doi can cuoc".split(),
    ])
    well, apart, other = texts.scores("khoan gieng lay nuoc".split(), [1, 2, 3])
    assert well > apart > other == 0.0  # as long, both words, but "khoan gieng" only in one
    assert texts.scores("lay".split(), [0, 1, 2, 3]) == [0.0] * 4  # no text says it
    assert texts.scores([], [0]) == [0.0]


def test_a_word_every_text_says_weighs_little_and_a_long_text_less_per_word() -> None:
    texts = TextIndex.build([
        "ho so dang ky ket hon".split(),
        "ho so dang ky khai sinh".split(),
        ("ho so dang ky ket hon " + "giay to " * 30).split(),
    ])
    common, rare = texts.scores(["ho"], [0])[0], texts.scores(["ket"], [0])[0]
    assert 0 < common < rare
    short, long = texts.scores(["ket", "hon"], [0, 2])
    assert short > long > 0


@pytest.mark.parametrize(
    ("query", "code", "names_first"),
    [
        # The names: a declaration of residence for who cannot register; the texts of the
        # permanent registration say "nhà người thân".
        ("Muốn nhập hộ khẩu vào nhà người thân thì cần những giấy tờ gì?", "1.004222", "1.010040"),
        # The names: the transport licence; the badge's own name is longer, its texts say
        # "xe tải", "phù hiệu".
        ("xin phù hiệu cho xe tải chạy dịch vụ", "2.002288", "1.000703"),
        # "cty" is a company: the household business's texts do not say it.
        ("cty làm ăn lỗ muốn dẹp luôn", "2.002023", "1.001266"),
        ("Làm giấy phép môi trường cho xưởng gỗ mất bao lâu?", "1.010727", "3.000160"),
    ],
)
def test_the_texts_put_the_procedure_meant_first(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch, query: str, code: str, names_first: str
) -> None:
    assert index.search(query)[0].code == code
    monkeypatch.setattr(search, "TEXT_WEIGHT", 0.0)  # the names' order alone
    assert index.search(query)[0].code == names_first


def test_the_order_moves_the_scores_stay_the_names(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first result keeps the best score the names gave (how sure the answer is), each
    place its score; only which procedure stands there moves, and only among the first five."""
    queries = ["cty làm ăn lỗ muốn dẹp luôn", "khoan giếng lấy nước", "xin phép xây nhà"]
    moved = {query: index.search(query, limit=8) for query in queries}
    # A limit under five reads the first five all the same: the first result is one.
    assert index.search(queries[0], limit=1)[0].code == moved[queries[0]][0].code == "2.002023"
    monkeypatch.setattr(search, "TEXT_WEIGHT", 0.0)
    for query, hits in moved.items():
        names = index.search(query, limit=8)
        assert [h.score for h in hits] == [h.score for h in names]
        assert {h.code for h in hits[:5]} == {h.code for h in names[:5]}
        assert hits[5:] == names[5:]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("hai vợ chồng cùng góp vốn mở công ty trách nhiệm hữu hạn", "2.001199"),
        ("làm tự do muốn tự đóng bảo hiểm để sau này có lương hưu", "1.002179"),
    ],
)
def test_of_close_results_the_shorter_name_is_the_plain_procedure(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch, query: str, code: str
) -> None:
    assert index.search(query)[0].code == code
    monkeypatch.setattr(search, "NAME_WORD_WEIGHT", 0.0)
    assert index.search(query)[0].code != code
