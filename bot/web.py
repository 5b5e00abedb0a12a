"""The aiohttp application: web chat, platform webhooks, health and metrics.

Routes are the contract in DESIGN.md. Bodies are capped before parsing (413), secrets are
compared in constant time, and an update is acknowledged only once it is stored (else 503).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from bot.channels.base import require_secret
from bot.channels.web import chat_id_for
from bot.channels.zalo_bot import add_routes as add_zalo_bot_routes
from bot.channels.zalo_oa import add_routes as add_zalo_oa_routes
from bot.db.repositories import claim_update
from bot.db.session import is_outage
from bot.ingest import add_routes as add_ingest_routes
from bot.messages import clean_text

if TYPE_CHECKING:
    from bot.app import Service

log = logging.getLogger(__name__)

SERVICE = web.AppKey("service", "Service")
STATIC = Path(__file__).parent / "static"
MAX_BODY = 1024 * 1024
MAX_CHAT_TEXT = 4000
CHAT_COOKIE = "motcua_chat"
json_response = partial(web.json_response, dumps=partial(json.dumps, ensure_ascii=False))


def create_web_app(service: Service) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[errors_middleware])
    app[SERVICE] = service
    app.router.add_get("/", chat_page)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/webhook/telegram", telegram_webhook)
    app.router.add_post("/chat/api/messages", chat_post)
    app.router.add_get("/chat/api/messages", chat_history)
    app.router.add_static("/chat/static/", STATIC, show_index=False)
    add_ingest_routes(app)
    add_zalo_bot_routes(app, service)
    add_zalo_oa_routes(app, service)
    app.on_response_prepare.append(_revalidate_static)
    return app


async def _revalidate_static(request: web.Request, response: web.StreamResponse) -> None:
    """Phones must not keep an old chat.js after a deploy; the ETag keeps this cheap."""
    if request.path.startswith("/chat/static/"):
        response.headers["Cache-Control"] = "no-cache"


@web.middleware
async def errors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Never a stack trace to the outside: JSON errors for the API, plain text elsewhere."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException:
        raise
    except Exception as error:
        if is_outage(error):  # the database (or its connection) is down: retry later
            log.exception("database unavailable on %s", request.path)
            return json_response({"error": "Hệ thống đang bận, vui lòng thử lại sau ít phút."},
                                 status=503)
        log.exception("unexpected error on %s", request.path)
        return json_response({"error": "Xin lỗi, hệ thống gặp trục trặc. Vui lòng thử lại."},
                                 status=500)


# -- operations -----------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    db_ok = await service.db.ping()
    body = {
        "status": "degraded" if not db_ok else "ok" if service.ready else "starting",
        "db": "ok" if db_ok else "down",
        "channels": {name: channel.status for name, channel in service.channels.items()},
    }
    return json_response(body, status=200 if db_ok and service.ready else 503)


async def metrics(request: web.Request) -> web.Response:
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
    except (ValueError, TypeError, KeyError, AttributeError):  # what PTB's parsing raises
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
    response = web.FileResponse(STATIC / "chat.html")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _visitor(request: web.Request) -> tuple[str, str | None]:
    """(chat id, new cookie to set or None)."""
    cookie = request.cookies.get(CHAT_COOKIE, "")
    if len(cookie) < 16 or len(cookie) > 64:
        cookie = secrets.token_urlsafe(24)
        return chat_id_for(cookie), cookie
    return chat_id_for(cookie), None


def _with_cookie(request: web.Request, response: web.Response, cookie: str | None) -> web.Response:
    if cookie:
        response.set_cookie(CHAT_COOKIE, cookie, max_age=180 * 24 * 3600, httponly=True,
                            samesite="Lax", secure=request.secure, path="/")
    return response


def _chat_error(message: str, status: int = 422) -> web.Response:
    return json_response({"error": message}, status=status)


async def chat_post(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    chat_id, cookie = _visitor(request)
    if request.content_type != "application/json":  # forms from other sites cannot post here
        return _chat_error("Tin nhắn không hợp lệ. Anh/chị vui lòng thử lại.", 415)
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError):
        return _chat_error("Tin nhắn không hợp lệ. Anh/chị vui lòng thử lại.", 400)
    if not isinstance(data, dict):
        return _chat_error("Tin nhắn không hợp lệ. Anh/chị vui lòng thử lại.", 400)
    text, action = data.get("text"), data.get("action")
    label, client_id = data.get("label"), data.get("id")
    if action is not None and not isinstance(action, str) or (
        text is not None and not isinstance(text, str)
    ):
        return _chat_error("Tin nhắn không hợp lệ. Anh/chị vui lòng thử lại.")
    if isinstance(text, str) and len(text) > MAX_CHAT_TEXT * 3:
        return _chat_error(f"Tin nhắn quá dài, vui lòng gõ dưới {MAX_CHAT_TEXT} ký tự.", 413)
    client_id = client_id if isinstance(client_id, str) and len(client_id) <= 64 else None
    messages, last_id = await service.web.converse(
        chat_id, text=clean_text(text or ""), action=action,
        label=label if isinstance(label, str) else None, client_id=client_id,
    )
    return _with_cookie(request, json_response({"messages": messages, "last_id": last_id}),
                        cookie)


async def chat_history(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    chat_id, cookie = _visitor(request)
    try:
        after = max(0, int(request.query.get("after", "0")))
    except ValueError:
        after = 0
    messages = [] if cookie else await service.web.history(chat_id, after)
    last_id = max((m["id"] for m in messages), default=after)
    return _with_cookie(request, json_response({"messages": messages, "last_id": last_id}),
                        cookie)
