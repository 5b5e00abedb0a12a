"""Satisfaction surveys: the overall rating (the scale is SURVEY_SCALE, best first; by default
Rất hài lòng / Hài lòng / Không hài lòng), then, if the citizen wishes, the five SIPAS aspects
and a comment. A survey is about a dossier (`d:<id>`), a ticket (`t:<id>`), a procedure
(`p:<code>`) or the service in general (`g:0`). Invitations come from the scheduler
(scheduler/rules.py); `/danhgia` (`/rate`, menu "Đánh giá") lets anyone rate on their own.

An unhappy answer (the lower half of the scale) opens a feedback ticket for staff at once;
the staff desk puts it in the staff group, and a later comment is relayed to it. Another
unhappy answer while that ticket is open is added to it, not opened as a new one.

Against stuffing: one answer per dossier or ticket, one general rating a day and one per
procedure a day (`Survey.dedupe_key`, unique in the database, so even simultaneous presses
store one answer); a procedure must be in the catalogue; and RATE_LIMIT_RATING per chat.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.db import dossiers as dossier_repo
from bot.db import feedback as tickets
from bot.db import scheduler as store
from bot.messages import Attachment, Button, Incoming, Outgoing
from bot.ratelimit import Verdict, judge
from bot.router import Context, Reply, Router, StaleButton, action_id, action_number, need_id
from bot.staffscope import EVERYTHING, Scope, of_message
from handlers.feedback import reply_deadline
from handlers.start import back_to_menu
from handlers.texts import text

router = Router()

ASPECTS = ("access", "procedure", "civil_servants", "result", "feedback")
COMMENT = "survey.comment"
MAX_COMMENT = 2000
COMMENT_WINDOW = timedelta(days=30)
"""How long after answering a citizen may still add aspects or a comment."""


def is_unhappy(score: int, scale: int) -> bool:
    """The lower half of the scale: "Không hài lòng" of three, the two lowest of five."""
    return score <= scale // 2


def is_satisfied(score: int, scale: int) -> bool:
    """Not unhappy, nor the neutral middle of a scale of five or more: "Rất hài lòng" and
    "Hài lòng" of three, the two highest of five."""
    neutral = scale >= 5 and scale % 2 == 1 and score == (scale + 1) // 2
    return not is_unhappy(score, scale) and not neutral


def label_of(score: int, ctx: Context) -> str:
    labels = ctx.settings.survey_labels
    return labels[len(labels) - score] if 1 <= score <= len(labels) else str(score)


def scale_buttons(ctx: Context, prefix: str) -> list[list[Button]]:
    labels = ctx.settings.survey_labels
    return [[Button(label, action=f"{prefix}:{len(labels) - index}")]
            for index, label in enumerate(labels)]


class Subject:
    """What a survey is about, checked against the citizen: only their own dossier or
    ticket may be rated."""

    def __init__(self, kind: str, ident: str, what: str, *, procedure_code: str | None = None,
                 procedure_name: str | None = None, dossier_code: str | None = None) -> None:
        self.kind = kind
        self.ident = ident
        self.what = what
        self.procedure_code = procedure_code
        self.procedure_name = procedure_name
        self.dossier_code = dossier_code

    @property
    def daily(self) -> bool:
        """General and procedure ratings may be given again, once a day."""
        return self.kind in ("general", "procedure")

    def dedupe_key(self, ctx: Context) -> str:
        """What makes an answer the only one of its kind (`Survey.dedupe_key`)."""
        key = f"{self.kind}:{ctx.citizen_id}"
        if self.ident:
            key += f":{self.ident}"
        if self.daily:
            key += f":{ctx.now.astimezone(ctx.settings.tz).date().isoformat()}"
        return key


async def load_subject(ctx: Context, kind: str, ident: str) -> Subject | None:
    if kind == "g":
        return Subject("general", "", text("surveys.about_general"))
    if kind == "p":
        index = ctx.service("catalogue")
        procedure = index.get(ident) if index is not None and 0 < len(ident) <= 60 else None
        if procedure is None:  # only procedures of the catalogue may be rated
            return None
        return Subject("procedure", procedure.code, f"thủ tục {procedure.name}",
                       procedure_code=procedure.code, procedure_name=procedure.name)
    number = action_id(ident, 0)
    if number is None:
        raise StaleButton(ident)
    if kind == "d":
        owned = await ctx.session.scalar(select(dossier_repo.DossierSubscription.id).where(
            dossier_repo.DossierSubscription.dossier_id == number,
            dossier_repo.DossierSubscription.citizen_id == ctx.citizen_id))
        dossier = await dossier_repo.get_dossier_by_id(ctx.session, number) if owned else None
        if dossier is None:
            return None
        return Subject("dossier", ident, text("surveys.about_dossier", code=dossier.code,
                                              procedure=dossier.procedure_name),
                       procedure_code=dossier.procedure_code,
                       procedure_name=dossier.procedure_name, dossier_code=dossier.code)
    if kind == "t":
        ticket = await tickets.get_ticket(ctx.session, number)
        if ticket is None or ticket.citizen_id != ctx.citizen_id:
            return None
        return Subject("ticket", ident, text("surveys.about_ticket", code=ticket.code),
                       dossier_code=ticket.dossier_code)
    return None


# -- rating on one's own ----------------------------------------------------------------------


@router.command("danhgia", "rate")
async def on_rate(msg: Incoming, ctx: Context) -> Reply:
    ctx.conversation.end()
    subs = list(await ctx.session.execute(
        select(dossier_repo.Dossier.id, dossier_repo.Dossier.code)
        .join(dossier_repo.DossierSubscription,
              dossier_repo.DossierSubscription.dossier_id == dossier_repo.Dossier.id)
        .where(dossier_repo.DossierSubscription.citizen_id == ctx.citizen_id)
        .order_by(dossier_repo.DossierSubscription.verified_at.desc()).limit(3)))
    mine = await tickets.find_citizen_tickets(ctx.session, ctx.citizen_id, limit=2)
    buttons = [[Button(f"Hồ sơ {code}", action=f"sv:pick:d:{ident}")] for ident, code in subs]
    buttons += [[Button(f"Phản ánh {t.code}", action=f"sv:pick:t:{t.id}")] for t in mine]
    buttons.append([Button(text("surveys.button_general"), action="sv:pick:g:0")])
    return Outgoing(text("surveys.choose_subject", has_items=bool(subs or mine)),
                    buttons=buttons + back_to_menu())


@router.action("menu:danhgia")
async def on_menu(msg: Incoming, ctx: Context) -> Reply:
    return await on_rate(msg, ctx)


@router.action("sv:pick")
async def on_pick(msg: Incoming, ctx: Context) -> Reply:
    parts = (msg.action or "").split(":")
    subject = await load_subject(ctx, *parts[2:4]) if len(parts) >= 4 else None
    if subject is None:
        return Outgoing(text("surveys.not_found"), buttons=back_to_menu())
    earlier = await earlier_answer(ctx, subject, subject.dedupe_key(ctx))
    if earlier is not None:
        return already_rated(ctx, subject, earlier)
    return Outgoing(text("surveys.ask_overall", what=subject.what),
                    buttons=scale_buttons(ctx, f"sv:o:{parts[2]}:{parts[3]}"))


# -- the overall rating ---------------------------------------------------------------------


@router.action("sv:o")
async def on_overall(msg: Incoming, ctx: Context) -> Reply:
    """`sv:o:<kind>:<id>:<score>` — from an invitation or from /danhgia."""
    parts = (msg.action or "").split(":")
    scale = len(ctx.settings.survey_labels)
    score = action_number(msg.action, 4, 0, 100)
    if len(parts) != 5 or score is None:
        raise StaleButton(msg.action)
    if not 1 <= score <= scale:  # a button from when the scale was longer
        return Outgoing(text("surveys.not_found"), buttons=back_to_menu())
    subject = await load_subject(ctx, parts[2], parts[3])
    if subject is None:
        return Outgoing(text("surveys.not_found"), buttons=back_to_menu())
    key = subject.dedupe_key(ctx)
    earlier = await earlier_answer(ctx, subject, key)
    if earlier is not None:
        return already_rated(ctx, subject, earlier)
    verdict = await judge(ctx.service("limiter"), "rating", f"{msg.channel}:{msg.chat_id}",
                          ctx.settings.rate_limit_rating)
    if verdict is not Verdict.ALLOWED:
        return ([Outgoing(text("surveys.too_many"), buttons=back_to_menu())]
                if verdict is Verdict.TELL else [])
    survey = store.Survey(citizen_id=ctx.citizen_id, channel=msg.channel, subject=subject.kind,
                          subject_id=subject.ident, procedure_code=subject.procedure_code,
                          procedure_name=subject.procedure_name, scale=scale, overall=score,
                          aspects={}, created_at=ctx.now, dedupe_key=key)
    try:
        async with ctx.session.begin_nested():
            ctx.session.add(survey)
            await ctx.session.flush()
    except IntegrityError:  # the same answer, stored a moment ago by another process
        earlier = await earlier_answer(ctx, subject, key)
        if earlier is None:
            raise
        return already_rated(ctx, subject, earlier)
    label = label_of(score, ctx)
    follow = follow_buttons(survey.id)
    if not is_unhappy(score, scale):
        return Outgoing(text("surveys.thanks", label=label), buttons=follow)
    ticket, merged = await open_ticket(msg, ctx, survey, subject, label)
    return Outgoing(text("surveys.thanks_unhappy", label=label, code=ticket.code, merged=merged),
                    buttons=follow)


def follow_buttons(survey_id: int) -> list[list[Button]]:
    return [[Button(text("surveys.button_aspects"), action=f"sv:more:{survey_id}")],
            [Button(text("surveys.button_comment"), action=f"sv:cmt:{survey_id}")],
            [Button(text("surveys.button_done"), action=f"sv:done:{survey_id}")]]


async def earlier_answer(ctx: Context, subject: Subject, key: str) -> store.Survey | None:
    """The citizen's answer that makes a new one a repeat, if any."""
    earlier = await ctx.session.scalar(select(store.Survey).where(store.Survey.dedupe_key == key))
    if earlier is None and not subject.daily:  # answers stored before dedupe_key existed
        earlier = await ctx.session.scalar(select(store.Survey).where(
            store.Survey.citizen_id == ctx.citizen_id, store.Survey.subject == subject.kind,
            store.Survey.subject_id == subject.ident).limit(1))
    return earlier


