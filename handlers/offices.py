"""The commune's counter: where it is, when it opens, how to call it and the way there.

The service points are data an official keeps (`motcua import-offices`, bot/db/offices.py).
The bot learns the citizen's commune from what they say ("tôi ở phường Âu Lâu"), from the
commune of a dossier they follow, or by asking once; `/caidat` shows it and changes it
(action `office:ask`). Questions about the counter ("ủy ban làm việc mấy giờ", "số điện thoại
một cửa", "địa chỉ ủy ban xã ở đâu") are recognised before procedure search and answered from
that commune's rows; the card's "Nộp ở đâu" section shows the same counter (`with_counter`).
Actions: `office:ask` · `office:set:<commune code>`.
"""

from __future__ import annotations

import re
from functools import cache
from urllib.parse import quote

from sqlalchemy import select

from bot.db import offices as store
from bot.db.dossiers import Dossier, DossierSubscription
from bot.messages import Button, Incoming, Outgoing
from bot.router import Context, Reply, Router
from handlers.start import back_to_menu
from handlers.texts import text
from handlers.units import Commune, bare, find_communes, find_provinces, fold_words, get_commune
from procedures.catalogue import Procedure

router = Router()

ASK_COMMUNE = "office.commune"
KINDS = {
    "hours": ("may gio", "gio nao", "gio lam viec", "gio mo cua", "gio dong cua", "mo cua",
              "dong cua", "lam viec luc nao", "gio hanh chinh", "lich lam viec", "thu bay",
              "chu nhat", "nghi trua", "co lam viec"),
    "phone": ("so dien thoai", "dien thoai", "sdt", "so dt", "hotline", "goi dien"),
    "way": ("duong di", "chi duong", "ban do", "di the nao", "di nhu the nao", "duong den",
            "den bang cach nao", "duong nao"),
    "address": ("dia chi", "o dau", "cho nao", "noi nao"),
}
STRONG_PLACES = ("uy ban nhan dan", "uy ban", "ubnd", "ub", "bo phan mot cua", "mot cua",
                 "trung tam phuc vu hanh chinh cong", "trung tam phuc vu", "hanh chinh cong",
                 "bo phan tiep nhan", "tru so")
WEAK_PLACES = ("xa", "phuong", "dac khu", "nop ho so", "nop", "lam viec")
FILLER = frozenset(
    "cho xin hoi a vay the oi em anh chi cua la bao nhieu gi nao khong ko k co biet minh toi "
    "ban nhe voi duoc o di den ho so tai va thi lam sao nha ah nhi day kia".split())
STATEMENT = re.compile(
    r"^(?:toi|minh|em|nha toi|nha minh|nha em|gia dinh toi|chung toi)\s+"
    r"(?:dang song o|dang o|song o|song tai|cu tru o|cu tru tai|o tai|thuoc|o)\s+(.+)$")
NAMED = re.compile(r"\b(xa|phuong|dac khu)\s+([a-z0-9 ]+)")
CLAUSES = re.compile(r"[,.;?!\n]+")
MAX_NAME_WORDS = 5
""""xã Tân Phong Đông": longer than this after "tôi ở", the message says more than where the
citizen lives (a procedure, most often), and an unknown name is left to the search."""


def _mentions(folded: str, terms: tuple[str, ...]) -> bool:
    """Whether `folded` holds one of `terms` as whole words (asked of every message: one
    compiled pattern per list)."""
    return _pattern(terms).search(folded) is not None


@cache
def _pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{'|'.join(re.escape(t) for t in terms)})\b")


def office_question(message: str) -> str | None:
    """The kind of counter question ("hours", "phone", "way", "address"), or None when the
    message is something else (a procedure search, most often)."""
    folded = fold_words(message)
    kinds = [kind for kind, terms in KINDS.items() if _mentions(folded, terms)]
    if not kinds:
        return None
    strong = _mentions(folded, STRONG_PLACES)
    rest = folded
    for term in sorted([t for k in kinds for t in KINDS[k]] + list(STRONG_PLACES)
                       + list(WEAK_PLACES), key=len, reverse=True):
        rest = re.sub(rf"\b{re.escape(term)}\b", " ", rest)
    named = named_commune(message)
    if named is not None:
        rest = re.sub(rf"\b{re.escape(bare(named.name))}\b", " ", rest)
    left = [w for w in re.findall(r"[a-z0-9]+", rest) if w not in FILLER]
    return kinds[0] if len(left) <= (3 if strong else 0) else None


