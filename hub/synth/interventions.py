"""Synthetic intervention activity returns (anonymous places on the partnership's programmes), with truth.

Places are delivered more where violence is (the town centres) but not only there, so reach against need
has something to show. No person, no name: planted people have nowhere to go.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

from hub.synth.extract import (
    WRONG_COLUMN_COUNT,
    Breaker,
    ExtractManifest,
    Generator,
    Row,
    TruthRow,
    number_rows,
    pick,
    split_valid,
    write_extract,
)
from hub.synth.geography import build_county
from hub.synth.people import PlantedPerson, cumulative

_DAY = "%d/%m/%Y"
# fmt: off
INTERVENTION_HEADER = ("ActivityRef", "Programme", "Provider", "LSOA", "Postcode", "AgeAtStart", "Sex", "StartDate",
                       "EndDate", "Status")
PROGRAMMES = {"MENTOR": ((10, 17), 30.0), "TRAUMA": ((12, 40), 15.0), "P1825": ((18, 25), 25.0),
              "NAVIG": ((12, 30), 15.0), "SPORT": ((10, 19), 15.0)}
PROVIDERS = {"MENTOR": "Example Mentoring Trust", "TRAUMA": "Example Trauma Service", "P1825": "Example Pathways CIC",
             "NAVIG": "Example Hospital Navigators", "SPORT": "Example Sport Foundation"}
INTERVENTION_BREAKERS: tuple[Breaker, ...] = (
    ("unknown_code", "Programme", "KARATE"), ("bad_date", "StartDate", "2025-02-30"),
    ("bad_integer", "AgeAtStart", "young"), (WRONG_COLUMN_COUNT, "", ""),
)
# fmt: on


def generate_intervention_extract(out_dir: Path, *, seed: int = 2026, activities: int = 250, malformed: int = 4,
                                  start: date = date(2025, 1, 6), days: int = 364,
                                  planted: Sequence[PlantedPerson] = ()) -> ExtractManifest:
    """``activities`` valid rows plus ``malformed`` broken ones. Anonymous: no person, no name, so ``planted``
    people have nowhere to go and are ignored."""
    rng = random.Random(f"intervention-{seed}")
    county = build_county()
    lsoas = list(county.lsoas)
    # Delivery follows need partly: night-time-economy weight plus residents.
    weights = cumulative([0.5 * item.nte_weight + item.resident_weight for item in lsoas])
    rows: list[tuple[Row, TruthRow]] = []
    for _ in range(activities + malformed):
        programme = pick(rng, {k: w for k, (_, w) in PROGRAMMES.items()})
        low, high = PROGRAMMES[programme][0]
        begin = start + timedelta(days=rng.randrange(days))
        length = rng.choice((42, 84, 126, 182))
        ended = begin + timedelta(days=length)
        status = "OPEN" if ended > start + timedelta(days=days) else rng.choice(("DONE", "DONE", "DONE", "LEFT"))
        home = lsoas[bisect.bisect(weights, rng.random() * weights[-1])]
        by_lsoa = rng.random() < 0.7
        row = {"ActivityRef": "", "Programme": programme, "Provider": PROVIDERS[programme],
               "LSOA": home.code if by_lsoa else "", "Postcode": "" if by_lsoa else rng.choice(home.postcodes),
               "AgeAtStart": str(rng.randint(low, high)), "Sex": "M" if rng.random() < 0.72 else "F",
               "StartDate": begin.strftime(_DAY), "EndDate": "" if status == "OPEN" else ended.strftime(_DAY),
               "Status": status}
        rows.append((row, TruthRow(0, "", True, occurred_date=begin.isoformat(), lsoa21cd=home.code)))
    rows = number_rows(sorted(rows, key=lambda r: r[1].occurred_date), "ActivityRef", "ACT-{:06d}")
    valid, broken = split_valid(rng, rows, activities, "ActivityRef")
    return write_extract(out_dir, "intervention_activity", INTERVENTION_HEADER, valid, broken, INTERVENTION_BREAKERS,
                         "ActivityRef")


GENERATOR = Generator("intervention_activity", generate_intervention_extract, rows_option="activities")
