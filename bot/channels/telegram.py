"""Telegram, through python-telegram-bot's `Bot` used as transport only (over aiohttp: see
bot/channels/aiohttp_request.py).

Long polling by default (our own loop: an update is confirmed only once stored); with
`PUBLIC_BASE_URL` updates arrive at our own aiohttp route `/webhook/telegram` (see bot/web.py).
Updates are read from their JSON (`parse_update`), not built into PTB objects. Dialogue state
lives in our database, not in PTB.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from telegram import Bot, BotCommand, InlineKeyboardMarkup, InputFile, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.channels.aiohttp_request import AiohttpRequest, JsonData
from bot.channels.base import ChannelError, ReplyPump, StoredActions, wait_out_outage
from bot.config import Settings
from bot.db.session import Database
from bot.messages import Attachment, Button, ChatRef, Incoming, Outgoing, split_text
from bot.outbox import SentReplies, deliver_replies
from bot.router import Core

log = logging.getLogger(__name__)

START_RETRY = (1.0, 60.0)
"""First and longest wait between attempts to come up while the Bot API cannot be reached."""
POLL_TIMEOUT = 10
"""Seconds a getUpdates long poll waits for an update."""
POLL_RETRY = (1.0, 30.0)
"""First and longest wait between getUpdates calls while they fail."""
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_LIMIT = 64
STORED_PREFIX = "~"
"""Callback data that is the key of a stored action (`StoredActions`)."""
COMMANDS = [
    ("start", "Về menu chính"),
    ("thutuc", "Tra cứu thủ tục hành chính"),
    ("hoso", "Xem tình trạng hồ sơ"),
    ("hosocuatoi", "Hồ sơ tôi đang theo dõi"),
    ("phananh", "Gửi phản ánh, kiến nghị"),
    ("danhgia", "Đánh giá mức độ hài lòng"),
    ("dangky", "Nhận thông báo của xã/phường"),
    ("caidat", "Cài đặt nhận tin"),
    ("trogiup", "Hướng dẫn sử dụng"),
    ("huy", "Dừng thao tác đang làm"),
]


def file_base_url(api_base_url: str) -> str:
    """`https://api.telegram.org/bot` -> `https://api.telegram.org/file/bot`."""
    head, sep, tail = api_base_url.rstrip("/").rpartition("/")
    return f"{head}/file/{tail}" if sep else api_base_url


@dataclass(frozen=True)
class TelegramUpdate:
    """What the bot takes from a Bot API update: its id, its neutral form (None for updates
    the bot does not act on: edited messages, channel posts, member changes…) and the
    callback query to answer, if it is one."""

    update_id: int
    incoming: Incoming | None
    callback_id: str | None = None


def parse_update(data: dict[str, Any], staff_chats: Collection[int] = ()) -> TelegramUpdate:
    """A Bot API update (decoded JSON) read straight from its JSON: building PTB's objects for
    it (a `Message` sets some 200 attributes) costs more than handling most messages.
    `staff_chats`: the staff groups (the province-wide one and the communes'). A malformed
    update raises ValueError (TypeError or KeyError where a part is not what it must be)."""
    update_id = data["update_id"]
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise ValueError("update_id is not a number")
    key = f"telegram:{update_id}"
    query = data.get("callback_query")
    if query is not None:
        sender = _user(query["from"])
        # A message too old for the bot to see comes as an "inaccessible" one, dated 0.
        message = query.get("message")
        if message is not None and not _field(message, "date", int):
            message = None
        chat = _chat(message["chat"]) if message is not None else None
        chat_id = chat[0] if chat else sender[0]
        thread = _field(message, "message_thread_id", int) if message is not None else None
        return TelegramUpdate(update_id, Incoming(
            channel="telegram",
            chat_id=str(chat_id),
            user_id=str(sender[0]),
            update_key=key,
            action=_field(query, "data", str) or "",
            display_name=sender[1],
            message_id=str(_field(message, "message_id", int, True)) if message else None,
            is_staff_chat=chat_id in staff_chats,
            is_group=bool(chat and chat[1] in ("group", "supergroup")),
            thread_id=str(thread) if thread else None,
        ), callback_id=str(_field(query, "id", str, True)))
    message = data.get("message")
    if message is None:
        return TelegramUpdate(update_id, None)
    message_id = _field(message, "message_id", int, True)
    chat_id, chat_type = _chat(message["chat"])
    try:
        at = datetime.fromtimestamp(_field(message, "date", int, True), tz=UTC)
    except (OverflowError, OSError) as error:
        raise ValueError(f"impossible date in the update: {error}") from error
    if message.get("from") is None:
        return TelegramUpdate(update_id, None)  # a channel's or an anonymous admin's post
    sender = _user(message["from"])
    attachments: list[Attachment] = []
    if photo := _field(message, "photo", list):
        attachments.append(Attachment("photo", file_id=_file_id(photo[-1])))
    if document := _field(message, "document", dict):
        attachments.append(Attachment("file", file_id=_file_id(document),
                                      name=_field(document, "file_name", str)))
    if location := _field(message, "location", dict):
        attachments.append(Attachment(
            "location", latitude=_field(location, "latitude", float, True),
            longitude=_field(location, "longitude", float, True)))
    for kind in ("sticker", "voice", "video"):
        if media := _field(message, kind, dict):
            attachments.append(Attachment(kind, file_id=_file_id(media)))
    reply_to = _field(message, "reply_to_message", dict)
    thread = _field(message, "message_thread_id", int)
    return TelegramUpdate(update_id, Incoming(
        channel="telegram",
        chat_id=str(chat_id),
        user_id=str(sender[0]),
        update_key=key,
        text=_field(message, "text", str) or _field(message, "caption", str) or "",
        display_name=sender[1],
        attachments=attachments,
        message_id=str(message_id),
        at=at,
        is_staff_chat=chat_id in staff_chats,
        is_group=chat_type in ("group", "supergroup"),
        thread_id=str(thread) if thread and _field(message, "is_topic_message", bool) else None,
        reply_to=str(_field(reply_to, "message_id", int, True))
        if reply_to and not reply_to.get("forum_topic_created") else None,
    ))


def _field(part: dict[str, Any], name: str, kind: type, required: bool = False) -> Any:
    """`part[name]` when it is of `kind` (an int passes for a float), None when absent and
    not `required`; anything else is a malformed update (ValueError)."""
    value = part.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) and kind is not bool:
        raise ValueError(f"{name} is not a {kind.__name__}")
    if isinstance(value, kind) or (kind is float and isinstance(value, int)):
        return value
    raise ValueError(f"{name} is not a {kind.__name__}")


def _user(user: dict[str, Any]) -> tuple[int, str]:
    """(id, full name as PTB's `User.full_name` makes it) of a Bot API user."""
    first, last = _field(user, "first_name", str) or "", _field(user, "last_name", str)
    return _field(user, "id", int, True), f"{first} {last}" if last else first


def _chat(chat: dict[str, Any]) -> tuple[int, str]:
    return _field(chat, "id", int, True), _field(chat, "type", str) or ""


def _file_id(media: dict[str, Any]) -> str:
    return str(_field(media, "file_id", str, True))


def channel_error(error: TelegramError) -> ChannelError:
    """PTB's exceptions as the outbox understands them."""
    if isinstance(error, RetryAfter):
        seconds = error.retry_after
        delay = seconds.total_seconds() if hasattr(seconds, "total_seconds") else float(seconds)
        return ChannelError(f"flood control: retry after {delay:g}s", retry_after=delay)
    if isinstance(error, Forbidden):
        return ChannelError(f"forbidden: {error.message}", permanent=True)
    if isinstance(error, BadRequest):
        return ChannelError(f"bad request: {error.message}", permanent=True)
    if isinstance(error, TimedOut):
        return ChannelError("timed out")
    if isinstance(error, NetworkError):
        return ChannelError(f"network: {error.message}")
    return ChannelError(f"telegram: {error}")


class TelegramChannel:
    """Receives Telegram updates, hands them to the core, sends what comes back."""

    name = "telegram"

    def __init__(self, settings: Settings, core: Core, db: Database, *, webhook: bool,
                 request_timeout: float = 15.0) -> None:
        assert settings.telegram_bot_token, "TELEGRAM_BOT_TOKEN is required"
        self.settings = settings
        self.core = core
        self.db = db
        self.actions = StoredActions(db)
        self.webhook = webhook
        self.requests = AiohttpRequest(connection_pool_size=4, pool_timeout=10.0,
                                       read_timeout=request_timeout,
                                       write_timeout=request_timeout,
                                       connect_timeout=request_timeout)
        self.polls = AiohttpRequest(read_timeout=POLL_TIMEOUT + 30.0, connect_timeout=10.0)
        self.bot = Bot(
            settings.telegram_bot_token,
            base_url=settings.telegram_api_base_url,
            base_file_url=file_base_url(settings.telegram_api_base_url),
            request=self.requests,
            get_updates_request=self.polls,
        )
        self.pump = ReplyPump(self._deliver, concurrency=2)  # a burst must not open 100
        self.sent = SentReplies(db)
        self._stopping = asyncio.Event()
        self._starter: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._offset = 0  # the next update to ask for: those before it are handled and stored
        self._up = False
        self.first_attempt = asyncio.Event()

    @property
    def status(self) -> str:
        if not self._up:
            return "down"
        if not self.webhook and (self._poller is None or self._poller.done()):
            return "down"
        return "ok"

    async def start(self) -> None:
        """Come up in the background, so that the rest of the service never waits for
        Telegram: `status` is "down" until the Bot API has answered (getMe and the command
        list, then the webhook or polling set up), retried with back-off (`START_RETRY`).
        `first_attempt` is set once the first try has ended, either way."""
        self._stopping.clear()
        self.first_attempt.clear()
        self._starter = asyncio.create_task(self._come_up())

    async def _come_up(self) -> None:
        delay, longest = START_RETRY
        while not self._stopping.is_set():
            try:
                await self._start_once()
                return
            except Exception as error:  # noqa: BLE001 - unreachable, 5xx, refused token…
                log.warning("telegram: not up yet, trying again in %.0f s: %s", delay, error)
            finally:
                self.first_attempt.set()
            if await self._wait(delay):
                return
            delay = min(delay * 2, longest)

    async def _wait(self, seconds: float) -> bool:
        """Wait `seconds`, or less when the channel stops; whether it stops."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _start_once(self) -> None:
        """One attempt; each step is skipped when an earlier attempt got past it."""
        await self.bot.initialize()  # getMe
        try:
            await self.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])
        except TelegramError as error:  # cosmetic; never keep the channel down for it
            log.warning("could not set the command list: %s", error)
        if self.webhook:
            url = f"{self.settings.public_base_url}/webhook/telegram"
            await self.bot.set_webhook(url=url, secret_token=self.settings.telegram_secret,
                                       allowed_updates=Update.ALL_TYPES)
            log.info("telegram: webhook set")
        elif self._poller is None:
            await self.bot.delete_webhook()  # getUpdates is refused while a webhook is set
            self._poller = asyncio.create_task(self._poll())
            log.info("telegram: long polling started")
        self._up = True

    async def stop(self) -> None:
        self._stopping.set()
        for task in (self._starter, self._poller):
            if task is not None:
                task.cancel()  # it may be waiting on an unanswered request
                await asyncio.gather(task, return_exceptions=True)
        if self._poller is not None and self._offset:
            await self._confirm()
        self._poller = None
        self._up = False
        await self.pump.drain()
        await self.sent.close()
        await self.bot.shutdown()

    # -- inbound --------------------------------------------------------------------------

    async def _poll(self) -> None:
        """Long polling. An update is confirmed to Telegram (the next call's `offset`) only
        once it is handled and stored, so a crash loses none: the ones not confirmed come
        again and the core skips those it already has (`Core.handle`)."""
        delay = POLL_RETRY[0]
        while not self._stopping.is_set():
            try:
                batch = await self._call("getUpdates", {
                    "offset": self._offset, "timeout": POLL_TIMEOUT,
                    "allowed_updates": list(Update.ALL_TYPES)}, self.polls)
                delay = POLL_RETRY[0]
            except Exception as error:  # noqa: BLE001 - network, 5xx, 409 (another poller), 429…
                told = isinstance(error, TelegramError) and channel_error(error).retry_after
                wait = told or delay
                log.warning("telegram: getUpdates failed, again in %.0f s: %s", wait, error)
                delay = min(delay * 2, POLL_RETRY[1])
                if await self._wait(wait):
                    return
                continue
            for data in batch if isinstance(batch, list) else ():
                update_id = data.get("update_id") if isinstance(data, dict) else None
                if not isinstance(update_id, int):
                    continue  # not an update: nothing to confirm either
                await self._polled(data)
                self._offset = max(self._offset, update_id + 1)

    async def _confirm(self) -> None:
        """On stopping: tell Telegram the updates handled so far are done, so the next start
        does not fetch them again (it would only skip them)."""
        try:
            await asyncio.wait_for(self._call("getUpdates", {
                "offset": self._offset, "timeout": 0, "limit": 1}, self.polls), 5)
        except (TelegramError, TimeoutError) as error:
            log.info("telegram: could not confirm the last updates: %s", error)

    async def _polled(self, data: dict[str, Any]) -> None:
        """One polled update: handled, its replies sent in the background; a database outage
        is waited out (the updates behind it wait, in order), a malformed or failing update
        only logged (one bad update must not hold up the rest)."""
        try:
            update = self.parse(data)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            log.warning("telegram: malformed update %s skipped: %s", data.get("update_id"), error)
            return
        try:
            replies = await wait_out_outage(lambda: self._handle(update), self._stopping,
                                            "telegram")
        except Exception:  # noqa: BLE001
            log.exception("telegram: update %s could not be handled", update.update_id)
            return
        if replies:
            await self.pump.submit(*replies)

    def parse(self, data: dict[str, Any]) -> TelegramUpdate:
        """A webhook body or a polled update (see `parse_update`)."""
        return parse_update(data, self.settings.staff_chat_ids)

    async def process_webhook(self, update: TelegramUpdate) -> None:
        """Store and handle one webhook update before it is acknowledged; replies go out
        after the acknowledgement. Database errors propagate (the route answers 503)."""
        replies = await self._handle(update)
        if replies:
            await self.pump.submit(*replies)

    async def _handle(self, update: TelegramUpdate
                      ) -> tuple[ChatRef, list[Outgoing], str] | None:
        msg = update.incoming
        try:
            if msg is None:
                return None
            if msg.action and msg.action.startswith(STORED_PREFIX):
                msg.action = await self._stored_action(msg.action)
            replies = await self.core.handle(msg)
            return (msg.chat, replies, msg.update_key) if replies else None
        finally:
            if update.callback_id is not None:
                await self._answer(update.callback_id)

    async def _answer(self, query_id: str) -> None:
        try:
            await self._call("answerCallbackQuery", {"callback_query_id": query_id})
        except TelegramError as error:
            log.info("could not answer a callback query: %s", error)

    async def _call(self, method: str, params: dict[str, Any],
                    request: AiohttpRequest | None = None) -> Any:
        """A Bot API method, its result as JSON: the updates, replies and callback answers,
        whose results are read without building PTB's objects. Through PTB's transport
        (`BaseRequest.post`), so errors are PTB's as for every other call."""
        return await (request or self.requests).post(f"{self.bot.base_url}/{method}",
                                                      JsonData(params))

    async def _deliver(self, chat: ChatRef, replies: list[Outgoing], key: str) -> None:
        await deliver_replies(self.sent, self, chat, replies, key)

    async def _stored_action(self, callback_data: str) -> str:
        return await self.actions.action(callback_data[len(STORED_PREFIX):]) or "stale"

    # -- outbound -------------------------------------------------------------------------

    async def send(self, chat: ChatRef, message: Outgoing) -> str | None:
        thread = int(chat.thread_id) if chat.thread_id else None
        reply_to = int(message.reply_to) if message.reply_to else None
        last_id: str | None = None
        try:
            media = message.photo or message.document
            text = message.text
            if media is not None:
                caption = text if len(text) <= CAPTION_LIMIT else None
                markup = await self._keyboard(message.buttons) if caption is not None else None
                send = self.bot.send_photo if message.photo else self.bot.send_document
                content = InputFile(media.data, filename=media.name) if media.data \
                    else media.file_id or media.url or ""
                sent = await send(chat.chat_id, content, caption=caption, message_thread_id=thread,
                                  reply_to_message_id=reply_to, reply_markup=markup)
                last_id = str(sent.message_id)
                if caption is not None:
                    return last_id
                reply_to = None
            keyboard = await self._keyboard_json(message.buttons)
            parts = split_text(text, TEXT_LIMIT)
            for index, part in enumerate(parts):
                # The raw call: the result is only needed for its id, and building PTB
                # objects for each sent message (keyboard and all) costs more than the send.
                params: dict[str, Any] = {"chat_id": chat.chat_id, "text": part}
                if thread:
                    params["message_thread_id"] = thread
                if reply_to and index == 0:
                    params["reply_to_message_id"] = reply_to
                if keyboard and index == len(parts) - 1:
                    params["reply_markup"] = keyboard
                sent = await self._call("sendMessage", params)
                last_id = str(sent["message_id"])
        except TelegramError as error:
            raise channel_error(error) from error
        return last_id

    async def is_forum(self, chat_id: int) -> bool:
        """Whether a group has forum topics (one topic per ticket) or not."""
        try:
            chat = await self.bot.get_chat(chat_id)
        except TelegramError as error:
            raise channel_error(error) from error
        return bool(chat.is_forum)

    async def create_topic(self, chat_id: int, title: str) -> str:
        """A new forum topic; its `message_thread_id`."""
        try:
            topic = await self.bot.create_forum_topic(chat_id, title[:128])
        except TelegramError as error:
            raise channel_error(error) from error
        return str(topic.message_thread_id)

    async def _keyboard(self, rows: list[list[Button]]) -> InlineKeyboardMarkup | None:
        keyboard = await self._keyboard_json(rows)
        return InlineKeyboardMarkup.de_json(keyboard, self.bot) if keyboard else None

    async def _keyboard_json(self, rows: list[list[Button]]) -> dict[str, Any] | None:
        """An inline keyboard as the Bot API takes it; long actions stored server-side."""
        if not rows:
            return None
        return {"inline_keyboard": [
            [{"text": b.label, "url": b.url} if b.url else
             {"text": b.label, "callback_data": await self._callback_data(b.action or "menu")}
             for b in row]
            for row in rows
        ]}

    async def _callback_data(self, action: str) -> str:
        """Telegram allows 64 bytes of callback data; longer actions are stored."""
        if len(action.encode()) <= CALLBACK_LIMIT and not action.startswith(STORED_PREFIX):
            return action
        return STORED_PREFIX + await self.actions.key(action)
