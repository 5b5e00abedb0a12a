"""Dates as a citizen reads them in a dossier's card, a reminder or a notice: the weekday and
the day, and the time only when it says something."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from handlers.texts import text


def format_date(moment: datetime, timezone: str) -> str:
    """"thứ Hai, 20/01/2026", and "lúc 09:00" after it when the time is not midnight or the
    end of the day — so "tiếp nhận ngày …" reads as a date, never "ngày 09:00 thứ Bảy"."""
    local = moment.astimezone(ZoneInfo(timezone))
    weekday = text("dossiers.weekday", index=local.weekday())
    day = f"{weekday[0].lower()}{weekday[1:]}, {local:%d/%m/%Y}"
    if (local.hour, local.minute) not in ((0, 0), (23, 59)):
        day = f"{day} lúc {local:%H:%M}"
    return day


def format_short(moment: datetime, timezone: str) -> str:
    local = moment.astimezone(ZoneInfo(timezone))
    if (local.hour, local.minute) == (0, 0):
        return f"{local:%d/%m/%Y}"
    return f"{local:%d/%m/%Y %H:%M}"
