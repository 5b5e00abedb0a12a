"""The Zalo Official Account (OA) channel: Open API v3 over aiohttp (PLATFORMS.md §2).

Inbound: Zalo posts events to `POST /webhook/zalo-oa` (`add_routes`). The request is genuine
when `X-ZEvent-Signature` equals `mac=` + sha256(app_id + raw body + timestamp + OA secret
key), compared in constant time over the exact bytes received, and its timestamp (ms, in the
body) is within 5 minutes. A message is known by `message.msg_id` (update key
`zalo_oa:<msg_id>`), stored and handled before the 200; replies leave in the background.
Button presses come back as text: an `oa.query.hide` button's payload is sent by the citizen
as a `user_send_text`, so payloads carry the prefix `#a:` (`#s:` + a stored id when the action
is longer than the 1,000 characters Zalo allows). The OA's own echoes (`oa_send_*`) and
delivery receipts are ignored.

Outbound: text cut at 2,000 characters; up to 5 options as `oa.query.hide` buttons, more as
numbered text (typing the number presses it: Core's numbered menus); images by URL or upload
id; files by upload token. Which kind of message Zalo allows depends on the citizen's window
(tracked in `zalo_oa_contacts`, bot/db/zalo.py):
- within 48 h of their last message and fewer than 8 replies: a reply quoting that message
  (`recipient.message_id`, the free "reply" quota);
- within 7 days of their last interaction: a customer-service message (`recipient.user_id`);
- beyond that (or when Zalo answers -230/-232): a ZNS template message by phone number when
  `ZALO_ZNS_TEMPLATES` has a template for the outbox row's purpose, else the row fails with
  "outside window" (and a ticket's staff topic is told).

Access tokens live in `zalo_tokens` (bot/db/zalo.py): refreshed ahead of expiry and when Zalo
answers -216/-220, with the rotating single-use refresh token, by one process at a time; a
failed refresh is logged and announced in the staff group.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bot.channels.base import (
    ChannelError,
    ReplyPump,
    StoredActions,
    header_bytes,
    numbered_menu,
    obj,
    with_menu,
)
from bot.config import Settings
from bot.db import zalo as store
from bot.db.models import OutboxMessage
from bot.db.repositories import claim_update, stored_action
from bot.db.session import Database, is_outage
from bot.messages import Attachment, Button, ChatRef, Incoming, Outgoing, split_text
from bot.outbox import SentReplies, current_row, deliver_replies, enqueue
from bot.router import Core

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.running import Running

log = logging.getLogger(__name__)

TEXT_LIMIT = 2000
BUTTON_LIMIT = 5
TITLE_LIMIT = 100
PAYLOAD_LIMIT = 1000
ACTION_PREFIX = "#a:"
STORED_PREFIX = "#s:"
REPLY_WINDOW = timedelta(hours=48)
FREE_REPLIES = 8
CS_WINDOW = timedelta(days=7)
MAX_SKEW_MS = 5 * 60 * 1000
OUTSIDE_WINDOW = "outside window"
FILE_LIMIT = 5 * 1024 * 1024
RATE_LIMIT_PAUSE = 30.0

TOKEN_ERRORS = {-216, -220}
WINDOW_ERRORS = {-230, -232}
PERMANENT_ERRORS = {
    -201: "invalid parameter",
    -211: "out of quota",
    -213: "not a follower",
    -223: "the OA has not been granted this API",
    -224: "the OA's package does not allow this",
    -227: "user banned or inactive for more than 45 days",
    -244: "the user refused this kind of message",
    -320: "no Zalo Cloud Account",
    -321: "the Zalo Cloud Account is out of money",
}
IGNORED_EVENTS = {"user_received_message", "user_seen_message", "anonymous_send_text",
                  "anonymous_send_image", "anonymous_send_file", "anonymous_send_sticker"}
ATTACHMENT_KINDS = {"image": "photo", "gif": "sticker", "sticker": "sticker", "audio": "voice",
                    "voice": "voice", "video": "video", "file": "file"}

"""The OA's outbox sender: the row's purpose picks the ZNS template outside the window."""


# -- signatures -----------------------------------------------------------------------------


def signature_for(app_id: str, body: bytes, timestamp: str, secret_key: str) -> str:
    """`mac=` + sha256 hex of app_id + raw body + timestamp + OA secret key (plain SHA-256)."""
    digest = hashlib.sha256(app_id.encode() + body + timestamp.encode() + secret_key.encode())
    return "mac=" + digest.hexdigest()


def verify_webhook(body: bytes, signature: str, app_id: str, secret_key: str,
                   now_ms: int) -> dict[str, Any] | None:
    """The event if the signature matches and the timestamp is fresh, else None."""
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[…
        return None
    if not isinstance(event, dict):
        return None
    stamp = event.get("timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, str | int):
        return None
    stamp_text = str(stamp)
    expected = signature_for(app_id, body, stamp_text, secret_key)
    if not hmac.compare_digest(header_bytes(signature), expected.encode()):
        return None
    if str(event.get("app_id", "")) != app_id:
        return None
    try:
        moment = int(stamp_text)
    except ValueError:
        return None
    if abs(now_ms - moment) > MAX_SKEW_MS:
        return None
    return event


# -- the API --------------------------------------------------------------------------------


class ZaloOAApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class TokenRefreshError(Exception):
    pass


def channel_error(error: ZaloOAApiError | aiohttp.ClientError | TimeoutError
                  | TokenRefreshError) -> ChannelError:
    if isinstance(error, ZaloOAApiError):
        if error.code == -32:
            return ChannelError("zalo oa rate limited (-32)", retry_after=RATE_LIMIT_PAUSE)
        if error.code in PERMANENT_ERRORS:
            return ChannelError(f"zalo oa {error.code}: {PERMANENT_ERRORS[error.code]}",
                                permanent=True)
        if error.code in WINDOW_ERRORS:
            return ChannelError(OUTSIDE_WINDOW, permanent=True)
        return ChannelError(f"zalo oa {error.code}: {error.message}")
    if isinstance(error, TokenRefreshError):
        return ChannelError(f"zalo oa access token: {error}")
    if isinstance(error, TimeoutError):
        return ChannelError("zalo oa: timed out")
    return ChannelError(f"zalo oa network: {error}")


def zns_phone(raw: str | None) -> str | None:
    """0912345678 / +84 912 345 678 -> 84912345678, the form ZNS takes."""
    if not raw:
        return None
    digits = "".join(ch for ch in raw if ch.isdigit())
    if digits.startswith("84") and len(digits) >= 11:
        return digits
    if digits.startswith("0") and len(digits) >= 10:
        return "84" + digits[1:]
    return None


class TokenManager:
    """The OA access token: read from the database, refreshed by one process at a time."""

    def __init__(self, settings: Settings, db: Database, http: Callable[[], aiohttp.ClientSession],
                 clock: Callable[[], datetime], *, alert: Callable[[str], Any] | None = None,
                 lease_seconds: float = 60.0) -> None:
        assert settings.zalo_oa_refresh_token and settings.zalo_oa_app_secret
        self.settings = settings
        self.db = db
        self.http = http
        self.clock = clock
        self.alert = alert
        self.lease = timedelta(seconds=lease_seconds)
        self.owner = f"{uuid.uuid4().hex[:12]}"
        self.seed_hash = hashlib.sha256(settings.zalo_oa_refresh_token.encode()).hexdigest()
        self._seeded = False
        self._cached: store.ZaloToken | None = None
        self._local = asyncio.Lock()
        self.refresh_calls = 0
        self.failed = False

    async def _seed(self) -> None:
        if not self._seeded:
            async with self.db.session() as session:
                await store.seed_token(session, self.settings.zalo_oa_refresh_token or "",
                                       self.seed_hash)
            self._seeded = True

    def expiring(self, row: store.ZaloToken, now: datetime) -> bool:
        """Refresh when less than a fifth of the token's life (at least a minute) is left."""
        if not row.access_token or row.expires_at is None:
            return True
        margin = max(60.0, (row.lifetime_seconds or 0) * 0.2)
        return row.expires_at - now < timedelta(seconds=margin)

    async def access_token(self) -> str:
        """The current token: this process's copy while it is fresh (another process's refresh
        leaves it valid, or Zalo says -216 and `refresh(force=True)` reads the new one)."""
        cached = self._cached
        if cached is not None and not self.expiring(cached, self.clock()):
            assert cached.access_token
            return cached.access_token
        await self._seed()
        async with self.db.session() as session:
            row = await store.get_token(session)
        if row is not None and row.access_token and not self.expiring(row, self.clock()):
            self._cached = row
            return row.access_token
        return await self.refresh(stale=row.access_token if row else None)

    def forget(self) -> None:
        self._cached = None

    async def next_refresh_in(self) -> float:
        """Seconds until the token should be refreshed (for the background refresher)."""
        await self._seed()
        async with self.db.session() as session:
            row = await store.get_token(session)
        if row is None or not row.access_token or row.expires_at is None:
            return 0.0
        margin = max(60.0, (row.lifetime_seconds or 0) * 0.2)
        return max(0.0, (row.expires_at - self.clock()).total_seconds() - margin)

    def _needs(self, row: store.ZaloToken, stale: str | None, force: bool) -> bool:
        if self.expiring(row, self.clock()):
            return True
        return force and row.access_token == stale

    async def refresh(self, stale: str | None = None, *, force: bool = False) -> str:
        """A fresh access token. `force`: Zalo refused `stale`, so replace it unless another
        process already did. Exactly one process calls Zalo; the others wait and read."""
        await self._seed()
        self._cached = None
        async with self._local:
            if self.db.dialect == "postgresql":
                return await self._refresh_locked(stale, force)
            return await self._refresh_leased(stale, force)

    async def _refresh_locked(self, stale: str | None, force: bool) -> str:
        try:
            async with self.db.session() as session:
                row = await store.get_token(session, lock=True)  # waits for another refresher
                assert row is not None
                if not self._needs(row, stale, force):
                    assert row.access_token
                    return row.access_token
                return await self._call_and_store(session, row.refresh_token)
        except TokenRefreshError as error:
            await self._failed(str(error))
            raise

    async def _refresh_leased(self, stale: str | None, force: bool) -> str:
        deadline = time.monotonic() + self.lease.total_seconds() + 15
        while True:
            now = self.clock()
            async with self.db.session() as session:
                row = await store.get_token(session)
                assert row is not None
                if not self._needs(row, stale, force):
                    assert row.access_token
                    return row.access_token
                taken = await store.take_lease(session, self.owner, now, now + self.lease)
            if taken:
                break
            if time.monotonic() > deadline:
                raise TokenRefreshError("another process holds the refresh lease")
            await asyncio.sleep(0.05)
        try:
            async with self.db.session() as session:
                row = await store.get_token(session)
                assert row is not None
                if not self._needs(row, stale, force):  # refreshed just before our lease
                    await store.take_lease(session, self.owner, now, now)
                    assert row.access_token
                    return row.access_token
                return await self._call_and_store(session, row.refresh_token)
        except TokenRefreshError as error:
            await self._failed(str(error))
            raise

    async def _call_and_store(self, session: Any, refresh_token: str) -> str:
        """POST /v4/oa/access_token with the single-use refresh token; the new pair is written
        in the caller's transaction (with the row lock or lease still held)."""
        settings = self.settings
        url = f"{settings.zalo_oa_oauth_base_url.rstrip('/')}/v4/oa/access_token"
        self.refresh_calls += 1
        try:
            async with self.http().post(
                url, headers={"secret_key": settings.zalo_oa_app_secret or ""},
                data={"app_id": settings.zalo_oa_app_id or "", "grant_type": "refresh_token",
                      "refresh_token": refresh_token},
                timeout=aiohttp.ClientTimeout(total=20),
            ) as response:
                status = response.status
                data = json.loads(await response.read())
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise TokenRefreshError(f"OAuth call failed: {type(error).__name__}") from error
        if not isinstance(data, dict) or not data.get("access_token") \
                or not data.get("refresh_token"):
            reason = data.get("error_description") or data.get("message") or data.get("error") \
                if isinstance(data, dict) else None
            raise TokenRefreshError(f"OAuth refused (HTTP {status}): {reason or 'no token'}")
        try:
            lifetime = int(str(data.get("expires_in", "3600")))
        except ValueError:
            lifetime = 3600
        now = self.clock()
        await store.store_tokens(session, access_token=str(data["access_token"]),
                                 refresh_token=str(data["refresh_token"]),
                                 expires_at=now + timedelta(seconds=lifetime),
                                 lifetime=lifetime, now=now)
        self._cached = store.ZaloToken(access_token=str(data["access_token"]),
                                       expires_at=now + timedelta(seconds=lifetime),
                                       lifetime_seconds=lifetime)
        self.failed = False
        log.info("zalo oa: access token refreshed (valid %d s)", lifetime)
        return str(data["access_token"])

    async def _failed(self, reason: str) -> None:
        self.failed = True
        log.error("zalo oa: access token refresh failed: %s", reason)
        try:
            async with self.db.session() as session:
                await store.record_refresh_failure(session, reason, self.owner)
            if self.alert is not None:
                await self.alert(reason)
        except SQLAlchemyError:
            log.exception("zalo oa: could not record the refresh failure")


