"""Consent per purpose and deleting one's data.

- `/caidat` (`/settings`, menu "Cài đặt"): what the citizen agreed to receive — status
  updates, letters, surveys, notices — each switched on or off with one button; switching off
  also cancels what is still waiting in the outbox.
- After a dossier subscription (the explicit opt-in to its status updates) the citizen is asked
  — once, nothing pre-selected — whether they also want what fits that procedure: a
  congratulation letter and a survey after a marriage or a birth, only the condolence letter
  after a death, only the survey after any other procedure.
- `/xoadulieu` (`/forget`): after a confirmation, the citizen's data is deleted
  (bot/db/privacy.py); both the question and the answer say what is kept, and why.
Every answer is stored with its time and channel, and appended to the consent log.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.db import dossiers as dossier_repo
from bot.db import privacy
from bot.db import scheduler as store
from bot.messages import Button, Incoming, Outgoing
from bot.router import Context, Reply, Router, as_list, need_id
from documents.letters import family_of, letterhead
from handlers import dossiers, offices
from handlers.start import back_to_menu
from handlers.texts import text
from handlers.units import get_commune

router = Router()


async def settings_card(ctx: Context, msg: Incoming) -> Outgoing:
    consents = await store.get_consents(ctx.session, ctx.citizen_id)
    active = await ctx.session.scalars(select(dossier_repo.DossierSubscription.id).where(
        dossier_repo.DossierSubscription.citizen_id == ctx.citizen_id,
        dossier_repo.DossierSubscription.active.is_(True)))
    communes = [(unit.name if (unit := get_commune(sub.commune_code)) else sub.commune_code)
                for sub in await store.find_commune_subscriptions(ctx.session, msg.channel,
                                                                  msg.chat_id)]
    buttons = [[Button(text("privacy.button_toggle", purpose=purpose, granted=granted),
                       action=f"consent:set:{purpose}:{0 if granted else 1}")]
               for purpose, granted in consents.items()]
    followed = len(list(active))
    if followed:
        buttons.append([Button(text("privacy.button_my_dossiers", count=followed),
                               action="menu:hosocuatoi")])
    place = await offices.citizen_commune(ctx)
    buttons.append([Button(text("offices.button_change" if place else "offices.button_set"),
                           action="office:ask")])
    buttons.append([Button(text("privacy.button_forget"), action="privacy:forget")])
    return Outgoing(text("privacy.settings", consents=consents, dossiers=followed,
                         communes=communes, place=place.name if place else ""),
                    buttons=buttons + back_to_menu())


@router.command("caidat", "settings")
async def on_settings(msg: Incoming, ctx: Context) -> Reply:
    ctx.conversation.end()
    return await settings_card(ctx, msg)


@router.action("menu:caidat")
async def on_menu(msg: Incoming, ctx: Context) -> Reply:
    return await on_settings(msg, ctx)


async def withdraw(ctx: Context, msg: Incoming, purpose: str) -> None:
    """Record the "no" and cancel what waits; for status updates, every dossier
    subscription of the citizen stops too."""
    await store.set_consent(ctx.session, ctx.citizen_id, purpose, False, msg.channel, ctx.now,
                            source="settings")
    await privacy.cancel_pending(ctx.session, ctx.citizen_id, purpose)
    if purpose == store.STATUS:
        subs = await ctx.session.scalars(select(dossier_repo.DossierSubscription).where(
            dossier_repo.DossierSubscription.citizen_id == ctx.citizen_id,
            dossier_repo.DossierSubscription.active.is_(True)))
        for sub in list(subs):
            await dossier_repo.set_subscribed(ctx.session, sub, False, ctx.now)


@router.action("consent:set")
async def on_set(msg: Incoming, ctx: Context) -> Reply:
    _, _, purpose, value = ((msg.action or "") + ":::").split(":")[:4]
    if purpose not in store.PURPOSES or value not in ("0", "1"):
        return await settings_card(ctx, msg)
    if value == "0":
        await withdraw(ctx, msg, purpose)
        note = text("privacy.withdrawn", purpose=purpose)
    else:
        await store.set_consent(ctx.session, ctx.citizen_id, purpose, True, msg.channel,
                                ctx.now, source="settings")
        note = text("privacy.granted", purpose=purpose)
        if purpose == store.STATUS:
            note += "\n" + text("privacy.status_needs_dossier")
    return [Outgoing(note), await settings_card(ctx, msg)]


# -- asked at the right moment: after subscribing to a dossier -------------------------------


ASKED = {"marriage": (store.LETTERS, store.SURVEYS), "birth": (store.LETTERS, store.SURVEYS),
         "death": (store.LETTERS,), None: (store.SURVEYS,)}
"""What the question after a subscription asks about, by the procedure's family: a bereaved
family is offered the condolence letter alone — no congratulation, no survey."""
SCOPES = {"l": (store.LETTERS,), "s": (store.SURVEYS,), "": (store.LETTERS, store.SURVEYS)}
"""`consent:ask:<choice>[:<scope>]`: the purposes an answer sets (the ones it was asked)."""


def followup_question(family: str | None, authority: str) -> Outgoing:
    """The question about letters and surveys that fits the procedure's family."""
    if family == "death":
        choices = [("privacy.button_condolence", "letters:l"), ("privacy.button_no_thanks",
                                                                  "none:l")]
    elif family is None:
        choices = [("privacy.button_survey", "surveys:s"), ("privacy.button_no_thanks",
                                                              "none:s")]
    else:
        choices = [("privacy.button_both", "both"), ("privacy.button_letters_only", "letters"),
                   ("privacy.button_surveys_only", "surveys"),
                   ("privacy.button_no_thanks", "none")]
    return Outgoing(text("privacy.ask_followups", family=family, authority=authority), buttons=[
        [Button(text(label), action=f"consent:ask:{choice}")] for label, choice in choices])


