"""Acceptance check of issue 11 (RELIABILITY.md check 11, over HTTP): a running service
survives 10,000 digit guesses at one real dossier code from made-up web-chat sessions without
learning the digits.

The real `Service` on port 0 with a SQLite file (or PostgreSQL), the Telegram fake for the
staff group, an injected clock, and an aiohttp client keeping no cookies. The attacker knows
the code and types the digits 0000, 0001, … in order (the right ones are guess number 500),
each guess by one of three strategies, several at a time:

(a) made-up cookies: every request carries a value the server never issued (random 16–64
    characters, our format signed with a guessed key, a real cookie with a forged signature) —
    it must be replaced, never adopted, and made-up sessions over the per-address limit store
    nothing;
(b) session cycling: the code in a new session from a new client address (behind the trusted
    proxy), the digits with the cookie that answer issued, then the cookie is thrown away — no
    per-chat or per-address limit ever applies, only the per-code lock stands;
(c) one long-lived session, code and digits again and again.

Nothing is ever disclosed; the code locks after LOOKUP_MAX_FAILURES_PER_CODE failures; the
right digits are refused while it is locked; the staff group is alerted once; rows grow only
with the sessions the service allowed; and once the lock is over the owner gets in.

`MOTCUA_HTTP_GUESSES` sets the size (default 10,000)."""

from __future__ import annotations

import asyncio
import os
import random
import string
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import func, select

from bot.app import Service
from bot.db import dossiers as repo
from bot.db.dossiers import DossierFields, DossierLookupFailure
from bot.db.models import (
    AuditLog,
    Citizen,
    Conversation,
    Identity,
    OutboxMessage,
    WebSession,
)
from tests.conftest import make_settings
from tests.fakes.telegram_api import FakeTelegram
from tests.test_web_security import COOKIE, SALT, set_cookie, signed_by

pytestmark = pytest.mark.slow

