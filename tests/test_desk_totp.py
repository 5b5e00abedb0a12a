"""Optional one-time codes (TOTP) at the desk's login: `motcua staff totp` prints the
authenticator app's URI; the login then asks the code after the right password, and opens a
session only once the code is right — each code good once, wrong codes locking the account as
wrong passwords do. The codes here are made by pyotp, as an authenticator app makes them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pyotp
import pytest

from bot.app import Service
from bot.config import Settings
from bot.desk import accounts
from bot.desk.accounts import MAX_FAILURES
from tests.test_desk import CSRF_RE, PASSWORD, START, Clock, browser, login, signed_in, staffed

PENDING_RE = re.compile(r'name="pending" value="([^"]+)"')


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def service(settings: Settings, clock: Clock) -> AsyncIterator[Service]:
    async with staffed(settings, clock) as svc:
        yield svc


async def enrol(service: Service, username: str = "quantri") -> pyotp.TOTP:
    async with service.db.session() as session:
        _, uri = await accounts.set_totp(session, username, START)
    assert uri is not None
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP)
    return totp


async def password_step(http: aiohttp.ClientSession, username: str = "quantri",
                        next_page: str = "") -> tuple[int, str, str]:
    """The login form posted: its status, the code form's CSRF token and pending token."""
    async with http.get("/staff/login") as response:
        token = CSRF_RE.search(await response.text()).group(1)  # type: ignore[union-attr]
    async with http.post("/staff/login", allow_redirects=False, data={
            "username": username, "password": PASSWORD, "csrf_token": token,
            "next": next_page}) as response:
        page = await response.text()
    pending = PENDING_RE.search(page)
    return response.status, token, pending.group(1) if pending else ""


async def code_step(http: aiohttp.ClientSession, token: str, pending: str, code: str,
                    next_page: str = "") -> aiohttp.ClientResponse:
    async with http.post("/staff/login/totp", allow_redirects=False, data={
            "csrf_token": token, "pending": pending, "code": code,
            "next": next_page}) as response:
        await response.read()
        return response


def has_session(http: aiohttp.ClientSession) -> bool:
    return any(c.key == "motcua_staff" for c in http.cookie_jar)


async def test_the_login_asks_the_code_and_takes_each_code_once(service: Service,
                                                                clock: Clock) -> None:
    totp = await enrol(service)
    async with browser(service) as http:
        status, token, pending = await password_step(http, next_page="/staff/audit")
        assert status == 200 and pending and not has_session(http)
        async with http.get("/staff", allow_redirects=False) as response:
            assert response.status == 302  # the password alone opens nothing
        wrong = await code_step(http, token, pending, "000000" if totp.at(clock.now) != "000000"
                                else "111111", "/staff/audit")
        assert wrong.status == 401 and not has_session(http)
        right = await code_step(http, token, pending, totp.at(clock.now), "/staff/audit")
        assert (right.status, right.headers["Location"]) == (303, "/staff/audit")
        async with http.get("/staff/audit") as response:
            assert response.status == 200
    async with browser(service) as thief:  # the same code, seen over a shoulder
        _, token, pending = await password_step(thief)
        assert (await code_step(thief, token, pending, totp.at(clock.now))).status == 401
        clock.now += timedelta(seconds=60)  # a code not used yet, from a phone 30 s behind
        late = await code_step(thief, token, pending, totp.at(clock.now - timedelta(seconds=30)))
        assert late.status == 303 and has_session(thief)
    async with browser(service) as officer:  # accounts without a secret: the password only
        assert (await login(officer, "canbo_a")).status == 303


async def test_wrong_codes_lock_the_account(service: Service, clock: Clock) -> None:
    totp = await enrol(service)
    async with browser(service) as http:
        _, token, pending = await password_step(http)
        for n in range(MAX_FAILURES):
            guess = f"{n:06d}" if f"{n:06d}" != totp.at(clock.now) else "999999"
            assert (await code_step(http, token, pending, guess)).status == 401
        locked = await code_step(http, token, pending, totp.at(clock.now))
        assert locked.status == 401 and not has_session(http)
        assert (await password_step(http))[0] == 401  # the password is refused too
    clock.now += timedelta(minutes=16)
    async with browser(service) as http:
        _, token, pending = await password_step(http)
        assert (await code_step(http, token, pending, totp.at(clock.now))).status == 303


async def test_a_pending_login_belongs_to_its_browser(service: Service, clock: Clock) -> None:
    totp = await enrol(service)
    async with browser(service) as http:
        _, _, pending = await password_step(http)
        without = await code_step(http, "", pending, totp.at(clock.now))  # no CSRF token
        assert without.status == 403 and not has_session(http)
    async with browser(service) as other:
        async with other.get("/staff/login") as response:
            token = CSRF_RE.search(await response.text()).group(1)  # type: ignore[union-attr]
        refused = await code_step(other, token, pending, totp.at(clock.now))
        assert refused.status == 403 and not has_session(other)
        forged = await code_step(other, token, pending[:-2] + "xx", totp.at(clock.now))
        assert forged.status == 403


async def test_enrolling_signs_the_account_out(service: Service) -> None:
    async with await signed_in(service, "quantri") as http:
        await enrol(service)
        async with http.get("/staff", allow_redirects=False) as response:
            assert response.status == 302


async def test_motcua_staff_totp_prints_the_uri_and_turns_it_off(tmp_path: Path) -> None:
    from tests.conftest import make_settings
    from tests.test_console_and_cli import run_cli

    url = f"sqlite+aiosqlite:///{tmp_path}/desk.db"
    env = {"DATABASE_URL": url, "DATA_DIR": str(tmp_path)}

    async def staff(*args: str, stdin: str = "") -> object:
        return await asyncio.to_thread(run_cli, ["staff", *args], env, stdin, tmp_path)

    await staff("add", "quantri", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    made = await staff("totp", "quantri")
    assert made.returncode == 0, made.stderr  # type: ignore[attr-defined]
    uri = made.stdout.strip().splitlines()[-1]  # type: ignore[attr-defined]
    assert urlsplit(uri).scheme == "otpauth" and parse_qs(urlsplit(uri).query)["secret"]
    async with Service(make_settings(url)) as service, browser(service) as http:
        status, token, pending = await password_step(http)
        assert status == 200
        code = pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0]).now()
        assert (await code_step(http, token, pending, code)).status == 303
    off = await staff("totp", "quantri", "--off")
    assert off.returncode == 0  # type: ignore[attr-defined]
    async with Service(make_settings(url)) as service, browser(service) as http:
        assert (await login(http, "quantri")).status == 303
    assert (await staff("totp", "nobody")).returncode == 2  # type: ignore[attr-defined]
