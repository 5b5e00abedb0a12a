"""The working-day calendar: weekends, public holidays and swapped days, from editable data."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from scheduler.quiet import (
    calendar_from_data,
    default_calendar,
    load_calendar,
    local_date,
    working_days_late,
    working_days_left,
)

CAL = default_calendar()


def test_weekends_are_not_working_days() -> None:
    assert CAL.is_working_day(date(2026, 3, 9))  # Monday
    assert not CAL.is_working_day(date(2026, 3, 7))  # Saturday
    assert not CAL.is_working_day(date(2026, 3, 8))  # Sunday


def test_public_holidays_and_tet_are_not_working_days() -> None:
    for day in (date(2026, 1, 1), date(2026, 2, 17), date(2026, 4, 27), date(2026, 4, 30),
                date(2026, 5, 1), date(2026, 9, 2), date(2025, 1, 29), date(2024, 9, 3)):
        assert not CAL.is_working_day(day), day


def test_a_swapped_saturday_is_a_working_day() -> None:
    assert CAL.is_working_day(date(2025, 4, 26))
    assert not CAL.is_working_day(date(2025, 5, 2))


def test_years_without_data_still_know_the_fixed_holidays() -> None:
    assert not CAL.is_working_day(date(2031, 9, 2))  # Tuesday
    assert not CAL.is_working_day(date(2031, 5, 1))  # Thursday
    assert CAL.is_working_day(date(2031, 9, 3))


def test_counting_days_left() -> None:
    monday = date(2026, 3, 9)
    assert CAL.working_days_between(monday, date(2026, 3, 11)) == 2  # "còn 2 ngày"
    assert CAL.working_days_between(monday, monday) == 0
    assert CAL.working_days_between(monday, date(2026, 3, 1)) == 0
    assert CAL.working_days_between(date(2026, 3, 13), date(2026, 3, 16)) == 1  # over a weekend
    # over Tết 2026: 16–20 February off
    assert CAL.working_days_between(date(2026, 2, 13), date(2026, 2, 24)) == 2


def test_adding_working_days_and_the_day_before() -> None:
    assert CAL.add_working_days(date(2026, 2, 12), 3) == date(2026, 2, 24)
    assert CAL.add_working_days(date(2026, 3, 9), 0) == date(2026, 3, 9)
    assert CAL.previous_working_day(date(2026, 2, 23)) == date(2026, 2, 13)


def test_local_dates_are_in_ho_chi_minh_time() -> None:
    late_evening_utc = datetime(2026, 3, 9, 18, 0, tzinfo=UTC)  # 01:00 on the 10th in Hà Nội
    assert local_date(late_evening_utc) == date(2026, 3, 10)
    due = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)
    assert working_days_left(late_evening_utc, due, CAL) == 2
    assert working_days_late(datetime(2026, 3, 16, 2, 0, tzinfo=UTC), due, CAL) == 2
    assert working_days_late(late_evening_utc, due, CAL) == 0


def test_the_shipped_data_is_well_formed() -> None:
    data = json.loads((Path(__file__).parent.parent / "scheduler" / "holidays.json")
                      .read_text("utf-8"))
    for item in data["holidays"]:
        assert date.fromisoformat(item["date"]).weekday() < 5, item  # only weekdays listed
        assert item["name"]
    for item in data["working_weekends"]:
        assert date.fromisoformat(item["date"]).weekday() >= 5, item


def test_the_data_is_editable(tmp_path: Path) -> None:
    path = tmp_path / "holidays.json"
    path.write_text(json.dumps({"holidays": [{"date": "2030-03-05", "name": "Nghỉ"}],
                                "working_weekends": [{"date": "2030-03-09", "name": "Bù"}]}))
    calendar = load_calendar(path)
    assert not calendar.is_working_day(date(2030, 3, 5))
    assert calendar.is_working_day(date(2030, 3, 9))
    assert calendar.names[date(2030, 3, 5)] == "Nghỉ"
    assert calendar_from_data({}).is_working_day(date(2030, 3, 5))
