"""A synthetic nDelius event extract: cases of people the police extract also knows, with ground truth.

Offenders are drawn from the police extract's people (prolific suspects most often), so probation and
police records of the same person can be linked. Each case has a sentence, sometimes a risk or MAPPA
registration, a breach or recall, and an end; every event row repeats the person's details as Delius
holds them, with the occasional typo, and the risk levels current at the time.
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
    crn,
    draw_person,
    home_postcode,
    named,
    pick,
    planted_people,
    planted_strings,
    pnc_id,
    population,
    split_valid,
    write_extract,
)
from hub.synth.geography import County
from hub.synth.people import Person, PlantedPerson

SOURCE = "probation_event"
# fmt: off
HEADER = ("EVENT_ID", "CRN", "PNC_NUMBER", "FIRST_NAME", "SURNAME", "DATE_OF_BIRTH", "GENDER", "EVENT_TYPE",
          "EVENT_DATE", "MAIN_OFFENCE_GROUP", "SENTENCE_TYPE", "ORDER_START_DATE", "ORDER_END_DATE", "ROSH_LEVEL",
          "OGRS_BAND", "RSR_BAND", "MAPPA_LEVEL", "POSTCODE")
OFFENCES = {"008": 25.0, "105": 20.0, "005": 8.0, "003": 5.0, "034": 8.0, "029": 2.0, "056": 2.0, "092": 10.0,
            "028": 8.0, "049": 8.0, "036": 1.0, "104": 3.0}
SENTENCES = {"CO": 40.0, "SSO": 25.0, "CUSTODY": 20.0, "LICENCE": 10.0, "PSS": 5.0}
ROSH = {"LOW": 30.0, "MEDIUM": 45.0, "HIGH": 20.0, "VERY_HIGH": 5.0}
ROSH_REGISTER = {"MEDIUM": "RMRH", "HIGH": "RHRH", "VERY_HIGH": "RVHR"}  # Delius register codes
BREAKERS: tuple[Breaker, ...] = (
    ("bad_date", "EVENT_DATE", "2025-02-30"), ("missing_value", "CRN", ""),
    ("unknown_code", "MAIN_OFFENCE_GROUP", "8"), (WRONG_COLUMN_COUNT, "", ""),
)
# fmt: on
_DAY = "%Y-%m-%d"


class _Cases:
    """Writes the event rows of one case after another (one random stream)."""

    def __init__(self, county: County, start: date, days: int) -> None:
        self.county, self.start, self.days = county, start, days
        self.next_id = 2_500_010_000
        self.rows: list[tuple[Row, TruthRow]] = []

    def case(self, rng: random.Random, person: Person, events: int, planted: str = "") -> None:
        """``events`` rows of one case; a planted person (``planted`` = their postcode) is written exactly."""
        begun = self.start + timedelta(days=rng.randrange(self.days - 60))
        sentence, offence = pick(rng, SENTENCES), pick(rng, OFFENCES)
        end = begun + timedelta(days=rng.choice((182, 365, 547, 730)))
        rosh = pick(rng, ROSH)
        kinds = ["SENTENCE_START", "REGISTRATION_ADDED", "RECALL" if sentence == "LICENCE" else "BREACH",
                 "ORDER_END"][:events]
        when = begun
        for kind in kinds:
            if kind == "ORDER_END":
                when = min(end, self.start + timedelta(days=self.days - 1))
            mappa = rng.choice(("M1", "M1", "M2", "M3")) if rosh in ("HIGH", "VERY_HIGH") and rng.random() < 0.5 else ""
            forename, surname, dob = ((person.forename, person.surname, person.dob.strftime(_DAY)) if planted
                                      else named(rng, person, _DAY))
            self.next_id += rng.randint(1, 40)
            row = {
                "EVENT_ID": str(self.next_id), "CRN": crn(person),
                "PNC_NUMBER": pnc_id(person) if rng.random() < 0.9 else "", "FIRST_NAME": forename,
                "SURNAME": surname, "DATE_OF_BIRTH": dob, "GENDER": person.sex, "EVENT_TYPE": kind.lower(),
                "EVENT_DATE": when.strftime(_DAY), "MAIN_OFFENCE_GROUP": offence, "SENTENCE_TYPE": sentence,
                "ORDER_START_DATE": begun.strftime(_DAY), "ORDER_END_DATE": end.strftime(_DAY),
                "ROSH_LEVEL": ROSH_REGISTER.get(rosh, "") if rng.random() < 0.3 else rosh.replace("_", " ").title(),
                "OGRS_BAND": pick(rng, {"Low": 4.0, "Medium": 3.0, "High": 2.0, "Very High": 1.0}),
                "RSR_BAND": rng.choice("LMH"), "MAPPA_LEVEL": mappa,
                "POSTCODE": planted or home_postcode(self.county, person),
            }
            self.rows.append((row, TruthRow(0, row["EVENT_ID"], True, person_id=person.person_id,
                                            occurred_date=when.isoformat(), lsoa21cd=person.home_lsoa)))
            when = min(when + timedelta(days=rng.randint(7, 90)), self.start + timedelta(days=self.days - 1))


def generate_probation_extract(out_dir: Path, *, seed: int = 2026, events: int = 300, malformed: int = 4,
                               start: date = date(2025, 1, 6), days: int = 364, police_seed: int = 2026,
                               police_incidents: int = 3000,
                               planted: Sequence[PlantedPerson] = ()) -> ExtractManifest:
    """``events`` valid event rows plus ``malformed`` broken ones, for offenders of the police extract made with
    ``(police_seed, police_incidents, start)``; each planted person has a case of two events."""
    rng, county, pool = population(police_seed, police_incidents, start)
    rng.seed(f"{SOURCE}-{seed}")
    cases = _Cases(county, start, days)
    for person, canary in zip(planted_people(rng, county, planted), planted, strict=True):
        cases.case(rng, person, 2, planted=canary.postcode)
    seen: set[str] = set()
    while len(cases.rows) < events + malformed:
        when = start + timedelta(days=rng.randrange(days))
        cases.case(rng, draw_person(rng, pool, when, (18, 75), seen), rng.choice((1, 2, 2, 3, 4)))
    valid, broken = split_valid(rng, cases.rows[: events + malformed], events, "EVENT_ID")
    return write_extract(out_dir, SOURCE, HEADER, valid, broken, BREAKERS, "EVENT_ID", planted_strings(planted, _DAY))


GENERATOR = Generator(SOURCE, generate_probation_extract, rows_option="events")
