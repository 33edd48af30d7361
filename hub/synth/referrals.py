"""Synthetic referrals of people at risk, with ground truth.

Young people and young adults (10-30) of the police extract's county, referred by police, schools, the ED
and others for knife carrying, exploitation, victimisation...; the routing to a partner follows from the
reason (the code list's ``route_to``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path

from hub.synth.extract import (
    WRONG_COLUMN_COUNT,
    Breaker,
    ExtractManifest,
    Generator,
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
from hub.synth.people import PlantedPerson

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


GENERATOR = Generator("referral", generate_referral_extract, rows_option="referrals")
