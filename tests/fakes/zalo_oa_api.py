"""A fake Zalo Official Account platform on 127.0.0.1: the OA Open API, OAuth v4 and ZNS on
one server (PLATFORMS.md §2), plus correctly signed webhook events to send to the bot.

    async with FakeZaloOA() as fake:
        settings = Settings(**fake.settings(), …)        # app id, secrets, refresh token, hosts
        status = await fake.deliver(webhook_url, fake.user_text("u1", "/start"))
        await fake.wait_for("cs")
        fake.sent_to("u1")[-1]["text"]

What it does like Zalo (sources in PLATFORMS.md; guesses say so):
- `POST /v4/oa/access_token` (form: app_id, grant_type=refresh_token, refresh_token; header
  `secret_key` = the app secret) returns `{access_token, refresh_token, expires_in}` with
  `expires_in` a string; every refresh token works ONCE (a reused one gets an error).
- Every API call needs header `access_token`: unknown → -216, expired → -220.
- `POST /v3.0/oa/message/cs`: `recipient.user_id` or `recipient.message_id` (a reply, ≤ 8
  per citizen message within 48 h); text ≤ 2,000; buttons ≤ 5 with titles ≤ 100 and query
  payloads ≤ 1,000; -230 when the citizen's last interaction is older than 7 days (users the
  fake saw only); `data.quota.quota_type` "reply" for replies.
- `POST /v2.0/oa/upload/image` → `attachment_id`; `/upload/file` → `token` (multipart `file`).
- `GET /v3.0/oa/user/detail?data={"user_id"}`, `POST /v3.0/oa/quota/message`.
- ZNS `POST /message/template` `{phone, template_id, template_data, tracking_id, mode?}`.
- Webhook events signed `mac=` + sha256(app_id + body + timestamp + OA secret key).
Error injection (`fail_next`) and a call log (`calls`). Error wording is a guess.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import aiohttp
from aiohttp import web

from tests.fakes.server import FakeServer

JSON = dict[str, Any]
TEXT_LIMIT = 2000
REPLY_WINDOW_MS = 48 * 3600 * 1000
CS_WINDOW_MS = 7 * 24 * 3600 * 1000


class Call(NamedTuple):
    kind: str  # "oauth", "cs", "upload_image", "upload_file", "user_detail", "quota", "zns"
    body: Any
    access_token: str | None
    error: int
    at: float


@dataclass
class _Fault:
    kind: str | None
    count: int
    error: int
    message: str


@dataclass
class FakeUser:
    user_id: str
    display_name: str = "Nguyễn Văn An"
    phone: str | None = None
    follower: bool = True
    last_interaction_ms: int | None = None
    msg_ids: dict[str, int] = field(default_factory=dict)  # msg_id -> time (ms)
    replies: dict[str, int] = field(default_factory=dict)  # msg_id -> replies sent


def sign(body: bytes, app_id: str, timestamp: str, secret_key: str) -> str:
    return "mac=" + hashlib.sha256(app_id.encode() + body + timestamp.encode()
                                   + secret_key.encode()).hexdigest()


class FakeZaloOA(FakeServer[Call]):
    def __init__(self, *, app_id: str = "4318226711234567890", app_secret: str = "AppSecret123",
                 secret_key: str = "OASecretKey-abcdef", expires_in: int = 90000,
                 refresh_delay: float = 0.0, clock: Callable[[], float] = time.time,
                 host: str = "127.0.0.1") -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.secret_key = secret_key
        self.expires_in = expires_in
        self.refresh_delay = refresh_delay
        self.clock = clock
        super().__init__(host)
        self.oa_id = "2591166787654321"
        self.users: dict[str, FakeUser] = {}
        self.refresh_token = "RT-" + secrets.token_hex(8)
        self.used_refresh_tokens: set[str] = set()
        self.access_tokens: dict[str, float] = {}  # token -> expires at (clock seconds)
        self.uploads: dict[str, JSON] = {}
        self.files: dict[str, bytes] = {}
        self._faults: list[_Fault] = []
        self._sent: list[tuple[str, JSON]] = []
        self._msg_ids = itertools.count(1)

    # -- lifecycle ----------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v4/oa/access_token", self._oauth)
        app.router.add_post("/v3.0/oa/message/cs", self._api("cs", self._cs))
        app.router.add_post("/v2.0/oa/upload/image", self._api("upload_image", self._upload))
        app.router.add_post("/v2.0/oa/upload/file", self._api("upload_file", self._upload))
        app.router.add_get("/v3.0/oa/user/detail", self._api("user_detail", self._user_detail))
        app.router.add_post("/v3.0/oa/quota/message", self._api("quota", self._quota))
        app.router.add_post("/message/template", self._api("zns", self._zns))
        app.router.add_get("/files/{name}", self._file)

    def name_of(self, call: Call) -> str:
        return call.kind

    def matches(self, call: Call, name: str) -> bool:
        return call.kind == name and call.error == 0

    def settings(self) -> JSON:
        """The ZALO_OA_* settings that point the bot at this fake."""
        return {"zalo_oa_app_id": self.app_id, "zalo_oa_app_secret": self.app_secret,
                "zalo_oa_secret_key": self.secret_key, "zalo_oa_refresh_token": self.refresh_token,
                "zalo_oa_api_base_url": self.url, "zalo_oa_oauth_base_url": self.url,
                "zalo_zns_api_base_url": self.url}

    # -- events (what Zalo posts to the webhook) ------------------------------------------------

    def user(self, user_id: str, **fields: Any) -> FakeUser:
        user = self.users.get(user_id) or FakeUser(user_id)
        for name, value in fields.items():
            setattr(user, name, value)
        self.users[user_id] = user
        return user

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def event(self, event_name: str, user_id: str, message: JSON | None = None, *,
              timestamp: int | None = None) -> JSON:
        """A `user_*` event from a citizen (it counts as their interaction)."""
        stamp = timestamp if timestamp is not None else self._now_ms()
        user = self.user(user_id)
        user.last_interaction_ms = stamp
        body: JSON = {"app_id": self.app_id, "user_id_by_app": f"app-{user_id}",
                      "event_name": event_name, "timestamp": str(stamp),
                      "sender": {"id": user_id}, "recipient": {"id": self.oa_id}}
        if message is not None:
            msg_id = message.setdefault("msg_id", f"msg{next(self._msg_ids):010d}"
                                        f"{secrets.token_hex(4)}")
            user.msg_ids[msg_id] = stamp
            body["message"] = message
        return body

    def user_text(self, user_id: str, text: str, **kw: Any) -> JSON:
        return self.event("user_send_text", user_id, {"text": text}, **kw)

    def press(self, user_id: str, payload: str) -> JSON:
        """A tapped `oa.query.hide` button: its payload arrives as the citizen's text."""
        return self.user_text(user_id, payload)

    def user_image(self, user_id: str, url: str = "https://photo-talk.zadn.vn/fake/anh1.jpg",
                   text: str = "") -> JSON:
        return self.event("user_send_image", user_id, {"text": text, "attachments": [
            {"type": "image", "payload": {"url": url, "thumbnail": url}}]})

    def user_location(self, user_id: str, latitude: float, longitude: float) -> JSON:
        return self.event("user_send_location", user_id, {"attachments": [
            {"type": "location", "payload": {"coordinates": {
                "latitude": str(latitude), "longitude": str(longitude)}}}]})

    def user_file(self, user_id: str, name: str = "don.pdf",
                  url: str = "https://f1.zdn.vn/fake/don.pdf") -> JSON:
        return self.event("user_send_file", user_id, {"attachments": [
            {"type": "file", "payload": {"url": url, "name": name, "size": "1024",
                                         "type": "pdf"}}]})

    def follow(self, user_id: str, event_name: str = "follow") -> JSON:
        stamp = self._now_ms()
        self.user(user_id, follower=event_name == "follow", last_interaction_ms=stamp)
        return {"app_id": self.app_id, "oa_id": self.oa_id, "event_name": event_name,
                "timestamp": str(stamp), "follower": {"id": user_id},
                "user_id_by_app": f"app-{user_id}"}

    def echo(self, user_id: str, text: str) -> JSON:
        """`oa_send_text`: Zalo tells the OA about its own message (to be ignored)."""
        return {"app_id": self.app_id, "event_name": "oa_send_text",
                "timestamp": str(self._now_ms()), "sender": {"id": self.oa_id},
                "recipient": {"id": user_id},
                "message": {"msg_id": f"oa{secrets.token_hex(6)}", "text": text}}

    def signed(self, event: JSON, *, secret_key: str | None = None) -> tuple[bytes, JSON]:
        """The body as Zalo would send it and its headers (signature over the exact bytes)."""
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        signature = sign(body, str(event.get("app_id", "")), str(event.get("timestamp", "")),
                         secret_key or self.secret_key)
        return body, {"X-ZEvent-Signature": signature, "Content-Type": "application/json"}

    async def deliver(self, url: str, event: JSON, *,
                      http: aiohttp.ClientSession | None = None) -> int:
        """POST a correctly signed event to the webhook; returns the HTTP status."""
        body, headers = self.signed(event)
        return await post(url, body, headers, http)

    # -- inspection -----------------------------------------------------------------------------

    def sent_to(self, user_id: str | None = None) -> list[JSON]:
        """Messages the OA sent (the API `message` objects, plus `recipient`), in order."""
        return [dict(m) for user, m in self._sent if user_id is None or user == user_id]

    def texts_to(self, user_id: str) -> list[str]:
        return [m["text"] for m in self.sent_to(user_id) if m.get("text")]

    def calls_to(self, kind: str, *, ok: bool | None = None) -> list[Call]:
        return [c for c in self.calls if c.kind == kind
                and (ok is None or (c.error == 0) == ok)]

    def fail_next(self, kind: str = "*", error: int = -32, count: int = 1,
                  message: str = "injected error") -> None:
        """The next `count` API calls of `kind` ("cs", "zns", "oauth"…, "*" any) fail."""
        self._faults.append(_Fault(None if kind == "*" else kind, count, error, message))

    def expire_access_tokens(self) -> None:
        """Every access token handed out so far is now expired (-220)."""
        for token in self.access_tokens:
            self.access_tokens[token] = 0.0

    def add_file(self, name: str, content: bytes) -> str:
        """Serve a file at `/files/{name}` (a public URL the bot may download)."""
        self.files[name] = content
        return f"{self.url}/files/{name}"

    # -- OAuth ----------------------------------------------------------------------------------

    def _record(self, kind: str, body: Any, token: str | None, error: int) -> None:
        self.record(Call(kind, body, token, error, time.monotonic()))

    def _fault(self, kind: str) -> _Fault | None:
        for fault in self._faults:
            if fault.count > 0 and fault.kind in (None, kind):
                fault.count -= 1
                return fault
        return None

    async def _oauth(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        if self.refresh_delay:
            await asyncio.sleep(self.refresh_delay)
        fault = self._fault("oauth")
        if fault is not None:
            self._record("oauth", form, None, fault.error)
            return web.json_response({"error": fault.error, "error_name": "Injected",
                                      "error_description": fault.message})
        error = 0
        description = ""
        if request.headers.get("secret_key") != self.app_secret:
            error, description = -14012, "Invalid app secret"
        elif form.get("app_id") != self.app_id:
            error, description = -14001, "Invalid app id"
        elif form.get("grant_type") != "refresh_token":
            error, description = -14005, "Invalid grant type"
        elif form.get("refresh_token") in self.used_refresh_tokens:
            error, description = -14014, "Refresh token has been used"
        elif form.get("refresh_token") != self.refresh_token:
            error, description = -14014, "Invalid refresh token"
        self._record("oauth", form, None, error)
        if error:
            return web.json_response({"error": error, "error_name": "Invalid",
                                      "error_description": description})
        self.used_refresh_tokens.add(self.refresh_token)
        self.refresh_token = "RT-" + secrets.token_hex(8)
        access = "AT-" + secrets.token_hex(12)
        self.access_tokens[access] = self.clock() + self.expires_in
        return web.json_response({"access_token": access, "refresh_token": self.refresh_token,
                                  "expires_in": str(self.expires_in)})

    # -- the API --------------------------------------------------------------------------------

    def _api(self, kind: str, handler: Callable[[Any], Any]) -> Any:
        async def route(request: web.Request) -> web.Response:
            token = request.headers.get("access_token")
            if kind in ("upload_image", "upload_file"):
                body: Any = await request.post()
            elif request.method == "GET":
                body = dict(request.query)
            else:
                try:
                    body = await request.json()
                except ValueError:
                    body = None
            expires = self.access_tokens.get(token or "")
            error, message = 0, "Success"
            fault = self._fault(kind)
            if expires is None:
                error, message = -216, "Access token is invalid"
            elif expires < self.clock():
                error, message = -220, "Access token has expired"
            elif fault is not None:
                error, message = fault.error, fault.message
            data: Any = None
            if not error:
                try:
                    data = handler(body)
                except _ApiError as failure:
                    error, message = failure.code, failure.message
            shown = {k: (v.filename if hasattr(v, "filename") else v)
                     for k, v in body.items()} if kind.startswith("upload") else body
            self._record(kind, shown, token, error)
            answer: JSON = {"error": error, "message": message}
            if data is not None:
                answer["data"] = data
            return web.json_response(answer)

        return route

    def _cs(self, body: Any) -> JSON:
        if not isinstance(body, dict):
            raise _ApiError(-201, "body must be JSON")
        recipient, message = body.get("recipient") or {}, body.get("message") or {}
        now = self._now_ms()
        quota = None
        if "message_id" in recipient:
            owner = next((u for u in self.users.values()
                          if recipient["message_id"] in u.msg_ids), None)
            if owner is None:
                raise _ApiError(-201, "message_id is invalid")
            at = owner.msg_ids[recipient["message_id"]]
            used = owner.replies.get(recipient["message_id"], 0)
            if now - at > REPLY_WINDOW_MS or used >= 8:
                raise _ApiError(-230, "reply quota for this message is over")
            owner.replies[recipient["message_id"]] = used + 1
            user_id = owner.user_id
            quota = {"quota_type": "reply", "remain": str(7 - used), "total": "8"}
        elif recipient.get("user_id"):
            user_id = str(recipient["user_id"])
            known = self.users.get(user_id)
            if known is not None and known.last_interaction_ms is not None \
                    and now - known.last_interaction_ms > CS_WINDOW_MS:
                raise _ApiError(-230, "User has not interacted with the OA in the last 7 days")
        else:
            raise _ApiError(-201, "recipient is required")
        _check_message(message)
        self._sent.append((user_id, {**message, "recipient": recipient}))
        data: JSON = {"message_id": f"oa{secrets.token_hex(8)}", "user_id": user_id,
                      "sent_time": str(now)}
        if quota:
            data["quota"] = quota
        return data

    def _upload(self, form: Any) -> JSON:
        upload = form.get("file") if form is not None else None
        if upload is None or not hasattr(upload, "file"):
            raise _ApiError(-201, "file is required")
        content = upload.file.read()
        ident = secrets.token_hex(10)
        self.uploads[ident] = {"name": upload.filename, "size": len(content)}
        return {"attachment_id": ident} if upload.content_type.startswith("image/") \
            or upload.filename.endswith((".jpg", ".png")) else {"token": ident}

    def _user_detail(self, query: Any) -> JSON:
        try:
            user_id = json.loads(query.get("data", "{}"))["user_id"]
        except (ValueError, KeyError, TypeError):
            raise _ApiError(-201, "data.user_id is required") from None
        user = self.users.get(str(user_id))
        if user is None:
            raise _ApiError(-213, "User has not followed the OA")
        shared = {"phone": user.phone, "name": user.display_name} if user.phone else None
        return {"user_id": user.user_id, "display_name": user.display_name,
                "user_is_follower": user.follower, "avatar": "https://s120.avatar/fake.jpg",
                "shared_info": shared}

    def _quota(self, body: Any) -> JSON:
        user = self.users.get(str((body or {}).get("user_id")))
        last = user.last_interaction_ms if user else None
        return {"last_interaction": str(last or 0), "cs_reply": {"remain": 8, "total": 8}}

    def _zns(self, body: Any) -> JSON:
        if not isinstance(body, dict) or not str(body.get("phone", "")).startswith("84") \
                or not body.get("template_id") or not isinstance(body.get("template_data"), dict):
            raise _ApiError(-124, "phone (84…), template_id and template_data are required")
        return {"msg_id": secrets.token_hex(8), "sent_time": str(self._now_ms()),
                "quota": {"dailyQuota": "500", "remainingQuota": "499"}}

    async def _file(self, request: web.Request) -> web.Response:
        content = self.files.get(request.match_info["name"])
        if content is None:
            raise web.HTTPNotFound()
        return web.Response(body=content, content_type="application/pdf")


class _ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _check_message(message: Any) -> None:
    if not isinstance(message, dict):
        raise _ApiError(-201, "message is required")
    text = message.get("text")
    attachment = message.get("attachment")
    if text is None and attachment is None:
        raise _ApiError(-201, "message needs text or an attachment")
    if text is not None and (not isinstance(text, str) or not 1 <= len(text) <= TEXT_LIMIT):
        raise _ApiError(-201, "text must be 1-2000 characters")
    payload = (attachment or {}).get("payload") or {}
    buttons = payload.get("buttons")
    if buttons is not None:
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 5:
            raise _ApiError(-201, "at most 5 buttons")
        for button in buttons:
            if not 1 <= len(button.get("title", "")) <= 100:
                raise _ApiError(-201, "button title must be 1-100 characters")
            if button.get("type") in ("oa.query.hide", "oa.query.show") and \
                    not 1 <= len(str(button.get("payload", ""))) <= 1000:
                raise _ApiError(-201, "query payload must be 1-1000 characters")


async def post(url: str, body: bytes, headers: JSON,
               http: aiohttp.ClientSession | None = None) -> int:
    if http is not None:
        async with http.post(url, data=body, headers=headers) as response:
            await response.read()
            return response.status
    async with aiohttp.ClientSession() as own, own.post(url, data=body,
                                                        headers=headers) as response:
        await response.read()
        return response.status


# -- a citizen, as a test drives one ------------------------------------------------------------


def options(message: JSON) -> list[tuple[str, str]]:
    """What the citizen can choose in a message: (label, what to send) — a button's payload,
    or the number of a numbered line."""
    buttons = ((message.get("attachment") or {}).get("payload") or {}).get("buttons")
    if buttons:
        return [(b["title"], b["payload"]) for b in buttons if b["type"] == "oa.query.hide"]
    found: list[tuple[str, str]] = []
    for line in reversed((message.get("text") or "").splitlines()):
        if line.startswith("• "):
            continue  # a link
        number, dot, label = line.partition(". ")
        if not (dot and number.isdigit()):
            break
        found.append((label, number))
    return list(reversed(found))


class OACitizen:
    """A Zalo user writing to the OA through signed webhooks. `settle` waits until the bot's
    replies to what was sent have gone out (e.g. the channel's reply pump drained)."""

    def __init__(self, fake: FakeZaloOA, webhook_url: str, user_id: str,
                 settle: Callable[[], Any]) -> None:
        self.fake = fake
        self.url = webhook_url
        self.user_id = user_id
        self.settle = settle

    async def send(self, event: JSON) -> list[JSON]:
        before = len(self.fake.sent_to(self.user_id))
        status = await self.fake.deliver(self.url, event)
        assert status == 200, status
        await self.settle()
        return self.fake.sent_to(self.user_id)[before:]

    async def say(self, text: str) -> list[JSON]:
        return await self.send(self.fake.user_text(self.user_id, text))

    async def photo(self, url: str = "https://photo-talk.zadn.vn/fake/anh1.jpg") -> list[JSON]:
        return await self.send(self.fake.user_image(self.user_id, url))

    def last_options(self) -> list[tuple[str, str]]:
        for message in reversed(self.fake.sent_to(self.user_id)):
            found = options(message)
            if found:
                return found
        return []

    async def choose(self, label: str) -> list[JSON]:
        """Tap the button with this label, or type its number."""
        choices = self.last_options()
        sent = next((what for shown, what in choices if shown == label), None)
        assert sent is not None, f"{label!r} not among {[c[0] for c in choices]}"
        return await self.say(sent)


def texts(messages: list[JSON]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)
