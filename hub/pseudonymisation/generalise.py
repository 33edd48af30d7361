"""Generalisation of quasi-identifiers: ages to bands, dates to weeks, points to areas."""

from __future__ import annotations

from datetime import date, datetime

AGE_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (0, 9, "0-9"), (10, 14, "10-14"), (15, 17, "15-17"), (18, 24, "18-24"), (25, 34, "25-34"),
    (35, 44, "35-44"), (45, 54, "45-54"), (55, 64, "55-64"), (65, None, "65+"),
)
"""Bands that keep the Duty's key thresholds visible: 10 (criminal responsibility), 18, 25."""

DATE_METHODS = ("date", "week", "month", "hour", "year")


def age_on(dob: date, on: date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def age_band(dob: date, on: date) -> str | None:
    """The band of the age on ``on``; ``None`` for a birth date after the event."""
    return band_of_age(age_on(dob, on))


def band_of_age(age: int) -> str | None:
    """The band of an age in whole years (sources such as ED record age, not date of birth)."""
    if type(age) is int and 0 <= age <= 120:  # every person with a date of birth: looked up, not searched
        return _BAND_OF_AGE[age]
    return _band_of_age(age)


def _band_of_age(age: int) -> str | None:
    if age < 0 or age > 120:
        return None
    for low, high, label in AGE_BANDS:
        if age >= low and (high is None or age <= high):
            return label
    return None  # pragma: no cover - the last band is open-ended


_BAND_OF_AGE = tuple(_band_of_age(age) for age in range(121))


def iso_week(d: date) -> str:
    year, week, _ = d.isocalendar()
    return f"{year}-W{week:02d}"


def by_date_method(value: date | datetime, method: str) -> date | str | int:
    """Generalise a date or date-time by one of ``DATE_METHODS``."""
    d = value.date() if isinstance(value, datetime) else value
    if method == "date":
        return d
    if method == "week":
        return iso_week(d)
    if method == "month":
        return f"{d.year}-{d.month:02d}"
    if method == "year":
        return str(d.year)
    if method == "hour":
        if not isinstance(value, datetime):
            raise ValueError("hour needs a date-time")
        return value.hour
    raise ValueError(f"unknown date generalisation {method!r}")
