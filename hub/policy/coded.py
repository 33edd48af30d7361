"""What a value may look like after the privacy boundary: a code of a list or a strict pattern, never text.

A name typed into a coded field (an outcome code, a site code) must not reach the shared topic. Every raw
field an agreement may keep declares in its Avro schema either ``"code_list": <hub/reference list>`` or
``"pattern": <regex>``; whole numbers, flags and dates are coded by their type. A string field with
neither is free text, and an agreement that keeps it is refused at load. Generalisations produce values
of a known shape, so each method has its rule too. The same rules are applied at the boundary (the
pseudonymiser's output), to events pseudonymised at a source, and again by the sink.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from hub.reference import CodeListError, code_list, offence_codes

MAX_TEXT = 64
"""No coded value, however it was declared, is longer than this."""
SPECIAL_LISTS = ("offence_codes", "offence_categories")


@dataclass(frozen=True)
class ValueRule:
    """One test a value must pass; ``describe`` is safe to log (it never holds a value)."""

    describe: str
    accepts: Callable[[Any], bool]


def _text(test: Callable[[str], bool]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str) and 0 < len(v) <= MAX_TEXT and v.isascii() and test(v)


_ACCEPTED_LIMIT = 4096


def pattern_rule(pattern: str) -> ValueRule:
    compiled = re.compile(pattern)
    matches = _text(lambda v: compiled.fullmatch(v) is not None)
    accepted: set[str] = set()  # values that passed: weeks, months, area codes repeat on every other event

    def accepts(v: Any) -> bool:
        if type(v) is str and v in accepted:
            return True
        if not matches(v):
            return False
        if type(v) is str and len(accepted) < _ACCEPTED_LIMIT:
            accepted.add(v)
        return True
    return ValueRule(f"pattern {pattern}", accepts)


def _in(codes: Collection[str], what: str) -> ValueRule:
    # Only codes that pass ``_text`` themselves, so membership alone is ``_text(v in codes)`` (a hot path).
    frozen = frozenset(c for c in codes if isinstance(c, str) and 0 < len(c) <= MAX_TEXT and c.isascii())
    return ValueRule(what, lambda v: isinstance(v, str) and v in frozen)


@cache
def list_rule(name: str) -> ValueRule:
    """The codes of a shipped list (``offence_codes`` and ``offence_categories`` are the offence table's)."""
    if name == "offence_codes":
        return _in(offence_codes(), "the offence code list")
    if name == "offence_categories":
        return _in(offence_categories(), "the offence categories")
    return _in(code_list(name).rows, f"the {name} code list")


def offence_categories() -> frozenset[str]:
    """Categories of the Home Office table and of the probation offence groups (one vocabulary)."""
    cats = {o.category for o in offence_codes().values()}
    try:
        delius = code_list("delius_offence_group")
        cats |= {str(delius.derived(c, "category")) for c in delius.rows if delius.derived(c, "category")}
    except CodeListError:  # pragma: no cover - shipped with the hub
        pass
    return frozenset(cats)


def known_list(name: str) -> bool:
    try:
        list_rule(name)
    except CodeListError:
        return False
    return True


INTEGER = ValueRule("a whole number", lambda v: (isinstance(v, int) and not isinstance(v, bool)
                                               and -10**9 < v < 10**9)
                    or (isinstance(v, str) and re.fullmatch(r"-?[0-9]{1,9}", v) is not None))
BOOLEAN = ValueRule("true or false", lambda v: isinstance(v, bool) or v in ("true", "false"))
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?")
DATE = ValueRule("a date", lambda v: hasattr(v, "isoformat") or (isinstance(v, str) and bool(_ISO_DATE.fullmatch(v))))
AGE_BAND = pattern_rule(r"[0-9]{1,3}-[0-9]{1,3}|[0-9]{1,3}\+")
SEX = _in(("M", "F", "X"), "M, F or X")
LSOA = pattern_rule(r"[EW]01[0-9]{6}")
MSOA = pattern_rule(r"[EW]02[0-9]{6}")
LAD = pattern_rule(r"[EWSN][0-9]{8}")
GENERALISED: Mapping[str, ValueRule] = {
    "date": DATE, "week": pattern_rule(r"[0-9]{4}-W[0-9]{2}"), "month": pattern_rule(r"[0-9]{4}-[0-9]{2}"),
    "year": pattern_rule(r"[0-9]{4}"),
    "hour": ValueRule("an hour 0-23", lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 23),
    "age_band": AGE_BAND, "lsoa": LSOA, "msoa": MSOA, "lad": LAD, "sex": SEX,
    "offence_category": list_rule("offence_categories"),
}
"""What each generalisation method can produce."""


def kept_rule(field: Mapping[str, Any], kind: str) -> ValueRule | None:
    """The rule for a raw field kept as it is; ``None`` if it is free text (and so may not be kept)."""
    if field.get("code_list"):
        return list_rule(str(field["code_list"]))
    if field.get("pattern"):
        return pattern_rule(str(field["pattern"]))
    return {"int": INTEGER, "boolean": BOOLEAN, "date": DATE, "datetime": DATE}.get(kind)


def schema_problem(field: Mapping[str, Any]) -> str | None:
    """A schema annotation that names a list the hub does not ship, or a pattern that does not compile."""
    name = field.get("code_list")
    if name and not known_list(str(name)):
        return f"names code list {name!r}, which the hub does not ship"
    if field.get("pattern"):
        try:
            re.compile(str(field["pattern"]))
        except re.error:
            return "has a pattern that is not a regular expression"
    return None
