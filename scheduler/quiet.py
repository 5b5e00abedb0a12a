"""Quiet hours and the working-day calendar (Asia/Ho_Chi_Minh by default).

The calendar counts the working days of Vietnamese civil servants: Monday to Friday, minus the
public holidays of the Labour Code — taken from the `holidays` library (Vietnam: Tết and Giỗ
Tổ Hùng Vương by the lunar calendar, days in lieu of a holiday on a weekend) — and minus the
Government's yearly decisions kept in `holidays.json` (editable data shipped with the package,
or the file named by HOLIDAYS_FILE): days off swapped with a working Saturday, provisional
entries until a decision is published, and the Saturdays worked in exchange. Everything here
is pure: dates and times are passed in, nothing reads the clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


@cache
def public_holidays(year: int) -> frozenset[date]:
    """The public holidays of Vietnam in `year`, with the days in lieu (the library)."""
    return frozenset(holidays.country_holidays("VN", years=year))


@dataclass(frozen=True)
class WorkingCalendar:
    """Which days are working days. `days_off`: weekdays off by a Government decision (on top
    of the public holidays); `days_worked`: days worked although a weekend or a holiday."""

    days_off: frozenset[date] = frozenset()
    days_worked: frozenset[date] = frozenset()
    provisional: frozenset[date] = frozenset()
    """Entries of `days_off`/`days_worked` not yet confirmed by a published decision."""
    names: dict[date, str] = field(default_factory=dict, compare=False, hash=False)

    def is_working_day(self, day: date) -> bool:
        if day in self.days_worked:
            return True
        if day.weekday() >= 5 or day in self.days_off:
            return False
        return day not in public_holidays(day.year)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 when `end <= start`):
        on Monday, a Wednesday appointment is "còn 2 ngày làm việc"."""
        if end <= start:
            return 0
        return sum(1 for offset in range(1, (end - start).days + 1)
                   if self.is_working_day(start + timedelta(days=offset)))

    def add_working_days(self, start: date, days: int) -> date:
        """The date `days` working days after `start` (a time limit counted from a receipt)."""
        day = start
        remaining = days
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def previous_working_day(self, day: date) -> date:
        """The last working day before `day` (for "the working day before an appointment")."""
        day -= timedelta(days=1)
        while not self.is_working_day(day):
            day -= timedelta(days=1)
        return day


def local_date(moment: datetime, timezone: str = DEFAULT_TIMEZONE) -> date:
    """The calendar date of an aware `moment` in `timezone`."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def working_days_left(now: datetime, due: datetime, calendar: WorkingCalendar,
                      timezone: str = DEFAULT_TIMEZONE) -> int:
    """"Còn N ngày làm việc": working days after today (local) up to the due date."""
    return calendar.working_days_between(local_date(now, timezone), local_date(due, timezone))


def working_days_late(now: datetime, due: datetime, calendar: WorkingCalendar,
                      timezone: str = DEFAULT_TIMEZONE) -> int:
    """Working days elapsed after the due date up to today (0 when not late)."""
    return calendar.working_days_between(local_date(due, timezone), local_date(now, timezone))


def calendar_from_data(data: dict[str, object]) -> WorkingCalendar:
    """Build a calendar from the structure of `holidays.json`: `days_off` and `days_worked`,
    lists of {"date": "2026-08-31", "name": …, "decision": …, "provisional": true}."""

    def entries(key: str) -> list[dict[str, object]]:
        items = data.get(key) or []
        assert isinstance(items, list), f"{key} must be a list"
        return items

    def dates(key: str) -> dict[date, str]:
        return {date.fromisoformat(str(item["date"])): str(item.get("name", ""))
                for item in entries(key)}

    off, worked = dates("days_off"), dates("days_worked")
    provisional = {date.fromisoformat(str(item["date"]))
                   for key in ("days_off", "days_worked") for item in entries(key)
                   if item.get("provisional")}
    return WorkingCalendar(frozenset(off), frozenset(worked), frozenset(provisional),
                           {**off, **worked})


def load_calendar(path: str | Path | None = None) -> WorkingCalendar:
    """The calendar from `path`, or the one shipped in this package."""
    if path is None:
        raw = resources.files("scheduler").joinpath("holidays.json").read_text("utf-8")
    else:
        raw = Path(path).read_text("utf-8")
    return calendar_from_data(json.loads(raw))


@cache
def default_calendar(path: str | None = None) -> WorkingCalendar:
    """The calendar of HOLIDAYS_FILE (`path`), or the shipped one; read once."""
    return load_calendar(path)


# -- quiet hours ------------------------------------------------------------------------------


def in_quiet_hours(moment: datetime, window: tuple[time, time] | None,
                   timezone: str = DEFAULT_TIMEZONE) -> bool:
    """Whether the aware `moment` falls in the quiet window (start inclusive, end exclusive).
    A window may wrap midnight (21:00-07:00); None or an empty window means no quiet hours."""
    if window is None or window[0] == window[1]:
        return False
    start, end = window
    local = moment.astimezone(ZoneInfo(timezone)).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_allowed(moment: datetime, window: tuple[time, time] | None,
                 timezone: str = DEFAULT_TIMEZONE) -> datetime:
    """`moment` itself when outside quiet hours, else the first minute after them (the end of
    the window, local time), as an aware datetime in `moment`'s zone."""
    if not in_quiet_hours(moment, window, timezone):
        return moment
    assert window is not None
    zone = ZoneInfo(timezone)
    local = moment.astimezone(zone)
    end = window[1]
    candidate = datetime.combine(local.date(), end, zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), end, zone)
    return candidate.astimezone(moment.tzinfo)


def sending_hours(window: tuple[time, time] | None) -> tuple[str, str] | None:
    """When proactive messages may leave, as a citizen reads it: quiet hours 21:00-07:00 →
    ("7:00", "21:00"); None without quiet hours."""
    if window is None or window[0] == window[1]:
        return None
    start, end = window
    return f"{end.hour}:{end.minute:02d}", f"{start.hour}:{start.minute:02d}"
