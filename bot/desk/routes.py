"""The pages of the web desk under /staff. Every page needs a signed-in account; a ticket is
shown and acted on only by an account serving its commune (admins: every commune), else 403.
Every POST carries the session's CSRF token (the login form: the login cookie's), else 403.

Roles: officers and admins answer, close, reopen, assign and annotate tickets and look up
dossiers; leaders read tickets, approve notices and read statistics; admins also see the
accounts and the audit log.
Routes: GET/POST /staff/login, POST /staff/login/totp (the one-time code, when the account
has one), POST /staff/logout, GET /staff (inbox),
GET /staff/tickets/{code}, GET /staff/tickets/{code}/photos/{id} (a web-chat photo of it),
POST /staff/tickets/{code}/(reply|close|reopen|note|assign),
GET /staff/dossiers?code=… (officers and admins), GET /staff/dossiers/letter.pdf?code=…,
GET/POST /staff/notices, POST /staff/notices/{id}/(approve|reject),
GET /staff/stats, /staff/stats.csv, .xlsx, /staff/stats/chart.png (the account's communes),
GET /staff/accounts, /staff/audit.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import client_address, served_over_https
from bot.channels.web import PHOTO_PREFIX, get_photo
from bot.db import feedback as tickets
from bot.desk import actions, dossiers, notices, stats
from bot.desk.accounts import actor_of, audit, authenticate, check_totp
from bot.desk.models import StaffAccount
from bot.desk.roles import ADMIN, LEADER, ROLE_LABELS
from bot.desk.sessions import DeskSessions, Signed, csrf_matches
from bot.staffscope import of_account
from scheduler.quiet import local_date

if TYPE_CHECKING:
    from bot.running import Running

HERE = Path(__file__).parent
COOKIE, SECURE_COOKIE = "motcua_staff", "__Host-motcua_staff"
LOGIN_COOKIE, SECURE_LOGIN_COOKIE = "motcua_staff_login", "__Host-motcua_staff_login"
LOGIN_RATE = "20/minute;200/hour"
"""Login attempts per client address (on top of the lockout per account)."""
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
DONE = {
    "replied": "Đã gửi trả lời cho người dân.",
    "closed": "Đã đóng phản ánh; người dân được mời đánh giá.",
    "reopened": "Đã mở lại phản ánh.",
    "noted": "Đã lưu ghi chú nội bộ (người dân không thấy).",
    "assigned": "Đã giao phản ánh.",
    "is_closed": "Phản ánh đã đóng: hãy mở lại trước khi trả lời.",
    "not_closed": "Phản ánh chưa đóng.",
    "empty": "Nội dung trống: chưa gửi gì.",
    "no_communes": "Chưa chọn xã, phường nhận thông báo.",
    "pending": "Đã tạo thông báo; chờ một người khác duyệt.",
    "approved": "Thông báo đã được duyệt và sẽ gửi đúng giờ.",
    "rejected": "Đã từ chối thông báo.",
}

_env = Environment(loader=FileSystemLoader(HERE / "templates"),
                   autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


class Desk:
    def __init__(self, service: Running) -> None:
        self.service = service
        self.sessions = DeskSessions(service.db, lambda: service.settings.secret, service.clock)


DESK = web.AppKey("desk", Desk)


def add_routes(app: web.Application, service: Running) -> None:
    app[DESK] = Desk(service)
    r = app.router
    r.add_get("/staff/login", login_page)
    r.add_post("/staff/login", login_post)
    r.add_post("/staff/login/totp", login_totp_post)
    r.add_post("/staff/logout", signed_in(logout))
    r.add_get("/staff", signed_in(inbox))
    r.add_get("/staff/tickets/{code}", signed_in(ticket_page))
    r.add_get("/staff/tickets/{code}/photos/{id:\\d+}", signed_in(ticket_photo))
    for verb in ("reply", "close", "reopen", "note", "assign"):
        r.add_post(f"/staff/tickets/{{code}}/{verb}", signed_in(ticket_action, acts=True))
    r.add_get("/staff/dossiers", signed_in(dossier_page, acts=True))
    r.add_get("/staff/dossiers/letter.pdf", signed_in(dossier_letter, acts=True))
    r.add_get("/staff/accounts", signed_in(accounts_page, admin=True))
    r.add_get("/staff/audit", signed_in(audit_page, admin=True))
    r.add_get("/staff/notices", signed_in(notices_page))
    r.add_post("/staff/notices", signed_in(notice_compose))
    r.add_post("/staff/notices/{id:\\d+}/approve", signed_in(notice_decide, leads=True))
    r.add_post("/staff/notices/{id:\\d+}/reject", signed_in(notice_decide, leads=True))
    r.add_get("/staff/stats", signed_in(stats_page, leads=True))
    r.add_get("/staff/stats.csv", signed_in(stats_csv, leads=True))
    r.add_get("/staff/stats.xlsx", signed_in(stats_xlsx, leads=True))
    r.add_get("/staff/stats/chart.png", signed_in(stats_chart, leads=True))
    r.add_static("/staff/static/", HERE / "static", show_index=False)


# -- plumbing -------------------------------------------------------------------------------


def _secure(request: web.Request) -> bool:
    return served_over_https(request, request.app[DESK].service.settings)


def _cookie(request: web.Request, plain: str, secure: str) -> str | None:
    try:
        return request.cookies.get(secure if _secure(request) else plain)
    except Exception:  # noqa: BLE001 - a cookie header that does not parse is no cookie
        return None


def _set_cookie(request: web.Request, response: web.StreamResponse, plain: str, secure: str,
                value: str, max_age: int | None = None) -> None:
    is_secure = _secure(request)
    response.set_cookie(secure if is_secure else plain, value, max_age=max_age, httponly=True,
                        samesite="Lax", secure=is_secure, path="/")


def render(name: str, status: int = 200, **values: Any) -> web.Response:
    response = web.Response(text=_env.get_template(name).render(**values), status=status,
                            content_type="text/html")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def forbidden(signed: Signed | None = None, why: str = "") -> web.Response:
    return render("error.html", status=403, me=signed.account if signed else None,
                  csrf=signed.row.csrf_token if signed else "",
                  title="Không có quyền", message=why or
                  "Tài khoản của anh/chị không được xem hoặc xử lý nội dung này.")


def see_other(location: str, status: int = 303) -> web.Response:
    """A redirect returned, not raised: raising inside the database session would roll back
    what the request did."""
    return web.Response(status=status, headers={"Location": location})


Page = Callable[[web.Request, AsyncSession, Signed], Awaitable[web.StreamResponse]]
FORM = web.RequestKey[Any]("form")
"""The POSTed form, read once by `signed_in`."""


def signed_in(page: Page, *, acts: bool = False, admin: bool = False,
              leads: bool = False
              ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The page for a signed-in account: without one, to the login form (302); a POST
    without this session's CSRF token, 403; `acts`: not for leaders (403); `admin`: for
    admins only (403); `leads`: for leaders and admins — statistics, approving notices (403)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        desk = request.app[DESK]
        form = await request.post() if request.method == "POST" else None
        async with desk.service.db.session() as session:
            signed = await desk.sessions.find(session, _cookie(request, COOKIE, SECURE_COOKIE))
            if signed is None:
                return see_other(login_location(request), 302)
            if form is not None and not csrf_matches(_field(form, "csrf_token"),
                                                    signed.row.csrf_token):
                audit(session, desk.service.clock(), actor_of(signed.account), "desk.csrf",
                      request.path, "refused")
                return forbidden(signed, "Biểu mẫu đã hết hạn hoặc không hợp lệ. "
                                         "Anh/chị vui lòng tải lại trang và thử lại.")
            role = signed.account.role
            if (acts and role == LEADER) or (admin and role != ADMIN) or (
                    leads and role not in (LEADER, ADMIN)):
                audit(session, desk.service.clock(), actor_of(signed.account), "desk.forbidden",
                      request.path, "refused", role=role)
                return forbidden(signed)
            request[FORM] = form
            return await page(request, session, signed)

    return handler


def _field(form: Any, name: str, longest: int = 4000) -> str:
    value = form.get(name) if form is not None else None
    return value.strip()[:longest] if isinstance(value, str) else ""


def _day(moment: datetime | None, request: web.Request) -> str:
    if moment is None:
        return ""
    return f"{local_date(moment, request.app[DESK].service.settings.timezone):%d/%m/%Y}"


# -- login ----------------------------------------------------------------------------------


def safe_next(value: str) -> str:
    """Where to go after signing in: a page of the desk named by a relative path, never
    another site (`//host`, `/\\host`, a scheme) nor the login itself; else the inbox."""
    if (len(value) <= 500 and re.fullmatch(r"/staff(?:[/?][!-~]*)?", value)
            and "\\" not in value and "/.." not in value
            and not value.startswith(("/staff/login", "/staff/logout"))
            and not urlsplit(value).netloc):
        return value
    return "/staff"


def login_location(request: web.Request) -> str:
    """The login form, remembering the page asked for (GET only: a POST is not replayed)."""
    if request.method != "GET" or safe_next(request.path_qs) == "/staff":
        return "/staff/login"
    return "/staff/login?" + urlencode({"next": request.path_qs})


async def login_page(request: web.Request, error: str = "", status: int = 200,
                     username: str = "", next_page: str | None = None) -> web.Response:
    desk = request.app[DESK]
    nonce, token = desk.sessions.login_form(_cookie(request, LOGIN_COOKIE, SECURE_LOGIN_COOKIE))
    next_page = safe_next(request.query.get("next", "") if next_page is None else next_page)
    response = render("login.html", status=status, csrf=token, error=error, username=username,
                      next_page="" if next_page == "/staff" else next_page)
    _set_cookie(request, response, LOGIN_COOKIE, SECURE_LOGIN_COOKIE, nonce, max_age=3600)
    return response


async def _login_checked(request: web.Request, form_valid: bool
                         ) -> tuple[str, web.StreamResponse | None]:
    """The caller's address, and the refusal of a login step whose form is stale (403) or
    whose address tried too often (429); None when the step may go on."""
    service = request.app[DESK].service
    if not form_valid:
        return "", await login_page(
            request, "Biểu mẫu đã hết hạn. Anh/chị vui lòng đăng nhập lại.", 403)
    address = client_address(request, service.settings.trusted_proxy_set)
    if not await service.limiter.hit("staff-login", address, LOGIN_RATE):
        return address, await login_page(
            request, "Quá nhiều lần đăng nhập. Vui lòng thử lại sau ít phút.", 429)
    return address, None


async def login_post(request: web.Request) -> web.StreamResponse:
    desk = request.app[DESK]
    service = desk.service
    form = await request.post()
    nonce = _cookie(request, LOGIN_COOKIE, SECURE_LOGIN_COOKIE)
    address, refusal = await _login_checked(
        request, desk.sessions.login_token_valid(nonce, _field(form, "csrf_token")))
    if refusal is not None:
        return refusal
    username = _field(form, "username", 60)
    next_page = safe_next(_field(form, "next", 500))
    async with service.db.session() as session:
        result = await authenticate(session, username, _field(form, "password", 1000),
                                    service.clock(), origin=address)
        if result.account is not None and result.reason == "ok":
            cookie, _csrf = await desk.sessions.begin(
                session, result.account, _cookie(request, COOKIE, SECURE_COOKIE))
    if result.account is None:
        return await login_page(request, _refusal(result.reason), 401, username=username,
                                next_page=next_page)
    if result.reason == "totp":
        assert nonce is not None  # the CSRF token was checked against it
        return render("totp.html", csrf=_field(form, "csrf_token"), next_page=next_page,
                      pending=desk.sessions.totp_pending(result.account.id, nonce))
    return await _signed_in_response(request, cookie, next_page)


async def login_totp_post(request: web.Request) -> web.StreamResponse:
    """The code of an account with TOTP, after its right password (`login_post`)."""
    desk = request.app[DESK]
    service = desk.service
    form = await request.post()
    nonce = _cookie(request, LOGIN_COOKIE, SECURE_LOGIN_COOKIE)
    token, pending = _field(form, "csrf_token"), _field(form, "pending", 300)
    account_id = desk.sessions.totp_account(pending, nonce)
    address, refusal = await _login_checked(
        request, desk.sessions.login_token_valid(nonce, token) and account_id is not None)
    if refusal is not None:
        return refusal
    next_page = safe_next(_field(form, "next", 500))
    async with service.db.session() as session:
        account = await session.get(StaffAccount, account_id)
        result = await check_totp(session, account, _field(form, "code", 12).replace(" ", ""),
                                  service.clock(), origin=address) if account else None
        if result is not None and result.account is not None:
            cookie, _csrf = await desk.sessions.begin(
                session, result.account, _cookie(request, COOKIE, SECURE_COOKIE))
    if result is None or result.reason in ("disabled", "locked"):
        return await login_page(request, _refusal(result.reason if result else "unknown"), 401)
    if result.account is None:
        return render("totp.html", status=401, csrf=token, next_page=next_page,
                      pending=pending, error="Mã xác thực không đúng hoặc đã dùng. Anh/chị "
                                             "nhập mã mới đang hiện trên ứng dụng.")
    return await _signed_in_response(request, cookie, next_page)


def _refusal(reason: str) -> str:
    if reason == "locked":
        return ("Tài khoản tạm khóa do nhập sai nhiều lần. Vui lòng thử lại sau 15 phút hoặc "
                "nhờ quản trị đặt lại mật khẩu.")
    return "Tên đăng nhập hoặc mật khẩu không đúng."


async def _signed_in_response(request: web.Request, cookie: str,
                              next_page: str) -> web.Response:
    await request.app[DESK].sessions.purge_idle()
    response = see_other(next_page)
    _set_cookie(request, response, COOKIE, SECURE_COOKIE, cookie)
    response.del_cookie(SECURE_LOGIN_COOKIE if _secure(request) else LOGIN_COOKIE, path="/")
    return response


async def logout(request: web.Request, session: AsyncSession, signed: Signed) -> web.Response:
    desk = request.app[DESK]
    await desk.sessions.end(session, _cookie(request, COOKIE, SECURE_COOKIE))
    audit(session, desk.service.clock(), actor_of(signed.account), "staff.logout")
    response = see_other("/staff/login")
    response.del_cookie(SECURE_COOKIE if _secure(request) else COOKIE, path="/")
    return response


# -- tickets --------------------------------------------------------------------------------


def scoped(query: Any, account: StaffAccount) -> Any:
    """Only the tickets of the account's communes (an admin: all)."""
    return of_account(account).apply(query, tickets.Ticket.commune_code)


