"""The `motcua` command: run the service, chat in a terminal, migrate, import, search.

Building the parser imports nothing heavy (the `*_cli` modules import their libraries inside
the commands), so `motcua --help` answers at once and each command loads only what it uses."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable

from bot import (
    catalogue_cli,
    dossiers_cli,
    letters_cli,
    offices_cli,
    privacy_cli,
    tickets_cli,
)
from bot.desk import cli as staff_cli


def cmd_run(args: argparse.Namespace) -> int:
    from bot.app import run_service
    from bot.config import load_settings

    settings = load_settings()
    asyncio.run(run_service(settings, migrate=not args.no_migrate))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.channels.console import run_console
    from bot.config import load_settings

    settings = load_settings()
    return asyncio.run(run_console(settings, user=args.user))


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bot.config import load_settings
    from bot.db.migrate import upgrade

    settings = load_settings()
    upgrade(settings.database_url, args.revision)
    print(f"Database is at revision {args.revision}: {_safe_url(settings.database_url)}")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="motcua", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="start the service (web chat, enabled channels, scheduler)")
    run.add_argument("--no-migrate", action="store_true", help="do not apply migrations first")
    run.set_defaults(func=cmd_run)

    chat = sub.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--user", default="local", help="who you are in this console chat")
    chat.set_defaults(func=cmd_chat)

    db = sub.add_parser("db", help="database tasks")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="TASK")
    up = db_sub.add_parser("upgrade", help="apply migrations")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)

    catalogue_cli.register(sub)
    tickets_cli.register(sub)
    dossiers_cli.register(sub)
    offices_cli.register(sub)
    privacy_cli.register(sub)
    letters_cli.register(sub)
    staff_cli.register(sub)  # the web staff desk's accounts (bot/desk)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    raise SystemExit(main())
