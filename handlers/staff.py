"""The staff group: replies to citizens and the ticket commands.

A staff member writes in a ticket's forum topic (or replies to the bot's message about a
ticket); the reply is stored and reaches the citizen through the outbox, on the channel they
wrote from. Commands: /dong close, /mo reopen, /giao assign, /mau canned replies, /ds open
tickets by age, /phananh CODE show one. Only staff act: anyone in a staff group, or a user
on STAFF_USER_IDS anywhere. A commune's staff group sees, answers and counts only its
communes' tickets (bot/staffscope.py); another commune's ticket is refused in one line.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select

from bot.db import feedback as tickets
from bot.db.models import OutboxMessage
from bot.messages import Attachment, Button, ChatRef, Incoming, Outgoing
from bot.outbox import enqueue
from bot.router import Context, Reply, Router, action_id
from bot.staffscope import of_message
from handlers.feedback import local_day, rating_buttons, reply_deadline
from handlers.texts import text
from scheduler.quiet import local_date

router = Router()

CODE_RE = re.compile(r"^PA-\d{4}-\d{4,}$", re.IGNORECASE)
CHANNEL_NAMES = {"telegram": "Telegram", "web": "trang web", "zalo_oa": "Zalo OA",
                 "zalo_bot": "Zalo", "console": "dòng lệnh"}


def staff_name(msg: Incoming) -> str:
    return msg.display_name or f"cán bộ {msg.user_id}"


async def ticket_of(msg: Incoming, ctx: Context, args: str = "") -> tuple[Any, str]:
    """The ticket a staff message is about — named by code, by the forum topic, or by the
    message it replies to — and the rest of the arguments."""
    first, _, rest = args.strip().partition(" ")
    if CODE_RE.match(first):
        return await tickets.get_ticket(ctx.session, first, lock=True), rest.strip()
    if msg.thread_id:
        ticket = await tickets.ticket_by_thread(
            ctx.session, msg.chat_id, msg.thread_id,
            province_wide=msg.chat_id == str(ctx.settings.telegram_staff_chat_id))
        if ticket is not None:
            return await tickets.get_ticket(ctx.session, ticket.id, lock=True), args.strip()
    if msg.reply_to:
        ref = await ctx.session.scalar(
            select(OutboxMessage.ref).where(
                OutboxMessage.channel == msg.channel, OutboxMessage.chat_id == msg.chat_id,
                OutboxMessage.platform_message_id == msg.reply_to,
                OutboxMessage.ref.like("ticket:%"))
        )
        ticket_id = action_id(ref, 1)  # "ticket:<id>", same form as a button's
        if ticket_id is not None:
            return await tickets.get_ticket(ctx.session, ticket_id, lock=True), args.strip()
    return None, args.strip()


def out_of_scope(msg: Incoming, ctx: Context, ticket: tickets.Ticket) -> Outgoing | None:
    """The refusal when the ticket belongs to a commune this staff chat does not serve."""
    if of_message(msg, ctx.settings).serves(ticket.commune_code):
        return None
    return Outgoing(text("feedback.other_commune", code=ticket.code))


async def scoped_ticket_of(msg: Incoming, ctx: Context,
                           args: str = "") -> tuple[Any, str, Outgoing | None]:
    """`ticket_of`, and the refusal if the ticket is another commune's."""
    ticket, rest = await ticket_of(msg, ctx, args)
    return ticket, rest, out_of_scope(msg, ctx, ticket) if ticket is not None else None


TicketHandler = Callable[[Incoming, Context, tickets.Ticket, str], Awaitable[Reply]]


def ticket_command(*names: str) -> Callable[[TicketHandler], TicketHandler]:
    """A staff command about one ticket (named by code, topic or reply). The handler gets
    the ticket and the rest of the arguments; without a ticket, staff are told so."""

    def register(handler: TicketHandler) -> TicketHandler:
        @router.staff_command(*names)
        async def with_ticket(msg: Incoming, ctx: Context) -> Reply:
            ticket, rest, refused = await scoped_ticket_of(
                msg, ctx, msg.command[1] if msg.command else "")
            if ticket is None:
                return Outgoing(text("feedback.no_ticket"))
            return refused or await handler(msg, ctx, ticket, rest)

        return handler

    return register


async def tell_citizen(ctx: Context, ticket: tickets.Ticket, message: Outgoing, key: str,
                       purpose: str = "ticket_reply") -> None:
    await enqueue(ctx.session, ChatRef(ticket.channel, ticket.chat_id), message, key=key,
                  purpose=purpose, ref=f"ticket:{ticket.id}")
    wake_sender(ctx, ticket.channel)


