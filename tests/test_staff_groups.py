"""Commune staff groups (TELEGRAM_STAFF_CHATS) and `motcua tickets --commune/--as`: staff of
commune A cannot see, answer or count a ticket of commune B — in Telegram or on the command
line — and a reply in either desk (web or the commune's group) shows in both.

The real service and PTB against the fake Bot API on 127.0.0.1, a real database. Communes:
4543 (Phường Âu Lâu) and 4465 share group A; 4456 has group B; 4492 has no group of its own,
so its tickets, like those without a commune, go to the province-wide group."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import Service
from bot.db import feedback as tickets
from bot.desk import accounts
from bot.staffscope import Scope, of_group
from tests.conftest import make_settings
from tests.dialog import until
from tests.fakes.telegram_api import FakeTelegram
from tests.test_desk import PASSWORD, START, form_token, signed_in
from tests.test_feedback import TOKEN

PROVINCE, GROUP_A, GROUP_B = -1001000001, -1001004543, -1001004456
STAFF_CHATS = f"4543:{GROUP_A}, 4465:{GROUP_A}, 4456:{GROUP_B}"
COMMUNES = {"a": "4543", "a2": "4465", "b": "4456", "elsewhere": "4492", "unknown": None}
HOME = {"a": GROUP_A, "a2": GROUP_A, "b": GROUP_B, "elsewhere": PROVINCE, "unknown": PROVINCE}


def test_the_setting_maps_communes_to_groups() -> None:
    settings = make_settings("sqlite+aiosqlite:///unused.db", telegram_staff_chats=STAFF_CHATS,
                             telegram_staff_chat_id=PROVINCE)
    assert settings.staff_chat_ids == {PROVINCE, GROUP_A, GROUP_B}
    assert [settings.staff_chat_for(c) for c in COMMUNES.values()] == list(HOME.values())
    assert of_group(GROUP_A, settings) == Scope(frozenset({"4543", "4465"}))
    province = of_group(PROVINCE, settings)
    assert [province.serves(c) for c in COMMUNES.values()] == [False, False, False, True, True]
    alone = make_settings("sqlite+aiosqlite:///unused.db", telegram_staff_chat_id=PROVINCE)
    assert of_group(PROVINCE, alone).everything  # no commune groups: the one group sees all
    for bad in ("4543", "4543:abc", "4543:-1001,4543:-1002", "x y:-100"):
        with pytest.raises(ValueError, match="TELEGRAM_STAFF_CHATS|staff group"):
            make_settings("sqlite+aiosqlite:///unused.db", telegram_staff_chats=bad)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(limit_per_chat_per_s=None, limit_per_group_per_min=None) as api:
        for chat, title in ((PROVINCE, "Tổ phản ánh tỉnh"), (GROUP_A, "Tổ một cửa Âu Lâu"),
                            (GROUP_B, "Tổ một cửa Mù Cang Chải")):
            api.add_chat(chat, "supergroup", title=title, is_forum=True)
        yield api


@pytest.fixture
async def service(database_url: str, fake: FakeTelegram) -> AsyncIterator[Service]:
    settings = make_settings(database_url, telegram_bot_token=TOKEN,
                             telegram_api_base_url=fake.base_url,
                             telegram_staff_chat_id=PROVINCE, telegram_staff_chats=STAFF_CHATS,
                             telegram_rate_per_chat=50, telegram_rate_per_group_minute=6000)
    svc = Service(settings)
    assert svc.staff_desk is not None
    svc.staff_desk.interval = 0.05
    async with svc:
        async with svc.db.session() as session:
            await accounts.add_account(session, "canbo_a", "officer", ["4543"], PASSWORD, START)
        yield svc


async def file_tickets(service: Service) -> dict[str, str]:
    """One ticket per commune of COMMUNES (a citizen of the web chat each); their codes."""
    codes = {}
    async with service.db.session() as session:
        for name, commune in COMMUNES.items():
            ticket = tickets.Ticket(channel="web", chat_id=f"w-{name}", category="ha_tang",
                                    description=f"Đèn đường hỏng ở khu {name}, nhờ thay giúp",
                                    commune_code=commune, status=tickets.OPEN,
                                    created_at=START, due_at=START + timedelta(days=30))
            await tickets.add_ticket(session, ticket, START)
            await tickets.add_message(session, ticket, "citizen", ticket.description, now=START)
            codes[name] = ticket.code
    return codes


def texts_in(fake: FakeTelegram, chat: int) -> str:
    return "\n".join(m.get("text") or "" for m in fake.sent_messages(chat))


async def staff_says(fake: FakeTelegram, chat: int, words: str,
                     thread: int | None = None) -> str:
    """A staff member writes in a group; the bot's answer there."""
    count = len(fake.sent_messages(chat))
    fake.push_message(chat, words, user_id=777, first_name="Cán bộ", message_thread_id=thread)
    await until(lambda: len(fake.sent_messages(chat)) > count)
    return "\n".join(m.get("text") or m.get("caption") or ""
                     for m in fake.sent_messages(chat)[count:])


