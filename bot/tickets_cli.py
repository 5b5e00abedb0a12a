"""`motcua tickets`: list, show, answer and close feedback tickets from the command line, for
communes without a Telegram staff group. It speaks to the same core as the staff group does
(the staff commands /ds, /phananh, /traloi, /dong), so answers reach citizens through the
outbox of the running service.

`--commune CODE` (repeatable) or `--as USERNAME` (a web desk account: its communes, and its
name on the replies) keep the command to those communes, as the staff group of those
communes is kept (bot/staffscope.py): another commune's ticket is neither listed, shown,
answered nor closed. Without either, every commune (the operator's own view).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from typing import TYPE_CHECKING, Any

from bot.messages import Incoming

if TYPE_CHECKING:
    from bot.config import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    scope = argparse.ArgumentParser(add_help=False)
    scope.add_argument("--commune", action="append", metavar="CODE", default=argparse.SUPPRESS,
                       help="only this commune's tickets (repeat for several)")
    scope.add_argument("--as", dest="account", metavar="USERNAME", default=argparse.SUPPRESS,
                       help="act as this web desk account, within its communes")
    tickets = sub.add_parser("tickets", help="feedback tickets without a staff group",
                             parents=[scope])
    tickets_sub = tickets.add_subparsers(dest="tickets_command", metavar="TASK")
    tickets.set_defaults(func=run, staff_command=lambda a: "/ds")
    tickets_sub.add_parser("list", help="open tickets, oldest first",
                           parents=[scope]).set_defaults(staff_command=lambda a: "/ds")
    show = tickets_sub.add_parser("show", help="one ticket and its messages", parents=[scope])
    show.add_argument("code")
    show.set_defaults(staff_command=lambda a: f"/phananh {a.code}")
    reply = tickets_sub.add_parser("reply", help="answer the citizen", parents=[scope])
    reply.add_argument("code")
    reply.add_argument("text")
    reply.set_defaults(staff_command=lambda a: f"/traloi {a.code} {a.text}")
    close = tickets_sub.add_parser("close", help="close with a resolution", parents=[scope])
    close.add_argument("code")
    close.add_argument("resolution")
    close.set_defaults(staff_command=lambda a: f"/dong {a.code} {a.resolution}")


def run(args: argparse.Namespace) -> int:
    from bot.config import load_settings

    return asyncio.run(_run(load_settings(), args.staff_command(args),
                            getattr(args, "commune", None), getattr(args, "account", None)))


class Refused(Exception):
    """A scope the command line cannot act within (said to the operator as is)."""


async def _scope(session: Any, communes: list[str] | None,
                 username: str | None) -> tuple[Any, str]:
    """The scope and the name replies are signed with."""
    from bot.desk.accounts import AccountError, check_communes, find_account
    from bot.staffscope import EVERYTHING, of_account, of_communes

    if communes and username:
        raise Refused("give --commune or --as, not both")
    if username:
        account = await find_account(session, username)
        if account is None or account.disabled:
            raise Refused(f"no active account {username}")
        return of_account(account), account.username
    if communes:
        try:
            return of_communes(check_communes(communes)), "Cán bộ (CLI)"
        except AccountError as error:
            raise Refused(str(error)) from None
    return EVERYTHING, "Cán bộ (CLI)"


async def _run(settings: Settings, command: str, communes: list[str] | None = None,
               username: str | None = None) -> int:
    from bot.app import Service
    from bot.db.migrate import upgrade_async

    await upgrade_async(settings.database_url)
    service = Service(settings, start_senders=False)
    try:
        async with service.db.session() as session:
            try:
                scope, name = await _scope(session, communes, username)
            except Refused as error:
                print(f"motcua tickets: {error}", file=sys.stderr)
                return 2
        replies = await service.core.handle(Incoming(
            channel="console", chat_id="staff-cli", user_id="cli", display_name=name,
            update_key=f"cli:{uuid.uuid4().hex}", text=command, is_staff_chat=True,
            staff_scope=scope))
        for reply in replies:
            print(reply.text)
    finally:
        await service.db.dispose()
    return 0
