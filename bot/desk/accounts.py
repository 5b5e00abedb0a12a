"""Staff accounts: argon2 password hashes, optional one-time codes (TOTP, pyotp) asked after
the password, lockout after repeated failures (wrong passwords and wrong codes alike), and the
audit log of what accounts did (`audit_log`, actor "staff:USERNAME")."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import AuditLog
from bot.desk.models import StaffAccount, StaffSession
from bot.desk.roles import ADMIN, ROLES

MAX_FAILURES = 5
"""Wrong passwords in a row before an account is locked for LOCKOUT."""
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 10
TOTP_STEP = 30
"""Seconds each one-time code lasts (what authenticator apps use)."""
TOTP_ISSUER = "Một cửa"
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,59}$")
COMMUNE_RE = re.compile(r"^[0-9A-Za-z._-]{1,20}$")

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("motcua: a password no account has")
"""Verified against when the username is unknown, so a wrong name costs as long as a wrong
password and the timing does not tell which names exist."""


class AccountError(ValueError):
    """A request the accounts cannot satisfy (said to the operator as is)."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def check_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME_RE.match(name):
        raise AccountError("a username is 3-60 characters: letters a-z, digits, . _ -")
    return name


def check_communes(communes: list[str]) -> list[str]:
    bad = [c for c in communes if not COMMUNE_RE.match(c)]
    if bad:
        raise AccountError(f"not a commune code: {bad[0]!r}")
    return sorted(set(communes))


def audit(session: AsyncSession, now: datetime, actor: str, action: str, target: str = "",
          result: str = "ok", **detail: Any) -> None:
    session.add(AuditLog(at=now, actor=actor, action=action, target=target[:200],
                         result=result, detail=detail))


def actor_of(account: StaffAccount | None, fallback: str = "cli") -> str:
    return f"staff:{account.username}" if account is not None else fallback


async def find_account(session: AsyncSession, username: str) -> StaffAccount | None:
    return await session.scalar(select(StaffAccount).where(
        StaffAccount.username == username.strip().lower()))


async def add_account(session: AsyncSession, username: str, role: str, communes: list[str],
                      password: str, now: datetime, by: str = "cli") -> StaffAccount:
    name = check_username(username)
    if role not in ROLES:
        raise AccountError(f"the role is one of {', '.join(ROLES)}")
    if role != ADMIN and not communes:
        raise AccountError("an officer or leader serves at least one commune (--commune)")
    if await find_account(session, name) is not None:
        raise AccountError(f"the account {name} exists already")
    account = StaffAccount(username=name, role=role, communes=check_communes(communes),
                           password_hash=hash_password(password), created_at=now,
                           password_changed_at=now)
    session.add(account)
    await session.flush()
    audit(session, now, by, "staff.add", name, role=role, communes=account.communes)
    return account


async def end_sessions(session: AsyncSession, account: StaffAccount) -> None:
    await session.execute(delete(StaffSession).where(StaffSession.account_id == account.id))


async def disable_account(session: AsyncSession, username: str, now: datetime,
                          by: str = "cli") -> StaffAccount:
    account = await find_account(session, username)
    if account is None:
        raise AccountError(f"no account {username}")
    account.disabled = True
    await end_sessions(session, account)
    audit(session, now, by, "staff.disable", account.username)
    return account


async def reset_password(session: AsyncSession, username: str, password: str, now: datetime,
                         by: str = "cli") -> StaffAccount:
    """A new password; the account is unlocked and enabled again, and every browser signed
    in with the old password is signed out."""
    account = await find_account(session, username)
    if account is None:
        raise AccountError(f"no account {username}")
    account.password_hash = hash_password(password)
    account.password_changed_at = now
    account.failed_logins, account.locked_until, account.disabled = 0, None, False
    await end_sessions(session, account)
    audit(session, now, by, "staff.reset_password", account.username)
    return account