async def test_each_group_sees_answers_and_counts_only_its_communes(
        service: Service, fake: FakeTelegram) -> None:
    codes = await file_tickets(service)
    await until(lambda: all(code in texts_in(fake, HOME[name]) for name, code in codes.items()))
    for name, code in codes.items():  # each ticket is put in its own group, and only there
        assert [chat for chat in (PROVINCE, GROUP_A, GROUP_B)
                if code in texts_in(fake, chat)] == [HOME[name]], name

    listing = {chat: await staff_says(fake, chat, "/ds") for chat in (PROVINCE, GROUP_A, GROUP_B)}
    for name, code in codes.items():
        assert [chat for chat, text in listing.items() if code in text] == [HOME[name]], name

    # group A names B's ticket: not shown, not answered, not closed, not assigned
    b = codes["b"]
    for command in (f"/phananh {b}", f"/traloi {b} Trả lời nhầm xã",
                    f"/dong {b} Đóng nhầm xã", f"/giao {b} Cán bộ A"):
        answer = await staff_says(fake, GROUP_A, command)
        assert "thuộc xã, phường khác" in answer and "Đèn đường" not in answer, command
    async with service.db.session() as session:
        ticket = await tickets.get_ticket(session, b)
        assert ticket is not None
        assert (ticket.status, ticket.assigned_to) == (tickets.OPEN, None)
        assert len(await tickets.find_messages(session, ticket.id, notes=True)) == 1

    # nor a dossier of commune B
    from bot.db import dossiers as dossier_repo

    async with service.db.session() as session:
        await dossier_repo.upsert_dossier(session, dossier_repo.DossierFields(
            code="000.00.15.H37-261202-0009", procedure_code="1.000894",
            procedure_name="Đăng ký kết hôn", applicant_name="Lò Văn Pằng",
            phone="0912345678", received_at=START, due_at=START + timedelta(days=3),
            commune_code="4456"), START)
    refused = await staff_says(fake, GROUP_A, "/hoso 000.00.15.H37-261202-0009")
    assert "thuộc xã, phường khác" in refused and "kết hôn" not in refused
    assert "kết hôn" in await staff_says(fake, GROUP_B, "/hoso 000.00.15.H37-261202-0009")

    # a topic id of group A typed in group B is not A's ticket (topic ids repeat per group)
    topic_a = next(m["message_thread_id"] for m in fake.sent_messages(GROUP_A)
                   if codes["a"] in (m.get("text") or ""))
    fake.push_message(GROUP_B, "Tin của tổ B trong chủ đề cùng số", user_id=778,
                      message_thread_id=topic_a)
    # group A answers its own ticket in its topic: the citizen gets it
    assert "Đã gửi cho người dân" in await staff_says(
        fake, GROUP_A, "Tổ điện phường sẽ thay bóng trong tuần.", thread=topic_a)
    async with service.db.session() as session:
        ticket = await tickets.get_ticket(session, codes["a"])
        assert ticket is not None
        said = [m.text for m in await tickets.find_messages(session, ticket.id)]
    assert said[1:] == ["Tổ điện phường sẽ thay bóng trong tuần."]

    # /thongke counts each group's own open tickets
    counted = {chat: await staff_says(fake, chat, "/thongke")
               for chat in (PROVINCE, GROUP_A, GROUP_B)}
    assert "Phản ánh đang mở: 2" in counted[GROUP_A]
    assert "Phản ánh đang mở: 1" in counted[GROUP_B]
    assert "Phản ánh đang mở: 2" in counted[PROVINCE]


