"""Builds everything from `Settings` and runs it; nothing else wires.

`Service` owns the database, the core, the channels, the outbox senders and the web server.
Tests use it directly (`async with Service(settings) as service`); `motcua run` runs it until
SIGTERM/SIGINT and then stops cleanly: no new work, sends in flight finished, claimed outbox
rows handed back.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aiohttp import web

from bot.channels.web import WebChannel
from bot.config import Settings
from bot.db.catalogue import (
    catalogue_stamp,
    catalogue_version,
    ensure_bundled,
    load_lexicon,
    load_procedures,
)
from bot.db.migrate import upgrade_async
from bot.db.session import Database
from bot.outbox import Pace, PacedSender
from bot.ratelimit import Limiter
from bot.router import Core
from bot.staffdesk import StaffDesk
from bot.web import create_web_app
from procedures import search_cache
from procedures.catalogue import load_bundled
from procedures.search import SearchIndex

log = logging.getLogger(__name__)

FIRST_ATTEMPT_WAIT = 20.0
"""How long `Service.start` waits for the platforms' first answers (not for `ready`)."""
NUMBERED_CHANNELS = frozenset({"console", "zalo_bot", "zalo_oa"})
"""Channels where options may be shown as numbered text: typing "2" presses the second
(Zalo OA shows more than 5 options that way)."""


@cache
def bundled_index() -> SearchIndex:
    """The search index of the bundled catalogue, built once per process."""
    return SearchIndex.build(load_bundled())


