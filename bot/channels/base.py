"""What every channel promises: parse platform updates into `Incoming`, send `Outgoing`,
and report platform failures as one exception type."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from aiohttp import web

from bot.db.repositories import store_action, stored_action
from bot.db.session import Database, is_outage
from bot.messages import ChatRef, Outgoing

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


class ChannelError(Exception):
    """A send failed. `permanent` errors (blocked, bad request) are not retried;
    `retry_after` (seconds) is the platform's own flood-control pause, when it gave one."""

    def __init__(
        self, reason: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


class Sender(Protocol):
    """A channel as the outbox sees it."""

    name: str

    async def send(self, chat: ChatRef, message: Outgoing) -> str | None:
        """Deliver one message; return the platform's message id (of the last part)."""
        ...


def header_bytes(value: str) -> bytes:
    """A header as the bytes that came over the wire. aiohttp decodes headers as UTF-8 with
    surrogateescape, so a non-UTF-8 header holds lone surrogates and a plain `.encode()` would
    raise: a 500 and a stack trace for anyone who sends one byte of garbage."""
    return value.encode("utf-8", "surrogateescape")


def secret_matches(given: str, expected: str) -> bool:
    """Constant time, as bytes: a header that is not UTF-8 simply does not match."""
    return hmac.compare_digest(header_bytes(given), expected.encode())


def bearer_token(request: web.Request) -> str | None:
    """The token of `Authorization: Bearer <token>`: None without the header, "" for another
    scheme (compare it with `secret_matches`, which takes odd bytes as themselves)."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def route_name(request: web.Request) -> str:
    """What the log calls the request: the route's pattern, never the path the sender chose
    (it may carry a dossier code, control characters or anything else)."""
    resource = request.match_info.route.resource
    return f"{request.method} {resource.canonical if resource else '(no route)'}"


def require_secret(request: web.Request, header: str, expected: str) -> None:
    """A platform's shared webhook secret: 401 when missing, 403 when wrong (compared in
    constant time, as bytes); the caller has stored nothing yet."""
    given = request.headers.get(header)
    if given is None:
        raise web.HTTPUnauthorized(text="missing secret token")
    if not secret_matches(given, expected):
        raise web.HTTPForbidden(text="wrong secret token")


def client_address(request: web.Request, trusted_proxies: frozenset[str]) -> str:
    """The client's address: the peer, or — only when the peer is a trusted proxy — the
    nearest untrusted address in `X-Forwarded-For` (rightmost first, as proxies append)."""
    peer = request.remote or ""
    if peer not in trusted_proxies:
        return peer
    forwarded = request.headers.get("X-Forwarded-For", "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in trusted_proxies:
            return hop[:64]
    return peer


def forwarded_https(request: web.Request, trusted_proxies: frozenset[str]) -> bool:
    """Whether the client reached us over https: directly, or as a trusted proxy says."""
    if request.secure:
        return True
    return ((request.remote or "") in trusted_proxies
            and request.headers.get("X-Forwarded-Proto", "").lower() == "https")


def served_over_https(request: web.Request, settings: Settings) -> bool:
    """Whether cookies must be Secure: the public URL is https, or this request came so."""
    return bool(settings.public_base_url and settings.public_base_url.startswith("https://")
                ) or forwarded_https(request, settings.trusted_proxy_set)


OUTAGE_RETRY = (0.5, 10.0)
"""First and longest wait between attempts at a polled update while the database is down."""


async def wait_out_outage(handle: Callable[[], Awaitable[T]], stopping: asyncio.Event,
                          channel: str) -> T:
    """Handle a polled update. The platform will not send it again, so while the database is
    unavailable (`is_outage`) it is retried (`OUTAGE_RETRY`, doubling) rather than lost; the
    updates behind it wait. Any other error propagates at once, so one bad update never
    holds up the rest; so does an outage once the process is stopping."""
    delay, longest = OUTAGE_RETRY
    while True:
        try:
            return await handle()
        except Exception as error:
            if not is_outage(error) or stopping.is_set():
                raise
            log.warning("%s: database unavailable, an update waits %.1f s: %s", channel, delay,
                        error)
            try:
                await asyncio.wait_for(stopping.wait(), delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, longest)


# -- for platforms without buttons, and replies sent after the acknowledgement (Zalo) ----


def numbered_menu(message: Outgoing) -> str:
    """The options of a platform without buttons: action buttons numbered in the order Core
    remembers them ("2" presses the second), then links with their address."""
    buttons = message.flat_buttons()
    lines = [f"{number}. {b.label}" for number, b in
             enumerate((b for b in buttons if b.action), start=1)]
    lines += [f"• {b.label}: {b.url}" for b in buttons if b.url and not b.action]
    return "\n".join(lines)


def obj(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one (platform payloads are untrusted)."""
    return value if isinstance(value, dict) else {}


