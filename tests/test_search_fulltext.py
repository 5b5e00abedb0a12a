"""Among the procedures the names find best, the one whose own texts (documents, conditions,
results, audience) say the citizen's words comes first, and so does the one whose names, read
together (official and citizens' phrasings), speak the message's words (`procedures.fulltext`)."""

from __future__ import annotations

import pytest

from procedures import search
from procedures.catalogue import load_bundled
from procedures.fulltext import Likelihoods, TextIndex
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


def test_names_that_say_the_words_and_their_pairs_are_likelier() -> None:
    names = Likelihoods.build([
        [["dang", "ky", "tau", "ca"], ["cap", "lai", "giay", "dang", "ky", "tau", "ca"]],
        [["dang", "ky", "tau", "bien"], ["cap", "lai", "giay", "dang", "ky", "tau", "bien"]],
        [["cap", "ca", "tau"]],
    ])
    fish, ship, apart = names.scores("mat giay dang ky tau ca".split(), [0, 1, 2])
    assert fish > ship  # "ca" and "tau ca" said there only
    assert fish > apart  # "tau" and "ca" apart, not "tau ca", in names that say little else
    # A word no names say is left out (all alike), and nothing read is no difference.
    assert names.scores("mat tau ca".split(), [0, 1]) == names.scores("tau ca".split(), [0, 1])
    assert len(set(names.scores(["zzz"], [0, 1, 2]))) == 1
    assert names.scores(["ca"], []) == []
    # The likeliest of all is the best of the scores; of the others, the next.
    assert names.likeliest("mat giay dang ky tau ca".split(), []) == 0
    assert names.likeliest("mat giay dang ky tau ca".split(), [0]) == 1
    assert names.likeliest(["zzz"], []) is None
    assert names.likeliest(["ca"], [0, 1, 2]) is None


@pytest.mark.parametrize(
    ("query", "code", "best_name_first"),
    [
        # A licence to carry goods by lorry, not a household business's registration
        ("xin gp kd vận tải bằng xe tải cho cty mới thành lập", "1.000703", "1.001612"),
        # A fishing boat's registration, not a sea-going ship's
        ("mất giấy đăng ký tau cá xin cấp lạy", "1.003634", "1.002582"),
    ],
)
def test_the_procedure_whose_names_together_speak_the_message_comes_first(
    index: SearchIndex,
    monkeypatch: pytest.MonkeyPatch,
    query: str,
    code: str,
    best_name_first: str,
) -> None:
    assert index.search(query)[0].code == code
    monkeypatch.setattr(search, "NAMES_WEIGHT", 0.0)
    assert index.search(query)[0].code == best_name_first


def test_what_a_name_denies_is_not_what_its_names_say(index: SearchIndex) -> None:
    """"… mà người dịch không phải là cộng tác viên dịch thuật …" does not say "cộng tác viên"
    (`search._affirmed`): a collaborator's signature is the collaborator's procedure, although
    the other one's phrasings tell the story of translating one's school records."""
    query = ("mình là cộng tác viên dịch thuật của phường, dịch học bạ sang tiếng Anh, giờ cần "
             "xác nhận chữ ký người dịch")
    assert index.search(query)[0].code == "2.000992"
    assert search._affirmed("nguoi dich khong phai la cong tac vien dich thuat".split()) == [
        "nguoi", "dich", "dich", "thuat"
    ]


@pytest.mark.parametrize(
    ("query", "code", "names_first"),
    [
        # The names: a declaration of residence for who cannot register; the texts of the
        # permanent registration say "nhà người thân".
        ("Muốn nhập hộ khẩu vào nhà người thân thì cần những giấy tờ gì?", "1.004222", "1.010040"),
        # The names: the transport licence; the badge's own name is longer, its texts say
        # "xe tải", "phù hiệu".
        ("xin phù hiệu cho xe tải chạy dịch vụ", "2.002288", "1.000703"),
        # The names: withdrawing the licence; the texts of its grant say "ví điện tử".
        ("công ty muốn làm ví điện tử thì xin phép ngân hàng nhà nước", "1.000756", "1.003360"),
        ("Làm giấy phép môi trường cho xưởng gỗ mất bao lâu?", "1.010727", "3.000160"),
    ],
)
def test_the_texts_put_the_procedure_meant_first(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch, query: str, code: str, names_first: str
) -> None:
    assert index.search(query)[0].code == code
    monkeypatch.setattr(search, "TEXT_WEIGHT", 0.0)  # the names' order alone
    monkeypatch.setattr(search, "NAME_WORDS_WEIGHT", 0.0)
    monkeypatch.setattr(search, "NAMES_WEIGHT", 0.0)
    assert index.search(query)[0].code == names_first


