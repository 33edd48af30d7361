"""The linked cohort for the needs assessment: people known to two or more agencies, and why.

Reads the link stage's restricted tables (``person_mention``: one row per person in an event with its
pseudonymous person id; ``person_merge``: persons later found to be one) when the mart has them, and
returns restricted counts for :func:`hub.reports.releases.release`. Nothing here is released by itself.

Factors (the partnership's causal factors, as far as the shared data show them):

- domestic abuse history: in any event flagged domestic abuse;
- exposure to violence: a victim in an event dated before their first event as a suspect or offender;
- substance misuse: a youth justice substance-misuse concern, or a school exclusion for drugs or alcohol;
- ill-health (mental health): a youth justice mental-health concern (bereavement is not shared by any
  source yet);
- prior victimisation: a victim in two or more events.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, inspect, text

from hub.reports.releases import Period, Tally

FACTORS = ("domestic abuse history", "exposure to violence", "substance misuse", "mental health concern",
           "prior victimisation")
OFFENDING_ROLES = ("suspect", "offender")


def available(conn: Connection) -> bool:
    return bool(inspect(conn).has_table("person_mention"))


@dataclass
class Person:
    sources: set[str] = field(default_factory=set)
    first_offending: date | None = None
    victim_dates: list[date] = field(default_factory=list)
    factors: set[str] = field(default_factory=set)
    record_key: int = 0


def _survivors(conn: Connection) -> dict[str, str]:
    if not inspect(conn).has_table("person_merge"):
        return {}
    merged = {str(a): str(b) for a, b in conn.execute(text("SELECT person_id, into_person_id FROM person_merge"))}

    def root(pid: str) -> str:
        seen = set()
        while pid in merged and pid not in seen:
            seen.add(pid)
            pid = merged[pid]
        return pid
    return {pid: root(pid) for pid in merged}


def people(conn: Connection, period: Period, sources: tuple[str, ...]) -> dict[str, Person]:
    """Every linked person with a mention in the period, from the sources the purpose allows."""
    survivor = _survivors(conn)
    rows = conn.execute(text(
        "SELECT m.person_id, m.role, m.source, e.occurred_date, e.domestic_abuse, e.flags_json, e.record_key "
        "FROM person_mention m JOIN event e ON e.event_id = m.event_id "
        "WHERE e.occurred_date >= :start AND e.occurred_date <= :end"),
        {"start": period.start, "end": period.end})
    out: dict[str, Person] = defaultdict(Person)
    for pid, role, source, day, domestic, flags_json, rkey in rows:
        if source not in sources:
            continue
        if isinstance(day, str):
            day = date.fromisoformat(day)
        p = out[survivor.get(str(pid), str(pid))]
        p.sources.add(str(source))
        p.record_key += int(rkey or 0)
        flags: dict[str, Any] = json.loads(flags_json or "{}")
        if domestic:
            p.factors.add("domestic abuse history")
        if flags.get("concern_substance_misuse") or flags.get("drugs_alcohol"):
            p.factors.add("substance misuse")
        if flags.get("concern_mental_health"):
            p.factors.add("mental health concern")
        if role == "victim" and day:
            p.victim_dates.append(day)
        if role in OFFENDING_ROLES and day and (p.first_offending is None or day < p.first_offending):
            p.first_offending = day
    for p in out.values():
        if len(p.victim_dates) >= 2:
            p.factors.add("prior victimisation")
        if p.first_offending and any(d < p.first_offending for d in p.victim_dates):
            p.factors.add("exposure to violence")
    return dict(out)


def cohort_tallies(persons: dict[str, Person]) -> tuple[Tally, Tally, int]:
    """(people by number of agencies, factor prevalence in the 2+ cohort, cohort size) as restricted counts."""
    by_agencies, factors = Tally(), Tally()
    cohort = 0
    for p in persons.values():
        n = len(p.sources)
        by_agencies.add(("3 or more" if n >= 3 else str(n),), p.record_key)
        if n >= 2:
            cohort += 1
            by_agencies.add(("2 or more (the cohort)",), p.record_key)
            for f in p.factors:
                factors.add((f,), p.record_key)
    return by_agencies, factors, cohort