def wake_sender(ctx: Context, channel: str) -> None:
    sender = (ctx.service("senders") or {}).get(channel)
    if sender is not None:
        sender.notify()


def citizen_buttons(ticket: tickets.Ticket) -> list[list[Button]]:
    return [[Button(text("feedback.button_answer"), action=f"fb:answer:{ticket.id}")],
            [Button(text("feedback.button_mine"), action="fb:mine")]]


@router.staff_message_handler
async def on_staff_message(msg: Incoming, ctx: Context) -> Reply:
    """A staff member's message in a ticket's topic, or a reply to the bot's ticket message."""
    ticket, _, refused = await scoped_ticket_of(msg, ctx)
    if ticket is None:
        return None  # staff talking among themselves
    if refused is not None:
        return refused
    if ticket.status == tickets.CLOSED:
        return Outgoing(text("feedback.relay_closed", code=ticket.code))
    return await relay(msg, ctx, ticket, msg.text)


async def relay(msg: Incoming, ctx: Context, ticket: tickets.Ticket, body: str) -> Reply:
    photos = [a for a in msg.attachments if a.kind == "photo"]
    if not body and not photos:
        return None
    await tickets.add_message(ctx.session, ticket, "staff", body, author_name=staff_name(msg),
                              attachments=[{"kind": "photo", "file_id": p.file_id}
                                           for p in photos], now=ctx.now)
    if ticket.status == tickets.OPEN:
        ticket.status = tickets.ANSWERED
    ticket.first_reply_at = ticket.first_reply_at or ctx.now
    if body:
        await tell_citizen(ctx, ticket, Outgoing(text("feedback.staff_reply", code=ticket.code,
                                                      text=body),
                                                 buttons=citizen_buttons(ticket)),
                           key=f"ticket-reply:{msg.update_key}")
    for index, photo in enumerate(photos):
        same_platform = ticket.channel == msg.channel
        reply = Outgoing("", photo=Attachment("photo", file_id=photo.file_id)) \
            if same_platform else Outgoing(text("feedback.staff_photo", code=ticket.code))
        await tell_citizen(ctx, ticket, reply, key=f"ticket-reply:{msg.update_key}:{index}")
    return Outgoing(text("feedback.relayed"), reply_to=msg.message_id)


@ticket_command("traloi", "reply")
async def on_reply_command(msg: Incoming, ctx: Context, ticket: tickets.Ticket,
                           body: str) -> Reply:
    """/traloi CODE text: answer a ticket from anywhere (and from `motcua tickets reply`)."""
    if ticket.status == tickets.CLOSED:
        return Outgoing(text("feedback.relay_closed", code=ticket.code))
    msg.attachments = []
    return await relay(msg, ctx, ticket, body)


@ticket_command("dong", "close")
async def on_close(msg: Incoming, ctx: Context, ticket: tickets.Ticket, resolution: str) -> Reply:
    if not resolution:
        return Outgoing(text("feedback.need_resolution"))
    ticket.status = tickets.CLOSED
    ticket.closed_at = ctx.now
    ticket.resolution = resolution
    ticket.first_reply_at = ticket.first_reply_at or ctx.now
    await tickets.add_message(ctx.session, ticket, "staff", f"[Đóng] {resolution}",
                              author_name=staff_name(msg), now=ctx.now)
    await tell_citizen(ctx, ticket, Outgoing(text("feedback.closed", code=ticket.code,
                                                  resolution=resolution),
                                             buttons=rating_buttons(ticket.id)),
                       key=f"ticket-close:{msg.update_key}", purpose="ticket_closed")
    return Outgoing(text("feedback.staff_closed", code=ticket.code))


@ticket_command("mo", "reopen")
async def on_reopen(msg: Incoming, ctx: Context, ticket: tickets.Ticket, _rest: str) -> Reply:
    if ticket.status != tickets.CLOSED:
        return Outgoing(text("feedback.staff_not_closed", code=ticket.code))
    ticket.status = tickets.OPEN
    ticket.closed_at = None
    ticket.due_at = reply_deadline(ctx.now, ticket.category, ctx)
    await tell_citizen(ctx, ticket, Outgoing(text("feedback.reopened_by_staff",
                                                  code=ticket.code)),
                       key=f"ticket-reopen:{msg.update_key}")
    return Outgoing(text("feedback.staff_reopened", code=ticket.code))


@ticket_command("giao", "assign")
async def on_assign(msg: Incoming, ctx: Context, ticket: tickets.Ticket, name: str) -> Reply:
    if not name:
        return Outgoing(text("feedback.need_assignee"))
    ticket.assigned_to = name[:120]
    return Outgoing(text("feedback.assigned", code=ticket.code, name=ticket.assigned_to))


