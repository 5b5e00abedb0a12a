"""The feedback desk: intake in the chat, the staff group (forum topics or replies), staff
commands, the citizen's side afterwards, deadlines — end to end with the real PTB client
against the fake Bot API, and the web chat."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import Service, bundled_index
from bot.config import Settings
from bot.db import feedback as tickets
from bot.db.session import Database
from bot.messages import Attachment
from bot.router import Core
from handlers import build_router
from tests.conftest import make_settings
from tests.dialog import Dialog, labels, texts, until
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:TEST-token-for-the-fake-api_abcdefghij"
STAFF = -1001234567
CITIZEN = 4242
DESCRIPTION = "Đèn đường trước nhà văn hoá thôn Đông bị hỏng hai tuần nay, tối rất nguy hiểm."


# -- the intake, as a dialog ------------------------------------------------------------------


@pytest.fixture
async def core(settings: Settings) -> AsyncIterator[Core]:
    db = Database(settings.database_url)
    yield Core(settings, db, build_router(), services={"catalogue": bundled_index()})
    await db.dispose()


async def file_ticket(dialog: Dialog, *, photos: int = 0, anonymous: bool = True) -> str:
    """Go through the intake; returns the confirmation text."""
    assert "Luật Khiếu nại" in texts(await dialog.say("/phananh"))
    assert "mô tả nội dung" in texts(await dialog.press("fb:cat:ha_tang"))
    assert "Tiếp tục" in labels(await dialog.say(DESCRIPTION))
    for n in range(photos):
        reply = await dialog.say(attachments=[Attachment("photo", f"photo-{n}")])
        assert f"đã nhận {n + 1} ảnh" in texts(reply)
    asked = texts(await dialog.press("fb:next"))
    if "xã, phường nào" in asked:  # the first time: the citizen's commune
        asked = texts(await dialog.say("Âu Lâu"))
    assert "ẩn danh" in asked
    if anonymous:
        summary = await dialog.press("fb:anon")
    else:
        await dialog.press("fb:contact")
        await dialog.say("Trần Thị Bình")
        assert "chưa đúng" in texts(await dialog.say("12345"))
        summary = await dialog.say("0912 345 678")
    assert "kiểm tra lại phản ánh" in texts(summary) and DESCRIPTION in texts(summary)
    return texts(await dialog.press("fb:send"))


async def stored(core: Core) -> list[tickets.Ticket]:
    async with core.db.session() as session:
        return list(await session.scalars(select(tickets.Ticket).order_by(tickets.Ticket.id)))


async def test_intake_stores_the_ticket_before_saying_so(core: Core) -> None:
    dialog = Dialog(core)
    confirmation = await file_ticket(dialog, photos=2, anonymous=False)
    (ticket,) = await stored(core)
    assert ticket.code in confirmation and ticket.code.startswith("PA-")
    assert ticket.contact_name == "Trần Thị Bình" and ticket.contact_phone == "0912345678"
    assert ticket.category == "ha_tang" and ticket.description == DESCRIPTION
    # the deadline is the end of that day: "chậm nhất trong ngày", never "trước ngày"
    due = ticket.due_at.astimezone(core.settings.tz)
    assert f"trả lời chậm nhất trong ngày {due:%d/%m/%Y}" in confirmation
    assert "trước ngày" not in confirmation and (due.hour, due.minute) == (23, 59)
    async with core.db.session() as session:
        (message,) = await tickets.find_messages(session, ticket.id)
    assert [p["file_id"] for p in message.attachments] == ["photo-0", "photo-1"]
    assert ticket.due_at > ticket.created_at + timedelta(days=14)  # 15 working days


async def test_codes_count_up_within_the_month(core: Core) -> None:
    await file_ticket(Dialog(core, chat_id="a"))
    await file_ticket(Dialog(core, chat_id="b"))
    codes = [t.code for t in await stored(core)]
    assert codes[0][:8] == codes[1][:8] and codes[0].endswith("-0001")
    assert codes[1].endswith("-0002")


async def test_short_empty_long_and_sticker_inputs(core: Core) -> None:
    dialog = Dialog(core)
    await dialog.say("/phananh")
    assert "bấm chọn một lĩnh vực" in texts(await dialog.say("đèn hỏng"))
    await dialog.press("fb:cat:khac")
    assert "hơi ngắn" in texts(await dialog.say("hỏng"))
    assert "chưa nhận được nội dung" in texts(await dialog.say(""))
    replies = await dialog.say("x" * 10_000)
    assert "chỉ giữ 3000 ký tự đầu" in texts(replies)
    sticker = await dialog.say(attachments=[Attachment("sticker", "s")])
    assert "chỉ nhận ảnh, vị trí hoặc mã hồ sơ" in texts(sticker)
    await dialog.say("000.00.01.H29-240115-0001")
    await dialog.press("fb:next")
    summary = texts(await dialog.press("fb:anon"))
    assert "Mã hồ sơ: 000.00.01.H29-240115-0001" in summary


async def test_edit_and_cancel_from_the_summary(core: Core) -> None:
    dialog = Dialog(core)
    await dialog.say("/phananh")
    await dialog.press("fb:cat:thu_tuc")
    await dialog.say(DESCRIPTION)
    await dialog.press("fb:next")
    await dialog.press("fb:anon")
    await dialog.press("fb:edit")
    summary = texts(await dialog.say("Nội dung mới, đã sửa lại cho rõ ràng hơn ạ."))
    assert "Nội dung mới" in summary
    await dialog.press("fb:recat")
    assert "Lĩnh vực: Thái độ phục vụ" in texts(await dialog.press("fb:cat:thai_do"))
    assert "đã hủy" in texts(await dialog.press("fb:cancel"))
    assert await stored(core) == []


async def test_the_ticket_belongs_to_the_commune_the_citizen_names(core: Core) -> None:
    """Asked once when unknown (by name, a choice among namesakes, or skipped), shown in the
    summary, changeable there, kept on the ticket and remembered for the citizen."""
    from bot.db.models import Citizen

    dialog = Dialog(core)
    await dialog.say("/phananh")
    await dialog.press("fb:cat:ha_tang")
    await dialog.say(DESCRIPTION)
    asked = await dialog.press("fb:next")
    assert "xã, phường nào" in texts(asked) and labels(asked) == ["Bỏ qua"]
    namesakes = await dialog.say("Ba Đình")
    assert "Phường Ba Đình (Thành phố Hà Nội)" in labels(namesakes)
    assert "Xã Ba Đình (Thanh Hóa)" in labels(namesakes)
    assert "chưa tìm thấy" in texts(await dialog.say("Xã Không Có Thật"))
    assert "ẩn danh" in texts(await dialog.press("fb:commune:4543"))
    summary = await dialog.press("fb:anon")
    assert "Xã, phường: Phường Âu Lâu, Lào Cai" in texts(summary)
    assert "Đổi xã, phường" in labels(summary)
    assert "xã, phường nào" in texts(await dialog.press("fb:place"))
    changed = await dialog.say("Phường Ba Đình, Hà Nội")
    assert "Xã, phường: Phường Ba Đình, Thành phố Hà Nội" in texts(changed)
    assert "Em đã nhận phản ánh" in texts(await dialog.press("fb:send"))

    await dialog.say("/phananh")  # the second time the commune is known: not asked again
    await dialog.press("fb:cat:thai_do")
    await dialog.say(DESCRIPTION)
    assert "ẩn danh" in texts(await dialog.press("fb:next"))
    await dialog.press("fb:anon")
    await dialog.press("fb:send")

    other = Dialog(core, chat_id="c2")  # someone who does not say: no commune
    await other.say("/phananh")
    await other.press("fb:cat:khac")
    await other.say(DESCRIPTION)
    await other.press("fb:next")
    assert "ẩn danh" in texts(await other.press("fb:nocommune"))
    assert "Xã, phường:" not in texts(await other.press("fb:anon"))
    await other.press("fb:send")

    assert [t.commune_code for t in await stored(core)] == ["4", "4", None]
    async with core.db.session() as session:
        communes = sorted(await session.scalars(select(Citizen.commune_code)),
                          key=lambda c: c or "")
    assert communes == [None, "4"]


async def test_my_tickets_are_mine_only(core: Core) -> None:
    mine = Dialog(core, chat_id="owner")
    await file_ticket(mine)
    (ticket,) = await stored(core)
    listing = await mine.press("fb:mine")
    assert ticket.code in texts(listing) and "Đang chờ xử lý" in texts(listing)
    assert DESCRIPTION in texts(await mine.press(f"fb:show:{ticket.id}"))
    stranger = Dialog(core, chat_id="stranger")
    assert "không tìm thấy" in texts(await stranger.press(f"fb:show:{ticket.id}"))
    assert "không tìm thấy" in texts(await stranger.press(f"fb:reopen:{ticket.id}"))


async def test_staff_commands_are_refused_to_citizens(core: Core) -> None:
    dialog = Dialog(core, chat_id="someone")
    await file_ticket(dialog)
    (ticket,) = await stored(core)
    for command in (f"/dong {ticket.code} xong", "/ds", f"/giao {ticket.code} An", "/mau"):
        assert "chỉ dành cho cán bộ" in texts(await dialog.say(command))
    (after,) = await stored(core)
    assert after.status == tickets.OPEN and after.assigned_to is None


async def test_staff_allow_list_works_outside_the_group(settings: Settings) -> None:
    settings = make_settings(settings.database_url, staff_user_ids="web:boss")
    db = Database(settings.database_url)
    core = Core(settings, db, build_router(), services={"catalogue": bundled_index()})
    await file_ticket(Dialog(core, chat_id="citizen"))
    assert "PA-" in texts(await Dialog(core, chat_id="boss").say("/ds"))
    await db.dispose()


# -- end to end through Telegram ---------------------------------------------------------------


def ok_sends(fake: FakeTelegram, chat: int) -> list[dict]:
    return fake.sent_messages(chat)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(limit_per_chat_per_s=None, limit_per_group_per_min=None) as api:
        api.add_chat(STAFF, "supergroup", title="Tổ phản ánh", is_forum=True)
        yield api


@pytest.fixture
async def service(database_url: str, fake: FakeTelegram) -> AsyncIterator[Service]:
    settings = make_settings(database_url, telegram_bot_token=TOKEN,
                             telegram_api_base_url=fake.base_url,
                             telegram_staff_chat_id=STAFF, telegram_rate_per_chat=20,
                             telegram_rate_per_group_minute=600)
    svc = Service(settings)
    assert svc.staff_desk is not None
    svc.staff_desk.interval = 0.05
    async with svc:
        yield svc


async def say(fake: FakeTelegram, chat: int, text: str | None = None, **kw: object) -> str:
    """Send as a citizen; return the text of the bot's next message to that chat."""
    count = len(ok_sends(fake, chat))
    fake.push_message(chat, text, **kw)  # type: ignore[arg-type]
    await until(lambda: len(ok_sends(fake, chat)) > count)
    return str(ok_sends(fake, chat)[-1].get("text") or "")


