"""One synthetic violent incident: what happened, where, when, to whom and by whom.

Patterns mirror police-recorded violence: night-time and weekend peaks, town-centre hot spots for
street and licensed-premises violence, domestic abuse mostly at home and between the same couples,
knife flags concentrated on serious assault, robbery and possession, and unknown suspects common.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from hub.synth.geography import County
from hub.synth.narrative import narrative, person_text
from hub.synth.offences import VICTIMLESS, Offence, da_rate, knife_rate, weighted_offences
from hub.synth.people import Person, PersonPool, age_on, cumulative
from hub.synth.variants import recorded_dob, recorded_name

# code -> (required sex or "", minimum age, maximum age) of the victim, from the offence definition.
# fmt: off
VICTIM_RULES: dict[str, tuple[str, int, int]] = {
    "19C": ("F", 16, 200), "19D": ("F", 0, 15), "20A": ("F", 13, 200), "17A": ("M", 13, 200),
    "11A": ("", 0, 15), "104": ("", 20, 60), "8S": ("", 20, 60),
}
# fmt: on
_WEEKDAY = (0.85, 0.85, 0.9, 1.0, 1.25, 1.45, 1.2)  # Monday first
_NIGHT_WEEKDAY = (0.6, 0.6, 0.7, 1.1, 2.6, 3.0, 0.9)  # the evening the night out started
_HOURS = (6, 5, 4, 3, 2, 1, 1, 1.5, 2, 2.5, 3, 3, 3.5, 3.5, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7, 7.5, 7)
_NIGHT_HOURS = {20: 2, 21: 4, 22: 7, 23: 10, 0: 12, 1: 12, 2: 10, 3: 6, 4: 3}
# fmt: off
_LOCATIONS = {
    "street": 35, "licensed_premises": 22, "home": 15, "shop": 8, "park": 7, "transport": 6, "school": 3,
}
# fmt: on
_LOCATIONS_ROBBERY = {"street": 50, "transport": 15, "shop": 20, "park": 15}
_LOCATIONS_WEAPONS = {"street": 50, "licensed_premises": 20, "transport": 10, "park": 12, "school": 8}
_OUTCOMES_NO_SUSPECT = {"18": 75, "14": 15, "21": 5, "20": 3, "17": 2}
# fmt: off
_OUTCOMES_SUSPECT = {
    "16": 30, "15": 16, "1": 14, "8": 9, "14": 4, "3": 4, "21": 3, "10": 2, "22": 2, "9": 1.5, "20": 1.5,
    "2": 1.5, "6": 0.5, "4": 0.5, "12": 0.3, "5": 0.2,
}
# fmt: on


@dataclass
class Recorded:
    """A person as written on one record (strings exactly as they go into the CSV)."""

    forename: str
    surname: str
    dob: str
    sex: str


@dataclass
class Incident:
    """An incident with its true facts and the values the extract will show."""

    offence: Offence
    occurred_from: datetime
    occurred_to: datetime | None
    reported: datetime
    lsoa: str
    location_type: str
    location_postcode: str
    location_lsoa: str
    victim: Person | None
    victim_rec: Recorded | None
    suspect: Person | None
    suspect_rec: Recorded | None
    domestic: bool
    knife: bool
    firearm: bool
    alcohol: bool
    outcome: str
    narrative: str
    crime_ref: str = ""


def _pick(rng: random.Random, table: Mapping[str, float]) -> str:
    return rng.choices(list(table), weights=list(table.values()))[0]


def _dob_text(dob: date) -> str:
    return dob.strftime("%d/%m/%Y")


class IncidentFactory:
    """Draws incidents from one random stream, a county and a person pool."""

    def __init__(
        self,
        rng: random.Random,
        county: County,
        pool: PersonPool,
        reference: dict[str, Offence],
        start: date,
        days: int,
    ) -> None:
        self.rng = rng
        self.county = county
        self.pool = pool
        self.start = start
        self.days = days
        self.offences, self._offence_cum = weighted_offences(reference)
        self._lsoa_codes = [item.code for item in county.lsoas]
        self._nte_cum = cumulative([item.nte_weight for item in county.lsoas])
        self._res_cum = cumulative([item.resident_weight for item in county.lsoas])
        self._postcodes = {item.code: item.postcodes for item in county.lsoas}
        dates = [start + timedelta(days=i) for i in range(days)]
        self._dates = dates
        self._day_cum = cumulative([_WEEKDAY[d.weekday()] * _season(d) for d in dates])
        self._night_cum = cumulative([_NIGHT_WEEKDAY[d.weekday()] * _season(d) for d in dates])

    def _lsoa(self, cum: list[float]) -> str:
        return self._lsoa_codes[bisect.bisect(cum, self.rng.random() * cum[-1])]

    def make(self) -> Incident:
        """One complete incident."""
        rng = self.rng
        offence = self.offences[bisect.bisect(self._offence_cum, rng.random() * self._offence_cum[-1])]
        code = offence.code
        occurred, night = self._when(code)
        victim, suspect, domestic = self._people(code, occurred.date())
        location_type = self._location(code, domestic, night)
        if location_type == "home" and victim is not None:
            lsoa = victim.home_lsoa
        elif location_type in ("street", "licensed_premises", "shop", "transport"):
            lsoa = self._lsoa(self._nte_cum)
        else:
            lsoa = self._lsoa(self._res_cum)
        postcode, lsoa_field = self._location_fields(lsoa)
        knife = rng.random() < knife_rate(code)
        firearm = code == "10A" or (code in ("1", "2", "5D", "34B", "3B") and rng.random() < 0.02)
        alcohol = rng.random() < (0.55 if location_type == "licensed_premises" else 0.35 if night else 0.15)
        incident = Incident(
            offence=offence,
            occurred_from=occurred,
            occurred_to=self._occurred_to(occurred),
            reported=occurred + self._report_delay(offence.category),
            lsoa=lsoa,
            location_type=location_type,
            location_postcode=postcode,
            location_lsoa=lsoa_field,
            victim=victim,
            victim_rec=self._record(victim, victim=True),
            suspect=suspect,
            suspect_rec=self._record(suspect, victim=False),
            domestic=domestic,
            knife=knife,
            firearm=firearm,
            alcohol=alcohol,
            outcome=self._outcome(offence, occurred, suspect is not None),
            narrative="",
        )
        incident.narrative = self.narrate(incident, name_victim=rng.random() < 0.35)
        return incident

    def narrate(self, incident: Incident, *, name_victim: bool, victim_text: str | None = None) -> str:
        """The Narrative field; `victim_text` overrides how the victim is referred to."""
        rng = self.rng
        if victim_text is None:
            rec = incident.victim_rec
            victim_text = person_text("V1", rec.forename, rec.surname, named=name_victim) if rec else "V1"
        srec = incident.suspect_rec
        if srec is None:
            suspect_text = rng.choice(("an unknown male", "an unknown suspect", "an unknown female"))
        else:
            suspect_text = person_text("S1", srec.forename, srec.surname, named=rng.random() < 0.25)
        offence = incident.offence
        return narrative(
            rng,
            offence.code,
            offence.category,
            incident.location_type,
            victim=victim_text,
            suspect=suspect_text,
            knife=incident.knife,
            alcohol=incident.alcohol,
            domestic=incident.domestic,
        )

    def _when(self, code: str) -> tuple[datetime, bool]:
        """Occurred-from time and whether it was a night-time-economy incident."""
        rng = self.rng
        night = code not in VICTIMLESS and rng.random() < 0.45
        if night:
            index = bisect.bisect(self._night_cum, rng.random() * self._night_cum[-1])
            hour = int(_pick(rng, {str(h): w for h, w in _NIGHT_HOURS.items()}))
            if hour < 12 and index + 1 < self.days:
                index += 1  # the early hours belong to the next calendar day
        else:
            index = bisect.bisect(self._day_cum, rng.random() * self._day_cum[-1])
            hour = rng.choices(range(24), weights=_HOURS)[0]
        minute = rng.randrange(0, 60, 5) if rng.random() < 0.7 else rng.randrange(60)
        day = self._dates[index]
        return datetime(day.year, day.month, day.day, hour, minute), night

    def _people(self, code: str, when: date) -> tuple[Person | None, Person | None, bool]:
        """(victim, suspect, domestic) for an offence on a day."""
        rng, pool = self.rng, self.pool
        rule = VICTIM_RULES.get(code)

        def fits(person: Person) -> bool:
            if rule is None:
                return True
            age = age_on(person.dob, when)
            return (not rule[0] or person.sex == rule[0]) and rule[1] <= age <= rule[2]

        if code in VICTIMLESS:
            return None, pool.draw_suspect(when), False
        if rng.random() < da_rate(code):
            for _ in range(20):
                victim, perpetrator = pool.draw_couple()
                if fits(victim):
                    return victim, perpetrator if rng.random() < 0.97 else None, True
        try:
            victim = pool.draw_victim(fits)
        except LookupError:
            if rule is None:
                raise
            low = max(10, rule[1])
            victim = pool.new_person(sex=rule[0] or rng.choice("MF"), ages=(low, min(low + 20, rule[2] - 1)))
            pool.people.append(victim)
        known = rng.random() < (0.8 if code in ("1", "4.1") else 0.49)
        return victim, pool.draw_suspect(when, exclude=victim) if known else None, False

    def _location(self, code: str, domestic: bool, night: bool) -> str:
        rng = self.rng
        if domestic:
            return (
                "home" if rng.random() < 0.8 else rng.choice(("street", "shop", "park", "licensed_premises"))
            )
        if code in VICTIMLESS:
            return _pick(rng, _LOCATIONS_WEAPONS)
        if code in ("34A", "34B"):
            return "shop" if code == "34A" else _pick(rng, _LOCATIONS_ROBBERY)
        if night:
            return "licensed_premises" if rng.random() < 0.5 else "street"
        return _pick(rng, _LOCATIONS)

    def _location_fields(self, lsoa: str) -> tuple[str, str]:
        """(LocationPostcode, LocationLSOA): mostly a postcode, sometimes only the LSOA, a few both."""
        rng = self.rng
        draw = rng.random()
        if draw >= 0.85:
            return "", lsoa
        postcode = rng.choice(self._postcodes[lsoa])
        if rng.random() < 0.02:  # as typed: no space or lower case; connectors must normalise
            postcode = rng.choice((postcode.replace(" ", ""), postcode.lower()))
        return postcode, lsoa if draw >= 0.82 else ""

    def _occurred_to(self, occurred: datetime) -> datetime | None:
        if self.rng.random() < 0.45:
            return None
        return occurred + timedelta(minutes=self.rng.choice((5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240)))

    def _report_delay(self, category: str) -> timedelta:
        rng = self.rng
        draw = rng.random()
        if category == "stalking_and_harassment":
            draw = min(0.99, draw + 0.3)
        if category == "homicide" or draw < 0.55:
            return timedelta(minutes=rng.randint(5, 240))
        if draw < 0.85:
            return timedelta(minutes=rng.randint(240, 2880))
        return timedelta(days=rng.randint(2, 10), minutes=rng.randint(0, 1439))

    def _outcome(self, offence: Offence, occurred: datetime, suspect_known: bool) -> str:
        """Outcome code: recent crimes are more often still open (empty)."""
        rng = self.rng
        age_share = (self.start + timedelta(days=self.days) - occurred.date()).days / self.days
        if rng.random() < 0.03 + 0.6 * max(0.0, 1.0 - 4 * age_share):
            return ""
        if offence.category == "homicide" and suspect_known:
            return "1"
        return _pick(rng, _OUTCOMES_SUSPECT if suspect_known else _OUTCOMES_NO_SUSPECT)

    def _record(self, person: Person | None, *, victim: bool) -> Recorded | None:
        """How `person` is written on this record (None if absent)."""
        if person is None:
            return None
        rng = self.rng
        forename, surname = recorded_name(rng, person)
        missing_dob = rng.random() < (0.04 if victim else 0.1)
        dob = "" if missing_dob else _dob_text(recorded_dob(rng, person.dob))
        sex = "" if victim and rng.random() < 0.02 else person.sex
        return Recorded(forename, surname, dob, sex)


def _season(day: date) -> float:
    """More violence in summer and in December."""
    return {6: 1.12, 7: 1.18, 8: 1.12, 12: 1.1, 1: 0.9, 2: 0.9}.get(day.month, 1.0)
