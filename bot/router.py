"""Dispatch of an `Incoming` to handlers, and the conversation state around it.

`Router` is the registry: commands, button actions (by prefix), conversation steps and the
free-text handler. `Core.handle` is the pipeline every channel calls: drop duplicate
deliveries, load who is writing and where their conversation stands, dispatch, save, and give
back the replies for the channel to send.
"""

from __future__ import annotations

import copy
import logging
import re
import time
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.config import Settings
from bot.db import repositories
from bot.db.session import Database, is_outage
from bot.messages import Incoming, Outgoing
from bot.outbox import journal, journal_replies
from bot.ratelimit import Verdict, judge
from procedures.normalize import fold

log = logging.getLogger(__name__)


Reply = Outgoing | list[Outgoing] | None
Handler = Callable[[Incoming, "Context"], Awaitable[Reply]]
TextHandler = Callable[[Incoming, "Context"], Awaitable[list[Outgoing] | None]]
"""Tried in order on free text outside a flow; returns None when the text is not its kind."""

UPDATES = Counter("motcua_updates_total", "Inbound updates by channel and outcome",
                  ["channel", "outcome"])
LATENCY = Histogram("motcua_handler_seconds", "Time to handle one inbound update", ["channel"],
                    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))

NUMBER_CHOICE = re.compile(r"^[1-9][0-9]?$")
MAX_TEXT = 4000
"""Longer messages are cut to this before handlers see them (and the citizen is told)."""
MAX_ACTION = 512
"""Longer button actions are not ours (Telegram's own limit is 64 bytes; longer ones are
stored server-side and come back resolved)."""
MAX_ID = 2**63 - 1
"""The largest id a database column holds (BIGINT on PostgreSQL, INTEGER on SQLite)."""
DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")
"""Plain ASCII decimals without sign, spaces or leading zeros ("²" and "٣" are digits to
`str.isdigit`, and `int` accepts "+1", " 1" and "1_0")."""


class StaleButton(Exception):
    """A pressed button's action does not parse (crafted, or made by an older version): the
    core answers as for a button that has expired, and nothing else happens."""


def action_part(action: str | None, position: int) -> str | None:
    """The `position`-th colon-separated part of an action ("fb:show:42", 2 -> "42")."""
    parts = (action or "").split(":")
    return parts[position] if -len(parts) <= position < len(parts) else None


def action_number(action: str | None, position: int, low: int, high: int) -> int | None:
    """The whole number at `position` of an action when it is a plain decimal within
    `low`..`high`; None for anything else (missing, signed, "²", 20 digits…)."""
    part = action_part(action, position)
    if part is None or not DECIMAL.fullmatch(part):
        return None
    value = int(part)
    return value if low <= value <= high else None


def action_id(action: str | None, position: int = -1) -> int | None:
    """The database id at `position` of an action: a plain decimal 1..2**63-1, else None.
    Every id a handler takes from a button goes through here, so a crafted one never
    reaches a statement (an out-of-range id is a database error on PostgreSQL)."""
    return action_number(action, position, 1, MAX_ID)


def need_id(action: str | None, position: int = -1) -> int:
    """`action_id`, or `StaleButton` when the action carries no valid id there."""
    ident = action_id(action, position)
    if ident is None:
        raise StaleButton(action)
    return ident


def plausible_action(action: str) -> bool:
    """Whether an action could have come from one of our buttons: not too long, and no
    control characters (a NUL is a database error on PostgreSQL)."""
    return len(action) <= MAX_ACTION and not any(
        unicodedata.category(ch)[0] == "C" for ch in action)


@dataclass
class ConversationState:
    """Where a chat stands: a step name (None = no flow) and the data gathered so far."""

    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    menu: list[str] = field(default_factory=list)
    """Actions of the last numbered menu shown, so "1", "2"… can press them."""

    def goto(self, state: str, **data: Any) -> None:
        self.state = state
        self.data.update(data)

    def end(self) -> None:
        self.state = None
        self.data = {}