@router.action("dossier:sub")
async def on_subscribe(msg: Incoming, ctx: Context) -> Reply:
    """The dossier subscription (handlers/dossiers.py), then: the status consent recorded,
    and the question about letters and surveys if it was never answered."""
    replies = as_list(await dossiers.on_subscribe(msg, ctx))
    dossier_id = need_id(msg.action)
    access = await dossier_repo.get_subscription(ctx.session, dossier_id, msg.channel,
                                                 msg.chat_id)
    if access is None or not access.active:
        return replies
    await store.set_consent(ctx.session, ctx.citizen_id, store.STATUS, True, msg.channel,
                            ctx.now, source=f"dossier:{dossier_id}")
    answered = set((await ctx.session.scalars(select(store.Consent.purpose).where(
        store.Consent.citizen_id == ctx.citizen_id))).all())
    dossier = await dossier_repo.get_dossier_by_id(ctx.session, dossier_id)
    family = family_of(dossier.procedure_code, ctx.settings) if dossier else None
    if set(ASKED[family]) <= answered or not replies:
        return replies
    authority = letterhead(dossier.commune_code if dossier else None, ctx.settings).authority
    question = followup_question(family, authority)  # in the same message: one answer
    last = replies[-1]
    merged = Outgoing(f"{last.text}\n\n{question.text}", buttons=question.buttons + back_to_menu())
    return [*replies[:-1], merged]


@router.action("consent:ask")
async def on_followups(msg: Incoming, ctx: Context) -> Reply:
    _, _, rest = (msg.action or "").partition("consent:ask:")
    choice, _, scope = rest.partition(":")
    asked = SCOPES.get(scope, SCOPES[""])
    granted = {store.LETTERS: choice in ("both", "letters"),
               store.SURVEYS: choice in ("both", "surveys")}
    for purpose in asked:
        await store.set_consent(ctx.session, ctx.citizen_id, purpose, granted[purpose],
                                msg.channel, ctx.now, source="after_subscription")
    answer = {purpose: granted[purpose] if purpose in asked else None for purpose in granted}
    return Outgoing(text("privacy.followups_answered", letters=answer[store.LETTERS],
                         surveys=answer[store.SURVEYS]), buttons=back_to_menu())


# -- deleting one's data ----------------------------------------------------------------------


@router.command("xoadulieu", "forget")
async def on_forget(msg: Incoming, ctx: Context) -> Reply:
    ctx.conversation.end()
    days = ctx.settings.retention_days_security
    return Outgoing(text("privacy.forget_confirm", security_days=days), buttons=[
        [Button(text("privacy.button_forget_yes"), action="privacy:forget:yes")],
        [Button(text("privacy.button_forget_no"), action="privacy:forget:no")],
    ])


@router.action("privacy:forget")
async def on_forget_answer(msg: Incoming, ctx: Context) -> Reply:
    answer = (msg.action or "").rpartition(":")[2]
    if answer == "forget":
        return await on_forget(msg, ctx)
    if answer != "yes":
        return Outgoing(text("privacy.forget_kept"), buttons=back_to_menu())
    await privacy.forget_citizen(ctx.session, ctx.citizen_id, ctx.now)
    ctx.conversation.end()
    days = ctx.settings.retention_days_security
    return Outgoing(text("privacy.forgotten", security_days=days))
