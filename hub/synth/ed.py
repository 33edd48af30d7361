"""A synthetic emergency department ISTV extract (ISB/DCB 1594 plus local extras), with ground truth.

Assault attendances peak at night and at weekends; most are fists and feet, some blades and glass;
locations are free text, as receptionists type them: most name a venue, street or school of the
partnership's gazetteer in the assault's area, the rest nothing a gazetteer can place
(``hub.synth.places``). Given the police extract's seed, a share of the attendances are assaults the
police also recorded (same time give or take, same place, the victim's age and sex, the weapon), and the
truth names the crime reference of each (``police_ref``): the ground truth of ED <-> police matching.
The trust's export has no NHS number, name or date of birth columns, but free text can still hold them:
planted canaries go there (the location text of a canary's row names a gazetteer place AND the person),
and must never leave the trust.
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
from hub.synth.incidents import Incident
from hub.synth.people import PlantedPerson, age_on, cumulative
from hub.synth.places import ISTV_TYPE, location_text
from hub.synth.police import police_incidents

SOURCE = "ed_attendance"
# fmt: off
HEADER = ("AttendanceNo", "SiteCode", "ArrivalDateTime", "AssaultDateTime", "AssaultMethod", "AssaultMethodDesc",
          "AssaultLocationType", "AssaultLocDesc", "AssailantRelationship", "AgeOnArrival", "Sex", "ResidenceLSOA",
          "ResidencePostcode")
METHODS = {"BP": 55.0, "KN": 8.0, "GL": 7.0, "BL": 10.0, "FA": 0.5, "DG": 1.0, "VE": 1.0, "OT": 5.0, "NK": 12.0}
LOCAL_METHOD = {"BP": ("FIST", "KICK"), "GL": ("BOTTLE",), "KN": ("KNIFE",)}  # the trust's PAS codes
LOCATIONS = {"PS": 35.0, "LP": 20.0, "HO": 20.0, "SH": 5.0, "WP": 4.0, "ED": 3.0, "TR": 4.0, "PK": 5.0,
             "OT": 2.0, "NK": 2.0}
OUTDOOR = ("PS", "LP", "SH", "TR")  # where night-time-economy violence happens; the rest near home
SEEN_AT_ED = ("violence_with_injury", "robbery", "sexual_offences")  # police categories a victim may attend ED for
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


def police_assaults(seed: int, incidents: int, start: date, days: int) -> list[Incident]:
    """The police extract's incidents whose victim might attend an emergency department."""
    return [i for i in police_incidents(seed, incidents, start, days)
            if i.victim is not None and i.offence.category in SEEN_AT_ED]


