"""RESTRICTED layer: ED assault attendances matched to police incidents (``hub.linkage.incidents``).

``refresh`` re-matches every ED attendance in the mart against the police incidents and replaces the
table (matching is one-to-one over the whole set, so a new incident can move an earlier match). The
share of ED attendances with no police incident leaves only as the disclosure-controlled measure
``ed_assaults_without_police`` (by the attendance's area and month).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from sqlalchemy import Column, Engine, Float, String, Table, delete, select

from hub.linkage.incidents import DEFAULT_WEIGHTS, Incident, Weights, incident_from_event, match_incidents
from hub.mart import models

incident_match = Table(
    "incident_match", models.metadata,
    Column("ed_event_id", String(64), primary_key=True),
    Column("police_event_id", String(64), nullable=False, unique=True),
    Column("score", Float, nullable=False, comment="log2 odds that the two are the same assault"),
    comment="ED assault attendances matched one-to-one to police incidents (restricted)",
)

ROLE = {"ed_attendance": "patient", "police_incident": "victim"}


def _incidents(conn: Any, source: str) -> list[Incident]:
    ev, person = models.event, models.event_person
    people: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in conn.execute(select(person).join(ev, ev.c.event_id == person.c.event_id).where(ev.c.source == source)):
        people[r.event_id].append({"role": r.role, "age_band": r.age_band, "sex": r.sex})
    out = []
    for r in conn.execute(select(ev).where(ev.c.source == source)):
        row = dict(r._mapping)
        attributes = json.loads(row.get("attributes_json") or "{}")
        event = {**row, "attributes": attributes, "flags": {"knife": row.get("knife")},
                 "persons": people.get(row["event_id"], [])}
        incident = incident_from_event(event, ROLE[source])
        if incident is not None:
            out.append(incident)
    return out


def refresh(engine: Engine, weights: Weights = DEFAULT_WEIGHTS) -> int:
    """Match every ED attendance in the mart to police incidents; returns the matches stored."""
    with engine.begin() as conn:
        ed, police = _incidents(conn, "ed_attendance"), _incidents(conn, "police_incident")
        matches = match_incidents(ed, police, weights=weights)
        conn.execute(delete(incident_match))
        if matches:
            conn.execute(incident_match.insert(), [{"ed_event_id": m.ed_event_id, "police_event_id": m.police_event_id,
                                                    "score": m.score} for m in matches])
    return len(matches)


def matched_ed_events(conn: Any) -> set[str]:
    return {r[0] for r in conn.execute(select(incident_match.c.ed_event_id))}
