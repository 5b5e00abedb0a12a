"""`parse_update` reads a Bot API update straight from its JSON (bot/channels/telegram.py); it
must read what python-telegram-bot reads from the same update. The updates are the fake Bot
API's (as Telegram sends them), and PTB's own `Update.de_json` is the reference."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Bot, Message, Update

from bot.channels.telegram import parse_update
from tests.fakes.telegram_api import FakeTelegram

STAFF = -1001
PTB = Bot("123:parse")


def updates(fake: FakeTelegram) -> list[dict[str, Any]]:
    """One of each kind the bot reads, and a few it does not act on."""
    out = [
        fake.push_message(101, "làm giấy khai sinh", first_name="An", last_name="Nguyễn"),
        fake.push_message(102, "/start"),
        fake.push_message(103, "ảnh hồ sơ", photo=True),
        fake.push_message(104, "bản scan", document="don.pdf"),
        fake.push_message(105, sticker=True),
        fake.push_message(106, location=(21.03, 105.85)),
        fake.push_message(-1002, "trong nhóm", user_id=9),
        fake.push_message(STAFF, "trả lời", user_id=8, is_forum=True, message_thread_id=77),
        fake.push_message(STAFF, "/dong", user_id=8),
        fake.push_callback(107, "proc:1.0001"),
        fake.push_callback(STAFF, "fb:show:3", user_id=8),
        fake.push_update({"edited_message": {"message_id": 5, "date": 1_700_000_000,
                                             "chat": {"id": 108, "type": "private"},
                                             "text": "sửa"}}),
        fake.push_update({"my_chat_member": {"chat": {"id": 109, "type": "private"}}}),
        fake.push_update({"message": {"message_id": 6, "date": 1_700_000_000,
                                      "chat": {"id": -1003, "type": "channel"},
                                      "text": "bài của kênh"}}),
    ]
    replied = fake.push_message(110, "câu hỏi")
    out += [replied, fake.push_message(110, "trả lời", reply_to_message_id=
                                       replied["message"]["message_id"])]
    return out


def expected(data: dict[str, Any]) -> dict[str, Any] | None:
    """What PTB reads from the update, in the fields `Incoming` keeps."""
    update = Update.de_json(data, PTB)
    query = update.callback_query
    if query is not None:
        message = query.message if isinstance(query.message, Message) else None
        chat_id = message.chat.id if message else query.from_user.id
        return {"chat_id": str(chat_id), "user_id": str(query.from_user.id),
                "action": query.data, "display_name": query.from_user.full_name,
                "message_id": str(message.message_id) if message else None,
                "is_staff_chat": chat_id == STAFF,
                "is_group": bool(message and message.chat.type in ("group", "supergroup"))}
    message = update.message
    if message is None or message.from_user is None:
        return None
    files = [p.file_id for p in (message.photo[-1:] if message.photo else ())]
    files += [m.file_id for m in (message.document, message.sticker) if m]
    return {"chat_id": str(message.chat.id), "user_id": str(message.from_user.id),
            "text": message.text or message.caption or "",
            "display_name": message.from_user.full_name, "message_id": str(message.message_id),
            "at": message.date, "is_staff_chat": message.chat.id == STAFF,
            "is_group": message.chat.type in ("group", "supergroup"),
            "thread_id": str(message.message_thread_id) if message.is_topic_message else None,
            "reply_to": str(message.reply_to_message.message_id)
            if message.reply_to_message else None,
            "files": files,
            "location": (message.location.latitude, message.location.longitude)
            if message.location else None}


def read(data: dict[str, Any]) -> dict[str, Any] | None:
    incoming = parse_update(data, staff_chats={STAFF}).incoming
    if incoming is None:
        return None
    got = {key: getattr(incoming, key) for key in ("chat_id", "user_id", "display_name",
                                                   "message_id", "is_staff_chat", "is_group")}
    if incoming.action is not None:
        return {**got, "action": incoming.action}
    location = next(((a.latitude, a.longitude) for a in incoming.attachments
                     if a.kind == "location"), None)
    return {**got, "text": incoming.text, "at": incoming.at, "thread_id": incoming.thread_id,
            "reply_to": incoming.reply_to, "location": location,
            "files": [a.file_id for a in incoming.attachments if a.file_id]}


async def test_every_kind_of_update_is_read_as_ptb_reads_it() -> None:
    async with FakeTelegram() as fake:
        for data in updates(fake):
            assert read(data) == expected(data), data


@pytest.mark.parametrize("data", [
    {"update_id": 1, "message": {"message_id": "7", "date": 1, "chat": {"id": 1}}},
    {"update_id": 2, "message": {"message_id": 7, "date": 1, "chat": {"id": "1"}}},
    {"update_id": 3, "message": {"message_id": 7, "date": 10**20, "chat": {"id": 1}}},
    {"update_id": 4, "message": {"message_id": 7, "date": 1, "chat": {"id": 1},
                                 "from": {"id": True}}},
    {"update_id": 5, "callback_query": {"id": "1", "from": {"id": 1}, "message": []}},
    {"update_id": "6", "message": None},
])
def test_a_malformed_update_is_refused(data: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError, KeyError, AttributeError)):
        parse_update(data)
