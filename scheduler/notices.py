"""Commune notices: draft → approve → schedule → deliver → report.

Staff write a notice in the staff group (`/thongbao`, handlers/subscriptions.py) or with
`motcua notice`; a second staff member approves it (NOTICE_APPROVAL_REQUIRED); at its send
time the notice desk puts one outbox row per subscribed chat (key `notice:<id>:<channel>:
<chat>`, so a notice reaches a chat once whatever happens), and the paced sender delivers them
at the platform's pace. When every row has ended, the author gets a delivery report: sent,
failed, and of those how many had blocked the bot. A notice waits for the end of quiet hours
unless it is urgent (natural-disaster warnings).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db import scheduler as store
from bot.db.models import OutboxMessage
from bot.messages import Attachment, ChatRef, Outgoing
from bot.outbox import PENDING, SENDING, enqueue
from documents.letters import letterhead
from handlers.texts import text
from scheduler.quiet import in_quiet_hours

if TYPE_CHECKING:
    from bot.db.session import Database

log = logging.getLogger(__name__)


@dataclass
class Report:
    recipients: int
    sent: int
    failed: int
    blocked: int
    waiting: int


def notice_message(notice: store.Notice, channel: str, commune_code: str | None,
                   settings: Settings) -> Outgoing:
    """The notice as one chat receives it, headed with who sends it (the issuing body of the
    commune the chat subscribed to). A photo taken in the Telegram staff group is a Telegram
    file id, which only Telegram chats can receive; others get its URL if any."""
    sender = " ".join(letterhead(commune_code, settings).agency)
    body = text("notices.message", text=notice.text, urgent=notice.urgent, sender=sender)
    photo = notice.photo or {}
    if photo.get("file_id") and channel == "telegram":
        return Outgoing(body, photo=Attachment("photo", file_id=photo["file_id"]))
    if photo.get("url"):
        return Outgoing(body, photo=Attachment("photo", url=photo["url"]))
    return Outgoing(body)


async def still_waiting(session: AsyncSession, notice: store.Notice) -> bool:
    """Whether any of the notice's rows has yet to end: a look-up in the (ref, status) index,
    where the report counts every row (tens of milliseconds for 30,000 of them, each round of
    a broadcast, on the event loop's thread with SQLite)."""
    waiting = await session.scalar(
        select(OutboxMessage.id)
        .where(OutboxMessage.ref == f"notice:{notice.id}",
               OutboxMessage.status.in_([PENDING, SENDING]))
        .limit(1))
    return waiting is not None


async def delivery_report(session: AsyncSession, notice: store.Notice) -> Report:
    rows = await session.execute(
        select(OutboxMessage.status, OutboxMessage.last_error, func.count())
        .where(OutboxMessage.ref == f"notice:{notice.id}")
        .group_by(OutboxMessage.status, OutboxMessage.last_error))
    sent = failed = blocked = waiting = 0
    for status, last_error, count in rows:
        error = (last_error or "").lower()
        if status == "sent":
            sent += count
        elif status == "failed":
            failed += count
            if "blocked" in error or "forbidden" in error or "chặn" in error:
                blocked += count
        else:
            waiting += count
    return Report(notice.recipients, sent, failed, blocked, waiting)


class NoticeDesk:
    def __init__(self, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.clock = clock

    async def run(self, db: Database) -> set[str]:
        """Deliver the notices that are due, report the finished ones; returns the channels
        that got rows."""
        now = self.clock()
        woken: set[str] = set()
        async with db.session() as session:
            due = list(await session.scalars(
                select(store.Notice).where(store.Notice.status == store.APPROVED,
                                           store.Notice.send_at <= now)
                .order_by(store.Notice.id).limit(5)))
            for notice in due:
                if not notice.urgent and in_quiet_hours(now, self.settings.quiet_window,
                                                        self.settings.timezone):
                    continue
                woken |= await self.deliver(session, notice, now)
        async with db.session() as session:
            delivering = list(await session.scalars(
                select(store.Notice).where(store.Notice.status == store.DELIVERING)))
            for notice in delivering:
                if await still_waiting(session, notice):
                    continue
                report = await delivery_report(session, notice)
                notice.status = store.DONE
                notice.reported_at = now
                if notice.report_chat_id:
                    chat = ChatRef(notice.report_channel, notice.report_chat_id,
                                   notice.report_thread_id)
                    if await enqueue(session, chat,
                                     Outgoing(text("notices.report", n=notice, r=report)),
                                     key=f"notice-report:{notice.id}", purpose="notice_report",
                                     ref=f"notice-report:{notice.id}"):
                        woken.add(notice.report_channel)
        return woken

    async def deliver(self, session: AsyncSession, notice: store.Notice,
                      now: datetime) -> set[str]:
        """One outbox row per chat subscribed to the notice's communes (with consent)."""
        recipients = await store.find_notice_recipients(session, list(notice.communes))
        payloads: dict[tuple[str, str], dict[str, Any]] = {}
        rows = []
        for channel, chat_id, _citizen, commune in recipients:
            if (channel, commune) not in payloads:
                payloads[channel, commune] = notice_message(notice, channel, commune,
                                                            self.settings).to_dict()
            rows.append({
                "dedupe_key": f"notice:{notice.id}:{channel}:{chat_id}", "channel": channel,
                "chat_id": chat_id, "thread_id": None,
                "is_group": channel == "telegram" and chat_id.startswith("-"),
                "purpose": "notice", "payload": payloads[channel, commune], "status": PENDING,
                "not_before": now, "attempts": 0, "created_at": now,
                "ref": f"notice:{notice.id}",
            })
        await store.bulk_insert_ignore(session, OutboxMessage, rows)
        notice.recipients = len(rows)
        notice.status = store.DELIVERING
        notice.delivered_at = now
        log.info("notice %s: %s recipients", notice.id, len(rows))
        return {channel for channel, _ in payloads}
