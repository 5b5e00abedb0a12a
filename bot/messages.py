"""The channel-neutral message model: what every channel parses into and renders from.

Handlers see only these types. A channel turns a platform update into an `Incoming` and an
`Outgoing` into platform calls, within that platform's limits.
"""

from __future__ import annotations

import base64
import unicodedata
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from bot.staffscope import Scope


class Channel(StrEnum):
    TELEGRAM = "telegram"
    ZALO_OA = "zalo_oa"
    ZALO_BOT = "zalo_bot"
    WEB = "web"
    CONSOLE = "console"


@dataclass(frozen=True)
class ChatRef:
    """Where a message goes: a chat on a channel (and, in forum groups, a topic)."""

    channel: str
    chat_id: str
    thread_id: str | None = None


@dataclass(frozen=True)
class Button:
    """A choice. `action` is sent back when pressed; `url` opens a link instead."""

    label: str
    action: str | None = None
    url: str | None = None


AttachmentKind = Literal["photo", "file", "location", "sticker", "voice", "video", "other"]


@dataclass(frozen=True)
class Attachment:
    kind: AttachmentKind
    file_id: str | None = None
    url: str | None = None
    name: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    data: bytes | None = None
    """The file's bytes when it is made here (a chart); channels upload them."""


ATTACHMENT_KINDS = frozenset(get_args(AttachmentKind))


def _attachment(raw: object) -> Attachment | None:
    """An attachment from its JSON form (bytes travel as base64 in outbox payloads);
    ValueError when it is not one."""
    if not raw:
        return None
    if not isinstance(raw, dict):
        raise ValueError(f"an attachment is {type(raw).__name__}, not an object")
    unknown = set(raw) - ATTACHMENT_FIELDS
    if unknown:
        raise ValueError(f"unknown attachment keys {sorted(unknown)[:5]}")
    if raw.get("kind") not in ATTACHMENT_KINDS:
        raise ValueError("an attachment without a known kind")
    for key in ("file_id", "url", "name"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ValueError(f"attachment {key} is not a string")
    if raw.get("data") is not None:
        if not isinstance(raw["data"], str):
            raise ValueError("attachment data is not base64 text")
        raw = {**raw, "data": base64.b64decode(raw["data"], validate=True)}  # binascii.Error
    return Attachment(**raw)


def clean_text(text: str | None) -> str:
    """NFC-normalise and trim what a citizen typed; drop control characters except newlines."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return text.strip()


@dataclass
class Incoming:
    """One thing a person did: typed text, pressed a button, or sent a photo/file/location."""

    channel: str
    chat_id: str
    user_id: str
    update_key: str
    """Unique per platform delivery, e.g. ``telegram:812345``; duplicates are dropped."""
    text: str = ""
    action: str | None = None
    display_name: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    message_id: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    is_staff_chat: bool = False
    thread_id: str | None = None
    reply_to: str | None = None
    is_group: bool = False
    origin: str | None = None
    """Where the message came from beyond the chat: the web chat's client address (the
    trusted proxy's `X-Forwarded-For` resolved); None on messengers."""
    unlocked: bool = False
    """Set by a handler when this message proved ownership of something (a dossier's
    digits); the web chat then rotates the visitor's session cookie."""
    staff_scope: Scope | None = None
    """The communes a staff message speaks for, when its maker knows them (the web desk's
    account, `motcua tickets --commune/--as`); else bot/staffscope.py derives it."""

    def __post_init__(self) -> None:
        self.text = clean_text(self.text)

    @property
    def chat(self) -> ChatRef:
        return ChatRef(self.channel, self.chat_id, self.thread_id)

    @property
    def command(self) -> tuple[str, str] | None:
        """`("start", "rest of line")` for "/start rest" (also "/start@bot"), else None."""
        if not self.text.startswith("/"):
            return None
        head, _, rest = self.text[1:].partition(" ")
        name = head.split("@", 1)[0].lower()
        return (name, rest.strip()) if name else None


FILE_CHANNELS = frozenset({"telegram", "zalo_oa"})
"""Channels that deliver a file made here (`Outgoing.document` with its bytes, a printable
letter); the others show the text alone."""


@dataclass
class Outgoing:
    """One message to send: text, optional rows of buttons, optional photo or document."""

    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    photo: Attachment | None = None
    document: Attachment | None = None
    reply_to: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """As `dataclasses.asdict` gives it (bytes as base64), built directly: every reply
        is written into the outbox, and `asdict`'s deep copy was a good part of that."""
        return {"text": self.text,
                "buttons": [[_flat(button) for button in row] for row in self.buttons],
                "photo": _attachment_dict(self.photo),
                "document": _attachment_dict(self.document),
                "reply_to": self.reply_to}

    @classmethod
    def from_dict(cls, data: object) -> Outgoing:
        """The inverse of `to_dict`. ValueError for anything that is not its output (an
        outbox payload damaged or written by hand), so a sender can fail that one row."""
        if not isinstance(data, dict):
            raise ValueError(f"a message is {type(data).__name__}, not an object")
        unknown = set(data) - OUTGOING_FIELDS
        if unknown:
            raise ValueError(f"unknown message keys {sorted(unknown)[:5]}")
        text = data.get("text", "")
        reply_to = data.get("reply_to")
        if not isinstance(text, str) or not (reply_to is None or isinstance(reply_to, str)):
            raise ValueError("text or reply_to is not a string")
        rows = data.get("buttons") or []
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise ValueError("buttons are not rows")
        return cls(
            text=text,
            buttons=[[_button(b) for b in row] for row in rows],
            photo=_attachment(data.get("photo")),
            document=_attachment(data.get("document")),
            reply_to=reply_to,
        )

    def flat_buttons(self) -> list[Button]:
        return [b for row in self.buttons for b in row]


OUTGOING_FIELDS = frozenset(f.name for f in fields(Outgoing))
ATTACHMENT_FIELDS = frozenset(f.name for f in fields(Attachment))


def _flat(value: Button | Attachment) -> dict[str, Any]:
    """The fields of a flat dataclass (no nested ones) as a dict, in their order."""
    return {name: getattr(value, name) for name in _FIELD_NAMES[type(value)]}


_FIELD_NAMES = {kind: tuple(f.name for f in fields(kind)) for kind in (Button, Attachment)}


def _attachment_dict(attachment: Attachment | None) -> dict[str, Any] | None:
    if attachment is None:
        return None
    data = _flat(attachment)
    if isinstance(data["data"], bytes):
        data["data"] = base64.b64encode(data["data"]).decode()
    return data


def _button(raw: object) -> Button:
    if not isinstance(raw, dict) or set(raw) - {"label", "action", "url"}:
        raise ValueError("a button is not an object of label, action and url")
    if not isinstance(raw.get("label"), str) or not all(
            raw.get(key) is None or isinstance(raw[key], str) for key in ("action", "url")):
        raise ValueError("a button's label, action or url is not a string")
    return Button(**raw)


def split_text(text: str, limit: int) -> list[str]:
    """Split `text` into chunks of at most `limit` characters, on paragraph, line, sentence
    or word boundaries when possible."""
    text = unicodedata.normalize("NFC", text)
    if len(text) <= limit:
        return [text]
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for sep in ("\n\n", "\n", ". ", " "):
            pos = window.rfind(sep)
            if pos > limit // 3:
                cut = pos + len(sep)
                break
        if cut <= 0:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks
