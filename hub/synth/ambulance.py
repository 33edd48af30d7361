"""A synthetic ambulance trust CAD extract of assault call-outs, with ground truth.

The shape follows published ambulance violence data: most call-outs are assaults, about a fifth are
stab, gunshot or other penetrating trauma, most are at night and concentrated in the town-centre hot
spots. Call notes are free text; planted canaries go there and must never leave the trust.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from hub.synth.ed import canary_strings, canary_text
from hub.synth.extract import (
    WRONG_COLUMN_COUNT,
    Breaker,
    ExtractManifest,
    Generator,
    Row,
    TruthRow,
    flags_of,
    pick,
    violent_time,
    write_extract,
)
from hub.synth.geography import build_county
from hub.synth.people import PlantedPerson, cumulative

SOURCE = "ambulance_callout"
HEADER = ("IncidentNumber", "CallReceived", "IncidentCategory", "IncidentPostcode", "IncidentLSOA", "PatientAge",
          "PatientGender", "Conveyed", "CallNotes")
CATEGORIES = {"ASSAULT": 70.0, "SEXUAL_ASSAULT": 7.0, "STAB": 14.0, "GUNSHOT": 1.0, "PENETRATING": 8.0}
# fmt: off
BREAKERS: tuple[Breaker, ...] = (
    ("bad_datetime", "CallReceived", "2025-13-40 25:00:00"), ("unknown_code", "IncidentCategory", "FALL"),
    ("unknown_postcode", "IncidentPostcode", "ZZ99 9ZZ"), (WRONG_COLUMN_COUNT, "", ""),
)
# fmt: on
_NOTES = ("male {age} assaulted, head injury", "female {age} assaulted by group", "pt {age} stab wound to arm",
          "pt {age} conscious and breathing, police on scene", "pt {age} punched, bleeding from mouth")


def generate_ambulance_extract(out_dir: Path, *, seed: int = 2026, callouts: int = 300, malformed: int = 4,
                               start: date = date(2025, 1, 6), days: int = 364,
                               planted: Sequence[PlantedPerson] = ()) -> ExtractManifest:
    """``callouts`` valid rows plus ``malformed`` broken ones; each planted person is named in the call notes
    of two valid rows and one broken row."""
    rng = random.Random(f"{SOURCE}-{seed}")
    lsoas = list(build_county().lsoas)
    hot = cumulative([item.nte_weight for item in lsoas])

    def callout(n: int, canary: PlantedPerson | None = None, broken: bool = False) -> tuple[Row, TruthRow]:
        when: datetime = violent_time(rng, start, days)
        category = pick(rng, CATEGORIES)
        where = lsoas[bisect.bisect(hot, rng.random() * hot[-1])]
        age = min(90, max(5, int(rng.gauss(28, 10))))
        with_postcode = rng.random() < 0.7 or broken  # so an unknown postcode has no LSOA to fall back on
        notes = canary_text(canary) if canary else rng.choice(_NOTES).format(age=age)
        row = {
            "IncidentNumber": f"AMB-{when:%y%m%d}-{n:05d}", "CallReceived": when.strftime("%Y-%m-%d %H:%M:%S"),
            "IncidentCategory": "Stab/Gunshot" if category == "PENETRATING" and rng.random() < 0.5 else category,
            "IncidentPostcode": rng.choice(where.postcodes) if with_postcode else "",
            "IncidentLSOA": "" if with_postcode else where.code,
            "PatientAge": str(age) if rng.random() < 0.9 else "", "PatientGender": rng.choice(("Male", "Male",
                                                                                            "Female", "M", "F")),
            "Conveyed": "Y" if rng.random() < 0.6 else "N", "CallNotes": notes,
        }
        truth = TruthRow(0, row["IncidentNumber"], True, occurred_date=when.date().isoformat(), lsoa21cd=where.code,
                         flags=flags_of(knife=category == "STAB", firearm=category == "GUNSHOT",
                                        sexual_assault=category == "SEXUAL_ASSAULT",
                                        conveyed_to_hospital=row["Conveyed"] == "Y"))
        return row, truth

    plant_at = {number * 5 + 2 + k: person for number, person in enumerate(planted) for k in range(2)}
    valid = [callout(n + 1, plant_at.get(n)) for n in range(callouts)]
    broken = [callout(90_000 + n, planted[n] if n < len(planted) else None, True) for n in range(malformed)]
    strings = tuple(s for p in planted for s in canary_strings(p))
    return write_extract(out_dir, SOURCE, HEADER, valid, broken, BREAKERS, "IncidentNumber", strings)


GENERATOR = Generator(SOURCE, generate_ambulance_extract, rows_option="callouts")
