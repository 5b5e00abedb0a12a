"""Zalo tables and their repository functions: the OA's tokens and what we know of each OA
citizen's reply window.

`zalo_tokens` holds the OA access token and the rotating, single-use refresh token. Zalo hands
out a new refresh token on every refresh and the old one stops working, so the pair is written
in one transaction, and only one process at a time refreshes: it holds the row lock on
PostgreSQL (`SELECT … FOR UPDATE`) or a lease on the row (`lease_owner`, `lease_until`) on
SQLite.

`zalo_oa_contacts` is the reply window of each citizen (PLATFORMS.md §2.6): when they last
interacted, the `msg_id` of their last message (a reply quoting it uses the free 8-in-48 h
allowance) and how many replies were sent since.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.sql import dialect_of, insert_ignore

OA_TOKEN = "oa"
"""The row of the Official Account's tokens (one OA per deployment)."""


class ZaloToken(Base):
    __tablename__ = "zalo_tokens"
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    access_token: Mapped[str | None] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column()
    lifetime_seconds: Mapped[int | None] = mapped_column()
    refreshed_at: Mapped[datetime | None] = mapped_column()
    seed_hash: Mapped[str] = mapped_column(String(64))
    """sha256 of the configured ZALO_OA_REFRESH_TOKEN this row started from: a new one in the
    settings (the OA was linked again) replaces the stored pair."""
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column()
    failures: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class ZaloOAContact(Base):
    """A citizen as the OA sees them: the reply window and what their profile told us."""

    __tablename__ = "zalo_oa_contacts"
    user_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str | None] = mapped_column(String(20))
    follower: Mapped[bool | None] = mapped_column()
    last_interaction_at: Mapped[datetime | None] = mapped_column()
    last_msg_id: Mapped[str | None] = mapped_column(String(100))
    last_msg_at: Mapped[datetime | None] = mapped_column()
    replies_used: Mapped[int] = mapped_column(default=0)
    profile_at: Mapped[datetime | None] = mapped_column()


# -- tokens ---------------------------------------------------------------------------------


async def seed_token(session: AsyncSession, refresh_token: str, seed_hash: str) -> None:
    """Create the token row from the configured refresh token, or start again from it when
    the configured one changed (the OA was re-linked); otherwise leave the stored pair."""
    inserted = await insert_ignore(session, ZaloToken, {
        "name": OA_TOKEN, "refresh_token": refresh_token, "seed_hash": seed_hash,
        "failures": 0})
    if not inserted:
        await session.execute(
            update(ZaloToken).where(ZaloToken.name == OA_TOKEN, ZaloToken.seed_hash != seed_hash)
            .values(refresh_token=refresh_token, seed_hash=seed_hash, access_token=None,
                    expires_at=None, failures=0, last_error=None))


async def get_token(session: AsyncSession, *, lock: bool = False) -> ZaloToken | None:
    """The OA token row; `lock` takes the row lock on PostgreSQL (held to the commit)."""
    query = select(ZaloToken).where(ZaloToken.name == OA_TOKEN)
    if lock and dialect_of(session) == "postgresql":
        query = query.with_for_update()
    row: ZaloToken | None = (await session.scalars(
        query.execution_options(populate_existing=True))).one_or_none()
    return row


async def take_lease(session: AsyncSession, owner: str, now: datetime, until: datetime) -> bool:
    """Become the one refresher (SQLite; PostgreSQL uses the row lock): True if taken."""
    result = await session.execute(
        update(ZaloToken)
        .where(ZaloToken.name == OA_TOKEN,
               (ZaloToken.lease_until.is_(None)) | (ZaloToken.lease_until < now)
               | (ZaloToken.lease_owner == owner))
        .values(lease_owner=owner, lease_until=until))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def store_tokens(session: AsyncSession, *, access_token: str, refresh_token: str,
                       expires_at: datetime, lifetime: int, now: datetime) -> None:
    await session.execute(
        update(ZaloToken).where(ZaloToken.name == OA_TOKEN).values(
            access_token=access_token, refresh_token=refresh_token, expires_at=expires_at,
            lifetime_seconds=lifetime, refreshed_at=now, failures=0, last_error=None,
            lease_owner=None, lease_until=None))