async def press(fake: FakeTelegram, chat: int, data: str) -> str:
    count = len(ok_sends(fake, chat))
    fake.push_callback(chat, data)
    await until(lambda: len(ok_sends(fake, chat)) > count)
    return str(ok_sends(fake, chat)[-1].get("text") or "")


async def telegram_ticket(fake: FakeTelegram) -> None:
    await say(fake, CITIZEN, "/phananh")
    await press(fake, CITIZEN, "fb:cat:ha_tang")
    await say(fake, CITIZEN, DESCRIPTION)
    assert "đã nhận 1 ảnh" in await say(fake, CITIZEN, photo=True)
    assert "đã nhận 2 ảnh" in await say(fake, CITIZEN, photo=True)
    await press(fake, CITIZEN, "fb:next")
    await press(fake, CITIZEN, "fb:anon")
    assert "Em đã nhận phản ánh" in await press(fake, CITIZEN, "fb:send")


def topic_messages(fake: FakeTelegram, thread: int) -> list[dict]:
    return [m for m in fake.sent_messages(STAFF) if m.get("message_thread_id") == thread]


async def test_forum_round_trip(service: Service, fake: FakeTelegram) -> None:
    await telegram_ticket(fake)
    await fake.wait_for("createForumTopic", timeout=10)
    thread = fake.calls_to("createForumTopic")[0]
    assert thread.params["name"].startswith("PA-") and "Hạ tầng" in thread.params["name"]
    await until(lambda: len([m for m in fake.sent_messages(STAFF) if m.get("photo")]) == 2)
    thread_id = fake.sent_messages(STAFF)[0]["message_thread_id"]
    in_topic = topic_messages(fake, thread_id)
    assert "PHẢN ÁNH PA-" in in_topic[0]["text"] and DESCRIPTION in in_topic[0]["text"]
    assert [bool(m.get("photo")) for m in in_topic] == [False, True, True]

    # a staff member replies in the topic -> the citizen receives it
    count = len(ok_sends(fake, CITIZEN))
    fake.push_message(STAFF, "Chào anh/chị, tổ điện sẽ thay bóng đèn trong tuần này.",
                      user_id=777, first_name="Cán bộ Hà", message_thread_id=thread_id)
    await until(lambda: len(ok_sends(fake, CITIZEN)) > count)
    reply = ok_sends(fake, CITIZEN)[-1]
    assert "tổ điện sẽ thay bóng đèn" in reply["text"] and "đã trả lời phản ánh" in reply["text"]
    await until(lambda: "Đã gửi cho người dân" in topic_messages(fake, thread_id)[-1]["text"])

    # the citizen answers back -> it reaches the same topic
    (ticket,) = await all_tickets(service)
    await press(fake, CITIZEN, f"fb:answer:{ticket.id}")
    await say(fake, CITIZEN, "Cảm ơn cán bộ, nhờ thay sớm giúp ạ.")
    await until(lambda: any("nhờ thay sớm" in (m.get("text") or "")
                            for m in topic_messages(fake, thread_id)))

    # /dong -> the citizen is told and asked to rate -> "Không hài lòng" -> reopen
    count = len(ok_sends(fake, CITIZEN))
    fake.push_message(STAFF, "/dong Đã thay bóng đèn mới ngày 28/11.", user_id=777,
                      message_thread_id=thread_id)
    await until(lambda: len(ok_sends(fake, CITIZEN)) > count)
    closed = ok_sends(fake, CITIZEN)[-1]
    assert "đã được xử lý xong" in closed["text"] and "Đã thay bóng đèn" in closed["text"]
    rating = [b["text"] for row in closed["reply_markup"]["inline_keyboard"] for b in row]
    assert rating == ["Rất hài lòng", "Hài lòng", "Không hài lòng"]
    assert "chưa làm anh/chị hài lòng" in await press(fake, CITIZEN, f"fb:rate:{ticket.id}:1")
    assert "đã mở lại" in await press(fake, CITIZEN, f"fb:reopen:{ticket.id}")
    await until(lambda: any("mở lại phản ánh" in (m.get("text") or "")
                            for m in topic_messages(fake, thread_id)))
    (ticket,) = await all_tickets(service)
    assert ticket.status == tickets.OPEN and ticket.reopen_count == 1
    assert "không mở lại được nữa" in await press(fake, CITIZEN, f"fb:reopen:{ticket.id}")


