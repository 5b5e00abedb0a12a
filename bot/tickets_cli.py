"""`motcua tickets`: list, show, answer and close feedback tickets from the command line, for
communes without a Telegram staff group. It speaks to the same core as the staff group does
(the staff commands /ds, /phananh, /traloi, /dong), so answers reach citizens through the
outbox of the running service."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import TYPE_CHECKING

from bot.messages import Incoming

if TYPE_CHECKING:
    from bot.config import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tickets = sub.add_parser("tickets", help="feedback tickets without a staff group")
    tickets_sub = tickets.add_subparsers(dest="tickets_command", metavar="TASK")
    tickets.set_defaults(func=run, staff_command=lambda a: "/ds")
    tickets_sub.add_parser("list", help="open tickets, oldest first").set_defaults(
        staff_command=lambda a: "/ds")
    show = tickets_sub.add_parser("show", help="one ticket and its messages")
    show.add_argument("code")
    show.set_defaults(staff_command=lambda a: f"/phananh {a.code}")
    reply = tickets_sub.add_parser("reply", help="answer the citizen")
    reply.add_argument("code")
    reply.add_argument("text")
    reply.set_defaults(staff_command=lambda a: f"/traloi {a.code} {a.text}")
    close = tickets_sub.add_parser("close", help="close with a resolution")
    close.add_argument("code")
    close.add_argument("resolution")
    close.set_defaults(staff_command=lambda a: f"/dong {a.code} {a.resolution}")


def run(args: argparse.Namespace) -> int:
    from bot.config import load_settings

    return asyncio.run(_run(load_settings(), args.staff_command(args)))


async def _run(settings: Settings, command: str) -> int:
    from bot.app import Service
    from bot.db.migrate import upgrade_async

    await upgrade_async(settings.database_url)
    service = Service(settings, start_senders=False)
    try:
        replies = await service.core.handle(Incoming(
            channel="console", chat_id="staff-cli", user_id="cli", display_name="Cán bộ (CLI)",
            update_key=f"cli:{uuid.uuid4().hex}", text=command, is_staff_chat=True))
        for reply in replies:
            print(reply.text)
    finally:
        await service.db.dispose()
    return 0
