"""The basics every citizen meets: greeting and main menu, help, cancel, and the polite
answers for anything not understood."""

from __future__ import annotations

from functools import lru_cache

from bot.messages import Button, Incoming, Outgoing
from bot.router import Answers, Context, Reply, Router
from handlers.texts import text
from procedures.normalize import fold

router = Router()

MENU_ACTIONS = ("thutuc", "hoso", "phananh", "danhgia", "dangky", "caidat")
FEATURE_NAMES = {
    "hoso": "menu_dossier",
    "hosocuatoi": "menu_mine",
    "phananh": "menu_feedback",
    "danhgia": "menu_rate",
    "dangky": "menu_notices",
    "caidat": "menu_settings",
    "thutuc": "menu_procedures",
    "xoadulieu": "menu_forget",
}


def main_menu() -> list[list[Button]]:
    def item(action: str) -> Button:
        return Button(text(f"start.{FEATURE_NAMES[action]}"), action=f"menu:{action}")

    return [
        [item("thutuc"), item("hoso")],
        [item("phananh")],
        [item("danhgia"), item("dangky")],
        [item("caidat"), item("hosocuatoi")],
    ]


def back_to_menu() -> list[list[Button]]:
    return [[Button(text("start.menu_back"), action="menu")]]


def with_menu(message: str) -> Outgoing:
    return Outgoing(message, buttons=main_menu())


def error_reply() -> Outgoing:
    return Outgoing(text("start.error"), buttons=back_to_menu())


def too_long_note(limit: int) -> Outgoing:
    return Outgoing(text("start.too_long", limit=limit))


def rate_limited_note() -> Outgoing:
    """No buttons: a press would be one more message over the limit."""
    return Outgoing(text("start.rate_limited"))


@router.command("start", "menu", "batdau")
async def on_start(msg: Incoming, ctx: Context) -> Reply:
    ctx.conversation.end()
    return with_menu(text("start.greeting", name=msg.display_name))


@router.action("menu")
async def on_menu(msg: Incoming, ctx: Context) -> Reply:
    ctx.conversation.end()
    return with_menu(text("start.menu_prompt"))


@router.command("trogiup", "help", "huongdan")
async def on_help(msg: Incoming, ctx: Context) -> Reply:
    return Outgoing(text("start.help"), buttons=back_to_menu())


@router.command("huy", "cancel", "thoat")
async def on_cancel(msg: Incoming, ctx: Context) -> Reply:
    if ctx.conversation.state is None:
        return with_menu(text("start.nothing_to_cancel"))
    ctx.conversation.end()
    return with_menu(text("start.cancelled"))


GREETINGS = {"xin chao", "chao", "chao em", "chao ban", "hello", "hi", "alo", "a lo", "helo",
             "chao ad", "xin chao em", "chao buoi sang", "chao anh", "chao chi"}
HELP = {"tro giup", "giup", "giup toi", "giup toi voi", "giup em", "giup em voi", "giup minh",
        "giup minh voi", "giup voi", "giup do", "can giup", "can giup do", "can tro giup",
        "ho tro", "can ho tro", "toi can giup do", "toi can ho tro", "huong dan",
        "huong dan su dung", "help", "help me", "lam sao", "lam the nao", "menu", "bat dau"}
ACKNOWLEDGEMENTS = {"ok", "oke", "okay", "okie", "oki", "ok a", "ok em", "ok roi", "vang",
                    "vang a", "da", "da vang", "da a", "u", "uh", "uhm", "duoc", "duoc roi",
                    "roi", "biet roi", "hieu roi", "da hieu", "dong y"}


@lru_cache(maxsize=1024)
def plain(message: str) -> str:
    """"Giúp tôi với!!" -> "giup toi voi": no marks, no punctuation, single spaces.
    Remembered: the greeting, thanks and search handlers each ask for the same message."""
    words = "".join(ch if ch.isalnum() else " " for ch in fold(message)).split()
    return " ".join(words)


@router.on_text
async def on_greeting(msg: Incoming, ctx: Context) -> list[Outgoing] | None:
    """Greetings, calls for help and "ok" get their own answer, never a procedure search."""
    said = plain(msg.text)
    if said in GREETINGS:
        return [with_menu(text("start.greeting", name=msg.display_name))]
    if said in HELP:
        return [with_menu(text("start.help_intro"))]
    if said in ACKNOWLEDGEMENTS:
        return [with_menu(text("start.acknowledged"))]
    return None


async def on_unknown_command(msg: Incoming, ctx: Context) -> Reply:
    command = msg.command[0] if msg.command else ""
    return with_menu(text("start.unknown_command", command=command[:40]))


async def on_stale_button(msg: Incoming, ctx: Context) -> Reply:
    return with_menu(text("start.stale_button"))


async def coming_soon(feature_key: str) -> Outgoing:
    feature = text(f"start.{FEATURE_NAMES[feature_key]}")
    return Outgoing(text("start.coming_soon", feature=feature), buttons=back_to_menu())


def fallback(msg: Incoming) -> Outgoing:
    """Never silence: say what we can do instead."""
    if not msg.text and msg.attachments:
        kind = text("start.attachment_kind", kind=msg.attachments[0].kind)
        return with_menu(text("start.not_text", kind=kind))
    if not msg.text:
        return with_menu(text("start.empty_message"))
    return with_menu(text("start.not_understood"))


async def on_fallback(msg: Incoming, ctx: Context) -> Reply:
    return fallback(msg)


async def on_not_staff(msg: Incoming, ctx: Context) -> Reply:
    return Outgoing(text("start.staff_only"), buttons=back_to_menu())


router.answers = Answers(
    fallback=on_fallback,
    unknown_command=on_unknown_command,
    stale_button=on_stale_button,
    not_staff=on_not_staff,
    error=error_reply,
    too_long=too_long_note,
    rate_limited=rate_limited_note,
)


def _not_ready_yet(feature: str) -> Router:
    """Commands and menu entries of features still being built answer honestly: "sắp có".
    A feature's own router, included after this one, replaces these."""

    async def handler(msg: Incoming, ctx: Context) -> Reply:
        ctx.conversation.end()
        return await coming_soon(feature)

    soon = Router()
    soon.action(f"menu:{feature}")(handler)
    return soon


COMMAND_ALIASES = {
    "thutuc": ("thutuc", "search"),
    "hoso": ("hoso", "status"),
    "phananh": ("phananh", "feedback"),
    "danhgia": ("danhgia", "rate"),
    "dangky": ("dangky", "subscribe"),
    "caidat": ("caidat", "settings"),
    "xoadulieu": ("xoadulieu", "forget"),
}
for _feature in ("hoso", "phananh", "danhgia", "dangky", "caidat", "xoadulieu", "thutuc"):
    _soon = _not_ready_yet(_feature)
    router.command(*COMMAND_ALIASES[_feature])(_soon.actions[f"menu:{_feature}"])
    router.include(_soon)
