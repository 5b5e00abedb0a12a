"""Feedback and complaints (phản ánh, kiến nghị), the citizen's side: intake step by step,
"Phản ánh của tôi", answering the staff, rating the handling and reopening once.

A ticket belongs to a commune, whose staff alone see it (bot/staffscope.py): its dossier's;
else the commune the typed place names; else the citizen's (told before, or of a dossier they
follow); else the flow asks once, by name or with the "Bỏ qua" button, and remembers it for
the citizen. The summary shows it and lets the citizen change it.

The ticket is stored before the citizen is told it was received; the staff desk
(bot/staffdesk.py) then puts it in the staff group. Staff replies reach the citizen through
the outbox (handlers/staff.py).
"""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Any

from bot.db import feedback as tickets
from bot.messages import Attachment, Button, Incoming, Outgoing
from bot.router import Context, Reply, Router, StaleButton, action_number, need_id
from handlers.start import back_to_menu, fallback
from handlers.texts import text
from handlers.units import fold, get_commune
from scheduler.quiet import default_calendar, local_date

router = Router()

MIN_DESCRIPTION = 20
MAX_DESCRIPTION = 3000
MAX_PHOTOS = 10
MIN_PLACE = 6
MAX_PLACE = 300
"""A typed address is taken as the location when it has at least MIN_PLACE characters."""
PHONE_RE = re.compile(r"^(?:\+?84|0)\d{9,10}$")
DOSSIER_RE = re.compile(r"^(?=(?:.*\d){4})[A-Za-z0-9.\-/]{6,60}$")

CATEGORY, DESCRIBE, EXTRAS, COMMUNE, CONTACT, NAME, PHONE, CONFIRM, ANSWER = (
    "feedback.category", "feedback.describe", "feedback.extras", "feedback.commune",
    "feedback.contact", "feedback.name", "feedback.phone", "feedback.confirm", "feedback.answer",
)


def category_buttons() -> list[list[Button]]:
    rows = [[Button(label, action=f"fb:cat:{key}")] for key, label in tickets.CATEGORIES.items()]
    rows.append([Button(text("feedback.button_mine"), action="fb:mine")])
    return rows + back_to_menu()


def draft(ctx: Context) -> dict[str, Any]:
    return ctx.conversation.data.setdefault("fb", {"photos": []})


def local_day(moment: datetime, ctx: Context) -> str:
    return f"{local_date(moment, ctx.settings.timezone):%d/%m/%Y}"


def reply_deadline(now: datetime, category: str, ctx: Context) -> datetime:
    """The end of the N-th working day after today, local time."""
    tz = ctx.settings.tz
    calendar = default_calendar(ctx.settings.holidays_file)
    day = calendar.add_working_days(local_date(now, ctx.settings.timezone),
                                    ctx.settings.feedback_deadline(category))
    return datetime.combine(day, time(23, 59), tz).astimezone(now.tzinfo)


# -- intake -----------------------------------------------------------------------------------


@router.command("phananh", "feedback", "gopy")
async def on_feedback(msg: Incoming, ctx: Context) -> Reply:
    ctx.conversation.end()
    ctx.conversation.goto(CATEGORY)
    return Outgoing(text("feedback.intro"), buttons=category_buttons())


@router.action("menu:phananh")
async def on_menu(msg: Incoming, ctx: Context) -> Reply:
    return await on_feedback(msg, ctx)


@router.step(CATEGORY)
async def on_category_typed(msg: Incoming, ctx: Context) -> Reply:
    return Outgoing(text("feedback.choose_category"), buttons=category_buttons())


@router.action("fb:cat")
async def on_category(msg: Incoming, ctx: Context) -> Reply:
    key = (msg.action or "").rpartition(":")[2]
    if key not in tickets.CATEGORIES:
        return Outgoing(text("feedback.choose_category"), buttons=category_buttons())
    fb = draft(ctx)
    fb["category"] = key
    if fb.get("description"):  # changing the category from the summary
        return confirm(ctx)
    ctx.conversation.goto(DESCRIBE)
    return Outgoing(text("feedback.describe", category=tickets.CATEGORIES[key],
                         min=MIN_DESCRIPTION, max=MAX_DESCRIPTION), buttons=back_to_menu())


