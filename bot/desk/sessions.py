"""Server-side sessions of the web desk. The cookie is a random secret signed with SECRET_KEY
(itsdangerous); `staff_sessions` maps the secret's hash to the account and the CSRF token
every form of that session carries. A new secret is issued at each login (the browser's old
session, if any, is deleted), so a session fixed before login opens nothing after it.

Before login there is no session: the login form's CSRF token is the signature of a random
nonce kept in a short-lived cookie, so a login cannot be posted from another site. An account
with TOTP gets, after the right password, a signed token naming it and that nonce, which the
code's form carries: the session begins only once the code is right."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, BadTimeSignature, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.session import Database
from bot.desk.models import StaffAccount, StaffSession

IDLE = timedelta(hours=8)
"""A session unused this long is gone: the officer signs in again."""
TOUCH_EVERY = timedelta(minutes=1)
LOGIN_FORM_AGE = 3600
"""Seconds a login form stays valid."""
TOTP_FORM_AGE = 300
"""Seconds to type the one-time code once the password was right."""


def sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


@dataclass
class Signed:
    account: StaffAccount
    row: StaffSession


class DeskSessions:
    def __init__(self, db: Database, secret: Callable[[], bytes],
                 clock: Callable[[], datetime]) -> None:
        self.db = db
        self._secret = secret
        self.clock = clock

    def _signer(self) -> TimestampSigner:
        return TimestampSigner(self._secret(), salt="motcua.staff-desk.session")

    def _login_serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._secret(), salt="motcua.staff-desk.login")

    # -- before login -----------------------------------------------------------------------

    def login_form(self, nonce: str | None) -> tuple[str, str]:
        """The login cookie's nonce (the one given, or a new one) and the form's token."""
        nonce = nonce if nonce and len(nonce) == 43 else secrets.token_urlsafe(32)
        return nonce, str(self._login_serializer().dumps(nonce))

    def login_token_valid(self, nonce: str | None, token: str) -> bool:
        if not nonce or not token:
            return False
        try:
            signed = self._login_serializer().loads(token, max_age=LOGIN_FORM_AGE)
        except (BadSignature, BadTimeSignature):
            return False
        return isinstance(signed, str) and hmac.compare_digest(signed, nonce)

    def _totp_serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._secret(), salt="motcua.staff-desk.totp")

    def totp_pending(self, account_id: int, nonce: str) -> str:
        """Between the right password and the code: which account, for this browser only
        (the login cookie's nonce), for TOTP_FORM_AGE seconds. No session exists yet."""
        return str(self._totp_serializer().dumps([account_id, nonce]))

    def totp_account(self, token: str, nonce: str | None) -> int | None:
        if not token or not nonce:
            return None
        try:
            account_id, signed_nonce = self._totp_serializer().loads(token,
                                                                     max_age=TOTP_FORM_AGE)
        except (BadSignature, BadTimeSignature, TypeError, ValueError):
            return None
        if not isinstance(account_id, int) or not isinstance(signed_nonce, str) or \
                not hmac.compare_digest(signed_nonce, nonce):
            return None
        return account_id

    # -- signed in --------------------------------------------------------------------------

    async def begin(self, session: AsyncSession, account: StaffAccount,
                    previous_cookie: str | None) -> tuple[str, str]:
        """A fresh session for `account` (the browser's previous one ended): its cookie value
        and CSRF token."""
        now = self.clock()
        old = self._sid(previous_cookie)
        if old is not None:
            await session.execute(delete(StaffSession).where(
                StaffSession.sid_hash == sid_hash(old)))
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        session.add(StaffSession(sid_hash=sid_hash(sid), account_id=account.id, csrf_token=csrf,
                                 created_at=now, last_seen_at=now))
        return self._signer().sign(sid).decode(), csrf

    def _sid(self, cookie: str | None) -> str | None:
        if not cookie or len(cookie) > 200:
            return None
        try:
            return self._signer().unsign(cookie).decode()
        except (BadSignature, UnicodeDecodeError):
            return None

    async def find(self, session: AsyncSession, cookie: str | None) -> Signed | None:
        """The live session this cookie opens, with its account (enabled); else None."""
        sid = self._sid(cookie)
        if sid is None:
            return None
        row = await session.get(StaffSession, sid_hash(sid))
        now = self.clock()
        if row is None:
            return None
        if row.last_seen_at < now - IDLE:
            await session.delete(row)
            return None
        account = await session.get(StaffAccount, row.account_id)
        if account is None or account.disabled:
            return None
        if row.last_seen_at < now - TOUCH_EVERY:
            row.last_seen_at = now
        return Signed(account, row)

    async def end(self, session: AsyncSession, cookie: str | None) -> None:
        sid = self._sid(cookie)
        if sid is not None:
            await session.execute(delete(StaffSession).where(
                StaffSession.sid_hash == sid_hash(sid)))

    async def purge_idle(self) -> int:
        async with self.db.session() as session:
            result = await session.execute(delete(StaffSession).where(
                StaffSession.last_seen_at < self.clock() - IDLE))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def csrf_matches(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())