async def test_a_reply_on_the_web_desk_shows_in_the_communes_group(
        service: Service, fake: FakeTelegram) -> None:
    codes = await file_tickets(service)
    await until(lambda: codes["a"] in texts_in(fake, GROUP_A))
    async with await signed_in(service, "canbo_a") as http:
        async with http.get(f"/staff/tickets/{codes['b']}") as response:
            assert response.status == 403
        csrf = await form_token(http, f"/staff/tickets/{codes['a']}")
        async with http.post(f"/staff/tickets/{codes['a']}/reply", data={
                "csrf_token": csrf, "text": "Chiều nay thợ sẽ đến thay bóng."}) as response:
            assert response.status == 200
    await until(lambda: "Chiều nay thợ sẽ đến" in texts_in(fake, GROUP_A))
    assert "canbo_a đã trả lời trên bàn làm việc web" in texts_in(fake, GROUP_A)
    assert "Chiều nay thợ" not in texts_in(fake, GROUP_B) + texts_in(fake, PROVINCE)


# -- `motcua tickets --commune / --as` --------------------------------------------------------


async def test_the_command_line_keeps_to_the_communes_it_is_given(database_url: str,
                                                                  tmp_path: Any) -> None:
    from tests.test_console_and_cli import run_cli

    async with Service(make_settings(database_url)) as service:
        codes = await file_tickets(service)
        async with service.db.session() as session:
            await accounts.add_account(session, "canbo_b", "officer", ["4456"], PASSWORD, START)
    env = {"DATABASE_URL": database_url}

    def cli(*args: str) -> Any:
        return run_cli(["tickets", *args], env, cwd=tmp_path)

    # one after the other, as an operator types them (the command line is one chat, "staff-cli")
    listings = [await asyncio.to_thread(cli, *args) for args in (
        ("--commune", "4543", "--commune", "4465"), ("list", "--as", "canbo_b"), ("list",))]
    assert all(done.returncode == 0 for done in listings), [d.stderr for d in listings]
    seen = [{name for name, code in codes.items() if code in done.stdout} for done in listings]
    assert seen == [{"a", "a2"}, {"b"}, set(codes)], [(d.stdout, d.stderr) for d in listings]

    b = codes["b"]
    refused = [await asyncio.to_thread(cli, *args) for args in (
        ("show", b, "--commune", "4543"), ("reply", b, "Trả lời nhầm xã", "--commune", "4543"),
        ("close", b, "Đóng nhầm xã", "--as", "canbo_b", "--commune", "4543"))]
    assert "thuộc xã, phường khác" in refused[0].stdout + refused[1].stdout
    assert "Đèn đường" not in refused[0].stdout
    assert refused[2].returncode == 2 and "not both" in refused[2].stderr
    nobody = await asyncio.to_thread(cli, "--as", "khong_co_ai")
    assert nobody.returncode == 2 and "no active account" in nobody.stderr

    answered = await asyncio.to_thread(cli, "reply", b, "Đã chuyển tổ điện.", "--as", "canbo_b")
    assert "Đã gửi cho người dân" in answered.stdout
    async with Service(make_settings(database_url)) as service:
        async with service.db.session() as session:
            ticket = await tickets.get_ticket(session, b)
            assert ticket is not None
            messages = await tickets.find_messages(session, ticket.id)
            assert [(m.text, m.author_name) for m in messages[1:]] == [
                ("Đã chuyển tổ điện.", "canbo_b")]
            untouched = await session.scalars(select(tickets.TicketMessage).where(
                tickets.TicketMessage.ticket_id != ticket.id))
            assert {m.author for m in untouched} == {"citizen"}
