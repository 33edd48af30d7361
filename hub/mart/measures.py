"""What each source contributes to a needs assessment: measures, their breakdowns and their areas (pure).

A **measure** counts records of one source by area x period x one **breakdown** (the ``category`` of a
released cell). A record may fall into several cells of a breakdown (an incident with a knife and
alcohol counts under both flags; a probation order counts in every month it is live), which the cell
key method handles: a cell's noise is fixed by the records in it.

Areas: the incident's LSOA where the source gives one, else the person's residence LSOA (ED gives
either, so the incident area wins and residence fills the gap; probation, youth justice and schools
give residence only).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hub.policy.agreement import SensitiveRules
from hub.reference import code_list, offence_codes


@dataclass(frozen=True)
class Fact:
    """One restricted event as the release builder sees it (never leaves this process)."""

    event_id: str
    record_key: int
    source: str
    occurred: date | None
    week: str | None
    month: str | None
    lsoa: str | None
    offence_code: str | None
    offence_category: str | None
    flags: Mapping[str, Any]
    attributes: Mapping[str, Any]
    age_bands: tuple[str, ...] = ()

    @classmethod
    def from_row(cls, row: Mapping[str, Any], age_bands: Sequence[str] = ()) -> Fact:
        flags = json.loads(row.get("flags_json") or "{}")
        for name in ("domestic_abuse", "knife", "firearm", "alcohol"):
            if row.get(name) is not None:
                flags.setdefault(name, bool(row[name]))
        return cls(str(row["event_id"]), int(row["record_key"] or 0), str(row["source"]), row.get("occurred_date"),
                   row.get("occurred_week"), row.get("occurred_month"), row.get("lsoa_code"),
                   row.get("offence_code"), row.get("offence_category"), flags,
                   json.loads(row.get("attributes_json") or "{}"), tuple(sorted({a for a in age_bands if a})))

    @property
    def area(self) -> str | None:
        """Incident LSOA, else residence LSOA."""
        return self.lsoa or self.attributes.get("residence_lsoa") or None

    def flag(self, name: str) -> bool:
        return self.flags.get(name) is True


def is_sensitive(fact: Fact, rules: SensitiveRules) -> bool:
    """Released under the sensitive rules: by offence code, category or flag (the agreement's list)."""
    code = fact.offence_code
    if code and (code in rules.offence_codes or (code in offence_codes() and offence_codes()[code].sensitive)):
        return True
    if fact.offence_category and fact.offence_category in rules.categories:
        return True
    return any(fact.flag(f) for f in rules.flags)


def _attr(name: str, missing: str = "not_recorded") -> Callable[[Fact], list[str]]:
    def get(f: Fact) -> list[str]:
        value = f.attributes.get(name)
        return [str(value).upper() if isinstance(value, str) else str(value)] if value not in (None, "") else [missing]
    return get


def _age(f: Fact) -> list[str]:
    return list(f.age_bands) or ["not_recorded"]


def _category(f: Fact) -> list[str]:
    return [f.offence_category or "not_recorded"]


def _flags(names: Sequence[str], other: str = "none") -> Callable[[Fact], list[str]]:
    def get(f: Fact) -> list[str]:
        hits = [n for n in names if f.flag(n)]
        return hits or [other]
    return get


def _weapon(f: Fact) -> list[str]:
    if f.flag("firearm"):
        return ["firearm"]
    if f.flag("knife"):
        return ["knife_or_sharp"]
    method = str(f.attributes.get("assault_method") or "").upper()
    if method and method in code_list("istv_assault_method").rows \
            and code_list("istv_assault_method").derived(method, "weapon") is True:
        return ["other_weapon"]
    return ["no_weapon_or_not_known"]


def _total(_f: Fact) -> list[str]:
    return ["all"]


def _cohorts(f: Fact) -> list[str]:
    return [str(c) for c in f.attributes.get("cohorts") or ()]


def _tier(f: Fact) -> list[str]:
    code = str(f.attributes.get("outcome_type") or "").upper()
    outcomes = code_list("yjb_outcome_type")
    tier = outcomes.derived(code, "tier") if code in outcomes.rows else None
    return [str(tier) if tier else "not_recorded"]


def _is_event_type(kind: str) -> Callable[[Fact], bool]:
    return lambda f: str(f.attributes.get("event_type") or "").upper() == kind


def _months_between(first: str, last: str) -> list[str]:
    y, m = int(first[:4]), int(first[5:7])
    out: list[str] = []
    while f"{y:04d}-{m:02d}" <= last and len(out) < 240:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _live_months(f: Fact, period: str) -> list[str]:
    """A probation order counts in each month from its start to its end (caseload)."""
    start, end = f.attributes.get("order_start_month"), f.attributes.get("order_end_month")
    if not isinstance(start, str) or not isinstance(end, str) or end < start:
        return [f.month] if f.month else []
    return _months_between(start, end)


def _event_period(f: Fact, period: str) -> list[str]:
    value = f.week if period == "week" else f.month
    return [value] if value else []


@dataclass(frozen=True)
class Measure:
    name: str
    source: str
    title: str
    breakdowns: Mapping[str, Callable[[Fact], list[str]]]
    include: Callable[[Fact], bool] = field(default=lambda f: True)
    periods: Callable[[Fact, str], list[str]] = field(default=_event_period)
    periods_allowed: tuple[str, ...] = ("week", "month")

    @property
    def default_breakdown(self) -> str:
        return next(iter(self.breakdowns))


MEASURES: dict[str, Measure] = {m.name: m for m in (
    Measure("police_incidents", "police_incident", "Police-recorded incidents (violence and related offences)",
            {"category": _category, "flag": _flags(("knife", "firearm", "domestic_abuse", "alcohol")),
             "total": _total}),
    Measure("ed_assault_attendances", "ed_attendance",
            "Emergency department attendances after an assault (incident area, else residence area)",
            {"weapon": _weapon, "age_band": _age, "total": _total}),
    Measure("ambulance_assault_callouts", "ambulance_callout", "Ambulance call-outs to assaults",
            {"category": _attr("callout_category"), "age_band": _age, "total": _total}),
    Measure("probation_new_starts", "probation_event", "Probation sentences and orders started (residence area)",
            {"sentence_type": _attr("sentence_type"), "age_band": _age, "rosh_level": _attr("rosh_level"),
             "total": _total}, include=_is_event_type("SENTENCE_START")),
    Measure("probation_caseload", "probation_event",
            "Probation caseload: orders live in the month (residence area; monthly only)",
            {"sentence_type": _attr("sentence_type"), "age_band": _age, "rosh_level": _attr("rosh_level"),
             "total": _total}, include=_is_event_type("SENTENCE_START"), periods=_live_months,
            periods_allowed=("month",)),
    Measure("youth_justice_new_starts", "youth_justice_event",
            "Youth justice outcomes (new starts on a disposal; residence area)",
            {"tier": _tier, "category": _category, "age_band": _age,
             "first_time_entrant": _flags(("first_time_entrant",), "not_first_time"), "total": _total}),
    Measure("linked_person_cohorts", "linked_persons",
            "Persons in cohorts found by linkage (known to 2+ agencies, victims later suspects, excluded then in "
            "youth justice), by the area and month of their first mention; counts persons, not events",
            {"cohort": _cohorts, "total": _total}, include=lambda f: bool(f.attributes.get("cohorts")),
            periods_allowed=("month",)),
    Measure("school_exclusions", "school_exclusion",
            "Permanent exclusions and suspensions (pupil's residence area), by main reason",
            {"reason": _attr("reason_1"), "exclusion_type": _attr("exclusion_type"), "age_band": _age,
             "total": _total}),
    Measure("referrals", "referral", "Referrals of people at risk of serious violence (residence area), by reason",
            {"reason": _attr("reason"), "routed_to": _attr("routed_to"), "referrer": _attr("referrer_agency"),
             "age_band": _age, "total": _total}),
    Measure("intervention_places", "intervention_activity",
            "Places started on the partnership's interventions (participant's area), by programme",
            {"programme": _attr("programme"), "status": _attr("status"), "age_band": _age, "total": _total}),
)}
"""Every measure the mart releases. Youth justice caseload is not among them: the youth justice extract
has no order end date, so a live caseload cannot be counted (docs/analyst.md)."""

FLAG_FILTERS = ("knife", "firearm", "domestic_abuse", "alcohol", "first_time_entrant", "conveyed_to_hospital",
                "violence", "weapon", "drugs_alcohol")


LINKED_PERSONS = "linked_persons"
"""Cohort facts are persons built from the mentions of the purpose's sources: released only when asked for
by name, and only to a purpose allowing two or more sources whose people are linked."""
LINKABLE_SOURCES = ("police_incident", "probation_event", "youth_justice_event", "school_exclusion")


def measures_for_sources(sources: Sequence[str]) -> list[Measure]:
    return [m for m in MEASURES.values() if m.source in sources]


def cohorts_allowed(sources: Sequence[str]) -> bool:
    return len(set(sources) & set(LINKABLE_SOURCES)) >= 2
