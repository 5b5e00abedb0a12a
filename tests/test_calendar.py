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


def test_public_holidays_of_every_year_come_from_the_lunar_calendar() -> None:
    # Tết 2028: the lunar new year falls on Wednesday 26 January
    for day in (date(2028, 1, 25), date(2028, 1, 26), date(2028, 1, 27), date(2028, 1, 28)):
        assert not CAL.is_working_day(day), day
    assert CAL.working_days_between(date(2028, 1, 21), date(2028, 2, 1)) == 2  # 31/1, 1/2
    assert not CAL.is_working_day(date(2031, 9, 2))  # Tuesday
    assert not CAL.is_working_day(date(2031, 5, 1))  # Thursday
    assert CAL.is_working_day(date(2031, 9, 3))


def test_the_decisions_of_2026() -> None:
    # 31/8/2026 off, swapped with Saturday 22/8; Ngày Văn hóa Việt Nam 24/11 (provisional)
    assert not CAL.is_working_day(date(2026, 8, 31))
    assert CAL.is_working_day(date(2026, 8, 22))
    assert not CAL.is_working_day(date(2026, 11, 24))
    assert {date(2026, 8, 31), date(2026, 8, 22), date(2026, 11, 24)} <= CAL.provisional
    # Friday 28/8 to Thursday 3/9: 31/8, 1/9 and 2/9 off, so one working day (3/9)
    assert CAL.working_days_between(date(2026, 8, 28), date(2026, 9, 3)) == 1
    assert CAL.add_working_days(date(2026, 8, 21), 1) == date(2026, 8, 22)
    assert CAL.working_days_between(date(2026, 11, 23), date(2026, 11, 25)) == 1
    assert CAL.add_working_days(date(2026, 11, 23), 1) == date(2026, 11, 25)


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
    for item in data["days_off"]:
        assert date.fromisoformat(item["date"]).weekday() < 5, item  # only weekdays listed
        assert item["name"] and item["decision"]
    for item in data["days_worked"]:
        assert date.fromisoformat(item["date"]).weekday() >= 5, item
        assert item["name"] and item["decision"]


def test_the_data_is_editable(tmp_path: Path) -> None:
    path = tmp_path / "holidays.json"
    path.write_text(json.dumps({
        "days_off": [{"date": "2030-03-05", "name": "Nghỉ", "provisional": True}],
        "days_worked": [{"date": "2030-03-09", "name": "Bù"},
                        {"date": "2030-09-03", "name": "Làm việc theo quyết định"}]}))
    calendar = load_calendar(path)
    assert not calendar.is_working_day(date(2030, 3, 5))
    assert calendar.is_working_day(date(2030, 3, 9))
    assert calendar.is_working_day(date(2030, 9, 3))  # a library holiday a decision moved
    assert not calendar.is_working_day(date(2030, 9, 2))
    assert calendar.names[date(2030, 3, 5)] == "Nghỉ"
    assert calendar.provisional == {date(2030, 3, 5)}
    assert calendar_from_data({}).is_working_day(date(2030, 3, 5))
    assert default_calendar(str(path)).is_working_day(date(2030, 3, 9))
    assert not default_calendar().is_working_day(date(2030, 3, 9))
