"""Dossier-code guessing (RELIABILITY.md check 11): 10,000 guesses — from one chat, and spread
over 100 chats — half of them real codes with wrong digits: nothing disclosed, each chat
throttled after 5 failures, and the replies identical whether the code exists or not.

Driven through `Core.handle` (the whole pipeline: dedupe, identity, state, dispatch) without a
platform, for speed."""

from __future__ import annotations

import os
import random
from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import func, select

from bot.db import dossiers as repo
from bot.db.dossiers import DossierFields, DossierLookupFailure
from bot.db.models import AuditLog
from bot.db.session import Database
from bot.messages import Outgoing
from bot.router import Core
from handlers import build_router
from tests.conftest import make_settings
from tests.dialog import Dialog

GUESSES = int(os.environ.get("MOTCUA_ENUMERATION_GUESSES", "5000"))
"""Per scenario: 5,000 from one chat + 5,000 over 100 chats = 10,000 in the normal suite;
set 10000 to run 10,000 in each scenario (about twice as long)."""
REAL = 50
NOW = datetime(2026, 3, 16, 3, 0, tzinfo=UTC)
SECRETS = ("Đăng ký kết hôn", "Nguyễn", "SĐT", "Trạng thái", "Thủ tục", "Ngày hẹn trả")


def real_code(i: int) -> str:
    return f"000.00.01.H29-260305-{i:04d}"


def fake_code(i: int) -> str:
    return f"000.00.01.H29-260306-{i:04d}"


def shape(replies: list[Outgoing], code: str) -> tuple[tuple[str, tuple[str | None, ...]], ...]:
    """What a guesser sees, minus the code they typed themselves."""
    return tuple((r.text.replace(code, "<code>"), tuple(b.action for b in r.flat_buttons()))
                 for r in replies)


def phase(attempt: int) -> str:
    return "check" if attempt < 4 else "fifth" if attempt == 4 else "throttled"


async def guess(dialog: Dialog, code: str, digits: str,
                always_digits: bool) -> tuple[list[Outgoing], list[Outgoing]]:
    """Type a code (free text), then the digits if asked for them — or anyway, now and then,
    to check that digits typed while throttled are refused too."""
    asked = await dialog.say(code)
    if "4 số cuối" not in asked[0].text and not always_digits:
        return asked, []
    return asked, await dialog.say(digits)


async def run(core: Core, chats: int, guesses: int) -> None:
    rng = random.Random(chats)
    seen: dict[tuple[str, str, bool], set[object]] = defaultdict(set)
    disclosures = 0

    async def attacker(chat: int, count: int) -> None:
        nonlocal disclosures
        dialog = Dialog(core, channel="telegram", chat_id=f"{chats}-{chat}")
        for attempt in range(count):
            i = rng.randrange(REAL)
            is_real = (attempt + chat) % 2 == 0
            code = real_code(i) if is_real else fake_code(i)
            digits = f"{(i + 1 + rng.randrange(9_999)) % 10_000:04d}"  # never the right ones
            asked, answered = await guess(dialog, code, digits, attempt % 50 in (7, 8))
            if any(secret in r.text for r in asked + answered for secret in SECRETS):
                disclosures += 1
            step = phase(attempt)
            seen[(step, "asked", is_real)].add(shape(asked, code))
            if answered:
                seen[(step, "answered", is_real)].add(shape(answered, code))

    per_chat = guesses // chats
    for chat in range(chats):  # one after another: SQLite would only make them queue
        await attacker(chat, per_chat)

    assert disclosures == 0
    for step in ("check", "fifth", "throttled"):
        for part in ("asked", "answered"):
            real, fake = seen[(step, part, True)], seen[(step, part, False)]
            assert len(real | fake) == 1, (step, part, real | fake)  # one and the same reply
            assert real and (fake or chats == 1 and step == "fifth"), (step, part)  # both kinds
    check = next(iter(seen[("check", "answered", True)]))[0][0]
    fifth = next(iter(seen[("fifth", "answered", True)]))[0][0]
    throttled_code = next(iter(seen[("throttled", "asked", True)]))[0][0]
    throttled_digits = next(iter(seen[("throttled", "answered", True)]))[0][0]
    assert "chưa tìm thấy hồ sơ khớp" in check
    assert "tạm dừng tra cứu" in fifth  # the 5th failure throttles
    assert throttled_code == throttled_digits == fifth



async def test_10000_guesses_from_one_chat_and_from_100_chats(database_url: str) -> None:
    db = Database(database_url)
    core = Core(make_settings(database_url), db, build_router(), clock=lambda: NOW)
    async with db.session() as session:
        for i in range(REAL):
            await repo.upsert_dossier(session, DossierFields(
                code=real_code(i), procedure_code="1.000894", procedure_name="Đăng ký kết hôn",
                applicant_name="Nguyễn Văn An", phone=f"09{i:04d}{i:04d}",
                received_at=datetime(2026, 3, 5, tzinfo=UTC),
                due_at=datetime(2026, 3, 18, tzinfo=UTC)), NOW)
    await run(core, 1, GUESSES)
    await run(core, 100, GUESSES)
    async with db.session() as session:
        failures = await session.scalar(select(func.count()).select_from(DossierLookupFailure))
        logged = await session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "dossier.lookup_failed"))
    assert failures == logged == 5 * 101  # only 5 checks per chat ever reached a dossier
    await db.dispose()
