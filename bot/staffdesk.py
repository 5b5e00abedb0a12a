"""The staff desk: keeps the Telegram staff groups in step with the tickets in the database.

A ticket goes to the staff group of its commune (TELEGRAM_STAFF_CHATS), else to the
province-wide one (TELEGRAM_STAFF_CHAT_ID); the group it went to is kept with the ticket
(`staff_chat_id`), and everything about the ticket follows it there. A ticket no group serves
(its commune has none and there is no province-wide group) stays on the web desk and the
command line. Every few seconds, in the process that holds the Telegram sender role, it
- opens new tickets in their staff group: a forum topic per ticket when the group is a forum
  (createForumTopic), the ticket card and the citizen's photos (through the outbox);
- relays citizen messages and notes written since (rows of `ticket_messages` not relayed);
- posts deadline reminders: some working days before the reply deadline, and when it passes.
The database is the truth; a failed Telegram call is simply tried again on the next round.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import ChannelError
from bot.channels.telegram import TelegramChannel
from bot.channels.web import get_photo
from bot.config import Settings
from bot.db import feedback as tickets
from bot.db.session import Database
from bot.messages import Attachment, ChatRef, Outgoing
from bot.outbox import PacedSender, enqueue
from handlers.staff import card
from handlers.texts import text
from scheduler.quiet import default_calendar, local_date, working_days_left

log = logging.getLogger(__name__)


def staff_photo(item: dict[str, Any]) -> Attachment | None:
    """A citizen's photo as the staff group can receive it: a Telegram file id, or for other
    channels (Zalo) its URL, which Telegram's sendPhoto fetches."""
    if item.get("file_id") and item.get("channel") == "telegram":
        return Attachment("photo", file_id=item["file_id"])
    url = item.get("url")
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        return Attachment("photo", url=url)
    return None


async def staff_photo_in(session: AsyncSession, item: dict[str, Any]) -> Attachment | None:
    """`staff_photo`, and for a web-chat photo its stored bytes, uploaded to the group."""
    if item.get("channel") == "web":
        photo = await get_photo(session, item.get("file_id"))
        return Attachment("photo", data=photo.data, name="anh") if photo is not None else None
    return staff_photo(item)


def relayed_text(message: tickets.TicketMessage, ticket: tickets.Ticket) -> str:
    """A ticket message as the staff group reads it: the bot's notes as they are, the
    citizen's quoted, and what was written on the web desk (replies, internal notes) signed."""
    if not message.text:
        return ""
    if message.author == "system":
        return message.text
    if message.author == "staff":
        return text("desk.staff_reply", code=ticket.code, name=message.author_name,
                    text=message.text)
    if message.author == tickets.NOTE:
        return text("desk.note", code=ticket.code, name=message.author_name, text=message.text)
    return text("feedback.citizen_message", code=ticket.code, text=message.text)


