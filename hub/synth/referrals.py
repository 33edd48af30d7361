"""Synthetic referrals of people at risk, and intervention activity returns, with ground truth.

Referrals: young people and young adults (10-30) of the police extract's county, referred by police,
schools, the ED and others for knife carrying, exploitation, victimisation...; the routing to a partner
follows from the reason (the code list's ``route_to``). Interventions: anonymous places on the
partnership's programmes, delivered more where violence is (the town centres) but not only there, so
reach against need has something to show.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path

from hub.synth.extract import (
    WRONG_COLUMN_COUNT,
    Breaker,
    ExtractManifest,
    Row,
    TruthRow,
    draw_person,
    home_postcode,
    named,
    number_rows,
    pick,
    planted_people,
    planted_strings,
    population,
    split_valid,
    write_extract,
)
from hub.synth.geography import build_county
from hub.synth.people import PlantedPerson, cumulative

_DAY = "%d/%m/%Y"
_STAMP = "%d/%m/%Y %H:%M"
# fmt: off
REFERRAL_HEADER = ("ReferralRef", "ReferredAt", "ReferrerAgency", "ReasonCode", "Forename", "Surname", "DOB", "Sex",
                   "Postcode", "Notes")
REASONS = {"KNIFE": 22.0, "EXPL": 18.0, "GANG": 10.0, "VICT": 16.0, "PERP": 12.0, "DA": 8.0, "EXCL": 10.0, "OTH": 4.0}
REFERRERS = {"POL": 30.0, "SCH": 22.0, "ED": 12.0, "YJS": 10.0, "CSC": 12.0, "PRB": 6.0, "VCS": 6.0, "OTH": 2.0}
REFERRAL_BREAKERS: tuple[Breaker, ...] = (
    ("unknown_code", "ReasonCode", "ZZZ"), ("bad_datetime", "ReferredAt", "yesterday"),
    ("missing_value", "ReferralRef", ""), (WRONG_COLUMN_COUNT, "", ""),
)
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


def generate_referral_extract(out_dir: Path, *, seed: int = 2026, referrals: int = 300, malformed: int = 4,
                              start: date = date(2025, 1, 6), days: int = 364, police_seed: int = 2026,
                              police_incidents: int = 3000,
                              planted: Sequence[PlantedPerson] = ()) -> ExtractManifest:
    """``referrals`` valid rows plus ``malformed`` broken ones; a planted person is referred twice."""
    rng, county, pool = population(police_seed, police_incidents, start)
    rng.seed(f"referral-{seed}")
    rows: list[tuple[Row, TruthRow]] = []
    seen: set[str] = set()
    people = [(p, c.postcode) for p, c in zip(planted_people(rng, county, planted), planted, strict=True)
              for _ in range(2)]
    while len(rows) < referrals + malformed:
        when = datetime.combine(start, time()) + timedelta(days=rng.randrange(days), hours=rng.randint(8, 18),
                                                           minutes=rng.randrange(60))
        if people:
            person, exact = people.pop()
        else:
            person, exact = draw_person(rng, pool, when.date(), (10, 30), seen), ""
        forename, surname, dob = (person.forename, person.surname, person.dob.strftime(_DAY)) if exact \
            else named(rng, person, _DAY)
        reason = pick(rng, REASONS)
        row = {"ReferralRef": "", "ReferredAt": when.strftime(_STAMP), "ReferrerAgency": pick(rng, REFERRERS),
               "ReasonCode": reason,
               "Forename": forename, "Surname": surname, "DOB": dob, "Sex": person.sex,
               "Postcode": exact or home_postcode(county, person),
               "Notes": f"{forename} seen with others near the station" if rng.random() < 0.3 else ""}
        rows.append((row, TruthRow(0, "", True, person_id=person.person_id, occurred_date=f"{when:%Y-%m-%d}",
                                   lsoa21cd=person.home_lsoa)))
    rows = number_rows(sorted(rows, key=lambda r: r[1].occurred_date), "ReferralRef", "REF-{:06d}")
    valid, broken = split_valid(rng, rows, referrals, "ReferralRef")
    return write_extract(out_dir, "referral", REFERRAL_HEADER, valid, broken, REFERRAL_BREAKERS, "ReferralRef",
                         planted_strings(planted, _DAY))


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