async def all_tickets(service: Service) -> list[tickets.Ticket]:
    async with service.db.session() as session:
        return list(await session.scalars(select(tickets.Ticket)))


async def test_two_staff_replying_at_once(service: Service, fake: FakeTelegram) -> None:
    await telegram_ticket(fake)
    await until(lambda: bool(fake.sent_messages(STAFF)))
    thread_id = fake.sent_messages(STAFF)[0]["message_thread_id"]
    count = len(ok_sends(fake, CITIZEN))
    fake.push_message(STAFF, "Trả lời của cán bộ A.", user_id=801, message_thread_id=thread_id)
    fake.push_message(STAFF, "Bổ sung của cán bộ B.", user_id=802, message_thread_id=thread_id)
    await until(lambda: len(ok_sends(fake, CITIZEN)) >= count + 2)
    got = [m["text"] for m in ok_sends(fake, CITIZEN)[count:]]
    assert any("cán bộ A" in t for t in got) and any("cán bộ B" in t for t in got)


async def test_staff_group_failures_lose_nothing(service: Service, fake: FakeTelegram) -> None:
    fake.fail_next("createForumTopic", 502, count=2)
    fake.fail_next("sendMessage", 502, count=2)
    await telegram_ticket(fake)
    await until(lambda: len([m for m in fake.sent_messages(STAFF) if m.get("photo")]) == 2,
                timeout=30)
    assert len(fake.calls_to("createForumTopic", ok=True)) == 1
    assert any("PHẢN ÁNH PA-" in (m.get("text") or "") for m in fake.sent_messages(STAFF))


