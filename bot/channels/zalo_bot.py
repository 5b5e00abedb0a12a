"""The Zalo Bot Platform (the Telegram-like bot API; PLATFORMS.md §1), with a thin aiohttp client.

`{ZALO_BOT_API_BASE_URL}/bot{TOKEN}/{method}`, POST with a JSON body, answered with
`{"ok", "result", "error_code", "description"}` (some deployments answer `{"error", "message",
"data"}`; both are read). Long polling by default: `getUpdates` returns ONE update per call and
`error_code` 408 when nothing came. With `PUBLIC_BASE_URL` the service calls `setWebhook` and
updates arrive at `POST /webhook/zalo-bot` with the secret in `X-Bot-Api-Secret-Token`
(`add_routes`). Ids are opaque strings; there is no update id, so an update is known by
`event_name + message_id`. Texts are cut at 2,000 characters; there are no buttons, so options
are numbered and typing the number presses them (Core's numbered menus); photos go by URL.

Its numbered menus and its reply pump are bot/channels/base.py's, shared with the OA channel.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.channels.base import (
    ChannelError,
    ReplyPump,
    numbered_menu,
    obj,
    require_secret,
    wait_out_outage,
    with_menu,
)
from bot.config import Settings
from bot.db.repositories import claim_update
from bot.db.session import Database, is_outage
from bot.messages import Attachment, ChatRef, Incoming, Outgoing, split_text
from bot.outbox import SentReplies, deliver_replies
from bot.router import Core

if TYPE_CHECKING:
    from bot.running import Running

log = logging.getLogger(__name__)

TEXT_LIMIT = 2000
POLL_TIMEOUT = 30
NOTHING_NEW = 408
START_RETRY = (1.0, 60.0)
"""First and longest wait between attempts to come up while Zalo cannot be reached."""


def ms_to_datetime(value: object) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(str(value)) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


# -- the API client ---------------------------------------------------------------------------


class ZaloBotApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: float | None = None) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.retry_after = retry_after


def channel_error(error: ZaloBotApiError | aiohttp.ClientError | TimeoutError) -> ChannelError:
    """An API failure as the outbox understands it. No error catalogue is published: 429 and
    5xx are transient, other 4xx permanent (bad request, unknown chat, bad token)."""
    if isinstance(error, ZaloBotApiError):
        code = error.code
        if code == 429 or error.retry_after is not None:
            return ChannelError(f"zalo bot flood control: {error.description}",
                                retry_after=error.retry_after or 1.0)
        if 400 <= code < 500 and code != NOTHING_NEW:
            return ChannelError(f"zalo bot {code}: {error.description}", permanent=True)
        return ChannelError(f"zalo bot {code}: {error.description}")
    if isinstance(error, TimeoutError):
        return ChannelError("zalo bot: timed out")
    return ChannelError(f"zalo bot network: {error}")


class ZaloBotClient:
    """`await client.call("sendMessage", {"chat_id": …, "text": …})` → the `result`."""

    def __init__(self, base_url: str, token: str, timeout: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.http: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        if self.http is None:
            self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
            self.http = None

    async def call(self, method: str, payload: dict[str, Any] | None = None, *,
                   timeout: float | None = None) -> Any:
        await self.open()
        assert self.http is not None
        url = f"{self.base_url}/bot{self.token}/{method}"
        request_timeout = aiohttp.ClientTimeout(total=timeout) if timeout else None
        async with self.http.post(url, json=payload or {}, timeout=request_timeout) as response:
            status = response.status
            try:
                data = json.loads(await response.read())
            except ValueError:
                raise ZaloBotApiError(status, f"HTTP {status}, not JSON") from None
        return unwrap(data, status)


def unwrap(data: Any, status: int = 200) -> Any:
    """The result of either envelope, or `ZaloBotApiError`."""
    if not isinstance(data, dict):
        raise ZaloBotApiError(status, "unexpected response")
    if "ok" in data:
        if data["ok"] is True:
            return data.get("result")
        parameters = data.get("parameters") or {}
        retry = parameters.get("retry_after") if isinstance(parameters, dict) else None
        code = data.get("error_code") or (status if status >= 400 else 500)
        return _raise(code, str(data.get("description") or "error"), retry)
    if "error" in data:
        if data["error"] in (0, "0"):
            return data.get("data")
        return _raise(data["error"], str(data.get("message") or "error"), None)
    raise ZaloBotApiError(status, "unexpected response")


def _raise(code: object, description: str, retry: object) -> Any:
    try:
        number = int(str(code))
    except ValueError:
        number = 500
    retry_after = float(str(retry)) if isinstance(retry, int | float | str) and \
        str(retry).replace(".", "", 1).isdigit() else None
    raise ZaloBotApiError(number, description, retry_after)


# -- updates ----------------------------------------------------------------------------------


def updates_in(body: Any) -> list[dict[str, Any]]:
    """Updates in a webhook body or a getUpdates result: bare, wrapped in `{ok, result}`, or a
    list of either. ValueError when it is none of these."""
    if isinstance(body, dict) and "result" in body and "event_name" not in body:
        body = body["result"]
    items = body if isinstance(body, list) else [body]
    if not items or not all(isinstance(item, dict) and isinstance(item.get("message"), dict)
                            for item in items):
        raise ValueError("not a Zalo Bot update")
    return items


def incoming_from_zalo_bot(update: dict[str, Any]) -> Incoming | None:
    """The neutral form of one update; None for what the bot does not act on (other bots).
    ValueError for an update without the ids every message has."""
    event = str(update.get("event_name") or "")
    message = update.get("message")
    if not isinstance(message, dict):
        raise ValueError("no message")
    sender = obj(message.get("from"))
    chat = obj(message.get("chat"))
    message_id = message.get("message_id")
    chat_id = chat.get("id") or sender.get("id")
    user_id = sender.get("id") or chat_id
    if not message_id or not chat_id or not isinstance(message_id, str | int):
        raise ValueError("no message or chat id")
    if sender.get("is_bot"):
        return None
    attachments: list[Attachment] = []
    photo = message.get("photo_url") or message.get("photo")
    if event == "message.image.received" or (isinstance(photo, str) and photo):
        attachments.append(Attachment("photo", url=photo if isinstance(photo, str) else None))
    elif event == "message.sticker.received" or message.get("sticker"):
        attachments.append(Attachment("sticker", file_id=str(message.get("sticker") or "")))
    elif event == "message.unsupported.received":
        attachments.append(Attachment("other"))
    name = sender.get("display_name") or sender.get("name") or " ".join(
        p for p in (sender.get("first_name"), sender.get("last_name")) if p) or ""
    text = message.get("text") if isinstance(message.get("text"), str) else ""
    caption = message.get("caption") if isinstance(message.get("caption"), str) else ""
    return Incoming(
        channel="zalo_bot",
        chat_id=str(chat_id),
        user_id=str(user_id),
        update_key=f"zalo_bot:{event}:{message_id}",
        text=text or caption or "",
        display_name=str(name)[:200],
        attachments=attachments,
        message_id=str(message_id),
        at=ms_to_datetime(message.get("date")) or datetime.now(UTC),
        is_group=str(chat.get("chat_type") or "").upper() == "GROUP",
    )


# -- the channel ------------------------------------------------------------------------------


class ZaloBotChannel:
    name = "zalo_bot"
    numbered_menus = True  # no buttons on this platform

    def __init__(self, settings: Settings, core: Core, db: Database, *, webhook: bool,
                 client: ZaloBotClient | None = None) -> None:
        assert settings.zalo_bot_token, "ZALO_BOT_TOKEN is required"
        self.settings = settings
        self.core = core
        self.db = db
        self.webhook = webhook
        self.client = client or ZaloBotClient(settings.zalo_bot_api_base_url,
                                              settings.zalo_bot_token)
        self.pump = ReplyPump(self._deliver)
        self.sent = SentReplies(db)
        self.handled = 0
        """Updates handled by this process (tests wait on it)."""
        self.stopping = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self._healthy = False
        self.first_attempt = asyncio.Event()

    @property
    def status(self) -> str:
        if self.stopping.is_set() or not self._healthy:
            return "down"
        if not self.webhook and (self._poller is None or self._poller.done()):
            return "down"
        return "ok"

    async def start(self) -> None:
        """Come up in the background (the service never waits for Zalo): getMe and the
        webhook set (or, for polling, removed), retried with back-off until Zalo answers;
        then long polling. `first_attempt` is set once the first try has ended."""
        self.stopping.clear()
        self.first_attempt.clear()
        await self.client.open()
        self._poller = asyncio.create_task(self._run())

    async def _run(self) -> None:
        await self._come_up()
        if not self.webhook and not self.stopping.is_set():
            log.info("zalo bot: long polling started")
            await self._poll()

    async def _come_up(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                me = await self.client.call("getMe")
                log.info("zalo bot: connected as %s", (me or {}).get("account_name", "?"))
                if self.webhook:
                    url = f"{self.settings.public_base_url}/webhook/zalo-bot"
                    await self.client.call("setWebhook", {
                        "url": url, "secret_token": self.settings.zalo_bot_secret})
                    log.info("zalo bot: webhook set")
                else:
                    await self.client.call("deleteWebhook")  # polling gets nothing while set
                self._healthy = True
                return
            except (ZaloBotApiError, aiohttp.ClientError, TimeoutError) as error:
                failures += 1
                log.error("zalo bot: not up yet (%s); trying again", error)
            finally:
                self.first_attempt.set()
            await self._pause(min(START_RETRY[1], START_RETRY[0] * 2.0 ** (failures - 1)))

    async def stop(self) -> None:
        self.stopping.set()
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        await self.pump.drain()
        await self.sent.close()
        await self.client.close()

    # -- inbound --------------------------------------------------------------------------

    async def _poll(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                result = await self.client.call("getUpdates", {"timeout": str(POLL_TIMEOUT)},
                                                timeout=POLL_TIMEOUT + 10)
            except ZaloBotApiError as error:
                if error.code == NOTHING_NEW:
                    failures = 0
                    continue
                failures += 1
                log.warning("zalo bot: getUpdates failed: %s", error)
                await self._pause(min(30.0, 0.5 * 2.0 ** failures))
                continue
            except (aiohttp.ClientError, TimeoutError) as error:
                failures += 1
                log.warning("zalo bot: getUpdates failed: %s", error)
                await self._pause(min(30.0, 0.5 * 2.0 ** failures))
                continue
            failures = 0
            self._healthy = True
            if not result:
                continue
            try:
                items = updates_in(result)
            except ValueError:
                log.warning("zalo bot: getUpdates returned something that is not an update")
                continue
            for item in items:
                await self._handle_polled(item)

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stopping.wait(), seconds)
        except TimeoutError:
            pass

    async def _handle_polled(self, update: dict[str, Any]) -> None:
        try:
            await wait_out_outage(lambda: self.process(update), self.stopping, "zalo bot")
        except ValueError:
            log.warning("zalo bot: ignored a malformed update")
        except Exception as error:  # noqa: BLE001 - one bad update must not stop polling
            if is_outage(error):
                log.error("zalo bot: an update was lost: stopping while the database is down")
            else:
                log.exception("zalo bot: an update could not be handled")

    async def process(self, update: dict[str, Any]) -> None:
        """Store and handle one update; replies go out in the background. ValueError for a
        malformed update; database errors propagate (a webhook answers 503)."""
        msg = incoming_from_zalo_bot(update)
        if msg is None:
            return
        replies = await self.core.handle(msg)
        await self.pump.submit(msg.chat, replies, msg.update_key)
        self.handled += 1

    async def _deliver(self, chat: ChatRef, replies: list[Outgoing], key: str) -> None:
        await deliver_replies(self.sent, self, chat, replies, key)

    # -- outbound -------------------------------------------------------------------------

    async def send(self, chat: ChatRef, message: Outgoing) -> str | None:
        text = with_menu(message.text, numbered_menu(message))
        media = message.photo or message.document
        if message.document is not None and message.document.url:
            label = message.document.name or message.document.url
            text = with_menu(text, f"• {label}: {message.document.url}")
        last_id: str | None = None
        try:
            if message.photo is not None and message.photo.url:
                payload: dict[str, Any] = {"chat_id": chat.chat_id, "photo": message.photo.url}
                if text and len(text) <= TEXT_LIMIT:
                    payload["caption"] = text
                    text = ""
                last_id = self._message_id(await self.client.call("sendPhoto", payload))
            elif media is not None and not text:
                raise ChannelError("zalo bot sends photos by URL only", permanent=True)
            if text:
                for part in split_text(text, TEXT_LIMIT):
                    result = await self.client.call("sendMessage",
                                                    {"chat_id": chat.chat_id, "text": part})
                    last_id = self._message_id(result)
        except (ZaloBotApiError, aiohttp.ClientError, TimeoutError) as error:
            raise channel_error(error) from error
        return last_id

    @staticmethod
    def _message_id(result: Any) -> str | None:
        if isinstance(result, dict) and result.get("message_id") is not None:
            return str(result["message_id"])
        return None


# -- the webhook route ------------------------------------------------------------------------


def add_routes(app: web.Application, service: Running) -> None:
    async def route(request: web.Request) -> web.Response:
        return await zalo_bot_webhook(request, service)

    app.router.add_post("/webhook/zalo-bot", route)


async def zalo_bot_webhook(request: web.Request, service: Running) -> web.Response:
    """`X-Bot-Api-Secret-Token` in constant time (401 missing, 403 wrong, nothing stored);
    stored before 200; 503 when the database fails; an authenticated but malformed body is
    stored as rejected and acknowledged, or Zalo would send it again and again."""
    channel: ZaloBotChannel | None = getattr(service, "zalo_bot", None)
    if channel is None or not channel.webhook:
        raise web.HTTPNotFound()
    require_secret(request, "X-Bot-Api-Secret-Token", service.settings.zalo_bot_secret)
    body = await request.read()
    try:
        items = updates_in(json.loads(body))
        incoming = [incoming_from_zalo_bot(item) for item in items]
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[…
        digest = hashlib.sha256(body).hexdigest()[:24]
        async with service.db.session() as session:
            await claim_update(session, f"zalo_bot:rejected:{digest}", service.clock(),
                               status="rejected")
        log.warning("zalo bot webhook: malformed update stored as rejected (%s)", digest)
        return web.json_response({"ok": True})
    try:
        for item, msg in zip(items, incoming, strict=True):
            if msg is not None:
                await channel.process(item)
    except (SQLAlchemyError, OSError) as error:
        if is_outage(error):
            log.exception("zalo bot webhook: could not store an update")
            return web.json_response({"ok": False}, status=503)
        # The database refused this update's data: Zalo would send it again and again.
        log.exception("zalo bot webhook: an update could not be handled")
    return web.json_response({"ok": True})
