"""Finding a procedure and reading it: search from free text or /thutuc, results as buttons,
a card whose sections the citizen opens one by one, and browsing by field.

The catalogue's `SearchIndex` is the service "catalogue" (built once at start-up). A search
reads a bounded part of the text (a few ms at most) and counts against the chat's
RATE_LIMIT_SEARCH; it runs on the event loop (see `OFF_LOOP`).
Actions: `proc:<code>` card · `proc:<code>:<section>` a section · `proc:<code>:docs:<n>` the
documents of case n (1-based, in the record's order) · `proc:refine` · `proc:fields` ·
`proc:field:<page>:<field name>`.

What the citizen reads goes through `procedures.display`: a short name, today's government
levels (no district, no thị trấn), and the documents of the case that applies.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from dataclasses import replace
from typing import Generic, TypeVar

from bot.messages import Button, Incoming, Outgoing
from bot.ratelimit import Verdict, judge
from bot.router import Context, Reply, Router, action_number
from handlers import offices
from handlers.english import english_query, is_english
from handlers.start import back_to_menu, plain
from handlers.texts import text
from procedures.catalogue import Channel, Procedure
from procedures.display import (
    case_label,
    cases,
    conditions_view,
    current_levels,
    cut_at_word,
    documents_view,
    short_name,
    steps_view,
)
from procedures.search import MIN_SCORE, Hit, SearchIndex, bounded_query
from procedures.siblings import Clarification, clarify

router = Router()

QUERY_STATE = "procedure.query"
RESULTS = 5
FIELDS_SHOWN = 8
FIELD_PAGE = 8
LABEL_LIMIT = 60
WEAK_SCORE = 0.35
"""When nothing reaches the search's MIN_SCORE, the best result from here is offered as a
question ("Có phải anh/chị muốn hỏi về …?"), never as an answer."""
SECTIONS = {
    "docs": ("procedures.documents", "procedures.button_documents"),
    "fees": ("procedures.fees", "procedures.button_fees"),
    "where": ("procedures.where", "procedures.button_where"),
    "steps": ("procedures.steps", "procedures.button_steps"),
    "legal": ("procedures.legal", "procedures.button_legal"),
}
OFF_LOOP = False
"""Search in a worker thread? Measured with benchmarks/flood.py (six clients flooding
4,000-character searches, no rate limits), a thread does not help the other citizens: on
SQLite this update's transaction holds the write lock during the search, so other updates pile
up on it in SQLite's busy loop (their p95 1.4 s in a thread, 0.16 s on the loop); on PostgreSQL
the thread and the loop share the GIL, with no consistent gain (p95 on the loop / in a thread
over three runs: 0.35/0.53, 0.31/0.24, 0.26/0.42 s). What keeps the loop free is the bound on
the work per query (`procedures.search.bounded_query`: a few ms)."""
REMEMBERED = 4096
"""Searches whose results, and queries whose answers, are kept per catalogue index
(`searched`, `answered`); past them each memo starts over."""
_Key = TypeVar("_Key")
_Value = TypeVar("_Value")


class _PerIndex(Generic[_Key, _Value]):
    """A memo of the catalogue index in use: another index (the catalogue was imported
    again) starts it over. (Not a WeakKeyDictionary: the compiled index takes no weak
    references.) The index and its memo are swapped as one: a search of the old index still
    running in a thread fills the old memo only."""

    def __init__(self) -> None:
        self._slot: tuple[SearchIndex | None, dict[_Key, _Value]] = (None, {})

    def of(self, index: SearchIndex) -> dict[_Key, _Value]:
        slot = self._slot
        if slot[0] is not index:
            slot = self._slot = (index, {})
        return slot[1]


_remembered: _PerIndex[tuple[str, int, float], tuple[Hit, ...]] = _PerIndex()
_answers: _PerIndex[tuple[str, str], Outgoing] = _PerIndex()
THANKS = {"cam on", "cam on nhieu", "cam on em", "cam on ban", "thanks", "thank you", "tks",
          "thank", "ok cam on", "da cam on", "cam on a", "cam on nhe", "xin cam on",
          "cam on em nhe", "cam on nhieu nhe", "cam on nhieu a", "thank you so much",
          "thanks a lot", "many thanks", "ok thanks"}


def catalogue(ctx: Context) -> SearchIndex:
    index = ctx.service("catalogue")
    assert index is not None, "the catalogue service is loaded at start-up"
    return index


def short(label: str) -> str:
    """A button label that fits; cut after a whole word (the web chat wraps long labels)."""
    return cut_at_word(label, LABEL_LIMIT)


def procedure_button(procedure: Procedure, name: str | None = None) -> Button:
    return Button(short(f"{name or short_name(procedure)} ({procedure.level_label})"),
                  action=f"proc:{procedure.code}")


def fields_button() -> Button:
    return Button(text("procedures.button_fields"), action="proc:fields")


@router.command("thutuc", "search", "tracuu")
async def on_search_command(msg: Incoming, ctx: Context) -> Reply:
    query = msg.command[1] if msg.command else ""
    if query:
        ctx.conversation.end()
        return await search_reply(query, msg, ctx)
    return ask_query(ctx)


@router.action("menu:thutuc")
async def on_menu(msg: Incoming, ctx: Context) -> Reply:
    return ask_query(ctx)


def ask_query(ctx: Context) -> Outgoing:
    ctx.conversation.goto(QUERY_STATE)
    return Outgoing(text("procedures.prompt"), buttons=[[fields_button()], *back_to_menu()])


@router.step(QUERY_STATE)
async def on_query(msg: Incoming, ctx: Context) -> Reply:
    if not msg.text:
        from handlers.start import fallback

        return fallback(msg)
    ctx.conversation.end()
    return await search_reply(msg.text, msg, ctx)


@router.on_text
async def on_free_text(msg: Incoming, ctx: Context) -> list[Outgoing] | None:
    """Plain text outside a flow is a procedure search (thanks get a thank-you)."""
    if not any(ch.isalnum() for ch in msg.text):
        return None  # emoji or punctuation only: the general fallback answers
    if plain(msg.text) in THANKS:
        return [Outgoing(text("procedures.thanks"), buttons=back_to_menu())]
    if is_english(msg.text):
        return await english_reply(msg, ctx)
    return await search_reply(msg.text, msg, ctx)


async def english_reply(msg: Incoming, ctx: Context) -> list[Outgoing]:
    """A short note in English, and what the search found when it found something."""
    if (refused := await search_refused(msg, ctx)) is not None:
        return refused
    hits = find(english_query(msg.text), ctx)
    if not hits:
        return [Outgoing(text("procedures.english_note", found=False),
                         buttons=field_buttons(ctx, 4))]
    return [Outgoing(text("procedures.english_note", found=True)),
            results_reply(msg.text, hits, ctx)]


async def search_refused(msg: Incoming, ctx: Context) -> list[Outgoing] | None:
    """None within the chat's search budget; over it, the notice once, then nothing."""
    verdict = Verdict.ALLOWED
    if (msg.channel, msg.user_id) not in ctx.settings.staff_ids:
        verdict = await judge(ctx.service("limiter"), "search", f"{msg.channel}:{msg.chat_id}",
                              ctx.settings.rate_limit_search)
    if verdict is Verdict.TELL:
        return [Outgoing(text("procedures.too_many_searches"),
                         buttons=[[fields_button()], *back_to_menu()])]
    if verdict is Verdict.QUIET:
        return []
    return None


