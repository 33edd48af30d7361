"""What a compiled plan is made of, shared by the plan (``plan.py``) and its generated code (``compiled.py``):
the operation codes, the refusal, its messages, and how a person's token maps are joined."""

from __future__ import annotations

from typing import Any

__all__ = ["AREA", "ATTRIBUTE", "FLAG", "PERSON", "PUT", "TOKEN", "TOP", "PseudonymisationError", "missing_id",
           "missing_time", "not_a_date"]


class PseudonymisationError(ValueError):
    """A record the boundary cannot turn into a shared event; the message names fields, never values."""


# Operation codes: a field's plan is a tuple of (code, ...) tuples, dispatched in ``SourcePlan.apply``.
TOKEN, PUT, AREA = 0, 1, 2
# Target kinds of a PUT/AREA: where the value lands in the shared event.
FLAG, ATTRIBUTE, PERSON, TOP = 0, 1, 2, 3


def missing_id(record_id: str) -> str:
    return f"{record_id} is missing: no event id can be derived"


def missing_time(event_time: str) -> str:
    return f"{event_time} is missing or not a date"


def not_a_date(name: str, method: str) -> str:
    return f"{name} is not a date, cannot generalise to {method}"


def _merged(blocks: list[dict[str, str]]) -> dict[str, str]:
    """One person's token maps (each sorted by name, none empty) as one map sorted by name, later maps winning.

    A family's names share its prefix (``forename``, ``forename_del#3``, ``forename_del#3@k1``...), so the
    maps, put in order of their first names, usually follow one another without overlapping: then
    joining them is the sorted union. Checked, not assumed: if two overlap or interleave (one family given
    twice for a person, say), the union is built in arrival order and sorted, as before.
    """
    if len(blocks) > 1:
        ordered = sorted(blocks, key=_first)
        last = ""
        for block in ordered:
            if next(iter(block)) <= last:
                merged: dict[str, str] = {}
                for block in blocks:
                    merged.update(block)
                return dict(sorted(merged.items()))
            last = next(reversed(block))
        blocks = ordered
    out: dict[str, str] = {}
    for block in blocks:
        out.update(block)
    return out


def _first(block: dict[str, str]) -> str:
    return next(iter(block))


def _keep(value: Any, when: Any) -> Any:
    return value