def already_rated(ctx: Context, subject: Subject, earlier: store.Survey) -> Outgoing:
    """A repeat: thanks, and the next step (add a comment to the answer given, if recent)."""
    can_comment = ctx.now - earlier.created_at <= COMMENT_WINDOW
    buttons = [[Button(text("surveys.button_comment"), action=f"sv:cmt:{earlier.id}")]] \
        if can_comment else []
    return Outgoing(text("surveys.already_rated", what=subject.what, today=subject.daily,
                         can_comment=can_comment), buttons=buttons + back_to_menu())


async def open_ticket(msg: Incoming, ctx: Context, survey: store.Survey, subject: Subject,
                      label: str) -> tuple[tickets.Ticket, bool]:
    """An unhappy answer becomes a feedback ticket, which the staff desk puts in the staff
    group like any other; while the citizen has an open ticket from an earlier rating about
    the same dossier (or none), the answer is added to that one instead. Returns the ticket
    and whether it was an earlier one."""
    category = "thai_do" if subject.kind == "ticket" else "thu_tuc"
    description = text("surveys.ticket_description", what=subject.what, label=label,
                       aspects=[])
    same_dossier = (tickets.Ticket.dossier_code.is_(None) if subject.dossier_code is None
                    else tickets.Ticket.dossier_code == subject.dossier_code)
    earlier = await ctx.session.scalar(
        select(tickets.Ticket).join(store.Survey, store.Survey.ticket_id == tickets.Ticket.id)
        .where(store.Survey.citizen_id == ctx.citizen_id,
               tickets.Ticket.status != tickets.CLOSED, same_dossier)
        .order_by(tickets.Ticket.id.desc()).limit(1))
    if earlier is not None:
        await tickets.add_message(ctx.session, earlier, "citizen", description, relayed=False,
                                  now=ctx.now)
        survey.ticket_id = earlier.id
        return earlier, True
    ticket = tickets.Ticket(
        citizen_id=ctx.citizen_id, channel=msg.channel, chat_id=msg.chat_id, category=category,
        description=description, dossier_code=subject.dossier_code, anonymous=False,
        contact_name=msg.display_name[:120] or None, status=tickets.OPEN, created_at=ctx.now,
        due_at=reply_deadline(ctx.now, category, ctx))
    await tickets.add_ticket(ctx.session, ticket, ctx.now)
    await tickets.add_message(ctx.session, ticket, "citizen", description, now=ctx.now)
    survey.ticket_id = ticket.id
    return ticket, False