async def test_staff_commands_in_the_group(service: Service, fake: FakeTelegram) -> None:
    await telegram_ticket(fake)
    await until(lambda: len([m for m in fake.sent_messages(STAFF) if m.get("photo")]) == 2)
    thread_id = fake.sent_messages(STAFF)[0]["message_thread_id"]
    (ticket,) = await all_tickets(service)

    async def staff(text: str, thread: int | None = thread_id) -> str:
        count = len(fake.sent_messages(STAFF))
        fake.push_message(STAFF, text, user_id=777, message_thread_id=thread)
        await until(lambda: len(fake.sent_messages(STAFF)) > count)
        return str(fake.sent_messages(STAFF)[-1]["text"])

    assert "Đã giao phản ánh" in await staff("/giao Nguyễn Văn Cường")
    assert ticket.code in await staff("/ds", thread=None)
    assert "Nguyễn Văn Cường" in await staff("/ds", thread=None)
    assert "Đã lưu mẫu" in await staff("/mau them camon Cảm ơn anh/chị đã phản ánh.")
    assert "camon" in await staff("/mau")
    count = len(ok_sends(fake, CITIZEN))
    assert "Đã gửi cho người dân" in await staff("/mau camon")
    await until(lambda: len(ok_sends(fake, CITIZEN)) > count)
    assert "Cảm ơn anh/chị đã phản ánh" in ok_sends(fake, CITIZEN)[-1]["text"]
    assert DESCRIPTION in await staff(f"/phananh {ticket.code}", thread=None)
    assert "Vui lòng ghi kết quả" in await staff("/dong")
    assert "Đã đóng" in await staff(f"/dong {ticket.code} Đã xử lý xong", thread=None)
    assert "không được gửi" in await staff("Tin nhắn sau khi đóng")
    assert "Đã mở lại" in await staff("/mo")