async def inbox(request: web.Request, session: AsyncSession, signed: Signed) -> web.Response:
    account, now = signed.account, request.app[DESK].service.clock()
    q = request.query
    commune, category = q.get("commune", "")[:20], q.get("category", "")[:20]
    status, overdue = q.get("status", "open"), q.get("overdue") == "1"
    assignee = q.get("assignee", "")[:120]
    query = scoped(select(tickets.Ticket), account)
    if status == "closed":
        query = query.where(tickets.Ticket.status == tickets.CLOSED)
    elif status != "all":
        status = "open"
        query = query.where(tickets.Ticket.status != tickets.CLOSED)
    if commune:
        query = query.where(tickets.Ticket.commune_code == commune)
    if category in tickets.CATEGORIES:
        query = query.where(tickets.Ticket.category == category)
    if assignee:
        query = query.where(tickets.Ticket.assigned_to == (
            account.username if assignee == "me" else assignee))
    if overdue:
        query = query.where(tickets.Ticket.due_at < now, tickets.Ticket.status != tickets.CLOSED)
    rows = list(await session.scalars(query.order_by(tickets.Ticket.due_at).limit(200)))
    items = [{"t": t, "category": tickets.CATEGORIES.get(t.category, t.category),
              "status": tickets.STATUS_LABELS.get(t.status, t.status),
              "due": _day(t.due_at, request), "created": _day(t.created_at, request),
              "overdue": t.status != tickets.CLOSED and t.due_at < now} for t in rows]
    return render("inbox.html", me=account, csrf=signed.row.csrf_token, items=items,
                  categories=tickets.CATEGORIES, communes=account.communes,
                  filters={"commune": commune, "category": category, "status": status,
                           "overdue": overdue, "assignee": assignee}, roles=ROLE_LABELS)


