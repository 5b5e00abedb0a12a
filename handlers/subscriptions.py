"""Commune notices, both sides.

Citizens: `/dangky` (`/subscribe`, menu "Nhận thông báo của xã/phường") finds the province and
then the commune by typing (accent-insensitive, the 2025 units), and subscribes this chat to
its notices — the explicit consent for notices, recorded; the same command lists and removes
subscriptions.

Staff (`/thongbao` in the staff group, or anywhere for STAFF_USER_IDS): text and optional
photo → target communes by typing → send time → normal or urgent → submit; another staff
member approves ("Duyệt") when NOTICE_APPROVAL_REQUIRED; scheduler/notices.py delivers and
reports. In the staff group, messages are steps of this flow only while a member is in it;
otherwise they go on to the ticket relay (handlers/staff.py).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from bot.db import scheduler as store
from bot.messages import Button, Incoming, Outgoing
from bot.router import Context, Reply, Router, StaleButton, need_id
from handlers import staff
from handlers.start import back_to_menu
from handlers.texts import text
from handlers.units import find_communes, find_provinces, get_commune, provinces
from scheduler.quiet import sending_hours

router = Router()

PROVINCE, COMMUNE = "subs.province", "subs.commune"
NT_TEXT, NT_TARGETS, NT_TIME = "notice.text", "notice.targets", "notice.time"
TIME_RE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2})[:hg](\d{2})\s*$")


def unit_label(code: str) -> str:
    unit = get_commune(code)
    return unit.name if unit else code


# -- citizens -------------------------------------------------------------------------------


@router.command("dangky", "subscribe")
async def on_subscribe(msg: Incoming, ctx: Context) -> Reply:
    ctx.conversation.end()
    mine = await store.find_commune_subscriptions(ctx.session, msg.channel, msg.chat_id)
    if not mine:
        ctx.conversation.goto(PROVINCE)
        return Outgoing(text("notices.ask_province"), buttons=back_to_menu())
    names = [unit_label(s.commune_code) for s in mine]
    buttons = [[Button(text("notices.button_remove", name=name),
                       action=f"sub:del:{s.commune_code}")]
               for s, name in zip(mine, names, strict=True)]
    return Outgoing(text("notices.my_communes", names=names),
                    buttons=[[Button(text("notices.button_add"), action="sub:add")], *buttons,
                             *back_to_menu()])


@router.action("menu:dangky")
async def on_menu(msg: Incoming, ctx: Context) -> Reply:
    return await on_subscribe(msg, ctx)


@router.action("sub:add")
async def on_add(msg: Incoming, ctx: Context) -> Reply:
    ctx.conversation.end()
    ctx.conversation.goto(PROVINCE)
    return Outgoing(text("notices.ask_province"), buttons=back_to_menu())


@router.step(PROVINCE)
async def on_province(msg: Incoming, ctx: Context) -> Reply:
    found = find_provinces(msg.text)
    if not found:
        return Outgoing(text("notices.no_province", query=msg.text[:60]), buttons=back_to_menu())
    if len(found) == 1:
        return ask_commune(ctx, found[0].code, found[0].name)
    return Outgoing(text("notices.choose_province"),
                    buttons=[[Button(p.name, action=f"sub:prov:{p.code}")] for p in found])


def ask_commune(ctx: Context, province_code: str, province_name: str) -> Outgoing:
    ctx.conversation.goto(COMMUNE, province=province_code, province_name=province_name)
    example = next((bare_name(c.name) for p in provinces() if p.code == province_code
                    for c in p.communes), "")
    return Outgoing(text("notices.ask_commune", province=province_name, example=example),
                    buttons=back_to_menu())


def bare_name(name: str) -> str:
    """"Phường Âu Lâu" -> "Âu Lâu": the name as a citizen would type it."""
    for kind in ("Xã ", "Phường ", "Đặc khu "):
        if name.startswith(kind):
            return name[len(kind):]
    return name


@router.action("sub:prov")
async def on_province_chosen(msg: Incoming, ctx: Context) -> Reply:
    code = (msg.action or "").rpartition(":")[2]
    found = [p for p in provinces() if p.code == code]
    if not found:
        return await on_add(msg, ctx)
    return ask_commune(ctx, found[0].code, found[0].name)


@router.step(COMMUNE)
async def on_commune(msg: Incoming, ctx: Context) -> Reply:
    province = str(ctx.conversation.data.get("province", ""))
    province_name = str(ctx.conversation.data.get("province_name", ""))
    found = find_communes(msg.text, province or None)
    if not found:
        return Outgoing(text("notices.no_commune", query=msg.text[:60], province=province_name),
                        buttons=back_to_menu())
    return Outgoing(text("notices.choose_commune"),
                    buttons=[[Button(c.name, action=f"sub:pick:{c.code}")] for c in found])


@router.action("sub:pick")
async def on_pick(msg: Incoming, ctx: Context) -> Reply:
    unit = get_commune((msg.action or "").rpartition(":")[2])
    if unit is None:
        return await on_add(msg, ctx)
    ctx.conversation.end()
    added = await store.add_commune_subscription(ctx.session, ctx.citizen_id, msg.channel,
                                                 msg.chat_id, unit.code, ctx.now)
    await store.set_consent(ctx.session, ctx.citizen_id, store.NOTICES, True, msg.channel,
                            ctx.now, source=f"commune:{unit.code}")
    if not added:
        return Outgoing(text("notices.already", commune=unit.name), buttons=back_to_menu())
    return Outgoing(text("notices.subscribed", commune=unit.name, province=unit.province,
                         hours=sending_hours(ctx.settings.quiet_window)),
                    buttons=[[Button(text("notices.button_add"), action="sub:add")],
                             *back_to_menu()])


@router.action("sub:del")
async def on_remove(msg: Incoming, ctx: Context) -> Reply:
    code = (msg.action or "").rpartition(":")[2]
    removed = False
    for sub in await store.find_commune_subscriptions(ctx.session, msg.channel, msg.chat_id):
        if sub.commune_code == code:
            await ctx.session.delete(sub)
            removed = True
    if not removed and get_commune(code) is None:
        raise StaleButton(msg.action)  # not a commune: nothing to echo back
    return Outgoing(text("notices.removed", commune=unit_label(code)), buttons=back_to_menu())


# -- staff: writing a notice ----------------------------------------------------------------


def is_staff(msg: Incoming, ctx: Context) -> bool:
    return msg.is_staff_chat or (msg.channel, msg.user_id) in ctx.settings.staff_ids


def draft(ctx: Context) -> dict[str, Any]:
    return ctx.conversation.data.setdefault("nt", {"targets": []})


def local_when(moment: datetime, ctx: Context) -> str:
    return f"{moment.astimezone(ctx.settings.tz):%H:%M %d/%m/%Y}"


@router.staff_command("thongbao", "notice")
async def on_notice(msg: Incoming, ctx: Context) -> Reply:
    ctx.conversation.end()
    first = msg.command[1] if msg.command else ""
    if first:
        draft(ctx)["text"] = first
        ctx.conversation.goto(NT_TARGETS)
        return Outgoing(text("notices.ask_targets", selected=[]))
    ctx.conversation.goto(NT_TEXT)
    return Outgoing(text("notices.ask_text"))


@router.step(NT_TEXT)
async def on_notice_text(msg: Incoming, ctx: Context) -> Reply:
    photos = [a for a in msg.attachments if a.kind == "photo"]
    if not msg.text:
        return Outgoing(text("notices.ask_text"))
    nt = draft(ctx)
    nt["text"] = msg.text[:3500]
    if photos:
        nt["photo"] = {"file_id": photos[0].file_id, "url": photos[0].url,
                       "channel": msg.channel}
    ctx.conversation.goto(NT_TARGETS)
    return Outgoing(text("notices.ask_targets", selected=[]))


def targets_done_button(nt: dict[str, Any]) -> list[list[Button]]:
    if not nt["targets"]:
        return []
    return [[Button(text("notices.button_targets_done", count=len(nt["targets"])),
                    action="nt:done")]]


@router.step(NT_TARGETS)
async def on_notice_target(msg: Incoming, ctx: Context) -> Reply:
    nt = draft(ctx)
    found = find_communes(msg.text, limit=8) if msg.text else []
    if not found:
        return Outgoing(text("notices.no_target", query=msg.text[:60]),
                        buttons=targets_done_button(nt))
    return Outgoing(text("notices.choose_commune"),
                    buttons=[[Button(f"{c.name} ({c.province})", action=f"nt:c:{c.code}")]
                             for c in found] + targets_done_button(nt))


@router.action("nt:c")
async def on_notice_target_chosen(msg: Incoming, ctx: Context) -> Reply:
    unit = get_commune((msg.action or "").rpartition(":")[2])
    if not is_staff(msg, ctx) or ctx.conversation.state != NT_TARGETS or unit is None:
        return None
    nt = draft(ctx)
    if unit.code not in nt["targets"]:
        nt["targets"].append(unit.code)
    return Outgoing(text("notices.ask_targets", selected=[unit_label(c) for c in nt["targets"]]),
                    buttons=targets_done_button(nt))


@router.action("nt:done")
async def on_notice_targets_done(msg: Incoming, ctx: Context) -> Reply:
    if not is_staff(msg, ctx) or ctx.conversation.state != NT_TARGETS or \
            not draft(ctx)["targets"]:
        return None
    ctx.conversation.goto(NT_TIME)
    return Outgoing(text("notices.ask_time"),
                    buttons=[[Button(text("notices.button_now"), action="nt:t:now")]])


def parse_time(value: str, ctx: Context) -> datetime | None:
    match = TIME_RE.match(value)
    if not match:
        return None
    day, month, year, hour, minute = (int(g) for g in match.groups())
    try:
        moment = datetime(year, month, day, hour, minute, tzinfo=ctx.settings.tz)
    except ValueError:
        return None
    return moment if moment >= ctx.now - timedelta(minutes=1) else None


@router.step(NT_TIME)
async def on_notice_time(msg: Incoming, ctx: Context) -> Reply:
    moment = parse_time(msg.text, ctx)
    if moment is None:
        return Outgoing(text("notices.bad_time"),
                        buttons=[[Button(text("notices.button_now"), action="nt:t:now")]])
    return ask_urgency(ctx, moment)


@router.action("nt:t")
async def on_notice_now(msg: Incoming, ctx: Context) -> Reply:
    if not is_staff(msg, ctx) or ctx.conversation.state != NT_TIME:
        return None
    return ask_urgency(ctx, ctx.now)


def ask_urgency(ctx: Context, moment: datetime) -> Outgoing:
    draft(ctx)["send_at"] = moment.isoformat()
    ctx.conversation.goto(NT_TIME, nt=draft(ctx))
    return Outgoing(text("notices.ask_urgency", quiet=ctx.settings.quiet_hours),
                    buttons=[[Button(text("notices.button_normal"), action="nt:u:0")],
                             [Button(text("notices.button_urgent"), action="nt:u:1")]])


@router.action("nt:u")
async def on_notice_urgency(msg: Incoming, ctx: Context) -> Reply:
    nt = draft(ctx)
    if not is_staff(msg, ctx) or ctx.conversation.state != NT_TIME or "send_at" not in nt:
        return None
    nt["urgent"] = (msg.action or "").endswith(":1")
    recipients = await store.find_notice_recipients(ctx.session, nt["targets"])
    view = {"targets": [unit_label(c) for c in nt["targets"]], "recipients": len(recipients),
            "when": local_when(datetime.fromisoformat(nt["send_at"]), ctx),
            "urgent": nt["urgent"], "photo": bool(nt.get("photo")), "text": nt["text"]}
    return Outgoing(text("notices.summary", d=view),
                    buttons=[[Button(text("notices.button_submit"), action="nt:submit")],
                             [Button(text("notices.button_cancel"), action="nt:cancel")]])


@router.action("nt:cancel")
async def on_notice_cancel(msg: Incoming, ctx: Context) -> Reply:
    if not is_staff(msg, ctx):
        return None
    ctx.conversation.end()
    return Outgoing(text("notices.cancelled"))


@router.action("nt:submit")
async def on_notice_submit(msg: Incoming, ctx: Context) -> Reply:
    nt = draft(ctx)
    if not is_staff(msg, ctx) or "urgent" not in nt or "send_at" not in nt:
        return None
    ctx.conversation.end()
    notice = await create_notice(ctx, msg, nt)
    targets = [unit_label(c) for c in notice.communes]
    when = local_when(notice.send_at, ctx)
    if notice.status == store.APPROVED:
        return Outgoing(text("notices.approved_now", id=notice.id, author=notice.author_name,
                             targets=targets, when=when))
    return Outgoing(text("notices.pending", id=notice.id, author=notice.author_name,
                         targets=targets, when=when, urgent=notice.urgent),
                    buttons=[[Button(text("notices.button_approve"), action=f"nt:ok:{notice.id}"),
                              Button(text("notices.button_reject"),
                                     action=f"nt:no:{notice.id}")]])


async def create_notice(ctx: Context, msg: Incoming, nt: dict[str, Any]) -> store.Notice:
    approved = not ctx.settings.notice_approval_required
    notice = store.Notice(
        text=nt["text"], photo=nt.get("photo"), communes=list(nt["targets"]),
        send_at=datetime.fromisoformat(nt["send_at"]), urgent=bool(nt["urgent"]),
        status=store.APPROVED if approved else store.PENDING,
        author=f"{msg.channel}:{msg.user_id}", author_name=staff.staff_name(msg)[:150],
        report_channel=msg.channel, report_chat_id=msg.chat_id, report_thread_id=msg.thread_id,
        approved_by=None, approved_at=ctx.now if approved else None, recipients=0,
        created_at=ctx.now)
    ctx.session.add(notice)
    await ctx.session.flush()
    return notice


@router.action("nt:ok")
async def on_notice_approve(msg: Incoming, ctx: Context) -> Reply:
    return await decide(msg, ctx, approve=True)


@router.action("nt:no")
async def on_notice_reject(msg: Incoming, ctx: Context) -> Reply:
    return await decide(msg, ctx, approve=False)


async def decide(msg: Incoming, ctx: Context, *, approve: bool) -> Reply:
    if not is_staff(msg, ctx):
        return None
    notice = await ctx.session.get(store.Notice, need_id(msg.action), with_for_update=True)
    if notice is None:
        return Outgoing(text("notices.unknown_notice"))
    if notice.status != store.PENDING:
        return Outgoing(text("notices.not_pending", id=notice.id, status=notice.status))
    if approve and notice.author == f"{msg.channel}:{msg.user_id}":
        return Outgoing(text("notices.own_notice"))
    by = staff.staff_name(msg)
    if not approve:
        notice.status = store.REJECTED
        return Outgoing(text("notices.rejected", id=notice.id, by=by))
    notice.status = store.APPROVED
    notice.approved_by = f"{msg.channel}:{msg.user_id}"
    notice.approved_at = ctx.now
    return Outgoing(text("notices.approved", id=notice.id, by=by,
                         when=local_when(max(notice.send_at, ctx.now), ctx)))


# -- the staff group: the flow's steps first, then the ticket relay --------------------------


@router.staff_message_handler
async def on_staff_message(msg: Incoming, ctx: Context) -> Reply:
    state = ctx.conversation.state
    if state is not None and state.startswith("notice.") and state in router.steps:
        return await router.steps[state](msg, ctx)
    return await staff.on_staff_message(msg, ctx)
