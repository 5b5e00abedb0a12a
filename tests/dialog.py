"""A dialog harness: talk to the core as a citizen on a channel, no platform involved."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import OperationalError

from bot.app import bundled_index
from bot.config import Settings
from bot.db import dossiers as repo
from bot.db.dossiers import DossierFields
from bot.db.session import Database
from bot.messages import Attachment, Incoming, Outgoing
from bot.router import Core
from handlers import build_router
from procedures.search import SearchIndex

_keys = itertools.count(1)


class Dialog:
    def __init__(self, core: Core, channel: str = "web", chat_id: str = "c1",
                 user_id: str | None = None, name: str = "Nguyễn Văn An") -> None:
        self.core = core
        self.channel = channel
        self.chat_id = chat_id
        self.user_id = user_id or chat_id
        self.name = name

    def incoming(self, text: str = "", **fields: Any) -> Incoming:
        return Incoming(channel=self.channel, chat_id=self.chat_id, user_id=self.user_id,
                        update_key=f"{self.channel}:test:{next(_keys)}", text=text,
                        display_name=self.name, **fields)

    async def say(self, text: str = "", **fields: Any) -> list[Outgoing]:
        return await self.core.handle(self.incoming(text, **fields))

    async def press(self, action: str) -> list[Outgoing]:
        return await self.core.handle(self.incoming(action=action))

    async def send_photo(self) -> list[Outgoing]:
        return await self.core.handle(self.incoming(attachments=[Attachment("photo", "f1")]))


def texts(replies: list[Outgoing]) -> str:
    return "\n".join(reply.text for reply in replies)


def labels(replies: list[Outgoing]) -> list[str]:
    return [button.label for reply in replies for button in reply.flat_buttons()]


def actions(replies: list[Outgoing]) -> list[str]:
    return [b.action for reply in replies for b in reply.flat_buttons() if b.action]


async def until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait until `predicate()` holds (checked often); fail the test after `timeout` s."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


class DatabaseDown:
    """`core.handle` fails with a database error for its next `attempts` calls, as it would
    while the database is unreachable; `remaining` counts the failures still to come."""

    def __init__(self, core: Core, attempts: int) -> None:
        self.remaining = attempts
        handle = core.handle

        async def down(msg: Incoming) -> list[Outgoing]:
            if self.remaining:
                self.remaining -= 1
                raise OperationalError("INSERT", {}, Exception("database is down"))
            return await handle(msg)

        core.handle = down  # type: ignore[method-assign]


async def core_with_dossier(settings: Settings, code: str, now: datetime,
                            **changes: Any) -> tuple[Core, int]:
    """A core on `settings`' database (bundled catalogue, its clock stopped at `now`) that
    knows one dossier: Nguyễn Văn An's marriage registration, phone 0912345678, due three
    days after `now` (`changes` alter it). Returns the core and the dossier's id."""
    db = Database(settings.database_url)
    async with db.session() as session:
        result = await repo.upsert_dossier(session, DossierFields(**{
            "code": code, "procedure_code": "1.000894", "procedure_name": "Đăng ký kết hôn",
            "applicant_name": "Nguyễn Văn An", "phone": "0912345678", "received_at": now,
            "due_at": now + timedelta(days=3), **changes}), now)
    core = Core(settings, db, build_router(), services={"catalogue": bundled_index()},
                clock=lambda: now)
    return core, result.dossier.id


class CountingCatalogue:
    """The catalogue service, counting searches and keeping what each was given."""

    def __init__(self, index: SearchIndex) -> None:
        self.index = index
        self.searches = 0
        self.given: list[str] = []

    def search(self, query: str, **options: Any) -> Any:
        self.searches += 1
        self.given.append(query)
        return self.index.search(query, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.index, name)
