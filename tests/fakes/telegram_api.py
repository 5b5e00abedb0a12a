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

This module is the server (routes, dispatch, the call log); each API area is a part of its own:
telegram_updates.py (updates in, polling, webhooks), telegram_messages.py (sends, media, edits),
telegram_chats.py (chats, members, topics, commands), telegram_limits.py (faults, flood limits),
telegram_format.py (HTML/Markdown), telegram_common.py (constants, errors, helpers).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tests.fakes.server import FakeServer
from tests.fakes.telegram_chats import ChatsApi
from tests.fakes.telegram_common import (
    DEFAULT_ALLOWED_UPDATES,
    DEFAULT_BOT_ID,
    FIRST_UPDATE_ID,
    JSON,
    JSON_FIELDS,
    SEND_METHODS,
    ApiError,
    Call,
    WebhookState,
    _chat_key,
    _decode_value,
    _Reset,
)
from tests.fakes.telegram_limits import FaultsAndLimits, _Delay, _Fault, _Window
from tests.fakes.telegram_messages import MessagesApi, _sniff
from tests.fakes.telegram_updates import UpdatesApi


class FakeTelegram(FakeServer[Call], UpdatesApi, MessagesApi, ChatsApi, FaultsAndLimits):
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

    def calls_to(self, method: str, *, ok: bool | None = None) -> list[Call]:
        """Recorded calls of one method; `ok=True` only successful ones."""
        return [c for c in self.calls if c.method == method and (ok is None or c.ok == ok)]

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

    def _canonical(self, method: str) -> str:
        return self._by_lower_name.get(method.lower(), method)

    # --- who may be reached ---------------------------------------------------------------

    def _target(self, params: JSON) -> int | str | None:
        try:
            return _chat_key(params["chat_id"]) if "chat_id" in params else None
        except ApiError:
            return None

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