@router.step(DESCRIBE)
async def on_description(msg: Incoming, ctx: Context) -> Reply:
    fb = draft(ctx)
    photos = [a for a in msg.attachments if a.kind == "photo"]
    if photos:
        add_photos(fb, msg)
    if not msg.text:
        if photos:
            return Outgoing(text("feedback.got_photo", count=len(fb["photos"])) + "\n"
                            + text("feedback.too_short", min=MIN_DESCRIPTION))
        return fallback(msg)
    if len(msg.text) < MIN_DESCRIPTION:
        return Outgoing(text("feedback.too_short", min=MIN_DESCRIPTION), buttons=back_to_menu())
    notes = []
    if len(msg.text) > MAX_DESCRIPTION:
        notes.append(Outgoing(text("feedback.too_long", max=MAX_DESCRIPTION)))
    fb["description"] = msg.text[:MAX_DESCRIPTION]
    if fb.get("contact_done"):  # editing from the summary
        return [*notes, confirm(ctx)]
    ctx.conversation.goto(EXTRAS)
    # the web page has a photo button and no map pin: it is told what it can send
    return [*notes, Outgoing(text("feedback.extras", web=msg.channel == "web"),
                             buttons=extras_buttons())]


def extras_buttons() -> list[list[Button]]:
    return [[Button(text("feedback.button_next"), action="fb:next")],
            [Button(text("feedback.button_cancel"), action="fb:cancel")]]


def add_photos(fb: dict[str, Any], msg: Incoming) -> None:
    for attachment in msg.attachments:
        if attachment.kind == "photo" and len(fb["photos"]) < MAX_PHOTOS:
            fb["photos"].append({"kind": "photo", "file_id": attachment.file_id,
                                 "url": attachment.url, "channel": msg.channel})


@router.step(EXTRAS)
async def on_extras(msg: Incoming, ctx: Context) -> Reply:
    fb = draft(ctx)
    kinds = {a.kind for a in msg.attachments}
    if "photo" in kinds:
        add_photos(fb, msg)
        return Outgoing(text("feedback.got_photo", count=len(fb["photos"])),
                        buttons=extras_buttons())
    if "location" in kinds:
        location = next(a for a in msg.attachments if a.kind == "location")
        fb["latitude"], fb["longitude"] = location.latitude, location.longitude
        return Outgoing(text("feedback.got_location"), buttons=extras_buttons())
    if msg.text and DOSSIER_RE.match(msg.text.strip()):
        fb["dossier_code"] = msg.text.strip().upper()
        return Outgoing(text("feedback.got_dossier", code=fb["dossier_code"]),
                        buttons=extras_buttons())
    place = " ".join(msg.text.split())
    if len(place) >= MIN_PLACE:  # a typed address where a map pin cannot be sent (the web)
        fb["place"] = place[:MAX_PLACE]
        return Outgoing(text("feedback.got_place", place=fb["place"]), buttons=extras_buttons())
    return Outgoing(text("feedback.extras_only"), buttons=extras_buttons())


@router.action("fb:next")
async def on_next(msg: Incoming, ctx: Context) -> Reply:
    fb = draft(ctx)
    if not fb.get("description"):
        return await on_feedback(msg, ctx)
    if "commune" not in fb:
        fb["commune"] = await known_commune(ctx, fb)
        if fb["commune"] is None:
            return ask_commune(ctx)
    return ask_contact(ctx)


def ask_contact(ctx: Context) -> Outgoing:
    ctx.conversation.goto(CONTACT)
    return Outgoing(text("feedback.contact"), buttons=[
        [Button(text("feedback.button_contact"), action="fb:contact")],
        [Button(text("feedback.button_anonymous"), action="fb:anon")],
    ])


@router.step(CONTACT)
async def on_contact_typed(msg: Incoming, ctx: Context) -> Reply:
    return ask_contact(ctx)


# -- the commune the ticket belongs to ----------------------------------------------------------


async def known_commune(ctx: Context, fb: dict[str, Any]) -> str | None:
    """The commune without asking: the dossier's, the typed place's, the citizen's."""
    from handlers.offices import citizen_commune, named_commune

    code = await tickets.dossier_commune(ctx.session, fb.get("dossier_code"))
    if code is None and fb.get("place"):
        named = named_commune(fb["place"])
        code = named.code if named is not None else None
    if code is None:
        commune = await citizen_commune(ctx)
        code = commune.code if commune is not None else None
    return code


def skip_commune_button() -> list[list[Button]]:
    return [[Button(text("feedback.button_skip"), action="fb:nocommune")]]


def ask_commune(ctx: Context) -> Outgoing:
    ctx.conversation.goto(COMMUNE)
    return Outgoing(text("feedback.ask_commune"), buttons=skip_commune_button())


