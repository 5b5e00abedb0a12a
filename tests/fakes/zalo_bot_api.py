"""A fake Zalo Bot Platform API on 127.0.0.1 (PLATFORMS.md §1) for end-to-end tests.

    async with FakeZaloBot(token=TOKEN) as fake:
        settings = Settings(zalo_bot_token=TOKEN, zalo_bot_api_base_url=fake.base_url, …)
        fake.push_text("e4ea2cd5189df1c3a88c", "/start")   # waits in getUpdates
        await fake.wait_for("sendMessage")
        fake.sent_messages("e4ea2cd5189df1c3a88c")[-1]["text"]

What it does like the documented API (a docs copy of bot.zaloplatforms.com, OpenClaw's client):
`POST /bot{TOKEN}/{method}` with a JSON body; the `{ok, result}` / `{ok:false, error_code,
description}` envelope; `getUpdates` returns ONE update per call (`{event_name, message}`),
and `error_code` 408 when the long poll ends empty; `getUpdates` gets nothing while a webhook
is set; `setWebhook` needs an https `url` and an 8–256 character `secret_token`; `sendMessage`
text and `sendPhoto` caption are 1–2000 characters; `sendPhoto` takes a URL; ids are opaque
hex strings. Webhook deliveries (`deliver_webhook`) carry `X-Bot-Api-Secret-Token`, as a bare
update or wrapped in `{ok, result}`.

Guesses (no catalogue published): the wording of errors and the codes other than 408.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import aiohttp
from aiohttp import web

from tests.fakes.server import FakeServer

JSON = dict[str, Any]
TEXT_LIMIT = 2000


class Call(NamedTuple):
    method: str
    params: JSON
    at: float
    ok: bool


@dataclass
class _Fault:
    method: str | None
    count: int
    error_code: int
    description: str
    http_status: int


class ApiError(Exception):
    def __init__(self, code: int, description: str, http_status: int = 200) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.http_status = http_status


def opaque_id() -> str:
    return secrets.token_hex(10)


class FakeZaloBot(FakeServer[Call]):
    """Public state: `calls`, `webhook_url`, `webhook_secret`, `polls_while_webhook`."""

    def __init__(self, *, token: str = "1234567890:fake-zalo-bot-token",
                 max_poll_wait: float = 30.0, host: str = "127.0.0.1") -> None:
        self.token = token
        self.max_poll_wait = max_poll_wait
        super().__init__(host)
        self.bot_id = opaque_id()
        self.webhook_url = ""
        self.webhook_secret = ""
        self.polls_while_webhook = 0
        self.users: dict[str, str] = {}
        self._updates: list[JSON] = []
        self._update_event = asyncio.Event()
        self._faults: list[_Fault] = []
        self._sent: list[tuple[str, JSON]] = []
        self._message_ids = itertools.count(1)

    # -- lifecycle ----------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/bot{token}/{method}", self._handle)

    def name_of(self, call: Call) -> str:
        return call.method

    async def stop(self) -> None:
        self._update_event.set()
        await super().stop()

    @property
    def base_url(self) -> str:
        """For ZALO_BOT_API_BASE_URL (the client appends `/bot{TOKEN}/{method}`)."""
        return self.url

    # -- updates ------------------------------------------------------------------------------

    def user(self, chat_id: str, name: str | None = None) -> str:
        if name:
            self.users[chat_id] = name
        return self.users.setdefault(chat_id, "Nguyễn Văn An")

    def make_update(self, chat_id: str, event_name: str, name: str | None = None,
                    **fields: Any) -> JSON:
        message: JSON = {
            "message_id": opaque_id(),
            "date": int(time.time() * 1000),
            "from": {"id": chat_id, "display_name": self.user(chat_id, name), "is_bot": False},
            "chat": {"id": chat_id, "chat_type": "PRIVATE"},
            **fields,
        }
        return {"event_name": event_name, "message": message}

    def push(self, update: JSON) -> JSON:
        """Queue an update for getUpdates; returns it."""
        self._updates.append(update)
        self._update_event.set()
        return update

    def push_text(self, chat_id: str, text: str, name: str | None = None) -> JSON:
        return self.push(self.make_update(chat_id, "message.text.received", name, text=text))

    def push_photo(self, chat_id: str, url: str = "https://photo-stal.zadn.vn/fake/1.jpg",
                   caption: str | None = None) -> JSON:
        fields: JSON = {"photo_url": url}
        if caption:
            fields["caption"] = caption
        return self.push(self.make_update(chat_id, "message.image.received", **fields))

    def push_sticker(self, chat_id: str) -> JSON:
        return self.push(self.make_update(chat_id, "message.sticker.received",
                                          sticker="a1b2c3"))

    @property
    def pending_updates(self) -> list[JSON]:
        return list(self._updates)

    async def deliver_webhook(self, update: JSON, url: str, *, secret: str | None = None,
                              wrapped: bool = False) -> int:
        """POST an update to the bot's webhook as Zalo does; returns the HTTP status."""
        body = {"ok": True, "result": update} if wrapped else update
        headers = {"X-Bot-Api-Secret-Token": self.webhook_secret if secret is None else secret}
        data = json.dumps(body, ensure_ascii=False).encode()
        async with aiohttp.ClientSession() as http, http.post(
                url, data=data, headers={**headers, "Content-Type": "application/json"}
        ) as response:
            await response.read()
            return response.status

    # -- inspection -----------------------------------------------------------------------------

    def sent_messages(self, chat_id: str | None = None) -> list[JSON]:
        """What the bot sent, in order: `{"text"}` or `{"photo", "caption"}` dicts."""
        return [dict(m) for chat, m in self._sent if chat_id is None or chat == chat_id]

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def fail_next(self, method: str = "*", error_code: int = 500, count: int = 1, *,
                  description: str = "Internal error", http_status: int = 200) -> None:
        """The next `count` calls of `method` ("*" any) fail with this error."""
        self._faults.append(_Fault(None if method == "*" else method, count, error_code,
                                   description, http_status))

    # -- the API ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params = await request.json() if await request.read() else {}
        except ValueError:
            params = None
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized", 401)
            if not isinstance(params, dict):
                raise ApiError(400, "Bad Request: body must be a JSON object")
            self._inject(method)
            handler = getattr(self, f"_api_{method}", None)
            if handler is None:
                raise ApiError(404, f"Not Found: method {method}", 404)
            result = await handler(params)
        except ApiError as error:
            self._record(method, params or {}, ok=False)
            return web.json_response({"ok": False, "error_code": error.code,
                                      "description": error.description},
                                     status=error.http_status)
        self._record(method, params, ok=True)
        return web.json_response({"ok": True, "result": result})

    def _record(self, method: str, params: JSON, ok: bool) -> None:
        if method != "getUpdates" or ok:
            self.record(Call(method, params, time.monotonic(), ok))

    def _inject(self, method: str) -> None:
        for fault in self._faults:
            if fault.count > 0 and fault.method in (None, method):
                fault.count -= 1
                raise ApiError(fault.error_code, fault.description, fault.http_status)

    async def _api_getMe(self, params: JSON) -> JSON:
        return {"id": self.bot_id, "account_name": "bot.motcua", "account_type": "BASIC",
                "can_join_groups": False}

    async def _api_getUpdates(self, params: JSON) -> JSON:
        try:
            wait = min(float(params.get("timeout", 30)), self.max_poll_wait)
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: timeout") from None
        if self.webhook_url:
            self.polls_while_webhook += 1
            await asyncio.sleep(min(wait, 0.2))
            raise ApiError(408, "Request timeout")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while not self._updates and not self._closing.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._update_event.clear()
            try:
                await asyncio.wait_for(self._update_event.wait(), remaining)
            except TimeoutError:
                break
        if not self._updates:
            raise ApiError(408, "Request timeout")
        return self._updates.pop(0)

    async def _api_setWebhook(self, params: JSON) -> JSON:
        url, secret = params.get("url"), params.get("secret_token")
        if not isinstance(url, str) or not url.startswith("https://"):
            raise ApiError(400, "Bad Request: url must be https")
        if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
            raise ApiError(400, "Bad Request: secret_token must be 8-256 characters")
        self.webhook_url, self.webhook_secret = url, secret
        return {"url": url, "updated_at": int(time.time() * 1000)}

    async def _api_deleteWebhook(self, params: JSON) -> JSON:
        self.webhook_url = self.webhook_secret = ""
        return {"url": "", "updated_at": int(time.time() * 1000)}

    async def _api_getWebhookInfo(self, params: JSON) -> JSON:
        return {"url": self.webhook_url, "updated_at": int(time.time() * 1000)}

    def _chat(self, params: JSON) -> str:
        chat = params.get("chat_id")
        if not isinstance(chat, str) or not chat:
            raise ApiError(400, "Bad Request: chat_id is required (a string)")
        return chat

    def _delivered(self, chat: str, content: JSON) -> JSON:
        message_id = f"m{next(self._message_ids):08x}"
        self._sent.append((chat, {"message_id": message_id, **content}))
        return {"message_id": message_id, "date": int(time.time() * 1000)}

    async def _api_sendMessage(self, params: JSON) -> JSON:
        chat = self._chat(params)
        text = params.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= TEXT_LIMIT:
            raise ApiError(400, "Bad Request: text must be 1-2000 characters")
        return self._delivered(chat, {"text": text})

    async def _api_sendPhoto(self, params: JSON) -> JSON:
        chat = self._chat(params)
        photo, caption = params.get("photo"), params.get("caption")
        if not isinstance(photo, str) or not photo.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: photo must be a public URL")
        if caption is not None and (not isinstance(caption, str)
                                    or not 1 <= len(caption) <= TEXT_LIMIT):
            raise ApiError(400, "Bad Request: caption must be 1-2000 characters")
        content: JSON = {"photo": photo}
        if caption:
            content["caption"] = caption
        return self._delivered(chat, content)

    async def _api_sendSticker(self, params: JSON) -> JSON:
        return self._delivered(self._chat(params), {"sticker": params.get("sticker")})

    async def _api_sendChatAction(self, params: JSON) -> bool:
        self._chat(params)
        if params.get("action") not in ("typing", "upload_photo"):
            raise ApiError(400, "Bad Request: unknown action")
        return True