def searched(index: SearchIndex, query: str, limit: int = RESULTS,
             min_score: float = MIN_SCORE) -> list[Hit]:
    """`index.search`, remembered: citizens ask the same things in the same words ("làm căn
    cước"), and a search depends on nothing but its text and the index, which never changes
    once built (another catalogue is another index)."""
    memo = _remembered.of(index)
    key = (query, limit, min_score)
    hits = memo.get(key)
    if hits is None:
        if len(memo) >= REMEMBERED:
            memo.clear()
        hits = memo[key] = tuple(index.search(query, limit=limit, min_score=min_score))
    return list(hits)


def find(query: str, ctx: Context) -> list[Hit]:
    return searched(catalogue(ctx), bounded_query(query))


async def search_reply(query: str, msg: Incoming, ctx: Context) -> list[Outgoing]:
    """The results as buttons; over the chat's search budget, the notice once, then nothing."""
    if (refused := await search_refused(msg, ctx)) is not None:
        return refused
    if OFF_LOOP:
        return [await asyncio.to_thread(answered, query, ctx)]
    return [answered(query, ctx)]


def answered(query: str, ctx: Context) -> Outgoing:
    """`answer` to a search for `query`, remembered like `searched` (most searches are
    asked before, in the same words): by what it depends on besides the catalogue, the part
    of the text the search reads and the words the answer quotes, so a memo of 4,000-character
    messages stays as small as one of short ones. A copy each time, since a handler may add
    to a reply."""
    index = catalogue(ctx)
    memo = _answers.of(index)
    key = (bounded_query(query), _shown(query))
    reply = memo.get(key)
    if reply is None:
        if len(memo) >= REMEMBERED:
            memo.clear()
        reply = memo[key] = answer(query, find(query, ctx), ctx)
    return replace(reply, buttons=[list(row) for row in reply.buttons])


