"""A synthetic emergency department ISTV extract (ISB/DCB 1594 plus local extras), with ground truth.

Assault attendances peak at night and at weekends; most are fists and feet, some blades and glass;
locations are free text, as receptionists type them. The trust's export has no NHS number, name or
date of birth columns, but free text can still hold them: planted canaries go there, and must never
leave the trust.
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
    flags_of,
    pick,
    violent_time,
    write_extract,
)
from hub.synth.geography import build_county
from hub.synth.narrative import PLACES
from hub.synth.people import PlantedPerson, cumulative

SOURCE = "ed_attendance"
# fmt: off
HEADER = ("AttendanceNo", "SiteCode", "ArrivalDateTime", "AssaultDateTime", "AssaultMethod", "AssaultMethodDesc",
          "AssaultLocationType", "AssaultLocDesc", "AssailantRelationship", "AgeOnArrival", "Sex", "ResidenceLSOA",
          "ResidencePostcode")
METHODS = {"BP": 55.0, "KN": 8.0, "GL": 7.0, "BL": 10.0, "FA": 0.5, "DG": 1.0, "VE": 1.0, "OT": 5.0, "NK": 12.0}
LOCAL_METHOD = {"BP": ("FIST", "KICK"), "GL": ("BOTTLE",), "KN": ("KNIFE",)}  # the trust's PAS codes
LOCATIONS = {"PS": 35.0, "LP": 20.0, "HO": 20.0, "SH": 5.0, "WP": 4.0, "ED": 3.0, "TR": 4.0, "PK": 5.0,
             "OT": 2.0, "NK": 2.0}
PLACE_OF = {"PS": "street", "LP": "licensed_premises", "HO": "home", "SH": "shop", "ED": "school",
            "TR": "transport", "PK": "park"}
RELATIONSHIP = {"ST": 35.0, "AQ": 25.0, "PA": 8.0, "FM": 4.0, "SE": 3.0, "PO": 1.0, "OT": 3.0, "NK": 15.0}
BREAKERS: tuple[Breaker, ...] = (
    ("bad_datetime", "AssaultDateTime", "31/02/2025 25:61"), ("unknown_code", "AssaultMethod", "SPOON"),
    ("missing_value", "AttendanceNo", ""), ("out_of_range", "AgeOnArrival", "130"), (WRONG_COLUMN_COUNT, "", ""),
)
# fmt: on
SITES = ("RZZ01", "RZZ02")  # Ashmoor General (type 01) and Brackendale urgent treatment centre
_FORMAT = "%d/%m/%Y %H:%M"


def nhs_like(seed: str) -> str:
    """A ten-digit number that passes the NHS modulus-11 check, spaced 3-3-4 as clinicians write it."""
    rng = random.Random(seed)
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check < 10:
            text = "".join(map(str, digits)) + str(check % 11)
            return f"{text[:3]} {text[3:6]} {text[6:]}"


def canary_text(person: PlantedPerson) -> str:
    """Free text naming a planted person the way a clinician might: name, date of birth, NHS number."""
    return (f"pt {person.forename} {person.surname} dob {person.dob.strftime('%d/%m/%Y')} "
            f"NHS {nhs_like(person.surname)}, lives {person.postcode}")


def canary_strings(person: PlantedPerson) -> list[str]:
    nhs = nhs_like(person.surname)
    return [person.forename, person.surname, person.dob.strftime("%d/%m/%Y"), nhs, nhs.replace(" ", ""),
            person.postcode]


def generate_ed_extract(out_dir: Path, *, seed: int = 2026, attendances: int = 400, malformed: int = 5,
                        start: date = date(2025, 1, 6), days: int = 364,
                        planted: Sequence[PlantedPerson] = ()) -> ExtractManifest:
    """``attendances`` valid rows plus ``malformed`` broken ones; each planted person is written into the free
    text of two valid rows and one broken row."""
    rng = random.Random(f"{SOURCE}-{seed}")
    county = build_county()
    lsoas = list(county.lsoas)
    residence = cumulative([item.resident_weight for item in lsoas])

    def attendance(n: int, canary: PlantedPerson | None = None) -> tuple[Row, TruthRow]:
        assault = violent_time(rng, start, days)
        arrival = assault + timedelta(minutes=rng.randint(15, 360))
        method, location, relation = pick(rng, METHODS), pick(rng, LOCATIONS), pick(rng, RELATIONSHIP)
        if location == "HO" and rng.random() < 0.5:
            relation = rng.choice(("PA", "PA", "FM"))
        home = lsoas[bisect.bisect(residence, rng.random() * residence[-1])]
        geo = rng.random()
        row = {
            "AttendanceNo": f"ED{assault:%y}-{n:06d}", "SiteCode": SITES[0] if rng.random() < 0.8 else SITES[1],
            "ArrivalDateTime": arrival.strftime(_FORMAT) if rng.random() < 0.9 else "",
            "AssaultDateTime": assault.strftime(_FORMAT),
            "AssaultMethod": rng.choice(LOCAL_METHOD[method]) if method in LOCAL_METHOD and rng.random() < 0.1
            else method,
            "AssaultMethodDesc": "hit with a " + rng.choice(("brick", "chair", "phone")) if method == "OT" else "",
            "AssaultLocationType": location,
            "AssaultLocDesc": rng.choice(PLACES[PLACE_OF[location]]) if location in PLACE_OF else "",
            "AssailantRelationship": relation if rng.random() < 0.85 else "",
            "AgeOnArrival": str(min(90, max(1, int(rng.gauss(27, 11))))) if rng.random() < 0.97 else "",
            "Sex": "M" if rng.random() < 0.7 else "F",
            "ResidenceLSOA": home.code if geo < 0.5 else "",
            "ResidencePostcode": rng.choice(home.postcodes) if 0.5 <= geo < 0.9 else "",
        }
        if canary is not None:
            method = row["AssaultMethod"] = "OT"
            row["AssaultMethodDesc"], row["AssaultLocDesc"] = canary_text(canary), f"at home, {canary.postcode}"
        known = row["AssailantRelationship"] not in ("", "NK")
        truth = TruthRow(0, row["AttendanceNo"], True, occurred_date=assault.date().isoformat(),
                         lsoa21cd=home.code if geo < 0.9 else "",
                         flags=flags_of(knife=method in ("KN", "GL"), firearm=method == "FA",
                                        domestic_abuse=known and row["AssailantRelationship"] in ("PA", "FM")))
        return row, truth

    plant_at = {number * 7 + 1 + k: person for number, person in enumerate(planted) for k in range(2)}
    valid = [attendance(n + 1, plant_at.get(n)) for n in range(attendances)]
    broken = [attendance(900_000 + n, planted[n] if n < len(planted) else None) for n in range(malformed)]
    strings = tuple(s for p in planted for s in canary_strings(p))
    return write_extract(out_dir, SOURCE, HEADER, valid, broken, BREAKERS, "AttendanceNo", strings)


GENERATOR = Generator(SOURCE, generate_ed_extract, rows_option="attendances")
