"""RESTRICTED layer: persons and their mentions, from the stream's link stage.

``person_mention`` has one row per person mention (a person in an event, by role) with the pseudonymous
person id the link stage gave it; ``person_merge`` records persons later found to be one (the one
founded later points at the survivor). A person's current id is ``COALESCE(merge.into, mention.person_id)``.
No linkage token is stored here: the tokens stay on the restricted token topic, which only the link
stage reads. Cohort questions (people known to two or more agencies, victims later named as suspects)
are answered only through disclosure-controlled releases (``hub.mart.cohorts``).
"""

from __future__ import annotations

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
