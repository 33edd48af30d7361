"""Generalisation: age bands at their boundaries, ISO weeks across the new year, date methods."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.pseudonymisation import generalise


@pytest.mark.parametrize("age,band", [
    (0, "0-9"), (9, "0-9"), (10, "10-14"), (14, "10-14"), (15, "15-17"), (17, "15-17"), (18, "18-24"),
    (24, "18-24"), (25, "25-34"), (34, "25-34"), (35, "35-44"), (54, "45-54"), (64, "55-64"), (65, "65+"),
    (101, "65+"),
])
def test_age_band_turns_on_the_birthday(age: int, band: str) -> None:
    event = date(2025, 6, 15)
    born = date(event.year - age, 6, 15)
    assert generalise.age_band(born, event) == band  # birthday today: the new age
    day_after_birthday = born - timedelta(days=1)
    assert generalise.age_band(day_after_birthday, event) == band  # birthday was yesterday
    day_before_birthday = born + timedelta(days=1)
    if age > 0:
        assert generalise.age_on(day_before_birthday, event) == age - 1  # birthday is tomorrow


def test_age_band_edges_of_the_duty() -> None:
    event = date(2025, 3, 5)
    assert generalise.age_band(date(2007, 3, 6), event) == "15-17"  # 18 tomorrow
    assert generalise.age_band(date(2007, 3, 5), event) == "18-24"  # 18 today
    assert generalise.age_band(date(2000, 3, 6), event) == "18-24"  # 25 tomorrow
    assert generalise.age_band(date(2000, 3, 5), event) == "25-34"
    assert generalise.age_band(date(2015, 3, 6), event) == "0-9"  # 10 tomorrow
    assert generalise.age_band(date(2015, 3, 5), event) == "10-14"


def test_leap_day_birthday() -> None:
    born = date(2004, 2, 29)
    assert generalise.age_on(born, date(2022, 2, 28)) == 17
    assert generalise.age_on(born, date(2022, 3, 1)) == 18


def test_birth_after_event_has_no_band() -> None:
    assert generalise.age_band(date(2025, 6, 16), date(2025, 6, 15)) is None


def test_implausible_ages_have_no_band() -> None:
    assert generalise.band_of_age(120) == "65+"
    assert generalise.band_of_age(121) is None
    assert generalise.band_of_age(-1) is None
    assert generalise.age_band(date(1900, 6, 15), date(2025, 6, 15)) is None  # 125: a placeholder date of birth


@settings(max_examples=100, deadline=None)
@given(born=st.dates(min_value=date(1906, 12, 31), max_value=date(2025, 1, 1)),
       on=st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31)))
def test_age_band_contains_the_age(born: date, on: date) -> None:
    age = generalise.age_on(born, on)
    band = generalise.age_band(born, on)
    assert band is not None
    low_text, _, high_text = band.partition("-")
    low = int(low_text.rstrip("+"))
    assert age >= low
    if high_text:
        assert age <= int(high_text)


@pytest.mark.parametrize("day,week", [
    (date(2024, 12, 29), "2024-W52"),
    (date(2024, 12, 30), "2025-W01"),
    (date(2025, 1, 1), "2025-W01"),
    (date(2021, 1, 3), "2020-W53"),
    (date(2021, 1, 4), "2021-W01"),
    (date(2026, 12, 31), "2026-W53"),
])
def test_iso_week_across_the_new_year(day: date, week: str) -> None:
    assert generalise.iso_week(day) == week


def test_by_date_method() -> None:
    when = datetime(2024, 12, 30, 23, 59)
    assert generalise.by_date_method(when, "date") == date(2024, 12, 30)
    assert generalise.by_date_method(when, "week") == "2025-W01"
    assert generalise.by_date_method(when, "month") == "2024-12"
    assert generalise.by_date_method(when, "year") == "2024"
    assert generalise.by_date_method(when, "hour") == 23
    with pytest.raises(ValueError, match="date-time"):
        generalise.by_date_method(date(2024, 12, 30), "hour")
    with pytest.raises(ValueError):
        generalise.by_date_method(when, "fortnight")
