"""The in-memory rate-limit storage (bot/ratelimit.py): it counts in a moving window, and a
client whose window has passed is forgotten, so a flood of made-up chats stores nothing for
long."""

from __future__ import annotations

import asyncio

from bot.ratelimit import SWEEP_EVERY, Limiter, LoopMemoryStorage


async def test_counts_in_a_moving_window_and_forgets_past_clients() -> None:
    limiter = Limiter("async+memory://")
    assert isinstance(limiter.storage, LoopMemoryStorage)
    assert [await limiter.hit("chat", "telegram:1", "2/second") for _ in range(3)] == [
        True, True, False]
    assert not await limiter.test("chat", "telegram:1", "2/second")

    await asyncio.sleep(max(1.0, SWEEP_EVERY) + 0.2)
    assert await limiter.hit("chat", "telegram:2", "2/second")  # the next hit sweeps
    assert [key for key in limiter.storage.events if "telegram:1" in key] == []
    assert await limiter.hit("chat", "telegram:1", "2/second")  # room again