@dataclass
class Context:
    """What a handler may use besides the message."""

    settings: Settings
    database: AsyncSession | AsyncConnection
    """Where a handler's database work goes: a session the caller holds (the staff desk), or
    the update's transaction (the core), in which a session is made when a handler first
    asks for one."""
    conversation: ConversationState
    citizen_id: int
    services: dict[str, Any]
    now: datetime
    _session: AsyncSession | None = field(default=None, init=False, repr=False)

    @property
    def session(self) -> AsyncSession:
        """The ORM session. In the core it is made on first use: most updates (searches,
        greetings, menus) need none, and making one costs more than their own database
        work."""
        if isinstance(self.database, AsyncSession):
            return self.database
        if self._session is None:
            self._session = AsyncSession(bind=self.database, expire_on_commit=False)
        return self._session

    async def close_session(self, *, flush: bool) -> None:
        """Done with the session made on first use, if any: its pending changes flushed
        into the update's transaction first when `flush`."""
        session, self._session = self._session, None
        if session is not None:
            if flush:
                await session.flush()
            await session.close()

    def service(self, name: str) -> Any:
        return self.services.get(name)


@dataclass
class Answers:
    """What the core says by itself when no feature handler applies (handlers/start.py)."""

    fallback: Handler
    """Anything not understood: never silence."""
    unknown_command: Handler
    stale_button: Handler
    not_staff: Handler
    error: Callable[[], Outgoing]
    """The apology when a handler failed."""
    too_long: Callable[[int], Outgoing]
    """The note that only the first N characters were read."""
    rate_limited: Callable[[], Outgoing]
    """The notice to a chat over RATE_LIMIT_CHAT (said once per window, then silence)."""


