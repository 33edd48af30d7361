# mypy: disallow-untyped-defs, disallow-incomplete-defs, disallow-any-generics, warn-return-any
"""Matching ED assault attendances to police incidents (the Cardiff Model's central measure).

ED (ISTV) events carry no identity: only when (date and hour), where (the assault's area, geocoded at
the trust from the free-text location against the partnership's gazetteer), the patient's age band and
sex, and the method. A police incident of the same assault has the same facts, recorded independently.
Each candidate pair (police incident within ``window_hours`` of the attendance) is scored as a sum of
log2 likelihood ratios, like Fellegi-Sunter on these fields. An attendance is one assault, so at most
one of its candidates is the match: a candidate's probability is its odds over one plus the odds of all
the attendance's candidates (a description that fits many incidents, e.g. with no area, is doubted), and
pairs at or above the threshold are matched one-to-one, strongest first (an incident has one victim at ED).

The share of ED assault attendances with no matching police incident, by area and month, is what the
partnership needs (violence that never reaches the police); it is released only under disclosure control.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Incident:
    """The facts of one event that matching compares (from a shared event; no identity at all)."""

    event_id: str
    when: datetime  # date and hour (minutes unknown after generalisation)
    lsoa: str | None
    msoa: str | None
    age_band: str | None
    sex: str | None
    weapon: str | None  # "knife", "blunt", "body", "other" or None


@dataclass(frozen=True)
class Weights:
    """log2 likelihood ratios (match vs non-match among pairs inside the window), and the threshold.

    Each is log2(P(level | same assault) / P(level | different assaults within the window)), as measured
    on the synthetic county's candidate pairs (``hub bench linkage --dataset incidents``): e.g. the same
    hour, ~0.6 of true pairs against ~1/24 of others; the same LSOA, nearly all placed true pairs against
    the chance two assaults share one (~0.05 in a county whose violence crowds into its town centres).
    The prior is the log2 odds of a candidate being the match. A pair matches at probability 0.5 or more
    (threshold 0 bits), one-to-one. A partnership re-measures them on its own data.
    """

    hour_same: float = 4.3
    hour_1: float = 3.3
    hour_3: float = -1.4
    hour_far: float = -9.0
    lsoa_same: float = 4.4
    msoa_same: float = -4.0
    area_differs: float = -9.0
    age_same: float = 1.9
    age_adjacent: float = -2.3
    age_differs: float = -8.0
    sex_same: float = 0.75
    sex_differs: float = -4.0
    weapon_same: float = 0.95
    weapon_differs: float = -1.9
    prior: float = -5.45
    threshold: float = 0.0


DEFAULT_WEIGHTS = Weights()
AGE_BANDS = ("0-9", "10-14", "15-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")
_AGE_INDEX = {band: i for i, band in enumerate(AGE_BANDS)}


def weapon_of(method: str | None, knife: bool | None) -> str | None:
    """One coarse method category from ISTV codes or police flags."""
    if knife:
        return "knife"
    code = (method or "").upper()
    return {"BP": "body", "FIST": "body", "KICK": "body", "BL": "blunt", "OT": "other", "KN": "knife",
            "GL": "knife", "BOTTLE": "knife", "KNIFE": "knife"}.get(code)


def incident_from_event(event: Mapping[str, Any], role: str | None = None) -> Incident | None:
    """The facts of a shared event (its first person, or the person with ``role``); None without a date."""
    day = event.get("occurred_date")
    if isinstance(day, str):
        day = date.fromisoformat(day)
    if not isinstance(day, date):
        return None
    hour = event.get("occurred_hour")
    when = datetime(day.year, day.month, day.day, int(hour) if isinstance(hour, int) else 12)
    persons = [p for p in event.get("persons") or () if role is None or p.get("role") == role]
    person = persons[0] if persons else {}
    attributes = event.get("attributes") or {}
    flags = event.get("flags") or {}
    return Incident(str(event["event_id"]), when, event.get("lsoa_code"), event.get("msoa_code"),
                    person.get("age_band"), person.get("sex"),
                    weapon_of(attributes.get("assault_method") or attributes.get("weapon"), flags.get("knife")))


def score(ed: Incident, police: Incident, w: Weights = DEFAULT_WEIGHTS) -> float:
    """Sum of log2 likelihood ratios (plus the prior) that the two describe the same assault."""
    total = w.prior
    hours = abs((ed.when - police.when).total_seconds()) / 3600
    total += w.hour_same if hours < 1 else w.hour_1 if hours <= 1 else w.hour_3 if hours <= 3 else w.hour_far
    if ed.lsoa and police.lsoa:
        total += w.lsoa_same if ed.lsoa == police.lsoa else (
            w.msoa_same if ed.msoa and ed.msoa == police.msoa else w.area_differs)
    if ed.age_band in _AGE_INDEX and police.age_band in _AGE_INDEX:
        gap = abs(_AGE_INDEX[ed.age_band] - _AGE_INDEX[police.age_band])
        total += w.age_same if gap == 0 else w.age_adjacent if gap == 1 else w.age_differs
    if ed.sex in ("M", "F") and police.sex in ("M", "F"):
        total += w.sex_same if ed.sex == police.sex else w.sex_differs
    if ed.weapon and police.weapon:
        total += w.weapon_same if ed.weapon == police.weapon else w.weapon_differs
    return total


@dataclass(frozen=True)
class IncidentMatch:
    ed_event_id: str
    police_event_id: str
    score: float
    probability: float


def match_incidents(ed: Iterable[Incident], police: Sequence[Incident], *, window_hours: float = 24.0,
                    weights: Weights = DEFAULT_WEIGHTS) -> list[IncidentMatch]:
    """One-to-one matches of ED attendances to police incidents within the time window, strongest first."""
    ordered = sorted(police, key=lambda p: p.when)
    times = [p.when for p in ordered]
    window = timedelta(hours=window_hours)
    scored: list[tuple[float, float, str, str]] = []
    for a in ed:
        lo, hi = bisect.bisect_left(times, a.when - window), bisect.bisect_right(times, a.when + window)
        candidates = [(score(a, p, weights), p.event_id) for p in ordered[lo:hi]]
        rest = 1 + sum(math.exp2(s) for s, _ in candidates)  # one of them, or none, is this assault
        for s, p_id in candidates:
            odds = math.exp2(s) / (rest - math.exp2(s))  # this one against none and every other
            if math.log2(odds) >= weights.threshold:
                scored.append((s, odds / (1 + odds), a.event_id, p_id))
    taken_ed: set[str] = set()
    taken_police: set[str] = set()
    out = []
    for s, probability, a_id, p_id in sorted(scored, key=lambda t: (-t[0], t[2], t[3])):
        if a_id in taken_ed or p_id in taken_police:
            continue
        taken_ed.add(a_id)
        taken_police.add(p_id)
        out.append(IncidentMatch(a_id, p_id, s, probability))
    return out


def unmatched_share(ed: Iterable[Incident], matches: Iterable[IncidentMatch]) -> dict[tuple[str, str], tuple[int, int]]:
    """(area, month) -> (ED assault attendances, of which with no matching police incident): raw counts, for
    a release to perturb and suppress."""
    matched = {m.ed_event_id for m in matches}
    out: dict[tuple[str, str], list[int]] = {}
    for a in ed:
        key = (a.msoa or a.lsoa or "unknown", a.when.strftime("%Y-%m"))
        cell = out.setdefault(key, [0, 0])
        cell[0] += 1
        cell[1] += a.event_id not in matched
    return {k: (v[0], v[1]) for k, v in out.items()}
