"""The Telegram fake's faults and limits: injected errors, resets and delays, and the flood
limits as sliding windows with `retry_after` pauses."""

from __future__ import annotations

import asyncio
import math
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from tests.fakes.telegram_common import (
    _DEFAULT_DESCRIPTIONS,
    JSON,
    SEND_METHODS,
    ApiError,
    Call,
    _is_group,
)


@dataclass
class _Fault:
    methods: frozenset[str] | None  # None: every method
    status: int | None  # None: connection reset
    remaining: int | None  # None: unlimited
    fraction: float = 1.0
    rng: random.Random | None = None
    description: str | None = None
    retry_after: int | None = None

    def applies(self, method: str) -> bool:
        if self.remaining == 0 or (self.methods is not None and method not in self.methods):
            return False
        if self.rng is not None and self.rng.random() >= self.fraction:
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


@dataclass
class _Delay:
    seconds: float
    methods: frozenset[str] | None
    remaining: int | None
    after: bool
    fraction: float = 1.0
    rng: random.Random = field(default_factory=random.Random)

    def applies(self, method: str, after: bool) -> bool:
        if after != self.after or self.remaining == 0:
            return False
        if self.methods is None and method == "getUpdates":
            return False
        if self.methods is not None and method not in self.methods:
            return False
        if self.fraction < 1.0 and self.rng.random() >= self.fraction:
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


class _Window:
    """Times of accepted sends within a sliding window."""

    def __init__(self, limit: int, seconds: float, slack: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.slack = slack
        self.times: deque[float] = deque()

    def retry_after(self, now: float) -> int | None:
        """None if one more send fits now, else the whole seconds until it would."""
        span = self.seconds - self.slack
        while self.times and now - self.times[0] >= span:
            self.times.popleft()
        if len(self.times) < self.limit:
            return None
        frees_at = self.times[len(self.times) - self.limit] + span
        return max(1, math.ceil(frees_at - now))

    def record(self, now: float) -> None:
        self.times.append(now)


class FaultsAndLimits:
    """Injected faults and delays, and Telegram's flood limits (sliding windows, `retry_after`
    pauses). A part of `FakeTelegram` (tests/fakes/telegram_api.py), whose state it uses."""

    def fail_next(
        self,
        method: str,
        status: int = 502,
        count: int = 1,
        *,
        description: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """The next `count` calls of `method` ("*" for any) answer `status`. A 429 carries
        `retry_after` (default 1) and pauses the chat like a real one."""
        methods = None if method == "*" else frozenset({self._canonical(method)})
        if status == 429 and retry_after is None:
            retry_after = 1
        self._faults.append(
            _Fault(methods, status, count, description=description, retry_after=retry_after)
        )

    def fail_rate(
        self,
        status: int,
        fraction: float,
        seed: int = 0,
        *,
        methods: Iterable[str] | None = None,
        retry_after: int = 1,
        description: str | None = None,
    ) -> None:
        """A seeded random `fraction` of calls to `methods` (default `SEND_METHODS`) answer
        `status`; 429s carry `retry_after`."""
        chosen = SEND_METHODS if methods is None else frozenset(map(self._canonical, methods))
        self._faults.append(
            _Fault(
                chosen,
                status,
                None,
                fraction,
                random.Random(seed),
                description,
                retry_after if status == 429 else None,
            )
        )

    def force_retry_after(
        self, seconds: int, count: int = 1, *, method: str | None = None
    ) -> None:
        """The next `count` sends (or calls of `method`) get 429 with `retry_after=seconds`."""
        methods = SEND_METHODS if method is None else frozenset({self._canonical(method)})
        self._faults.append(_Fault(methods, 429, count, retry_after=seconds))

    def reset_next(self, method: str, count: int = 1) -> None:
        """The next `count` calls of `method` ("*" for any) lose their connection unanswered."""
        methods = None if method == "*" else frozenset({self._canonical(method)})
        self._faults.append(_Fault(methods, None, count))

    def reset_rate(
        self, fraction: float, seed: int = 0, *, methods: Iterable[str] | None = None
    ) -> None:
        """A seeded random `fraction` of calls (default `SEND_METHODS`) lose their connection."""
        chosen = SEND_METHODS if methods is None else frozenset(map(self._canonical, methods))
        self._faults.append(_Fault(chosen, None, None, fraction, random.Random(seed)))

    def delay(
        self,
        seconds: float,
        *,
        method: str | None = None,
        count: int | None = None,
        fraction: float = 1.0,
        seed: int = 0,
        after: bool = False,
    ) -> None:
        """Answer slowly: `seconds` extra for calls of `method` (default: every method but
        getUpdates), the next `count` of them (default all), a seeded `fraction` of them.
        `after=True` waits after the work is done (the message is sent, the answer late:
        a client that times out and retries makes a duplicate), else before it."""
        methods = None if method is None else frozenset({self._canonical(method)})
        self._delays.append(_Delay(seconds, methods, count, after, fraction, random.Random(seed)))

    def clear_faults(self) -> None:
        """Remove every injected failure and delay (flood limits and pauses stay)."""
        self._faults.clear()
        self._delays.clear()

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            pass

    def _too_many(self, chat: int | str | None, retry_after: int) -> ApiError:
        self.rejected_429 += 1
        if chat is not None:
            until = self.clock() + retry_after
            self._paused_until[chat] = max(self._paused_until.get(chat, 0.0), until)
        return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)

    def _refuse_if_paused(self, method: str, params: JSON) -> None:
        chat = self._target(params)
        if method not in SEND_METHODS or chat is None:
            return
        until = self._paused_until.get(chat)
        now = self.clock()
        if until is None or now >= until:
            return
        self.pause_violations.append(Call(method, params, now, 429))
        self.rejected_429 += 1
        remaining = max(1, math.ceil(until - now))
        raise ApiError(429, f"Too Many Requests: retry after {remaining}", remaining)

    def _injected_error(self, fault: _Fault, params: JSON) -> ApiError:
        if fault.status == 429:
            return self._too_many(self._target(params), fault.retry_after or 1)
        status = fault.status or 502
        return ApiError(status, fault.description or _DEFAULT_DESCRIPTIONS.get(status, "Error"))

    def _check_flood_limits(self, params: JSON) -> None:
        chat = self._target(params)
        now = self.clock()
        waits: list[int] = []
        for window in self._windows(chat):
            wait = window.retry_after(now)
            if wait is not None:
                waits.append(wait)
        if waits:
            raise self._too_many(chat, max(waits))

    def _record_send(self, params: JSON) -> None:
        now = self.clock()
        for window in self._windows(self._target(params)):
            window.record(now)

    def _windows(self, chat: int | str | None) -> list[_Window]:
        windows: list[_Window] = []
        if self.limit_overall_per_s is not None:
            if self._overall is None:
                self._overall = _Window(self.limit_overall_per_s, 1.0, self.slack)
            windows.append(self._overall)
        if chat is None:
            return windows
        if self.limit_per_chat_per_s is not None:
            windows.append(
                self._per_chat.setdefault(
                    chat, _Window(self.limit_per_chat_per_s, 1.0, self.slack)
                )
            )
        if self.limit_per_group_per_min is not None and _is_group(chat):
            windows.append(
                self._per_group.setdefault(
                    chat, _Window(self.limit_per_group_per_min, 60.0, self.slack)
                )
            )
        return windows