class Service:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        start_senders: bool = True,
    ) -> None:
        from bot.channels.telegram import TelegramChannel
        from bot.channels.zalo_bot import ZaloBotChannel
        from bot.channels.zalo_oa import ZaloOAChannel
        from handlers import build_router

        self.settings = settings
        self.clock = clock
        self.db = Database(settings.database_url)
        self.services: dict[str, Any] = {}
        self.limiter = Limiter(settings.rate_limit_storage)
        self.services["limiter"] = self.limiter
        self.core = Core(settings, self.db, build_router(), services=self.services, clock=clock,
                         numbered_channels=NUMBERED_CHANNELS)
        self.web = WebChannel(self.core, self.db)
        self.channels: dict[str, Any] = {"web": self.web}
        self.telegram: TelegramChannel | None = None
        if settings.telegram_bot_token:
            self.telegram = TelegramChannel(settings, self.core, self.db,
                                            webhook=settings.public_base_url is not None)
            self.channels["telegram"] = self.telegram
        self.zalo_oa: ZaloOAChannel | None = None
        if settings.zalo_oa_enabled:
            self.zalo_oa = ZaloOAChannel(settings, self.core, self.db, clock=clock)
            self.channels["zalo_oa"] = self.zalo_oa
        self.zalo_bot: ZaloBotChannel | None = None
        if settings.zalo_bot_token:
            self.zalo_bot = ZaloBotChannel(settings, self.core, self.db,
                                           webhook=settings.public_base_url is not None)
            self.channels["zalo_bot"] = self.zalo_bot
        self.senders: list[PacedSender] = []
        if start_senders:
            self.senders = [self._sender(channel) for channel in self.channels.values()]
        self.services["senders"] = {s.channel: s for s in self.senders}
        self.staff_desk: StaffDesk | None = None
        senders = self.services["senders"]
        if self.telegram and settings.staff_chat_ids and "telegram" in senders:
            self.staff_desk = StaffDesk(settings, self.db, self.telegram, senders["telegram"],
                                        clock)
        from scheduler.clock import SchedulerClock

        self.scheduler = SchedulerClock(settings, self.db, senders, clock) if senders else None
        self._catalogue_stamp: int | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.port: int | None = None
        self.ready = False
        """Serving (web chat, webhooks, API); /healthz answers 503 "starting" until then.
        A platform channel that is down does not hold it back: /healthz shows it "down"."""

    def _sender(self, channel: Any) -> PacedSender:
        s = self.settings
        if channel.name == "telegram":
            pace = Pace(s.telegram_rate_overall, s.telegram_rate_per_chat,
                        s.telegram_rate_per_group_minute)
        elif channel.name == "zalo_oa":
            pace = Pace(s.zalo_oa_rate_overall, s.zalo_oa_rate_per_chat, 60.0)
        elif channel.name == "zalo_bot":
            pace = Pace(s.zalo_bot_rate_overall, s.zalo_bot_rate_per_chat, 60.0)
        else:
            pace = Pace(200.0, 50.0, 3000.0)  # our own storage: no platform limit
        return PacedSender(self.db, channel, pace, max_attempts=s.outbox_max_attempts,
                           lease_seconds=s.outbox_lease_seconds,
                           max_in_flight=s.outbox_max_in_flight)

    async def prepare(self) -> None:
        """Load what handlers need before the first message (the procedure catalogue)."""
        if "catalogue" not in self.services:
            await self.refresh_catalogue()

    async def refresh_catalogue(self) -> None:
        """The search index over the database's catalogue (rebuilt when an import changed
        it, in any process); the bundled one while the database holds none. The database's
        index is cached in `SEARCH_CACHE_DIR` (DATA_DIR/search-cache), keyed by the
        catalogue's content and the engine: a restart loads it instead of reading every
        record and building."""
        async with self.db.session() as session:
            stamp = await catalogue_stamp(session)
        if stamp == self._catalogue_stamp:
            return
        started = time.perf_counter()
        cache = self.settings.search_cache
        index: SearchIndex | None
        if stamp == 0:
            index, cached = await asyncio.to_thread(bundled_index), False
        else:
            async with self.db.session() as session:
                version = await catalogue_version(session)
                lexicon = await load_lexicon(session)
            index = await asyncio.to_thread(search_cache.read, cache, version, lexicon)
            cached = index is not None
            if index is None:
                async with self.db.session() as session:
                    procedures = await load_procedures(session)
                index = await asyncio.to_thread(
                    search_cache.build_and_write, cache, version, procedures, lexicon)
        self.services["catalogue"] = index
        self._catalogue_stamp = stamp
        engine = search_cache.engine_kind()
        log.info("procedure catalogue: %d procedures (import %d), index %s in %.2f s; "
                 "search engine %s", len(index.procedures), stamp,
                 "loaded from cache" if cached else "built", time.perf_counter() - started,
                 engine)
        if engine == "stale":
            log.warning("the search engine's source (procedures/search.py or _passes.pyx) "
                        "changed after it was compiled: the old build runs until `make compiled`")

    async def _watch_catalogue(self, every: float = 60.0) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.refresh_catalogue()
            except Exception:  # noqa: BLE001 - keep serving with the index we have
                log.exception("could not refresh the procedure catalogue")

    async def start(self) -> None:
        await self.prepare()
        self._runner = web.AppRunner(create_web_app(self), access_log=None,
                                     handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.http_host, self.settings.http_port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.info("web server on http://%s:%s/", self.settings.http_host, self.port)
        if self.telegram:
            await self.telegram.start()  # in the background: a platform down waits for no one
        for zalo in (self.zalo_oa, self.zalo_bot):
            if zalo is not None:
                await zalo.start()
        self._tasks = [asyncio.create_task(sender.run()) for sender in self.senders]
        self._watcher = asyncio.create_task(self._watch_catalogue())
        if self.scheduler:
            self.scheduler.start()
        if self.staff_desk:
            self._tasks.append(asyncio.create_task(self.staff_desk.run()))
        elif not self.settings.staff_chat_ids:
            log.warning("No staff group is set (TELEGRAM_STAFF_CHAT_ID, TELEGRAM_STAFF_CHATS): "
                        "feedback tickets are stored but no staff group sees them; answer "
                        "them on the web desk (/staff) or with `motcua tickets`")
        self.ready = True
        await self._first_attempts()

    async def _first_attempts(self) -> None:
        """Return once each platform channel has tried once to come up (so that a platform
        that answers is in use when `start` returns); `ready` was set before: a platform
        that is down or slow delays nothing else, and its channel keeps trying."""
        waits = [channel.first_attempt.wait() for channel in self.channels.values()
                 if isinstance(getattr(channel, "first_attempt", None), asyncio.Event)]
        if waits:
            try:
                await asyncio.wait_for(asyncio.gather(*waits), FIRST_ATTEMPT_WAIT)
            except TimeoutError:
                log.warning("a platform is slow to answer; its channel keeps trying")

    async def stop(self) -> None:
        self.ready = False
        if self._watcher:
            self._watcher.cancel()
        if self.scheduler:
            await self.scheduler.stop()
        if self.staff_desk:
            await self.staff_desk.stop()
        for sender in self.senders:
            await sender.stop()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.telegram:
            await self.telegram.stop()
        for zalo in (self.zalo_oa, self.zalo_bot):
            if zalo is not None:
                await zalo.stop()
        if self._runner:
            await self._runner.cleanup()
        await self.db.dispose()

    async def __aenter__(self) -> Service:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def run_service(settings: Settings, *, migrate: bool = True) -> None:
    from bot.logs import setup_logging

    setup_logging(settings.log_level)
    if migrate:
        await upgrade_async(settings.database_url)
    service = Service(settings)
    async with service.db.session() as session:
        loaded = await ensure_bundled(session)  # the bundled catalogue, once per version
    if loaded is not None:
        log.info("bundled procedure catalogue loaded into the database")
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    await service.start()
    # the search index is millions of long-lived objects: kept out of the cyclic collector,
    # whose full passes over them cost pauses while serving and ~10 s at exit (garbage first;
    # here, not in every Service: a test process starts hundreds and must collect their cycles)
    gc.collect()
    gc.freeze()
    log.info("motcua is running; web chat at http://%s:%s/", settings.http_host, service.port)
    await stopped.wait()
    log.info("stopping")
    await service.stop()
    log.info("stopped cleanly")