async def own_survey(ctx: Context, survey_id: int) -> store.Survey | None:
    survey = await ctx.session.get(store.Survey, survey_id)
    if survey is None or survey.citizen_id != ctx.citizen_id:
        return None
    if ctx.now - survey.created_at > COMMENT_WINDOW:
        return None
    return survey


# -- the five aspects and the comment -------------------------------------------------------


def ask_aspect(ctx: Context, survey_id: int, index: int) -> Outgoing:
    prefix = f"sv:a:{survey_id}:{index}"
    return Outgoing(text("surveys.ask_aspect", index=index + 1, total=len(ASPECTS),
                         aspect=ASPECTS[index]),
                    buttons=[*scale_buttons(ctx, prefix),
                             [Button(text("surveys.button_skip"), action=f"{prefix}:0")]])


@router.action("sv:more")
async def on_more(msg: Incoming, ctx: Context) -> Reply:
    survey = await own_survey(ctx, need_id(msg.action, 2))
    if survey is None:
        return Outgoing(text("surveys.not_found"), buttons=back_to_menu())
    return ask_aspect(ctx, survey.id, 0)


@router.action("sv:a")
async def on_aspect(msg: Incoming, ctx: Context) -> Reply:
    """`sv:a:<survey>:<aspect index>:<score, 0 = skipped>`."""
    parts = (msg.action or "").split(":")
    index = action_number(msg.action, 3, 0, len(ASPECTS) - 1)
    score = action_number(msg.action, 4, 0, 100)
    if len(parts) != 5 or index is None or score is None:
        raise StaleButton(msg.action)
    survey = await own_survey(ctx, need_id(msg.action, 2))
    if survey is None or score > survey.scale:
        return Outgoing(text("surveys.not_found"), buttons=back_to_menu())
    if score:
        survey.aspects = {**survey.aspects, ASPECTS[index]: score}
    if index + 1 < len(ASPECTS):
        return ask_aspect(ctx, survey.id, index + 1)
    await note_unhappy_aspects(ctx, survey)
    return ask_comment(ctx, survey.id)