def answer(query: str, hits: list[Hit], ctx: Context) -> Outgoing:
    """What a search shows: the results; one question when the best are siblings; nothing
    found, with a weak candidate offered as a question."""
    index, read = catalogue(ctx), bounded_query(query)
    if not hits:
        return not_found_reply(query, searched(index, read, 1, WEAK_SCORE), ctx)
    question = clarify(read, hits, lambda text: searched(index, text, 3))
    if question is not None:
        return clarifying_reply(question)
    return results_reply(query, hits, ctx)


def _shown(query: str) -> str:
    return query if len(query) <= 80 else query[:79] + "…"


def results_reply(query: str, hits: list[Hit], ctx: Context) -> Outgoing:
    found = {hit.code: p for hit in hits if (p := catalogue(ctx).get(hit.code)) is not None}
    names = {code: short_name(p) for code, p in found.items()}
    # One name in two fields ("Nộp dần tiền thuế nợ": Thuế and Hải quan) says its field.
    shown = Counter(names.values())
    for code, procedure in found.items():
        if shown[names[code]] > 1:
            names[code] = f"{names[code]} – {procedure.field}"
    buttons = [[procedure_button(p, names[hit.code]) if (p := found.get(hit.code)) else Button(
        short(f"{hit.name} ({hit.level_label})"), action=f"proc:{hit.code}")] for hit in hits]
    buttons.append([fields_button()])
    return Outgoing(text("procedures.results", query=_shown(query), hits=hits, names=names),
                    buttons=buttons)


def not_found_reply(query: str, weak: list[Hit], ctx: Context) -> Outgoing:
    """Nothing fits: browse by field, and a weak candidate offered as a question."""
    buttons = field_buttons(ctx, 6)
    if weak:
        guess = Button(short(text("procedures.button_guess", name=weak[0].name)),
                       action=f"proc:{weak[0].code}")
        buttons.insert(0, [guess])
    return Outgoing(text("procedures.not_found", query=_shown(query), guess=bool(weak)),
                    buttons=buttons)


def clarifying_reply(question: Clarification) -> Outgoing:
    """One question when the best results are siblings: one button per option."""
    buttons = [[Button(short(label), action=f"proc:{hit.code}")]
               for label, hit in question.choices]
    buttons.append([fields_button()])
    return Outgoing(text("procedures.clarify", question=question), buttons=buttons)


def field_buttons(ctx: Context, count: int) -> list[list[Button]]:
    rows = [[Button(short(field.name), action=f"proc:field:1:{field.name}")]
            for field in catalogue(ctx).fields()[:count]]
    return rows + back_to_menu()


