"""The Telegram fake's vocabulary: its constants, the call log entry, webhook state, API errors
and small helpers every area uses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NamedTuple

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
