"""The follow-up rules: what to send, to whom and when. They turn facts in the database into
outbox rows; the paced sender (bot/outbox.py) decides how fast.

| rule | fires on | sends | to | consent |
|---|---|---|---|---|
| congratulation_marriage | `returned` of a marriage procedure | congratulation letter | the dossier's subscribers | letters |
| congratulation_birth | `returned` of a birth procedure | congratulation letter | the dossier's subscribers | letters |
| condolence | `returned` of a death procedure | condolence letter (alone) | the dossier's subscribers | letters |
| survey | any other `returned` | survey invitation | the dossier's subscribers | surveys |
| ticket_survey | a feedback ticket closed | survey invitation | the ticket's chat | surveys |
| reminder | the working day before the appointment, 08:00 | what to bring | the dossier's subscribers | status |
| overdue_alert | a dossier overdue without a `delayed` event | alert | the staff group | — |

The scan is idempotent: each firing has an outbox dedupe key, so scanning twice (two
processes, a restart, an overlap of the event window) sends once; events are read from the
append-only `dossier_events` after a stored watermark, which only passes events older than
`SETTLE` (a transaction that committed late is still seen). A firing that fell due while the
service was down is enqueued at the next scan and sent once; quiet hours move every send to the
next allowed minute. Nothing fires for refused or withdrawn dossiers, nor for results older
than FOLLOWUP_MAX_AGE_DAYS (an import of old dossiers sends no letters). SCHEDULER_RULES_OFF
turns rules off by the names above (bot.config's FOLLOWUP_RULES, so that the settings need not
import this module).
"""  # noqa: E501  (the table above)

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db import dossiers as repo
from bot.db import feedback as tickets
from bot.db import scheduler as store
from bot.db.dossiers import Dossier, DossierEvent, Status
from bot.messages import FILE_CHANNELS, ChatRef, Outgoing
from bot.outbox import enqueue
from documents import letters
from documents.dates import format_date
from documents.letters import family_of
from documents.printing import with_pdf
from handlers.texts import text
from scheduler.quiet import (
    default_calendar,
    local_date,
    next_allowed,
    working_days_late,
)

if TYPE_CHECKING:
    from bot.db.session import Database

log = logging.getLogger(__name__)

SETTLE = timedelta(seconds=60)
EVENTS_MARK = "dossier_events"
TICKETS_MARK = "tickets_closed"
REMINDER_HORIZON = timedelta(days=14)


@dataclass
class Firing:
    """What one scan queued (for tests and logs) and which channels to wake."""

    queued: dict[str, int] = field(default_factory=dict)
    channels: set[str] = field(default_factory=set)

    def add(self, rule: str, channel: str) -> None:
        self.queued[rule] = self.queued.get(rule, 0) + 1
        self.channels.add(channel)


class Rules:
    """The rules over one database, with the clock injected."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.clock = clock
        self.calendar = default_calendar(settings.holidays_file)

    def on(self, rule: str) -> bool:
        return rule not in self.settings.rules_off

    def send_time(self, due: datetime, now: datetime, *, quiet: bool = True) -> datetime:
        """`due`, not before now, moved out of quiet hours."""
        moment = max(due, now)
        if not quiet:
            return moment
        return next_allowed(moment, self.settings.quiet_window, self.settings.timezone)

    async def run(self, db: Database) -> Firing:
        """One scan of every rule, each in its own transaction."""
        firing = Firing()
        now = self.clock()
        for step in (self.scan_results, self.scan_closed_tickets, self.scan_appointments,
                     self.scan_overdue):
            async with db.session() as session:
                await step(session, now, firing)
        return firing

    # -- results returned -------------------------------------------------------------------

    async def scan_results(self, session: AsyncSession, now: datetime, firing: Firing) -> None:
        mark = await store.get_mark(session, EVENTS_MARK)
        events = await repo.find_events_since(session, mark, {Status.RETURNED})
        settled, advancing = mark, True
        for event in events:  # in id order: the mark passes only a run of settled events
            advancing = advancing and event.created_at <= now - SETTLE
            if advancing:
                settled = event.id
            await self.on_returned(session, event, now, firing)
        if settled > mark:
            await store.set_mark(session, EVENTS_MARK, settled, now)

    async def on_returned(self, session: AsyncSession, event: DossierEvent, now: datetime,
                          firing: Firing) -> None:
        dossier = await repo.get_dossier_by_id(session, event.dossier_id)
        if dossier is None or dossier.status != Status.RETURNED:
            return  # refused, withdrawn or reopened since: nothing to say
        if now - event.at > timedelta(days=self.settings.followup_max_age_days):
            return
        subscribers = await repo.find_subscribers(session, dossier.id)
        if not subscribers:
            return
        family = family_of(dossier.procedure_code, self.settings)
        citizens = [s.citizen_id for s in subscribers]
        rule = letters.LETTER_OF_FAMILY.get(family)
        if rule and self.on(rule):
            delay = self.settings.condolence_delay_minutes if family == "death" \
                else self.settings.congratulation_delay_minutes
            at = self.send_time(event.at + timedelta(minutes=delay), now)
            doc = letters.letter_document(rule, dossier.commune_code, self.settings, at)
            message = Outgoing(doc.chat_text())
            willing = await store.consenting(session, citizens, store.LETTERS)
            printed = await with_pdf(message, doc, rule) if any(
                s.channel in FILE_CHANNELS and s.citizen_id in willing for s in subscribers) \
                else message  # the letter as a PDF file too, where the channel takes files
            for sub in subscribers:
                if sub.citizen_id in willing and await enqueue(
                        session, ChatRef(sub.channel, sub.chat_id, sub.thread_id),
                        printed if sub.channel in FILE_CHANNELS else message,
                        key=f"letter:{dossier.id}:{sub.channel}:{sub.chat_id}",
                        purpose="letter", not_before=at, ref=f"dossier:{dossier.id}"):
                    firing.add(rule, sub.channel)
        if family == "death" or not self.on("survey"):
            return  # a bereaved family is not asked to rate anything
        at = self.send_time(event.at + timedelta(minutes=self.settings.survey_delay_minutes),
                            now)
        message = letters.survey_invitation(
            text("surveys.about_dossier", code=dossier.code, procedure=dossier.procedure_name),
            f"d:{dossier.id}", dossier.commune_code, self.settings)
        willing = await store.consenting(session, citizens, store.SURVEYS)
        for sub in subscribers:
            if sub.citizen_id in willing and await enqueue(
                    session, ChatRef(sub.channel, sub.chat_id, sub.thread_id), message,
                    key=f"survey:d:{dossier.id}:{sub.channel}:{sub.chat_id}",
                    purpose="survey", not_before=at, ref=f"dossier:{dossier.id}"):
                firing.add("survey", sub.channel)

    # -- tickets closed ---------------------------------------------------------------------

    async def scan_closed_tickets(self, session: AsyncSession, now: datetime,
                                  firing: Firing) -> None:
        if not self.on("ticket_survey"):
            return
        mark = await store.get_mark(session, TICKETS_MARK)
        oldest = now - timedelta(days=self.settings.followup_max_age_days)
        since = max(oldest, datetime.fromtimestamp(mark, UTC) - SETTLE)
        closed = list(await session.scalars(
            select(tickets.Ticket).where(tickets.Ticket.status == tickets.CLOSED,
                                         tickets.Ticket.closed_at > since)
            .order_by(tickets.Ticket.closed_at).limit(500)))
        willing = await store.consenting(
            session, [t.citizen_id for t in closed if t.citizen_id], store.SURVEYS)
        for ticket in closed:
            assert ticket.closed_at is not None
            if ticket.citizen_id not in willing:
                continue
            at = self.send_time(
                ticket.closed_at + timedelta(minutes=self.settings.survey_delay_minutes), now)
            message = letters.survey_invitation(
                text("surveys.about_ticket", code=ticket.code), f"t:{ticket.id}", None,
                self.settings)
            if await enqueue(session, ChatRef(ticket.channel, ticket.chat_id), message,
                             key=f"survey:t:{ticket.id}:{ticket.reopen_count}",
                             purpose="survey", not_before=at, ref=f"ticket:{ticket.id}"):
                firing.add("ticket_survey", ticket.channel)
        if len(closed) < 500 and now.timestamp() - mark >= SETTLE.total_seconds():
            # written at most once a minute: the window overlaps by SETTLE anyway
            await store.set_mark(session, TICKETS_MARK, int(now.timestamp()), now)

    # -- appointments -----------------------------------------------------------------------

    def reminder_time(self, due_at: datetime) -> datetime:
        """08:00 (APPOINTMENT_REMINDER_TIME) local on the working day before the appointment."""
        zone = self.settings.tz
        day = self.calendar.previous_working_day(local_date(due_at, self.settings.timezone))
        return datetime.combine(day, self.settings.reminder_at, zone).astimezone(UTC)

    async def scan_appointments(self, session: AsyncSession, now: datetime,
                                firing: Firing) -> None:
        if not self.on("reminder"):
            return

        upcoming = list(await session.scalars(
            select(Dossier).where(Dossier.due_at > now, Dossier.due_at <= now + REMINDER_HORIZON,
                                  Dossier.status.not_in(list(repo.FINISHED)))
            .order_by(Dossier.due_at).limit(2000)))
        for dossier in upcoming:
            fire = self.reminder_time(dossier.due_at)
            if now < fire:
                continue
            subscribers = await repo.find_subscribers(session, dossier.id)
            if not subscribers:
                continue
            at = self.send_time(fire, now)
            if at >= dossier.due_at:
                continue
            due_day = local_date(dossier.due_at, self.settings.timezone)
            message = letters.reminder(
                dossier.code, dossier.procedure_name,
                format_date(dossier.due_at, self.settings.timezone), dossier.commune_code,
                self.settings, dossier.id)
            for sub in subscribers:
                if await enqueue(session, ChatRef(sub.channel, sub.chat_id, sub.thread_id),
                                 message,
                                 key=f"reminder:{dossier.id}:{due_day}:{sub.channel}:"
                                     f"{sub.chat_id}",
                                 purpose="reminder", not_before=at, ref=f"dossier:{dossier.id}"):
                    firing.add("reminder", sub.channel)

    # -- overdue dossiers -------------------------------------------------------------------

    async def scan_overdue(self, session: AsyncSession, now: datetime, firing: Firing) -> None:
        if not self.on("overdue_alert") or not self.settings.staff_chat_ids \
                or not self.settings.telegram_bot_token:
            return
        at = self.send_time(now, now)
        for dossier in await repo.find_overdue(session, now):
            staff = self.settings.staff_chat_for(dossier.commune_code)
            if staff is None:
                continue  # no group serves its commune: the web desk's statistics count it
            chat = ChatRef("telegram", str(staff))
            message = Outgoing(text(
                "letters.overdue_alert", code=dossier.code, procedure=dossier.procedure_name,
                due=f"{local_date(dossier.due_at, self.settings.timezone):%d/%m/%Y}",
                late_days=working_days_late(now, dossier.due_at, self.calendar,
                                            self.settings.timezone)))
            if await enqueue(session, chat, message,
                             key=f"overdue:{dossier.id}:{dossier.due_at.isoformat()}",
                             purpose="overdue_alert", not_before=at,
                             ref=f"dossier:{dossier.id}"):
                firing.add("overdue_alert", "telegram")