def ask_comment(ctx: Context, survey_id: int) -> Outgoing:
    """The next typed message is the comment (not a procedure search); "Xong" ends."""
    ctx.conversation.goto(COMMENT, survey=survey_id)
    return Outgoing(text("surveys.ask_comment"),
                    buttons=[[Button(text("surveys.button_done"), action=f"sv:done:{survey_id}")]])


async def note_unhappy_aspects(ctx: Context, survey: store.Survey) -> None:
    """Staff handling an unhappy survey see which aspects disappointed."""
    if survey.ticket_id is None:
        return
    low = [text("surveys.aspect_name", aspect=k) for k, v in survey.aspects.items()
           if is_unhappy(int(v), survey.scale)]
    ticket = await tickets.get_ticket(ctx.session, survey.ticket_id)
    if low and ticket is not None:
        await tickets.add_message(ctx.session, ticket, "system",
                                  f"{ticket.code}: chưa hài lòng về " + "; ".join(low),
                                  relayed=False, now=ctx.now)


@router.action("sv:cmt")
async def on_comment_button(msg: Incoming, ctx: Context) -> Reply:
    survey = await own_survey(ctx, need_id(msg.action, 2))
    if survey is None:
        return Outgoing(text("surveys.not_found"), buttons=back_to_menu())
    return ask_comment(ctx, survey.id)


@router.step(COMMENT)
async def on_comment(msg: Incoming, ctx: Context) -> Reply:
    survey_id = ctx.conversation.data.get("survey")
    survey = await own_survey(ctx, survey_id) if isinstance(survey_id, int) else None
    ctx.conversation.end()
    if survey is None or not msg.text:
        return Outgoing(text("surveys.done"), buttons=back_to_menu())
    survey.comment = msg.text[:MAX_COMMENT]
    if survey.ticket_id is not None:
        ticket = await tickets.get_ticket(ctx.session, survey.ticket_id)
        if ticket is not None and ticket.status != tickets.CLOSED:
            await tickets.add_message(ctx.session, ticket, "citizen",
                                      text("surveys.comment_to_staff", text=survey.comment),
                                      relayed=False, now=ctx.now)
    return Outgoing(text("surveys.comment_thanks"), buttons=back_to_menu())


@router.action("sv:done")
async def on_done(msg: Incoming, ctx: Context) -> Reply:
    ctx.conversation.end()
    return Outgoing(text("surveys.done"), buttons=back_to_menu())


# -- /thongke: figures and a chart for staff -------------------------------------------------


