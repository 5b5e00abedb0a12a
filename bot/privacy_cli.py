"""`motcua privacy`: personal-data tasks for officials.

- `motcua privacy forget --channel telegram --chat ID` carries out a written deletion request:
  the citizen who uses that chat is found and their data deleted exactly as "Xóa dữ liệu của
  tôi" does in the chat (bot/db/privacy.py); the counts are printed. Exit status 1 when no
  citizen uses that chat.
- `motcua privacy purge` runs the retention purge now (the scheduler runs it daily) and prints
  what it deleted.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.config import Settings

CHANNELS = ("telegram", "zalo_oa", "zalo_bot", "web", "console")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    privacy = sub.add_parser("privacy", help="personal data: deletion requests, retention purge")
    privacy_sub = privacy.add_subparsers(dest="privacy_command", required=True, metavar="TASK")
    forget = privacy_sub.add_parser("forget", help="delete the data of the citizen of a chat")
    forget.add_argument("--channel", required=True, choices=CHANNELS)
    forget.add_argument("--chat", required=True, help="the chat id on that channel")
    forget.set_defaults(func=cmd_forget)
    purge = privacy_sub.add_parser("purge", help="delete what has outlived its retention")
    purge.set_defaults(func=cmd_purge)


def cmd_forget(args: argparse.Namespace) -> int:
    from bot.config import load_settings

    return asyncio.run(forget(load_settings(), args.channel, args.chat.strip()))


def cmd_purge(args: argparse.Namespace) -> int:
    from bot.config import load_settings

    return asyncio.run(purge(load_settings()))


def _print_counts(counts: dict[str, int]) -> None:
    for name, count in sorted(counts.items()):
        if count:
            print(f"  {name}: {count}")


@asynccontextmanager
async def _session(settings: Settings) -> AsyncIterator[Any]:
    """A session of the upgraded database, disposed of afterwards."""
    from bot.db.migrate import upgrade_async
    from bot.db.session import Database

    await upgrade_async(settings.database_url)
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            yield session
    finally:
        await db.dispose()


async def forget(settings: Settings, channel: str, chat_id: str,
                 now: datetime | None = None) -> int:
    from bot.db import privacy

    async with _session(settings) as session:
        citizens = await privacy.find_citizens_by_chat(session, channel, chat_id)
        if not citizens:
            print(f"No citizen uses the {channel} chat {chat_id}: nothing deleted. Check "
                  "the channel and the chat id (a web-chat id is the visitor's session).")
            return 1
        for citizen_id in citizens:
            counts = await privacy.forget_citizen(session, citizen_id,
                                                  now or datetime.now(UTC), by="official")
            print(f"Deleted the data of citizen #{citizen_id} ({channel} chat {chat_id}):")
            _print_counts(counts)
    return 0


async def purge(settings: Settings, now: datetime | None = None) -> int:
    from bot.db import privacy

    async with _session(settings) as session:
        counts = await privacy.purge_expired(session, settings, now or datetime.now(UTC))
    days = privacy.retention(settings)
    print("Retention purge done (days kept: "
          + ", ".join(f"{kind} {n}" for kind, n in days.items()) + ").")
    _print_counts(counts)
    if not any(counts.values()):
        print("  nothing was old enough to delete")
    return 0
