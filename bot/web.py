"""The aiohttp application: web chat, platform webhooks, health and metrics.

Routes are the contract in DESIGN.md. Bodies are capped before parsing (413), secrets are
compared in constant time, and an update is acknowledged only once it is stored (else 503).
The web chat's sessions are issued and signed by the server (bot/channels/web.py), its
messages validated field by field and rate-limited per session and per client address;
/metrics and the full /healthz are for loopback callers or the holder of METRICS_TOKEN.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import math
import re
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import DataError, SQLAlchemyError

from bot.channels.base import (
    bearer_token,
    client_address,
    require_secret,
    route_name,
    secret_matches,
    served_over_https,
)
from bot.channels.web import WebSessionRef, photo_type
from bot.channels.zalo_bot import add_routes as add_zalo_bot_routes
from bot.channels.zalo_oa import add_routes as add_zalo_oa_routes
from bot.db.repositories import claim_update
from bot.db.session import is_outage
from bot.desk.routes import add_routes as add_desk_routes
from bot.ingest import add_routes as add_ingest_routes
from bot.logs import quiet_bad_requests
from bot.messages import clean_text
from bot.running import SERVICE, Running
from handlers.texts import text

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
MAX_BODY = 1024 * 1024
MAX_CHAT_TEXT = 4000
MAX_CHAT_FIELDS = {"text": MAX_CHAT_TEXT * 3, "action": 128, "label": 200, "id": 64}
"""Longest value of each field of POST /chat/api/messages (text beyond 4000 is cut by the core
and the citizen told; beyond this it is refused)."""
CHAT_COOKIE = "motcua_chat"
SECURE_CHAT_COOKIE = "__Host-motcua_chat"
"""The name over https: the browser then keeps it only if Secure, host-only and path=/."""
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FORWARDING_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")
REFERRER_POLICY = "strict-origin-when-cross-origin"
json_response = partial(web.json_response, dumps=partial(json.dumps, ensure_ascii=False))


def create_web_app(service: Running) -> web.Application:
    quiet_bad_requests()
    app = web.Application(client_max_size=MAX_BODY, middlewares=[errors_middleware])
    app[SERVICE] = service
    app.router.add_get("/", chat_page)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/webhook/telegram", telegram_webhook)
    app.router.add_post("/chat/api/messages", chat_post)
    app.router.add_get("/chat/api/messages", chat_history)
    app.router.add_post("/chat/api/photos", chat_photo)
    app.router.add_static("/chat/static/", STATIC, show_index=False)
    add_ingest_routes(app)
    add_zalo_bot_routes(app, service)
    add_zalo_oa_routes(app, service)
    add_desk_routes(app, service)  # the web staff desk, /staff (bot/desk)
    app.on_response_prepare.append(_security_headers)
    return app


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response: no MIME sniffing, no full URL in Referer, framing only by the
    sites in WEB_FRAME_ANCESTORS (the chat page sets its whole policy itself)."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", REFERRER_POLICY)
    if "Content-Security-Policy" not in headers:
        ancestors = request.app[SERVICE].settings.web_frame_ancestors
        headers["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
    if request.path.startswith("/chat/static/"):
        # Phones must not keep an old chat.js after a deploy; the ETag keeps this cheap.
        headers["Cache-Control"] = "no-cache"


BAD_INPUT = (RecursionError, UnicodeError, OverflowError, ValueError)
"""What parsing a hostile request raises (JSON nested 100,000 deep, bytes that are not UTF-8 in
a header or cookie, dates at the ends of the calendar, …): the sender's fault, answered 400
with one log line. Anything else is our bug and keeps its stack trace."""


PROJECT = Path(__file__).resolve().parent.parent


def _raised_at(error: BaseException) -> str:
    """The last line of our own code the error passed through (file:line), so a one-line log
    still leads to the code that met the bad input."""
    place = "?"
    tb = error.__traceback__
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename)
        if path.is_relative_to(PROJECT) and "site-packages" not in path.parts:
            place = f"{path.relative_to(PROJECT)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return place


def refused_value(error: SQLAlchemyError) -> bool:
    """The database refused a value (SQLSTATE class 22, "data exception": NUL in text on
    PostgreSQL, a number out of range, text that is not UTF-8), as opposed to being down."""
    if isinstance(error, DataError):
        return True
    orig = getattr(error, "orig", None)
    return str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")[:2] == "22"


def _server_error(request: web.Request, error: Exception,
                  what: str = "unexpected error") -> web.Response:
    """503 while the database is unavailable (retry later), else 500; with the stack trace."""
    if is_outage(error):
        log.exception("database unavailable on %s", route_name(request))
        return json_response({"error": "Hệ thống đang bận, vui lòng thử lại sau ít phút."},
                             status=503)
    log.exception("%s on %s", what, route_name(request))
    return json_response({"error": "Xin lỗi, hệ thống gặp trục trặc. Vui lòng thử lại."},
                         status=500)


@web.middleware
async def errors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Never a stack trace to the outside, and none in the log for bad input: a stranger
    cannot fill the log with traces. Log lines name the route and the error's type and place,
    never its message or the request's values (they may hold a citizen's name)."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException:
        raise
    except SQLAlchemyError as error:
        if is_outage(error) or not refused_value(error):
            return _server_error(request, error, "unexpected database error")
        # Bad input, not an outage: a 503 would be retried for ever. Its message may quote the
        # value (asyncpg does), so only the type goes to the log.
        orig = getattr(error, "orig", None)
        log.warning("%s: the database refused a value (SQLSTATE %s at %s)", route_name(request),
                    getattr(orig, "sqlstate", None) or type(orig or error).__name__,
                    _raised_at(error))
        return json_response({"error": "Yêu cầu không hợp lệ."}, status=400)
    except BAD_INPUT as error:
        log.warning("%s: bad request (%s at %s)", route_name(request), type(error).__name__,
                    _raised_at(error))
        return json_response({"error": "Yêu cầu không hợp lệ."}, status=400)
    except Exception as error:  # noqa: BLE001 - logged with its trace by _server_error
        return _server_error(request, error)


# -- operations -----------------------------------------------------------------------------

_warned_unresolved_proxy = False


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _untrusted_forwarding(request: web.Request) -> bool:
    """Whether the request was passed on by a proxy not in TRUSTED_PROXIES (said once in the
    log: behind such a proxy every visitor shares its address, and the address's limits)."""
    trusted = request.app[SERVICE].settings.trusted_proxy_set
    if (request.remote or "") in trusted or not any(h in request.headers
                                                    for h in FORWARDING_HEADERS):
        return False
    global _warned_unresolved_proxy
    if not _warned_unresolved_proxy and _is_loopback(request.remote or ""):
        _warned_unresolved_proxy = True
        log.warning("requests from %s carry X-Forwarded-For but it is not in TRUSTED_PROXIES: "
                    "all visitors share its address and the web chat's limits per address",
                    request.remote)
    return True


def is_local(request: web.Request) -> bool:
    """A caller on this machine: a loopback client address, and not a request a local proxy
    passed on (forwarding headers from a peer not in TRUSTED_PROXIES mean just that)."""
    if _untrusted_forwarding(request):
        return False
    return _is_loopback(client_address(request, request.app[SERVICE].settings.trusted_proxy_set))


def _operator(request: web.Request) -> bool | None:
    """True for the holder of METRICS_TOKEN or a local caller; None when no token was given
    but one is configured (401), False otherwise (403)."""
    token = request.app[SERVICE].settings.metrics_token
    given = bearer_token(request)
    if token and given is not None:
        return secret_matches(given, token)
    if is_local(request):
        return True
    return None if token else False


async def healthz(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    db_ok = await service.db.ping()
    status = 200 if db_ok and service.ready else 503
    body: dict[str, Any] = {
        "status": "degraded" if not db_ok else "ok" if service.ready else "starting",
    }
    if _operator(request):  # the rest tells an outsider which platforms we use and what is down
        body["db"] = "ok" if db_ok else "down"
        body["channels"] = {name: channel.status for name, channel in service.channels.items()}
    return json_response(body, status=status)


async def metrics(request: web.Request) -> web.Response:
    allowed = _operator(request)
    if allowed is None:
        raise web.HTTPUnauthorized(text="metrics need a bearer token",
                                   headers={"WWW-Authenticate": "Bearer"})
    if not allowed:
        raise web.HTTPForbidden(text="metrics are not served to this caller")
    response = web.Response(body=generate_latest())
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response


# -- webhooks -------------------------------------------------------------------------------


async def telegram_webhook(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    channel = service.telegram
    if channel is None or not channel.webhook:
        raise web.HTTPNotFound()
    require_secret(request, "X-Telegram-Bot-Api-Secret-Token", service.settings.telegram_secret)
    body = await request.read()
    try:
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise ValueError("not an update")
        update = channel.parse(data)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):  # parse, json
        # Authenticated but malformed: keep a trace and acknowledge, or Telegram retries forever.
        digest = hashlib.sha256(body).hexdigest()[:24]
        async with service.db.session() as session:
            await claim_update(session, f"telegram:rejected:{digest}", service.clock(),
                               status="rejected")
        log.warning("telegram webhook: malformed update stored as rejected (%s)", digest)
        return json_response({"ok": True})
    try:
        await channel.process_webhook(update)
    except (SQLAlchemyError, OSError) as error:
        if is_outage(error):
            log.exception("telegram webhook: could not store update %s", update.update_id)
            return json_response({"ok": False}, status=503)
        # The database refused this update's data: Telegram would send it again for ever.
        log.exception("telegram webhook: update %s could not be handled", update.update_id)
    return json_response({"ok": True})


# -- web chat -------------------------------------------------------------------------------


async def chat_page(request: web.Request) -> web.StreamResponse:
    ancestors = request.app[SERVICE].settings.web_frame_ancestors
    response = web.FileResponse(STATIC / "chat.html")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; "
        f"frame-ancestors {ancestors}"
    )
    return response


def _secure(request: web.Request) -> bool:
    return served_over_https(request, request.app[SERVICE].settings)


def _session_cookie(request: web.Request) -> str | None:
    """The session cookie as sent; a header that does not even parse counts as none."""
    name = SECURE_CHAT_COOKIE if _secure(request) else CHAT_COOKIE
    try:
        return request.cookies.get(name)
    except Exception:  # noqa: BLE001 - http.cookies on hostile input: treat as no cookie
        return None


async def _visitor(request: web.Request) -> WebSessionRef | None:
    """The session this request's cookie opens; None for no cookie, or one we did not issue,
    or one rotated away or idle too long (those are replaced, never adopted)."""
    return await request.app[SERVICE].web.sessions.find(_session_cookie(request))


def _with_cookie(request: web.Request, response: web.Response,
                 session: WebSessionRef | None) -> web.Response:
    if session is not None and session.renew_cookie:
        service = request.app[SERVICE]
        secure = _secure(request)
        response.set_cookie(
            SECURE_CHAT_COOKIE if secure else CHAT_COOKIE, service.web.sessions.cookie(session),
            max_age=service.settings.web_session_idle_days * 24 * 3600, httponly=True,
            samesite="Lax", secure=secure, path="/")
    return response


def _chat_error(message: str, status: int = 422, field: str | None = None) -> web.Response:
    body = {"error": message} if field is None else {"error": message, "field": field}
    return json_response(body, status=status)


def _wait_words(seconds: float) -> str:
    seconds = max(1, math.ceil(seconds))
    if seconds < 90:
        return text("web.seconds", n=seconds)
    if seconds < 90 * 60:
        return text("web.minutes", n=math.ceil(seconds / 60))
    return text("web.hours", n=math.ceil(seconds / 3600))


async def _over_limit(request: web.Request, namespace: str, key: str, rule: str) -> float | None:
    """Count one event; None while within `rule`, else the seconds until there is room."""
    limiter = request.app[SERVICE].limiter
    if await limiter.hit(namespace, key, rule):
        return None
    return await limiter.retry_after(namespace, key, rule)


def _too_many(message: str, wait: float) -> web.Response:
    response = _chat_error(message, 429)
    response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


def _chat_fields(data: Any) -> dict[str, str | None] | web.Response:
    """The message's fields, each a string of bounded length or absent; else the refusal."""
    if not isinstance(data, dict):
        return _chat_error(text("web.invalid"), 400)
    unknown = [key for key in data if key not in MAX_CHAT_FIELDS]
    if unknown:
        return _chat_error(text("web.invalid"), field=str(unknown[0])[:40])
    fields: dict[str, str | None] = {}
    for name, longest in MAX_CHAT_FIELDS.items():
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            return _chat_error(text("web.invalid"), field=name)
        if value is not None and len(value) > longest:
            if name == "text":
                return _chat_error(text("web.text_too_long", limit=MAX_CHAT_TEXT), 413, name)
            return _chat_error(text("web.invalid"), field=name)
        fields[name] = value
    action, label, client_id = fields["action"], fields["label"], fields["id"]
    if action is not None and (not action or clean_text(action) != action or " " in action):
        return _chat_error(text("web.invalid"), field="action")
    if label is not None:
        fields["label"] = clean_text(label) or None
    if client_id is not None and not CLIENT_ID.match(client_id):
        return _chat_error(text("web.invalid"), field="id")
    if not action and not clean_text(fields["text"]):
        return _chat_error(text("web.empty"), field="text")
    return fields


async def chat_post(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    settings = service.settings
    if request.content_type != "application/json":  # forms from other sites cannot post here
        return _chat_error(text("web.unsupported"), 415)
    _untrusted_forwarding(request)
    address = client_address(request, settings.trusted_proxy_set)
    wait = await _over_limit(request, "web-address", address, settings.rate_limit_web_address)
    if wait is not None:
        return _too_many(text("web.too_fast", wait=_wait_words(wait)), wait)
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _chat_error(text("web.invalid"), 400)
    fields = _chat_fields(data)
    if isinstance(fields, web.Response):
        return fields
    visitor = await _visitor(request)
    if visitor is None:
        wait = await _over_limit(request, "web-new-session", address,
                                 settings.web_new_sessions_per_address)
        if wait is not None:
            if await service.limiter.hit("web-new-session-logged", address, "1/hour"):
                log.warning("web chat: new sessions refused for %s (over %s); said once an hour",
                            address, settings.web_new_sessions_per_address)
            return _too_many(text("web.too_many_sessions", wait=_wait_words(wait)), wait)
        visitor = service.web.sessions.begin()
    wait = await _over_limit(request, "web-session", visitor.chat_id,
                             settings.rate_limit_web_session)
    if wait is not None:
        return _too_many(text("web.too_fast", wait=_wait_words(wait)), wait)
    result = await service.web.converse(
        visitor, text=clean_text(fields["text"]), action=fields["action"],
        label=fields["label"], client_id=fields["id"], origin=address,
    )
    response = json_response({"messages": result.messages, "last_id": result.last_id})
    return _with_cookie(request, response, result.session)


async def chat_photo(request: web.Request) -> web.Response:
    """A photo from the page (the raw file as the body): only in a conversation already
    started, within WEB_PHOTO_MAX_BYTES, and only a JPEG, PNG or WebP by its content."""
    service = request.app[SERVICE]
    settings = service.settings
    if not request.content_type.startswith("image/"):  # no cross-site form can send this
        return _chat_error(text("web.photo_type"), 415)
    limit = settings.web_photo_max_bytes
    if request.content_length is not None and request.content_length > limit:
        return _chat_error(text("web.photo_too_big", mb=limit // (1024 * 1024) or 1), 413)
    _untrusted_forwarding(request)
    address = client_address(request, settings.trusted_proxy_set)
    wait = await _over_limit(request, "web-address", address, settings.rate_limit_web_address)
    if wait is not None:
        return _too_many(text("web.too_fast", wait=_wait_words(wait)), wait)
    visitor = await _visitor(request)
    if visitor is None:
        return _chat_error(text("web.photo_no_chat"), 409)
    wait = await _over_limit(request, "web-session", visitor.chat_id,
                             settings.rate_limit_web_session)
    if wait is not None:
        return _too_many(text("web.too_fast", wait=_wait_words(wait)), wait)
    data = await _read_up_to(request, limit)  # past the app's 1 MiB limit for JSON bodies
    if data is None:
        return _chat_error(text("web.photo_too_big", mb=limit // (1024 * 1024) or 1), 413)
    kind = photo_type(data)
    if kind is None:
        return _chat_error(text("web.photo_type"), 415)
    client_id = request.headers.get("X-Client-Id")
    result = await service.web.photo(visitor, data, kind,
                                     client_id if client_id and CLIENT_ID.match(client_id)
                                     else None)
    response = json_response({"messages": result.messages, "last_id": result.last_id})
    return _with_cookie(request, response, result.session)


async def _read_up_to(request: web.Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is longer than `limit` bytes."""
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def chat_history(request: web.Request) -> web.Response:
    """The chat's messages for the page; without a live session, none (and nothing stored)."""
    service = request.app[SERVICE]
    try:
        after = min(max(0, int(request.query.get("after", "0"))), 2**62)
    except ValueError:
        after = 0
    visitor, messages, last_id = await service.web.poll(_session_cookie(request), after)
    if visitor is None:
        return json_response({"messages": [], "last_id": after})
    return _with_cookie(request, json_response({"messages": messages, "last_id": last_id}),
                        visitor)
