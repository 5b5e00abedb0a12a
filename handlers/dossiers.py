"""Dossier lookup for citizens (code → last 4 phone digits → status card), subscriptions to
status changes, the notifications and apology letters those changes send, and `/hoso CODE`
for staff in the staff group.

Privacy rules (RELIABILITY.md): the status is shown only after the second factor; "no such
code" and "wrong digits" get the very same reply; every failure is a security event in the
audit log; names and phone numbers are always masked.

Guessing is bounded three ways, each configurable (bot/config.py, `LOOKUP_*`):
- per chat: `LOOKUP_MAX_FAILURES_PER_CHAT` failures within `LOOKUP_CHAT_WINDOW_MINUTES`
  throttle the chat, whatever code it types;
- per web client address: `LOOKUP_MAX_FAILURES_PER_ADDRESS` within
  `LOOKUP_ADDRESS_WINDOW_MINUTES` throttle every session from that address;
- per dossier code, across every chat, session and channel: `LOOKUP_MAX_FAILURES_PER_CODE`
  within `LOOKUP_CODE_WINDOW_HOURS` lock the code for lookups by digits for
  `LOOKUP_CODE_LOCK_HOURS` — the right digits are refused too; staff are alerted once per lock
  of a real dossier. Owners keep what they already have: subscribed chats are still notified
  and the "view" button of a verified chat still opens the card. Digit checks of one code
  run one at a time (`repo.hold_code_checks`), so guesses sent all at once get no more
  checks than guesses sent one by one.

A lock must not tell whether a code exists. Codes are counted and locked by what was typed,
whether or not a dossier has that code, so an unknown code locks exactly like a real one; and
typing a code is answered the same way, locked or not (the ask for the digits). Only digits
typed for a locked code get the "code locked" answer — which says that this code was guessed
at, never that it exists.

Failure rows and their audit entries name the chat and the address only by keyed hashes
(`bot.db.privacy.pseudonym`), so they are kept when a citizen deletes their data and deleting
one's data resets no throttle.
"""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db import dossiers as repo
from bot.db.dossiers import Dossier, DossierEvent, Status
from bot.db.models import AuditLog
from bot.db.privacy import chat_pseudonym, pseudonym
from bot.messages import FILE_CHANNELS, Button, ChatRef, Incoming, Outgoing
from bot.outbox import enqueue
from bot.router import Context, Reply, Router, need_id
from bot.staffscope import of_message
from documents import letters
from documents.dates import format_date, format_short
from documents.printing import with_pdf
from handlers.start import back_to_menu
from handlers.texts import text
from scheduler.quiet import (
    WorkingCalendar,
    default_calendar,
    in_quiet_hours,
    working_days_late,
    working_days_left,
)

log = logging.getLogger(__name__)
security = logging.getLogger("motcua.security")

router = Router()

EVENTS_SHOWN = 5
VIEW_AFTER_VERIFIED = timedelta(days=30)
"""A chat that proved ownership may reopen the card from a notification for this long."""
DIGITS = re.compile(r"^\*?\s*(\d\s*){4}$")


class Step(StrEnum):
    CODE = "dossier.code"
    DIGITS = "dossier.digits"


# -- masking and formatting -----------------------------------------------------------------


def mask_name(name: str) -> str:
    """"Nguyễn Văn An" → "Nguyễn V. A.": the family name, then initials."""
    words = name.split()
    if not words:
        return ""
    if len(words) == 1:
        return words[0][0] + "."
    return " ".join([words[0], *(w[0] + "." for w in words[1:])])


def mask_phone(phone: str) -> str:
    """"0912345678" → "09******78"."""
    if len(phone) <= 4:
        return "*" * len(phone)
    return phone[:2] + "*" * (len(phone) - 4) + phone[-2:]


# -- what a card shows ----------------------------------------------------------------------


@dataclass
class CardView:
    code: str
    procedure: str
    applicant: str
    phone: str
    received: str
    due: str
    status: str
    note: str
    overdue: bool
    late_days: int
    days_left: int | None
    delay: dict[str, str] | None
    events: list[dict[str, str]] = field(default_factory=list)
    staff: bool = False
    subscribers: int = 0


