"""What every channel promises: parse platform updates into `Incoming`, send `Outgoing`,
and report platform failures as one exception type."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from aiohttp import web

from bot.db.session import is_outage
from bot.messages import ChatRef, Outgoing

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
