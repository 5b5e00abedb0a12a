"""A fake Telegram Bot API server on 127.0.0.1 for end-to-end tests.

The real python-telegram-bot client (or any HTTP client) talks to it over HTTP::

    async with FakeTelegram() as fake:
        bot = telegram.Bot("123:ABC", base_url=fake.base_url, base_file_url=fake.base_file_url)
        fake.push_message(42, "/start")           # queued for getUpdates, also returned
        ...                                       # run the bot
        await fake.wait_for("sendMessage")
        assert fake.sent_messages(42)[0]["text"].startswith("Dạ")

What it does like Telegram (see /work/shared/platforms/PLATFORMS.md §3):

- `/bot<TOKEN>/<method>` with any token (method names case-insensitive); bodies form-encoded,
  multipart (uploads) or JSON, plus query-string parameters; the `{"ok": …}` envelope.
- `getUpdates` long polling: `offset` confirms earlier updates (negative reads from the end),
  `limit`, `timeout`, `allowed_updates`; a second concurrent poller terminates the first with
  409, and polling while a webhook is set is a 409.
- Flood limits as sliding windows over the send methods (`SEND_METHODS`): overall per second,
  per chat per second, per group (negative id or `@username`) per minute. An over-limit send
  gets 429 with an integer `retry_after`, and that chat stays paused until it passes: a send to
  it inside the pause gets another 429 and is recorded in `pause_violations`.
- Errors worded as Telegram words them (a few are best guesses): blocked users (403),
  unknown chats (400), empty or too long text and captions, malformed HTML / MarkdownV2,
  `callback_data` over 64 bytes, editing with nothing changed, replying to or copying a
  message that does not exist, unknown forum topics.
- Forum topics: a message in a topic without an explicit reply carries `reply_to_message` =
  the topic's creation message, as in real forum supergroups.
- `editMessageText` without `reply_markup` removes the inline keyboard, as Telegram does.

What it does not do: inline mode, payments, channels' own semantics, entity offsets in the
returned messages, or Telegram's burst allowance (the windows are strict, with `slack`).

Everything runs on the test's event loop; call the sync helpers (`push_*`, `fail_*`) from that
loop's thread.
"""

from __future__ import annotations

import asyncio
import copy
import html
import itertools
import json
import math
import random
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import aiohttp
from aiohttp import web
from yarl import URL

from tests.fakes.server import FakeServer

JSON = dict[str, Any]

DEFAULT_BOT_ID = 7_000_000_001
DEFAULT_GROUP_USER_ID = 5_000_001
FIRST_UPDATE_ID = 10_001

# Methods that deliver a message to a chat: subject to the flood limits and retry_after pauses.
SEND_METHODS: frozenset[str] = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup", "copyMessage", "forwardMessage"}
)
# Parameters whose value is a JSON object or array (a JSON string inside forms).
JSON_FIELDS: frozenset[str] = frozenset(
    {
        "reply_markup",
        "reply_parameters",
        "link_preview_options",
        "entities",
        "caption_entities",
        "media",
        "allowed_updates",
        "commands",
        "scope",
    }
)
# Parameters that are always strings, even when they look like numbers.
STRING_FIELDS: frozenset[str] = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "url",
        "secret_token",
        "callback_query_id",
        "name",
        "action",
        "file_id",
        "photo",
        "document",
        "icon_custom_emoji_id",
        "inline_message_id",
        "language_code",
        "ip_address",
        "message_effect_id",
        "business_connection_id",
    }
)
DEFAULT_ALLOWED_UPDATES: frozenset[str] = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "callback_query",
        "inline_query",
        "chosen_inline_result",
        "my_chat_member",
        "chat_join_request",
        "shipping_query",
        "pre_checkout_query",
        "poll",
        "poll_answer",
        "business_message",
    }
)
WEBHOOK_PORTS = (443, 80, 88, 8443)
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64

_DEFAULT_DESCRIPTIONS: dict[int, str] = {
    400: "Bad Request: injected failure",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_MESSAGE_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_QUERY_TOO_OLD = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
_FAKE_JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + bytes(200)
    + b"\xff\xd9"
)


class Call(NamedTuple):
    """One request the fake answered: method, decoded parameters, clock time, HTTP status.

    `params` holds JSON values (`reply_markup` as a dict, `chat_id` as an int) and, for an
    upload, `{"upload": filename, "size": n, "file_id": id}`; `status` 0 is a dropped
    connection (`reset_next`).
    """

    method: str
    params: JSON
    at: float
    status: int = 200

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def chat_id(self) -> int | str | None:
        value = self.params.get("chat_id")
        try:
            return _chat_key(value) if value is not None else None
        except ApiError:
            return None


@dataclass
class WebhookState:
    """What the last `setWebhook` recorded (`url == ""` means no webhook)."""

    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None


