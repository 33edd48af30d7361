"""A synthetic youth justice case-management extract of children's outcomes, with ground truth.

Children aged 10-17 are drawn from the police extract's people where the county has them, so youth
justice, police and school records of the same child can be linked. A child's first outcome is more
often out of court; later ones escalate. AssetPlus concerns (substance misuse, exploitation, mental
health, education) are set as practitioners record them, exploitation more often with robbery and
weapons.
"""

from __future__ import annotations

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
    draw_person,
    flags_of,
    home_postcode,
    named,
    number_rows,
    pick,
    planted_people,
    planted_strings,
    pnc_id,
    population,
    split_valid,
    stable,
    write_extract,
)
from hub.synth.geography import County
from hub.synth.people import Person, PlantedPerson

SOURCE = "youth_justice_event"
# fmt: off
HEADER = ("OutcomeRef", "YJSClientID", "PNCNumber", "Forename", "Surname", "DateOfBirth", "Gender", "OffenceCode",
          "GravityScore", "OutcomeType", "OutcomeDate", "FirstTimeEntrant", "SubstanceMisuseConcern",
          "ExploitationConcern", "MentalHealthConcern", "ETEConcern", "Postcode")
# offence -> (weight, typical gravity score)
OFFENCES = {"105A": (25.0, 3), "8N": (20.0, 4), "34B": (10.0, 6), "10D": (8.0, 5), "8L": (6.0, 3), "3B": (4.0, 5),
            "5D": (3.0, 7), "105B": (2.0, 4), "8P": (1.0, 5)}
FIRST = {"CR": 30.0, "DIV": 15.0, "YC": 20.0, "YCC": 15.0, "RO": 15.0, "CD": 5.0}
LATER = {"YCC": 10.0, "RO": 25.0, "YRO": 35.0, "FINE": 5.0, "DTO": 10.0, "S250": 1.0}
LABELS = {"RO": "Referral order", "YRO": "Youth rehabilitation order", "YC": "Youth caution"}  # some rows say it
BREAKERS: tuple[Breaker, ...] = (
    ("bad_date", "OutcomeDate", "30/02/2025"), ("out_of_range", "GravityScore", "9"),
    ("unknown_code", "OutcomeType", "ASBO"), ("missing_value", "YJSClientID", ""), (WRONG_COLUMN_COUNT, "", ""),
)
# fmt: on
_DAY = "%d/%m/%Y"
_FORMAL = {"YC", "YCC", "AD", "CD", "FINE", "RO", "YRO", "DTO", "S250"}  # counts for first-time entry


def _yes(value: bool) -> str:
    return "Y" if value else "N"


def _child_rows(rng: random.Random, county: County, child: Person, outcomes: int, start: date, days: int,
                exact: str = "") -> list[tuple[Row, TruthRow]]:
    """The outcome rows of one child; a planted child (``exact`` = their postcode) is written as given."""
    rows = []
    when = start + timedelta(days=rng.randrange(max(1, days - 120)))
    concerns = [rng.random() < p for p in (0.3, 0.2, 0.35, 0.45)]
    for n in range(outcomes):
        code = rng.choices(list(OFFENCES), weights=[w for w, _ in OFFENCES.values()])[0]
        gravity = min(8, max(1, OFFENCES[code][1] + rng.choice((-1, 0, 0, 1))))
        outcome = pick(rng, FIRST if n == 0 else LATER)
        concerns[1] = concerns[1] or (code in ("34B", "10D") and rng.random() < 0.4)
        forename, surname, dob = (child.forename, child.surname, child.dob.strftime(_DAY)) if exact \
            else named(rng, child, _DAY)
        row = {
            "OutcomeRef": "", "YJSClientID": f"CV{stable(child.person_id, 'yjs') % 10_000_000:07d}",
            "PNCNumber": pnc_id(child) if outcome in _FORMAL else "", "Forename": forename, "Surname": surname,
            "DateOfBirth": dob, "Gender": child.sex, "OffenceCode": code if rng.random() < 0.9 else f"0{code}",
            "GravityScore": str(gravity), "OutcomeDate": when.strftime(_DAY),
            "OutcomeType": LABELS[outcome] if outcome in LABELS and rng.random() < 0.3 else outcome,
            "FirstTimeEntrant": _yes(n == 0 and outcome in _FORMAL),
            "SubstanceMisuseConcern": _yes(concerns[0]), "ExploitationConcern": _yes(concerns[1]),
            "MentalHealthConcern": _yes(concerns[2]), "ETEConcern": _yes(concerns[3]),
            "Postcode": exact or home_postcode(county, child),
        }
        rows.append((row, TruthRow(0, "", True, person_id=child.person_id, occurred_date=when.isoformat(),
                                   lsoa21cd=child.home_lsoa,
                                   flags=flags_of(first_time_entrant=n == 0 and outcome in _FORMAL,
                                                  concern_exploitation=concerns[1]))))
        when = min(when + timedelta(days=rng.randint(20, 120)), start + timedelta(days=days - 1))
    return rows


def generate_youth_justice_extract(out_dir: Path, *, seed: int = 2026, outcomes: int = 200, malformed: int = 5,
                                   start: date = date(2025, 1, 6), days: int = 364, police_seed: int = 2026,
                                   police_incidents: int = 3000,
                                   planted: Sequence[PlantedPerson] = ()) -> ExtractManifest:
    """``outcomes`` valid rows plus ``malformed`` broken ones for children of the police extract's county made
    with ``(police_seed, police_incidents, start)``; each planted person has two outcomes."""
    rng, county, pool = population(police_seed, police_incidents, start)
    rng.seed(f"{SOURCE}-{seed}")
    rows: list[tuple[Row, TruthRow]] = []
    seen: set[str] = set()
    for person, canary in zip(planted_people(rng, county, planted), planted, strict=True):
        rows += _child_rows(rng, county, person, 2, start, days, exact=canary.postcode)
    while len(rows) < outcomes + malformed:
        child = draw_person(rng, pool, start + timedelta(days=days // 2), (10, 17), seen)
        rows += _child_rows(rng, county, child, rng.choice((1, 1, 2, 3)), start, days)
    rows = number_rows(sorted(rows[: outcomes + malformed], key=lambda r: r[1].occurred_date), "OutcomeRef",
                       "YJ-OUT-{:06d}")
    valid, broken = split_valid(rng, rows, outcomes, "OutcomeRef")
    return write_extract(out_dir, SOURCE, HEADER, valid, broken, BREAKERS, "OutcomeRef", planted_strings(planted, _DAY))


GENERATOR = Generator(SOURCE, generate_youth_justice_extract, rows_option="outcomes")
