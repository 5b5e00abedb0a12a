"""The Telegram fake's updates: pushed by a test, read by `getUpdates` long polling or delivered
to a webhook."""

from __future__ import annotations

import asyncio
import copy
import re
import time
from typing import Any

import aiohttp
from yarl import URL

from tests.fakes.telegram_common import (
    _DEFAULT_DESCRIPTIONS,
    DEFAULT_ALLOWED_UPDATES,
    DEFAULT_GROUP_USER_ID,
    JSON,
    WEBHOOK_PORTS,
    ApiError,
    WebhookState,
    _update_type,
    _utf16_len,
)
from tests.fakes.telegram_messages import _DOCUMENT_KEYS, _FILE_KEYS, _pick


class UpdatesApi:
    """Updates in: what a test pushes, `getUpdates` long polling, webhooks and their delivery. A
    part of `FakeTelegram` (tests/fakes/telegram_api.py), whose state it uses."""

    def push_update(self, payload: JSON) -> JSON:
        """Queue any update (e.g. `{"my_chat_member": {…}}`); an `update_id` is assigned."""
        update = {"update_id": next(self._update_ids), **copy.deepcopy(payload)}
        self._updates.append(update)
        self._update_event.set()
        return copy.deepcopy(update)

    def push_message(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        user_id: int | None = None,
        first_name: str = "Nguyễn Văn An",
        last_name: str | None = None,
        username: str | None = None,
        chat_type: str | None = None,
        chat_title: str | None = None,
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        photo: bool | bytes = False,
        document: str | tuple[str, bytes] | None = None,
        sticker: bool = False,
        location: tuple[float, float] | None = None,
        is_forum: bool = False,
        date: int | None = None,
    ) -> JSON:
        """A user's message as a `message` update, queued for getUpdates and returned.

        `chat_type` defaults to "private" for positive ids, "supergroup" for negative ones;
        `user_id` to the chat id in private chats. With `photo`, `document`, `sticker` or
        `location`, `text` becomes the caption (where Telegram has one). A text starting with
        "/" carries the `bot_command` entity that PTB's CommandHandler needs.
        """
        chat = self._ensure_chat(chat_id, chat_type, chat_title, is_forum, explicit=True)
        if chat["type"] == "private":
            chat["first_name"] = first_name
        if message_thread_id is not None and chat.get("is_forum"):
            self._ensure_topic(chat_id, message_thread_id)
        if user_id is None:
            user_id = chat_id if chat["type"] == "private" else DEFAULT_GROUP_USER_ID
        user: JSON = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": "vi",
        }
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        self._users[user_id] = user

        content: JSON = {}
        text_key = "text"
        if photo:
            content["photo"] = self._photo_sizes(photo if isinstance(photo, bytes) else None)
            text_key = "caption"
        elif document is not None:
            name, data = (document, b"%PDF-1.4 fake") if isinstance(document, str) else document
            file = self._register_file(data, name, "application/pdf")
            content["document"] = _pick(file, _DOCUMENT_KEYS)
            text_key = "caption"
        elif sticker:
            file = self._register_file(b"RIFF\x00\x00\x00\x00WEBP", "sticker.webp", "image/webp")
            content["sticker"] = {
                **_pick(file, _FILE_KEYS),
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "👍",
            }
        elif location is not None:
            content["location"] = {"latitude": location[0], "longitude": location[1]}
            text_key = ""
        if text is not None and text_key:
            content[text_key] = text
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                key = "entities" if text_key == "text" else "caption_entities"
                content[key] = [
                    {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
                ]

        reply_to = None
        if reply_to_message_id is not None:
            reply_to = self._messages.get((chat_id, reply_to_message_id)) or {
                "message_id": reply_to_message_id,
                "date": int(time.time()),
                "chat": copy.deepcopy(chat),
            }
        message = self._new_message(
            chat_id, user, content, thread_id=message_thread_id, reply_to=reply_to, date=date
        )
        return self.push_update({"message": message})

    def push_callback(
        self,
        chat_id: int,
        data: str,
        *,
        message_id: int | None = None,
        user_id: int | None = None,
        first_name: str = "Nguyễn Văn An",
    ) -> JSON:
        """A button press as a `callback_query` update, queued and returned.

        `message_id` defaults to the bot's latest message in the chat with an inline keyboard
        (or its latest message); if the fake has no such message, one is made up with a button
        carrying `data`, so editing it later works.
        """
        chat = self._ensure_chat(chat_id)
        if user_id is None:
            user_id = chat_id if chat["type"] == "private" else DEFAULT_GROUP_USER_ID
        user = self._users.get(user_id) or {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": "vi",
        }
        message = self._callback_message(chat_id, message_id, data)
        query_id = f"{next(self._callback_ids)}{abs(chat_id) % 10_000:04d}"
        self._callbacks[query_id] = False
        query = {
            "id": query_id,
            "from": user,
            "chat_instance": f"{abs(hash(chat_id)) % 10**18}",
            "data": data,
            "message": copy.deepcopy(message),
        }
        return self.push_update({"callback_query": query})

    @property
    def is_polling(self) -> bool:
        """True while a getUpdates long poll is waiting."""
        return self._poller is not None and not self._poller.done()

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by a getUpdates `offset` (nor delivered by webhook)."""
        return copy.deepcopy(self._updates)

    async def deliver_webhook(
        self, update: JSON, url: str | None = None, *, secret_token: str | None = None
    ) -> int:
        """POST `update` as Telegram would (secret header from setWebhook unless given) to `url`
        (default: the webhook URL); a 2xx answer takes it out of the queue. Returns the status."""
        target = url or self.webhook.url
        if not target:
            raise RuntimeError("no webhook URL: pass url= or call setWebhook first")
        secret = secret_token if secret_token is not None else self.webhook.secret_token
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        async with (
            aiohttp.ClientSession() as session,
            session.post(target, json=update, headers=headers) as response,
        ):
            status = response.status
        if 200 <= status < 300:
            self._updates = [u for u in self._updates if u["update_id"] != update["update_id"]]
        return status

    async def _api_getUpdates(self, bot_id: int, params: JSON) -> list[JSON]:
        if self.webhook.url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) or DEFAULT_ALLOWED_UPDATES
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]

        if self._poller is not None and not self._poller.done():
            self._poller.set_result(None)  # Telegram terminates the older request
        loop = asyncio.get_running_loop()
        mine: asyncio.Future[None] = loop.create_future()
        self._poller = mine
        deadline = loop.time() + timeout
        try:
            while True:
                self._updates = [
                    u for u in self._updates if _update_type(u) in self._allowed_updates
                ]
                if self._updates or timeout == 0 or self._closing.is_set():
                    return copy.deepcopy(self._updates[:limit])
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return []
                self._update_event.clear()
                wakers: list[asyncio.Future[Any]] = [
                    asyncio.ensure_future(self._update_event.wait()),
                    asyncio.ensure_future(self._closing.wait()),
                ]
                try:
                    await asyncio.wait(
                        [*wakers, mine], timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    for waker in wakers:
                        waker.cancel()
                if mine.done():
                    raise ApiError(409, _DEFAULT_DESCRIPTIONS[409])
        finally:
            if self._poller is mine:
                self._poller = None

    async def _api_deleteWebhook(self, bot_id: int, params: JSON) -> bool:
        self.webhook = WebhookState()
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _api_setWebhook(self, bot_id: int, params: JSON) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return await self._api_deleteWebhook(bot_id, params)
        parsed = URL(url)
        if parsed.scheme != "https":
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        if parsed.port not in WEBHOOK_PORTS:
            raise ApiError(
                400,
                "Bad Request: bad webhook: Webhook can be set up only on ports "
                "80, 88, 443 or 8443",
            )
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        allowed = params.get("allowed_updates")
        self.webhook = WebhookState(
            url=url,
            secret_token=str(secret) if secret is not None else None,
            max_connections=int(params.get("max_connections") or 40),
            allowed_updates=allowed if isinstance(allowed, list) else None,
        )
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _api_getWebhookInfo(self, bot_id: int, params: JSON) -> JSON:
        info: JSON = {
            "url": self.webhook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook.url:
            info["max_connections"] = self.webhook.max_connections
            if self.webhook.allowed_updates is not None:
                info["allowed_updates"] = self.webhook.allowed_updates
        return info