def named_commune(message: str) -> Commune | None:
    """The one commune a message names ("... phường Âu Lâu ..."), if exactly one fits."""
    match = NAMED.search(fold_words(message))
    if match is None:
        return None
    words = match.group(2).split()
    for size in range(min(len(words), 4), 0, -1):
        found = exact_communes(f"{match.group(1)} {' '.join(words[:size])}")
        if len(found) == 1:
            return found[0]
    return None


def exact_communes(name: str, province_code: str | None = None) -> list[Commune]:
    """Communes whose name is `name` (with or without "xã"/"phường"), every province."""
    wanted, folded = bare(name), fold_words(name)
    found = [c for c in find_communes(name, province_code, limit=50) if bare(c.name) == wanted]
    same_kind = [c for c in found if fold_words(c.name) == folded]
    return same_kind or found


def communes_in(place: str) -> list[Commune]:
    """The communes a citizen's words name: "phường Âu Lâu", "Âu Lâu, Lào Cai"."""
    parts = [p.strip() for p in CLAUSES.split(place) if p.strip()]
    if not parts:
        return []
    province = None
    if len(parts) > 1:
        provinces = [p for p in find_provinces(parts[1]) if bare(p.name) == bare(parts[1])]
        province = provinces[0].code if len(provinces) == 1 else None
    name = re.split(r"\b(?:tinh|thanh pho)\b", fold_words(parts[0]))[0].strip()
    return exact_communes(name, province) if name else []


async def citizen_commune(ctx: Context) -> Commune | None:
    """The commune the citizen told us, else the commune of a dossier they follow."""
    code = await store.get_citizen_commune(ctx.session, ctx.citizen_id)
    if code is None:
        code = await ctx.session.scalar(
            select(Dossier.commune_code).join(DossierSubscription,
                                              DossierSubscription.dossier_id == Dossier.id)
            .where(DossierSubscription.citizen_id == ctx.citizen_id,
                   DossierSubscription.active.is_(True), Dossier.commune_code.is_not(None))
            .order_by(DossierSubscription.id.desc()).limit(1))
    return get_commune(code)


def in_sentence(commune: Commune) -> str:
    """"Phường Âu Lâu" as it reads inside a sentence: "phường Âu Lâu"."""
    return commune.name[:1].lower() + commune.name[1:]


def change_button() -> Button:
    return Button(text("offices.button_change"), action="office:ask")


def map_search_url(commune: Commune) -> str:
    query = f"{text('offices.map_query', commune=in_sentence(commune))}, {commune.province}"
    return "https://www.google.com/maps/search/?api=1&query=" + quote(query)


async def counter_reply(ctx: Context, commune: Commune, kind: str) -> Outgoing:
    """The commune's service points, the asked-for detail first; or, without data, the
    apology and what to do instead."""
    offices = await store.find_offices(ctx.session, commune.code)
    if not offices:
        return Outgoing(text("offices.no_data", commune=in_sentence(commune),
                             province=commune.province),
                        buttons=[[Button(text("offices.button_map"), url=map_search_url(commune))],
                                 [change_button()], *back_to_menu()])
    maps = [[Button(text("offices.button_way", name=o.name), url=o.map_url)]
            for o in offices if o.map_url]
    return Outgoing(text("offices.counter", commune=in_sentence(commune), offices=offices,
                         kind=kind),
                    buttons=[*maps, [change_button()], *back_to_menu()])


def ask_commune(ctx: Context, kind: str = "") -> Outgoing:
    ctx.conversation.goto(ASK_COMMUNE, kind=kind)
    return Outgoing(text("offices.ask_commune"), buttons=back_to_menu())