async def _ticket_in_scope(request: web.Request, session: AsyncSession, signed: Signed,
                           lock: bool = True) -> tickets.Ticket | web.Response:
    code = request.match_info["code"]
    ticket = await tickets.get_ticket(session, code, lock=lock) \
        if tickets.normalize_code(code).startswith("PA-") else None
    if ticket is None:
        return render("error.html", status=404, me=signed.account, csrf=signed.row.csrf_token,
                      title="Không tìm thấy", message="Không có phản ánh mang mã này.")
    if not signed.account.serves(ticket.commune_code):
        audit(session, request.app[DESK].service.clock(), actor_of(signed.account),
              "desk.out_of_scope", ticket.code, "refused")
        return forbidden(signed)
    return ticket


async def ticket_page(request: web.Request, session: AsyncSession,
                      signed: Signed) -> web.Response:
    ticket = await _ticket_in_scope(request, session, signed)
    if isinstance(ticket, web.Response):
        return ticket
    now = request.app[DESK].service.clock()
    audit(session, now, actor_of(signed.account), "desk.view", ticket.code)
    messages = await tickets.find_messages(session, ticket.id, notes=True)
    return render("ticket.html", me=signed.account, csrf=signed.row.csrf_token, t=ticket,
                  messages=[{"m": m, "at": _at(m.created_at, request),
                             "photos": [_photo_view(ticket, a) for a in m.attachments]}
                            for m in messages],
                  category=tickets.CATEGORIES.get(ticket.category, ticket.category),
                  state_label=tickets.STATUS_LABELS.get(ticket.status, ticket.status),
                  due=_day(ticket.due_at, request), created=_day(ticket.created_at, request),
                  overdue=ticket.status != tickets.CLOSED and ticket.due_at < now,
                  outcomes=actions.OUTCOMES, done=DONE.get(request.query.get("done", "")),
                  can_act=signed.account.role != LEADER, closed=ticket.status == tickets.CLOSED,
                  templates=await tickets.find_templates(session))