@router.action("proc")
async def on_procedure_action(msg: Incoming, ctx: Context) -> Reply:
    parts = (msg.action or "").split(":", 3)
    what = parts[1] if len(parts) > 1 else ""
    if what == "refine":
        ctx.conversation.goto(QUERY_STATE)
        return Outgoing(text("procedures.refine"), buttons=[[fields_button()], *back_to_menu()])
    if what == "fields":
        return Outgoing(text("procedures.fields_intro"), buttons=field_buttons(ctx, FIELDS_SHOWN))
    if what == "field" and len(parts) == 4:
        return field_page(ctx, parts[3], action_number(msg.action, 2, 1, 10_000) or 1)
    procedure = catalogue(ctx).get(what)
    if procedure is None:
        return Outgoing(text("procedures.unknown_procedure"),
                        buttons=[[Button(text("procedures.button_search_again"),
                                         action="menu:thutuc")], *back_to_menu()])
    section = parts[2] if len(parts) > 2 else ""
    if section == "docs":
        return documents_reply(procedure, action_number(msg.action, 3, 1, len(cases(procedure))))
    if section in SECTIONS:
        values: dict[str, object] = {}
        if section == "fees":
            values["groups"] = channel_groups(procedure)
        elif section == "steps":
            values["steps"] = steps_view(procedure)
            values["conditions"] = conditions_view(procedure)
        reply = Outgoing(shown(SECTIONS[section][0], procedure, **values),
                         buttons=card_buttons(procedure, current=section))
        return await offices.with_counter(reply, procedure, ctx) if section == "where" else reply
    return Outgoing(shown("procedures.card", procedure), buttons=card_buttons(procedure))


def shown(key: str, procedure: Procedure, **values: object) -> str:
    """A card or section of `procedure` as the citizen reads it: its short name, and today's
    government levels in the record's words."""
    return current_levels(text(key, p=procedure, name=short_name(procedure), **values))


def documents_reply(procedure: Procedure, number: int | None) -> Outgoing:
    """The documents; for a procedure with several cases, those every case needs and the
    question which case applies (buttons), or, once `number` (1-based) is chosen, that case's
    papers as well."""
    names = cases(procedure)
    case = names[number - 1] if number is not None else None
    reply = shown("procedures.documents", procedure, view=documents_view(procedure, case),
                  cases=names, case=case_label(case) if case else "")
    buttons = card_buttons(procedure, current="docs")
    if names and case is None:
        choices = [[Button(short(case_label(name)), action=f"proc:{procedure.code}:docs:{i}")]
                   for i, name in enumerate(names, start=1)]
        buttons = choices + buttons
    elif case is not None:
        buttons = [[Button(text("procedures.button_all_cases"),
                           action=f"proc:{procedure.code}:docs")], *buttons]
    return Outgoing(reply, buttons=buttons)


def channel_groups(procedure: Procedure) -> list[tuple[list[str], Channel]]:
    """Channels with the same time limit and fees, said once: "Trực tiếp, Trực tuyến: …"."""
    groups: list[tuple[list[str], Channel]] = []
    for channel in procedure.channels:
        for labels, first in groups:
            if (first.time_limit, first.fees) == (channel.time_limit, channel.fees):
                labels.append(channel.label)
                break
        else:
            groups.append(([channel.label], channel))
    return groups


def card_buttons(procedure: Procedure, current: str = "") -> list[list[Button]]:
    sections = [Button(text(label), action=f"proc:{procedure.code}:{key}")
                for key, (_, label) in SECTIONS.items() if key != current]
    rows = [sections[i : i + 2] for i in range(0, len(sections), 2)]
    if procedure.detail_url.startswith("https://"):
        rows.append([Button(text("procedures.button_official"), url=procedure.detail_url)])
    rows.append([Button(text("procedures.button_not_this"), action="proc:refine")])
    return rows + back_to_menu()


def field_page(ctx: Context, name: str, page: int) -> Outgoing:
    procedures = catalogue(ctx).in_field(name)
    if not procedures:
        return Outgoing(text("procedures.fields_intro"), buttons=field_buttons(ctx, FIELDS_SHOWN))
    pages = math.ceil(len(procedures) / FIELD_PAGE)
    page = min(max(page, 1), pages)
    chunk = procedures[(page - 1) * FIELD_PAGE : page * FIELD_PAGE]
    buttons = [[procedure_button(p)] for p in chunk]
    if page < pages:
        buttons.append([Button(text("procedures.button_more"),
                               action=f"proc:field:{page + 1}:{name}")])
    buttons.append([fields_button()])
    return Outgoing(text("procedures.field_list", name=name, procedures=chunk, page=page,
                         pages=pages, short_name=short_name),
                    buttons=buttons + back_to_menu())
