"""The synthetic population: people with stable identities who turn up again and again.

Serious violence concentrates on few people: repeat victims, prolific suspects, and a victim-offender
overlap. The pool gives each person a weight for being drawn as a victim and as a suspect, plus
domestic-abuse couples who reappear together, so linkage has realistic repeat structure to find.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate

from hub.synth.geography import County
from hub.synth.names import FEMALE_FORENAMES, MALE_FORENAMES, SURNAMES

AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("0-9", 0, 9),
    ("10-14", 10, 14),
    ("15-17", 15, 17),
    ("18-24", 18, 24),
    ("25-34", 25, 34),
    ("35-44", 35, 44),
    ("45-54", 45, 54),
    ("55-64", 55, 64),
    ("65+", 65, 200),
)


@dataclass(frozen=True)
class PlantedPerson:
    """A canary identity the privacy tests plant as a victim in a few rows."""

    forename: str
    surname: str
    dob: date
    postcode: str


@dataclass(frozen=True)
class Person:
    """A person's true identity; what a record says about them may differ (see variants.py)."""

    person_id: str
    forename: str
    surname: str
    dob: date
    sex: str
    home_lsoa: str


@dataclass(frozen=True)
class _Profile:
    share: float
    victim_weight: float
    suspect_weight: float
    male_share: float
    young: bool  # ages concentrated on 14-35


_PROFILES: tuple[_Profile, ...] = (
    _Profile(0.80, 1.0, 0.3, 0.55, False),  # ordinary: mostly appears once, if at all
    _Profile(0.07, 6.0, 0.2, 0.40, False),  # repeat victim
    _Profile(0.05, 2.0, 12.0, 0.85, True),  # prolific suspect
    _Profile(0.08, 4.0, 4.0, 0.75, True),  # victim-offender overlap
)


def age_on(dob: date, when: date) -> int:
    """Age in whole years on `when`."""
    return when.year - dob.year - ((when.month, when.day) < (dob.month, dob.day))


def age_band(age: int) -> str:
    """The hub's standard age band for an age in years."""
    for label, low, high in AGE_BANDS:
        if low <= age <= high:
            return label
    raise ValueError(f"negative age: {age}")


def cumulative(weights: list[float]) -> list[float]:
    """Running totals, for weighted draws with bisect (much faster than random.choices per draw)."""
    return list(accumulate(weights))


def _age_weight(age: int, young: bool) -> float:
    if young:
        return 6.0 if 17 <= age <= 25 else 3.0 if 14 <= age <= 35 else 0.3 if age <= 50 else 0.0
    if age < 15:
        return 2.0
    if age <= 30:
        return 6.0
    if age <= 45:
        return 3.0
    return 1.5 if age <= 60 else 0.4


_AGES = list(range(10, 81))
_AGE_CUM = {young: cumulative([_age_weight(a, young) for a in _AGES]) for young in (False, True)}
_SURNAME_CUM = cumulative([1.0 / (rank + 1) ** 0.6 for rank in range(len(SURNAMES))])


def random_surname(rng: random.Random) -> str:
    """A surname, popular ones more often; ~3% double-barrelled."""
    first = SURNAMES[bisect.bisect(_SURNAME_CUM, rng.random() * _SURNAME_CUM[-1])]
    if rng.random() < 0.03:
        second = rng.choice(SURNAMES)
        if second != first and "'" not in first + second:
            return f"{first}-{second}"
    return first