def _photo_view(ticket: tickets.Ticket, item: Any) -> dict[str, str]:
    """How the ticket page shows an attachment: a web-chat photo inline (served by
    `ticket_photo`), a photo with a web address as a link, a Telegram photo as a note (its
    bytes stay with Telegram; the staff group shows it)."""
    item = item if isinstance(item, dict) else {}
    file_id, url = str(item.get("file_id") or ""), item.get("url")
    if item.get("channel") == "web" and file_id.startswith(PHOTO_PREFIX):
        return {"kind": "web",
                "src": f"/staff/tickets/{ticket.code}/photos/{file_id[len(PHOTO_PREFIX):]}"}
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return {"kind": "link", "href": url}
    return {"kind": "telegram" if file_id else "unknown"}


async def ticket_photo(request: web.Request, session: AsyncSession,
                       signed: Signed) -> web.StreamResponse:
    """A web-chat photo of a ticket in the account's scope: only a photo one of the ticket's
    messages carries (a photo id of another ticket answers 404 like a missing one)."""
    ticket = await _ticket_in_scope(request, session, signed, lock=False)
    if isinstance(ticket, web.Response):
        return ticket
    file_id = f"{PHOTO_PREFIX}{int(request.match_info['id'])}"
    carried = any(isinstance(a, dict) and a.get("channel") == "web" and a.get("file_id") == file_id
                  for m in await tickets.find_messages(session, ticket.id, notes=True)
                  for a in m.attachments)
    photo = await get_photo(session, file_id) if carried else None
    if photo is None:
        return render("error.html", status=404, me=signed.account, csrf=signed.row.csrf_token,
                      title="Không tìm thấy", message="Ảnh này không còn được lưu.")
    return web.Response(body=photo.data, headers={
        "Content-Type": photo.content_type, "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store", "Content-Security-Policy": "default-src 'none'",
        "Content-Disposition": "inline"})


