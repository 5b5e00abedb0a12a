"""Crafted requests to every route (RELIABILITY.md check 17): JSON nested 100,000 deep, bytes
that are not UTF-8 in the `Authorization`, cookie and webhook-secret headers. Each gets a 4xx
and at most one log line, never a 500 and never a stack trace: a stranger must not be able to
fill the log with traces. The requests are written byte by byte over a socket, as an attacker
would, because HTTP clients refuse to send such headers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import text

from bot.app import Service
from bot.db.session import Database
from bot.web import errors_middleware
from tests.conftest import make_settings
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_bot_api import FakeZaloBot
from tests.fakes.zalo_oa_api import FakeZaloOA

TELEGRAM_TOKEN = "123456:TEST-token-for-the-fake-api_abcdefghij"
TELEGRAM_SECRET = "s3cret_Value-1"
ZALO_BOT_TOKEN = "1234567890:zalo-bot-token-for-the-fake-api"
ZALO_BOT_SECRET = "zalo-secret-123"
INGEST_TOKEN = "ingest-Token_0123456789abcdef"

DEEP_JSON = b"[" * 100_000
NOT_UTF8 = b"\xff\xfe\xc3(\x80"
ROUTES = [
    ("GET", "/"), ("GET", "/healthz"), ("GET", "/metrics"),
    ("POST", "/webhook/telegram"), ("POST", "/webhook/zalo-bot"), ("POST", "/webhook/zalo-oa"),
    ("GET", "/chat/api/messages"), ("POST", "/chat/api/messages"),
    ("GET", "/chat/static/chat.js"),
    ("PUT", "/api/v1/dossiers/000.00.01.H29-260105-0001"),
    ("POST", "/api/v1/dossiers/000.00.01.H29-260105-0001/events"),
]
ATTACKS: dict[str, tuple[dict[str, bytes], bytes]] = {
    "deep JSON": ({"Content-Type": b"application/json"}, DEEP_JSON),
    "non-UTF-8 Authorization": ({"Authorization": b"Bearer " + NOT_UTF8}, b"{}"),
    "non-UTF-8 cookie": ({"Cookie": b"motcua_chat=" + NOT_UTF8 + b"a" * 20}, b"{}"),
    "non-UTF-8 secret headers": ({"X-Telegram-Bot-Api-Secret-Token": NOT_UTF8,
                                  "X-Bot-Api-Secret-Token": NOT_UTF8,
                                  "X-ZEvent-Signature": b"mac=" + NOT_UTF8}, b"{}"),
}


async def raw_request(port: int, method: str, path: str, headers: dict[str, bytes],
                      body: bytes) -> int:
    """Send one request exactly as given; the response's status code."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close",
            b"Content-Type: application/json", f"Content-Length: {len(body)}".encode()]
    head += [name.encode() + b": " + value for name, value in headers.items()
             if name != "Content-Type"]
    writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
    await writer.drain()
    status_line = await reader.readline()
    await reader.read()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


def assert_one_line_no_trace(caplog: pytest.LogCaptureFixture, what: str) -> None:
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [r for r in records if r.exc_info], f"{what}: a stack trace was logged"
    assert len(records) <= 1, f"{what}: {[r.getMessage() for r in records]}"
    assert not [r for r in records if r.levelno >= logging.ERROR], what


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[Service]:
    """Every route on: the ingest API, and the three platforms in webhook mode."""
    async with FakeTelegram() as telegram, FakeZaloBot(token=ZALO_BOT_TOKEN) as zalo_bot, \
            FakeZaloOA() as oa:
        settings = make_settings(
            database_url, ingest_api_token=INGEST_TOKEN,
            public_base_url="https://motcua.example.gov.vn",
            telegram_bot_token=TELEGRAM_TOKEN, telegram_api_base_url=telegram.base_url,
            telegram_webhook_secret=TELEGRAM_SECRET,
            zalo_bot_token=ZALO_BOT_TOKEN, zalo_bot_api_base_url=zalo_bot.base_url,
            zalo_bot_webhook_secret=ZALO_BOT_SECRET, **oa.settings())
        async with Service(settings) as running:
            yield running