def describe(dossier: Dossier, events: list[DossierEvent], delay: DossierEvent | None,
             now: datetime, timezone: str, calendar: WorkingCalendar | None = None,
             *, staff: bool = False, subscribers: int = 0) -> CardView:
    calendar = calendar or default_calendar()
    overdue = dossier.is_overdue(now)
    finished = dossier.status in repo.NOT_LATE
    delay_info = None
    if delay is not None and delay.new_due_at is not None and not repo.is_finished(dossier.status):
        delay_info = {"new_due": format_date(delay.new_due_at, timezone),
                      "reason": delay.reason or ""}
    return CardView(
        code=dossier.code,
        procedure=dossier.procedure_name,
        applicant=mask_name(dossier.applicant_name),
        phone=mask_phone(dossier.phone),
        received=format_date(dossier.received_at, timezone),
        due=format_date(dossier.due_at, timezone),
        status=dossier.status,
        note=_request_note(dossier, events) if dossier.status == Status.NEED_MORE_INFO else "",
        overdue=overdue,
        late_days=working_days_late(now, dossier.due_at, calendar, timezone) if overdue else 0,
        days_left=None if overdue or finished
        else working_days_left(now, dossier.due_at, calendar, timezone),
        delay=delay_info,
        events=[{"when": format_short(e.at, timezone), "status": e.status, "note": e.note}
                for e in events],
        staff=staff,
        subscribers=subscribers,
    )


def _request_note(dossier: Dossier, events: list[DossierEvent]) -> str:
    """What the agency asks to supplement: the latest such event's note, else the dossier's."""
    for event in reversed(events):
        if event.status == Status.NEED_MORE_INFO and event.note:
            return event.note
    return dossier.note


def card_buttons(dossier_id: int, subscribed: bool,
                 finished: bool = False) -> list[list[Button]]:
    """Subscribe or unsubscribe, another code, the menu. A finished dossier (returned,
    rejected, withdrawn) will not change any more: nothing to subscribe to."""
    toggle = (Button(text("dossiers.button_unsubscribe"), action=f"dossier:unsub:{dossier_id}")
              if subscribed else
              Button(text("dossiers.button_subscribe"), action=f"dossier:sub:{dossier_id}"))
    rows = [] if finished and not subscribed else [[toggle]]
    return [*rows, [Button(text("dossiers.button_another"), action="dossier:again")],
            *back_to_menu()]


async def status_card(session: AsyncSession, dossier: Dossier, ctx: Context, *,
                      staff: bool = False) -> str:
    events = await repo.find_events(session, dossier.id, EVENTS_SHOWN)
    delay = await repo.get_latest_delay(session, dossier.id)
    subscribers = len(await repo.find_subscribers(session, dossier.id)) if staff else 0
    view = describe(dossier, events, delay, ctx.now, ctx.settings.timezone,
                    default_calendar(ctx.settings.holidays_file), staff=staff,
                    subscribers=subscribers)
    return text("dossiers.card", v=view)


# -- the lookup flow ------------------------------------------------------------------------


def ask_code(ctx: Context, message: str = "dossiers.ask_code") -> Outgoing:
    ctx.conversation.goto(Step.CODE)
    return Outgoing(text(message), buttons=back_to_menu())


def another_code_buttons() -> list[list[Button]]:
    return [[Button(text("dossiers.button_another"), action="dossier:again")], *back_to_menu()]


def throttled_reply(ctx: Context, code: str, message: str = "dossiers.throttled",
                    by: str = "chat") -> Outgoing:
    """The chat stays in the digits step, so digits typed next get this answer again rather
    than a procedure search for "1234" (and a chat already there is not rewritten)."""
    if ctx.conversation.state != Step.DIGITS:
        ctx.conversation.end()
        ctx.conversation.goto(Step.DIGITS, code=code)
    if message == "dossiers.code_locked":
        return Outgoing(text(message, hours=ctx.settings.lookup_code_lock_hours),
                        buttons=another_code_buttons())
    minutes = (ctx.settings.lookup_address_window_minutes if by == "address"
               else ctx.settings.lookup_chat_window_minutes)
    return Outgoing(text(message, minutes=minutes), buttons=back_to_menu())


def guesser(msg: Incoming, ctx: Context) -> repo.Guesser:
    secret = ctx.settings.secret
    return repo.Guesser(msg.channel, chat_pseudonym(secret, msg.channel, msg.chat_id),
                        pseudonym(secret, "address", msg.origin) if msg.origin else None)


