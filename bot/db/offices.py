"""The communes' service points (bộ phận một cửa, Trung tâm Phục vụ hành chính công): address,
phone, opening hours and a map link per commune, kept by an official with
`motcua import-offices` / `motcua export-offices` (bot/offices_cli.py) — and the commune a
citizen said they live in (`citizens.commune_code`), so the bot can answer "mấy giờ làm việc"
for the right counter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, Id, utcnow
from bot.db.models import Citizen

FIELDS = ("commune_code", "name", "address", "phone", "opening_hours", "map_url")
"""The columns of the import/export file, in order."""


class Office(Base):
    """One service point of a commune; a commune may have several (its centre, a branch)."""

    __tablename__ = "offices"
    __table_args__ = (UniqueConstraint("commune_code", "name"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    commune_code: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text, default="")
    phone: Mapped[str] = mapped_column(String(100), default="")
    opening_hours: Mapped[str] = mapped_column(Text, default="")
    map_url: Mapped[str] = mapped_column(String(500), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class OfficeFields:
    """An office as a file row states it (validated by the importer)."""

    commune_code: str
    name: str
    address: str = ""
    phone: str = ""
    opening_hours: str = ""
    map_url: str = ""

    def values(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FIELDS}


async def find_offices(session: AsyncSession, commune_code: str | None = None) -> list[Office]:
    """The offices of one commune (all of them when None), in a stable order."""
    query = select(Office).order_by(Office.commune_code, Office.id)
    if commune_code is not None:
        query = query.where(Office.commune_code == commune_code)
    return list(await session.scalars(query))


async def upsert_office(session: AsyncSession, fields: OfficeFields, now: datetime) -> str:
    """Create or update the office (commune, name); "created", "updated" or "unchanged"."""
    office = await session.scalar(select(Office).where(
        Office.commune_code == fields.commune_code, Office.name == fields.name))
    if office is None:
        session.add(Office(**fields.values(), updated_at=now))
        await session.flush()
        return "created"
    if all(getattr(office, name) == value for name, value in fields.values().items()):
        return "unchanged"
    for name, value in fields.values().items():
        setattr(office, name, value)
    office.updated_at = now
    return "updated"


async def get_citizen_commune(session: AsyncSession, citizen_id: int) -> str | None:
    return await session.scalar(select(Citizen.commune_code).where(Citizen.id == citizen_id))


async def set_citizen_commune(session: AsyncSession, citizen_id: int, code: str | None) -> None:
    await session.execute(update(Citizen).where(Citizen.id == citizen_id)
                          .values(commune_code=code))
