"""What the web routes and the webhook channels see of the running service: the `Running`
protocol (bot/app.py's `Service` is one) and the aiohttp key it is stored under. Routes type
against it rather than import bot/app.py, which imports them to build the service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

if TYPE_CHECKING:
    from bot.channels.telegram import TelegramChannel
    from bot.channels.web import WebChannel
    from bot.config import Settings
    from bot.db.session import Database
    from bot.ratelimit import Limiter


class Running(Protocol):
    settings: Settings
    db: Database
    clock: Callable[[], datetime]
    services: dict[str, Any]
    """What handlers share: the search index ("catalogue"), the senders, the limiter."""
    limiter: Limiter
    web: WebChannel
    channels: dict[str, Any]
    """Every enabled channel by name (`status` of each on /healthz)."""
    telegram: TelegramChannel | None
    ready: bool
    """Serving; /healthz answers 503 "starting" until then."""


SERVICE = web.AppKey[Running]("service")
