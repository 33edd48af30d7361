"""Ground-truth files written beside a synthetic extract, and the counts the mart should reproduce.

The generator knows each incident's real LSOA, offence and people independently of what the extract
says, so the demo and the integration tests can check the pipeline end to end against these files.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import astuple, dataclass, fields
from datetime import date
from pathlib import Path


@dataclass(frozen=True)
class TruthIncident:
    """One data row of the extract, valid or malformed, as the generator meant it."""

    row_number: int
    crime_reference: str
    valid: bool
    error_kind: str
    error_field: str
    offence_code: str
    offence_category: str
    lsoa21cd: str
    iso_week: str
    occurred_date: str
    domestic_abuse: bool
    knife: bool


@dataclass(frozen=True)
class TruthPerson:
    """One person appearing in a valid row, with their true identity and attributes."""

    crime_reference: str
    role: str
    person_id: str
    age_band_at_offence: str
    sex: str


def iso_week(day: date) -> str:
    """ISO week label, e.g. 2025-W02 (the ISO year, which differs from the calendar year near new year)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_rows(path: Path, cls: type, rows: list[TruthIncident] | list[TruthPerson]) -> None:
    """Write dataclass rows as CSV with a header of the field names."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([f.name for f in fields(cls)])
        writer.writerows([_cell(v) for v in astuple(row)] for row in rows)


def expected_counts(truth_incidents_csv: Path) -> dict[tuple[str, str, str], int]:
    """Valid incidents per (lsoa21cd, iso_week, offence_category): what the mart's counts must equal."""
    counts: Counter[tuple[str, str, str]] = Counter()
    with Path(truth_incidents_csv).open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["valid"] == "true":
                counts[(row["lsoa21cd"], row["iso_week"], row["offence_category"])] += 1
    return dict(sorted(counts.items()))