def _at(moment: datetime, request: web.Request) -> str:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(request.app[DESK].service.settings.timezone)
    return f"{moment.astimezone(tz):%H:%M %d/%m/%Y}"


async def ticket_action(request: web.Request, session: AsyncSession,
                        signed: Signed) -> web.Response:
    ticket = await _ticket_in_scope(request, session, signed)
    if isinstance(ticket, web.Response):
        return ticket
    service = request.app[DESK].service
    form, verb = request[FORM], request.path.rsplit("/", 1)[1]
    body = _field(form, "text", actions.MAX_TEXT)
    now, account = service.clock(), signed.account
    if verb == "reply":
        template = _field(form, "template", 40)
        if not body and template:
            row = await session.get(tickets.ReplyTemplate, template.lower())
            body = row.text if row is not None else ""
        done = await actions.reply(session, service.settings, service.services, now, account,
                                   ticket, body) if body else "empty"
    elif verb == "close":
        outcome = _field(form, "outcome", 40)
        if outcome not in actions.OUTCOMES:
            raise web.HTTPBadRequest(text="unknown outcome")
        done = await actions.close(session, service.settings, service.services, now, account,
                                   ticket, outcome, body)
    elif verb == "reopen":
        done = await actions.reopen(session, service.settings, service.services, now, account,
                                    ticket)
    elif verb == "assign":
        name = _field(form, "text", 120) or account.username
        done = await actions.assign(session, service.settings, service.services, now, account,
                                    ticket, name)
    else:
        done = await actions.note(session, now, account, ticket, body) if body else "empty"
    return see_other(f"/staff/tickets/{ticket.code}?done={done}")


