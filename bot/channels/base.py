"""What every channel promises: parse platform updates into `Incoming`, send `Outgoing`,
and report platform failures as one exception type."""

from __future__ import annotations

import hmac
from typing import Protocol

from aiohttp import web

from bot.messages import ChatRef, Outgoing


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


def secret_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def require_secret(request: web.Request, header: str, expected: str) -> None:
    """A platform's shared webhook secret: 401 when missing, 403 when wrong (compared in
    constant time); the caller has stored nothing yet."""
    given = request.headers.get(header)
    if given is None:
        raise web.HTTPUnauthorized(text="missing secret token")
    if not secret_matches(given, expected):
        raise web.HTTPForbidden(text="wrong secret token")