@router.step(COMMUNE)
async def on_commune_typed(msg: Incoming, ctx: Context) -> Reply:
    from handlers.offices import STATEMENT, communes_in

    statement = STATEMENT.match(fold(msg.text)) if msg.text else None
    found = communes_in(statement.group(1) if statement else msg.text) if msg.text else []
    if len(found) == 1:
        return await commune_chosen(ctx, found[0].code)
    if found:
        return Outgoing(text("feedback.choose_commune"), buttons=[
            [Button(f"{c.name} ({c.province})", action=f"fb:commune:{c.code}")]
            for c in found[:8]] + skip_commune_button())
    return Outgoing(text("feedback.no_commune", query=msg.text[:60]),
                    buttons=skip_commune_button())


@router.action("fb:commune")
async def on_commune(msg: Incoming, ctx: Context) -> Reply:
    commune = get_commune((msg.action or "").rpartition(":")[2])
    if commune is None or not draft(ctx).get("description"):
        raise StaleButton(msg.action)
    return await commune_chosen(ctx, commune.code)


async def commune_chosen(ctx: Context, code: str) -> Reply:
    """The citizen named their commune: the ticket's, and remembered as the citizen's."""
    from bot.db.offices import set_citizen_commune

    fb = draft(ctx)
    fb["commune"] = code
    await set_citizen_commune(ctx.session, ctx.citizen_id, code)
    return confirm(ctx) if fb.get("contact_done") else ask_contact(ctx)


@router.action("fb:nocommune")
async def on_no_commune(msg: Incoming, ctx: Context) -> Reply:
    fb = draft(ctx)
    if not fb.get("description"):
        return await on_feedback(msg, ctx)
    fb["commune"] = None
    return confirm(ctx) if fb.get("contact_done") else ask_contact(ctx)


@router.action("fb:place")
async def on_change_commune(msg: Incoming, ctx: Context) -> Reply:
    if not draft(ctx).get("description"):
        return await on_feedback(msg, ctx)
    return ask_commune(ctx)


@router.action("fb:contact")
async def on_contact(msg: Incoming, ctx: Context) -> Reply:
    draft(ctx)["anonymous"] = False
    ctx.conversation.goto(NAME)
    return Outgoing(text("feedback.ask_name"))


@router.action("fb:anon")
async def on_anonymous(msg: Incoming, ctx: Context) -> Reply:
    fb = draft(ctx)
    fb.update(anonymous=True, name=None, phone=None, contact_done=True)
    return confirm(ctx)


@router.step(NAME)
async def on_name(msg: Incoming, ctx: Context) -> Reply:
    if not msg.text or len(msg.text) > 120:
        return Outgoing(text("feedback.ask_name"))
    draft(ctx)["name"] = msg.text
    ctx.conversation.goto(PHONE)
    return Outgoing(text("feedback.ask_phone"),
                    buttons=[[Button(text("feedback.button_skip"), action="fb:nophone")]])


@router.step(PHONE)
async def on_phone(msg: Incoming, ctx: Context) -> Reply:
    phone = re.sub(r"[\s.\-()]", "", msg.text)
    if not PHONE_RE.match(phone):
        return Outgoing(text("feedback.bad_phone"),
                        buttons=[[Button(text("feedback.button_skip"), action="fb:nophone")]])
    fb = draft(ctx)
    fb.update(phone=phone, contact_done=True)
    return confirm(ctx)


@router.action("fb:nophone")
async def on_no_phone(msg: Incoming, ctx: Context) -> Reply:
    draft(ctx).update(phone=None, contact_done=True)
    return confirm(ctx)


def confirm(ctx: Context) -> Outgoing:
    fb = draft(ctx)
    ctx.conversation.goto(CONFIRM)
    return Outgoing(
        text("feedback.summary", fb=SummaryView(fb),
             category=tickets.CATEGORIES.get(fb.get("category", ""), "")),
        buttons=[
            [Button(text("feedback.button_send"), action="fb:send")],
            [Button(text("feedback.button_edit"), action="fb:edit"),
             Button(text("feedback.button_edit_category"), action="fb:recat")],
            [Button(text("feedback.button_commune"), action="fb:place")],
            [Button(text("feedback.button_cancel"), action="fb:cancel")],
        ],
    )


class SummaryView:
    """The draft as the summary template reads it."""

    def __init__(self, fb: dict[str, Any]) -> None:
        self.description = fb.get("description", "")
        self.photos = fb.get("photos", [])
        self.latitude = fb.get("latitude")
        self.place = fb.get("place")
        self.dossier_code = fb.get("dossier_code")
        self.anonymous = fb.get("anonymous", True)
        self.name = fb.get("name") or ""
        self.phone = fb.get("phone")
        commune = get_commune(fb.get("commune"))
        self.commune = f"{commune.name}, {commune.province}" if commune is not None else ""