async def record_refresh_failure(session: AsyncSession, error: str, owner: str) -> int:
    """Note a failed refresh and let go of the lease; returns the failures in a row."""
    row = await get_token(session)
    if row is None:
        return 0
    values: dict[str, Any] = {"failures": row.failures + 1, "last_error": error[:500]}
    if row.lease_owner == owner:
        values.update(lease_owner=None, lease_until=None)
    await session.execute(update(ZaloToken).where(ZaloToken.name == OA_TOKEN).values(**values))
    return row.failures + 1


async def expire_access_token(session: AsyncSession, stale: str) -> None:
    """Zalo refused this access token (-216/-220): mark it so the next caller refreshes."""
    await session.execute(
        update(ZaloToken).where(ZaloToken.name == OA_TOKEN, ZaloToken.access_token == stale)
        .values(expires_at=None))


# -- contacts -------------------------------------------------------------------------------


async def get_contact(session: AsyncSession, user_id: str) -> ZaloOAContact | None:
    return await session.get(ZaloOAContact, user_id, populate_existing=True)


async def record_interaction(session: AsyncSession, user_id: str, at: datetime, *,
                             msg_id: str | None = None, follower: bool | None = None) -> None:
    """The citizen did something that opens the window again: a message resets the free
    replies (8 in 48 h) and becomes the one replies quote; a follow counts as interaction."""
    values: dict[str, Any] = {"last_interaction_at": at}
    if msg_id is not None:
        values.update(last_msg_id=msg_id, last_msg_at=at, replies_used=0)
    if follower is not None:
        values["follower"] = follower
    if not await insert_ignore(session, ZaloOAContact, {"user_id": user_id, "display_name": "",
                                                        "replies_used": 0, **values}):
        query = update(ZaloOAContact).where(ZaloOAContact.user_id == user_id)
        if msg_id is not None:  # a late retry of an older message must not move time back
            query = query.where((ZaloOAContact.last_msg_at.is_(None))
                                | (ZaloOAContact.last_msg_at <= at))
        await session.execute(query.values(**values))


async def record_unfollow(session: AsyncSession, user_id: str) -> None:
    await session.execute(update(ZaloOAContact).where(ZaloOAContact.user_id == user_id)
                          .values(follower=False))


async def use_reply(session: AsyncSession, user_id: str, msg_id: str) -> None:
    """One reply quoting `msg_id` was sent (counted only while it is still the last one)."""
    await session.execute(
        update(ZaloOAContact)
        .where(ZaloOAContact.user_id == user_id, ZaloOAContact.last_msg_id == msg_id)
        .values(replies_used=ZaloOAContact.replies_used + 1))


async def store_profile(session: AsyncSession, user_id: str, *, name: str, phone: str | None,
                        follower: bool | None, at: datetime) -> None:
    """What the OA's profile (or the citizen's shared info) says. Follow/unfollow events are
    newer than a profile fetched meanwhile, so `follower` only fills a gap."""
    values: dict[str, Any] = {"profile_at": at}
    if name:
        values["display_name"] = name[:200]
    if phone:
        values["phone"] = phone
    if not await insert_ignore(session, ZaloOAContact, {"user_id": user_id, "replies_used": 0,
                                                        "display_name": "", "follower": follower,
                                                        **values}):
        await session.execute(update(ZaloOAContact).where(ZaloOAContact.user_id == user_id)
                              .values(**values))
        if follower is not None:
            await session.execute(update(ZaloOAContact).where(
                ZaloOAContact.user_id == user_id, ZaloOAContact.follower.is_(None))
                .values(follower=follower))
