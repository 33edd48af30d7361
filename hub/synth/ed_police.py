"""Synthetic ED assault attendances of which a known share are also police incidents, with the truth.

Each police incident of violence has a time, a place (LSOA, by the county's night-time economy), a
victim's age band and sex, and a method. A share of ED attendances are the same assaults seen at the
emergency department: the assault time as the patient gives it (within an hour or two of the police
time), the location as free text naming a gazetteer place of the same LSOA (or unplaceable text), the
same age band (now and then the next one: ages are given, not checked) and sex, and the method as ED
codes it. The other attendances are assaults the police never heard of. The gazetteer (venues and
streets per LSOA) is the partnership's, synthetic for the fictional county.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from hub.linkage.incidents import AGE_BANDS, Incident
from hub.pseudonymisation.gazetteer import Gazetteer, example_rows
from hub.synth.extract import violent_time
from hub.synth.geography import build_county
from hub.synth.people import age_band, cumulative

WEAPONS = {"body": 60.0, "knife": 14.0, "blunt": 12.0, "other": 6.0}
UNPLACEABLE = ("at a friends house", "at a party", "outside", "in town", "not known", "at home")


@dataclass(frozen=True)
class EdPoliceData:
    police: list[Incident]
    ed: list[Incident]
    truth: dict[str, str]  # ED event id -> police event id, for the ED attendances that are police incidents
    gazetteer_rows: list[tuple[str, str]]
    unplaced: int


def gazetteer_rows() -> list[tuple[str, str]]:
    """(name, LSOA) of the partnership's gazetteer: the synthetic one shipped for the fictional county
    (three venues, two streets and a school per LSOA, each name unique)."""
    return [(name, lsoa) for name, _, lsoa in example_rows()]


def generate(*, seed: int = 3, police_incidents: int = 3000, ed_attendances: int = 1200, share: float = 0.4,
             start: date = date(2025, 1, 6), days: int = 364) -> EdPoliceData:
    """``share`` of the ED attendances are also police incidents (the truth says which)."""
    rng = random.Random(f"ed-police-{seed}")
    county = build_county()
    lsoas = list(county.lsoas)
    where = cumulative([item.nte_weight for item in lsoas])
    msoa = {item.code: item.msoa for item in lsoas}
    rows = gazetteer_rows()
    places: dict[str, list[str]] = {}
    for name, code in rows:
        places.setdefault(code, []).append(name)
    gazetteer = Gazetteer.from_pairs(rows)

    def hour(moment: datetime) -> datetime:
        return moment.replace(minute=0, second=0, microsecond=0)

    def victim() -> tuple[str, str]:
        return age_band(min(90, max(10, int(rng.gauss(27, 10))))), ("M" if rng.random() < 0.7 else "F")

    police: list[Incident] = []
    facts: list[tuple[datetime, str, str, str, str]] = []
    for n in range(police_incidents):
        when = violent_time(rng, start, days)
        area = lsoas[bisect.bisect(where, rng.random() * where[-1])].code
        band, sex = victim()
        weapon = rng.choices(list(WEAPONS), list(WEAPONS.values()))[0]
        facts.append((when, area, band, sex, weapon))
        police.append(Incident(f"ev-police-{n:06d}", hour(when), area, msoa[area], band, sex, weapon))

    def text_for(area: str) -> str:
        r = rng.random()
        if r < 0.85:
            return f"{rng.choice(('outside', 'in', 'at', 'near'))} {rng.choice(places[area]).lower()}"
        return rng.choice(UNPLACEABLE)

    ed: list[Incident] = []
    truth: dict[str, str] = {}
    chosen = rng.sample(range(police_incidents), int(ed_attendances * share))
    for n in range(ed_attendances):
        eid = f"ev-ed-{n:06d}"
        if n < len(chosen):
            when, area, band, sex, weapon = facts[chosen[n]]
            when = when + timedelta(minutes=rng.gauss(0, 40))
            if rng.random() < 0.08:
                i = AGE_BANDS.index(band)
                band = AGE_BANDS[min(len(AGE_BANDS) - 1, i + 1)]
            if rng.random() < 0.02:
                sex = "F" if sex == "M" else "M"
            if rng.random() < 0.15:
                weapon = "other"
            truth[eid] = police[chosen[n]].event_id
        else:
            when = violent_time(rng, start, days)
            area = lsoas[bisect.bisect(where, rng.random() * where[-1])].code
            band, sex = victim()
            weapon = rng.choices(list(WEAPONS), list(WEAPONS.values()))[0]
        placed = gazetteer.place(text_for(area))  # at the trust: only the LSOA leaves
        ed.append(Incident(eid, hour(when), placed, msoa.get(placed) if placed else None, band, sex, weapon))
    return EdPoliceData(police, ed, truth, rows, gazetteer.unplaced)
