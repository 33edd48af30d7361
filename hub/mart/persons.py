"""RESTRICTED layer: persons and their mentions, from the stream's link stage.

``person_mention`` has one row per person mention (a person in an event, by role) with the pseudonymous
person id the link stage gave it; ``person_merge`` records persons later found to be one (the one
founded later points at the survivor). A person's current id is ``COALESCE(merge.into, mention.person_id)``.
No linkage token is stored here: the tokens stay on the restricted token topic, which only the link
stage reads. Cohort questions (people known to two or more agencies, victims later named as suspects)
are answered only through disclosure-controlled releases (``hub.mart.cohorts``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Column, Date, Engine, String, Table

from hub.mart import models
from hub.mart.store import _upsert

person_mention = Table(
    "person_mention", models.metadata,
    Column("event_id", String(64), primary_key=True),
    Column("role", String(32), primary_key=True),
    Column("person_id", String(64), nullable=False, index=True,
           comment="Pseudonymous person id the link stage gave this mention (see person_merge for the survivor)"),
    Column("source", String(64), nullable=False, index=True),
    Column("occurred_date", Date, index=True),
    Column("model_version", String(32), nullable=False, comment="Linkage model that scored the mention"),
    comment="One row per person mention (a person in an event) with its person id (restricted)",
)

person_merge = Table(
    "person_merge", models.metadata,
    Column("person_id", String(64), primary_key=True, comment="Founded later, found to be..."),
    Column("into_person_id", String(64), nullable=False, index=True, comment="...this person, which survives"),
    Column("event_id", String(64), nullable=False, comment="The event whose mention joined them"),
    comment="Persons found to be one: counts and cohorts use the survivor (restricted)",
)

CURRENT_PERSON = "COALESCE(g.into_person_id, m.person_id)"
"""SQL for a mention's current person id, over ``person_mention m LEFT JOIN person_merge g``."""


def upsert_linked(engine: Engine, linked: Iterable[Mapping[str, Any]]) -> int:
    """Write the link stage's mentions and merges; redelivery rewrites the same rows. A merge of a person
    that was itself a survivor re-points the earlier merges at the new survivor (chains stay one long)."""
    mentions: dict[tuple[str, str], dict[str, Any]] = {}
    merges: dict[str, dict[str, Any]] = {}
    for ev in linked:
        for m in ev.get("mentions") or ():
            mentions[(ev["event_id"], m["role"])] = {
                "event_id": ev["event_id"], "role": m["role"], "person_id": m["person_id"], "source": ev["source"],
                "occurred_date": ev.get("occurred_date"), "model_version": ev.get("model_version") or ""}
        for g in ev.get("merges") or ():
            merges[g["person_id"]] = {"person_id": g["person_id"], "into_person_id": g["into"],
                                      "event_id": ev["event_id"]}
    with engine.begin() as conn:
        _upsert(conn, person_mention, list(mentions.values()), ["event_id", "role"])
        _upsert(conn, person_merge, list(merges.values()), ["person_id"])
        for row in merges.values():
            conn.execute(person_merge.update().where(person_merge.c.into_person_id == row["person_id"])
                         .values(into_person_id=row["into_person_id"]))
    return len(mentions)


LINKED_PERSONS = "linked_persons"
"""The pseudo-source of cohort facts: one fact per person, built from the mentions of allowed sources."""
COHORTS = ("known_to_2plus_agencies", "victim_then_suspect", "excluded_then_youth_justice")


def cohorts_of(mentions: list[tuple[str, str, Any]]) -> list[str]:
    """The cohorts of one person from their mentions (source, role, date), pure."""
    out = []
    if len({source for source, _, _ in mentions}) >= 2:
        out.append("known_to_2plus_agencies")

    def first(pred: Any) -> Any:
        dates = [d for s, r, d in mentions if pred(s, r) and d is not None]
        return min(dates) if dates else None

    def last(pred: Any) -> Any:
        dates = [d for s, r, d in mentions if pred(s, r) and d is not None]
        return max(dates) if dates else None

    victim = first(lambda s, r: s == "police_incident" and r == "victim")
    suspect = last(lambda s, r: s == "police_incident" and r == "suspect")
    if victim is not None and suspect is not None and suspect > victim:
        out.append("victim_then_suspect")
    excluded = first(lambda s, r: s == "school_exclusion")
    youth = last(lambda s, r: s == "youth_justice_event")
    if excluded is not None and youth is not None and youth >= excluded:
        out.append("excluded_then_youth_justice")
    return out


def cohort_rows(conn: Any, sources: Iterable[str]) -> list[dict[str, Any]]:
    """One row per current person with a cohort, in the shape of an ``event`` row (restricted: for the
    release builder only): the person's first mention gives the month and the area."""
    from sqlalchemy import select

    from hub.mart.cellkey import record_key

    ev = models.event
    merged = dict(conn.execute(select(person_merge.c.person_id, person_merge.c.into_person_id)).all())
    rows = conn.execute(select(person_mention.c.person_id, person_mention.c.source, person_mention.c.role,
                               person_mention.c.occurred_date, ev.c.occurred_month, ev.c.occurred_week,
                               ev.c.lsoa_code, ev.c.attributes_json)
                        .join(ev, ev.c.event_id == person_mention.c.event_id, isouter=True)
                        .where(person_mention.c.source.in_(list(sources))))
    people: dict[str, list[Any]] = {}
    for r in rows:
        people.setdefault(merged.get(r.person_id, r.person_id), []).append(r)
    out = []
    for pid, mentions in people.items():
        cohorts = cohorts_of([(m.source, m.role, m.occurred_date) for m in mentions])
        if not cohorts:
            continue
        dated = [m for m in mentions if m.occurred_date is not None]
        first = min(dated, key=lambda m: m.occurred_date) if dated else mentions[0]
        # Area: the first mention's incident LSOA, else its residence LSOA (attributes); never a token.
        attributes = json.loads(first.attributes_json or "{}")
        out.append({"event_id": pid, "record_key": record_key(pid), "source": LINKED_PERSONS,
                    "occurred_date": first.occurred_date, "occurred_week": first.occurred_week,
                    "occurred_month": first.occurred_month, "lsoa_code": first.lsoa_code,
                    "offence_code": None, "offence_category": None, "flags_json": "{}",
                    "attributes_json": json.dumps({"residence_lsoa": attributes.get("residence_lsoa"),
                                                   "cohorts": cohorts})})
    return out
