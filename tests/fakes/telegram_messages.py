"""The Telegram fake's messages: sends, media and files, copies and forwards, edits and callback
answers."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable

from aiohttp import web

from tests.fakes.telegram_common import (
    _MESSAGE_NOT_MODIFIED,
    _QUERY_TOO_OLD,
    CAPTION_LIMIT,
    JSON,
    TEXT_LIMIT,
    ApiError,
    _chat_key,
)
from tests.fakes.telegram_format import _check_markup, _inline_markup, _render

_FAKE_JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + bytes(200)
    + b"\xff\xd9"
)


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


class MessagesApi:
    """Messages out: sends, media and files, copies and forwards, edits, callback answers. A part
    of `FakeTelegram` (tests/fakes/telegram_api.py), whose state it uses."""

    def sent_messages(self, chat_id: int | str | None = None) -> list[JSON]:
        """Messages the bot sent (in order, edits applied), optionally only to one chat; `text`
        and `caption` are what the user sees (HTML/Markdown rendered)."""
        wanted = None if chat_id is None else _chat_key(chat_id)
        return [
            copy.deepcopy(self._messages[key])
            for key in self._sent
            if wanted is None or key[0] == wanted
        ]

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        for file in self._files.values():
            if file["file_path"] == path:
                return web.Response(body=file["content"], content_type=file["mime_type"])
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

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

    async def _api_getFile(self, bot_id: int, params: JSON) -> JSON:
        file = self._files.get(str(params.get("file_id", "")))
        if file is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {k: file[k] for k in ("file_id", "file_unique_id", "file_size", "file_path")}