async def throttled_by(ctx: Context, who: repo.Guesser) -> str | None:
    """"chat" or "address" when this chat, or the web client's address, failed too often."""
    settings = ctx.settings
    of_chat, of_address = await repo.count_guesser_failures(
        ctx.session, who,
        ctx.now - timedelta(minutes=settings.lookup_chat_window_minutes),
        ctx.now - timedelta(minutes=settings.lookup_address_window_minutes))
    if of_chat >= settings.lookup_max_failures_per_chat:
        return "chat"
    if of_address >= settings.lookup_max_failures_per_address:
        return "address"
    return None


async def refused_if_throttled(msg: Incoming, ctx: Context, code: str) -> Outgoing | None:
    """The throttled answer when this chat, or its address, failed too often; else None."""
    who = guesser(msg, ctx)
    by = await throttled_by(ctx, who)
    if by is None:
        return None
    security.debug("dossier lookup refused, throttled (%s): %s %s", by, msg.channel,
                   who.chat_key)
    return throttled_reply(ctx, code, by=by)


async def start_check(msg: Incoming, ctx: Context, code: str) -> Outgoing:
    """A code was given: ask for the digits (the same whether the code exists or not, and
    whether it is locked or not)."""
    if (refused := await refused_if_throttled(msg, ctx, code)) is not None:
        return refused
    ctx.conversation.end()
    ctx.conversation.goto(Step.DIGITS, code=code)
    return Outgoing(text("dossiers.ask_digits", code=code), buttons=another_code_buttons())


@router.command("hoso", "status")
async def on_dossier_command(msg: Incoming, ctx: Context) -> Reply:
    rest = msg.command[1] if msg.command else ""
    if msg.is_staff_chat:
        return await on_staff_lookup(msg, ctx, rest)
    if msg.is_group:
        return Outgoing(text("dossiers.private_only"))
    if not rest:
        ctx.conversation.end()
        return ask_code(ctx)
    code = repo.normalize_code(rest) or repo.find_code(rest)
    if code is None:
        return ask_code(ctx, "dossiers.not_a_code")
    return await start_check(msg, ctx, code)


@router.action("menu:hoso")
async def on_menu(msg: Incoming, ctx: Context) -> Reply:
    ctx.conversation.end()
    if msg.is_group:
        return Outgoing(text("dossiers.private_only"))
    return ask_code(ctx)


@router.action("dossier:again")
async def on_again(msg: Incoming, ctx: Context) -> Reply:
    return await on_menu(msg, ctx)


@router.step(Step.CODE)
async def on_code(msg: Incoming, ctx: Context) -> Reply:
    code = repo.normalize_code(msg.text) or repo.find_code(msg.text)
    if code is None:
        return ask_code(ctx, "dossiers.not_a_code")
    return await start_check(msg, ctx, code)


@router.on_text
async def on_code_in_text(msg: Incoming, ctx: Context) -> list[Outgoing] | None:
    """Free text that looks like a dossier code starts a check; anything else is not ours."""
    if msg.is_group:
        return None
    code = repo.find_code(msg.text)
    if code is None:
        return None
    return [await start_check(msg, ctx, code)]


@router.step(Step.DIGITS)
async def on_digits(msg: Incoming, ctx: Context) -> Reply:
    code = str(ctx.conversation.data.get("code", ""))
    if not code:
        return ask_code(ctx)
    if not DIGITS.match(msg.text):
        other = repo.find_code(msg.text) or (
            repo.normalize_code(msg.text) if re.search(r"[-./]", msg.text) else None)
        if other is not None:
            return await start_check(msg, ctx, other)
        return Outgoing(text("dossiers.digits_format"), buttons=another_code_buttons())
    digits = re.sub(r"\D", "", msg.text)
    if (refused := await refused_if_throttled(msg, ctx, code)) is not None:
        return refused
    await repo.hold_code_checks(ctx.session, code)
    if await repo.is_code_locked(ctx.session, code, ctx.now):
        security.debug("dossier lookup refused, code locked: %s", code)
        return throttled_reply(ctx, code, "dossiers.code_locked")
    dossier = await repo.get_dossier(ctx.session, code)
    expected = dossier.phone[-4:] if dossier is not None else "\x00" * 4
    if dossier is None or not hmac.compare_digest(expected.encode(), digits.encode()):
        return await on_failure(msg, ctx, code, dossier)
    ctx.conversation.end()
    msg.unlocked = True
    access = await repo.record_verified(ctx.session, dossier.id, ctx.citizen_id, msg.channel,
                                        msg.chat_id, msg.thread_id, ctx.now)
    await audit(ctx, msg, "dossier.viewed", dossier.code, "ok")
    card = await status_card(ctx.session, dossier, ctx)
    return Outgoing(card, buttons=card_buttons(dossier.id, access.active,
                                                   repo.is_finished(dossier.status)))