@router.step(CONFIRM)
async def on_confirm_typed(msg: Incoming, ctx: Context) -> Reply:
    return confirm(ctx)


@router.action("fb:edit")
async def on_edit(msg: Incoming, ctx: Context) -> Reply:
    ctx.conversation.goto(DESCRIBE)
    return Outgoing(text("feedback.edit_description"))


@router.action("fb:recat")
async def on_recategorise(msg: Incoming, ctx: Context) -> Reply:
    ctx.conversation.goto(CATEGORY)
    return Outgoing(text("feedback.choose_category"), buttons=category_buttons())


@router.action("fb:cancel")
async def on_cancel(msg: Incoming, ctx: Context) -> Reply:
    ctx.conversation.end()
    from handlers.start import with_menu

    return with_menu(text("feedback.cancelled"))


@router.action("fb:send")
async def on_send(msg: Incoming, ctx: Context) -> Reply:
    fb = draft(ctx)
    if ctx.conversation.state != CONFIRM or not fb.get("description"):
        return await on_feedback(msg, ctx)  # a stale button: start again
    category = fb.get("category", "khac")
    description = fb["description"]
    if fb.get("place"):
        description += "\n" + text("feedback.place_line", place=fb["place"])
    ticket = tickets.Ticket(
        citizen_id=ctx.citizen_id, channel=msg.channel, chat_id=msg.chat_id,
        category=category, description=description,
        dossier_code=fb.get("dossier_code"), commune_code=fb.get("commune"),
        latitude=fb.get("latitude"),
        longitude=fb.get("longitude"), contact_name=fb.get("name"),
        contact_phone=fb.get("phone"), anonymous=bool(fb.get("anonymous", True)),
        status=tickets.OPEN, created_at=ctx.now, due_at=reply_deadline(ctx.now, category, ctx),
    )
    await tickets.add_ticket(ctx.session, ticket, ctx.now)
    await tickets.add_message(ctx.session, ticket, "citizen", description,
                              author_name=fb.get("name") or "", attachments=fb["photos"],
                              relayed=True, now=ctx.now)
    ctx.conversation.end()
    return Outgoing(text("feedback.received", code=ticket.code,
                         due=local_day(ticket.due_at, ctx)),
                    buttons=[[Button(text("feedback.button_mine"), action="fb:mine")],
                             *back_to_menu()])


# -- after sending ----------------------------------------------------------------------------


async def own_ticket(ctx: Context, ticket_id: int) -> tickets.Ticket | None:
    ticket = await tickets.get_ticket(ctx.session, ticket_id, lock=True)
    return ticket if ticket is not None and ticket.citizen_id == ctx.citizen_id else None


@router.action("fb:mine")
async def on_mine(msg: Incoming, ctx: Context) -> Reply:
    ctx.conversation.end()
    mine = await tickets.find_citizen_tickets(ctx.session, ctx.citizen_id)
    items = [{"code": t.code, "category": tickets.CATEGORIES.get(t.category, t.category),
              "status": tickets.STATUS_LABELS[t.status], "created": local_day(t.created_at, ctx)}
             for t in mine]
    buttons = [[Button(t.code, action=f"fb:show:{t.id}")] for t in mine]
    buttons.append([Button(text("feedback.button_new"), action="menu:phananh")])
    return Outgoing(text("feedback.mine", items=items), buttons=buttons + back_to_menu())


@router.action("fb:show")
async def on_show(msg: Incoming, ctx: Context) -> Reply:
    ticket = await own_ticket(ctx, need_id(msg.action, 2))
    if ticket is None:
        return Outgoing(text("feedback.not_yours"), buttons=back_to_menu())
    messages = await tickets.find_messages(ctx.session, ticket.id)
    buttons = []
    if ticket.status != tickets.CLOSED:
        buttons.append([Button(text("feedback.button_answer"), action=f"fb:answer:{ticket.id}")])
    buttons.append([Button(text("feedback.button_mine"), action="fb:mine")])
    return Outgoing(text("feedback.detail", t=ticket,
                         category=tickets.CATEGORIES.get(ticket.category, ""),
                         status=tickets.STATUS_LABELS[ticket.status], messages=messages,
                         created=local_day(ticket.created_at, ctx),
                         due=local_day(ticket.due_at, ctx)),
                    buttons=buttons + back_to_menu())


