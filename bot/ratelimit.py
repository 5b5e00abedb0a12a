"""Per-client rate limits (floods of searches, button storms, new web sessions, ratings).

A thin wrapper over the `limits` library: rules are written as `limits` strings
("20/minute;200/hour"), counted in a moving window in memory by default, or in Redis when
several processes serve one deployment (`RATE_LIMIT_STORAGE=async+redis://127.0.0.1:6379`).
"""

from __future__ import annotations

import bisect
import logging
import math
import time
from enum import Enum
from typing import Any

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

log = logging.getLogger(__name__)

TELL_EVERY = "1/minute"
"""How often a client over a limit is told so; the rest of its flood gets no answer."""


def parse_rule(rule: str) -> list[RateLimitItem]:
    """"20/minute;200/hour" -> limits items; "" -> no limit. Raises ValueError when invalid."""
    rule = rule.strip()
    return parse_many(rule) if rule else []


SWEEP_EVERY = 1.0
"""Seconds between two passes of the in-memory storage over its keys to drop expired events."""


class LoopMemoryStorage(MemoryStorage):
    """`limits`' in-memory storage, with its expiry done on the event loop.

    Its own expiry task, started again after every hit once the last pass ended, sends each
    key's list of events to a worker thread (`asyncio.to_thread`) to find the expired ones:
    a thread hop per key of every chat seen in the last hour, over and over under load. On
    the pipeline benchmark it was a tenth of the CPU per update. Here the same pass is a
    plain loop, at most once per `SWEEP_EVERY` seconds; counting is unchanged."""

    def __init__(self, uri: str | None = None, **options: Any) -> None:
        super().__init__(uri, **options)
        self._next_sweep = 0.0

    async def _MemoryStorage__schedule_expiry(self) -> None:  # replaces limits' own
        now = time.time()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_EVERY
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        for key, events in list(self.events.items()):
            # Newest first, as limits keeps them: the expired ones are the tail.
            if events and events[-1].expiry > now:
                continue  # none expired: most keys, most of the time
            kept = bisect.bisect_left(events, -now, key=lambda event: -event.expiry)
            if kept:
                del events[kept:]
            else:
                del self.events[key]
                self.locks.pop(key, None)
        for key, expiry in list(self.expirations.items()):
            if expiry <= now:
                self.storage.pop(key, None)
                del self.expirations[key]
                self.locks.pop(key, None)


class Limiter:
    """`await limiter.hit("chat", key, rule="20/minute")` is False once `key` went over."""

    def __init__(self, storage_uri: str = "async+memory://") -> None:
        self.storage = (LoopMemoryStorage() if storage_uri.startswith("async+memory://")
                        else storage_from_string(storage_uri))
        self.strategy = MovingWindowRateLimiter(self.storage)
        self._rules: dict[str, list[RateLimitItem]] = {}

    def _items(self, rule: str) -> list[RateLimitItem]:
        if rule not in self._rules:
            self._rules[rule] = parse_rule(rule)
        return self._rules[rule]

    async def hit(self, namespace: str, key: str, rule: str, cost: int = 1) -> bool:
        """Count one event of `key`; True while every window of `rule` has room. A storage
        failure (Redis down) lets the event through: a limiter must not stop the service."""
        allowed = True
        for item in self._items(rule):
            try:
                if not await self.strategy.hit(item, namespace, key, cost=cost):
                    allowed = False
            except Exception:  # noqa: BLE001 - the storage is an optimisation, not a gate
                log.warning("rate-limit storage unavailable; letting %s through", namespace)
                return True
        return allowed

    async def retry_after(self, namespace: str, key: str, rule: str) -> int:
        """Whole seconds until `key` has room again under `rule` (at least 1); a courtesy
        figure for `Retry-After`, 1 when the storage cannot say."""
        wait = 1.0
        for item in self._items(rule):
            try:
                stats = await self.strategy.get_window_stats(item, namespace, key)
            except Exception:  # noqa: BLE001 - storage down: the limiter lets requests through
                continue
            if stats.remaining <= 0:
                wait = max(wait, stats.reset_time - time.time())
        return math.ceil(wait)

    async def test(self, namespace: str, key: str, rule: str) -> bool:
        """True while `key` has room, without counting anything."""
        try:
            return all([await self.strategy.test(item, namespace, key)
                        for item in self._items(rule)])
        except Exception:  # noqa: BLE001
            return True


class Verdict(Enum):
    """What to do with one event of a limited client (`judge`)."""

    ALLOWED = "allowed"
    TELL = "tell"
    """Over the limit: answer with the polite notice (at most once per `tell_every`)."""
    QUIET = "quiet"
    """Over the limit and already told: answer nothing, so a flood gets no reply per message."""


async def judge(limiter: Limiter | None, namespace: str, key: str, rule: str,
                tell_every: str = TELL_EVERY) -> Verdict:
    """Count one event of `key` against `rule`; when over, say so once per `tell_every`.
    No limiter or an empty rule: always allowed."""
    if limiter is None or not rule.strip() or await limiter.hit(namespace, key, rule):
        return Verdict.ALLOWED
    if await limiter.hit(f"{namespace}:told", key, tell_every):
        return Verdict.TELL
    return Verdict.QUIET
