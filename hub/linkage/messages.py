# mypy: disallow-untyped-defs, disallow-incomplete-defs, disallow-any-generics, warn-return-any
"""Moving linkage tokens off the shared event, and what the link stage publishes.

The pseudonymiser makes one event with tokens; the worker splits it before anything is sent: the
shared event (for analysts, the sink and every later stage) keeps no token, and the tokens go to the
restricted link-tokens topic that only the link stage reads. The link stage answers with a linked
event: a person id per mention and the merges it found, never a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.linkage.index import Assignment
from hub.linkage.records import PersonRecord, record_key

LINK_TOKENS = "svh.link.LinkTokens"
LINKED_EVENT = "svh.linked.LinkedEvent"


def split_tokens(shared: Mapping[str, Any], *, copy: bool = True) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(the shared event with every person's tokens emptied, the link-tokens message or None).

    ``copy=False`` puts each person's token map itself in the message, not a copy: for a caller that encodes
    the message at once (``hub.streams.boundary``), so a map carrying its own encoding keeps it."""
    persons = shared.get("persons") or []
    linkable, emptied = [], []
    for p in persons:  # one pass (per event in the worker: hub.streams.boundary)
        if p.get("tokens"):
            linkable.append({"role": p["role"], "sex": p.get("sex"),
                             "tokens": dict(p["tokens"]) if copy else p["tokens"]})
        emptied.append({**p, "tokens": {}})
    out = dict(shared)
    out["persons"] = emptied
    if not linkable:
        return out, None
    return out, {"event_id": shared["event_id"], "source": shared["source"], "key_id": shared.get("key_id", ""),
                 "occurred_date": shared.get("occurred_date"), "persons": linkable}


def records_of(message: Mapping[str, Any]) -> list[PersonRecord]:
    """The person mentions of one link-tokens message."""
    event_id, source = str(message["event_id"]), str(message["source"])
    return [PersonRecord(record_key(event_id, str(p["role"])), source, str(p["role"]), dict(p["tokens"]),
                         str(p["sex"]) if p.get("sex") else None)
            for p in message.get("persons") or () if p.get("tokens")]


def linked_event(message: Mapping[str, Any], assignments: Mapping[str, Assignment],
                 model_version: str) -> dict[str, Any]:
    """The linked event for one link-tokens message, given each mention's assignment (by role)."""
    merges = [{"person_id": m.person_id, "into": m.into} for a in assignments.values() for m in a.merges]
    return {"event_id": message["event_id"], "source": message["source"],
            "occurred_date": message.get("occurred_date"), "model_version": model_version,
            "mentions": [{"role": role, "person_id": a.person_id} for role, a in assignments.items()],
            "merges": merges}
