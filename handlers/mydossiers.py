""""Hồ sơ của tôi": the dossiers this chat follows, with their status, and a button to stop
following each. Reached by the menu, `/hosocuatoi` (`/mydossiers`), typing "hồ sơ của tôi",
and from `/caidat`. Actions: `menu:hosocuatoi` · `mine:stop:<dossier id>`.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.db import dossiers as repo
from bot.db.dossiers import Dossier, DossierSubscription
from bot.messages import Button, Incoming, Outgoing
from bot.router import Context, Reply, Router, need_id
from documents.dates import format_date
from handlers import dossiers
from handlers.start import back_to_menu, plain
from handlers.texts import text

router = Router()

PHRASES = {"ho so cua toi", "ho so cua em", "ho so cua minh", "hs cua toi", "hs cua em",
           "cac ho so cua toi", "ho so toi theo doi", "ho so dang theo doi", "xem ho so cua toi",
           "ho so cua toi dau", "ho so toi da nop", "ho so da nop", "my dossiers"}
SHOWN = 10


async def find_followed(ctx: Context, msg: Incoming) -> list[Dossier]:
    """The dossiers this chat receives status messages about, latest subscription first."""
    return list(await ctx.session.scalars(
        select(Dossier).join(DossierSubscription, DossierSubscription.dossier_id == Dossier.id)
        .where(DossierSubscription.channel == msg.channel,
               DossierSubscription.chat_id == msg.chat_id,
               DossierSubscription.active.is_(True))
        .order_by(DossierSubscription.subscribed_at.desc(), DossierSubscription.id.desc())
        .limit(SHOWN)))


async def my_dossiers(msg: Incoming, ctx: Context, note: str = "") -> Outgoing:
    followed = await find_followed(ctx, msg)
    if not followed:
        return Outgoing("\n\n".join(filter(None, [note, text("mine.nothing_followed")])),
                        buttons=[[Button(text("start.menu_dossier"), action="menu:hoso")],
                                 *back_to_menu()])
    tz = ctx.settings.timezone
    rows = [{"code": d.code, "procedure": d.procedure_name, "status": d.status,
             "overdue": d.is_overdue(ctx.now), "due": format_date(d.due_at, tz)}
            for d in followed]
    buttons = [[Button(text("mine.button_view", code=d.code), action=f"dossier:view:{d.id}"),
                Button(text("mine.button_stop"), action=f"mine:stop:{d.id}")] for d in followed]
    return Outgoing("\n\n".join(filter(None, [note, text("mine.list", rows=rows)])),
                    buttons=buttons + back_to_menu())


@router.command("hosocuatoi", "mydossiers")
async def on_command(msg: Incoming, ctx: Context) -> Reply:
    ctx.conversation.end()
    return await my_dossiers(msg, ctx)


@router.action("menu:hosocuatoi")
async def on_menu(msg: Incoming, ctx: Context) -> Reply:
    return await on_command(msg, ctx)


@router.on_text
async def on_text(msg: Incoming, ctx: Context) -> list[Outgoing] | None:
    return [await my_dossiers(msg, ctx)] if plain(msg.text) in PHRASES else None


@router.action("mine:stop")
async def on_stop(msg: Incoming, ctx: Context) -> Reply:
    """Stop one dossier's status messages for this chat (only a chat that follows it)."""
    dossier_id = need_id(msg.action)
    access = await repo.get_subscription(ctx.session, dossier_id, msg.channel, msg.chat_id)
    dossier = await repo.get_dossier_by_id(ctx.session, dossier_id) if access else None
    if access is None or dossier is None or \
            not await repo.set_subscribed(ctx.session, access, False, ctx.now):
        return await my_dossiers(msg, ctx)
    await dossiers.audit(ctx, msg, "dossier.unsubscribed", dossier.code, "ok",
                         channel=msg.channel)
    return await my_dossiers(msg, ctx, note=text("dossiers.unsubscribed", code=dossier.code))