class StaffDesk:
    def __init__(self, settings: Settings, db: Database, telegram: TelegramChannel,
                 sender: PacedSender, clock: Callable[[], datetime], interval: float = 2.0):
        assert settings.staff_chat_ids
        self.settings = settings
        self.db = db
        self.telegram = telegram
        self.sender = sender
        self.clock = clock
        self.interval = interval
        self.forum: dict[int, bool] = {}
        """Whether each staff group is a forum (asked once per group)."""
        self.stopping = asyncio.Event()

    def staff_chat(self, ticket: tickets.Ticket) -> ChatRef:
        """Where the ticket's messages go: the group it was put in, with its topic (before
        groups were recorded: the province-wide one)."""
        chat = ticket.staff_chat_id or self.settings.telegram_staff_chat_id
        return ChatRef("telegram", str(chat), ticket.staff_thread_id)

    def placed(self, ticket: tickets.Ticket) -> bool:
        return ticket.staff_ready and bool(ticket.staff_chat_id
                                           or self.settings.telegram_staff_chat_id)

    async def is_forum(self, chat_id: int) -> bool | None:
        if chat_id not in self.forum:
            try:
                self.forum[chat_id] = await self.telegram.is_forum(chat_id)
            except ChannelError as error:
                log.warning("staff desk: cannot read the staff group %s yet: %s", chat_id,
                            error.reason)
                return None
        return self.forum[chat_id]

    async def run(self) -> None:
        while not self.stopping.is_set():
            if self.sender.is_leader:
                try:
                    if await self.sync():
                        self.sender.notify()
                except Exception:  # noqa: BLE001 - keep the desk alive; retried next round
                    log.exception("staff desk: round failed")
            try:
                await asyncio.wait_for(self.stopping.wait(), self.interval)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        self.stopping.set()

    async def sync(self) -> int:
        """One round; returns how many messages it queued."""
        queued = await self._open_new_tickets()
        queued += await self._relay_messages()
        queued += await self._remind()
        return queued

    def _placeable(self) -> Any:
        """Tickets some staff group serves."""
        if self.settings.telegram_staff_chat_id is not None:
            return true()
        return tickets.Ticket.commune_code.in_(sorted(self.settings.commune_staff_chats))

    async def _open_new_tickets(self) -> int:
        queued = 0
        async with self.db.session() as session:
            new = list(await session.scalars(
                select(tickets.Ticket).where(tickets.Ticket.staff_ready.is_(False),
                                             self._placeable())
                .order_by(tickets.Ticket.id).limit(20)))
        for ticket in new:
            chat_id = ticket.staff_chat_id or self.settings.staff_chat_for(ticket.commune_code)
            assert chat_id is not None
            forum = await self.is_forum(int(chat_id))
            if forum is None:
                continue
            if forum and ticket.staff_thread_id is None:
                title = text("feedback.topic_title", t=ticket,
                             category=tickets.CATEGORIES.get(ticket.category, ""))
                try:
                    thread = await self.telegram.create_topic(int(chat_id), title)
                except ChannelError as error:
                    log.warning("staff desk: topic for %s not created: %s", ticket.code,
                                error.reason)
                    continue
                async with self.db.session() as session:
                    row = await session.get(tickets.Ticket, ticket.id)
                    assert row is not None
                    row.staff_chat_id, row.staff_thread_id = str(chat_id), thread
                ticket.staff_thread_id = thread
            async with self.db.session() as session:
                row = await session.get(tickets.Ticket, ticket.id)
                assert row is not None
                row.staff_chat_id = str(chat_id)
                first = (await tickets.find_messages(session, ticket.id))[:1]
                chat = self.staff_chat(row)
                ref = f"ticket:{row.id}"
                await enqueue(session, chat, card(row, threaded=bool(row.staff_thread_id),
                                                  timezone=self.settings.timezone),
                              key=f"{ref}:card", purpose="ticket_card", ref=ref)
                photos = [a for a in [await staff_photo_in(session, p) for m in first
                                      for p in m.attachments] if a is not None]
                for index, photo in enumerate(photos):
                    await enqueue(session, chat, Outgoing(row.code, photo=photo),
                                  key=f"{ref}:photo:{index}", purpose="ticket_card", ref=ref)
                row.staff_ready = True
                queued += 1 + len(photos)
        return queued

    async def _relay_messages(self) -> int:
        queued = 0
        async with self.db.session() as session:
            rows = list(await session.execute(
                select(tickets.TicketMessage, tickets.Ticket)
                .join(tickets.Ticket, tickets.Ticket.id == tickets.TicketMessage.ticket_id)
                .where(tickets.TicketMessage.relayed.is_(False),
                       tickets.Ticket.staff_ready.is_(True))
                .order_by(tickets.TicketMessage.id).limit(100)))
            for message, ticket in rows:
                if not self.placed(ticket):
                    continue
                chat = self.staff_chat(ticket)
                ref = f"ticket:{ticket.id}"
                body = relayed_text(message, ticket)
                if body:
                    await enqueue(session, chat, Outgoing(body), key=f"ticket-msg:{message.id}",
                                  purpose="ticket_message", ref=ref)
                    queued += 1
                for index, item in enumerate(message.attachments):
                    photo = await staff_photo_in(session, item)
                    if photo is not None:
                        await enqueue(session, chat, Outgoing(ticket.code, photo=photo),
                                      key=f"ticket-msg:{message.id}:{index}",
                                      purpose="ticket_message", ref=ref)
                        queued += 1
                message.relayed = True
        return queued

    async def _remind(self) -> int:
        now = self.clock()
        calendar = default_calendar(self.settings.holidays_file)
        before = self.settings.feedback_remind_days_before
        queued = 0
        async with self.db.session() as session:
            for ticket in await tickets.find_open_tickets(session):
                if not self.placed(ticket):
                    continue
                due = f"{local_date(ticket.due_at, self.settings.timezone):%d/%m/%Y}"
                chat = self.staff_chat(ticket)
                ref = f"ticket:{ticket.id}"
                cycle = ticket.reopen_count
                if now > ticket.due_at:
                    queued += await enqueue(
                        session, chat, Outgoing(text("feedback.remind_overdue",
                                                     code=ticket.code, due=due)),
                        key=f"{ref}:overdue:{cycle}", purpose="ticket_reminder", ref=ref)
                    continue
                left = working_days_left(now, ticket.due_at, calendar, self.settings.timezone)
                if left <= before:
                    queued += await enqueue(
                        session, chat, Outgoing(text("feedback.remind_before", code=ticket.code,
                                                     due=due, days=left)),
                        key=f"{ref}:remind:{cycle}", purpose="ticket_reminder", ref=ref)
        return queued