async def on_failure(msg: Incoming, ctx: Context, code: str,
                     dossier: Dossier | None) -> Outgoing:
    """Record and log the failure; the reply never says which of the two it was."""
    who = guesser(msg, ctx)
    reason = "no_such_code" if dossier is None else "wrong_digits"
    await repo.record_lookup_failure(ctx.session, who, code, ctx.now)
    await security_audit(ctx, who, "dossier.lookup_failed", code, "denied", reason=reason)
    security.warning("dossier lookup failed: %s %s code %s (%s)", msg.channel, who.chat_key,
                     code, reason)
    locked = await lock_if_guessed(ctx, who, code, dossier)
    by = await throttled_by(ctx, who)
    if by is not None:
        await security_audit(ctx, who, "dossier.throttled", code, "denied", by=by)
        security.warning("dossier lookup throttled (%s): %s %s", by, msg.channel, who.chat_key)
        return throttled_reply(ctx, code, by=by)
    if locked:
        return throttled_reply(ctx, code, "dossiers.code_locked")
    return Outgoing(text("dossiers.no_match"), buttons=another_code_buttons())


async def lock_if_guessed(ctx: Context, who: repo.Guesser, code: str,
                          dossier: Dossier | None) -> bool:
    """Lock the code when it failed too often from anywhere; True when it is locked now.
    Failures before the end of its previous lock do not count again."""
    settings = ctx.settings
    since = ctx.now - timedelta(hours=settings.lookup_code_window_hours)
    previous = await repo.get_lookup_lock(ctx.session, code)
    if previous is not None and previous.until > since:
        since = previous.until
    failures = await repo.count_lookup_failures(ctx.session, since, code=code)
    if failures < settings.lookup_max_failures_per_code:
        return False
    until = ctx.now + timedelta(hours=settings.lookup_code_lock_hours)
    if not await repo.lock_code(ctx.session, code, ctx.now, until, failures):
        return True  # another chat's failure locked it a moment ago
    await security_audit(ctx, who, "dossier.code_locked", code, "locked", failures=failures,
                         until=until.isoformat(), known=dossier is not None)
    security.warning("dossier code locked for lookups until %s: %s (%d failures)",
                     until.isoformat(), code, failures)
    if dossier is not None:
        await alert_staff(ctx, dossier, failures, until)
    return True


async def alert_staff(ctx: Context, dossier: Dossier, failures: int, until: datetime) -> None:
    """Once per lock (the outbox key says so): the staff group of the dossier's commune (else
    the province-wide one) hears that a real dossier was guessed at. Unknown codes are only
    logged — they put nobody's data at risk."""
    settings = ctx.settings
    staff = settings.staff_chat_for(dossier.commune_code)
    if staff is None or not settings.telegram_bot_token:
        return
    message = Outgoing(text(
        "dossiers.lock_alert", code=dossier.code, failures=failures,
        hours=settings.lookup_code_window_hours, until=format_short(until, settings.timezone)))
    key = f"dossier-lock:{dossier.key}:{ctx.now.isoformat()}"
    if await enqueue(ctx.session, ChatRef("telegram", str(staff)),
                     message, key=key[:200], purpose="staff_alert", ref=f"dossier:{dossier.id}"):
        sender = (ctx.service("senders") or {}).get("telegram")
        if sender is not None:
            sender.notify()


async def security_audit(ctx: Context, who: repo.Guesser, action: str, target: str,
                         result: str, **detail: Any) -> None:
    """An audit entry of a security event, naming the chat only by its pseudonym (it is kept
    when the citizen deletes their data)."""
    ctx.session.add(AuditLog(
        at=ctx.now, actor=f"{who.channel}:~{who.chat_key}"[:150], action=action,
        target=target[:200], result=result, detail=detail))


async def audit(ctx: Context, msg: Incoming, action: str, target: str, result: str,
                **detail: Any) -> None:
    ctx.session.add(AuditLog(
        at=ctx.now, actor=f"{msg.channel}:{msg.user_id}"[:150], action=action,
        target=target[:200], result=result,
        detail={"chat": msg.chat_id, **detail},
    ))


# -- subscriptions --------------------------------------------------------------------------


