"""Telegram, through python-telegram-bot used as transport only (over aiohttp: see
bot/channels/aiohttp_request.py).

Long polling by default; with `PUBLIC_BASE_URL` the application is built with `.updater(None)`
and updates arrive at our own aiohttp route `/webhook/telegram` (see bot/web.py). Dialogue
state lives in our database, not in PTB.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import warnings
from collections.abc import Collection
from typing import Any

from telegram import Bot, BotCommand, InlineKeyboardMarkup, InputFile, Message, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, ContextTypes, TypeHandler
from telegram.warnings import PTBUserWarning

from bot.channels.aiohttp_request import AiohttpRequest
from bot.channels.base import ChannelError, ReplyPump, wait_out_outage
from bot.config import Settings
from bot.db.models import ButtonPayload
from bot.db.repositories import insert_ignore
from bot.db.session import Database
from bot.messages import Attachment, Button, ChatRef, Incoming, Outgoing, split_text
from bot.outbox import SentReplies, deliver_replies
from bot.router import Core

log = logging.getLogger(__name__)
# `send` calls sendMessage through `Bot.do_api_request` on purpose (see there); PTB would
# suggest `Bot.send_message` on every call.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.sendMessage'",
                        category=PTBUserWarning)

START_RETRY = (1.0, 60.0)
"""First and longest wait between attempts to come up while the Bot API cannot be reached."""
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_LIMIT = 64
STORED_PREFIX = "~"
STORED_KEY = re.compile(r"[0-9a-f]{20}")
"""The key of a stored action: the start of its SHA-256 (`_callback_data`)."""
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


def parse_update(data: dict[str, Any], bot: Bot) -> Update:
    """A Bot API update as PTB's `Update`; malformed ones raise ValueError, TypeError,
    KeyError or AttributeError (PTB does not say which) — an impossible date too, which
    `datetime` refuses with OverflowError or OSError."""
    try:
        return Update.de_json(data, bot)
    except (OverflowError, OSError) as error:
        raise ValueError(f"impossible value in the update: {error}") from error


def incoming_from_telegram(update: Update, staff_chats: Collection[int] = ()) -> Incoming | None:
    """The neutral form of a Telegram update; None for updates the bot does not act on.
    `staff_chats`: the staff groups (the province-wide one and the communes')."""
    key = f"telegram:{update.update_id}"
    query = update.callback_query
    if query is not None:
        message = query.message if isinstance(query.message, Message) else None
        chat = message.chat if message else None
        chat_id = chat.id if chat else query.from_user.id
        return Incoming(
            channel="telegram",
            chat_id=str(chat_id),
            user_id=str(query.from_user.id),
            update_key=key,
            action=query.data or "",
            display_name=query.from_user.full_name,
            message_id=str(message.message_id) if message else None,
            is_staff_chat=chat_id in staff_chats,
            is_group=bool(chat and chat.type in ("group", "supergroup")),
            thread_id=str(message.message_thread_id) if message and message.message_thread_id
            else None,
        )
    message = update.message
    if message is None or message.from_user is None:
        return None
    attachments: list[Attachment] = []
    if message.photo:
        attachments.append(Attachment("photo", file_id=message.photo[-1].file_id))
    if message.document:
        attachments.append(Attachment("file", file_id=message.document.file_id,
                                      name=message.document.file_name))
    if message.location:
        attachments.append(Attachment("location", latitude=message.location.latitude,
                                      longitude=message.location.longitude))
    if message.sticker:
        attachments.append(Attachment("sticker", file_id=message.sticker.file_id))
    if message.voice:
        attachments.append(Attachment("voice", file_id=message.voice.file_id))
    if message.video:
        attachments.append(Attachment("video", file_id=message.video.file_id))
    reply_to = message.reply_to_message
    return Incoming(
        channel="telegram",
        chat_id=str(message.chat.id),
        user_id=str(message.from_user.id),
        update_key=key,
        text=message.text or message.caption or "",
        display_name=message.from_user.full_name,
        attachments=attachments,
        message_id=str(message.message_id),
        at=message.date,
        is_staff_chat=message.chat.id in staff_chats,
        is_group=message.chat.type in ("group", "supergroup"),
        thread_id=str(message.message_thread_id) if message.is_topic_message else None,
        reply_to=str(reply_to.message_id) if reply_to and not reply_to.forum_topic_created
        else None,
    )


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
        self.webhook = webhook
        builder = (
            Application.builder()
            .token(settings.telegram_bot_token)
            .base_url(settings.telegram_api_base_url)
            .base_file_url(file_base_url(settings.telegram_api_base_url))
            .request(AiohttpRequest(connection_pool_size=4, pool_timeout=10.0,
                                    read_timeout=request_timeout, write_timeout=request_timeout,
                                    connect_timeout=request_timeout))
            .get_updates_request(AiohttpRequest(read_timeout=40.0, connect_timeout=10.0))
        )
        if webhook:
            builder = builder.updater(None)
        self.app = builder.build()
        self.app.add_handler(TypeHandler(Update, self._on_update))
        self.pump = ReplyPump(self._deliver, concurrency=2)  # a burst must not open 100
        self.sent = SentReplies(db)
        self._stopping = asyncio.Event()
        self._starter: asyncio.Task[None] | None = None
        self.first_attempt = asyncio.Event()

    @property
    def bot(self) -> Any:
        return self.app.bot

    @property
    def status(self) -> str:
        if not self.app.running:
            return "down"
        if not self.webhook and not (self.app.updater and self.app.updater.running):
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
            try:
                await asyncio.wait_for(self._stopping.wait(), delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, longest)

    async def _start_once(self) -> None:
        """One attempt; each step is skipped when an earlier attempt got past it."""
        await self.app.initialize()  # getMe
        try:
            await self.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])
        except TelegramError as error:  # cosmetic; never keep the channel down for it
            log.warning("could not set the command list: %s", error)
        if self.webhook:
            url = f"{self.settings.public_base_url}/webhook/telegram"
            await self.bot.set_webhook(url=url, secret_token=self.settings.telegram_secret,
                                       allowed_updates=Update.ALL_TYPES)
            log.info("telegram: webhook set")
        else:
            assert self.app.updater is not None
            if not self.app.updater.running:
                await self.app.updater.start_polling(  # deleteWebhook first
                    poll_interval=0.0, timeout=10, allowed_updates=Update.ALL_TYPES
                )
                log.info("telegram: long polling started")
        if not self.app.running:
            await self.app.start()

    async def stop(self) -> None:
        self._stopping.set()
        if self._starter is not None:
            self._starter.cancel()  # an attempt may be waiting on an unanswered request
            await asyncio.gather(self._starter, return_exceptions=True)
        if self.app.updater and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.pump.drain()
        await self.sent.close()
        await self.app.shutdown()
        await self.bot.shutdown()  # its HTTP clients, when getMe never succeeded

    # -- inbound --------------------------------------------------------------------------

    def parse(self, data: dict[str, Any]) -> Update:
        """A webhook body as PTB's `Update` (see `parse_update`)."""
        return parse_update(data, self.bot)

    async def process_webhook(self, update: Update) -> None:
        """Store and handle one webhook update before it is acknowledged; replies go out
        after the acknowledgement. Database errors propagate (the route answers 503)."""
        await self._on_update(update, None)

    async def _on_update(self, update: object, context: ContextTypes.DEFAULT_TYPE | None
                         ) -> None:
        """Handle now; send the replies in the background, so the next update is handled
        while this one's replies travel (each chat's replies still leave in order)."""
        assert isinstance(update, Update)
        if context is None:  # a webhook: errors go back to the route (503, Telegram retries)
            replies = await self._handle(update)
        else:  # polled: Telegram will not send it again
            try:
                replies = await wait_out_outage(lambda: self._handle(update), self._stopping,
                                                "telegram")
            except Exception:  # noqa: BLE001 - one bad update must not hold up the rest
                log.exception("telegram: update %s could not be handled", update.update_id)
                return
        if replies:
            await self.pump.submit(*replies)

    async def _handle(self, update: Update) -> tuple[ChatRef, list[Outgoing], str] | None:
        msg = incoming_from_telegram(update, self.settings.staff_chat_ids)
        query = update.callback_query
        try:
            if msg is None:
                return None
            if msg.action and msg.action.startswith(STORED_PREFIX):
                msg.action = await self._stored_action(msg.action)
            replies = await self.core.handle(msg)
            return (msg.chat, replies, msg.update_key) if replies else None
        finally:
            if query is not None:
                await self._answer(query.id)

    async def _answer(self, query_id: str) -> None:
        try:
            await self.bot.answer_callback_query(query_id)
        except TelegramError as error:
            log.info("could not answer a callback query: %s", error)

    async def _deliver(self, chat: ChatRef, replies: list[Outgoing], key: str) -> None:
        await deliver_replies(self.sent, self, chat, replies, key)

    async def _stored_action(self, callback_data: str) -> str:
        key = callback_data[len(STORED_PREFIX):]
        if not STORED_KEY.fullmatch(key):
            return "stale"  # not one we made: no need to look
        async with self.db.session() as session:
            row = await session.get(ButtonPayload, key)
        return row.action if row else "stale"

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
                    else media.file_id or media.url
                kwargs = {"photo" if message.photo else "document": content}
                sent = await send(chat.chat_id, caption=caption, message_thread_id=thread,
                                  reply_to_message_id=reply_to, reply_markup=markup, **kwargs)
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
                sent = await self.bot.do_api_request("sendMessage", api_kwargs=params)
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
        key = hashlib.sha256(action.encode()).hexdigest()[:20]
        async with self.db.session() as session:
            await insert_ignore(session, ButtonPayload, {"id": key, "action": action})
        return STORED_PREFIX + key