class ApiError(Exception):
    """An error answer: raised inside the fake, turned into the `ok: false` envelope."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


class _Reset(Exception):
    """Close the connection without an answer."""


@dataclass
class _Fault:
    methods: frozenset[str] | None  # None: every method
    status: int | None  # None: connection reset
    remaining: int | None  # None: unlimited
    fraction: float = 1.0
    rng: random.Random | None = None
    description: str | None = None
    retry_after: int | None = None

    def applies(self, method: str) -> bool:
        if self.remaining == 0 or (self.methods is not None and method not in self.methods):
            return False
        if self.rng is not None and self.rng.random() >= self.fraction:
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


@dataclass
class _Delay:
    seconds: float
    methods: frozenset[str] | None
    remaining: int | None
    after: bool
    fraction: float = 1.0
    rng: random.Random = field(default_factory=random.Random)

    def applies(self, method: str, after: bool) -> bool:
        if after != self.after or self.remaining == 0:
            return False
        if self.methods is None and method == "getUpdates":
            return False
        if self.methods is not None and method not in self.methods:
            return False
        if self.fraction < 1.0 and self.rng.random() >= self.fraction:
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


class _Window:
    """Times of accepted sends within a sliding window."""

    def __init__(self, limit: int, seconds: float, slack: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.slack = slack
        self.times: deque[float] = deque()

    def retry_after(self, now: float) -> int | None:
        """None if one more send fits now, else the whole seconds until it would."""
        span = self.seconds - self.slack
        while self.times and now - self.times[0] >= span:
            self.times.popleft()
        if len(self.times) < self.limit:
            return None
        frees_at = self.times[len(self.times) - self.limit] + span
        return max(1, math.ceil(frees_at - now))

    def record(self, now: float) -> None:
        self.times.append(now)


def _chat_key(value: object) -> int | str:
    """A chat id as Telegram reads it: an integer, or an `@username` string."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        if text.startswith("@") and len(text) > 1:
            return text
        if not text:
            raise ApiError(400, "Bad Request: chat_id is empty")
    raise ApiError(400, "Bad Request: chat not found")


def _is_group(chat: int | str) -> bool:
    return isinstance(chat, str) or chat < 0


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _decode_value(name: str, value: str) -> Any:
    """A form or query value as the JSON value PTB encoded (strings stay strings)."""
    if name in STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _update_type(update: JSON) -> str:
    return next((key for key in update if key != "update_id"), "")


# --- text formatting ----------------------------------------------------------------------

_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
        "br",
    }
)
_HTML_TAG_RE = re.compile(r"<(/?)([a-zA-Z][\w-]*)(\s[^<>]*)?>")
_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_MARKERS = {
    "*": "Bold",
    "_": "Italic",
    "__": "Underline",
    "~": "Strikethrough",
    "||": "Spoiler",
}


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _render_html(text: str) -> str:
    """The text a user sees for `parse_mode=HTML`; ApiError for what Telegram refuses."""
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    i = 0
    while i < len(text):
        if text[i] != "<":
            j = text.find("<", i)
            j = len(text) if j == -1 else j
            out.append(html.unescape(text[i:j]))
            i = j
            continue
        match = _HTML_TAG_RE.match(text, i)
        if match is None:
            raise ApiError(
                400,
                "Bad Request: can't parse entities: Unsupported start tag at byte offset "
                f"{_byte_offset(text, i)}",
            )
        closing, name = match.group(1) == "/", match.group(2).lower()
        if name not in _HTML_TAGS:
            kind = "end" if closing else "start"
            raise ApiError(
                400,
                f'Bad Request: can\'t parse entities: Unsupported {kind} tag "{name}" at byte '
                f"offset {_byte_offset(text, i)}",
            )
        if closing:
            if not stack or stack[-1][0] != name:
                raise ApiError(
                    400,
                    f"Bad Request: can't parse entities: Unmatched end tag at byte offset "
                    f'{_byte_offset(text, i)}, expected "</{stack[-1][0] if stack else ""}>", '
                    f'found "</{name}>"',
                )
            stack.pop()
        elif name == "br":
            out.append("\n")
        else:
            stack.append((name, i))
        i = match.end()
    if stack:
        name, at = stack[-1]
        raise ApiError(
            400,
            f"Bad Request: can't parse entities: Can't find end tag corresponding to start tag "
            f'"{name}" at byte offset {_byte_offset(text, at)}',
        )
    return "".join(out)


def _render_markdown_v2(text: str) -> str:
    """The text a user sees for `parse_mode=MarkdownV2`; ApiError for unescaped characters."""
    out: list[str] = []
    open_markers: dict[str, int] = {}
    i, line_start = 0, True
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i, line_start = i + 2, False
            continue
        if char == "`":
            fence = "```" if text.startswith("```", i) else "`"
            end = text.find(fence, i + len(fence))
            if end == -1:
                raise ApiError(
                    400,
                    "Bad Request: can't parse entities: Can't find end of Code entity at byte "
                    f"offset {_byte_offset(text, i)}",
                )
            body = text[i + len(fence) : end]
            if fence == "```" and "\n" in body:
                first, _, rest = body.partition("\n")
                body = rest if first and " " not in first else body
            out.append(re.sub(r"\\(.)", r"\1", body))
            i, line_start = end + len(fence), False
            continue
        marker = text[i : i + 2] if text[i : i + 2] in ("__", "||") else char
        if marker in _MDV2_MARKERS:
            if marker in open_markers:
                del open_markers[marker]
            else:
                open_markers[marker] = i
            i, line_start = i + len(marker), False
            continue
        if char == "[":
            i, line_start = i + 1, False
            continue
        if char == "]" and text.startswith("(", i + 1):
            end = text.find(")", i + 2)
            i = len(text) if end == -1 else end + 1
            continue
        if char == ">" and line_start:
            i += 1
            continue
        if char in _MDV2_RESERVED:
            raise ApiError(
                400,
                f"Bad Request: can't parse entities: Character '{char}' is reserved and must be "
                "escaped with the preceding '\\'",
            )
        out.append(char)
        line_start = char == "\n"
        i += 1
    if open_markers:
        marker, at = min(open_markers.items(), key=lambda item: item[1])
        raise ApiError(
            400,
            f"Bad Request: can't parse entities: Can't find end of {_MDV2_MARKERS[marker]} "
            f"entity at byte offset {_byte_offset(text, at)}",
        )
    return "".join(out)


