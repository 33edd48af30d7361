"""A synthetic council education extract of suspensions and permanent exclusions, with ground truth.

Pupils aged 11-15 are drawn from the police extract's people where the county has them (so a pupil can
also be a child known to youth justice), with up to three DfE reason codes per exclusion: persistent
disruption and assaults dominate, offensive weapons are rare. Older rows still say FIXD for a suspension.
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
    population,
    split_valid,
    stable,
    write_extract,
)
from hub.synth.geography import County
from hub.synth.people import Person, PlantedPerson

SOURCE = "school_exclusion"
# fmt: off
HEADER = ("ExclusionID", "UPN", "Forename", "Surname", "DOB", "Gender", "SchoolURN", "ExclusionCategory",
          "ExclusionReason1", "ExclusionReason2", "ExclusionReason3", "ExclusionStartDate", "ExclusionSessions",
          "Postcode")
REASONS = {"DB": 35.0, "PP": 15.0, "PA": 12.0, "VA": 10.0, "VP": 8.0, "OW": 4.0, "DA": 5.0, "SM": 2.0, "BU": 3.0,
           "DM": 3.0, "MT": 2.0, "OT": 3.0}
SCHOOLS = ("199001", "199002", "199003", "199004", "199005", "199006")  # fictional URNs, one per secondary
BREAKERS: tuple[Breaker, ...] = (
    ("unknown_code", "ExclusionReason1", "XX"), ("bad_date", "ExclusionStartDate", "2025-03-10"),
    ("missing_value", "UPN", ""), ("bad_integer", "ExclusionSessions", "two"), (WRONG_COLUMN_COUNT, "", ""),
)
# fmt: on
_DAY = "%d/%m/%Y"


def _pupil_rows(rng: random.Random, county: County, pupil: Person, exclusions: int, start: date, days: int,
                exact: str = "") -> list[tuple[Row, TruthRow]]:
    """The exclusions of one pupil (school days only); a planted pupil (``exact`` = postcode) as given."""
    rows = []
    school = SCHOOLS[stable(pupil.person_id, "school") % len(SCHOOLS)]
    for n in range(exclusions):
        when = start + timedelta(days=rng.randrange(days))
        when -= timedelta(days=max(0, when.weekday() - 4))  # a weekday
        permanent = n == exclusions - 1 and rng.random() < 0.08
        reasons = list(dict.fromkeys(pick(rng, REASONS) for _ in range(rng.choice((1, 1, 1, 2, 2, 3)))))
        forename, surname, dob = (pupil.forename, pupil.surname, pupil.dob.strftime(_DAY)) if exact \
            else named(rng, pupil, _DAY)
        row = {
            "ExclusionID": "", "UPN": f"Z{stable(pupil.person_id, 'upn') % 10**12:012d}", "Forename": forename,
            "Surname": surname, "DOB": dob, "Gender": pupil.sex, "SchoolURN": school,
            "ExclusionCategory": "PERM" if permanent else rng.choice(("SUSP", "SUSP", "SUSP", "FIXD")),
            "ExclusionReason1": reasons[0], "ExclusionReason2": reasons[1] if len(reasons) > 1 else "",
            "ExclusionReason3": reasons[2] if len(reasons) > 2 else "", "ExclusionStartDate": when.strftime(_DAY),
            "ExclusionSessions": "" if permanent else str(rng.choice((1, 2, 2, 4, 6, 10, 20))),
            "Postcode": exact or home_postcode(county, pupil),
        }
        rows.append((row, TruthRow(0, "", True, person_id=pupil.person_id, occurred_date=when.isoformat(),
                                   lsoa21cd=pupil.home_lsoa,
                                   flags=flags_of(violence=bool({"PP", "PA"} & set(reasons)), weapon="OW" in reasons,
                                                  sexual_misconduct="SM" in reasons,
                                                  drugs_alcohol="DA" in reasons))))
    return rows


def generate_school_extract(out_dir: Path, *, seed: int = 2026, exclusions: int = 250, malformed: int = 5,
                            start: date = date(2025, 1, 6), days: int = 364, police_seed: int = 2026,
                            police_incidents: int = 3000,
                            planted: Sequence[PlantedPerson] = ()) -> ExtractManifest:
    """``exclusions`` valid rows plus ``malformed`` broken ones for pupils of the police extract's county made
    with ``(police_seed, police_incidents, start)``; each planted person has two exclusions."""
    rng, county, pool = population(police_seed, police_incidents, start)
    rng.seed(f"{SOURCE}-{seed}")
    rows: list[tuple[Row, TruthRow]] = []
    seen: set[str] = set()
    for person, canary in zip(planted_people(rng, county, planted), planted, strict=True):
        rows += _pupil_rows(rng, county, person, 2, start, days, exact=canary.postcode)
    while len(rows) < exclusions + malformed:
        pupil = draw_person(rng, pool, start, (11, 15), seen)
        rows += _pupil_rows(rng, county, pupil, rng.choice((1, 1, 1, 2, 3)), start, days)
    rows = number_rows(sorted(rows[: exclusions + malformed], key=lambda r: r[1].occurred_date), "ExclusionID",
                       "EX-{:06d}")
    valid, broken = split_valid(rng, rows, exclusions, "ExclusionID")
    return write_extract(out_dir, SOURCE, HEADER, valid, broken, BREAKERS, "ExclusionID",
                         planted_strings(planted, _DAY))


GENERATOR = Generator(SOURCE, generate_school_extract, rows_option="exclusions")
