"""The staff desk's tables: accounts and their server-side sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, Id, utcnow
from bot.desk.roles import ADMIN


class StaffAccount(Base):
    """A person who signs in to the web desk. `communes` are the commune codes the account
    serves; an admin serves every commune whatever the list says."""

    __tablename__ = "staff_accounts"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    communes: Mapped[list[Any]] = mapped_column(default=list)
    password_hash: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(default=False)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    """Set by `motcua staff totp`: the login then asks the authenticator app's code too."""
    totp_last_step: Mapped[int | None] = mapped_column()
    """The 30-second step of the last code accepted: a code is good once."""

    def serves(self, commune_code: str | None) -> bool:
        """Whether this account may see and act on something of `commune_code` (None: a
        ticket whose commune is not known yet, which only admins see)."""
        if self.role == ADMIN:
            return True
        return commune_code is not None and commune_code in self.communes


class StaffSession(Base):
    """A signed-in browser: the hash of the secret its cookie signs, and the CSRF token its
    forms carry. Deleted at logout, at the next login of the same browser (rotation), when
    idle too long, and when the account is disabled or its password reset."""

    __tablename__ = "staff_sessions"
    sid_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column(index=True)