class PersonPool:
    """All people in the county who can appear in the extract, with draw weights."""

    def __init__(self, rng: random.Random, county: County, size: int, ref_date: date) -> None:
        self._rng = rng
        self._ref_date = ref_date
        self._lsoa_codes = [item.code for item in county.lsoas]
        self._lsoa_cum = cumulative([item.resident_weight for item in county.lsoas])
        self.people: list[Person] = []
        victim_w: list[float] = []
        suspect_w: list[float] = []
        profile_cum = cumulative([p.share for p in _PROFILES])
        for _ in range(size):
            profile = _PROFILES[bisect.bisect(profile_cum, rng.random() * profile_cum[-1])]
            sex = "M" if rng.random() < profile.male_share else "F"
            self.people.append(self.new_person(sex=sex, young=profile.young))
            victim_w.append(profile.victim_weight)
            suspect_w.append(profile.suspect_weight)
        self._victim_cum = cumulative(victim_w)
        self._suspect_cum = cumulative(suspect_w)
        self.couples: list[tuple[Person, Person]] = [self._new_couple() for _ in range(max(4, size // 8))]
        self._couple_cum = cumulative([5.0 if rng.random() < 0.2 else 1.0 for _ in self.couples])

    def new_person(
        self,
        *,
        sex: str,
        young: bool = False,
        ages: tuple[int, int] | None = None,
        surname: str | None = None,
        home: str | None = None,
    ) -> Person:
        """A new person aged 10-80 on the reference date unless `ages` says otherwise; the caller
        appends it to `people` (ids follow the pool's length)."""
        rng = self._rng
        if ages is None:
            age = _AGES[bisect.bisect(_AGE_CUM[young], rng.random() * _AGE_CUM[young][-1])]
        else:
            age = rng.randint(*ages)
        dob = self._ref_date - timedelta(days=age * 365 + rng.randrange(365) + age // 4)
        forename = rng.choice(MALE_FORENAMES if sex == "M" else FEMALE_FORENAMES)
        if home is None:
            home = self._lsoa_codes[bisect.bisect(self._lsoa_cum, rng.random() * self._lsoa_cum[-1])]
        return Person(
            f"P{len(self.people) + 1:06d}", forename, surname or random_surname(rng), dob, sex, home
        )

    def _new_couple(self) -> tuple[Person, Person]:
        """A (victim, perpetrator) pair for repeat domestic abuse; they share a home."""
        rng = self._rng
        victim_sex = "F" if rng.random() < 0.8 else "M"
        other_sex = ("M" if victim_sex == "F" else "F") if rng.random() < 0.93 else victim_sex
        victim = self.new_person(sex=victim_sex, ages=(16, 70))
        self.people.append(victim)
        v_age = age_on(victim.dob, self._ref_date)
        low = max(16, v_age - 3)
        surname = victim.surname if rng.random() < 0.35 else None
        ages = (low, min(80, max(low, v_age + 8)))
        perpetrator = self.new_person(sex=other_sex, ages=ages, surname=surname, home=victim.home_lsoa)
        self.people.append(perpetrator)
        return victim, perpetrator

    def draw_victim(self, ok: Callable[[Person], bool] | None = None) -> Person:
        """A victim, repeat victims more often; `ok` restricts (e.g. age or sex the offence implies)."""
        return self._draw(self._victim_cum, ok)

    def draw_suspect(
        self, when: date, exclude: Person | None = None, ok: Callable[[Person], bool] | None = None
    ) -> Person:
        """A suspect other than `exclude`, prolific suspects more often, aged 10+ on the day; `ok` restricts
        further (other agencies' extracts draw their offenders, children and pupils from the same people)."""
        return self._draw(
            self._suspect_cum,
            lambda p: p is not exclude and age_on(p.dob, when) >= 10 and (ok is None or ok(p)),
        )

    def draw_couple(self) -> tuple[Person, Person]:
        """A domestic-abuse (victim, perpetrator) pair; high-risk couples recur."""
        return self.couples[bisect.bisect(self._couple_cum, self._rng.random() * self._couple_cum[-1])]

    def _draw(self, cum: list[float], ok: Callable[[Person], bool] | None) -> Person:
        for _ in range(200):
            person = self.people[bisect.bisect(cum, self._rng.random() * cum[-1])]
            if ok is None or ok(person):
                return person
        raise LookupError("no person in the pool fits")
