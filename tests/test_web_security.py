"""The web chat and HTTP exposure under attack, over real HTTP against the real Service:
server-issued signed sessions, bounded fields, rate limits, rotation, idle expiry, hostile
headers, poison rows, /metrics and /healthz, security headers."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any

import aiohttp
import pytest
from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy import func, select
from sqlalchemy import text as sql

from bot.app import Service
from bot.config import Settings
from bot.db import dossiers as repo
from bot.db.dossiers import DossierFields
from bot.db.models import (
    Citizen,
    Conversation,
    Identity,
    ProcessedUpdate,
    WebMessage,
    WebSession,
)
from bot.messages import ChatRef, Incoming, Outgoing
from tests.conftest import make_settings

API = "/chat/api/messages"
COOKIE = "motcua_chat"
SALT = "motcua.web-chat.session"
REMOTE = {"X-Forwarded-For": "203.0.113.7"}
"""A client beyond the trusted proxy (the tests' peer is 127.0.0.1)."""
TABLES = (Citizen, Identity, Conversation, WebMessage, WebSession, ProcessedUpdate)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def start(database_url: str) -> Callable[..., Any]:
    """`async with start(SETTING=value, clock=…) as service` on the test database."""

    class Started:
        def __init__(self, clock: Callable[[], datetime] | None = None,
                     **overrides: object) -> None:
            settings = make_settings(database_url, **overrides)
            self.service = Service(settings, **({"clock": clock} if clock else {}))

        async def __aenter__(self) -> Service:
            await self.service.start()
            return self.service

        async def __aexit__(self, *exc: object) -> None:
            await self.service.stop()

    return Started


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[Service]:
    async with Service(settings) as svc:
        yield svc


def url(service: Service, path: str = API) -> str:
    return f"http://127.0.0.1:{service.port}{path}"


def set_cookie(response: aiohttp.ClientResponse, name: str = COOKIE) -> str | None:
    """The value of the session cookie the response sets (None when it sets none)."""
    for header in response.headers.getall("Set-Cookie", []):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        if name in jar:
            return jar[name].value
    return None


def signed_by(settings: Settings, cookie: str) -> bool:
    try:
        TimestampSigner(settings.secret, salt=SALT).unsign(cookie)
    except BadSignature:
        return False
    return True


async def post(http: aiohttp.ClientSession, service: Service, body: Any, cookie: str | None = None,
               headers: dict[str, str] | None = None) -> tuple[int, Any, str | None]:
    all_headers = dict(headers or {})
    if cookie is not None:
        all_headers["Cookie"] = f"{COOKIE}={cookie}"
    async with http.post(url(service), json=body, headers=all_headers) as response:
        return response.status, await response.json(), set_cookie(response)


async def history(http: aiohttp.ClientSession, service: Service,
                  cookie: str | None) -> tuple[list[dict[str, Any]], str | None]:
    headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
    async with http.get(url(service, f"{API}?after=0"), headers=headers) as response:
        assert response.status == 200
        return (await response.json())["messages"], set_cookie(response)


async def counts(service: Service) -> dict[str, int]:
    async with service.db.session() as session:
        return {table.__tablename__: int(await session.scalar(
            select(func.count()).select_from(table)) or 0) for table in TABLES}


def bare_session() -> aiohttp.ClientSession:
    """A client that keeps no cookies: every request says exactly what the test gives it."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())


# -- sessions are issued by the server only ---------------------------------------------------


def made_up_cookies(count: int) -> list[str]:
    """What an attacker tries: plausible random values, our format signed with a guessed key,
    and plain junk."""
    forger = TimestampSigner(b"guessed-secret", salt=SALT)
    values = []
    for n in range(count):
        kind = n % 3
        if kind == 0:
            values.append(secrets.token_urlsafe(12 + n % 36))
        elif kind == 1:
            values.append(forger.sign(secrets.token_urlsafe(32)).decode())
        else:
            values.append(f"{secrets.token_hex(10)}.{n}.x")
    return values


async def test_made_up_cookies_are_never_adopted(start: Callable[..., Any]) -> None:
    async with start(web_new_sessions_per_address="1000/hour", rate_limit_web_address="") \
            as service, bare_session() as http:
        made_up = made_up_cookies(210)
        issued = set()
        for cookie in made_up:
            status, body, fresh = await post(http, service, {"text": "/start"}, cookie)
            assert status == 200 and "em chào anh/chị" in body["messages"][0]["text"]
            assert fresh is not None and fresh != cookie
            assert signed_by(service.settings, fresh)
            issued.add(fresh)
        assert len(issued) == 210
        # None of the made-up values opens anything, now that each started a conversation.
        for cookie in made_up[:30]:
            assert await history(http, service, cookie) == ([], None)
        rows = await counts(service)
        assert rows["identities"] == rows["citizens"] == rows["web_sessions"] == 210


async def test_a_flood_of_made_up_cookies_hits_the_new_session_limit(
    start: Callable[..., Any], caplog: pytest.LogCaptureFixture,
) -> None:
    statuses = []
    async with start(rate_limit_web_address="") as service, bare_session() as http:
        limit = int(service.settings.web_new_sessions_per_address.split("/")[0])  # the default
        for cookie in made_up_cookies(220):
            status, body, fresh = await post(http, service, {"text": "/start"}, cookie)
            statuses.append(status)
            if status == 200:
                assert fresh is not None and signed_by(service.settings, fresh)
            else:
                assert status == 429 and fresh is None
                assert "quá nhiều cuộc trò chuyện mới" in body["error"]
                assert "vui lòng đợi" in body["error"] and "phút" in body["error"]
        rows = await counts(service)
    assert statuses == [200] * limit + [429] * (220 - limit)
    assert sum("new sessions refused" in r.getMessage() for r in caplog.records) == 1
    assert rows["citizens"] == rows["identities"] == rows["web_sessions"] == limit
    assert rows["processed_updates"] == limit


async def test_the_new_session_limit_counts_the_real_client_behind_the_proxy(
    start: Callable[..., Any],
) -> None:
    async with start(web_new_sessions_per_address="2/hour", trusted_proxies="127.0.0.1") \
            as service, bare_session() as http:
        first = {"X-Forwarded-For": "198.51.100.1"}
        assert [(await post(http, service, {"text": "/start"}, headers=first))[0]
                for _ in range(3)] == [200, 200, 429]
        other = {"X-Forwarded-For": "198.51.100.2"}
        assert (await post(http, service, {"text": "/start"}, headers=other))[0] == 200
    async with start(web_new_sessions_per_address="2/hour") as service, bare_session() as http:
        spoofed = [{"X-Forwarded-For": f"198.51.100.{n}"} for n in range(3)]  # not believed
        assert [(await post(http, service, {"text": "/start"}, headers=h))[0]
                for h in spoofed] == [200, 200, 429]


async def test_a_cookie_we_issued_keeps_the_conversation(service: Service) -> None:
    async with bare_session() as http:
        _, _, cookie = await post(http, service, {"text": "/start"})
        assert cookie is not None
        status, _, again = await post(http, service, {"text": "xin chào"}, cookie)
        assert status == 200 and again is None  # nothing to renew within the hour
        messages, _ = await history(http, service, cookie)
    assert [m["from"] for m in messages] == ["bot", "user", "bot"]
    assert (await counts(service))["web_sessions"] == 1


async def test_a_page_load_and_history_polls_store_nothing(service: Service) -> None:
    async with bare_session() as http:
        async with http.get(url(service, "/")) as response:
            assert response.status == 200 and set_cookie(response) is None
        for cookie in (None, "x" * 40, made_up_cookies(2)[1]):
            assert await history(http, service, cookie) == ([], None)
    assert set((await counts(service)).values()) == {0}


# -- every field bounded ----------------------------------------------------------------------


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"action": "menu", "label": "x" * 1_000_000}, 422, "label"),
    ({"action": "menu", "label": "x" * 201}, 422, "label"),
    ({"action": "menu", "label": ["Tra cứu"]}, 422, "label"),
    ({"action": 5}, 422, "action"),
    ({"action": "a" * 129}, 422, "action"),
    ({"action": "menu\u0000x"}, 422, "action"),
    ({"action": ""}, 422, "action"),
    ({"text": "xin chào", "id": {"n": 1}}, 422, "id"),
    ({"text": "xin chào", "id": "có dấu"}, 422, "id"),
    ({"text": "xin chào", "id": "x" * 65}, 422, "id"),
    ({"text": "xin chào", "extra": "x" * 100_000}, 422, "extra"),
    ({"text": "a" * 12_001}, 413, "text"),
    ({"text": True}, 422, "text"),
    ({}, 422, "text"),
    ({"text": " \u0007 "}, 422, "text"),
])
async def test_every_field_is_checked_and_a_refusal_stores_nothing(
    service: Service, body: dict[str, Any], status: int, field: str,
) -> None:
    async with bare_session() as http:
        got, answer, cookie = await post(http, service, body)
    assert (got, answer.get("field"), cookie) == (status, field, None)
    assert answer["error"].startswith("Dạ,") and "vui lòng" in answer["error"].lower()
    assert set((await counts(service)).values()) == {0}


async def test_a_button_label_within_the_cap_is_the_citizens_side(service: Service) -> None:
    async with bare_session() as http:
        _, body, cookie = await post(http, service, {"text": "/start"})
        action = body["messages"][0]["buttons"][0][0]["action"]
        label = "Tra cứu thủ tục \u202e"  # a bidi override is not kept
        status, _, _ = await post(http, service, {"action": action, "label": label}, cookie)
        messages, _ = await history(http, service, cookie)
    assert status == 200
    assert [m["text"] for m in messages if m["from"] == "user"] == ["Tra cứu thủ tục"]


# -- rate limits ------------------------------------------------------------------------------


async def test_messages_are_limited_per_session_with_a_polite_answer(
    start: Callable[..., Any],
) -> None:
    async with start(rate_limit_web_session="3/minute") as service, bare_session() as http:
        _, _, cookie = await post(http, service, {"text": "/start"})
        statuses = [(await post(http, service, {"text": "khai sinh"}, cookie))[0]
                    for _ in range(2)]
        async with http.post(url(service), json={"text": "khai sinh"},
                             headers={"Cookie": f"{COOKIE}={cookie}"}) as response:
            refused = response.status, await response.json(), response.headers["Retry-After"]
        assert statuses == [200, 200]
        assert refused[0] == 429 and 1 <= int(refused[2]) <= 60
        assert refused[1]["error"].startswith("Dạ, anh/chị gửi nhanh quá")
        assert "giây rồi thử lại" in refused[1]["error"]
        # Another visitor is not held up by this one.
        assert (await post(http, service, {"text": "/start"}))[0] == 200


async def test_messages_are_limited_per_address_across_sessions(
    start: Callable[..., Any],
) -> None:
    async with start(rate_limit_web_address="4/minute") as service, bare_session() as http:
        statuses = [(await post(http, service, {"text": "/start"}))[0] for _ in range(5)]
        assert statuses == [200] * 4 + [429]
        assert (await counts(service))["web_sessions"] == 4


async def test_each_message_carries_the_client_address(start: Callable[..., Any]) -> None:
    async with start(trusted_proxies="127.0.0.1") as service, bare_session() as http:
        seen: list[str | None] = []
        handle = service.core.handle

        async def spy(msg: Incoming) -> list[Outgoing]:
            seen.append(msg.origin)
            return await handle(msg)

        service.core.handle = spy  # type: ignore[method-assign]
        await post(http, service, {"text": "/start"}, headers={
            "X-Forwarded-For": "192.0.2.9, 198.51.100.20"})  # the proxy appended the client
        await post(http, service, {"text": "/start"})
    assert seen == ["198.51.100.20", "127.0.0.1"]


# -- rotation and lifetime --------------------------------------------------------------------

CODE = "000.00.01.H29-260105-0001"


async def test_unlocking_a_dossier_rotates_the_session(service: Service) -> None:
    now = service.clock()
    async with service.db.session() as session:
        await repo.upsert_dossier(session, DossierFields(
            code=CODE, procedure_code="1.000894", procedure_name="Đăng ký kết hôn",
            applicant_name="Nguyễn Văn An", phone="0912345678", received_at=now,
            due_at=now + timedelta(days=3)), now)
    async with bare_session() as http:
        _, _, old = await post(http, service, {"text": "/start"})
        status, body, same = await post(http, service, {"text": f"/hoso {CODE}"}, old)
        assert status == 200 and same is None and "4 số cuối" in body["messages"][-1]["text"]
        status, body, new = await post(http, service, {"text": "5678"}, old)
        assert status == 200 and f"thông tin hồ sơ {CODE}" in body["messages"][-1]["text"]
        assert new is not None and new != old and signed_by(service.settings, new)
        assert await history(http, service, old) == ([], None)  # the old cookie opens nothing
        messages, _ = await history(http, service, new)
        assert f"thông tin hồ sơ {CODE}" in messages[-1]["text"]
        assert [m["text"] for m in messages if m["from"] == "user"][-1] == "5678"
        status, body, _ = await post(http, service, {"text": "/start"}, new)
        assert status == 200
    rows = await counts(service)
    assert rows["web_sessions"] == 1 and rows["identities"] == 1


async def test_an_idle_session_ends_and_each_use_extends_it(start: Callable[..., Any]) -> None:
    clock = Clock()
    async with start(clock=clock, web_session_idle_days=30) as service, bare_session() as http:
        _, _, cookie = await post(http, service, {"text": "/start"})
        clock.now += timedelta(days=20)
        messages, renewed = await history(http, service, cookie)
        assert len(messages) == 1 and renewed is not None and renewed != cookie
        clock.now += timedelta(days=25)  # 45 days after the first visit, 25 after the last
        assert len((await history(http, service, renewed))[0]) == 1
        clock.now += timedelta(days=31)
        assert await history(http, service, renewed) == ([], None)
        status, _, fresh = await post(http, service, {"text": "/start"}, renewed)
        assert status == 200 and fresh not in (None, renewed)
        assert len((await history(http, service, fresh))[0]) == 1  # a new conversation


async def test_cookie_flags_over_http_and_behind_a_tls_proxy(start: Callable[..., Any]) -> None:
    async with start() as service, bare_session() as http:
        async with http.post(url(service), json={"text": "/start"}) as response:
            header = response.headers["Set-Cookie"]
    assert header.startswith(f"{COOKIE}=")
    lowered = header.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "path=/" in lowered
    assert f"max-age={30 * 24 * 3600}" in lowered and "secure" not in lowered

    async with start(trusted_proxies="127.0.0.1") as service, bare_session() as http:
        tls = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.3"}
        async with http.post(url(service), json={"text": "/start"}, headers=tls) as response:
            header = response.headers["Set-Cookie"]
            cookie = set_cookie(response, "__Host-motcua_chat")
        assert header.startswith("__Host-motcua_chat=") and "; secure" in header.lower()
        async with http.get(url(service, f"{API}?after=0"), headers={
                **tls, "Cookie": f"__Host-motcua_chat={cookie}"}) as response:
            assert len((await response.json())["messages"]) == 1

    async with start() as service, bare_session() as http:  # an untrusted peer's claim
        async with http.post(url(service), json={"text": "/start"},
                             headers={"X-Forwarded-Proto": "https"}) as response:
            assert "secure" not in response.headers["Set-Cookie"].lower()

    async with start(public_base_url="https://motcua.example.gov.vn") as service, \
            bare_session() as http:
        async with http.post(url(service), json={"text": "/start"}) as response:
            header = response.headers["Set-Cookie"]
        assert header.startswith("__Host-motcua_chat=") and "; secure" in header.lower()


# -- hostile bytes and poison rows ------------------------------------------------------------


async def raw_request(port: int, head: bytes, body: bytes = b"") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer


@pytest.mark.parametrize("cookie", [
    b"motcua_chat=\xff\xfe\xfdabcdefghijklmnopqrstuvwxyz",
    b"\xc3\x28=\x80; motcua_chat=\"unterminated",
    b"motcua_chat=" + "é".encode() * 30,
    b"motcua_chat=" + b"a" * 30 + b"\x00" + b"b" * 30,
    b"=;=;;motcua_chat",
])
async def test_a_malformed_cookie_header_is_no_500(service: Service, cookie: bytes,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    body = b'{"text": "/start"}'
    answer = await raw_request(service.port, b"POST /chat/api/messages HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Type: application/json\r\nCookie: " + cookie + b"\r\n",
                               body)
    status = answer.split(b" ", 2)[1]
    assert status in (b"200", b"400"), answer[:100]  # 400: aiohttp's parser refuses NUL
    if status == b"200":
        assert b"Set-Cookie: motcua_chat=" in answer  # replaced, not adopted
    answer = await raw_request(service.port, b"GET /chat/api/messages?after=0 HTTP/1.1\r\n"
                               b"Host: x\r\nCookie: " + cookie + b"\r\n")
    assert answer.split(b" ", 2)[1] in (b"200", b"400")
    assert b"Set-Cookie" not in answer
    assert not [r for r in caplog.records if r.exc_info], "a stack trace was logged"


async def test_corrupt_rows_do_not_break_the_history(service: Service,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    async with bare_session() as http:
        _, _, cookie = await post(http, service, {"text": "/start"})
        async with service.db.session() as session:
            chat_id = await session.scalar(
                select(Identity.chat_id).where(Identity.channel == "web"))
            for payload in ([1, 2], "chữ", {"text": 5}, {"from": "admin", "text": "x"},
                            {"text": "x", "buttons": "no"}, {"text": "x", "buttons": [[7]]}):
                session.add(WebMessage(chat_id=chat_id, payload=payload))
            if service.settings.is_sqlite:  # PostgreSQL refuses invalid JSON on insert
                await session.execute(sql(
                    "INSERT INTO web_messages (chat_id, payload, created_at) "
                    "VALUES (:chat, '{not json', '2026-01-01 00:00:00')"), {"chat": chat_id})
        await service.web.send(ChatRef("web", chat_id), Outgoing("Tin sau cùng"))
        messages, _ = await history(http, service, cookie)
        assert [m["text"] for m in messages][-1] == "Tin sau cùng" and len(messages) == 2
        async with http.get(url(service, f"{API}?after={messages[0]['id']}"),
                            headers={"Cookie": f"{COOKIE}={cookie}"}) as response:
            body = await response.json()
        assert [m["text"] for m in body["messages"]] == ["Tin sau cùng"]
        assert body["last_id"] == messages[-1]["id"]
    skipped = [r for r in caplog.records if "not readable" in r.getMessage()]
    assert len(skipped) >= 6 and all(r.exc_info is None for r in skipped)


# -- exposure ---------------------------------------------------------------------------------


async def test_metrics_only_for_loopback_or_the_token(start: Callable[..., Any]) -> None:
    async with start(trusted_proxies="127.0.0.1") as service, bare_session() as http:
        async with http.get(url(service, "/metrics")) as response:
            assert response.status == 200  # on this machine
        async with http.get(url(service, "/metrics"), headers=REMOTE) as response:
            assert response.status == 403
    async with start() as service, bare_session() as http:  # a local proxy we were not told of
        async with http.get(url(service, "/metrics"), headers=REMOTE) as response:
            assert response.status == 403
    token = "metrics-token-0123456789"
    async with start(trusted_proxies="127.0.0.1", metrics_token=token) as service, \
            bare_session() as http:
        async with http.get(url(service, "/metrics"), headers=REMOTE) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"] == "Bearer"
        for wrong in ("Bearer nope", f"Basic {token}", f"Bearer {token}x"):
            async with http.get(url(service, "/metrics"),
                                headers={**REMOTE, "Authorization": wrong}) as response:
                assert response.status == 403
        async with http.get(url(service, "/metrics"), headers={
                **REMOTE, "Authorization": f"Bearer {token}"}) as response:
            assert response.status == 200 and "motcua_updates_total" in await response.text()
        answer = await raw_request(service.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
                                   b"X-Forwarded-For: 203.0.113.7\r\n"
                                   b"Authorization: Bearer \xff\xfe" + token.encode() + b"\r\n")
        assert answer.startswith(b"HTTP/1.1 403")


async def test_public_health_says_only_the_status(start: Callable[..., Any]) -> None:
    token = "metrics-token-0123456789"
    async with start(trusted_proxies="127.0.0.1", metrics_token=token) as service, \
            bare_session() as http:
        async with http.get(url(service, "/healthz"), headers=REMOTE) as response:
            assert (response.status, await response.json()) == (200, {"status": "ok"})
        async with http.get(url(service, "/healthz"), headers={
                **REMOTE, "Authorization": f"Bearer {token}"}) as response:
            assert await response.json() == {"status": "ok", "db": "ok",
                                             "channels": {"web": "ok"}}
        async with http.get(url(service, "/healthz")) as response:  # loopback: all of it
            assert (await response.json())["channels"] == {"web": "ok"}


async def test_security_headers_and_framing(start: Callable[..., Any]) -> None:
    portal = "https://dichvucong.example.gov.vn"
    async with start(web_frame_ancestors=f"self {portal}") as service, \
            bare_session() as http:
        for path in ("/chat/static/chat.js", "/chat/static/chat.css", "/chat/static/chat.html",
                     "/", f"{API}?after=0"):
            async with http.get(url(service, path)) as response:
                assert response.status == 200, path
                assert response.headers["X-Content-Type-Options"] == "nosniff", path
                assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
                policy = response.headers["Content-Security-Policy"]
                assert f"frame-ancestors 'self' {portal}" in policy, path
        async with http.get(url(service, "/")) as response:
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("value", ["'self'; script-src *", "", "javascript:alert(1)",
                                   "'none' 'self'", "https://a.example\nX: y"])
def test_frame_ancestors_setting_is_validated(value: str) -> None:
    with pytest.raises(ValueError, match="WEB_FRAME_ANCESTORS|web_frame_ancestors"):
        make_settings("sqlite+aiosqlite:///x.db", web_frame_ancestors=value)


@pytest.mark.parametrize("name", ["rate_limit_web_session", "rate_limit_web_address",
                                  "web_new_sessions_per_address"])
def test_rate_rules_are_validated(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        make_settings("sqlite+aiosqlite:///x.db", **{name: "lots per minute"})