async def _verified_access(msg: Incoming, ctx: Context) -> tuple[Dossier, Any] | None:
    """The dossier named by the button, if this chat proved it owns it."""
    dossier_id = need_id(msg.action)  # `dossier:<verb>:<id>`; StaleButton for anything else
    access = await repo.get_subscription(ctx.session, dossier_id, msg.channel, msg.chat_id)
    if access is None:
        return None
    if not access.active and ctx.now - access.verified_at > VIEW_AFTER_VERIFIED:
        return None
    dossier = await repo.get_dossier_by_id(ctx.session, dossier_id)
    return (dossier, access) if dossier is not None else None


def need_lookup() -> Outgoing:
    return Outgoing(text("dossiers.need_lookup"), buttons=another_code_buttons())


@router.action("dossier:sub")
async def on_subscribe(msg: Incoming, ctx: Context) -> Reply:
    return await set_subscription(msg, ctx, True)


@router.action("dossier:unsub")
async def on_unsubscribe(msg: Incoming, ctx: Context) -> Reply:
    return await set_subscription(msg, ctx, False)


async def set_subscription(msg: Incoming, ctx: Context, on: bool) -> Reply:
    """Opt in to (or out of) this dossier's status messages; recorded and audited."""
    found = await _verified_access(msg, ctx)
    if found is None:
        return need_lookup()
    dossier, access = found
    if not await repo.set_subscribed(ctx.session, access, on, ctx.now):
        message = text("dossiers.already_subscribed" if on else "dossiers.not_subscribed",
                       code=dossier.code)
    else:
        await audit(ctx, msg, "dossier.subscribed" if on else "dossier.unsubscribed",
                    dossier.code, "ok", channel=msg.channel)
        message = text("dossiers.subscribed" if on else "dossiers.unsubscribed",
                       code=dossier.code)
        if on and (note := quiet_note(ctx)):
            message += "\n" + note
    return Outgoing(message, buttons=card_buttons(dossier.id, on))


def quiet_note(ctx: Context) -> str:
    """Status messages wait for the end of QUIET_HOURS like every proactive message: the
    citizen is told so when subscribing (and that it is such a time now, at night), so a
    silent night does not look like a broken subscription."""
    window = ctx.settings.quiet_window
    if window is None or window[0] == window[1]:
        return ""
    return text("dossiers.quiet_note", start=f"{window[0]:%H:%M}", end=f"{window[1]:%H:%M}",
                now=in_quiet_hours(ctx.now, window, ctx.settings.timezone))


@router.action("dossier:view")
async def on_view(msg: Incoming, ctx: Context) -> Reply:
    found = await _verified_access(msg, ctx)
    if found is None:
        return need_lookup()
    dossier, access = found
    await audit(ctx, msg, "dossier.viewed", dossier.code, "ok")
    card = await status_card(ctx.session, dossier, ctx)
    return Outgoing(card, buttons=card_buttons(dossier.id, access.active,
                                                   repo.is_finished(dossier.status)))


# -- staff ----------------------------------------------------------------------------------


async def on_staff_lookup(msg: Incoming, ctx: Context, rest: str) -> Reply:
    """In the staff group: the full card at once, no second factor (still masked)."""
    code = repo.normalize_code(rest) or repo.find_code(rest) if rest else None
    if code is None:
        return Outgoing(text("dossiers.staff_usage"))
    dossier = await repo.get_dossier(ctx.session, code)
    if dossier is not None and not of_message(msg, ctx.settings).serves(dossier.commune_code):
        await audit(ctx, msg, "dossier.staff_view", code, "other_commune")
        return Outgoing(text("dossiers.other_commune", code=dossier.code))
    await audit(ctx, msg, "dossier.staff_view", code, "ok" if dossier else "not_found")
    if dossier is None:
        return Outgoing(text("dossiers.staff_not_found", code=code))
    return Outgoing(await status_card(ctx.session, dossier, ctx, staff=True))


