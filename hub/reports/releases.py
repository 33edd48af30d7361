"""Released tables for the reports: restricted counts in, disclosure-controlled cells out, each audited.

Every figure of a report is drawn from one :class:`Released` table. :func:`release` applies the
mart's disclosure control, the cell key method (``hub.mart.cellkey``: each cell perturbed by the sum of
its events' record keys, so the same events always get the same noise in every report and release,
then suppressed below the profile's threshold, zeros included, then rounded), and appends an audit row in
the same transaction that read the counts, so no figure exists without its audit row. Records the
agreement treats as sensitive (``Agreement.sensitive``: by offence code, category or flag, the same rule
as ``hub.mart.release``) are left out of the standard tables and released only under the profile's
sensitive rules. Counts gathered in Python keep their record keys in a :class:`Tally`; a cell with no
events behind it (a count of alerts) gets a key fixed by its table and position.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from hub.mart import models
from hub.mart.audit import ReleaseContext, ReleaseRecord, record_release
from hub.mart.cellkey import KEY_RANGE, protect_cell
from hub.policy.agreement import SensitiveRules
from hub.reference import offence_codes

Key = tuple[Hashable, ...]


class Tally(dict[Key, tuple[int, int]]):
    """Restricted counts with their cells' record-key sums: key -> (events, sum of record keys)."""

    def add(self, key: Key, record_key: int | None, n: int = 1) -> None:
        count, keys = self.get(key, (0, 0))
        self[key] = (count + n, keys + int(record_key or 0))

    def counts(self) -> dict[Key, int]:
        return {k: v[0] for k, v in self.items()}


def _fixed_key(name: str, key: Key) -> int:
    return hashlib.sha256(f"{name}|{key!r}".encode()).digest()[0] % KEY_RANGE


@dataclass(frozen=True)
class Released:
    """One released table: cells after disclosure control (None: suppressed), and its audit id."""

    name: str
    dims: tuple[str, ...]
    cells: dict[Key, int | None]
    release_id: int
    threshold: int
    rounding: int

    def shown(self) -> dict[Key, int]:
        return {k: v for k, v in self.cells.items() if v is not None}

    @property
    def suppressed(self) -> int:
        return sum(1 for v in self.cells.values() if v is None)

    def total_shown(self) -> int:
        return sum(self.shown().values())


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def where(self) -> Any:
        ev = models.event
        return and_(ev.c.occurred_date >= self.start, ev.c.occurred_date <= self.end)


def release(conn: Connection, ctx: ReleaseContext, report: str, name: str, dims: tuple[str, ...],
            counts: Mapping[Any, Any], params: Mapping[str, Any], sensitive: bool = False,
            destination: str | None = None) -> Released:
    """Protect ``counts`` (a :class:`Tally`, or plain counts) and record the release; returns the cells."""
    rules = ctx.profile.for_rows(sensitive)
    out: dict[Key, int | None] = {}
    for key, value in sorted(counts.items(), key=lambda kv: tuple(map(str, kv[0]))):
        count, ckey = (value[0], value[1] % KEY_RANGE) if isinstance(value, tuple) else (
            int(value), _fixed_key(name, tuple(key)))
        out[tuple(key)] = protect_cell(count, ckey, rules.threshold, rules.rounding).value
    rid = record_release(conn, ctx, ReleaseRecord(
        kind="report", name=f"{report}:{name}"[:64], parameters={**params, "dims": list(dims),
                                                               "sensitive_rules": sensitive,
                                                               "method": "cell key (hub.mart.cellkey)"},
        rows_released=len(out), cells_suppressed=sum(1 for v in out.values() if v is None),
        sources=ctx.sources, destination=destination))
    return Released(name, dims, out, rid, rules.threshold, rules.rounding)


def sensitive_codes(rules: SensitiveRules) -> set[str]:
    return set(rules.offence_codes) | {code for code, o in offence_codes().items() if o.sensitive}


def is_sensitive(rules: SensitiveRules, code: str | None, category: str | None, flags: Mapping[str, Any]) -> bool:
    """The agreement's rule (``Agreement.sensitive``): by offence code, category or flag, as the mart's releases."""
    return bool((code and code in sensitive_codes(rules)) or (category and category in rules.categories)
                or any(flags.get(f) for f in rules.flags))


def not_sensitive(rules: SensitiveRules) -> Any:
    """SQL: events the standard rules apply to (none of the agreement's sensitive codes, categories, flags)."""
    ev = models.event
    conds = [or_(ev.c.offence_code.is_(None), ev.c.offence_code.not_in(sorted(sensitive_codes(rules)))),
             or_(ev.c.offence_category.is_(None), ev.c.offence_category.not_in(list(rules.categories)))]
    for flag in rules.flags:
        if flag in models.FLAG_COLUMNS:
            conds.append(or_(ev.c[flag].is_(None), ev.c[flag].is_(False)))
        else:  # flags_json is written with sort_keys and ": " separators (hub.mart.store.event_row)
            conds.append(~ev.c.flags_json.like(f'%"{flag}": true%'))
    return and_(*conds)


def sensitive_only(rules: SensitiveRules) -> Any:
    return ~not_sensitive(rules)


def grouped(conn: Connection, ctx: ReleaseContext, period: Period, *columns: Any, extra: Any = True,
            person_role: str | None = None) -> Tally:
    """Restricted counts of events (or, with ``person_role``, of people in that role) by ``columns``."""
    ev, ep = models.event, models.event_person
    source = ev.join(ep, ep.c.event_id == ev.c.event_id) if person_role else ev
    stmt = (select(*columns, func.count().label("n"), func.coalesce(func.sum(ev.c.record_key), 0).label("k"))
            .select_from(source)
            .where(ev.c.source.in_(list(ctx.sources)), period.where(), not_sensitive(ctx.agreement.sensitive), extra)
            .group_by(*columns))
    if person_role:
        stmt = stmt.where(ep.c.role == person_role)
    out = Tally()
    for r in conn.execute(stmt):
        out[tuple(r[:-2])] = (int(r[-2]), int(r[-1]))
    return out