GUESSES = int(os.environ.get("MOTCUA_HTTP_GUESSES", "10000"))
RIGHT_AT = min(500, GUESSES // 2)
"""The guess that types the right digits: long after the lock engaged."""
WORKERS = 8
"""Guesses in flight at once (strategies (a) and (b); (c) is one session, one at a time)."""
API = "/chat/api/messages"
BOT_TOKEN = "123456:TEST-token-for-the-fake-api_abcdefghij"
STAFF_GROUP = -100777
CODE = "000.00.01.H29-260105-0001"
PHONE = f"091234{RIGHT_AT:04d}"
PROCEDURE = "Xác nhận tình trạng hôn nhân"
APPLICANT = "Phạm Thị Quyên"
START = datetime(2026, 3, 16, 3, 0, tzinfo=UTC)  # a Monday, 10:00 in Hà Nội
SECRETS = (PROCEDURE, "Phạm T. Q.", APPLICANT, "Trạng thái", "thông tin hồ sơ", PHONE,
           "09******" + PHONE[-2:])
"""What a status card shows (the right digits are only ever typed, never echoed)."""
MARKS = {"locked": "tạm dừng tra cứu mã này", "throttled": "trên cuộc trò chuyện này",
         "no_match": "chưa tìm thấy hồ sơ khớp", "ask": "4 số cuối",
         "chat_limited": "gửi nhiều tin nhắn liên tiếp"}
"""How each answer is told apart, first match wins (the lock's answer names the digits too)."""
STRATEGIES = ("cycling",) * 6 + ("made_up",) * 2 + ("long_lived",) * 2
CYCLING_ADDRESS = "10.{}.{}.{}"
MADE_UP_ADDRESSES = [f"192.0.2.{n}" for n in range(1, 5)]
LONG_LIVED_ADDRESS = "198.18.0.1"
OWNER_ADDRESS = "203.0.113.50"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def spellings(code: str) -> Iterator[str]:
    """How an attacker may type the same code (all one code to the service)."""
    lower = code.lower()
    while True:
        yield code
        yield lower
        yield code.replace("-", " - ")
        yield code.replace("-", "–")
        yield f"hồ sơ {lower} đến đâu rồi"
        yield f"/hoso {code}"


def strategy(guess: int) -> str:
    """Six in ten guesses cycle sessions, two use made-up cookies, two the long-lived one."""
    if guess == RIGHT_AT:
        return "cycling"  # the right digits in a proper check: only the lock stops them
    return STRATEGIES[guess % len(STRATEGIES)]


def kind_of(reply: str) -> str:
    return next((kind for kind, mark in MARKS.items() if mark in reply), f"other: {reply[:80]}")


@dataclass
class Attack:
    """What the attacker sent and saw, and what the service allowed."""

    service: Service
    http: aiohttp.ClientSession
    clock: Clock
    rng: random.Random = field(default_factory=lambda: random.Random(11))
    codes: Iterator[str] = field(default_factory=lambda: spellings(CODE))
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    digit_replies: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(strategy, kind of reply) for each digits message answered 200."""
    disclosures: list[str] = field(default_factory=list)
    new_sessions: int = 0
    """Requests without a live session that the service answered: each began a session."""
    made_up: list[str] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    right_reply: str | None = None
    long_lived: str | None = None

    async def post(self, how: str, text: str, cookie: str | None, address: str,
                   *, made_up: bool = False) -> tuple[int, str, str | None]:
        """One message; gives the status, the replies' text and the cookie set (if any)."""
        headers = {"X-Forwarded-For": address}
        if cookie is not None:
            headers["Cookie"] = f"{COOKIE}={cookie}"
        async with self.http.post(f"http://127.0.0.1:{self.service.port}{API}",
                                  json={"text": text}, headers=headers) as response:
            body = await response.json()
            fresh = set_cookie(response)
            status = response.status
        self.statuses[(how, status)] += 1
        replies = "\n".join(m["text"] for m in body.get("messages", [])) \
            if status == 200 else body["error"]
        if how != "owner" and any(secret in replies for secret in SECRETS):
            self.disclosures.append(f"{how}: {replies[:200]}")
        if status == 429:
            assert fresh is None, how  # a refused request issues nothing
        else:
            assert status == 200, (how, status, body)
        if status == 200 and (cookie is None or made_up):
            # never adopted: a new session, with a cookie the server signed
            assert fresh is not None and fresh != cookie and \
                signed_by(self.service.settings, fresh), (how, cookie, fresh)
            self.new_sessions += 1
            self.issued.append(fresh)
        return status, replies, fresh

    def made_up_cookie(self) -> str:
        """Random 16–64 characters, our format signed with a guessed key, or a cookie the
        server issued with its signature (or its secret) changed."""
        rng = self.rng
        kind = rng.randrange(4)
        if kind == 0 or not self.issued:
            alphabet = string.ascii_letters + string.digits + "-_."
            value = "".join(rng.choice(alphabet) for _ in range(rng.randint(16, 64)))
        elif kind == 1:
            secret = "".join(rng.choice(string.ascii_letters) for _ in range(32))
            value = TimestampSigner(b"guessed-" + secret.encode(), salt=SALT).sign(
                secret).decode()
        else:
            sid, timestamp, signature = rng.choice(self.issued).rsplit(".", 2)
            if kind == 2:
                signature = "".join(rng.choice(string.ascii_letters + string.digits + "-_")
                                    for _ in signature)
            else:
                sid = sid[:-1] + ("A" if sid[-1] != "A" else "B")
            value = f"{sid}.{timestamp}.{signature}"
        self.made_up.append(value)
        return value

    async def guess(self, number: int) -> None:
        """Type the code, then the guess's digits, the strategy's way."""
        how = strategy(number)
        code, digits = next(self.codes), f"{number:04d}"
        self.clock.now += timedelta(seconds=1)
        if how == "cycling":
            address = CYCLING_ADDRESS.format(number >> 16 & 255, number >> 8 & 255, number & 255)
            status, asked, cookie = await self.post(how, code, None, address)
            assert status == 200 and kind_of(asked) == "ask", asked
            status, answered, again = await self.post(how, digits, cookie, address)
            assert again is None  # nothing unlocked, so no rotation
        elif how == "made_up":
            address = MADE_UP_ADDRESSES[number % len(MADE_UP_ADDRESSES)]
            await self.post(how, code, self.made_up_cookie(), address, made_up=True)
            # the digits in yet another made-up session: that chat never saw a code
            status, answered, _ = await self.post(how, digits, self.made_up_cookie(), address,
                                                  made_up=True)
            return
        else:
            await self.post(how, code, self.long_lived, LONG_LIVED_ADDRESS)
            status, answered, _ = await self.post(how, digits, self.long_lived,
                                                  LONG_LIVED_ADDRESS)
        if status == 200:
            self.digit_replies[(how, kind_of(answered))] += 1
        if number == RIGHT_AT:
            self.right_reply = answered


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(limit_per_chat_per_s=None) as api:
        yield api


async def counts(service: Service) -> dict[str, int]:
    async with service.db.session() as session:
        return {table.__tablename__: int(await session.scalar(
            select(func.count()).select_from(table)) or 0)
            for table in (Citizen, Identity, Conversation, WebSession, DossierLookupFailure)}


async def rows_of(service: Service, model: Any, *where: Any) -> list[Any]:
    async with service.db.session() as session:
        return list(await session.scalars(select(model).where(*where)))


async def history(attack: Attack, cookie: str) -> tuple[list[str], str | None]:
    async with attack.http.get(f"http://127.0.0.1:{attack.service.port}{API}?after=0",
                               headers={"Cookie": f"{COOKIE}={cookie}"}) as response:
        assert response.status == 200
        return [m["text"] for m in (await response.json())["messages"]], set_cookie(response)


@pytest.mark.timeout(1800)  # a hang guard only: 10,000 guesses take over 5 min on a busy machine
async def test_10000_digit_guesses_over_http_learn_nothing(
    database_url: str, fake: FakeTelegram,
) -> None:
    clock = Clock()
    settings = make_settings(database_url, trusted_proxies="127.0.0.1",
                             telegram_bot_token=BOT_TOKEN, telegram_api_base_url=fake.base_url,
                             telegram_staff_chat_id=STAFF_GROUP)
    per_code = settings.lookup_max_failures_per_code
    async with Service(settings, clock=clock) as service, aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(),
            connector=aiohttp.TCPConnector(limit=WORKERS + 1)) as http:
        async with service.db.session() as session:
            await repo.upsert_dossier(session, DossierFields(
                code=CODE, procedure_code="2.000986", procedure_name=PROCEDURE,
                applicant_name=APPLICANT, phone=PHONE, received_at=START - timedelta(days=5),
                due_at=START + timedelta(days=5)), START)
        attack = Attack(service, http, clock)
        _, _, attack.long_lived = await attack.post("long_lived", "/start", None,
                                                    LONG_LIVED_ADDRESS)

        async def long_lived() -> None:
            for number in range(GUESSES):
                if strategy(number) == "long_lived":
                    await attack.guess(number)

        async def worker(queue: Iterator[int]) -> None:
            for number in queue:
                await attack.guess(number)

        others = iter([n for n in range(GUESSES) if strategy(n) != "long_lived"])
        await asyncio.gather(long_lived(), *(worker(others) for _ in range(WORKERS)))

        # -- nothing learnt -----------------------------------------------------------------
        assert attack.disclosures == []
        assert kind_of(attack.right_reply or "") == "locked", attack.right_reply
        checked = {kind for (how, kind) in attack.digit_replies if how == "cycling"}
        assert checked <= {"no_match", "locked"}, attack.digit_replies
        # The long-lived session is held by the web session's 429s; a request let through by
        # that window may still meet the chat's own window, a real-time instant later: then
        # the chat's notice, which names nothing either.
        checked = {kind for (how, kind) in attack.digit_replies if how == "long_lived"}
        assert checked <= {"no_match", "locked", "chat_limited"}, attack.digit_replies
        # the lock engaged after LOOKUP_MAX_FAILURES_PER_CODE failures, and no check after it
        failures = await rows_of(service, DossierLookupFailure)
        assert len(failures) == per_code
        no_match = sum(n for (how, kind), n in attack.digit_replies.items() if kind == "no_match")
        assert no_match == per_code - 1
        locked = await rows_of(service, AuditLog, AuditLog.action == "dossier.code_locked")
        assert len(locked) == 1 and locked[0].detail["failures"] == per_code
        # every session's history holds no card either (the long-lived one, the right guess)
        for cookie in (attack.long_lived, attack.issued[-1]):
            shown, _ = await history(attack, cookie)
            assert not any(secret in text for text in shown for secret in SECRETS)

        # -- made-up cookies open nothing, and rows grow only with allowed sessions ---------
        for cookie in attack.made_up[:: max(1, len(attack.made_up) // 40)]:
            assert await history(attack, cookie) == ([], None)
        refused_made_up = attack.statuses[("made_up", 429)]
        assert refused_made_up > 0  # the new-session limit per address did refuse some
        rows = await counts(service)
        assert rows["citizens"] == rows["identities"] == rows["web_sessions"] == \
            attack.new_sessions
        assert rows["conversations"] <= attack.new_sessions  # digits in a new chat keep none

        # -- the staff group heard of it once ------------------------------------------------
        alerts = await rows_of(service, OutboxMessage, OutboxMessage.purpose == "staff_alert")
        assert len(alerts) == 1 and alerts[0].chat_id == str(STAFF_GROUP)
        await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok
                            and str(c.chat_id) == str(STAFF_GROUP), timeout=15)
        (alert,) = fake.sent_messages(STAFF_GROUP)
        assert CODE in alert["text"] and f"{per_code} lần" in alert["text"]

        # -- the owner: refused until the lock is over, then in ------------------------------
        (lock,) = await rows_of(service, repo.DossierLookupLock)
        clock.now = lock.until - timedelta(minutes=1)
        _, _, owner = await attack.post("owner", CODE, None, OWNER_ADDRESS)
        _, refused, _ = await attack.post("owner", PHONE[-4:], owner, OWNER_ADDRESS)
        assert kind_of(refused) == "locked"
        clock.now = lock.until + timedelta(minutes=1)
        status, card, rotated = await attack.post("owner", PHONE[-4:], owner, OWNER_ADDRESS)
        assert status == 200 and f"thông tin hồ sơ {CODE}" in card and PROCEDURE in card
        assert rotated is not None and rotated != owner  # a new cookie after unlocking
        assert await history(attack, owner) == ([], None)
        assert len(await rows_of(service, OutboxMessage,
                                 OutboxMessage.purpose == "staff_alert")) == 1
    print(f"\n{GUESSES} guesses: {dict(attack.statuses)}; digits answered "
          f"{dict(attack.digit_replies)}; {attack.new_sessions} sessions allowed")
