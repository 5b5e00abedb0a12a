"""`motcua staff`: accounts of the web desk (add, list, disable, reset-password, totp)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.desk.roles import ROLES

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    staff = sub.add_parser("staff", help="accounts of the web staff desk (/staff)")
    staff_sub = staff.add_subparsers(dest="staff_task", required=True, metavar="TASK")
    add = staff_sub.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--commune", action="append", default=[], metavar="CODE",
                     help="a commune the account serves (repeat for several)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    add.set_defaults(func=run, task=_add)
    listing = staff_sub.add_parser("list", help="every account, its role and communes")
    listing.set_defaults(func=run, task=_list)
    disable = staff_sub.add_parser("disable", help="refuse the account's logins from now on")
    disable.add_argument("username")
    disable.set_defaults(func=run, task=_disable)
    reset = staff_sub.add_parser("reset-password",
                                 help="a new password (also unlocks and re-enables)")
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true")
    reset.set_defaults(func=run, task=_reset)
    totp = staff_sub.add_parser(
        "totp", help="ask a one-time code at login (prints the authenticator app's URI)")
    totp.add_argument("username")
    totp.add_argument("--off", action="store_true", help="stop asking the code")
    totp.set_defaults(func=run, task=_totp)


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise SystemExit("the two passwords differ")
    return first


def run(args: argparse.Namespace) -> int:
    from bot.config import load_settings
    from bot.desk.accounts import AccountError

    password = read_password(args.password_stdin) if hasattr(args, "password_stdin") else ""
    try:
        return asyncio.run(_run(load_settings().database_url, args, password))
    except AccountError as error:
        print(f"motcua staff: {error}", file=sys.stderr)
        return 2


async def _run(database_url: str, args: argparse.Namespace, password: str) -> int:
    from bot.db.migrate import upgrade_async
    from bot.db.session import Database

    await upgrade_async(database_url)
    db = Database(database_url)
    try:
        async with db.session() as session:
            code: int = await args.task(session, args, password, datetime.now(UTC))
            return code
    finally:
        await db.dispose()


async def _add(session: AsyncSession, args: argparse.Namespace, password: str,
               now: datetime) -> int:
    from bot.desk.accounts import add_account

    account = await add_account(session, args.username, args.role, args.commune, password, now)
    print(f"Account {account.username} ({account.role}) created"
          + (f" for communes {', '.join(account.communes)}" if account.communes else ""))
    return 0


async def _list(session: AsyncSession, args: argparse.Namespace, password: str,
                now: datetime) -> int:
    from sqlalchemy import select

    from bot.desk.models import StaffAccount
    from bot.desk.roles import ADMIN

    accounts = list(await session.scalars(select(StaffAccount).order_by(StaffAccount.username)))
    if not accounts:
        print("No accounts yet: motcua staff add NAME --role admin")
    for account in accounts:
        state = "disabled" if account.disabled else (
            "locked" if account.locked_until and account.locked_until > now else "active")
        communes = "all" if account.role == ADMIN else ",".join(account.communes)
        print(f"{account.username}\t{account.role}\t{communes}\t{state}")
    return 0


async def _disable(session: AsyncSession, args: argparse.Namespace, password: str,
                   now: datetime) -> int:
    from bot.desk.accounts import disable_account

    account = await disable_account(session, args.username, now)
    print(f"Account {account.username} disabled; its sessions are ended")
    return 0


async def _reset(session: AsyncSession, args: argparse.Namespace, password: str,
                 now: datetime) -> int:
    from bot.desk.accounts import reset_password

    account = await reset_password(session, args.username, password, now)
    print(f"Password of {account.username} changed; its sessions are ended")
    return 0


async def _totp(session: AsyncSession, args: argparse.Namespace, password: str,
                now: datetime) -> int:
    from bot.desk.accounts import set_totp

    account, uri = await set_totp(session, args.username, now, on=not args.off)
    if uri is None:
        print(f"{account.username} signs in with the password only; its sessions are ended")
        return 0
    print(f"{account.username} will be asked a one-time code at login; its sessions are "
          "ended. Add this to the authenticator app (as a QR code, or type the secret):")
    print(uri)
    return 0