async def test_a_plain_group_uses_replies(database_url: str) -> None:
    async with FakeTelegram(limit_per_chat_per_s=None, limit_per_group_per_min=None) as fake:
        fake.add_chat(STAFF, "supergroup", title="Tổ phản ánh", is_forum=False)
        settings = make_settings(database_url, telegram_bot_token=TOKEN,
                                 telegram_api_base_url=fake.base_url,
                                 telegram_staff_chat_id=STAFF, telegram_rate_per_chat=20)
        svc = Service(settings)
        svc.staff_desk.interval = 0.05  # type: ignore[union-attr]
        async with svc:
            await telegram_ticket(fake)
            await until(lambda: any("PHẢN ÁNH" in (m.get("text") or "")
                                    for m in fake.sent_messages(STAFF)))
            assert not fake.calls_to("createForumTopic")
            card = next(m for m in fake.sent_messages(STAFF) if "PHẢN ÁNH" in m.get("text", ""))
            count = len(ok_sends(fake, CITIZEN))
            fake.push_message(STAFF, "Đã nhận, sẽ xử lý.", user_id=777,
                              reply_to_message_id=card["message_id"])
            await until(lambda: len(ok_sends(fake, CITIZEN)) > count)
            assert "Đã nhận, sẽ xử lý." in ok_sends(fake, CITIZEN)[-1]["text"]
            count = len(fake.sent_messages(STAFF))
            fake.push_message(STAFF, "Mọi người nhớ họp lúc 3 giờ", user_id=778)
            await asyncio.sleep(0.5)
            assert len(fake.sent_messages(STAFF)) == count  # chatter is not relayed