class Router:
    """Registry of handlers. Feature modules each build one and the app includes them."""

    def __init__(self) -> None:
        self.commands: dict[str, Handler] = {}
        self.actions: dict[str, Handler] = {}
        self.steps: dict[str, Handler] = {}
        self.text_handlers: list[TextHandler] = []
        self.staff_commands: dict[str, Handler] = {}
        self.staff_message: Handler | None = None
        self.answers: Answers | None = None

    def command(self, *names: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for name in names:
                self.commands[name] = handler
            return handler

        return register

    def action(self, prefix: str) -> Callable[[Handler], Handler]:
        """Handle button actions equal to `prefix` or starting with `prefix + ":"`."""

        def register(handler: Handler) -> Handler:
            self.actions[prefix] = handler
            return handler

        return register

    def step(self, *states: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for state in states:
                self.steps[state] = handler
            return handler

        return register

    def staff_command(self, *names: str) -> Callable[[Handler], Handler]:
        """Commands for staff: anyone in the staff group, or on the STAFF_USER_IDS list."""

        def register(handler: Handler) -> Handler:
            for name in names:
                self.staff_commands[name] = handler
            return handler

        return register

    def staff_message_handler(self, handler: Handler) -> Handler:
        """Messages in the staff group that are not commands (replies to citizens)."""
        self.staff_message = handler
        return handler

    def on_text(self, handler: TextHandler) -> TextHandler:
        self.text_handlers.append(handler)
        return handler

    def include(self, other: Router) -> None:
        self.commands.update(other.commands)
        self.actions.update(other.actions)
        self.steps.update(other.steps)
        self.text_handlers.extend(other.text_handlers)
        self.staff_commands.update(other.staff_commands)
        self.staff_message = other.staff_message or self.staff_message
        self.answers = other.answers or self.answers

    def find_action(self, action: str) -> Handler | None:
        prefix = action
        while prefix:
            if prefix in self.actions:
                return self.actions[prefix]
            prefix = prefix.rpartition(":")[0]
        return None


def as_list(reply: Reply) -> list[Outgoing]:
    if reply is None:
        return []
    return [reply] if isinstance(reply, Outgoing) else list(reply)


class HandlerFailed(Exception):
    """A handler raised: its work is rolled back and the citizen gets an apology."""


class Core:
    """The pipeline from an `Incoming` to replies, shared by every channel and process."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        router: Router,
        *,
        numbered_channels: frozenset[str] = frozenset({"console", "zalo_bot"}),
        journaled_channels: frozenset[str] = frozenset({"telegram", "zalo_oa", "zalo_bot"}),
        services: dict[str, Any] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.db = db
        self.router = router
        self.numbered_channels = numbered_channels
        self.journaled_channels = journaled_channels
        """Channels whose replies are sent after the update's commit: they are written into
        the outbox with the update, so a crash before they leave loses none
        (`bot.outbox.journal_replies`)."""
        self.reply_hold = timedelta(seconds=settings.outbox_lease_seconds)
        self.services: dict[str, Any] = services if services is not None else {}
        self.clock = clock

    async def handle(self, msg: Incoming) -> list[Outgoing]:
        """Handle one update exactly once. Returns the replies (empty for a duplicate).
        A database outage propagates (`is_outage`), so a webhook can answer 503 and the
        platform retries; a failing handler, or a statement the database refused (a value
        out of range…), is rolled back, recorded, and the citizen gets an apology."""
        started = time.perf_counter()
        try:
            replies = await self._handle(msg)
            outcome = "handled" if replies is not None else "duplicate"
        except HandlerFailed:
            log.exception("handler failed for %s", msg.update_key)
            replies = [self.answers.error()]
            async with self.db.session() as session:
                if await repositories.claim_update(session, msg.update_key, self.clock(),
                                                   "failed"):
                    await self._journal(session, msg, replies)
                else:  # another process handled it in the meantime
                    replies = []
            outcome = "error"
        UPDATES.labels(msg.channel, outcome).inc()
        LATENCY.labels(msg.channel).observe(time.perf_counter() - started)
        return replies or []

    async def _handle(self, msg: Incoming) -> list[Outgoing] | None:
        try:
            return await self._handle_in_session(msg)
        except SQLAlchemyError as error:
            if is_outage(error):
                raise
            raise HandlerFailed() from error  # bad input, not an outage: never retried

    async def _handle_in_session(self, msg: Incoming) -> list[Outgoing] | None:
        """The update's claim, its chat, what its handler does and its replies' journal, in
        one transaction. The core's own statements run in two trips from the event loop
        (`run_sync`): the claim and the chat's read before the handler (the transaction
        begins with them), the writes and the commit after. Anything that does not reach
        the commit is rolled back when the connection closes."""
        now = self.clock()
        conversation_id = self.conversation_id(msg)
        async with self.db.engine.connect() as connection:
            chat = await connection.run_sync(
                repositories.open_update, msg.update_key, msg.channel, msg.user_id,
                msg.chat_id, msg.display_name, now, conversation_id=conversation_id)
            if chat is None:
                return None
            stored = copy.deepcopy(chat.data)  # handlers mutate nested values in place
            conversation = ConversationState(
                state=chat.state, data=stored.get("data", {}), menu=stored.get("menu", []),
            )
            ctx = Context(self.settings, connection, conversation, chat.citizen_id,
                          self.services, now)
            try:
                try:
                    replies = await self._dispatch(msg, ctx)
                except StaleButton:
                    replies = as_list(await self.answers.stale_button(msg, ctx))
                await ctx.close_session(flush=True)
            except SQLAlchemyError:
                raise  # classified in `_handle`
            except Exception as error:
                raise HandlerFailed() from error
            finally:
                await ctx.close_session(flush=False)
            if msg.channel in self.numbered_channels and any(out.buttons for out in replies):
                conversation.menu = [b.action for out in replies for b in out.flat_buttons()
                                     if b.action]
            saved: dict[str, Any] = {}
            if conversation.data:
                saved["data"] = conversation.data
            if conversation.menu:
                saved["menu"] = conversation.menu
            await connection.run_sync(self._finish, msg, conversation_id, chat,
                                      conversation.state, saved, replies, now)
        return replies

    def _finish(self, connection: Connection, msg: Incoming, conversation_id: str,
                chat: repositories.ChatState, state: str | None, saved: dict[str, Any],
                replies: list[Outgoing], now: datetime) -> None:
        """The update's writes, then its commit: the conversation if it changed, and the
        replies into the outbox on the channels that send them after the commit."""
        repositories.save_conversation(connection, msg.channel, conversation_id, chat, state,
                                       saved, now)
        if msg.channel in self.journaled_channels:
            journal(connection, msg.chat, replies, msg.update_key, self.reply_hold)
        connection.commit()

    async def _journal(self, session: AsyncSession, msg: Incoming,
                       replies: list[Outgoing]) -> None:
        if msg.channel in self.journaled_channels:
            await journal_replies(session, msg.chat, replies, msg.update_key, self.reply_hold)

    @staticmethod
    def conversation_id(msg: Incoming) -> str:
        """Where a flow's state is kept: the chat, or in a group each member's own."""
        return f"{msg.chat_id}:{msg.user_id}" if msg.is_group else msg.chat_id

    @property
    def answers(self) -> Answers:
        assert self.router.answers is not None, "the app must include handlers.start"
        return self.router.answers

    async def _dispatch(self, msg: Incoming, ctx: Context) -> list[Outgoing]:
        router = self.router
        notes: list[Outgoing] = []
        if len(msg.text) > MAX_TEXT:
            msg.text = msg.text[:MAX_TEXT]
            notes.append(self.answers.too_long(MAX_TEXT))
        if msg.is_staff_chat:
            return notes + await self._dispatch_staff(msg, ctx)
        if msg.is_group and not msg.command and not msg.action:
            return []  # in ordinary groups the bot speaks only when spoken to
        if (limited := await self._over_limit(msg)) is not None:
            return limited
        if msg.action is None and msg.channel in self.numbered_channels:
            msg.action = self._numbered_choice(msg.text, ctx.conversation)
        if msg.action is not None:
            handler = (router.find_action(msg.action) if plausible_action(msg.action)
                       else None) or self.answers.stale_button
            return notes + as_list(await handler(msg, ctx))
        command = msg.command or self._bare_command(msg.text)
        if command is not None:
            found = router.commands.get(command[0])
            if found is None and command[0] in router.staff_commands:
                is_staff = (msg.channel, msg.user_id) in self.settings.staff_ids
                found = (router.staff_commands[command[0]] if is_staff
                         else self.answers.not_staff)
            return notes + as_list(await (found or self.answers.unknown_command)(msg, ctx))
        state = ctx.conversation.state
        if state is not None and state in router.steps:
            return notes + as_list(await router.steps[state](msg, ctx))
        if msg.text:
            for text_handler in router.text_handlers:
                result = await text_handler(msg, ctx)
                if result is not None:
                    return notes + result
        return notes + as_list(await self.answers.fallback(msg, ctx))

    async def _over_limit(self, msg: Incoming) -> list[Outgoing] | None:
        """None while the chat is within RATE_LIMIT_CHAT (staff are not limited); over it,
        the notice once per window and then nothing, whatever the message was."""
        if (msg.channel, msg.user_id) in self.settings.staff_ids:
            return None
        verdict = await judge(self.services.get("limiter"), "chat",
                              f"{msg.channel}:{msg.chat_id}", self.settings.rate_limit_chat)
        if verdict is Verdict.ALLOWED:
            return None
        return [self.answers.rate_limited()] if verdict is Verdict.TELL else []

    async def _dispatch_staff(self, msg: Incoming, ctx: Context) -> list[Outgoing]:
        """The staff group: staff commands first, then the general ones; other messages go
        to the staff-message handler (replies to citizens), never to procedure search."""
        router = self.router
        if msg.action is not None:
            handler = router.find_action(msg.action) if plausible_action(msg.action) else None
            return as_list(await handler(msg, ctx)) if handler else []
        if msg.command is not None:
            name = msg.command[0]
            handler = router.staff_commands.get(name) or router.commands.get(name)
            return as_list(await handler(msg, ctx)) if handler else []
        if router.staff_message is not None:
            return as_list(await router.staff_message(msg, ctx))
        return []

    def _bare_command(self, text: str) -> tuple[str, str] | None:
        """A command word typed without "/" ("huy", "hủy", "trogiup") works too."""
        word = fold(text).strip()
        return (word, "") if word in self.router.commands else None

    @staticmethod
    def _numbered_choice(text: str, conversation: ConversationState) -> str | None:
        """On channels without buttons, "2" presses the second option last shown. Only a
        plain 1- or 2-digit number counts: "0003" (the end of a phone number) is text."""
        choice = text.strip().rstrip(".)")
        if NUMBER_CHOICE.match(choice) and int(choice) <= len(conversation.menu):
            return conversation.menu[int(choice) - 1]
        return None
