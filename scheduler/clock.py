"""The clock: APScheduler's AsyncIOScheduler runs the scheduler's rounds every
SCHEDULER_INTERVAL_SECONDS. It is only a clock — the rules, their state and every message they
create live in the database (scheduler/rules.py, scheduler/notices.py, the outbox) — so a
round missed while the process was down is simply done by the next one.

A round runs only in the process that holds the sender role of the first channel it has
(Telegram, then Zalo OA, Zalo Bot, the web chat), like the staff desk: one process scans,
the others stand by and take over within seconds if it dies.

Once a day, at RETENTION_PURGE_TIME (local), the same process deletes what has outlived its
retention period (`bot.db.privacy.purge_expired`); a purge missed while the process was down
is run at the next start of the day's window or the next day — it is idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

from bot.config import Settings
from bot.db import privacy
from bot.db.session import Database
from scheduler.notices import NoticeDesk
from scheduler.rules import Rules

log = logging.getLogger(__name__)

LEADING_CHANNELS = ("telegram", "zalo_oa", "zalo_bot", "web", "console")


class SchedulerClock:
    def __init__(self, settings: Settings, db: Database, senders: dict[str, Any],
                 clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.db = db
        self.senders = senders
        self.clock = clock
        self.rules = Rules(settings, clock)
        self.notices = NoticeDesk(settings, clock)
        self.scheduler = AsyncIOScheduler(timezone=settings.tz)
        self.lock = asyncio.Lock()
        self.rounds = 0

    def leader(self) -> Any | None:
        for name in LEADING_CHANNELS:
            if name in self.senders:
                return self.senders[name]
        return None

    def start(self) -> None:
        self.scheduler.add_job(self.tick, "interval",
                               seconds=self.settings.scheduler_interval_seconds,
                               id="scheduler-round", coalesce=True, max_instances=1,
                               misfire_grace_time=None,
                               next_run_time=datetime.now(self.settings.tz))
        self.scheduler.add_job(self.purge, "cron", hour=self.settings.purge_at.hour,
                               minute=self.settings.purge_at.minute, id="retention-purge",
                               coalesce=True, max_instances=1, misfire_grace_time=6 * 3600)
        self.scheduler.start()

    async def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        async with self.lock:  # let a round in progress finish
            pass

    async def tick(self) -> None:
        sender = self.leader()
        if sender is None or not sender.is_leader or self.lock.locked():
            return
        async with self.lock:
            try:
                woken = await self.round()
            except Exception:  # the next round tries again
                log.exception("scheduler round failed")
                return
        for channel in woken:
            if channel in self.senders:
                self.senders[channel].notify()

    async def purge(self) -> dict[str, int] | None:
        """The daily retention purge, in the leading process only; the counts, or None when
        this process is not the one to run it (or it failed: tomorrow's run catches up)."""
        sender = self.leader()
        if sender is None or not sender.is_leader:
            return None
        try:
            async with self.db.session() as session:
                counts = await privacy.purge_expired(session, self.settings, self.clock())
        except Exception:
            log.exception("retention purge failed")
            return None
        log.info("retention purge: %s", {k: v for k, v in counts.items() if v} or "nothing")
        return counts

    async def round(self) -> set[str]:
        """One pass of every rule and of the notice desk; the channels that got rows."""
        firing = await self.rules.run(self.db)
        if firing.queued:
            log.info("scheduler: queued %s", firing.queued)
        woken = set(firing.channels)
        woken |= await self.notices.run(self.db)
        self.rounds += 1
        return woken