def test_the_order_moves_the_scores_stay_the_names(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first result keeps the best score the names gave (how sure the answer is), each
    place its score; only which procedure stands there moves, and only among the first ten
    and the one procedure the names did not find that may join them (`_rerank_candidates`)."""
    queries = ["xin phù hiệu cho xe tải chạy dịch vụ", "khoan giếng lấy nước", "xin phép xây nhà"]
    moved = {query: index.search(query, limit=12) for query in queries}
    # A limit under five reads the first five all the same: the first result is one.
    assert index.search(queries[0], limit=1)[0].code == moved[queries[0]][0].code == "2.002288"
    monkeypatch.setattr(search, "RERANKED", 0)  # the names' order alone
    for query, hits in moved.items():
        names = index.search(query, limit=12)
        assert [h.score for h in hits][: min(10, len(names))] == [h.score for h in names][:10]
        codes = [h.code for h in hits]
        named = [h.code for h in names]
        joined = [code for code in codes if code not in named]
        assert len(joined) <= 1 and len(set(codes)) == len(codes)
        kept = [code for code in codes if code not in joined]
        assert set(kept[:10]) == set(named[:10])
        assert kept[10:] == named[10 : len(kept)]


@pytest.mark.parametrize(
    ("query", "code", "first_of_five"),
    [
        # The names rank the social insurance registration eighth (the story says "công ty
        # trách nhiệm hữu hạn" at length), its texts and names say the message.
        (
            "Tiệm bánh của tôi vừa chuyển lên thành công ty trách nhiệm hữu hạn, có sáu nhân "
            "viên ký hợp đồng một năm. Kế toán dịch vụ nói công ty phải đăng ký đóng bảo hiểm "
            "xã hội bắt buộc cho người lao động và làm sổ cho từng người. Lần đầu đăng ký thì "
            "làm thế nào?",
            "1.002051",
            "2.001199",
        ),
        # Sixth: the community production support, not the legal aid "đăng ký tham gia" finds.
        (
            "Xã em thuộc vùng khó khăn ở Hà Giang, năm nay có chương trình hỗ trợ bò giống cho "
            "nhóm hộ nuôi chung. Nhóm em 8 hộ muốn đăng ký tham gia. Thì làm thế nào ạ?",
            "1.002544",
            "2.000596",
        ),
    ],
)
def test_the_re_ranking_reads_past_the_names_first_five(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch, query: str, code: str,
    first_of_five: str,
) -> None:
    """The re-ranking orders the best five and the best of the others scored on the way."""
    assert index.search(query)[0].code == code
    monkeypatch.setattr(search, "RERANKED", search.RANKED_IN_FULL)
    monkeypatch.setattr(search, "LIKELIEST_SCORE", float("-inf"))  # the likeliest last
    assert index.search(query)[0].code == first_of_five


@pytest.mark.parametrize(
    ("query", "code", "names_first"),
    [
        # The names find a law firm's registration ("văn phòng luật") only, and not the will.
        (
            "làm di chúc ở ủy ban xã được không hay bắt buộc ra văn phòng luật?",
            "2.001019",
            "1.002010",
        ),
        # Shorthand the lexicon does not hold ("LHTD": lưu hành tự do); the names of the
        # free-sale certificate, read together, say "CFS", "chuối", "xuất khẩu".
        (
            "bên mình XK chuối sang HQ, bên NK đòi CFS, xin giấy LHTD ở sở NN&MT ntn",
            "2.001730",
            "1.009559",
        ),
    ],
)
def test_the_procedure_whose_names_together_are_likeliest_joins_the_results(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch, query: str, code: str,
    names_first: str,
) -> None:
    """Of all the procedures the names did not find, the one whose names, read together, are
    likeliest to say the message is read with the names' best, counted as scoring
    `LIKELIEST_SCORE`; each place keeps the names' score."""
    found = index.search(query)
    assert found[0].code == code
    monkeypatch.setattr(search, "LIKELIEST_SCORE", float("-inf"))
    last = index.search(query)
    assert last[0].code == names_first and last[-1].code == code
    assert [hit.score for hit in last] == [hit.score for hit in found]
    monkeypatch.setattr(search, "RERANKED", 0)  # the names alone: they do not find it
    assert code not in [hit.code for hit in index.search(query, limit=10)]


def test_of_close_results_the_shorter_name_is_the_plain_need(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long official name is a special case of its family: a foreign investor buying into a
    limited company means buying a stake, not converting a foreign law firm's branch into a
    law company (whose name says more words of the message, and many more besides)."""
    query = "ndt nn mua 30% vốn cty tnhh vn có phải xin ko"
    assert index.search(query)[0].code == "1.009729"  # góp vốn, mua cổ phần, mua phần vốn góp
    monkeypatch.setattr(search, "NAME_WORDS_WEIGHT", 0.0)
    assert index.search(query)[0].code == "1.002637"  # Chuyển đổi chi nhánh … luật sư nước ngoài
    # A couple opening a limited company together: its registration.
    query = "hai vợ chồng cùng góp vốn mở công ty trách nhiệm hữu hạn"
    assert index.search(query)[0].code == "2.001199"  # Đăng ký thành lập công ty TNHH 2 TV
    # A level or a code in brackets is no part of what the procedure is: the provincial
    # environmental permit ("… (cấp Tỉnh) ( 1.010727 )") is not a longer name than a licence
    # of four words the message does not ask for.
    monkeypatch.undo()
    found = index.search("Làm giấy phép môi trường cho xưởng gỗ mất bao lâu?")
    assert found[0].code == "1.010727"


def test_one_word_the_texts_say_is_weak_evidence(index: SearchIndex) -> None:
    """Only the police's own licence's documents say "hỏng": a word, not the citizen's case."""
    assert index.search("gplx hỏng")[0].code == "3.000347"  # đổi giấy phép lái xe


@pytest.mark.parametrize(
    "query", ["cấp thẻ bảo hiểm y tế lần đầu", "cấp lại thẻ bhyt bị mất", "mất thẻ bảo hiểm y tế"]
)
def test_the_texts_of_a_procedure_for_a_group_the_message_does_not_name_say_nothing(
    index: SearchIndex, query: str
) -> None:
    """The people's police's own health-insurance cards (procedures/data/audiences.txt): their
    texts say "thẻ bảo hiểm y tế" as the citizen's card's do."""
    police = {"2.000639", "1.003116", "1.001294", "1.001327", "1.002438", "1.001321"}
    first = index.search(query)[0]
    assert first.code == "1.002759" and first.code not in police
    assert index.search(f"chiến sĩ công an {query}")[0].code in police