class ZaloOAClient:
    """The OA, OAuth and ZNS hosts. Every call carries `access_token`; -216/-220 refresh the
    token once and repeat the call."""

    def __init__(self, settings: Settings, tokens: TokenManager,
                 http: Callable[[], aiohttp.ClientSession]) -> None:
        self.settings = settings
        self.tokens = tokens
        self.http = http

    async def request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        for attempt in range(2):
            token = await self.tokens.access_token()
            async with self.http().request(method, url, headers={"access_token": token},
                                           **kwargs) as response:
                status = response.status
                raw = await response.read()
            try:
                data = json.loads(raw)
            except ValueError:
                raise ZaloOAApiError(status if status >= 400 else -1,
                                     f"HTTP {status}, not JSON") from None
            if not isinstance(data, dict):
                raise ZaloOAApiError(-1, "unexpected response")
            code = int(data.get("error", 0) or 0)
            if code in TOKEN_ERRORS and attempt == 0:
                async with self.tokens.db.session() as session:
                    await store.expire_access_token(session, token)
                await self.tokens.refresh(stale=token, force=True)
                continue
            if code != 0:
                raise ZaloOAApiError(code, str(data.get("message") or "error"))
            if status >= 400:
                raise ZaloOAApiError(status, f"HTTP {status}")
            return data
        raise ZaloOAApiError(-216, "access token refused after a refresh")

    def _api(self, path: str) -> str:
        return f"{self.settings.zalo_oa_api_base_url.rstrip('/')}{path}"

    async def send_message(self, recipient: dict[str, str],
                           message: dict[str, Any]) -> dict[str, Any]:
        data = await self.request("POST", self._api("/v3.0/oa/message/cs"),
                                  json={"recipient": recipient, "message": message})
        result: dict[str, Any] = data.get("data") or {}
        quota = result.get("quota") if isinstance(result, dict) else None
        log.debug("zalo oa: sent, quota %s", (quota or {}).get("quota_type", "charged"))
        return result

    async def upload(self, kind: str, content: bytes, filename: str,
                     content_type: str) -> str:
        """`kind` "image" → attachment_id; "file" → token."""
        form = aiohttp.FormData()
        form.add_field("file", content, filename=filename, content_type=content_type)
        data = await self.request("POST", self._api(f"/v2.0/oa/upload/{kind}"), data=form)
        found = (data.get("data") or {}).get("attachment_id" if kind == "image" else "token")
        if not found:
            raise ZaloOAApiError(-1, f"upload/{kind} returned no id")
        return str(found)

    async def user_detail(self, user_id: str) -> dict[str, Any]:
        data = await self.request("GET", self._api("/v3.0/oa/user/detail"),
                                  params={"data": json.dumps({"user_id": user_id})})
        return data.get("data") or {}

    async def quota(self, user_id: str) -> dict[str, Any]:
        data = await self.request("POST", self._api("/v3.0/oa/quota/message"),
                                  json={"user_id": user_id})
        return data.get("data") or {}

    async def send_zns(self, phone: str, template_id: str, template_data: dict[str, str],
                       tracking_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {"phone": phone, "template_id": template_id,
                                "template_data": template_data, "tracking_id": tracking_id}
        if self.settings.zalo_zns_development:
            body["mode"] = "development"
        url = f"{self.settings.zalo_zns_api_base_url.rstrip('/')}/message/template"
        data = await self.request("POST", url, json=body)
        return data.get("data") or {}


# -- inbound events -------------------------------------------------------------------------


def _attachments(message: dict[str, Any]) -> list[Attachment]:
    found: list[Attachment] = []
    for item in message.get("attachments") or []:
        if not isinstance(item, dict):
            continue
        kind = str(item.get("type") or "")
        payload = obj(item.get("payload"))
        if kind == "location":
            where = obj(payload.get("coordinates")) or payload
            try:
                found.append(Attachment("location", latitude=float(where["latitude"]),
                                        longitude=float(where["longitude"])))
            except (KeyError, TypeError, ValueError):
                found.append(Attachment("other"))
            continue
        url = payload.get("url") if isinstance(payload.get("url"), str) else None
        name = payload.get("name") if isinstance(payload.get("name"), str) else None
        found.append(Attachment(ATTACHMENT_KINDS.get(kind, "other"),  # type: ignore[arg-type]
                                url=url, name=name))
    return found


def incoming_from_zalo_oa(event: dict[str, Any]) -> Incoming | None:
    """The neutral form of an OA event; None for events that are not a citizen's message
    (echoes, receipts, unfollow). ValueError for an event missing what its kind must have."""
    name = event.get("event_name")
    if not isinstance(name, str) or not name:
        raise ValueError("no event_name")
    if name.startswith("oa_send_") or name in IGNORED_EVENTS or name == "unfollow":
        return None
    stamp = event.get("timestamp")
    at = datetime.fromtimestamp(int(str(stamp)) / 1000, UTC) if str(stamp).isdigit() \
        else datetime.now(UTC)
    if name == "follow":
        follower = obj(event.get("follower"))
        user = str(follower.get("id") or "")
        if not user:
            raise ValueError("follow without follower.id")
        return Incoming(channel="zalo_oa", chat_id=user, user_id=user,
                        update_key=f"zalo_oa:follow:{user}:{stamp}", text="/start", at=at)
    if not name.startswith("user_send_"):
        return None
    sender = obj(event.get("sender"))
    message = obj(event.get("message"))
    user = str(sender.get("id") or "")
    msg_id = str(message.get("msg_id") or "")
    if not user or not msg_id:
        raise ValueError("message without sender.id or msg_id")
    raw_text = message.get("text")
    text = raw_text if isinstance(raw_text, str) else ""
    action = None
    if name == "user_send_text" and text.startswith((ACTION_PREFIX, STORED_PREFIX)):
        action, text = text.removeprefix(ACTION_PREFIX), ""
    attachments = _attachments(message)
    if name == "user_send_link" and not text:
        text = next((a.url for a in attachments if a.url), "") or ""
        attachments = []
    return Incoming(channel="zalo_oa", chat_id=user, user_id=user,
                    update_key=f"zalo_oa:{msg_id}", text=text or "", action=action,
                    attachments=attachments, message_id=msg_id, at=at)


# -- the channel ----------------------------------------------------------------------------


ALERT_TEXT = (
    "⚠️ Zalo OA: hệ thống không gia hạn được quyền gửi tin nhắn của Official Account, vì "
    "{cause}.\n"
    "Tin nhắn Zalo OA đang chờ và sẽ được gửi lại khi gia hạn được. Nếu tình trạng kéo dài, quản "
    "trị viên cần liên kết lại OA và đặt ZALO_OA_REFRESH_TOKEN mới (xem docs/zalo.md); chi tiết "
    "lỗi ghi trong nhật ký của hệ thống."
)
ALERT_CAUSES = (
    ("OAuth refused",
     "Zalo từ chối yêu cầu gia hạn (mã gia hạn đã dùng, hết hạn hoặc bị thu hồi)"),
    ("OAuth call failed", "không kết nối được với máy chủ Zalo"),
    ("another process", "một tiến trình khác của hệ thống đang gia hạn mà chưa xong"),
)
"""The staff read a Vietnamese cause; the technical reason goes to the log."""
OUTSIDE_WINDOW_NOTE = (
    "⚠️ Zalo OA: tin nhắn gửi người dân về phản ánh {code} KHÔNG gửi được: đã quá 7 ngày kể từ "
    "lần cuối người dân nhắn cho OA (Zalo chỉ cho phép trả lời trong khoảng đó) và chưa đăng ký "
    "mẫu tin nhắn Zalo gửi theo số điện thoại cho loại tin này. Người dân sẽ nhận được khi nhắn "
    "lại cho OA; hoặc vui lòng liên hệ trực tiếp."
)


def alert_cause(reason: str) -> str:
    """A refresh failure's technical reason as a Vietnamese cause for the staff group."""
    return next((cause for prefix, cause in ALERT_CAUSES if reason.startswith(prefix)),
                "Zalo trả lời không như mong đợi")


class ZaloOAChannel:
    name = "zalo_oa"
    numbered_menus = True  # more than 5 options become numbered text

    def __init__(self, settings: Settings, core: Core, db: Database, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        assert settings.zalo_oa_enabled, "ZALO_OA_* settings are required"
        self.settings = settings
        self.core = core
        self.db = db
        self.clock = clock
        self.app_id = settings.zalo_oa_app_id or ""
        self.secret_key = settings.zalo_oa_secret_key or ""
        self._http: aiohttp.ClientSession | None = None
        self.tokens = TokenManager(settings, db, self.http, clock, alert=self._alert)
        self.client = ZaloOAClient(settings, self.tokens, self.http)
        self.pump = ReplyPump(self._deliver)
        self.sent = SentReplies(db)
        self.actions = StoredActions(db)
        self.handled = 0
        """Updates handled by this process (tests wait on it)."""
        self.stopping = asyncio.Event()
        self._refresher: asyncio.Task[None] | None = None
        self._profiles: set[asyncio.Task[None]] = set()
        self._started = False

    def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))
        return self._http

    @property
    def status(self) -> str:
        return "ok" if self._started and not self.tokens.failed else "down"

    async def start(self) -> None:
        self.stopping.clear()
        self._started = True
        self._refresher = asyncio.create_task(self._keep_token_fresh())

    async def stop(self) -> None:
        self.stopping.set()
        if self._refresher is not None:
            self._refresher.cancel()
            await asyncio.gather(self._refresher, return_exceptions=True)
        await self.pump.drain()
        await self.sent.close()
        for task in list(self._profiles):
            task.cancel()
        await asyncio.gather(*self._profiles, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        self._started = False

    async def _keep_token_fresh(self) -> None:
        """Refresh ahead of expiry (a fifth of the lifetime before), whichever process is
        first; after a failure try again in a minute."""
        while not self.stopping.is_set():
            try:
                wait = await self.tokens.next_refresh_in()
                if wait <= 0:
                    await self.tokens.access_token()
                    wait = await self.tokens.next_refresh_in()
            except (TokenRefreshError, SQLAlchemyError) as error:
                log.warning("zalo oa: background token refresh: %s", error)
                wait = 60.0
            try:
                await asyncio.wait_for(self.stopping.wait(), min(max(wait, 5.0), 600.0))
            except TimeoutError:
                pass

    async def _alert(self, reason: str) -> None:
        """Tell the staff group (at most once an hour) that Zalo OA messages are stuck."""
        chat_id = self.settings.telegram_staff_chat_id
        if chat_id is None or not self.settings.telegram_bot_token:
            return
        hour = self.clock().strftime("%Y%m%d%H")
        async with self.db.session() as session:
            queued = await enqueue(session, ChatRef("telegram", str(chat_id)),
                                   Outgoing(ALERT_TEXT.format(cause=alert_cause(reason))),
                                   key=f"zalo-oa-token-alert:{hour}", purpose="staff_alert")
        senders = self.core.services.get("senders") or {}
        if queued and "telegram" in senders:
            senders["telegram"].notify()

    # -- inbound --------------------------------------------------------------------------

    def verify(self, body: bytes, signature: str) -> dict[str, Any] | None:
        now_ms = int(self.clock().timestamp() * 1000)
        return verify_webhook(body, signature, self.app_id, self.secret_key, now_ms)

    async def process(self, event: dict[str, Any]) -> None:
        """Store and handle one authenticated event; replies leave in the background.
        ValueError for a malformed event; database errors propagate (the route answers 503)."""
        name = event.get("event_name")
        if name == "unfollow":
            follower = obj(event.get("follower"))
            user = str(follower.get("id") or "")
            if not user:
                raise ValueError("unfollow without follower.id")
            async with self.db.session() as session:
                if await claim_update(session, f"zalo_oa:unfollow:{user}:{event.get('timestamp')}",
                                      self.clock()):
                    await store.record_unfollow(session, user)
            return
        if name == "user_submit_info":
            await self._submitted_info(event)
            return
        msg = incoming_from_zalo_oa(event)
        if msg is None:
            return
        now = self.clock()
        at = min(msg.at, now)
        async with self.db.session() as session:
            await store.record_interaction(session, msg.user_id, at,
                                           msg_id=None if name == "follow" else msg.message_id,
                                           follower=True if name == "follow" else None)
            contact = await store.get_contact(session, msg.user_id)
            if msg.action and msg.action.startswith(STORED_PREFIX):
                msg.action = await stored_action(session, msg.action[len(STORED_PREFIX):]) \
                    or "stale"
        if contact is not None:
            msg.display_name = contact.display_name
        replies = await self.core.handle(msg)
        await self.pump.submit(msg.chat, replies, msg.update_key)
        self.handled += 1
        if contact is None or contact.profile_at is None \
                or now - contact.profile_at > timedelta(days=7):
            self._fetch_profile(msg.user_id)

    async def _submitted_info(self, event: dict[str, Any]) -> None:
        sender = obj(event.get("sender"))
        info = obj(event.get("info"))
        user = str(sender.get("id") or "")
        if not user:
            raise ValueError("user_submit_info without sender.id")
        async with self.db.session() as session:
            if await claim_update(session, f"zalo_oa:info:{user}:{event.get('timestamp')}",
                                  self.clock()):
                await store.store_profile(session, user, name=str(info.get("name") or ""),
                                          phone=str(info.get("phone") or "") or None,
                                          follower=None, at=self.clock())

    def _fetch_profile(self, user_id: str) -> None:
        if len(self._profiles) > 50 or self.stopping.is_set():
            return
        task = asyncio.create_task(self._profile(user_id))
        self._profiles.add(task)
        task.add_done_callback(self._profiles.discard)

    async def _profile(self, user_id: str) -> None:
        try:
            data = await self.client.user_detail(user_id)
            shared = obj(data.get("shared_info"))
            follower = data.get("user_is_follower")
            async with self.db.session() as session:
                await store.store_profile(
                    session, user_id, name=str(data.get("display_name") or ""),
                    phone=str(shared.get("phone") or "") or None,
                    follower=bool(follower) if follower is not None else None, at=self.clock())
        except Exception as error:  # noqa: BLE001 - a profile is a nicety
            log.info("zalo oa: no profile for a user: %s", error)

    async def _deliver(self, chat: ChatRef, replies: list[Outgoing], key: str) -> None:
        await deliver_replies(self.sent, self, chat, replies, key)

    # -- outbound -------------------------------------------------------------------------

    async def send(self, chat: ChatRef, message: Outgoing) -> str | None:
        row = current_row.get()
        now = self.clock()
        async with self.db.session() as session:
            contact = await store.get_contact(session, chat.chat_id)
        if contact is not None and contact.last_interaction_at is not None \
                and now - contact.last_interaction_at > CS_WINDOW:
            return await self._outside_window(chat, message, row, contact)
        try:
            parts = await self._render(message)
            last_id: str | None = None
            for part in parts:
                last_id = await self._send_one(chat.chat_id, part, contact, now)
            return last_id
        except ZaloOAApiError as error:
            if error.code in WINDOW_ERRORS:
                return await self._outside_window(chat, message, row, contact)
            raise channel_error(error) from error
        except (aiohttp.ClientError, TimeoutError, TokenRefreshError) as error:
            raise channel_error(error) from error

    async def _send_one(self, user_id: str, part: dict[str, Any],
                        contact: store.ZaloOAContact | None, now: datetime) -> str | None:
        """One API message: a reply quoting the citizen's last message while the free replies
        last (8 within 48 h), else a customer-service message."""
        quoted = None
        if contact is not None and contact.last_msg_id and contact.last_msg_at is not None \
                and now - contact.last_msg_at < REPLY_WINDOW \
                and contact.replies_used < FREE_REPLIES:
            quoted = contact.last_msg_id
        recipient = {"message_id": quoted} if quoted else {"user_id": user_id}
        result = await self.client.send_message(recipient, part)
        if quoted and contact is not None:
            contact.replies_used += 1
            async with self.db.session() as session:
                await store.use_reply(session, user_id, quoted)
        message_id = result.get("message_id") if isinstance(result, dict) else None
        return str(message_id) if message_id else None

    async def _render(self, message: Outgoing) -> list[dict[str, Any]]:
        """The API `message` objects for one Outgoing: media first, then the text in parts of
        at most 2,000 characters, the buttons (≤ 5) on the last part or numbered in it."""
        parts: list[dict[str, Any]] = []
        if message.photo is not None:
            element = self._image_element(message.photo)
            if element is not None:
                parts.append({"attachment": {"type": "template", "payload": {
                    "template_type": "media", "elements": [element]}}})
        if message.document is not None:
            token = await self._file_token(message.document)
            parts.append({"attachment": {"type": "file", "payload": {"token": token}}})
        buttons = message.flat_buttons()
        as_buttons = 0 < len(buttons) <= BUTTON_LIMIT and bool(message.text)
        text = message.text if as_buttons or not buttons else \
            with_menu(message.text, numbered_menu(message))
        chunks = split_text(text, TEXT_LIMIT) if text else []
        for index, chunk in enumerate(chunks):
            part: dict[str, Any] = {"text": chunk}
            if as_buttons and index == len(chunks) - 1:
                part["attachment"] = {"type": "template", "payload": {
                    "buttons": [await self._button(b) for b in buttons]}}
            parts.append(part)
        return parts

    @staticmethod
    def _image_element(photo: Attachment) -> dict[str, Any] | None:
        if photo.url:
            return {"media_type": "image", "url": photo.url}
        if photo.file_id:
            return {"media_type": "image", "attachment_id": photo.file_id}
        return None

    async def _file_token(self, document: Attachment) -> str:
        if document.file_id:
            return document.file_id
        if document.data is not None:  # a file made here (a printable letter)
            if len(document.data) > FILE_LIMIT:
                raise ChannelError("zalo oa: files are limited to 5 MB", permanent=True)
            name = document.name or "tai-lieu.pdf"
            content_type = "application/pdf" if name.endswith(".pdf") \
                else "application/octet-stream"
            return await self.client.upload("file", document.data, name, content_type)
        if not document.url or not document.url.startswith(("http://", "https://")):
            raise ChannelError("zalo oa: a file needs a URL or an upload token", permanent=True)
        async with self.http().get(document.url) as response:
            if response.status != 200:
                raise ChannelError(f"zalo oa: file URL answered {response.status}")
            content = await response.content.read(FILE_LIMIT + 1)
            content_type = response.content_type or "application/octet-stream"
        if len(content) > FILE_LIMIT:
            raise ChannelError("zalo oa: files are limited to 5 MB", permanent=True)
        name = document.name or document.url.rsplit("/", 1)[-1] or "tai-lieu.pdf"
        return await self.client.upload("file", content, name, content_type)

    async def upload_image(self, content: bytes, filename: str,
                           content_type: str = "image/jpeg") -> Attachment:
        """Upload an image (jpg/png ≤ 1 MB) → an Attachment to send with `Outgoing.photo`."""
        attachment_id = await self.client.upload("image", content, filename, content_type)
        return Attachment("photo", file_id=attachment_id, name=filename)

    async def _button(self, button: Button) -> dict[str, Any]:
        title = button.label if len(button.label) <= TITLE_LIMIT else \
            button.label[:TITLE_LIMIT - 1] + "…"
        if button.url:
            return {"title": title, "type": "oa.open.url", "payload": {"url": button.url}}
        action = button.action or "menu"
        payload = ACTION_PREFIX + action
        if len(payload) > PAYLOAD_LIMIT:
            payload = STORED_PREFIX + await self.actions.key(action)
        return {"title": title, "type": "oa.query.hide", "payload": payload}

    # -- outside the window: ZNS or fail ----------------------------------------------------

    async def _outside_window(self, chat: ChatRef, message: Outgoing, row: OutboxMessage | None,
                              contact: store.ZaloOAContact | None) -> str | None:
        template = self.settings.zns_templates.get(row.purpose) if row is not None else None
        if template is None:
            await self._tell_staff(row)
            raise ChannelError(OUTSIDE_WINDOW, permanent=True)
        assert row is not None
        context = await self._zns_context(chat, message, row, contact)
        phone = zns_phone(context.get("phone"))
        if phone is None:
            await self._tell_staff(row)
            raise ChannelError(f"{OUTSIDE_WINDOW}: no phone number for ZNS", permanent=True)
        data: dict[str, str] = {}
        for param, source in template["params"].items():
            if source.startswith("="):
                data[param] = source[1:]
            elif source in context:
                data[param] = str(context[source] or "")[:400]
            else:
                raise ChannelError(f"ZNS template for {row.purpose}: unknown source {source!r}",
                                   permanent=True)
        try:
            result = await self.client.send_zns(phone, template["template_id"], data,
                                                tracking_id=row.dedupe_key[:100])
        except ZaloOAApiError as error:
            raise channel_error(error) from error
        except (aiohttp.ClientError, TimeoutError, TokenRefreshError) as error:
            raise channel_error(error) from error
        msg_id = result.get("msg_id") if isinstance(result, dict) else None
        return f"zns:{msg_id}" if msg_id else "zns"

    async def _zns_context(self, chat: ChatRef, message: Outgoing, row: OutboxMessage,
                           contact: store.ZaloOAContact | None) -> dict[str, Any]:
        """What a template parameter may be filled from (docs/zalo.md lists the sources)."""
        from bot.db import dossiers, feedback
        from handlers.texts import text  # the one table of status labels, as every channel

        tz = self.settings.tz
        context: dict[str, Any] = {
            "text": message.text,
            "name": contact.display_name if contact else "",
            "date": f"{self.clock().astimezone(tz):%d/%m/%Y}",
            "phone": contact.phone if contact else None,
        }
        async with self.db.session() as session:
            dossier = None
            ref_kind, _, ref_id = (row.ref or "").partition(":")
            if ref_kind == "dossier" and ref_id.isdigit():
                dossier = await dossiers.get_dossier_by_id(session, int(ref_id))
            if dossier is None:
                dossier = await session.scalar(
                    select(dossiers.Dossier)
                    .join(dossiers.DossierSubscription,
                          dossiers.DossierSubscription.dossier_id == dossiers.Dossier.id)
                    .where(dossiers.DossierSubscription.channel == self.name,
                           dossiers.DossierSubscription.chat_id == chat.chat_id)
                    .order_by(dossiers.DossierSubscription.verified_at.desc()).limit(1))
            if dossier is not None:
                context.update(
                    dossier_code=dossier.code, procedure_name=dossier.procedure_name,
                    applicant_name=dossier.applicant_name,
                    dossier_status=text("dossiers.status_label", status=dossier.status),
                    due_date=f"{dossier.due_at.astimezone(tz):%d/%m/%Y}")
                context["phone"] = context["phone"] or dossier.phone
            ticket = None
            if ref_kind == "ticket" and ref_id.isdigit():
                ticket = await feedback.get_ticket(session, int(ref_id))
            if ticket is None:
                ticket = await session.scalar(
                    select(feedback.Ticket).where(feedback.Ticket.channel == self.name,
                                                  feedback.Ticket.chat_id == chat.chat_id)
                    .order_by(feedback.Ticket.id.desc()).limit(1))
            if ticket is not None:
                context["ticket_code"] = ticket.code
                context["phone"] = context["phone"] or ticket.contact_phone
        context.setdefault("dossier_code", "")
        context.setdefault("procedure_name", "")
        context.setdefault("applicant_name", "")
        context.setdefault("dossier_status", "")
        context.setdefault("due_date", "")
        context.setdefault("ticket_code", "")
        return context

    async def _tell_staff(self, row: OutboxMessage | None) -> None:
        """A ticket's message that cannot go: say so in the ticket's staff topic."""
        if row is None or row.ref is None or not row.ref.startswith("ticket:"):
            return
        from bot.db import feedback

        try:
            async with self.db.session() as session:
                ticket = await feedback.get_ticket(session, int(row.ref.split(":")[1]))
                if ticket is not None:
                    await feedback.add_message(session, ticket, "system",
                                               OUTSIDE_WINDOW_NOTE.format(code=ticket.code),
                                               relayed=False, now=self.clock())
        except (SQLAlchemyError, ValueError):
            log.exception("zalo oa: could not note the failed message on the ticket")


# -- the webhook route ----------------------------------------------------------------------


def add_routes(app: web.Application, service: Running) -> None:
    async def route(request: web.Request) -> web.Response:
        return await zalo_oa_webhook(request, service)

    app.router.add_post("/webhook/zalo-oa", route)


async def zalo_oa_webhook(request: web.Request, service: Running) -> web.Response:
    """401 without a signature, 403 with a wrong one or a stale timestamp: nothing stored.
    Authenticated events are stored before the 200 (503 if the database fails); malformed
    ones are stored as rejected and acknowledged."""
    channel: ZaloOAChannel | None = getattr(service, "zalo_oa", None)
    if channel is None:
        raise web.HTTPNotFound()
    signature = request.headers.get("X-ZEvent-Signature")
    if not signature:
        raise web.HTTPUnauthorized(text="missing signature")
    body = await request.read()
    event = channel.verify(body, signature)
    if event is None:
        raise web.HTTPForbidden(text="wrong signature or stale timestamp")
    try:
        await channel.process(event)
    except (ValueError, TypeError):
        digest = hashlib.sha256(body).hexdigest()[:24]
        async with service.db.session() as session:
            await claim_update(session, f"zalo_oa:rejected:{digest}", service.clock(),
                               status="rejected")
        log.warning("zalo oa webhook: malformed event stored as rejected (%s)", digest)
    except (SQLAlchemyError, OSError) as error:
        if is_outage(error):
            log.exception("zalo oa webhook: could not store an event")
            return web.json_response({"error": 1}, status=503)
        # The database refused this event's data: Zalo would send it again and again.
        log.exception("zalo oa webhook: an event could not be handled")
    return web.json_response({"error": 0})