async def test_crafted_requests_to_every_route_get_4xx_and_one_line(
        service: Service, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    for attack, (headers, body) in ATTACKS.items():
        for method, path in ROUTES:
            caplog.clear()
            status = await raw_request(service.port, method, path, headers, body)
            what = f"{attack} to {method} {path}"
            assert status < 500, f"{what}: {status}"
            assert_one_line_no_trace(caplog, what)


@pytest.mark.parametrize(("path", "header", "secret"), [
    ("/webhook/telegram", "X-Telegram-Bot-Api-Secret-Token", TELEGRAM_SECRET),
    ("/webhook/zalo-bot", "X-Bot-Api-Secret-Token", ZALO_BOT_SECRET),
])
async def test_non_utf8_webhook_secrets_are_refused_like_wrong_ones(
        service: Service, caplog: pytest.LogCaptureFixture, path: str, header: str,
        secret: str) -> None:
    # The right secret with one byte of garbage appended, and garbage alone.
    for value in (secret.encode() + b"\xff", NOT_UTF8):
        caplog.clear()
        assert await raw_request(service.port, "POST", path, {header: value}, b"{}") == 403
        assert_one_line_no_trace(caplog, path)


async def test_zalo_oa_signature_not_utf8_or_over_deep_json_is_403(
        service: Service, caplog: pytest.LogCaptureFixture) -> None:
    for headers, body in (({"X-ZEvent-Signature": b"mac=" + NOT_UTF8},
                           b'{"timestamp": "1", "app_id": "x"}'),
                          ({"X-ZEvent-Signature": b"mac=00"}, DEEP_JSON)):
        caplog.clear()
        assert await raw_request(service.port, "POST", "/webhook/zalo-oa", headers, body) == 403
        assert_one_line_no_trace(caplog, "zalo-oa")


async def test_deep_json_from_an_authenticated_sender_is_not_a_500(
        service: Service, caplog: pytest.LogCaptureFixture) -> None:
    for path, headers, expected in (
            ("/api/v1/dossiers/000.00.01.H29-260105-0001",
             {"Authorization": f"Bearer {INGEST_TOKEN}".encode()}, {400}),
            # stored as rejected and acknowledged, or Zalo would send it again for ever
            ("/webhook/zalo-bot", {"X-Bot-Api-Secret-Token": ZALO_BOT_SECRET.encode()}, {200}),
            ("/webhook/telegram",
             {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET.encode()}, {200, 400})):
        caplog.clear()
        method = "PUT" if path.startswith("/api") else "POST"
        assert await raw_request(service.port, method, path, headers, DEEP_JSON) in expected
        assert_one_line_no_trace(caplog, path)


# -- the middleware alone ---------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "status", "traced"), [
    ("overflow", 400, False), ("unicode", 400, False), ("value", 400, False),
    ("recursion", 400, False), ("key", 500, True),
])
async def test_bad_input_is_400_in_one_line_and_a_bug_keeps_its_trace(
        caplog: pytest.LogCaptureFixture, kind: str, status: int, traced: bool) -> None:
    errors: dict[str, BaseException] = {
        "overflow": OverflowError("date value out of range"),
        "unicode": UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates not allowed"),
        "value": ValueError("invalid literal for int() with base 10: 'Nguyễn Văn An'"),
        "recursion": RecursionError("maximum recursion depth exceeded"),
        "key": KeyError("Nguyễn Văn An"),
    }

    async def handler(request: web.Request) -> web.Response:
        raise errors[kind]

    app = web.Application(middlewares=[errors_middleware])
    app.router.add_get("/r/{code}", handler)
    caplog.set_level(logging.INFO)
    async with TestServer(app, host="127.0.0.1") as server:
        assert await raw_request(server.port, "GET", "/r/secret-path", {}, b"") == status
    records = [r for r in caplog.records if r.name == "bot.web"]
    assert len(records) == 1
    assert bool(records[0].exc_info) is traced
    assert "/r/{code}" in records[0].getMessage()
    if not traced:  # the message may quote the input: only its type and place are logged
        line = records[0].getMessage()
        assert "Nguyễn" not in line and "secret-path" not in line, line


@pytest.mark.parametrize("value", ["Nguyễn Văn An \ud800", "Nguyễn Văn An\x00"],
                         ids=["unpaired surrogate", "NUL"])
async def test_a_value_the_database_refuses_is_400_not_an_outage(
        database_url: str, caplog: pytest.LogCaptureFixture, value: str) -> None:
    """Whatever a route forgot to validate: a value the database refuses is the sender's
    fault (400, one line without the value), not an outage (a 503 is retried for ever)."""
    db = Database(database_url)

    async def handler(request: web.Request) -> web.Response:
        async with db.session() as session:
            await session.execute(text("SELECT CAST(:v AS TEXT)"), {"v": value})
        return web.json_response({})

    app = web.Application(middlewares=[errors_middleware])
    app.router.add_get("/r", handler)
    caplog.set_level(logging.INFO)
    try:
        async with TestServer(app, host="127.0.0.1") as server:
            status = await raw_request(server.port, "GET", "/r", {}, b"")
    finally:
        await db.dispose()
    sqlite_stores_nul = "\x00" in value and db.dialect == "sqlite"
    assert status == (200 if sqlite_stores_nul else 400)
    assert_one_line_no_trace(caplog, value)
    assert "Nguyễn" not in caplog.text