@dataclass
class Figures:
    today: str
    answers: int = 0
    satisfied_pct: float = 0.0
    by_procedure: list[dict[str, Any]] = field(default_factory=list)
    weeks: list[dict[str, Any]] = field(default_factory=list)
    finished: int = 0
    on_time_pct: float = 0.0
    overdue: int = 0
    open_tickets: int = 0
    median_response: str = "chưa có"
    aspects: list[dict[str, Any]] = field(default_factory=list)
    """Each SIPAS aspect (in ASPECTS' order): answers and share satisfied, all months."""
    aspect_months: list[dict[str, Any]] = field(default_factory=list)
    """Each month with aspect answers, oldest first: "MM/YYYY" and its `cells` as `aspects`."""


def pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def aspect_cells(answers: dict[str, list[bool]]) -> list[dict[str, Any]]:
    return [{"aspect": a, "count": len(answers.get(a, [])),
             "pct": pct(sum(answers.get(a, [])), len(answers.get(a, [])))} for a in ASPECTS]


def aspect_figures(rows: list[tuple[Any, ...]], tz: Any
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Satisfaction per SIPAS aspect, over all answers and per month (local time), from rows
    (scale, created_at, aspects); an aspect skipped or out of the scale is not counted."""
    overall: dict[str, list[bool]] = {}
    months: dict[tuple[int, int], dict[str, list[bool]]] = {}
    for scale, created, aspects in rows:
        local = created.astimezone(tz)
        for aspect in ASPECTS:
            score = (aspects or {}).get(aspect) if isinstance(aspects, dict) else None
            if type(score) is not int or not 1 <= score <= scale:
                continue
            good = is_satisfied(score, scale)
            overall.setdefault(aspect, []).append(good)
            months.setdefault((local.year, local.month), {}).setdefault(aspect, []).append(good)
    return aspect_cells(overall), [{"month": f"{month:02d}/{year}", "cells": aspect_cells(v)}
                                   for (year, month), v in sorted(months.items())]


async def compute_figures(ctx: Context, weeks: int = 8, scope: Scope = EVERYTHING) -> Figures:
    """Satisfaction overall, by procedure, by week and by SIPAS aspect (overall and per
    month); on-time rate of returned dossiers (a
    dossier that needed an apology letter counts as late); open tickets and the median time
    to the first staff reply — all within `scope`'s communes (a survey's commune is its
    dossier's or ticket's, else the citizen's)."""
    session = ctx.session
    figures = Figures(today=f"{ctx.now.astimezone(ctx.settings.tz):%d/%m/%Y}")
    answered = list(await session.execute(
        select(store.Survey.overall, store.Survey.scale, store.Survey.procedure_name,
               store.Survey.created_at, store.Survey.subject, store.Survey.subject_id,
               store.Survey.citizen_id, store.Survey.aspects)
        .where(store.Survey.overall.is_not(None))))
    if not scope.everything:
        communes = await survey_communes(session, answered)
        answered = [row for row, commune in zip(answered, communes, strict=True)
                    if scope.serves(commune)]
    rows = [(int(r[0] or 0), r[1], r[2], r[3]) for r in answered]  # (never NULL here)
    figures.aspects, figures.aspect_months = aspect_figures(
        [(r[1], r[3], r[7]) for r in answered], ctx.settings.tz)
    figures.answers = len(rows)
    figures.satisfied_pct = pct(sum(is_satisfied(r[0], r[1]) for r in rows), len(rows))
    by_name: dict[str, list[bool]] = {}
    by_week: dict[str, list[bool]] = {}
    since = ctx.now - timedelta(weeks=weeks)
    for overall, scale, name, created in rows:
        good = is_satisfied(overall, scale)
        if name:
            by_name.setdefault(name, []).append(good)
        if created >= since:
            year, week, _ = created.astimezone(ctx.settings.tz).isocalendar()
            by_week.setdefault(f"{week:02d}/{year}", []).append(good)
    ranked = sorted(by_name.items(), key=lambda item: -len(item[1]))[:8]
    figures.by_procedure = [{"name": name, "count": len(v), "pct": pct(sum(v), len(v))}
                            for name, v in ranked]
    figures.weeks = [{"week": week, "count": len(v), "pct": pct(sum(v), len(v))}
                     for week, v in sorted(by_week.items(), key=lambda i: i[0][3:] + i[0][:2])]
    dossier = dossier_repo.Dossier
    returned = list(await session.execute(scope.apply(
        select(dossier.id, dossier.status_at, dossier.due_at)
        .where(dossier.status == dossier_repo.Status.RETURNED), dossier.commune_code)))
    apologised = set(await session.scalars(
        select(dossier_repo.DossierEvent.dossier_id).where(
            dossier_repo.DossierEvent.status == dossier_repo.Status.DELAYED)))
    on_time = sum(1 for ident, at, due in returned if at <= due and ident not in apologised)
    figures.finished = len(returned)
    figures.on_time_pct = pct(on_time, len(returned))
    figures.overdue = sum(scope.serves(d.commune_code) for d in
                          await dossier_repo.find_overdue(session, ctx.now, limit=100_000))
    figures.open_tickets = len(await tickets.find_open_tickets(session, scope))
    waits = sorted((cast(datetime, t.first_reply_at) - t.created_at).total_seconds()
                   for t in await session.scalars(scope.apply(
                       select(tickets.Ticket).where(tickets.Ticket.first_reply_at.is_not(None)),
                       tickets.Ticket.commune_code)))
    if waits:
        middle = len(waits) // 2
        median = waits[middle] if len(waits) % 2 else (waits[middle - 1] + waits[middle]) / 2
        figures.median_response = f"{median / 3600:.1f} giờ"
    return figures


async def survey_communes(session: Any, rows: list[Any]) -> list[str | None]:
    """The commune of each survey row (…, subject, subject_id, citizen_id): its dossier's or
    ticket's, else the citizen's."""
    from bot.db.models import Citizen

    def ids(kind: str) -> set[int]:
        return {int(r[5]) for r in rows if r[4] == kind and str(r[5]).isdigit()}

    async def communes(column: Any, key: Any, wanted: set[int]) -> dict[int, str | None]:
        found: dict[int, str | None] = {}
        listed = sorted(wanted)
        for start in range(0, len(listed), 500):
            found.update((ident, commune) for ident, commune in await session.execute(
                select(key, column).where(key.in_(listed[start:start + 500]))))
        return found

    by_dossier = await communes(dossier_repo.Dossier.commune_code, dossier_repo.Dossier.id,
                                ids("dossier"))
    by_ticket = await communes(tickets.Ticket.commune_code, tickets.Ticket.id, ids("ticket"))
    by_citizen = await communes(Citizen.commune_code, Citizen.id,
                                {r[6] for r in rows if r[6] is not None})
    found: list[str | None] = []
    for r in rows:
        number = int(r[5]) if str(r[5]).isdigit() else None
        own = (by_dossier if r[4] == "dossier" else by_ticket if r[4] == "ticket" else {}
               ).get(number) if number is not None else None
        found.append(own or by_citizen.get(r[6]))
    return found


def chart_png(figures: Figures) -> bytes:
    """Satisfaction by week and by procedure, as a PNG (matplotlib, no display)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, (weekly, by_procedure) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
    fig.suptitle(f"Mức độ hài lòng — {figures.satisfied_pct}% trên {figures.answers} lượt "
                 f"(đến {figures.today})")
    weekly.plot([w["week"] for w in figures.weeks], [w["pct"] for w in figures.weeks],
                marker="o", color="#1f6f43")
    weekly.set_ylim(0, 105)
    weekly.set_title("Theo tuần (%)")
    weekly.tick_params(axis="x", labelrotation=45)
    names = [p["name"][:28] for p in figures.by_procedure][::-1]
    by_procedure.barh(names, [p["pct"] for p in figures.by_procedure][::-1], color="#c8102e")
    by_procedure.set_xlim(0, 105)
    by_procedure.set_title("Theo thủ tục (%)")
    fig.text(0.01, 0.01, f"Đúng hạn: {figures.on_time_pct}% của {figures.finished} hồ sơ · "
                         f"quá hạn: {figures.overdue} · phản ánh mở: {figures.open_tickets} · "
                         f"phản hồi trung vị: {figures.median_response}", fontsize=9)
    fig.tight_layout(rect=(0, 0.05, 1, 0.95))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


@router.staff_command("thongke", "stats")
async def on_stats(msg: Incoming, ctx: Context) -> Reply:
    """The figures of the communes this staff chat serves (a commune group: its own)."""
    figures = await compute_figures(ctx, scope=of_message(msg, ctx.settings))
    png = await asyncio.to_thread(chart_png, figures)
    return [Outgoing(text("surveys.stats", v=figures)),
            Outgoing(f"Biểu đồ đến {figures.today}",
                     photo=Attachment("photo", name="thongke.png", data=png))]