def with_menu(text: str, menu: str) -> str:
    return f"{text}\n\n{menu}" if text and menu else text or menu


class ReplyPump:
    """Sends replies after the update was stored and acknowledged: in the background, a
    bounded number at a time, each chat's replies in the order their updates came."""

    def __init__(self, deliver: Callable[[ChatRef, list[Outgoing], str], Awaitable[None]],
                 concurrency: int = 16) -> None:
        self.deliver = deliver
        self.tasks: set[asyncio.Task[None]] = set()
        self.locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self.sending = asyncio.Semaphore(concurrency)

    async def submit(self, chat: ChatRef, replies: list[Outgoing], key: str) -> None:
        if not replies:
            return
        await self.sending.acquire()
        lock, users = self.locks.get(chat.chat_id, (asyncio.Lock(), 0))
        self.locks[chat.chat_id] = (lock, users + 1)  # taken now: keeps this update's place
        task = asyncio.create_task(self._run(chat, replies, key, lock))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, chat: ChatRef, replies: list[Outgoing], key: str,
                   lock: asyncio.Lock) -> None:
        try:
            async with lock:
                await self.deliver(chat, replies, key)
        except Exception:  # a failed delivery must not kill the pump
            log.exception("replies to %s:%s failed", chat.channel, chat.chat_id)
        finally:
            self.sending.release()
            lock, users = self.locks[chat.chat_id]
            if users == 1:
                del self.locks[chat.chat_id]
            else:
                self.locks[chat.chat_id] = (lock, users - 1)

    async def drain(self) -> None:
        if self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)


class StoredActions:
    """Button actions too long for a platform's button field (Telegram's 64 bytes of
    callback data), kept in the database under a short key that the button carries instead.

    A key this process wrote is not written again for `rewrite_after` seconds: the same long
    actions (a field's page) go out with most search answers, and each write was a database
    trip per button. Retention (days) is longer than that, and counts from the last write."""

    KEY = re.compile(r"[0-9a-f]{20}")

    def __init__(self, db: Database, rewrite_after: float = 3600.0, remembered: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.rewrite_after = rewrite_after
        self.remembered = remembered
        self.clock = clock
        self._written: dict[str, float] = {}

    async def key(self, action: str) -> str:
        """The key `action` is stored under, storing it when needed."""
        key = hashlib.sha256(action.encode()).hexdigest()[:20]
        now = self.clock()
        if now - self._written.get(key, -math.inf) < self.rewrite_after:
            return key
        async with self.db.session() as session:
            await store_action(session, key, action, datetime.now(UTC))
        if len(self._written) >= self.remembered:
            self._written.clear()
        self._written[key] = now
        return key

    async def action(self, key: str) -> str | None:
        """The action stored under `key`; None for a key never made or since dropped."""
        if not self.KEY.fullmatch(key):
            return None  # not one we made: no need to look
        async with self.db.session() as session:
            return await stored_action(session, key)
