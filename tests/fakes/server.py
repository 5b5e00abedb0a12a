"""What every fake platform shares: an aiohttp server on a free port of 127.0.0.1 (`async
with fake:`), the log of the calls it answered, and waiting for calls to arrive."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Generic, Self, TypeVar

from aiohttp import web

C = TypeVar("C")


class FakeServer(Generic[C]):
    """Subclasses add their routes in `add_routes`, log calls with `record`, and say how a
    call is named (`name_of`) and shown in a timeout message (`describe`)."""

    max_body = 8 * 1024 * 1024
    shutdown_timeout = 0.5

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.calls: list[C] = []
        self._call_event = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self.port = 0
        """The port `start` listens on; 0 for a free one (set it to bring a platform up
        where a service already expects it)."""

    # -- for subclasses ---------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def name_of(self, call: C) -> str:
        raise NotImplementedError

    def matches(self, call: C, name: str) -> bool:
        """Whether `call` counts for `wait_for(name)`."""
        return self.name_of(call) == name

    def describe(self, call: C) -> str:
        return self.name_of(call)

    def record(self, call: C) -> None:
        self.calls.append(call)
        self._call_event.set()

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1, on `port` or a free one."""
        app = web.Application(client_max_size=self.max_body)
        self.add_routes(app)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None,
                                     shutdown_timeout=self.shutdown_timeout)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port,
                           shutdown_timeout=self.shutdown_timeout)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self._closing.clear()

    async def stop(self) -> None:
        """End pending long polls and close the server."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`."""
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://{self.host}:{self._port}"

    # -- waiting ----------------------------------------------------------------------------

    async def wait_for(self, what: str | Callable[[C], bool], count: int = 1,
                       timeout: float = 5.0, *, since: int = 0) -> list[C]:
        """Wait until `count` calls (from index `since` of `calls`) match a name or a
        predicate; returns the matching calls. AssertionError after `timeout` seconds."""

        def match(call: C) -> bool:
            return self.matches(call, what) if isinstance(what, str) else what(call)

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = [call for call in self.calls[since:] if match(call)]
            if len(found) >= count:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = ", ".join(self.describe(c) for c in self.calls[-10:])
                raise AssertionError(f"waited {timeout} s for {count} call(s) matching "
                                     f"{what!r}, saw {len(found)}; last calls: [{recent}]")
            self._call_event.clear()
            try:
                await asyncio.wait_for(self._call_event.wait(), remaining)
            except TimeoutError:
                pass
