"""`motcua chat`: the bot in a terminal, through the same core and database.

Buttons are shown as numbered options; typing the number presses the button. EOF ends it.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import TextIO

from bot.config import Settings
from bot.db.migrate import upgrade_async
from bot.messages import ChatRef, Incoming, Outgoing


def render(message: Outgoing) -> str:
    """The text, then the options numbered as the core counts them (links are not options)."""
    lines = [message.text]
    actions = [b for b in message.flat_buttons() if b.action]
    lines += [f"  {number}. {button.label}" for number, button in enumerate(actions, start=1)]
    lines += [f"  {b.label}: {b.url}" for b in message.flat_buttons() if b.url]
    return "\n".join(lines)


class ConsoleChannel:
    name = "console"
    status = "ok"

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    async def send(self, chat: ChatRef, message: Outgoing) -> str | None:
        print(render(message), file=self.out, flush=True)
        return None


async def run_console(settings: Settings, *, user: str = "local") -> int:
    from bot.app import Service

    await upgrade_async(settings.database_url)
    service = Service(settings, start_senders=False)
    await service.prepare()
    console = ConsoleChannel()
    chat = ChatRef("console", user)
    loop = asyncio.get_running_loop()
    print("Một cửa — trò chuyện trong cửa sổ dòng lệnh (Ctrl+D để thoát).", flush=True)

    async def say(text: str) -> None:
        msg = Incoming(channel="console", chat_id=user, user_id=user,
                       update_key=f"console:{user}:{uuid.uuid4().hex}", text=text,
                       display_name="")
        for reply in await service.core.handle(msg):
            await console.send(chat, reply)
            print(flush=True)

    try:
        await say("/start")
        while True:
            print("> ", end="", flush=True)
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                print(flush=True)
                return 0
            await say(line.rstrip("\n"))
    finally:
        await service.db.dispose()
