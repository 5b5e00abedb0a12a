"""The web chat: citizens chat from the portal page; the conversation is kept by a cookie.

Replies and proactive messages are both stored in `web_messages`, so the page shows the
history after a reload and picks up outbox messages by polling.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import select

from bot.db.models import WebMessage
from bot.db.session import Database
from bot.messages import ChatRef, Incoming, Outgoing
from bot.router import Core

HISTORY_LIMIT = 200


def chat_id_for(cookie: str) -> str:
    """The chat id derived from the visitor's cookie; the cookie itself is never stored."""
    return "w" + hashlib.sha256(cookie.encode()).hexdigest()[:24]


def as_json(row: WebMessage) -> dict[str, Any]:
    payload = row.payload
    return {
        "id": row.id,
        "from": payload.get("from", "bot"),
        "text": payload.get("text", ""),
        "buttons": payload.get("buttons") or [],
    }


class WebChannel:
    name = "web"
    status = "ok"

    def __init__(self, core: Core, db: Database) -> None:
        self.core = core
        self.db = db

    async def send(self, chat: ChatRef, message: Outgoing) -> str | None:
        async with self.db.session() as session:
            row = WebMessage(chat_id=chat.chat_id, payload={"from": "bot", **message.to_dict()})
            session.add(row)
            await session.flush()
            return str(row.id)

    async def converse(
        self, chat_id: str, *, text: str = "", action: str | None = None,
        label: str | None = None, client_id: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Handle one message from the page; returns the bot's replies as stored and the id of
        the newest stored message of this chat (the citizen's own included)."""
        msg = Incoming(
            channel="web", chat_id=chat_id, user_id=chat_id,
            update_key=f"web:{chat_id}:{client_id or uuid.uuid4().hex}",
            text=text, action=action,
        )
        shown = label if action else msg.text
        last_id = 0
        if shown and not shown.startswith("/"):
            async with self.db.session() as session:
                own = WebMessage(chat_id=chat_id, payload={"from": "user", "text": shown})
                session.add(own)
                await session.flush()
                last_id = own.id
        replies = await self.core.handle(msg)
        async with self.db.session() as session:
            rows = [WebMessage(chat_id=chat_id, payload={"from": "bot", **reply.to_dict()})
                    for reply in replies]
            session.add_all(rows)
            await session.flush()
            return [as_json(row) for row in rows], max([last_id] + [row.id for row in rows])

    async def history(self, chat_id: str, after: int) -> list[dict[str, Any]]:
        """Messages after id `after`, oldest first; for `after=0` the newest page of them."""
        newest_first = after == 0
        async with self.db.session() as session:
            rows = list(await session.scalars(
                select(WebMessage)
                .where(WebMessage.chat_id == chat_id, WebMessage.id > after)
                .order_by(WebMessage.id.desc() if newest_first else WebMessage.id)
                .limit(HISTORY_LIMIT)
            ))
        if newest_first:
            rows.reverse()
        return [as_json(row) for row in rows]
