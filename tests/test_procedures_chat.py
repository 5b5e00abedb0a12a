"""Finding and reading a procedure in the chat: free text and /thutuc, results as buttons, the
card and its sections, refining, browsing by field; long cards within Telegram's limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.app import Service, bundled_index
from bot.config import Settings
from bot.db.session import Database
from bot.router import Core
from handlers import build_router
from handlers.procedures import searched
from procedures.catalogue import load_bundled
from procedures.search import SearchIndex
from tests.conftest import make_settings
from tests.dialog import CountingCatalogue, Dialog, actions, labels, texts
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:TEST-token-for-the-fake-api_abcdefghij"


@pytest.fixture
async def core(settings: Settings) -> AsyncIterator[Core]:
    db = Database(settings.database_url)
    yield Core(settings, db, build_router(), services={"catalogue": bundled_index()})
    await db.dispose()


async def test_free_text_finds_the_procedure(core: Core) -> None:
    replies = await Dialog(core).say("lam lai can cuoc bi mat")
    assert "lam lai can cuoc bi mat" in texts(replies)
    assert actions(replies)[0] == "proc:1.014064"
    assert labels(replies)[0].startswith("Cấp lại thẻ căn cước")
    assert "(Cấp xã)" in labels(replies)[0]
    assert len([a for a in actions(replies) if a.startswith("proc:1")]) <= 5


async def test_one_name_in_two_fields_is_told_apart_by_its_field(core: Core) -> None:
    # "Nộp dần tiền thuế nợ" stands in Thuế and in Hải quan: the citizen sees which is which.
    replies = await Dialog(core).say("còn nợ thuế xin nộp dần")
    shown = [label for label in labels(replies) if "Nộp dần tiền thuế nợ" in label]
    assert any("Thuế" in label for label in shown) and any("Hải quan" in label for label in shown)
    assert "Nộp dần tiền thuế nợ – Hải quan" in texts(replies)


async def test_the_same_words_again_get_the_same_answer_without_a_search(
        settings: Settings) -> None:
    db = Database(settings.database_url)
    counting = CountingCatalogue(bundled_index())
    core = Core(settings, db, build_router(), services={"catalogue": counting})
    first = await Dialog(core, chat_id="701").say("lam lai can cuoc bi mat")
    searches = counting.searches
    assert searches >= 1 and actions(first)[0] == "proc:1.014064"
    first[0].buttons.clear()  # what a handler does with its reply stays with that reply
    again = await Dialog(core, chat_id="702").say("lam lai can cuoc bi mat")
    assert counting.searches == searches
    assert actions(again)[0] == "proc:1.014064" and texts(again) == texts(first)
    other = await Dialog(core, chat_id="702").say("đăng ký kết hôn")
    assert counting.searches > searches and "proc:1.000894" in actions(other)
    await db.dispose()

async def test_card_sections_and_official_link(core: Core) -> None:
    dialog = Dialog(core)
    card = await dialog.press("proc:1.000894")
    assert texts(card).startswith("Đăng ký kết hôn\n")  # the short name heads the card
    assert "Mã thủ tục: 1.000894" in texts(card)
    assert "cập nhật tháng 07/2026" in texts(card)
    assert labels(card)[:5] == ["Hồ sơ cần chuẩn bị", "Lệ phí và thời hạn",
                                "Nộp ở đâu, nộp thế nào", "Trình tự", "Căn cứ pháp lý"]
    urls = [b.url for r in card for b in r.flat_buttons() if b.url]
    assert urls and urls[0].startswith("https://dichvucong.gov.vn/")
    documents = texts(await dialog.press("proc:1.000894:docs"))
    assert "Giấy tờ phải xuất trình" in documents and "hộ chiếu" in documents
    fees = texts(await dialog.press("proc:1.000894:fees"))
    assert "Trực tiếp, Trực tuyến, Dịch vụ bưu chính:" in fees  # the same terms said once
    assert "Miễn phí" in fees and "8.000 đồng/bản" in fees
    legal = texts(await dialog.press("proc:1.000894:legal"))
    assert "07/2025/NĐ-CP" in legal
    where = texts(await dialog.press("proc:1.000894:where"))
    assert "Giấy chứng nhận kết hôn" in where


async def test_unconfirmed_facts_are_marked(core: Core) -> None:
    fees = texts(await Dialog(core).press("proc:1.000894:fees"))
    assert "đang được cán bộ kiểm tra lại" in fees
    assert "chưa xác nhận" not in fees and "nguồn thứ cấp" not in fees


async def test_not_this_one_lets_the_citizen_refine(core: Core) -> None:
    dialog = Dialog(core)
    await dialog.say("khai sinh")
    replies = await dialog.press("proc:refine")
    assert "gõ rõ hơn" in texts(replies)
    replies = await dialog.say("khai sinh co yeu to nuoc ngoai")
    assert actions(replies)[0] == "proc:2.000528"


async def test_thutuc_then_the_query(core: Core) -> None:
    dialog = Dialog(core)
    assert "cần làm thủ tục gì" in texts(await dialog.say("/thutuc"))
    assert actions(await dialog.say("dang ky ket hon"))[0] == "proc:1.000894"
    assert actions(await dialog.say("/thutuc giấy độc thân"))[0] == "proc:1.004873"


async def test_nothing_fits_suggests_fields(core: Core) -> None:
    dialog = Dialog(core)
    replies = await dialog.say("asdfgh qwerty")
    assert "chưa tìm thấy thủ tục" in texts(replies)
    assert "Hộ tịch" in labels(replies)
    field = await dialog.press("proc:field:1:Hộ tịch")
    assert 'lĩnh vực "Hộ tịch" (trang 1/' in texts(field)
    assert "Xem thêm" in labels(field)
    second = await dialog.press("proc:field:2:Hộ tịch")
    assert "(trang 2/" in texts(second)
    assert set(actions(field)).isdisjoint(a for a in actions(second) if a.startswith("proc:1"))


async def test_thanks_and_greetings_are_not_searches(core: Core) -> None:
    dialog = Dialog(core)
    assert "không có gì" in texts(await dialog.say("cảm ơn"))
    assert "em chào anh/chị" in texts(await dialog.say("chào em"))


async def test_an_unknown_code_in_a_stale_button(core: Core) -> None:
    replies = await Dialog(core).press("proc:9.999999")
    assert "không còn trong danh mục" in texts(replies)


async def test_search_survives_a_restart_and_long_cards_fit_telegram(database_url: str) -> None:
    async with FakeTelegram(limit_per_chat_per_s=None) as fake:
        settings = make_settings(database_url, telegram_bot_token=TOKEN,
                                 telegram_api_base_url=fake.base_url)
        async with Service(settings):
            fake.push_message(3001, "/thutuc")
            await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok)
        async with Service(settings):  # a new process: the step is remembered
            fake.push_message(3001, "sang ten so do")
            await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, count=2)
            found = fake.sent_messages(3001)[-1]
            assert "sang ten so do" in found["text"]
            data = [b["callback_data"] for row in found["reply_markup"]["inline_keyboard"]
                    for b in row]
            assert data[0] in ("proc:1.013831", "proc:1.012787")  # transfer of land rights
            before = len(fake.sent_messages(3001))
            fake.push_callback(3001, "proc:1.014267:steps")  # a very long section
            await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok
                                and "reply_markup" in c.params, count=3)
            parts = fake.sent_messages(3001)[before:]
            assert len(parts) >= 5 and all(len(m["text"]) <= 4096 for m in parts)
            assert "reply_markup" in parts[-1] and "reply_markup" not in parts[0]


async def test_an_imported_procedure_reaches_the_chat(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An official adds a social-assistance procedure by CSV; the running service finds it."""
    csv = tmp_path / "bo-sung.csv"
    csv.write_text(
        "ma_thu_tuc,ten_thu_tuc,ten_goi_khac,linh_vuc,cap_thuc_hien,truc_tiep_thoi_han\n"
        "2.000286,Thực hiện trợ cấp xã hội hằng tháng đối với đối tượng bảo trợ xã hội,"
        "trợ cấp xã hội; tiền trợ cấp người già,Bảo trợ xã hội,Cấp xã,15 ngày làm việc\n",
        encoding="utf-8")
    async with Service(make_settings(database_url)) as service:
        from bot.db.catalogue import ensure_bundled

        async with service.db.session() as session:
            await ensure_bundled(session)  # as `motcua run` does at start
        before = service.services["catalogue"].search("trợ cấp xã hội hằng tháng")
        assert all(hit.code != "2.000286" for hit in before)
        from tests.test_console_and_cli import run_cli

        result = await asyncio.to_thread(run_cli, ["import-procedures", str(csv)],
                                         {"DATABASE_URL": database_url}, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        await service.refresh_catalogue()  # what every process does each minute
        replies = await Dialog(service.core).say("tien tro cap xa hoi hang thang")
        assert actions(replies)[0] == "proc:2.000286"
        still = await Dialog(service.core).say("dang ky ket hon")  # the bundle is still there
        assert actions(still)[0] == "proc:1.000894"


def test_a_new_catalogue_index_starts_the_memo_over() -> None:
    # After an import the service searches a new index: what the old one found is not served.
    procedures = load_bundled()
    marriage = "1.000894"  # Thủ tục đăng ký kết hôn
    with_it = SearchIndex.build(procedures)
    without_it = SearchIndex.build([p for p in procedures if p.code != marriage])
    assert searched(with_it, "đăng ký kết hôn")[0].code == marriage
    assert marriage not in [hit.code for hit in searched(without_it, "đăng ký kết hôn")]
    assert searched(with_it, "đăng ký kết hôn")[0].code == marriage