async def test_the_relay_reaches_a_web_chat_citizen(service: Service, fake: FakeTelegram
                                                    ) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{service.port}", cookie_jar=jar) as web:

        async def post(**body: str) -> list[dict]:
            async with web.post("/chat/api/messages", json=body) as response:
                return (await response.json())["messages"]  # type: ignore[no-any-return]

        await post(text="/phananh")
        await post(action="fb:cat:thu_tuc")
        await post(text=DESCRIPTION)
        await post(action="fb:next")
        await post(action="fb:anon")
        sent = await post(action="fb:send")
        assert "Em đã nhận phản ánh" in sent[0]["text"]
        await until(lambda: bool(fake.sent_messages(STAFF)))
        thread_id = fake.sent_messages(STAFF)[0]["message_thread_id"]
        assert "qua trang web" in fake.sent_messages(STAFF)[0]["text"]
        fake.push_message(STAFF, "Hồ sơ của anh/chị đã được chuyển xử lý.", user_id=777,
                          message_thread_id=thread_id)
        last = sent[-1]["id"]
        found: list[dict] = []

        async def poll() -> bool:
            async with web.get(f"/chat/api/messages?after={last}") as response:
                found.extend((await response.json())["messages"])
            return bool(found)

        deadline = asyncio.get_running_loop().time() + 15
        while not await poll():
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.1)
        assert "đã được chuyển xử lý" in found[0]["text"]
        assert "Trả lời cán bộ" in [b["label"] for row in found[0]["buttons"] for b in row]


async def test_deadline_reminders(service: Service, fake: FakeTelegram) -> None:
    await telegram_ticket(fake)
    await until(lambda: bool(fake.sent_messages(STAFF)))
    async with service.db.session() as session:
        ticket = (await session.scalars(select(tickets.Ticket))).one()
        ticket.due_at = service.clock() + timedelta(days=1)
    await until(lambda: any("Nhắc việc" in (m.get("text") or "")
                            for m in fake.sent_messages(STAFF)))
    async with service.db.session() as session:
        ticket = (await session.scalars(select(tickets.Ticket))).one()
        ticket.due_at = service.clock() - timedelta(hours=1)
    await until(lambda: any("QUÁ HẠN" in (m.get("text") or "") for m in fake.sent_messages(STAFF)))
    await asyncio.sleep(0.5)
    texts_ = [m.get("text") or "" for m in fake.sent_messages(STAFF)]
    assert sum("QUÁ HẠN" in t for t in texts_) == 1 and sum("Nhắc việc" in t for t in texts_) == 1


def test_without_a_staff_group_tickets_are_answered_from_the_command_line(
    database_url: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from bot.db.models import OutboxMessage
    from tests.test_console_and_cli import run_cli

    async def file_one() -> str:
        settings = make_settings(database_url)
        db = Database(settings.database_url)
        core = Core(settings, db, build_router(), services={"catalogue": bundled_index()})
        await file_ticket(Dialog(core, chat_id="w-citizen"))
        (ticket,) = await stored(core)
        await db.dispose()
        return ticket.code

    code = asyncio.run(file_one())
    env = {"DATABASE_URL": database_url}
    listing = run_cli(["tickets"], env, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert code in listing.stdout and "Hạ tầng, môi trường" in listing.stdout
    shown = run_cli(["tickets", "show", code], env, cwd=tmp_path)
    assert DESCRIPTION in shown.stdout
    replied = run_cli(["tickets", "reply", code, "Đã chuyển tổ điện xử lý."], env, cwd=tmp_path)
    assert "Đã gửi cho người dân" in replied.stdout
    closed = run_cli(["tickets", "close", code, "Đã thay bóng đèn."], env, cwd=tmp_path)
    assert "Đã đóng" in closed.stdout

    async def outbox() -> list[tuple[str, str, str]]:
        db = Database(database_url)
        async with db.session() as session:
            rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            result = [(r.channel, r.chat_id, r.payload["text"]) for r in rows]
        await db.dispose()
        return result

    rows = asyncio.run(outbox())
    assert [(channel, chat) for channel, chat, _ in rows] == [("web", "w-citizen")] * 2
    assert "Đã chuyển tổ điện xử lý." in rows[0][2] and "Đã thay bóng đèn." in rows[1][2]