def choose_commune(found: list[Commune]) -> Outgoing:
    return Outgoing(text("offices.choose_commune"),
                    buttons=[[Button(f"{c.name} ({c.province})", action=f"office:set:{c.code}")]
                             for c in found[:8]] + back_to_menu())


async def remember(ctx: Context, commune: Commune, kind: str) -> list[Outgoing]:
    """Store the commune; answer the question that was waiting for it, if any."""
    await store.set_citizen_commune(ctx.session, ctx.citizen_id, commune.code)
    ctx.conversation.end()
    noted = Outgoing(text("offices.remembered", commune=in_sentence(commune),
                          province=commune.province, asked=bool(kind)),
                     buttons=[] if kind else back_to_menu())
    return [noted, await counter_reply(ctx, commune, kind)] if kind else [noted]


@router.on_text
async def on_office_text(msg: Incoming, ctx: Context) -> list[Outgoing] | None:
    """"tôi ở phường Âu Lâu" (and a question in the same message), or a counter question."""
    clauses = [c for c in CLAUSES.split(msg.text) if c.strip()]
    statement = STATEMENT.match(fold_words(clauses[0])) if clauses else None
    kind = office_question(msg.text)
    if statement is not None:
        place = statement.group(1)
        if len(clauses) > 1 and kind is None:
            place = f"{place}, {clauses[1]}"
        found = communes_in(place)
        if len(found) == 1:
            return await remember(ctx, found[0], kind or "")
        if found:
            ctx.conversation.goto(ASK_COMMUNE, kind=kind or "")
            return [choose_commune(found)]
        if NAMED.match(fold_words(place)) and len(place.split()) <= MAX_NAME_WORDS:
            return [Outgoing(text("offices.no_commune", query=msg.text[:60]),
                             buttons=back_to_menu())]
    if kind is None:
        return None
    commune = named_commune(msg.text) or await citizen_commune(ctx)
    if commune is None:
        return [ask_commune(ctx, kind)]
    return [await counter_reply(ctx, commune, kind)]


@router.step(ASK_COMMUNE)
async def on_commune_answer(msg: Incoming, ctx: Context) -> Reply:
    kind = str(ctx.conversation.data.get("kind", ""))
    statement = STATEMENT.match(fold_words(msg.text))
    found = communes_in(statement.group(1) if statement else msg.text) if msg.text else []
    if len(found) == 1:
        return await remember(ctx, found[0], kind)
    if found:
        return choose_commune(found)
    return Outgoing(text("offices.no_commune", query=msg.text[:60]), buttons=back_to_menu())


@router.action("office:ask")
async def on_ask(msg: Incoming, ctx: Context) -> Reply:
    ctx.conversation.end()
    return ask_commune(ctx)


@router.action("office:set")
async def on_set(msg: Incoming, ctx: Context) -> Reply:
    commune = get_commune((msg.action or "").rpartition(":")[2])
    if commune is None:
        return ask_commune(ctx)
    kind = str(ctx.conversation.data.get("kind", "")) \
        if ctx.conversation.state == ASK_COMMUNE else ""
    return await remember(ctx, commune, kind)


async def with_counter(reply: Outgoing, procedure: Procedure, ctx: Context) -> Outgoing:
    """The card's "Nộp ở đâu" section with the citizen's commune counter under it (for
    procedures handled at the commune), or the offer to tell us the commune."""
    if procedure.level != "commune":
        return reply
    commune = await citizen_commune(ctx)
    if commune is None:
        counter = text("offices.where_unknown")
        button = Button(text("offices.button_set"), action="office:ask")
    else:
        offices = await store.find_offices(ctx.session, commune.code)
        counter = text("offices.where", commune=in_sentence(commune), offices=offices)
        button = change_button()
    note = text("procedures.data_note", p=procedure)
    if reply.text.endswith(note):  # the counter with the rest of the section, the note last
        reply.text = f"{reply.text[:-len(note)].rstrip()}\n\n{counter}\n\n{note}"
    else:
        reply.text += "\n\n" + counter
    reply.buttons.insert(-1, [button])
    return reply