def generate_ed_extract(out_dir: Path, *, seed: int = 2026, attendances: int = 400, malformed: int = 5,
                        start: date = date(2025, 1, 6), days: int = 364,
                        planted: Sequence[PlantedPerson] = (), police_seed: int | None = None,
                        police_incidents: int = 3000, police_share: float = 0.4) -> ExtractManifest:
    """``attendances`` valid rows plus ``malformed`` broken ones; each planted person is written into the free
    text of two valid rows and one broken row. With ``police_seed`` (the police extract's seed and size),
    ``police_share`` of the valid rows are assaults of that extract (the truth's ``police_ref``)."""
    rng = random.Random(f"{SOURCE}-{seed}")
    county = build_county()
    lsoas = list(county.lsoas)
    residence = cumulative([item.resident_weight for item in lsoas])
    night = cumulative([item.nte_weight for item in lsoas])
    known: dict[int, Incident] = {}
    if police_seed is not None:
        pool = police_assaults(police_seed, police_incidents, start, days)
        slots = rng.sample(range(attendances), min(len(pool), round(attendances * police_share)))
        known = dict(zip(slots, rng.sample(pool, len(slots)), strict=True))

    def attendance(n: int, canary: PlantedPerson | None = None,
                   police: Incident | None = None) -> tuple[Row, TruthRow]:
        assault = violent_time(rng, start, days)
        method, location, relation = pick(rng, METHODS), pick(rng, LOCATIONS), pick(rng, RELATIONSHIP)
        if location == "HO" and rng.random() < 0.5:
            relation = rng.choice(("PA", "PA", "FM"))
        home = lsoas[bisect.bisect(residence, rng.random() * residence[-1])]
        where = home.code if location not in OUTDOOR else lsoas[bisect.bisect(night, rng.random() * night[-1])].code
        age = str(min(90, max(1, int(rng.gauss(27, 11))))) if rng.random() < 0.97 else ""
        sex = "M" if rng.random() < 0.7 else "F"
        if police is not None and police.victim is not None:  # the same assault, as the patient tells it
            assault = police.occurred_from + timedelta(minutes=round(rng.gauss(0, 40)))
            location, where = ISTV_TYPE.get(police.location_type, "OT"), police.lsoa
            real = age_on(police.victim.dob, assault.date())
            age = str(max(0, real + (rng.choice((-1, 1)) if rng.random() < 0.05 else 0)))
            sex = police.victim.sex
            method = ("GL" if rng.random() < 0.2 else "KN") if police.knife else "FA" if police.firearm else (
                pick(rng, {"BP": 75.0, "BL": 12.0, "OT": 5.0, "NK": 8.0}))
            relation = rng.choice(("PA", "FM")) if police.domestic else rng.choice(("ST", "AQ", "ST"))
        arrival = assault + timedelta(minutes=rng.randint(15, 360))
        text, placed = location_text(rng, where, location)
        geo = rng.random()
        row = {
            "AttendanceNo": f"ED{assault:%y}-{n:06d}", "SiteCode": SITES[0] if rng.random() < 0.8 else SITES[1],
            "ArrivalDateTime": arrival.strftime(_FORMAT) if rng.random() < 0.9 else "",
            "AssaultDateTime": assault.strftime(_FORMAT),
            "AssaultMethod": rng.choice(LOCAL_METHOD[method]) if method in LOCAL_METHOD and rng.random() < 0.1
            else method,
            "AssaultMethodDesc": "hit with a " + rng.choice(("brick", "chair", "phone")) if method == "OT" else "",
            "AssaultLocationType": location,
            "AssaultLocDesc": text,
            "AssailantRelationship": relation if rng.random() < 0.85 else "",
            "AgeOnArrival": age,
            "Sex": sex,
            "ResidenceLSOA": home.code if geo < 0.5 else "",
            "ResidencePostcode": rng.choice(home.postcodes) if 0.5 <= geo < 0.9 else "",
        }
        if canary is not None:  # a place the gazetteer knows, and a person it must never let out
            method = row["AssaultMethod"] = "OT"
            text, placed = location_text(rng, where, location, placeable=1.0)
            row["AssaultMethodDesc"] = canary_text(canary)
            row["AssaultLocDesc"] = f"{text} with {canary.forename} {canary.surname} of {canary.postcode}"
        related = row["AssailantRelationship"] not in ("", "NK")
        truth = TruthRow(0, row["AttendanceNo"], True, occurred_date=assault.date().isoformat(),
                         lsoa21cd=home.code if geo < 0.9 else "",
                         flags=flags_of(knife=method in ("KN", "GL"), firearm=method == "FA",
                                        domestic_abuse=related and row["AssailantRelationship"] in ("PA", "FM")),
                         police_ref=police.crime_ref if police is not None else "", assault_lsoa21cd=placed)
        return row, truth

    plant_at = {number * 7 + 1 + k: person for number, person in enumerate(planted) for k in range(2)}
    valid = [attendance(n + 1, plant_at.get(n), known.get(n)) for n in range(attendances)]
    broken = [attendance(900_000 + n, planted[n] if n < len(planted) else None) for n in range(malformed)]
    strings = tuple(s for p in planted for s in canary_strings(p))
    return write_extract(out_dir, SOURCE, HEADER, valid, broken, BREAKERS, "AttendanceNo", strings)


GENERATOR = Generator(SOURCE, generate_ed_extract, rows_option="attendances")