@router.staff_command("inthu", "print")
async def on_print(msg: Incoming, ctx: Context) -> Reply:
    """`/inthu CODE` (staff): the dossier's letter or apology slip as a PDF to print and hand
    over at the counter, addressed by name (it stays in the staff chat)."""
    rest = msg.command[1] if msg.command else ""
    code = repo.normalize_code(rest) or repo.find_code(rest) if rest else None
    if code is None:
        return Outgoing(text("letters.print_usage"))
    dossier = await repo.get_dossier(ctx.session, code)
    if dossier is not None and not of_message(msg, ctx.settings).serves(dossier.commune_code):
        await audit(ctx, msg, "dossier.printed", code, "other_commune")
        return Outgoing(text("dossiers.other_commune", code=dossier.code))
    found = await printable(ctx.session, dossier, ctx.settings) if dossier else None
    await audit(ctx, msg, "dossier.printed", code, "ok" if found else "nothing")
    if dossier is None:
        return Outgoing(text("dossiers.staff_not_found", code=code))
    if found is None:
        return Outgoing(text("letters.nothing_to_print", code=dossier.code))
    kind, doc = found
    return await with_pdf(Outgoing(text("letters.printed", code=dossier.code, title=doc.title)),
                          doc, kind)


# -- notifications (called by the ingest API and the importer) ------------------------------


def event_message(dossier: Dossier, event: DossierEvent, settings: Settings) -> Outgoing:
    """What a subscriber receives for an event: the apology slip for `delayed`, else the new
    status. No name or phone number in it (outbox rows are kept for a while)."""
    buttons = [[Button(text("dossiers.button_view"), action=f"dossier:view:{dossier.id}")],
               [Button(text("dossiers.button_unsubscribe"),
                       action=f"dossier:unsub:{dossier.id}")]]
    if event.status == Status.DELAYED and event.new_due_at is not None:
        return Outgoing(apology_slip_of(dossier, event, settings).chat_text(), buttons=buttons)
    view = {"code": dossier.code, "procedure": dossier.procedure_name, "status": event.status,
            "note": event.note, "due": format_date(dossier.due_at, settings.timezone)}
    return Outgoing(text("dossiers.notification", v=view), buttons=buttons)


def apology_slip_of(dossier: Dossier, event: DossierEvent, settings: Settings,
                    to: str = "") -> letters.Document:
    """The "Phiếu xin lỗi và hẹn lại ngày trả kết quả" of a `delayed` event, from the
    dossier's commune; `to`, the applicant's name, only on a printed copy."""
    assert event.new_due_at is not None
    return letters.apology_slip(
        dossier.commune_code, settings, at=event.at, code=dossier.code,
        procedure=dossier.procedure_name, received_at=dossier.received_at,
        previous_due_at=event.previous_due_at, new_due_at=event.new_due_at,
        reason=event.reason or "", note=event.note, to=to)


async def printable(session: AsyncSession, dossier: Dossier,
                    settings: Settings) -> tuple[str, letters.Document] | None:
    """What staff print for a dossier, addressed to the applicant by name: the apology slip
    of its latest `delayed` event while the agency still holds it, else the letter that
    follows its returned result (marriage, birth, death); None when neither applies."""
    delay = await repo.get_latest_delay(session, dossier.id)
    if delay is not None and delay.new_due_at is not None \
            and not repo.is_finished(dossier.status):
        return letters.SLIP, apology_slip_of(dossier, delay, settings, dossier.applicant_name)
    kind = letters.LETTER_OF_FAMILY.get(letters.family_of(dossier.procedure_code, settings))
    if kind is None or dossier.status != Status.RETURNED:
        return None
    return kind, letters.letter_document(kind, dossier.commune_code, settings,
                                         dossier.status_at, to=dossier.applicant_name)


async def announce_event(session: AsyncSession, dossier: Dossier, event: DossierEvent,
                         settings: Settings, not_before: datetime | None = None) -> set[str]:
    """Queue the event's message for every subscribed chat, once per event and chat (the
    outbox key says so), not before `not_before` (the end of quiet hours); returns the
    channels that got new rows, to wake their senders."""
    subscribers = await repo.find_subscribers(session, dossier.id)
    if not subscribers:
        return set()
    message = event_message(dossier, event, settings)
    printed = message  # the slip also as a PDF file, where the channel takes files
    if event.status == Status.DELAYED and event.new_due_at is not None \
            and any(sub.channel in FILE_CHANNELS for sub in subscribers):
        printed = await with_pdf(message, apology_slip_of(dossier, event, settings),
                                 letters.SLIP)
    woken: set[str] = set()
    for sub in subscribers:
        if await enqueue(session, ChatRef(sub.channel, sub.chat_id, sub.thread_id),
                         printed if sub.channel in FILE_CHANNELS else message,
                         key=f"dossier:{event.id}:{sub.id}", purpose="dossier_status",
                         not_before=not_before):
            woken.add(sub.channel)
    return woken