# -- a citizen, as a test drives one ------------------------------------------------------------


def options(message: JSON) -> list[tuple[str, str]]:
    """The numbered options at the end of a message: (label, number to type)."""
    found: list[tuple[str, str]] = []
    for line in reversed((message.get("text") or message.get("caption") or "").splitlines()):
        if line.startswith("• "):
            continue  # a link
        number, dot, label = line.partition(". ")
        if not (dot and number.isdigit()):
            break
        found.append((label, number))
    return list(reversed(found))


class BotCitizen:
    """A Zalo user talking to the bot. `settle(n)` waits until the bot has handled `n` more
    updates and sent its replies."""

    def __init__(self, fake: FakeZaloBot, chat_id: str,
                 settle: Callable[[int], Any]) -> None:
        self.fake = fake
        self.chat_id = chat_id
        self.settle = settle

    async def send(self, update: JSON) -> list[JSON]:
        before = len(self.fake.sent_messages(self.chat_id))
        self.fake.push(update)
        await self.settle(1)
        return self.fake.sent_messages(self.chat_id)[before:]

    async def say(self, text: str) -> list[JSON]:
        return await self.send(self.fake.make_update(self.chat_id, "message.text.received",
                                                     text=text))

    async def photo(self, url: str = "https://photo-stal.zadn.vn/fake/anh1.jpg") -> list[JSON]:
        return await self.send(self.fake.make_update(self.chat_id, "message.image.received",
                                                     photo_url=url))

    def last_options(self) -> list[tuple[str, str]]:
        for message in reversed(self.fake.sent_messages(self.chat_id)):
            found = options(message)
            if found:
                return found
        return []

    async def choose(self, label: str) -> list[JSON]:
        choices = self.last_options()
        number = next((n for shown, n in choices if shown == label), None)
        assert number is not None, f"{label!r} not among {[c[0] for c in choices]}"
        return await self.say(number)


def texts(messages: list[JSON]) -> str:
    return "\n".join(m.get("text") or m.get("caption") or "" for m in messages)
