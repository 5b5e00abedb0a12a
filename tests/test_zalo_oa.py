"""Zalo Official Account: the signed webhook, events, rendering within Zalo's limits, the reply
window (reply quota, 7-day CS window, ZNS or "outside window"), token refresh, error mapping —
the whole service against the fake OA/OAuth/ZNS server over real HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import Service
from bot.channels.base import ChannelError
from bot.channels.zalo_oa import (
    ACTION_PREFIX,
    OUTSIDE_WINDOW,
    incoming_from_zalo_oa,
    signature_for,
    verify_webhook,
    zns_phone,
)
from bot.db import zalo as store
from bot.db.models import OutboxMessage, ProcessedUpdate
from bot.messages import Button, ChatRef, Outgoing
from bot.outbox import enqueue
from tests.conftest import make_settings
from tests.dialog import until
from tests.fakes.zalo_oa_api import FakeZaloOA, OACitizen, options, post, texts

APP, KEY = "4318226711234567890", "OASecretKey-abcdef"


# -- pure parts -------------------------------------------------------------------------------


def test_signature_is_sha256_of_app_id_body_timestamp_and_oa_secret_key() -> None:
    import hashlib

    body = b'{"app_id":"1","timestamp":"1700000000000","event_name":"follow"}'
    expected = "mac=" + hashlib.sha256(b"1" + body + b"1700000000000" + b"k").hexdigest()
    assert signature_for("1", body, "1700000000000", "k") == expected


def test_verify_accepts_only_fresh_exact_bytes_of_our_app() -> None:
    now = 1_700_000_000_000
    event = {"app_id": APP, "timestamp": str(now), "event_name": "user_send_text"}
    body = json.dumps(event).encode()
    good = signature_for(APP, body, str(now), KEY)
    assert verify_webhook(body, good, APP, KEY, now) == event
    assert verify_webhook(body, good, APP, KEY, now + 4 * 60_000) is not None
    assert verify_webhook(body, good, APP, KEY, now + 6 * 60_000) is None  # stale
    assert verify_webhook(body, good, APP, KEY, now - 6 * 60_000) is None  # from the future
    assert verify_webhook(body + b" ", good, APP, KEY, now) is None  # bytes changed
    assert verify_webhook(body, good.upper(), APP, KEY, now) is None
    assert verify_webhook(body, good, APP, "other key", now) is None
    other = json.dumps({**event, "app_id": "999"}).encode()
    assert verify_webhook(other, signature_for("999", other, str(now), KEY), APP, KEY,
                          now) is None
    assert verify_webhook(b"not json", "mac=00", APP, KEY, now) is None


def test_events_become_incoming() -> None:
    fake = FakeZaloOA()
    text = incoming_from_zalo_oa(fake.user_text("u1", "làm căn cước"))
    assert text is not None and text.text == "làm căn cước" and text.chat_id == "u1"
    assert text.update_key.startswith("zalo_oa:msg") and text.action is None
    press = incoming_from_zalo_oa(fake.press("u1", ACTION_PREFIX + "proc:1.014061"))
    assert press is not None and press.action == "proc:1.014061" and press.text == ""
    image = incoming_from_zalo_oa(fake.user_image("u1", "https://x/anh.jpg"))
    assert image is not None and image.attachments[0].kind == "photo"
    assert image.attachments[0].url == "https://x/anh.jpg"
    where = incoming_from_zalo_oa(fake.user_location("u1", 21.0285, 105.8542))
    assert where is not None and where.attachments[0].latitude == pytest.approx(21.0285)
    file = incoming_from_zalo_oa(fake.user_file("u1", "don.pdf"))
    assert file is not None and file.attachments[0].kind == "file"
    assert file.attachments[0].name == "don.pdf"
    follow = incoming_from_zalo_oa(fake.follow("u2"))
    assert follow is not None and follow.text == "/start" and follow.chat_id == "u2"
    assert incoming_from_zalo_oa(fake.follow("u2", "unfollow")) is None
    assert incoming_from_zalo_oa(fake.echo("u1", "Dạ")) is None
    with pytest.raises(ValueError):
        incoming_from_zalo_oa({"event_name": "user_send_text", "sender": {"id": "u1"}})
    with pytest.raises(ValueError):
        incoming_from_zalo_oa({"timestamp": "1"})


def test_zns_phone_numbers() -> None:
    assert zns_phone("0912 345 678") == "84912345678"
    assert zns_phone("+84912345678") == "84912345678"
    assert zns_phone("12345") is None and zns_phone(None) is None


# -- the service ------------------------------------------------------------------------------


@pytest.fixture
async def oa() -> AsyncIterator[FakeZaloOA]:
    async with FakeZaloOA() as fake:
        yield fake


@pytest.fixture
async def service(database_url: str, oa: FakeZaloOA) -> AsyncIterator[Service]:
    settings = make_settings(database_url, zalo_oa_rate_per_chat=50, **oa.settings())
    async with Service(settings) as svc:
        yield svc


def hook(service: Service) -> str:
    return f"http://127.0.0.1:{service.port}/webhook/zalo-oa"


def citizen(service: Service, oa: FakeZaloOA, user: str = "u1") -> OACitizen:
    assert service.zalo_oa is not None
    return OACitizen(oa, hook(service), user, service.zalo_oa.pump.drain)


async def count(service: Service, model: type = ProcessedUpdate) -> int:
    async with service.db.session() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_start_menu_numbered_and_a_number_presses(service: Service,
                                                        oa: FakeZaloOA) -> None:
    me = citizen(service, oa)
    (greeting,) = await me.say("/start")
    assert "em chào anh/chị" in greeting["text"] and "attachment" not in greeting
    assert [label for label, _ in options(greeting)][:2] == ["Tra cứu thủ tục", "Tra cứu hồ sơ"]
    assert len(options(greeting)) == 7  # more than 5: numbered, not buttons
    assert greeting["recipient"] == {"message_id": next(iter(oa.users["u1"].msg_ids))}
    (prompt,) = await me.choose("Tra cứu thủ tục")
    assert "cần làm thủ tục gì" in prompt["text"]
    buttons = prompt["attachment"]["payload"]["buttons"]  # two options: real buttons
    assert [b["title"] for b in buttons] == ["Xem theo lĩnh vực", "Về menu chính"]
    assert all(b["type"] == "oa.query.hide" and b["payload"].startswith(ACTION_PREFIX)
               for b in buttons)
    (fields,) = await me.choose("Xem theo lĩnh vực")
    assert "lĩnh vực" in fields["text"]


async def test_long_sections_are_split_at_2000_and_buttons_stay_within_limits(
        service: Service, oa: FakeZaloOA) -> None:
    assert service.zalo_oa is not None
    long_text = ("Giấy tờ cần chuẩn bị theo quy định hiện hành. " * 30 + "\n\n") * 5
    many = [[Button(f"Lựa chọn số {n} " + "rất dài " * 20, f"menu:{n}")] for n in range(4)]
    await service.zalo_oa.send(ChatRef("zalo_oa", "u9"),
                               Outgoing(long_text, buttons=[
                                   *many, [Button("x" * 300, "menu:" + "y" * 1200)]]))
    sent = oa.sent_to("u9")
    assert len(sent) >= 4 and all(len(m["text"]) <= 2000 for m in sent)
    assert "".join(m["text"] for m in sent).replace(" ", "").replace("\n", "") == \
        long_text.replace(" ", "").replace("\n", "")
    buttons = sent[-1]["attachment"]["payload"]["buttons"]
    assert len(buttons) == 5 and all(len(b["title"]) <= 100 for b in buttons)
    assert all(len(b["payload"]) <= 1000 for b in buttons)
    # the long action was stored; pressing it still works
    me = citizen(service, oa, "u9")
    (menu,) = await me.say(buttons[-1]["payload"])
    assert "Tra cứu thủ tục" in [label for label, _ in options(menu)]


async def test_webhook_refuses_missing_wrong_tampered_and_stale(service: Service,
                                                                oa: FakeZaloOA) -> None:
    url = hook(service)
    event = oa.user_text("u1", "/start")
    body, headers = oa.signed(event)
    assert await post(url, body, {"Content-Type": "application/json"}) == 401
    assert await post(url, body, {**headers, "X-ZEvent-Signature": "mac=" + "0" * 64}) == 403
    assert await post(url, body.replace(b"/start", b"/hoso!"), headers) == 403
    stale = oa.user_text("u1", "/start", timestamp=int(oa.clock() * 1000) - 6 * 60_000)
    assert await oa.deliver(url, stale) == 403
    assert await count(service) == 0 and await count(service, store.ZaloOAContact) == 0
    assert oa.sent_to("u1") == []
    assert await post(url, body, headers) == 200
    await service.zalo_oa.pump.drain()  # type: ignore[union-attr]
    assert len(oa.sent_to("u1")) == 1


async def test_duplicates_echoes_and_malformed_events(service: Service, oa: FakeZaloOA) -> None:
    url = hook(service)
    event = oa.user_text("u1", "/start")
    assert await oa.deliver(url, event) == 200
    assert await oa.deliver(url, event) == 200  # Zalo retried: handled once
    assert await oa.deliver(url, oa.echo("u1", "Dạ, xin chào")) == 200
    await service.zalo_oa.pump.drain()  # type: ignore[union-attr]
    assert len(oa.sent_to("u1")) == 1
    broken = {"app_id": oa.app_id, "timestamp": event["timestamp"],
              "event_name": "user_send_text", "sender": {"id": "u1"}}
    assert await oa.deliver(url, broken) == 200  # authenticated but malformed: acknowledged
    async with service.db.session() as session:
        statuses = sorted((await session.scalars(select(ProcessedUpdate.status))).all())
    assert statuses == ["handled", "rejected"]


async def test_follow_greets_and_unfollow_is_remembered(service: Service, oa: FakeZaloOA) -> None:
    me = citizen(service, oa, "u5")
    (greeting,) = await me.send(oa.follow("u5"))
    assert "em chào anh/chị" in greeting["text"] and greeting["recipient"] == {"user_id": "u5"}
    assert await me.send(oa.follow("u5", "unfollow")) == []
    async with service.db.session() as session:
        contact = await store.get_contact(session, "u5")
    assert contact is not None and contact.follower is False


async def test_photo_location_and_file_reach_the_handlers(service: Service,
                                                          oa: FakeZaloOA) -> None:
    me = citizen(service, oa, "u6")
    assert "ảnh" in texts(await me.photo())
    assert texts(await me.send(oa.user_location("u6", 21.0, 105.8)))
    assert texts(await me.send(oa.user_file("u6")))


async def test_profile_name_is_fetched_once_and_used(service: Service, oa: FakeZaloOA) -> None:
    oa.user("u7", display_name="Trần Thị Bình", phone="0988001122")
    me = citizen(service, oa, "u7")
    await me.say("chào")
    await until(lambda: bool(oa.calls_to("user_detail", ok=True)))
    await asyncio.sleep(0.1)
    assert "Trần Thị Bình" in texts(await me.say("/start"))
    async with service.db.session() as session:
        contact = await store.get_contact(session, "u7")
    assert contact is not None and contact.phone == "0988001122"
    assert len(oa.calls_to("user_detail")) == 1


# -- the reply window -------------------------------------------------------------------------


async def set_contact(service: Service, user: str, *, seen: timedelta, msg_id: str | None,
                      used: int = 0, phone: str | None = None) -> None:
    at = datetime.now(UTC) - seen
    async with service.db.session() as session:
        await store.record_interaction(session, user, at, msg_id=msg_id)
        contact = await store.get_contact(session, user)
        assert contact is not None
        contact.replies_used = used
        contact.phone = phone


async def test_eight_free_replies_then_customer_service_messages(service: Service,
                                                                 oa: FakeZaloOA) -> None:
    assert service.zalo_oa is not None
    me = citizen(service, oa, "u8")
    await me.say("/start")  # reply 1
    for n in range(8):
        await service.zalo_oa.send(ChatRef("zalo_oa", "u8"), Outgoing(f"Tin số {n}"))
    recipients = [m["recipient"] for m in oa.sent_to("u8")]
    assert all("message_id" in r for r in recipients[:8])
    assert recipients[8] == {"user_id": "u8"}
    async with service.db.session() as session:
        contact = await store.get_contact(session, "u8")
    assert contact is not None and contact.replies_used == 8
    await me.say("cảm ơn")  # writing again opens a new allowance
    assert "message_id" in oa.sent_to("u8")[-1]["recipient"]


async def test_three_days_after_a_cs_message_ten_days_after_outside(service: Service,
                                                                    oa: FakeZaloOA) -> None:
    assert service.zalo_oa is not None
    await set_contact(service, "u3", seen=timedelta(days=3), msg_id="old-msg")
    await service.zalo_oa.send(ChatRef("zalo_oa", "u3"), Outgoing("Thông báo"))
    assert oa.sent_to("u3")[-1]["recipient"] == {"user_id": "u3"}
    await set_contact(service, "u10", seen=timedelta(days=10), msg_id="old-msg-2")
    with pytest.raises(ChannelError) as failure:
        await service.zalo_oa.send(ChatRef("zalo_oa", "u10"), Outgoing("Thông báo"))
    assert failure.value.permanent and failure.value.reason == OUTSIDE_WINDOW
    assert oa.sent_to("u10") == []


async def test_zalo_window_errors_and_other_codes_are_mapped(service: Service,
                                                             oa: FakeZaloOA) -> None:
    assert service.zalo_oa is not None
    chat = ChatRef("zalo_oa", "u11")
    for code, permanent, retry in [(-32, False, 30.0), (-213, True, None), (-201, True, None),
                                   (-230, True, None), (-500, False, None)]:
        oa.fail_next("cs", code)
        with pytest.raises(ChannelError) as failure:
            await service.zalo_oa.send(chat, Outgoing("Xin chào"))
        assert failure.value.permanent is permanent, code
        assert failure.value.retry_after == retry, code
    oa.fail_next("cs", -232)
    with pytest.raises(ChannelError) as failure:
        await service.zalo_oa.send(chat, Outgoing("Xin chào"))
    assert failure.value.reason == OUTSIDE_WINDOW


async def followup_row(service: Service, user: str, purpose: str) -> int:
    async with service.db.session() as session:
        await enqueue(session, ChatRef("zalo_oa", user),
                      Outgoing("Chúc mừng anh/chị đã đăng ký kết hôn."),
                      key=f"followup:{user}:{purpose}", purpose=purpose)
        row_id = await session.scalar(select(OutboxMessage.id)
                                      .where(OutboxMessage.dedupe_key
                                             == f"followup:{user}:{purpose}"))
    assert row_id is not None
    for sender in service.senders:
        sender.notify()
    return row_id


async def final_row(service: Service, row_id: int) -> OutboxMessage:
    async def done() -> OutboxMessage | None:
        async with service.db.session() as session:
            row = await session.get(OutboxMessage, row_id)
        return row if row is not None and row.status in ("sent", "failed") else None

    deadline = asyncio.get_running_loop().time() + 10
    while (row := await done()) is None:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    return row


async def test_followup_ten_days_later_goes_as_zns_with_the_configured_template(
        database_url: str, oa: FakeZaloOA) -> None:
    templates = {"letter": {"template_id": "321654", "params": {
        "ten_khach_hang": "name", "noi_dung": "text", "ngay": "date",
        "don_vi": "=UBND xã An Bình"}}}
    settings = make_settings(database_url, zalo_zns_templates=json.dumps(templates),
                             **oa.settings())
    async with Service(settings) as service:
        await set_contact(service, "u20", seen=timedelta(days=10), msg_id="m-old",
                          phone="0912345678")
        async with service.db.session() as session:
            await store.store_profile(session, "u20", name="Lê Văn Cường", phone=None,
                                      follower=True, at=datetime.now(UTC))
        row = await final_row(service, await followup_row(service, "u20", "letter"))
        assert row.status == "sent" and (row.platform_message_id or "").startswith("zns:")
        (call,) = oa.calls_to("zns", ok=True)
        assert call.body["phone"] == "84912345678" and call.body["template_id"] == "321654"
        data = call.body["template_data"]
        assert data["ten_khach_hang"] == "Lê Văn Cường" and data["don_vi"] == "UBND xã An Bình"
        assert data["noi_dung"] == "Chúc mừng anh/chị đã đăng ký kết hôn."
        assert data["ngay"] == f"{datetime.now(settings.tz):%d/%m/%Y}"
        assert call.body["tracking_id"] == "followup:u20:letter"
        assert oa.sent_to("u20") == []  # no CS message was tried outside the window

        # the same kind of message without a template: failed, "outside window"
        await set_contact(service, "u21", seen=timedelta(days=10), msg_id="m-old-2",
                          phone="0912345679")
        row = await final_row(service, await followup_row(service, "u21", "survey"))
        assert (row.status, row.last_error) == ("failed", OUTSIDE_WINDOW)
        assert len(oa.calls_to("zns")) == 1


async def test_zns_dossier_status_reads_the_label_every_channel_reads(
        database_url: str, oa: FakeZaloOA) -> None:
    from bot.db import dossiers as repo
    from handlers.texts import text

    templates = {"dossier_status": {"template_id": "312345", "params": {
        "ma_ho_so": "dossier_code", "trang_thai": "dossier_status"}}}
    settings = make_settings(database_url, zalo_zns_templates=json.dumps(templates),
                             **oa.settings())
    async with Service(settings) as service:
        await set_contact(service, "u22", seen=timedelta(days=10), msg_id="m-old-3",
                          phone="0912345678")
        now = datetime.now(UTC)
        async with service.db.session() as session:
            dossier = (await repo.upsert_dossier(session, repo.DossierFields(
                code="HS-260105-0022", procedure_code="1.000894", procedure_name="Kết hôn",
                applicant_name="Lê Văn Cường", phone="0912345678", received_at=now,
                due_at=now + timedelta(days=3), status="delayed"), now)).dossier
            await enqueue(session, ChatRef("zalo_oa", "u22"), Outgoing("Hồ sơ đã hẹn lại"),
                          key="status:u22", purpose="dossier_status", ref=f"dossier:{dossier.id}")
            row_id = await session.scalar(select(OutboxMessage.id)
                                          .where(OutboxMessage.dedupe_key == "status:u22"))
        for sender in service.senders:
            sender.notify()
        assert row_id is not None
        row = await final_row(service, row_id)
        assert row.status == "sent"
        (call,) = oa.calls_to("zns", ok=True)
        label = call.body["template_data"]["trang_thai"]
        assert label == "Đang xử lý (đã hẹn lại ngày trả)"
        assert label == text("dossiers.status_label", status="delayed")


async def test_outside_window_ticket_replies_are_noted_for_staff(service: Service,
                                                                 oa: FakeZaloOA) -> None:
    from bot.db import feedback as tickets

    assert service.zalo_oa is not None
    await set_contact(service, "u30", seen=timedelta(days=9), msg_id="m30")
    async with service.db.session() as session:
        ticket = await tickets.add_ticket(session, tickets.Ticket(
            channel="zalo_oa", chat_id="u30", category="khac", description="Đường hỏng",
            due_at=datetime.now(UTC) + timedelta(days=10)), datetime.now(UTC))
        await enqueue(session, ChatRef("zalo_oa", "u30"), Outgoing("Cán bộ đã trả lời"),
                      key="ticket-reply:x", purpose="ticket_reply", ref=f"ticket:{ticket.id}")
    for sender in service.senders:
        sender.notify()
    async with service.db.session() as session:
        row_id = await session.scalar(select(OutboxMessage.id))
    assert row_id is not None
    row = await final_row(service, row_id)
    assert row.last_error == OUTSIDE_WINDOW
    async with service.db.session() as session:
        notes = [m.text for m in await tickets.find_messages(session, ticket.id)]
    assert any("Zalo chỉ cho phép trả lời trong khoảng đó" in note and "ZNS" not in note
               and ticket.code in note for note in notes)


# -- tokens -----------------------------------------------------------------------------------


async def test_expired_token_is_refreshed_once_and_the_call_repeated(service: Service,
                                                                     oa: FakeZaloOA) -> None:
    me = citizen(service, oa)
    await me.say("/start")
    # The first contact also fetches the profile in the background; under load that call
    # could otherwise meet the expired token first and do the refresh this test watches.
    await oa.wait_for("user_detail")
    assert len(oa.calls_to("oauth", ok=True)) == 1
    oa.expire_access_tokens()
    (reply,) = await me.say("cảm ơn")
    assert reply["text"]
    assert len(oa.calls_to("oauth", ok=True)) == 2
    assert [c.error for c in oa.calls if c.kind == "cs"] == [0, -220, 0]
    async with service.db.session() as session:
        row = await store.get_token(session)
    assert row is not None and row.refresh_token == oa.refresh_token  # the rotated one


async def test_token_is_refreshed_ahead_of_expiry(service: Service, oa: FakeZaloOA) -> None:
    assert service.zalo_oa is not None
    tokens = service.zalo_oa.tokens
    first = await tokens.access_token()
    assert await tokens.access_token() == first  # fresh: no call
    async with service.db.session() as session:
        row = await store.get_token(session)
        assert row is not None
        row.expires_at = datetime.now(UTC) + timedelta(seconds=(row.lifetime_seconds or 0) * 0.1)
    tokens.forget()  # as another process would see it (this one keeps its copy in memory)
    second = await tokens.access_token()
    assert second != first and len(oa.calls_to("oauth", ok=True)) == 2


async def test_a_failed_refresh_is_logged_and_announced_in_the_staff_group(
        database_url: str, oa: FakeZaloOA, caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(database_url, telegram_staff_chat_id=-100999,
                             telegram_bot_token="1:fake", **oa.settings())
    service = Service(settings, start_senders=False)  # nothing to Telegram in this test
    assert service.zalo_oa is not None
    oa.used_refresh_tokens.add(oa.refresh_token)  # the configured one was already used
    with caplog.at_level(logging.ERROR), pytest.raises(ChannelError) as failure:
        await service.zalo_oa.send(ChatRef("zalo_oa", "u1"), Outgoing("Xin chào"))
    assert not failure.value.permanent and "access token" in failure.value.reason
    assert any("refresh failed" in r.getMessage() for r in caplog.records)
    assert oa.refresh_token not in caplog.text
    async with service.db.session() as session:
        (alert,) = (await session.scalars(select(OutboxMessage))).all()
        token = await store.get_token(session)
    assert (alert.channel, alert.chat_id) == ("telegram", "-100999")
    assert "Zalo OA" in alert.payload["text"] and "ZALO_OA_REFRESH_TOKEN" in alert.payload["text"]
    # staff read Vietnamese: the cause, not the OAuth reason nor "access token"
    assert "Zalo từ chối yêu cầu gia hạn" in alert.payload["text"]
    for english in ("access token", "OAuth", "refused", "HTTP"):
        assert english not in alert.payload["text"], english
    assert token is not None and token.failures == 1
    await service.zalo_oa.stop()
    await service.db.dispose()


async def test_two_processes_refreshing_at_once_make_one_refresh_call(
        database_url: str) -> None:
    async with FakeZaloOA(refresh_delay=0.3) as oa:
        settings = make_settings(database_url, **oa.settings())
        first, second = Service(settings), Service(settings)
        try:
            await first.start()
            await second.start()
            assert first.zalo_oa is not None and second.zalo_oa is not None
            tokens = await asyncio.gather(first.zalo_oa.tokens.access_token(),
                                          second.zalo_oa.tokens.access_token(),
                                          first.zalo_oa.tokens.access_token(),
                                          second.zalo_oa.tokens.access_token())
            assert len(set(tokens)) == 1
            assert len(oa.calls_to("oauth")) == 1
            for n, svc in enumerate((first, second)):
                await svc.zalo_oa.send(ChatRef("zalo_oa", f"p{n}"),  # type: ignore[union-attr]
                                       Outgoing("Xin chào"))
            assert len(oa.calls_to("cs", ok=True)) == 2
            # Zalo refuses the token in both at once: still one refresh
            oa.expire_access_tokens()
            await asyncio.gather(*(svc.zalo_oa.send(ChatRef("zalo_oa", "p9"),  # type: ignore
                                                    Outgoing("Lần hai"))
                                   for svc in (first, second)))
            assert len(oa.calls_to("oauth")) == 2 and not oa.calls_to("oauth", ok=False)
        finally:
            await first.stop()
            await second.stop()


# -- forged webhooks --------------------------------------------------------------------------


async def test_a_thousand_forged_among_a_thousand_valid(service: Service, oa: FakeZaloOA) -> None:
    url = hook(service)
    now = int(oa.clock() * 1000)
    requests: list[tuple[bytes, dict[str, str], bool]] = []
    for n in range(1000):
        event = oa.event("user_send_sticker", f"v{n % 50}", {"attachments": [
            {"type": "sticker", "payload": {"id": "s", "url": "https://x/s.png"}}]})
        body, headers = oa.signed(event)
        requests.append((body, headers, True))
        forged = oa.event("user_send_text", f"f{n % 50}", {"text": f"giả mạo {n}"})
        body, headers = oa.signed(forged)
        kind = n % 4
        if kind == 0:
            headers = {"Content-Type": "application/json"}
        elif kind == 1:
            headers = {**headers, "X-ZEvent-Signature": oa.signed(forged, secret_key="guess")[1][
                "X-ZEvent-Signature"]}
        elif kind == 2:
            body = body.replace("giả mạo".encode(), "GIẢ MẠO".encode())
        else:
            forged["timestamp"] = str(now - 10 * 60_000)
            body, headers = oa.signed(forged)
        requests.append((body, headers, False))
    statuses: list[tuple[int, bool]] = []
    gate = asyncio.Semaphore(32)
    async with aiohttp.ClientSession() as http:

        async def one(body: bytes, headers: dict[str, str], valid: bool) -> None:
            async with gate:
                statuses.append((await post(url, body, headers, http), valid))

        await asyncio.gather(*(one(*r) for r in requests))
    assert all(status == 200 for status, valid in statuses if valid)
    assert all(status in (401, 403) for status, valid in statuses if not valid)
    assert sum(1 for status, valid in statuses if valid and status == 200) == 1000
    await service.zalo_oa.pump.drain()  # type: ignore[union-attr]
    async with service.db.session() as session:
        keys = (await session.scalars(select(ProcessedUpdate.key))).all()
        users = (await session.scalars(select(store.ZaloOAContact.user_id))).all()
    assert len(keys) == 1000 and all(not u.startswith("f") for u in users)
    assert not any(user.startswith("f") for user, _ in oa._sent)


async def test_images_by_url_or_upload_and_files_by_upload(service: Service,
                                                           oa: FakeZaloOA) -> None:
    from bot.messages import Attachment

    assert service.zalo_oa is not None
    chat = ChatRef("zalo_oa", "u40")
    await service.zalo_oa.send(chat, Outgoing("Ảnh", photo=Attachment("photo",
                                                                      url="https://x/a.jpg")))
    image, caption = oa.sent_to("u40")
    element = image["attachment"]["payload"]["elements"][0]
    assert image["attachment"]["payload"]["template_type"] == "media"
    assert element == {"media_type": "image", "url": "https://x/a.jpg"}
    assert caption["text"] == "Ảnh"
    uploaded = await service.zalo_oa.upload_image(b"\xff\xd8\xff fake jpeg", "anh.jpg")
    await service.zalo_oa.send(chat, Outgoing("", photo=uploaded))
    element = oa.sent_to("u40")[-1]["attachment"]["payload"]["elements"][0]
    assert element == {"media_type": "image", "attachment_id": uploaded.file_id}
    url = oa.add_file("mau-to-khai.pdf", b"%PDF-1.4 fake")
    await service.zalo_oa.send(chat, Outgoing("Mẫu tờ khai", document=Attachment(
        "file", url=url, name="mau-to-khai.pdf")))
    (upload,) = oa.calls_to("upload_file", ok=True)
    assert upload.body["file"] == "mau-to-khai.pdf"
    file_message = oa.sent_to("u40")[-2]
    assert file_message["attachment"]["type"] == "file"
    assert file_message["attachment"]["payload"]["token"] in oa.uploads
    # a file made here (a printable letter) is uploaded from its bytes
    await service.zalo_oa.send(chat, Outgoing("Thư chúc mừng", document=Attachment(
        "file", name="thu-chuc-mung.pdf", data=b"%PDF-1.4 letter")))
    upload = oa.calls_to("upload_file", ok=True)[-1]
    assert upload.body["file"] == "thu-chuc-mung.pdf"
    letter, caption = oa.sent_to("u40")[-2:]
    assert letter["attachment"]["payload"]["token"] in oa.uploads
    assert caption["text"] == "Thư chúc mừng"