@router.action("fb:answer")
async def on_answer(msg: Incoming, ctx: Context) -> Reply:
    ticket = await own_ticket(ctx, need_id(msg.action, 2))
    if ticket is None:
        return Outgoing(text("feedback.not_yours"), buttons=back_to_menu())
    if ticket.status == tickets.CLOSED:
        return Outgoing(text("feedback.already_closed", code=ticket.code), buttons=back_to_menu())
    ctx.conversation.goto(ANSWER, ticket=ticket.id)
    return Outgoing(text("feedback.ask_answer", code=ticket.code))


@router.step(ANSWER)
async def on_answer_text(msg: Incoming, ctx: Context) -> Reply:
    ticket_id = ctx.conversation.data.get("ticket")
    ticket = await own_ticket(ctx, ticket_id) if isinstance(ticket_id, int) else None
    ctx.conversation.end()
    if ticket is None:
        return Outgoing(text("feedback.not_yours"), buttons=back_to_menu())
    photos = [{"kind": "photo", "file_id": a.file_id, "url": a.url, "channel": msg.channel}
              for a in msg.attachments if a.kind == "photo"]
    if not msg.text and not photos:
        ctx.conversation.goto(ANSWER, ticket=ticket.id)
        return fallback(msg)
    if ticket.status == tickets.CLOSED:
        return Outgoing(text("feedback.already_closed", code=ticket.code), buttons=back_to_menu())
    await tickets.add_message(ctx.session, ticket, "citizen", msg.text[:MAX_DESCRIPTION],
                              attachments=photos, relayed=False, now=ctx.now)
    ticket.status = tickets.OPEN  # the citizen wrote back: staff have something to answer
    return Outgoing(text("feedback.answer_sent", code=ticket.code),
                    buttons=[[Button(text("feedback.button_mine"), action="fb:mine")],
                             *back_to_menu()])


@router.action("fb:rate")
async def on_rate(msg: Incoming, ctx: Context) -> Reply:
    score = action_number(msg.action, 3, min(tickets.RATINGS), max(tickets.RATINGS))
    if score not in tickets.RATINGS:
        raise StaleButton(msg.action)
    ticket = await own_ticket(ctx, need_id(msg.action, 2))
    if ticket is None:
        return Outgoing(text("feedback.not_yours"), buttons=back_to_menu())
    if ticket.rating is not None:
        return Outgoing(text("feedback.already_rated"), buttons=back_to_menu())
    ticket.rating = score
    level = tickets.RATINGS[ticket.rating]
    await tickets.add_message(ctx.session, ticket, "system",
                              text("feedback.citizen_rated", code=ticket.code, level=level),
                              relayed=False, now=ctx.now)
    if ticket.rating > 1:
        return Outgoing(text("feedback.rated", level=level), buttons=back_to_menu())
    can_reopen = ticket.reopen_count == 0 and ticket.status == tickets.CLOSED
    buttons = [[Button(text("feedback.button_reopen"), action=f"fb:reopen:{ticket.id}")]] \
        if can_reopen else []
    return Outgoing(text("feedback.rated_unhappy", can_reopen=can_reopen),
                    buttons=buttons + back_to_menu())


@router.action("fb:reopen")
async def on_reopen(msg: Incoming, ctx: Context) -> Reply:
    ticket = await own_ticket(ctx, need_id(msg.action, 2))
    if ticket is None:
        return Outgoing(text("feedback.not_yours"), buttons=back_to_menu())
    if ticket.reopen_count > 0 or ticket.status != tickets.CLOSED:
        return Outgoing(text("feedback.cannot_reopen"), buttons=back_to_menu())
    ticket.status = tickets.OPEN
    ticket.reopen_count += 1
    ticket.closed_at = None
    ticket.rating = None
    ticket.due_at = reply_deadline(ctx.now, ticket.category, ctx)
    await tickets.add_message(ctx.session, ticket, "system",
                              text("feedback.citizen_reopened", code=ticket.code),
                              relayed=False, now=ctx.now)
    return Outgoing(text("feedback.reopened", code=ticket.code), buttons=back_to_menu())


def rating_buttons(ticket_id: int) -> list[list[Button]]:
    return [[Button(label, action=f"fb:rate:{ticket_id}:{score}")]
            for score, label in tickets.RATINGS.items()]


def photo_attachment(item: dict[str, Any]) -> Attachment:
    return Attachment("photo", file_id=item.get("file_id"), url=item.get("url"))