# -- dossiers -------------------------------------------------------------------------------


def _not_found(signed: Signed, searched: str) -> web.Response:
    """A missing code and a dossier of another commune answer alike."""
    return render("dossier.html", status=404, me=signed.account, csrf=signed.row.csrf_token,
                  searched=searched, found=None)


async def dossier_page(request: web.Request, session: AsyncSession,
                       signed: Signed) -> web.Response:
    """The search form; with `?code=`, the dossier's card (audited as `dossier.viewed`)."""
    service = request.app[DESK].service
    searched = request.query.get("code", "").strip()[:100]
    if not searched:
        return render("dossier.html", me=signed.account, csrf=signed.row.csrf_token,
                      searched="", found=None)
    now = service.clock()
    lookup = await dossiers.look_up(session, signed.account, searched)
    lookup.audit(session, signed.account, now, "dossier.viewed")
    if lookup.dossier is None:
        return _not_found(signed, searched)
    found = await dossiers.card(session, service.settings, service.services, now,
                                lookup.dossier)
    return render("dossier.html", me=signed.account, csrf=signed.row.csrf_token,
                  searched=searched, found=found,
                  letter=urlencode({"code": lookup.dossier.code}))


async def dossier_letter(request: web.Request, session: AsyncSession,
                         signed: Signed) -> web.Response:
    """The dossier's letter or apology slip as a PDF (audited as `dossier.printed`)."""
    service = request.app[DESK].service
    searched = request.query.get("code", "").strip()[:100]
    lookup = await dossiers.look_up(session, signed.account, searched)
    printed = await dossiers.letter_pdf(session, service.settings, lookup.dossier,
                                        request.query.get("size", "A4")) \
        if lookup.dossier is not None else None
    lookup.audit(session, signed.account, service.clock(), "dossier.printed",
                 "nothing" if lookup.dossier is not None and printed is None else None)
    if printed is None:
        return _not_found(signed, searched)
    name, data = printed
    filename = re.sub(r"[^A-Za-z0-9.-]+", "-", lookup.code) + "-" + name
    return web.Response(body=data, content_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


# -- admin ----------------------------------------------------------------------------------


async def audit_page(request: web.Request, session: AsyncSession,
                     signed: Signed) -> web.Response:
    """The latest entries of the audit log (who viewed or did what, when)."""
    from bot.db.models import AuditLog

    actor = request.query.get("actor", "")[:150]
    query = select(AuditLog).order_by(AuditLog.id.desc()).limit(300)
    if actor:
        query = query.where(AuditLog.actor == actor)
    rows = [{"a": a, "at": _at(a.at, request)} for a in await session.scalars(query)]
    return render("audit.html", me=signed.account, csrf=signed.row.csrf_token, rows=rows,
                  actor=actor)


async def accounts_page(request: web.Request, session: AsyncSession,
                        signed: Signed) -> web.Response:
    accounts = list(await session.scalars(select(StaffAccount).order_by(StaffAccount.username)))
    return render("accounts.html", me=signed.account, csrf=signed.row.csrf_token,
                  accounts=accounts, roles=ROLE_LABELS, now=request.app[DESK].service.clock())


# -- statistics -----------------------------------------------------------------------------


async def stats_page(request: web.Request, session: AsyncSession,
                     signed: Signed) -> web.Response:
    service = request.app[DESK].service
    now = service.clock()
    figures = await stats.ticket_stats(session, scoped(stats.ticket_query(), signed.account), now)
    province, survey = await stats.province_figures(session, service.settings,
                                                    service.services, now,
                                                    of_account(signed.account))
    audit(session, now, actor_of(signed.account), "desk.stats")
    return render("stats.html", me=signed.account, csrf=signed.row.csrf_token, s=figures,
                  province=province, aspects=stats.aspect_table(survey), roles=ROLE_LABELS)


async def stats_csv(request: web.Request, session: AsyncSession,
                    signed: Signed) -> web.Response:
    now = request.app[DESK].service.clock()
    figures = await stats.ticket_stats(session, scoped(stats.ticket_query(), signed.account), now)
    audit(session, now, actor_of(signed.account), "desk.stats_export")
    return web.Response(body=("\ufeff" + stats.as_csv(figures)).encode(),
                        content_type="text/csv", charset="utf-8", headers={
                            "Content-Disposition": 'attachment; filename="phan-anh.csv"',
                            "Cache-Control": "no-store"})


async def stats_xlsx(request: web.Request, session: AsyncSession,
                     signed: Signed) -> web.Response:
    import asyncio

    service = request.app[DESK].service
    now = service.clock()
    figures = await stats.ticket_stats(session, scoped(stats.ticket_query(), signed.account), now)
    _, survey = await stats.province_figures(session, service.settings, service.services, now,
                                             of_account(signed.account))
    audit(session, now, actor_of(signed.account), "desk.stats_export", format="xlsx")
    book = await asyncio.to_thread(stats.as_xlsx, figures, stats.aspect_table(survey))
    return web.Response(body=book, headers={
        "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "Content-Disposition": 'attachment; filename="thong-ke.xlsx"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


async def stats_chart(request: web.Request, session: AsyncSession,
                      signed: Signed) -> web.Response:
    import asyncio

    from handlers.surveys import chart_png

    service = request.app[DESK].service
    _, figures = await stats.province_figures(session, service.settings, service.services,
                                              service.clock(), of_account(signed.account))
    png = await asyncio.to_thread(chart_png, figures)
    return web.Response(body=png, content_type="image/png",
                        headers={"Cache-Control": "no-store"})


# -- notices --------------------------------------------------------------------------------


async def notices_page(request: web.Request, session: AsyncSession,
                       signed: Signed) -> web.Response:
    from handlers.subscriptions import unit_label
    from scheduler.notices import delivery_report

    account = signed.account
    items = []
    for n in await notices.visible(session, account):
        report = await delivery_report(session, n) if n.status in (
            "delivering", "done") else None
        items.append({"n": n, "status": notices.STATUS_LABELS.get(n.status, n.status),
                      "targets": [unit_label(c) for c in n.communes], "report": report,
                      "when": _at(n.send_at, request),
                      "can_approve": n.status == "pending" and notices.can_approve(account, n)})
    return render("notices.html", me=account, csrf=signed.row.csrf_token, items=items,
                  communes=[(c, unit_label(c)) for c in account.communes],
                  done=DONE.get(request.query.get("done", "")))


def _send_at(value: str, request: web.Request) -> datetime | None:
    from zoneinfo import ZoneInfo

    if not value:
        return None
    moment = datetime.fromisoformat(value)  # "2026-12-03T08:00" from <input datetime-local>
    tz = ZoneInfo(request.app[DESK].service.settings.timezone)
    return (moment if moment.tzinfo else moment.replace(tzinfo=tz)).astimezone(
        request.app[DESK].service.clock().tzinfo)


async def notice_compose(request: web.Request, session: AsyncSession,
                         signed: Signed) -> web.Response:
    from handlers.units import get_commune

    service, account, form = request.app[DESK].service, signed.account, request[FORM]
    body = _field(form, "text", notices.MAX_TEXT)
    chosen = [c.strip() for c in form.getall("commune", []) if isinstance(c, str) and c.strip()]
    typed = _field(form, "communes", 2000)
    chosen += [c for c in typed.replace(";", ",").replace(" ", ",").split(",") if c]
    chosen = list(dict.fromkeys(chosen))[:500]
    if not body:
        return see_other("/staff/notices?done=empty")
    if not chosen:
        return see_other("/staff/notices?done=no_communes")
    if not notices.serves_all(account, chosen) or any(get_commune(c) is None for c in chosen):
        return forbidden(signed, "Thông báo chỉ gửi được đến xã, phường anh/chị phụ trách.")
    now = service.clock()
    notice = await notices.compose(session, service.settings, service.services, now, account,
                                   body, chosen, _send_at(_field(form, "send_at", 40),
                                                          request) or now,
                                   _field(form, "urgent", 5) == "1")
    return see_other(f"/staff/notices?done={notice.status}")


async def notice_decide(request: web.Request, session: AsyncSession,
                        signed: Signed) -> web.Response:
    from bot.db import scheduler as store

    service = request.app[DESK].service
    notice = await session.get(store.Notice, int(request.match_info["id"]))
    if notice is None:
        return render("error.html", status=404, me=signed.account, csrf=signed.row.csrf_token,
                      title="Không tìm thấy", message="Không có thông báo này.")
    if not notices.can_approve(signed.account, notice):
        return forbidden(signed, "Thông báo do người khác duyệt: người viết không tự duyệt, "
                                 "và người duyệt phải phụ trách mọi xã, phường nhận.")
    status = await notices.decide(session, service.settings, service.services, service.clock(),
                                  signed.account, notice,
                                  approve=request.path.endswith("/approve"))
    return see_other(f"/staff/notices?done={status}")