@router.staff_command("ds", "list")
async def on_list(msg: Incoming, ctx: Context) -> Reply:
    today = local_date(ctx.now, ctx.settings.timezone)
    items = [{
        "code": t.code, "category": tickets.CATEGORIES.get(t.category, t.category),
        "age": (today - local_date(t.created_at, ctx.settings.timezone)).days,
        "due": local_day(t.due_at, ctx), "overdue": t.due_at < ctx.now,
        "status": tickets.STATUS_LABELS[t.status], "assigned": t.assigned_to,
    } for t in await tickets.find_open_tickets(ctx.session, of_message(msg, ctx.settings))]
    return Outgoing(text("feedback.open_list", items=items))


@ticket_command("phananh", "ticket")
async def on_show(msg: Incoming, ctx: Context, ticket: tickets.Ticket, _rest: str) -> Reply:
    """One ticket for staff: the card, the exchange so far, and how to answer from where
    they are (the staff group, or `motcua tickets` on the console)."""
    messages = [{"author": m.author, "name": m.author_name, "text": m.text,
                 "photos": len(m.attachments or []),
                 "when": f"{m.created_at.astimezone(ctx.settings.tz):%H:%M %d/%m}"}
                for m in await tickets.find_messages(ctx.session, ticket.id)
                if not (m.author == "citizen" and m.text == ticket.description)]
    return Outgoing(text("feedback.staff_detail", t=ticket,
                         category=tickets.CATEGORIES.get(ticket.category, ""),
                         channel=CHANNEL_NAMES.get(ticket.channel, ticket.channel),
                         status=tickets.STATUS_LABELS[ticket.status], messages=messages,
                         created=local_day(ticket.created_at, ctx),
                         due=local_day(ticket.due_at, ctx), cli=msg.channel == "console"))


def card(ticket: tickets.Ticket, ctx: Context | None = None, *, threaded: bool = False,
         timezone: str | None = None) -> Outgoing:
    tz = timezone or (ctx.settings.timezone if ctx else "Asia/Ho_Chi_Minh")
    return Outgoing(text(
        "feedback.card", t=ticket, category=tickets.CATEGORIES.get(ticket.category, ""),
        channel=CHANNEL_NAMES.get(ticket.channel, ticket.channel),
        created=f"{local_date(ticket.created_at, tz):%d/%m/%Y}",
        due=f"{local_date(ticket.due_at, tz):%d/%m/%Y}", threaded=threaded,
    ))


@router.staff_command("mau", "template")
async def on_template(msg: Incoming, ctx: Context) -> Reply:
    args = msg.command[1] if msg.command else ""
    verb, _, rest = args.partition(" ")
    if verb.lower() == "xem":  # a preview of the scheduler's letters (documents/letters.py)
        from documents.letters import preview_reply

        return preview_reply(rest, ctx.settings, ctx.now)
    if verb.lower() in ("them", "thêm", "sua", "sửa"):
        name, _, body = rest.strip().partition(" ")
        if not name or not body.strip():
            return Outgoing(text("feedback.templates",
                                 items=await tickets.find_templates(ctx.session)))
        existing = await ctx.session.get(tickets.ReplyTemplate, name.lower())
        if existing is None:
            ctx.session.add(tickets.ReplyTemplate(name=name.lower(), text=body.strip(),
                                                  updated_by=staff_name(msg),
                                                  updated_at=ctx.now))
        else:
            existing.text, existing.updated_by, existing.updated_at = (
                body.strip(), staff_name(msg), ctx.now)
        return Outgoing(text("feedback.template_saved", name=name.lower()))
    if verb.lower() in ("xoa", "xoá", "xóa"):
        existing = await ctx.session.get(tickets.ReplyTemplate, rest.strip().lower())
        if existing is None:
            return Outgoing(text("feedback.template_unknown", name=rest.strip()))
        await ctx.session.delete(existing)
        return Outgoing(text("feedback.template_deleted", name=existing.name))
    if not verb:
        return Outgoing(text("feedback.templates",
                             items=await tickets.find_templates(ctx.session)))
    template = await ctx.session.get(tickets.ReplyTemplate, verb.lower())
    if template is None:
        return Outgoing(text("feedback.template_unknown", name=verb))
    ticket, _, refused = await scoped_ticket_of(msg, ctx, rest)
    if ticket is None:
        return Outgoing(text("feedback.no_ticket"))
    if refused is not None:
        return refused
    if ticket.status == tickets.CLOSED:
        return Outgoing(text("feedback.relay_closed", code=ticket.code))
    msg.attachments = []
    return await relay(msg, ctx, ticket, template.text)

