"""The web staff desk over real HTTP (a Service on 127.0.0.1, a real database): accounts,
login, CSRF, session rotation, lockout, the authorisation matrix (every desk route × role ×
in/out of scope), and an officer's reply reaching the citizen's web chat."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import html
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import Service
from bot.config import Settings
from bot.db import dossiers as dossier_repo
from bot.db import feedback as tickets
from bot.db.models import AuditLog
from bot.desk import accounts
from bot.desk.accounts import LOCKOUT, MAX_FAILURES

PASSWORD = "mật khẩu đủ dài 2026"
START = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@contextlib.asynccontextmanager
async def staffed(settings: Settings, clock: Clock) -> AsyncIterator[Service]:
    """A running service with an admin, an officer of each of communes 4543 and 4544, and a
    leader of 4543 (the desk's other test modules use it too)."""
    async with Service(settings, clock=clock) as svc:
        async with svc.db.session() as session:
            for name, role, communes in [("quantri", "admin", []),
                                         ("canbo_a", "officer", ["4543"]),
                                         ("canbo_b", "officer", ["4544"]),
                                         ("lanhdao_a", "leader", ["4543"])]:
                await accounts.add_account(session, name, role, communes, PASSWORD, START)
        yield svc


@pytest.fixture
async def service(settings: Settings, clock: Clock) -> AsyncIterator[Service]:
    async with staffed(settings, clock) as svc:
        yield svc


async def new_ticket(service: Service, commune: str | None, description: str) -> str:
    async with service.db.session() as session:
        ticket = tickets.Ticket(channel="web", chat_id="w-nobody", category="ha_tang",
                                description=description, commune_code=commune,
                                status=tickets.OPEN, created_at=START,
                                due_at=START + timedelta(days=5))
        await tickets.add_ticket(session, ticket, START)
        await tickets.add_message(session, ticket, "citizen", description, now=START)
        return ticket.code


async def add_web_photo(service: Service, code: str, data: bytes = b"\x89PNG\r\n\x1a\n") -> int:
    """A photo the citizen sent from the web chat to ticket `code` (stored as the web chat
    stores it); its id."""
    from bot.db.models import WebPhoto

    async with service.db.session() as session:
        ticket = await tickets.get_ticket(session, code)
        assert ticket is not None
        photo = WebPhoto(chat_id=ticket.chat_id, content_type="image/png", data=data,
                         created_at=START)
        session.add(photo)
        await session.flush()
        await tickets.add_message(session, ticket, "citizen", "(Ảnh đính kèm)", now=START,
                                  attachments=[{"channel": "web", "file_id": f"web:{photo.id}"}])
        return photo.id


async def new_dossier(service: Service, commune: str | None, code: str, *,
                      delayed: bool = True) -> str:
    """A marriage registration of `commune` received at START; `delayed`: put off with an
    apology, so the desk has a slip to print for it."""
    async with service.db.session() as session:
        result = await dossier_repo.upsert_dossier(session, dossier_repo.DossierFields(
            code=code, procedure_code="1.000894", procedure_name="Đăng ký kết hôn",
            applicant_name="Nguyễn Văn An", phone="0912345678", received_at=START,
            due_at=START + timedelta(days=3), commune_code=commune), START)
        if delayed:
            await dossier_repo.add_event(session, result.dossier, dossier_repo.EventFields(
                "delayed", START + timedelta(hours=1), new_due_at=START + timedelta(days=6),
                reason="Chờ xác minh tình trạng hôn nhân"), START)
        return result.dossier.code


def browser(service: Service) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(f"http://127.0.0.1:{service.port}",
                                 cookie_jar=aiohttp.CookieJar(unsafe=True))


async def form_token(http: aiohttp.ClientSession, path: str) -> str:
    async with http.get(path) as response:
        assert response.status == 200, path
        match = CSRF_RE.search(await response.text())
    assert match is not None
    return match.group(1)


async def login(http: aiohttp.ClientSession, username: str,
                password: str = PASSWORD) -> aiohttp.ClientResponse:
    token = await form_token(http, "/staff/login")
    async with http.post("/staff/login", data={"username": username, "password": password,
                                               "csrf_token": token},
                         allow_redirects=False) as response:
        await response.read()
        return response


async def signed_in(service: Service, username: str) -> aiohttp.ClientSession:
    http = browser(service)
    response = await login(http, username)
    assert response.status == 303 and response.headers["Location"] == "/staff"
    return http


def session_cookie(http: aiohttp.ClientSession) -> str:
    return next(c.value for c in http.cookie_jar if c.key == "motcua_staff")


# -- the authorisation matrix ---------------------------------------------------------------

ROLES = ["anonymous", "quantri", "canbo_a", "canbo_b", "lanhdao_a"]


def expected(role: str, route: str, commune: str | None) -> int:
    """What each route answers each role: 302 to the login form without a session, 403
    outside the account's communes or role, else 200 (pages) or 303 (done, back to the
    ticket)."""
    if role == "anonymous":
        return 302
    post = route.startswith("POST")
    ok = 303 if post else 200
    if route.endswith(("/staff", "GET /staff/notices")):
        return ok
    if route.endswith(("/staff/accounts", "/staff/audit")):
        return ok if role == "quantri" else 403
    if route == "POST /staff/notices":  # a notice for commune 4543
        return ok if role in ("quantri", "canbo_a", "lanhdao_a") else 403
    if route.endswith(("/staff/stats", "/staff/stats.csv", "/staff/stats.xlsx",
                       "/staff/stats/chart.png")):
        return ok if role in ("quantri", "lanhdao_a") else 403
    serves = {"quantri": True, "canbo_a": commune == "4543", "canbo_b": commune == "4544",
              "lanhdao_a": commune == "4543"}[role]
    if "/staff/dossiers" in route:  # another commune's dossier is "not found", as a missing one
        return 403 if role == "lanhdao_a" else ok if serves else 404
    if not serves or (post and role == "lanhdao_a"):
        return 403
    return ok


@pytest.mark.parametrize("role", ROLES)
async def test_every_route_answers_each_role_by_its_scope(service: Service, role: str) -> None:
    codes = {"4543": await new_ticket(service, "4543", "Đèn đường ở thôn Một bị hỏng đã lâu"),
             "4544": await new_ticket(service, "4544", "Rác thải ở chợ Hai không được thu gom"),
             None: await new_ticket(service, None, "Ống nước vỡ chưa rõ ở xã nào cả")}
    http = browser(service) if role == "anonymous" else await signed_in(service, role)
    async with http:
        csrf = "" if role == "anonymous" else await form_token(http, "/staff")
        routes: list[tuple[str, str | None]] = [
            ("GET /staff", None), ("GET /staff/accounts", None), ("GET /staff/stats", None),
            ("GET /staff/stats.csv", None), ("GET /staff/stats.xlsx", None),
            ("GET /staff/stats/chart.png", None),
            ("GET /staff/notices", None), ("POST /staff/notices", None),
            ("GET /staff/audit", None)]
        for commune in codes:
            routes.append((f"GET /staff/tickets/{codes[commune]}", commune))
            photo = await add_web_photo(service, codes[commune])
            routes.append((f"GET /staff/tickets/{codes[commune]}/photos/{photo}", commune))
            for verb in ("note", "assign", "reply", "close", "reopen"):
                routes.append((f"POST /staff/tickets/{codes[commune]}/{verb}", commune))
            dossier = await new_dossier(service, commune, f"000.00.12.H12-261202-{role[:4]}"
                                                          f"{commune or 'NONE'}")
            routes.append((f"GET /staff/dossiers?code={dossier}", commune))
            routes.append((f"GET /staff/dossiers/letter.pdf?code={dossier}", commune))
        seen = {}
        for route, _ in routes:
            method, path = route.split(" ")
            data = {"csrf_token": csrf, "text": "Đã tiếp nhận, sẽ xử lý trong tuần",
                    "outcome": "resolved", "commune": "4543"}
            async with http.request(method, path, data=data if method == "POST" else None,
                                    allow_redirects=False) as response:
                seen[route] = response.status
                if response.status == 302:
                    assert response.headers["Location"] == (
                        f"/staff/login?next={quote(path, safe='')}"
                        if method == "GET" and path != "/staff" else "/staff/login")
        assert seen == {route: expected(role, route, commune) for route, commune in routes}
        if role == "anonymous":
            return
        async with http.get("/staff?status=all") as response:
            inbox = await response.text()
        visible = {commune for commune, code in codes.items() if code in inbox}
        assert visible == {c for c in codes if expected(role, "GET /staff/tickets/x", c) == 200}


async def test_what_an_officer_cannot_see_leaves_no_trace(service: Service) -> None:
    code = await new_ticket(service, "4544", "Rác thải ở chợ Hai không được thu gom")
    async with await signed_in(service, "canbo_a") as http:
        csrf = await form_token(http, "/staff")
        async with http.post(f"/staff/tickets/{code}/reply",
                             data={"csrf_token": csrf, "text": "Trả lời lén"}) as response:
            assert response.status == 403
            assert "Trả lời lén" not in await response.text()
        async with http.get(f"/staff/tickets/{code}") as response:
            page = await response.text()
    assert response.status == 403 and "Rác thải" not in page
    async with service.db.session() as session:
        ticket = await tickets.get_ticket(session, code)
        assert ticket is not None
        texts = [m.text for m in await tickets.find_messages(session, ticket.id, notes=True)]
        refused = list(await session.scalars(select(AuditLog.target).where(
            AuditLog.action == "desk.out_of_scope", AuditLog.actor == "staff:canbo_a")))
    assert texts == ["Rác thải ở chợ Hai không được thu gom"]
    assert refused == [code, code]
    async with await signed_in(service, "quantri") as admin:
        async with admin.get("/staff/audit?actor=staff:canbo_a") as response:
            log = await response.text()
    assert log.count("desk.out_of_scope") == 2 and code in log


# -- CSRF, sessions, lockout ----------------------------------------------------------------


async def test_posts_without_the_sessions_csrf_token_are_refused(service: Service) -> None:
    code = await new_ticket(service, "4543", "Đèn đường ở thôn Một bị hỏng đã lâu")
    async with await signed_in(service, "canbo_a") as http, \
            await signed_in(service, "quantri") as other:
        foreign = await form_token(other, "/staff")
        for data in ({"text": "Không có mã"}, {"text": "Mã sai", "csrf_token": "x" * 43},
                     {"text": "Mã của phiên khác", "csrf_token": foreign}):
            async with http.post(f"/staff/tickets/{code}/reply", data=data,
                                 allow_redirects=False) as response:
                assert response.status == 403
                assert "Biểu mẫu đã hết hạn" in await response.text()
        async with http.post("/staff/logout", data={}, allow_redirects=False) as response:
            assert response.status == 403  # a cross-site form cannot sign staff out either
        async with http.get("/staff", allow_redirects=False) as response:
            assert response.status == 200
    async with service.db.session() as session:
        ticket = await tickets.get_ticket(session, code)
        assert ticket is not None and ticket.status == tickets.OPEN
        assert len(await tickets.find_messages(session, ticket.id, notes=True)) == 1


async def test_a_login_form_must_come_from_the_desk(service: Service) -> None:
    async with browser(service) as http:
        async with http.post("/staff/login", data={"username": "canbo_a", "password": PASSWORD},
                             allow_redirects=False) as response:
            assert response.status == 403
        token = await form_token(http, "/staff/login")
    async with browser(service) as stranger:  # a token without its cookie: another browser's
        async with stranger.post("/staff/login", data={"username": "canbo_a",
                                                       "password": PASSWORD,
                                                       "csrf_token": token},
                                 allow_redirects=False) as response:
            assert response.status == 403
            assert not any(c.key == "motcua_staff" for c in stranger.cookie_jar)


async def test_the_session_is_rotated_at_login_and_ended_at_logout(service: Service) -> None:
    async with await signed_in(service, "canbo_a") as http:
        first = session_cookie(http)
        response = await login(http, "canbo_a")  # the same browser signs in again
        assert response.status == 303
        second = session_cookie(http)
        assert second != first
        async with browser(service) as thief:
            thief.cookie_jar.update_cookies({"motcua_staff": first})
            async with thief.get("/staff", allow_redirects=False) as old:
                assert old.status == 302
        async with http.get("/staff") as page:
            assert page.status == 200 and "canbo_a" in await page.text()
        csrf = await form_token(http, "/staff")
        async with http.post("/staff/logout", data={"csrf_token": csrf},
                             allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/staff/login"
    async with browser(service) as thief:
        thief.cookie_jar.update_cookies({"motcua_staff": second})
        async with thief.get("/staff", allow_redirects=False) as after_logout:
            assert after_logout.status == 302


async def test_after_login_the_page_asked_for_opens_and_never_another_site(
        service: Service) -> None:
    async with browser(service) as http:
        async with http.get("/staff/stats?x=1", allow_redirects=False) as response:
            assert response.status == 302
            assert response.headers["Location"] == "/staff/login?next=%2Fstaff%2Fstats%3Fx%3D1"
        for asked, landing in (("/staff/stats?x=1", "/staff/stats?x=1"),
                               ("//evil.example/staff", "/staff"),
                               ("https://evil.example/staff", "/staff"),
                               ("/staff/\\evil.example", "/staff"),
                               ("/staff/../admin", "/staff"),
                               ("/staff/logout", "/staff")):
            async with http.get(f"/staff/login?next={quote(asked, safe='')}") as page:
                form = await page.text()
            token = CSRF_RE.search(form).group(1)  # type: ignore[union-attr]
            assert (f'name="next" value="{html.escape(asked)}"' in form) == (asked == landing)
            async with http.post("/staff/login", allow_redirects=False, data={
                    "username": "lanhdao_a", "password": PASSWORD, "csrf_token": token,
                    "next": asked}) as response:
                assert (response.status, response.headers["Location"]) == (303, landing), asked


async def test_a_session_cookie_not_issued_by_us_opens_nothing(service: Service) -> None:
    async with browser(service) as http:
        http.cookie_jar.update_cookies({"motcua_staff": "forged.cookie.value"})
        async with http.get("/staff", allow_redirects=False) as response:
            assert response.status == 302


async def test_repeated_wrong_passwords_lock_the_account(service: Service,
                                                         clock: Clock) -> None:
    async with browser(service) as http:
        for _ in range(MAX_FAILURES):
            response = await login(http, "canbo_a", "không phải mật khẩu")
            assert response.status == 401
        locked = await login(http, "canbo_a")  # the right password, while locked
        assert locked.status == 401
        async with http.get("/staff", allow_redirects=False) as page:
            assert page.status == 302
        clock.now += LOCKOUT + timedelta(seconds=1)
        assert (await login(http, "canbo_a")).status == 303
    async with service.db.session() as session:
        events = [(a.action, a.result) for a in await session.scalars(
            select(AuditLog).where(AuditLog.target == "canbo_a").order_by(AuditLog.id))]
    assert events.count(("staff.locked", "ok")) == 1
    assert events.count(("staff.login", "locked")) == 1
    assert events.count(("staff.login", "wrong_password")) == MAX_FAILURES
    assert events[-1] == ("staff.login", "ok")


async def test_disabling_an_account_ends_its_sessions(service: Service) -> None:
    async with await signed_in(service, "canbo_b") as http:
        async with service.db.session() as session:
            await accounts.disable_account(session, "canbo_b", START)
        async with http.get("/staff", allow_redirects=False) as response:
            assert response.status == 302
        assert (await login(http, "canbo_b")).status == 401
        async with service.db.session() as session:
            await accounts.reset_password(session, "canbo_b", "một mật khẩu mới hẳn", START)
        assert (await login(http, "canbo_b", "một mật khẩu mới hẳn")).status == 303


# -- the round trip with the citizen's web chat ---------------------------------------------


async def chat(http: aiohttp.ClientSession, **message: str) -> dict[str, Any]:
    async with http.post("/chat/api/messages", json=message) as response:
        assert response.status == 200
        return await response.json()  # type: ignore[no-any-return]


async def wait_for(http: aiohttp.ClientSession, after: int, words: str) -> list[dict[str, Any]]:
    """The web chat's new messages once one contains `words` (the sender runs apart)."""
    seen: list[dict[str, Any]] = []
    for _ in range(200):
        async with http.get(f"/chat/api/messages?after={after}") as response:
            seen = (await response.json())["messages"]
        if any(words in (m.get("text") or "") for m in seen):
            return seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"{words!r} never reached the web chat: {seen}")


async def test_an_officers_reply_on_the_desk_reaches_the_citizens_web_chat(
        service: Service) -> None:
    dossier = "000.00.12.H12-261202-0001"
    async with service.db.session() as session:
        await dossier_repo.upsert_dossier(session, dossier_repo.DossierFields(
            code=dossier, procedure_code="1.000894", procedure_name="Đăng ký kết hôn",
            applicant_name="Nguyễn Văn An", phone="0912345678", received_at=START,
            due_at=START + timedelta(days=3), commune_code="4543"), START)
    async with browser(service) as citizen:
        await chat(citizen, text="/phananh")
        await chat(citizen, action="fb:cat:thu_tuc")
        await chat(citizen, text="Hồ sơ kết hôn của tôi đã quá hạn mà chưa được trả kết quả")
        await chat(citizen, text=dossier)
        await chat(citizen, action="fb:next")
        await chat(citizen, action="fb:anon")
        sent = await chat(citizen, action="fb:send")
        code = re.search(r"PA-\d{4}-\d{4}", sent["messages"][-1]["text"])
        assert code is not None, sent
        code_text, last = code.group(0), sent["last_id"]

        async with await signed_in(service, "canbo_b") as other_commune:
            async with other_commune.get("/staff") as response:
                assert code_text not in await response.text()
            async with other_commune.get(f"/staff/tickets/{code_text}") as response:
                assert response.status == 403

        async with await signed_in(service, "canbo_a") as officer:
            async with officer.get("/staff") as response:
                assert code_text in await response.text()
            csrf = await form_token(officer, f"/staff/tickets/{code_text}")
            async with officer.post(f"/staff/tickets/{code_text}/note", data={
                    "csrf_token": csrf, "text": "Gọi bộ phận tư pháp kiểm tra"}) as response:
                assert "Đã lưu ghi chú nội bộ" in await response.text()
            async with officer.post(f"/staff/tickets/{code_text}/reply", data={
                    "csrf_token": csrf, "text": "Hồ sơ sẽ có kết quả vào sáng thứ Sáu"}
                                    ) as response:
                page = await response.text()
            assert "Đã gửi trả lời" in page and "Gọi bộ phận tư pháp" in page
            received = await wait_for(citizen, last, "Hồ sơ sẽ có kết quả vào sáng thứ Sáu")
            last = max(m["id"] for m in received)
            assert code_text in received[-1]["text"]

            async with officer.post(f"/staff/tickets/{code_text}/close", data={
                    "csrf_token": csrf, "outcome": "resolved",
                    "text": "Đã trả kết quả hồ sơ"}) as response:
                assert "Đã đóng phản ánh" in await response.text()
            closed = await wait_for(citizen, last, "Đã trả kết quả hồ sơ")
            assert any(b for m in closed for row in m.get("buttons") or [] for b in row)

        mine = await chat(citizen, action="fb:mine")
        async with service.db.session() as session:
            ticket = await tickets.get_ticket(session, code_text)
            assert ticket is not None
            assert (ticket.commune_code, ticket.status) == ("4543", tickets.CLOSED)
        detail = await chat(citizen, action=f"fb:show:{ticket.id}")
        everything = " ".join(m.get("text") or "" for m in [*mine["messages"],
                                                            *detail["messages"]])
        assert "Hồ sơ sẽ có kết quả" in everything
        assert "tư pháp" not in everything  # the internal note never reaches the citizen
        async with citizen.get("/chat/api/messages?after=0") as response:
            history = " ".join(m.get("text") or "" for m in (await response.json())["messages"])
        assert "tư pháp" not in history


# -- both desks: the Telegram staff group and the web desk show the same conversation ------


@pytest.fixture
async def telegram() -> AsyncIterator[Any]:
    from tests.fakes.telegram_api import FakeTelegram
    from tests.test_feedback import STAFF

    async with FakeTelegram(limit_per_chat_per_s=None, limit_per_group_per_min=None) as api:
        api.add_chat(STAFF, "supergroup", title="Tổ phản ánh", is_forum=True)
        yield api


async def test_a_reply_in_either_desk_shows_in_both(database_url: str, telegram: Any) -> None:
    from tests.conftest import make_settings
    from tests.dialog import until
    from tests.test_feedback import (
        CITIZEN,
        STAFF,
        TOKEN,
        ok_sends,
        telegram_ticket,
        topic_messages,
    )

    settings = make_settings(database_url, telegram_bot_token=TOKEN,
                             telegram_api_base_url=telegram.base_url,
                             telegram_staff_chat_id=STAFF, telegram_rate_per_chat=20,
                             telegram_rate_per_group_minute=600)
    service = Service(settings)
    assert service.staff_desk is not None
    service.staff_desk.interval = 0.05
    async with service:
        async with service.db.session() as session:
            await accounts.add_account(session, "canbo_a", "officer", ["4543"], PASSWORD, START)
        await telegram_ticket(telegram)
        await until(lambda: bool(telegram.sent_messages(STAFF)))
        thread = telegram.sent_messages(STAFF)[0]["message_thread_id"]
        async with service.db.session() as session:
            ticket = (await session.scalars(select(tickets.Ticket))).one()
            ticket.commune_code = "4543"  # as if the citizen had named it (skipped here)
            code = ticket.code
        telegram.push_message(STAFF, "Tổ điện đã nhận việc, sẽ thay bóng trong tuần.",
                              user_id=777, first_name="Cán bộ Hà", message_thread_id=thread)
        await until(lambda: any("Tổ điện đã nhận việc" in (m.get("text") or "")
                                for m in ok_sends(telegram, CITIZEN)))

        async with await signed_in(service, "canbo_a") as http:
            async with http.get(f"/staff/tickets/{code}") as response:
                page = await response.text()
            assert "Tổ điện đã nhận việc" in page and "Cán bộ Hà" in page
            csrf = await form_token(http, f"/staff/tickets/{code}")
            await http.post(f"/staff/tickets/{code}/reply", data={
                "csrf_token": csrf, "text": "Chiều nay thợ sẽ đến thay bóng đèn."})
            await http.post(f"/staff/tickets/{code}/note", data={
                "csrf_token": csrf, "text": "Nhắc tổ điện mang thang dài"})
            await http.post(f"/staff/tickets/{code}/assign", data={"csrf_token": csrf})
            async with http.get("/staff?assignee=me") as response:
                assert code in await response.text()

        await until(lambda: any("Chiều nay thợ sẽ đến" in (m.get("text") or "")
                                for m in ok_sends(telegram, CITIZEN)))
        await until(lambda: any("Nhắc tổ điện mang thang" in (m.get("text") or "")
                                for m in topic_messages(telegram, thread)))
        in_topic = " ".join(m.get("text") or "" for m in topic_messages(telegram, thread))
        assert "canbo_a đã trả lời trên bàn làm việc web" in in_topic
        assert "Chiều nay thợ sẽ đến" in in_topic
        assert not any("thang dài" in (m.get("text") or "")
                       for m in ok_sends(telegram, CITIZEN))


# -- statistics -----------------------------------------------------------------------------


async def test_a_leader_counts_only_the_tickets_of_its_communes(service: Service) -> None:
    for commune in ("4543", "4543", "4544", None):
        await new_ticket(service, commune, "Đèn đường ở thôn Một bị hỏng đã lâu")
    async with await signed_in(service, "lanhdao_a") as http:
        async with http.get("/staff/stats.csv") as response:
            rows = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    totals = rows[-1]
    assert rows[0][:3] == ["linh_vuc", "tiep_nhan", "dang_mo"]
    assert (totals[0], totals[1], totals[2]) == ("Tổng cộng", "2", "2")
    async with await signed_in(service, "quantri") as http:
        async with http.get("/staff/stats.csv") as response:
            everything = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert everything[-1][1] == "4"


async def test_the_admins_statistics_are_those_of_thongke(service: Service) -> None:
    from bot.messages import Incoming

    await new_ticket(service, "4543", "Đèn đường ở thôn Một bị hỏng đã lâu")
    replies = await service.core.handle(Incoming(
        channel="console", chat_id="staff-cli", user_id="cli", update_key="test:thongke",
        text="/thongke", is_staff_chat=True))
    async with await signed_in(service, "quantri") as http:
        async with http.get("/staff/stats") as response:
            page = html.unescape(await response.text())
        async with http.get("/staff/stats/chart.png") as response:
            assert response.content_type == "image/png"
            assert (await response.read()).startswith(b"\x89PNG")
    assert "Phản ánh đang mở: 1" in replies[0].text
    assert replies[0].text in page


# -- notices: written by one account, approved by another -----------------------------------


async def notice_rows(service: Service) -> list[Any]:
    from bot.db import scheduler as store

    async with service.db.session() as session:
        return list(await session.scalars(select(store.Notice).order_by(store.Notice.id)))


async def post_form(http: aiohttp.ClientSession, path: str, **data: str) -> int:
    csrf = await form_token(http, "/staff/notices")
    async with http.post(path, data={"csrf_token": csrf, **data},
                         allow_redirects=False) as response:
        return response.status


async def test_a_notice_is_approved_by_a_second_person_of_its_communes(
        service: Service) -> None:
    async with await signed_in(service, "canbo_a") as officer:
        assert await post_form(officer, "/staff/notices", text="Lịch tiêm chủng tuần sau",
                               commune="4544") == 403  # not its commune
        assert await post_form(officer, "/staff/notices", text="Lịch tiêm chủng tuần sau",
                               commune="4543") == 303
        (notice,) = await notice_rows(service)
        assert (notice.status, notice.communes, notice.author) == ("pending", ["4543"],
                                                                   "desk:canbo_a")
        assert await post_form(officer, f"/staff/notices/{notice.id}/approve") == 403
    async with await signed_in(service, "canbo_b") as other:
        async with other.get("/staff/notices") as response:
            assert "Lịch tiêm chủng" not in await response.text()
    async with await signed_in(service, "lanhdao_a") as leader:
        async with leader.get("/staff/notices") as response:
            page = await response.text()
        assert "Lịch tiêm chủng" in page and f"/staff/notices/{notice.id}/approve" in page
        assert await post_form(leader, f"/staff/notices/{notice.id}/approve") == 303
        assert await post_form(leader, "/staff/notices", text="Cắt điện thôn Ba sáng mai",
                               commune="4543") == 303
        own = (await notice_rows(service))[-1]
        assert await post_form(leader, f"/staff/notices/{own.id}/approve") == 403  # its own
    (approved, pending) = await notice_rows(service)
    assert (approved.status, approved.approved_by) == ("approved", "desk:lanhdao_a")
    assert pending.status == "pending"
    async with await signed_in(service, "quantri") as admin:
        assert await post_form(admin, f"/staff/notices/{pending.id}/reject") == 303
    assert (await notice_rows(service))[-1].status == "rejected"


async def test_what_citizens_wrote_is_shown_as_text_never_as_markup(service: Service) -> None:
    code = await new_ticket(service, "4543", '<script>alert("x")</script> đèn hỏng ở ngõ 5')
    async with await signed_in(service, "canbo_a") as http:
        for path in ("/staff", f"/staff/tickets/{code}"):
            async with http.get(path) as response:
                page = await response.text()
                assert "<script>" not in page and "&lt;script&gt;" in page
                assert "script-src" not in response.headers["Content-Security-Policy"]
                assert "default-src 'none'" in response.headers["Content-Security-Policy"]


# -- `motcua staff`, as an operator runs it -------------------------------------------------


async def test_the_first_admin_made_with_motcua_staff_signs_in(tmp_path: Any) -> None:
    from tests.conftest import make_settings
    from tests.test_console_and_cli import run_cli

    url = f"sqlite+aiosqlite:///{tmp_path}/desk.db"
    env = {"DATABASE_URL": url, "DATA_DIR": str(tmp_path)}

    async def staff(*args: str, stdin: str = "") -> Any:
        return await asyncio.to_thread(run_cli, ["staff", *args], env, stdin, tmp_path)

    made = await staff("add", "QuanTri", "--role", "admin", "--password-stdin",
                       stdin=PASSWORD + "\n")
    assert made.returncode == 0 and "quantri (admin) created" in made.stdout, made.stderr
    short = await staff("add", "canbo", "--role", "officer", "--commune", "4543",
                        "--password-stdin", stdin="ngắn\n")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    nowhere = await staff("add", "canbo", "--role", "officer", "--password-stdin",
                          stdin=PASSWORD + "\n")
    assert nowhere.returncode == 2 and "--commune" in nowhere.stderr
    assert (await staff("add", "canbo", "--role", "officer", "--commune", "4543",
                        "--password-stdin", stdin=PASSWORD + "\n")).returncode == 0
    assert (await staff("disable", "canbo")).returncode == 0
    listing = (await staff("list")).stdout.splitlines()
    assert listing == ["canbo\tofficer\t4543\tdisabled", "quantri\tadmin\tall\tactive"]

    async with Service(make_settings(url)) as service:
        async with browser(service) as http:
            assert (await login(http, "canbo")).status == 401
            assert (await login(http, "quantri")).status == 303
            async with http.get("/staff/accounts") as response:
                assert "canbo" in await response.text()