async def set_totp(session: AsyncSession, username: str, now: datetime, *, on: bool = True,
                   by: str = "cli") -> tuple[StaffAccount, str | None]:
    """A new TOTP secret for the account (its provisioning URI returned), or none (`on`
    False). Either way its browsers are signed out: a session opened without the code, or
    with the old secret's, does not outlive the change."""
    import pyotp

    account = await find_account(session, username)
    if account is None:
        raise AccountError(f"no account {username}")
    account.totp_secret = pyotp.random_base32() if on else None
    account.totp_last_step = None
    await end_sessions(session, account)
    audit(session, now, by, "staff.totp", account.username, "on" if on else "off")
    uri = pyotp.TOTP(account.totp_secret).provisioning_uri(
        name=account.username, issuer_name=TOTP_ISSUER) if account.totp_secret else None
    return account, uri


@dataclass
class LoginResult:
    account: StaffAccount | None
    reason: str = "ok"
    """ok | totp (the password is right; the code is asked next) | unknown | disabled |
    locked | wrong_password | wrong_totp"""


def _failed(session: AsyncSession, account: StaffAccount, now: datetime, origin: str) -> None:
    account.failed_logins += 1
    if account.failed_logins >= MAX_FAILURES:
        account.locked_until, account.failed_logins = now + LOCKOUT, 0
        audit(session, now, "desk", "staff.locked", account.username, origin=origin)


def _signed_in(account: StaffAccount, now: datetime) -> LoginResult:
    account.failed_logins, account.locked_until, account.last_login_at = 0, None, now
    return LoginResult(account)


async def authenticate(session: AsyncSession, username: str, password: str,
                       now: datetime, origin: str = "") -> LoginResult:
    """Check a login and record it in the audit log. MAX_FAILURES wrong passwords in a row
    lock the account for LOCKOUT; while locked even the right password is refused."""
    account = await find_account(session, username) if USERNAME_RE.match(
        username.strip().lower()) else None
    if account is None:
        _verify(_DUMMY_HASH, password)
        result = LoginResult(None, "unknown")
    elif account.disabled:
        _verify(_DUMMY_HASH, password)
        result = LoginResult(None, "disabled")
    elif account.locked_until is not None and account.locked_until > now:
        _verify(_DUMMY_HASH, password)
        result = LoginResult(None, "locked")
    elif not _verify(account.password_hash, password):
        _failed(session, account, now, origin)
        result = LoginResult(None, "wrong_password")
    else:
        if _hasher.check_needs_rehash(account.password_hash):
            account.password_hash = _hasher.hash(password)
        # With a TOTP secret the failures count on until the code is right too: a right
        # password does not buy more guesses at the code.
        result = LoginResult(account, "totp") if account.totp_secret else _signed_in(account,
                                                                                     now)
    audit(session, now, actor_of(account, "desk") if result.account else "desk",
          "staff.login", username.strip().lower()[:60], result.reason, origin=origin)
    return result


async def check_totp(session: AsyncSession, account: StaffAccount, code: str, now: datetime,
                     origin: str = "") -> LoginResult:
    """The second step of a login with TOTP: the code of the current 30-second step or of
    either neighbour (clocks drift), once only. A wrong code counts as a wrong password."""
    import pyotp

    if account.disabled or not account.totp_secret:
        result = LoginResult(None, "disabled")
    elif account.locked_until is not None and account.locked_until > now:
        result = LoginResult(None, "locked")
    else:
        totp, current = pyotp.TOTP(account.totp_secret), int(now.timestamp()) // TOTP_STEP
        step = next((s for s in (current - 1, current, current + 1)
                     if s > (account.totp_last_step or 0) and code.isascii()
                     and hmac.compare_digest(totp.at(s * TOTP_STEP), code)), None)
        if step is None:
            _failed(session, account, now, origin)
            result = LoginResult(None, "wrong_totp")
        else:
            account.totp_last_step = step
            result = _signed_in(account, now)
    audit(session, now, actor_of(account), "staff.login", account.username, result.reason,
          origin=origin, factor="totp")
    return result


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