def _render_markdown(text: str) -> str:
    """Legacy Markdown, rendered leniently."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"(?<!\\)[*_`]", "", text).replace("\\", "")


def _render(text: str, parse_mode: str | None) -> str:
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _render_html(text)
    if mode == "markdownv2":
        return _render_markdown_v2(text)
    if mode == "markdown":
        return _render_markdown(text)
    return text


def _check_markup(markup: object) -> None:
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise ApiError(
                    400,
                    "Bad Request: can't parse inline keyboard button: Text buttons "
                    "are unallowed in the inline keyboard",
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")


def _inline_markup(markup: object) -> JSON | None:
    """What a returned Message echoes: only inline keyboards are part of a Message."""
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        return copy.deepcopy(markup)
    return None


# --- the server -----------------------------------------------------------------------------


class FakeTelegram(FakeServer[Call]):
    """A Telegram Bot API server on 127.0.0.1 with update injection, call log, limits, faults.

    Public state a test may read or change:

    - `calls`: every answered request as `Call(method, params, at, status)`, in order.
    - `rejected_429`: how many requests were answered 429 (limits, pauses, injected).
    - `pause_violations`: sends to a chat that arrived before its `retry_after` had passed.
    - `blocked_chats` (403) and `unknown_chats` (400 "chat not found"): sets of chat ids.
    - `members`: `(chat_id, user_id) -> "creator" | "administrator" | "member" | "left" |
      "kicked"` for `getChatMember` / `getChatAdministrators`.
    - `webhook`: the `WebhookState`; `commands`: `setMyCommands` by `(scope, language_code)`.
    """

    max_body = 64 * 1024 * 1024
    shutdown_timeout = 1.0

    def __init__(
        self,
        *,
        limit_overall_per_s: int | None = 30,
        limit_per_chat_per_s: int | None = 1,
        limit_per_group_per_min: int | None = 20,
        slack: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
        bot_username: str = "motcua_test_bot",
        bot_first_name: str = "Một cửa",
        host: str = "127.0.0.1",
    ) -> None:
        """`limit_*` None turns that limit off; `slack` (seconds) forgives scheduling jitter
        at a window's edge; `clock` times the windows, pauses and `Call.at`."""
        self.limit_overall_per_s = limit_overall_per_s
        self.limit_per_chat_per_s = limit_per_chat_per_s
        self.limit_per_group_per_min = limit_per_group_per_min
        self.slack = slack
        self.clock = clock
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        super().__init__(host)
        self.rejected_429 = 0
        self.pause_violations: list[Call] = []
        self.blocked_chats: set[int | str] = set()
        self.unknown_chats: set[int | str] = set()
        self.members: dict[tuple[int | str, int], str] = {}
        self.webhook = WebhookState()
        self.commands: dict[tuple[str, str], list[JSON]] = {}

        self._update_event = asyncio.Event()
        self._poller: asyncio.Future[None] | None = None

        self._update_ids = itertools.count(FIRST_UPDATE_ID)
        self._updates: list[JSON] = []
        self._allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self._chats: dict[int | str, JSON] = {}
        self._implicit_chats: set[int | str] = set()  # made up on first use, not described
        self._last_bot_id = DEFAULT_BOT_ID
        self._users: dict[int, JSON] = {}
        self._last_message_id: dict[int | str, int] = {}
        self._messages: dict[tuple[int | str, int], JSON] = {}
        self._sent: list[tuple[int | str, int]] = []
        self._topics: dict[tuple[int | str, int], JSON] = {}
        self._callbacks: dict[str, bool] = {}  # id -> answered
        self._callback_ids = itertools.count(1)
        self._files: dict[str, JSON] = {}
        self._file_ids = itertools.count(1)
        self._media_groups = itertools.count(1)

        self._faults: list[_Fault] = []
        self._delays: list[_Delay] = []
        self._paused_until: dict[int | str, float] = {}
        self._overall: _Window | None = None
        self._per_chat: dict[int | str, _Window] = {}
        self._per_group: dict[int | str, _Window] = {}

        # Bot API methods are the `_api_<method>` coroutines below.
        self._handlers: dict[str, Callable[[int, JSON], Awaitable[Any]]] = {
            name.removeprefix("_api_"): getattr(self, name)
            for name in dir(self)
            if name.startswith("_api_")
        }
        self._by_lower_name = {name.lower(): name for name in self._handlers}

    # --- lifecycle ------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)

    def name_of(self, call: Call) -> str:
        return call.method

    def describe(self, call: Call) -> str:
        return f"{call.method}:{call.status}"

    @property
    def base_url(self) -> str:
        """For `Bot(base_url=…)`: the token is appended to it."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For `Bot(base_file_url=…)`."""
        return f"{self.url}/file/bot"

    # --- injecting updates ----------------------------------------------------------------

    def add_chat(
        self,
        chat_id: int,
        chat_type: str | None = None,
        *,
        title: str | None = None,
        is_forum: bool = False,
        username: str | None = None,
        first_name: str | None = None,
    ) -> JSON:
        """Register (or re-describe) a chat; returns its Chat object. Chats also appear on
        first use: positive ids as private chats, negative ones as supergroups."""
        chat_type = chat_type or ("private" if chat_id > 0 else "supergroup")
        chat: JSON = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = first_name or f"Người dùng {chat_id}"
        else:
            chat["title"] = title or f"Nhóm {chat_id}"
            if is_forum:
                chat["is_forum"] = True
        if username:
            chat["username"] = username
        self._chats[chat_id] = chat
        self._implicit_chats.discard(chat_id)
        return copy.deepcopy(chat)

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

    # --- inspecting -----------------------------------------------------------------------

    def sent_messages(self, chat_id: int | str | None = None) -> list[JSON]:
        """Messages the bot sent (in order, edits applied), optionally only to one chat; `text`
        and `caption` are what the user sees (HTML/Markdown rendered)."""
        wanted = None if chat_id is None else _chat_key(chat_id)
        return [
            copy.deepcopy(self._messages[key])
            for key in self._sent
            if wanted is None or key[0] == wanted
        ]

    def calls_to(self, method: str, *, ok: bool | None = None) -> list[Call]:
        """Recorded calls of one method; `ok=True` only successful ones."""
        return [c for c in self.calls if c.method == method and (ok is None or c.ok == ok)]


    # --- fault injection ------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int = 502,
        count: int = 1,
        *,
        description: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """The next `count` calls of `method` ("*" for any) answer `status`. A 429 carries
        `retry_after` (default 1) and pauses the chat like a real one."""
        methods = None if method == "*" else frozenset({self._canonical(method)})
        if status == 429 and retry_after is None:
            retry_after = 1
        self._faults.append(
            _Fault(methods, status, count, description=description, retry_after=retry_after)
        )

    def fail_rate(
        self,
        status: int,
        fraction: float,
        seed: int = 0,
        *,
        methods: Iterable[str] | None = None,
        retry_after: int = 1,
        description: str | None = None,
    ) -> None:
        """A seeded random `fraction` of calls to `methods` (default `SEND_METHODS`) answer
        `status`; 429s carry `retry_after`."""
        chosen = SEND_METHODS if methods is None else frozenset(map(self._canonical, methods))
        self._faults.append(
            _Fault(
                chosen,
                status,
                None,
                fraction,
                random.Random(seed),
                description,
                retry_after if status == 429 else None,
            )
        )

    def force_retry_after(
        self, seconds: int, count: int = 1, *, method: str | None = None
    ) -> None:
        """The next `count` sends (or calls of `method`) get 429 with `retry_after=seconds`."""
        methods = SEND_METHODS if method is None else frozenset({self._canonical(method)})
        self._faults.append(_Fault(methods, 429, count, retry_after=seconds))

    def reset_next(self, method: str, count: int = 1) -> None:
        """The next `count` calls of `method` ("*" for any) lose their connection unanswered."""
        methods = None if method == "*" else frozenset({self._canonical(method)})
        self._faults.append(_Fault(methods, None, count))

    def reset_rate(
        self, fraction: float, seed: int = 0, *, methods: Iterable[str] | None = None
    ) -> None:
        """A seeded random `fraction` of calls (default `SEND_METHODS`) lose their connection."""
        chosen = SEND_METHODS if methods is None else frozenset(map(self._canonical, methods))
        self._faults.append(_Fault(chosen, None, None, fraction, random.Random(seed)))

    def delay(
        self,
        seconds: float,
        *,
        method: str | None = None,
        count: int | None = None,
        fraction: float = 1.0,
        seed: int = 0,
        after: bool = False,
    ) -> None:
        """Answer slowly: `seconds` extra for calls of `method` (default: every method but
        getUpdates), the next `count` of them (default all), a seeded `fraction` of them.
        `after=True` waits after the work is done (the message is sent, the answer late:
        a client that times out and retries makes a duplicate), else before it."""
        methods = None if method is None else frozenset({self._canonical(method)})
        self._delays.append(_Delay(seconds, methods, count, after, fraction, random.Random(seed)))

    def clear_faults(self) -> None:
        """Remove every injected failure and delay (flood limits and pauses stay)."""
        self._faults.clear()
        self._delays.clear()

    # --- HTTP -----------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        method = self._by_lower_name.get(request.match_info["method"].lower())
        params = await self._read_params(request)
        if method is None:
            self._record(request.match_info["method"], params, 404)
            return self._error_response(ApiError(404, "Not Found"))
        for delay in self._delays:
            if delay.applies(method, after=False):
                await self._sleep(delay.seconds)
        try:
            try:
                result = await self._dispatch(method, token, params)
            except (KeyError, ValueError, TypeError) as error:  # a malformed parameter
                raise ApiError(400, f"Bad Request: {type(error).__name__}: {error}") from error
        except _Reset:
            self._record(method, params, 0)
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError from None
        except ApiError as error:
            self._record(method, params, error.status)
            return self._error_response(error)
        self._record(method, params, 200)
        for delay in self._delays:
            if delay.applies(method, after=True):
                await self._sleep(delay.seconds)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        for file in self._files.values():
            if file["file_path"] == path:
                return web.Response(body=file["content"], content_type=file["mime_type"])
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    async def _read_params(self, request: web.Request) -> JSON:
        params: JSON = {name: _decode_value(name, value) for name, value in request.query.items()}
        if not request.body_exists:
            return params
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                return params
            if isinstance(body, dict):
                for name, value in body.items():
                    if name in JSON_FIELDS and isinstance(value, str):
                        value = _decode_value(name, value)
                    params[name] = value
            return params
        form = await request.post()
        uploads: JSON = {}
        for name, value in form.items():
            if isinstance(value, web.FileField):
                data = value.file.read()
                uploads[name] = self._register_file(
                    data, value.filename, _sniff(data, value.content_type)
                )
            else:
                params[name] = _decode_value(name, str(value))
        for name, file in uploads.items():
            # A file sent as a parameter itself, or referenced as attach://name from media.
            params[name] = {
                "upload": file["file_name"],
                "size": file["file_size"],
                "file_id": file["file_id"],
            }
        return params

    async def _dispatch(self, method: str, token: str, params: JSON) -> Any:
        self._refuse_if_paused(method, params)
        self._faults = [fault for fault in self._faults if fault.remaining != 0]
        for fault in self._faults:
            if fault.applies(method):
                if fault.status is None:
                    raise _Reset
                raise self._injected_error(fault, params)
        if method in SEND_METHODS:
            self._check_flood_limits(params)
        if "from_chat_id" in params and _chat_key(params["from_chat_id"]) in self.unknown_chats:
            raise ApiError(400, "Bad Request: chat not found")
        if "chat_id" in params:
            self._check_reachable(params["chat_id"], method)
        self._last_bot_id = self._bot_id(token)
        result = await self._handlers[method](self._last_bot_id, params)
        if method in SEND_METHODS:
            self._record_send(params)
        return result

    def _record(self, method: str, params: JSON, status: int) -> None:
        self.record(Call(method, params, self.clock(), status))

    @staticmethod
    def _error_response(error: ApiError) -> web.Response:
        body: JSON = {"ok": False, "error_code": error.status, "description": error.description}
        if error.retry_after is not None:
            body["parameters"] = {"retry_after": error.retry_after}
        return web.json_response(body, status=error.status)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            pass

    def _canonical(self, method: str) -> str:
        return self._by_lower_name.get(method.lower(), method)

    # --- limits and faults ----------------------------------------------------------------

    def _target(self, params: JSON) -> int | str | None:
        try:
            return _chat_key(params["chat_id"]) if "chat_id" in params else None
        except ApiError:
            return None

    def _too_many(self, chat: int | str | None, retry_after: int) -> ApiError:
        self.rejected_429 += 1
        if chat is not None:
            until = self.clock() + retry_after
            self._paused_until[chat] = max(self._paused_until.get(chat, 0.0), until)
        return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)

    def _refuse_if_paused(self, method: str, params: JSON) -> None:
        chat = self._target(params)
        if method not in SEND_METHODS or chat is None:
            return
        until = self._paused_until.get(chat)
        now = self.clock()
        if until is None or now >= until:
            return
        self.pause_violations.append(Call(method, params, now, 429))
        self.rejected_429 += 1
        remaining = max(1, math.ceil(until - now))
        raise ApiError(429, f"Too Many Requests: retry after {remaining}", remaining)

    def _injected_error(self, fault: _Fault, params: JSON) -> ApiError:
        if fault.status == 429:
            return self._too_many(self._target(params), fault.retry_after or 1)
        status = fault.status or 502
        return ApiError(status, fault.description or _DEFAULT_DESCRIPTIONS.get(status, "Error"))

    def _check_flood_limits(self, params: JSON) -> None:
        chat = self._target(params)
        now = self.clock()
        waits: list[int] = []
        for window in self._windows(chat):
            wait = window.retry_after(now)
            if wait is not None:
                waits.append(wait)
        if waits:
            raise self._too_many(chat, max(waits))

    def _record_send(self, params: JSON) -> None:
        now = self.clock()
        for window in self._windows(self._target(params)):
            window.record(now)

    def _windows(self, chat: int | str | None) -> list[_Window]:
        windows: list[_Window] = []
        if self.limit_overall_per_s is not None:
            if self._overall is None:
                self._overall = _Window(self.limit_overall_per_s, 1.0, self.slack)
            windows.append(self._overall)
        if chat is None:
            return windows
        if self.limit_per_chat_per_s is not None:
            windows.append(
                self._per_chat.setdefault(
                    chat, _Window(self.limit_per_chat_per_s, 1.0, self.slack)
                )
            )
        if self.limit_per_group_per_min is not None and _is_group(chat):
            windows.append(
                self._per_group.setdefault(
                    chat, _Window(self.limit_per_group_per_min, 60.0, self.slack)
                )
            )
        return windows

    def _check_reachable(self, value: object, method: str) -> None:
        chat = _chat_key(value)
        if chat in self.unknown_chats or str(chat) in self.unknown_chats:
            raise ApiError(400, "Bad Request: chat not found")
        blocked = chat in self.blocked_chats or str(chat) in self.blocked_chats
        if blocked and method not in ("getChat", "getChatMember"):
            raise ApiError(403, "Forbidden: bot was blocked by the user")

    # --- state helpers --------------------------------------------------------------------

    def _bot_id(self, token: str) -> int:
        head = token.split(":", 1)[0]
        return int(head) if head.isdigit() else DEFAULT_BOT_ID

    def _bot_user(self, bot_id: int) -> JSON:
        return {
            "id": bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _user(self, user_id: int) -> JSON:
        return copy.deepcopy(
            self._users.get(user_id)
            or {"id": user_id, "is_bot": False, "first_name": f"Người dùng {user_id}"}
        )

    def _ensure_chat(
        self,
        chat_id: int | str,
        chat_type: str | None = None,
        title: str | None = None,
        is_forum: bool = False,
        *,
        explicit: bool = False,
    ) -> JSON:
        """The stored Chat for an id or `@username`, made up on first use."""
        if isinstance(chat_id, str):
            for chat in self._chats.values():
                if chat.get("username") == chat_id[1:]:
                    return chat
            raise ApiError(400, "Bad Request: chat not found")
        known = self._chats.get(chat_id)
        if known is None:
            self.add_chat(chat_id, chat_type, title=title, is_forum=is_forum)
            if not explicit:
                self._implicit_chats.add(chat_id)
        elif (chat_type and known["type"] != chat_type) or (
            is_forum and not known.get("is_forum")
        ):
            self.add_chat(
                chat_id,
                chat_type or known["type"],
                title=title or known.get("title"),
                is_forum=is_forum or bool(known.get("is_forum")),
            )
        if explicit:
            self._implicit_chats.discard(chat_id)
        return self._chats[chat_id]

    def _ensure_topic(self, chat_id: int | str, thread_id: int) -> JSON:
        key = (chat_id, thread_id)
        if key not in self._topics:
            self._topics[key] = {
                "message_thread_id": thread_id,
                "name": f"Chủ đề {thread_id}",
                "icon_color": 7322096,
            }
        return self._topics[key]

    def _new_message(
        self,
        chat_id: int | str,
        sender: JSON,
        content: JSON,
        *,
        thread_id: int | None = None,
        reply_to: JSON | None = None,
        date: int | None = None,
        message_id: int | None = None,
    ) -> JSON:
        chat = self._ensure_chat(chat_id)
        key = chat["id"]
        if message_id is None:
            message_id = self._last_message_id.get(key, 0) + 1
        self._last_message_id[key] = max(message_id, self._last_message_id.get(key, 0))
        message: JSON = {
            "message_id": message_id,
            "from": copy.deepcopy(sender),
            "date": date if date is not None else int(time.time()),
            "chat": copy.deepcopy(chat),
        }
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            if chat.get("is_forum"):
                message["is_topic_message"] = True
                if reply_to is None:
                    # In a forum, a message in a topic "replies" to the topic's first message.
                    reply_to = self._messages.get((key, thread_id))
        if reply_to is not None:
            message["reply_to_message"] = {
                k: copy.deepcopy(v) for k, v in reply_to.items() if k != "reply_to_message"
            }
        message.update(copy.deepcopy(content))
        self._messages[(key, message["message_id"])] = message
        return copy.deepcopy(message)

    def _callback_message(self, chat_id: int, message_id: int | None, data: str) -> JSON:
        if message_id is not None and (chat_id, message_id) in self._messages:
            return self._messages[(chat_id, message_id)]
        if message_id is None:
            ours = [self._messages[k] for k in self._sent if k[0] == chat_id]
            with_keyboard = [m for m in ours if "reply_markup" in m]
            if with_keyboard or ours:
                return (with_keyboard or ours)[-1]
        markup = {"inline_keyboard": [[{"text": "…", "callback_data": data}]]}
        made = self._new_message(
            chat_id,
            self._bot_user(self._last_bot_id),
            {"text": "…", "reply_markup": markup},
            message_id=message_id,
        )
        self._sent.append((chat_id, made["message_id"]))
        return self._messages[(chat_id, made["message_id"])]

    def _register_file(self, content: bytes, name: str | None, mime_type: str) -> JSON:
        """Store a file for getFile and downloads; returns the stored record (with content)."""
        number = next(self._file_ids)
        file_id = f"FAKEFILE{number:06d}"
        folder = "photos" if mime_type.startswith("image/") else "documents"
        file = {
            "file_id": file_id,
            "file_unique_id": f"U{number:06d}",
            "file_size": len(content),
            "file_name": name or f"file_{number}",
            "mime_type": mime_type,
            "file_path": f"{folder}/file_{number}{_extension(name, mime_type)}",
            "content": content,
        }
        self._files[file_id] = file
        return file

    def _photo_sizes(self, content: bytes | None) -> list[JSON]:
        sizes = []
        for width, height in ((90, 67), (320, 240), (1280, 960)):
            data = content if content is not None else _FAKE_JPEG
            file = self._register_file(data, "photo.jpg", "image/jpeg")
            sizes.append({**_pick(file, _FILE_KEYS), "width": width, "height": height})
        return sizes

    def _media_value(self, value: object, params: JSON, kind: str) -> JSON:
        """A sent file: an upload, an `attach://name` upload, a known file_id, or a URL."""
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if isinstance(value, dict) and "file_id" in value:
            file = self._files[value["file_id"]]
        elif isinstance(value, str) and value in self._files:
            file = self._files[value]
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            mime = "image/jpeg" if kind == "photo" else "application/octet-stream"
            file = self._register_file(_FAKE_JPEG, value.rsplit("/", 1)[-1], mime)
        elif isinstance(value, str) and value:
            # An id Telegram would know from earlier; accepted as it is.
            file = {
                "file_id": value,
                "file_unique_id": f"U{value[-12:]}",
                "file_size": 0,
                "file_name": "file",
                "mime_type": "application/octet-stream",
            }
        else:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        if kind == "photo":
            return {"photo": [{**_pick(file, _FILE_KEYS), "width": 1280, "height": 960}]}
        return {kind: _pick(file, _DOCUMENT_KEYS)}

    def _reply_target(self, chat_id: int | str, params: JSON) -> JSON | None:
        reply = params.get("reply_parameters")
        message_id = params.get("reply_to_message_id")
        allow = bool(params.get("allow_sending_without_reply"))
        if isinstance(reply, dict):
            message_id = reply.get("message_id", message_id)
            allow = bool(reply.get("allow_sending_without_reply", allow))
            chat_id = _chat_key(reply["chat_id"]) if "chat_id" in reply else chat_id
        if message_id is None:
            return None
        found = self._messages.get((chat_id, int(message_id)))
        if found is None and not allow:
            raise ApiError(400, "Bad Request: message to be replied not found")
        return found

    def _thread(self, chat: JSON, params: JSON) -> int | None:
        thread_id = params.get("message_thread_id")
        if thread_id is None:
            return None
        thread_id = int(thread_id)
        if chat.get("is_forum") and (chat["id"], thread_id) not in self._topics and thread_id != 1:
            raise ApiError(400, "Bad Request: message thread not found")
        return thread_id

    def _text_content(self, params: JSON, key: str, limit: int) -> JSON:
        raw = params.get(key)
        if raw is None:
            if key == "text":
                raise ApiError(400, "Bad Request: message text is empty")
            return {}
        shown = _render(str(raw), params.get("parse_mode"))
        if key == "text" and not shown.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(shown) > limit:
            what = "message is too long" if key == "text" else "message caption is too long"
            raise ApiError(400, f"Bad Request: {what}")
        content: JSON = {key: shown}
        entities = params.get("entities" if key == "text" else "caption_entities")
        if entities:
            content["entities" if key == "text" else "caption_entities"] = entities
        return content

    def _send(self, bot_id: int, params: JSON, content: JSON) -> JSON:
        chat_id = _chat_key(params.get("chat_id", ""))
        chat = self._ensure_chat(chat_id)
        markup = params.get("reply_markup")
        _check_markup(markup)
        echoed = _inline_markup(markup)
        if echoed is not None:
            content = {**content, "reply_markup": echoed}
        thread_id = self._thread(chat, params)
        reply_to = self._reply_target(chat["id"], params)
        message = self._new_message(
            chat["id"], self._bot_user(bot_id), content, thread_id=thread_id, reply_to=reply_to
        )
        self._sent.append((chat["id"], message["message_id"]))
        return message

    def _stored(self, params: JSON, missing: str) -> JSON:
        if "inline_message_id" in params:
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._ensure_chat(_chat_key(params.get("chat_id", "")))
        message = self._messages.get((chat["id"], int(params.get("message_id", 0))))
        if message is None:
            raise ApiError(400, f"Bad Request: {missing}")
        return message

    # --- API methods ----------------------------------------------------------------------

    async def _api_getMe(self, bot_id: int, params: JSON) -> JSON:
        return {
            **self._bot_user(bot_id),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

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

    async def _api_sendMessage(self, bot_id: int, params: JSON) -> JSON:
        return self._send(bot_id, params, self._text_content(params, "text", TEXT_LIMIT))

    async def _api_sendPhoto(self, bot_id: int, params: JSON) -> JSON:
        content = self._media_value(params.get("photo"), params, "photo")
        content.update(self._text_content(params, "caption", CAPTION_LIMIT))
        return self._send(bot_id, params, content)

    async def _api_sendDocument(self, bot_id: int, params: JSON) -> JSON:
        content = self._media_value(params.get("document"), params, "document")
        content.update(self._text_content(params, "caption", CAPTION_LIMIT))
        return self._send(bot_id, params, content)

    async def _api_sendMediaGroup(self, bot_id: int, params: JSON) -> list[JSON]:
        media = params.get("media")
        if not isinstance(media, list) or not media:
            raise ApiError(400, 'Bad Request: parameter "media" is required')
        group_id = f"{next(self._media_groups):013d}"
        contents = []
        for item in media:
            kind = item.get("type", "photo") if isinstance(item, dict) else "photo"
            kind = kind if kind in ("photo", "document") else "document"
            content = self._media_value(item.get("media"), params, kind)
            content.update(self._text_content(item, "caption", CAPTION_LIMIT))
            content["media_group_id"] = group_id
            contents.append(content)
        without_markup = {k: v for k, v in params.items() if k != "reply_markup"}
        return [self._send(bot_id, without_markup, content) for content in contents]

    async def _api_copyMessage(self, bot_id: int, params: JSON) -> JSON:
        original = self._source(params, "message to copy not found")
        content = {k: copy.deepcopy(v) for k, v in original.items() if k in _CONTENT_KEYS}
        if "caption" in params and any(k in content for k in ("photo", "document")):
            content.update(self._text_content(params, "caption", CAPTION_LIMIT))
        message = self._send(bot_id, params, content)
        return {"message_id": message["message_id"]}

    async def _api_forwardMessage(self, bot_id: int, params: JSON) -> JSON:
        original = self._source(params, "message to forward not found")
        content = {k: copy.deepcopy(v) for k, v in original.items() if k in _CONTENT_KEYS}
        sender = original.get("from")
        if sender is not None:
            content["forward_origin"] = {
                "type": "user",
                "sender_user": sender,
                "date": original["date"],
            }
        else:
            content["forward_origin"] = {
                "type": "hidden_user",
                "sender_user_name": "Ẩn danh",
                "date": original["date"],
            }
        return self._send(
            bot_id, {k: v for k, v in params.items() if k != "reply_markup"}, content
        )

    def _source(self, params: JSON, missing: str) -> JSON:
        from_chat = _chat_key(params.get("from_chat_id", ""))
        original = self._messages.get((from_chat, int(params.get("message_id", 0))))
        if original is None:
            raise ApiError(400, f"Bad Request: {missing}")
        return original

    async def _api_editMessageText(self, bot_id: int, params: JSON) -> JSON:
        message = self._stored(params, "message to edit not found")
        if not message.get("from", {}).get("is_bot") or "text" not in message:
            raise ApiError(400, "Bad Request: message can't be edited")
        text = self._text_content(params, "text", TEXT_LIMIT)["text"]
        markup = params.get("reply_markup")
        _check_markup(markup)
        echoed = _inline_markup(markup)
        if text == message["text"] and echoed == message.get("reply_markup"):
            raise ApiError(400, _MESSAGE_NOT_MODIFIED)
        message["text"] = text
        self._set_markup(message, echoed)
        return copy.deepcopy(message)

    async def _api_editMessageReplyMarkup(self, bot_id: int, params: JSON) -> JSON:
        message = self._stored(params, "message to edit not found")
        if not message.get("from", {}).get("is_bot"):
            raise ApiError(400, "Bad Request: message can't be edited")
        markup = params.get("reply_markup")
        _check_markup(markup)
        echoed = _inline_markup(markup)
        if echoed == message.get("reply_markup"):
            raise ApiError(400, _MESSAGE_NOT_MODIFIED)
        self._set_markup(message, echoed)
        return copy.deepcopy(message)

    @staticmethod
    def _set_markup(message: JSON, markup: JSON | None) -> None:
        message["edit_date"] = int(time.time())
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup

    async def _api_answerCallbackQuery(self, bot_id: int, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if self._callbacks.get(query_id) is not False:
            raise ApiError(400, _QUERY_TOO_OLD)
        if len(str(params.get("text", ""))) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._callbacks[query_id] = True
        return True

    async def _api_createForumTopic(self, bot_id: int, params: JSON) -> JSON:
        chat = self._ensure_chat(_chat_key(params.get("chat_id", "")))
        if chat["type"] == "supergroup" and chat["id"] in self._implicit_chats:
            chat["is_forum"] = True  # a supergroup nobody described is taken to be a forum
        if not chat.get("is_forum"):
            raise ApiError(400, "Bad Request: the chat is not a forum")
        name = str(params.get("name") or "")
        if not 1 <= len(name) <= 128:
            raise ApiError(400, "Bad Request: TOPIC_NAME_INVALID")
        topic: JSON = {"name": name, "icon_color": int(params.get("icon_color") or 7322096)}
        if params.get("icon_custom_emoji_id"):
            topic["icon_custom_emoji_id"] = params["icon_custom_emoji_id"]
        service = self._new_message(
            chat["id"], self._bot_user(bot_id), {"forum_topic_created": dict(topic)}
        )
        thread_id = service["message_id"]
        stored = self._messages[(chat["id"], thread_id)]
        stored["message_thread_id"] = thread_id
        stored["is_topic_message"] = True
        self._topics[(chat["id"], thread_id)] = {"message_thread_id": thread_id, **topic}
        return copy.deepcopy(self._topics[(chat["id"], thread_id)])

    async def _api_getChat(self, bot_id: int, params: JSON) -> JSON:
        chat = self._ensure_chat(_chat_key(params.get("chat_id", "")))
        gifts = dict.fromkeys(
            (
                "unlimited_gifts",
                "limited_gifts",
                "unique_gifts",
                "premium_subscription",
                "gifts_from_channels",
            ),
            False,
        )
        return {
            **copy.deepcopy(chat),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gifts,
        }

    def _member(self, chat_id: int | str, user_id: int, bot_id: int) -> JSON:
        if user_id == bot_id:
            if not _is_group(chat_id):
                return {"status": "member", "user": self._bot_user(bot_id)}
            rights = dict.fromkeys(
                (
                    "can_manage_chat",
                    "can_delete_messages",
                    "can_manage_video_chats",
                    "can_restrict_members",
                    "can_change_info",
                    "can_invite_users",
                    "can_post_stories",
                    "can_edit_stories",
                    "can_delete_stories",
                    "can_pin_messages",
                    "can_manage_topics",
                ),
                True,
            )
            return {
                "status": "administrator",
                "user": self._bot_user(bot_id),
                "can_be_edited": False,
                "is_anonymous": False,
                "can_promote_members": False,
                **rights,
            }
        status = self.members.get((chat_id, user_id), "member")
        member: JSON = {"status": status, "user": self._user(user_id)}
        if status in ("creator", "administrator"):
            member["is_anonymous"] = False
        if status == "administrator":
            member.update(
                dict.fromkeys(
                    (
                        "can_be_edited",
                        "can_manage_chat",
                        "can_delete_messages",
                        "can_manage_video_chats",
                        "can_restrict_members",
                        "can_promote_members",
                        "can_change_info",
                        "can_invite_users",
                        "can_post_stories",
                        "can_edit_stories",
                        "can_delete_stories",
                        "can_manage_topics",
                    ),
                    False,
                )
            )
            member["can_manage_chat"] = True
        if status == "kicked":
            member["until_date"] = 0
        return member

    async def _api_getChatMember(self, bot_id: int, params: JSON) -> JSON:
        chat = self._ensure_chat(_chat_key(params.get("chat_id", "")))
        return self._member(chat["id"], int(params.get("user_id", 0)), bot_id)

    async def _api_getChatAdministrators(self, bot_id: int, params: JSON) -> list[JSON]:
        chat = self._ensure_chat(_chat_key(params.get("chat_id", "")))
        if not _is_group(chat["id"]):
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        admins = [
            self._member(chat["id"], user_id, bot_id)
            for (chat_id, user_id), status in self.members.items()
            if chat_id == chat["id"] and status in ("creator", "administrator")
        ]
        return [*admins, self._member(chat["id"], bot_id, bot_id)]

    async def _api_getFile(self, bot_id: int, params: JSON) -> JSON:
        file = self._files.get(str(params.get("file_id", "")))
        if file is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {k: file[k] for k in ("file_id", "file_unique_id", "file_size", "file_path")}

    async def _api_setMyCommands(self, bot_id: int, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        self.commands[self._commands_key(params)] = commands
        return True

    async def _api_deleteMyCommands(self, bot_id: int, params: JSON) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _api_getMyCommands(self, bot_id: int, params: JSON) -> list[JSON]:
        return copy.deepcopy(self.commands.get(self._commands_key(params), []))

    @staticmethod
    def _commands_key(params: JSON) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def _api_sendChatAction(self, bot_id: int, params: JSON) -> bool:
        self._ensure_chat(_chat_key(params.get("chat_id", "")))
        if not params.get("action"):
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _api_close(self, bot_id: int, params: JSON) -> bool:
        return True

    async def _api_logOut(self, bot_id: int, params: JSON) -> bool:
        return True


_CONTENT_KEYS = frozenset(
    {
        "text",
        "entities",
        "caption",
        "caption_entities",
        "photo",
        "document",
        "sticker",
        "location",
        "contact",
        "voice",
        "video",
        "audio",
    }
)


_FILE_KEYS = ("file_id", "file_unique_id", "file_size")
_DOCUMENT_KEYS = (*_FILE_KEYS, "file_name", "mime_type")


def _pick(record: JSON, keys: Iterable[str]) -> JSON:
    return {key: record[key] for key in keys}


def _extension(name: str | None, mime_type: str) -> str:
    suffix = name.rsplit(".", 1)[-1] if name and "." in name else ""
    if suffix.isalnum() and len(suffix) <= 5:
        return "." + suffix.lower()
    return {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}.get(
        mime_type, ".pdf" if mime_type == "application/pdf" else ""
    )


def _sniff(data: bytes, declared: str | None) -> str:
    """The MIME type of an upload, from its first bytes where PTB only says octet-stream."""
    if declared and declared != "application/octet-stream":
        return declared
    for magic, mime_type in _MAGIC:
        if data.startswith(magic):
            return mime_type
    return "application/octet-stream"


_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG", "image/png"),
    (b"%PDF", "application/pdf"),
    (b"RIFF", "image/webp"),
)
