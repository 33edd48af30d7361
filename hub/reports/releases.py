"""Released tables for the reports: restricted counts in, disclosure-controlled cells out, each audited.

Every figure of a report is drawn from one :class:`Released` table. :func:`release` applies the
profile's rules (primary suppression below the threshold, secondary suppression within the first
dimension, rounding) and appends an audit row in the same transaction that read the counts, so no figure
exists without its audit row. Sensitive offence categories (and the domestic-abuse flag, which the
agreement treats as sensitive) use the profile's sensitive rules.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from hub.mart import models
from hub.mart.audit import ReleaseContext, ReleaseRecord, record_release
from hub.mart.disclosure import Cell, protect
from hub.mart.queries import sensitive_categories

Key = tuple[Hashable, ...]


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
            counts: Mapping[Any, int], params: Mapping[str, Any], sensitive: bool = False,
            destination: str | None = None) -> Released:
    """Protect ``counts`` with the profile's rules and record the release; returns the released cells."""
    rules = ctx.profile.for_rows(sensitive)
    cells = [Cell(tuple(k), int(n)) for k, n in sorted(counts.items(), key=lambda kv: tuple(map(str, kv[0])))]
    group = (lambda c: c.key[0]) if rules.secondary_suppression and len(dims) > 1 else None
    protect(cells, rules.threshold, rules.rounding, group_of=group)
    out = {c.key: c.released for c in cells}
    rid = record_release(conn, ctx, ReleaseRecord(
        kind="report", name=f"{report}:{name}"[:64], parameters={**params, "dims": list(dims),
                                                               "sensitive_rules": sensitive},
        rows_released=len(cells), cells_suppressed=sum(1 for c in cells if c.suppressed),
        sources=ctx.sources, destination=destination))
    return Released(name, dims, out, rid, rules.threshold, rules.rounding)


def not_sensitive() -> Any:
    """Events outside the sensitive categories (the standard rules apply to them)."""
    cats = sorted(sensitive_categories())
    ev = models.event
    return or_(ev.c.offence_category.is_(None), ev.c.offence_category.not_in(cats)) if cats else True


def grouped(conn: Connection, ctx: ReleaseContext, period: Period, *columns: Any, extra: Any = True,
            person_role: str | None = None) -> dict[Key, int]:
    """Restricted counts of events (or, with ``person_role``, of people in that role) by ``columns``."""
    ev, ep = models.event, models.event_person
    source = ev.join(ep, ep.c.event_id == ev.c.event_id) if person_role else ev
    stmt = (select(*columns, func.count().label("n")).select_from(source)
            .where(ev.c.source.in_(list(ctx.sources)), period.where(), not_sensitive(), extra)
            .group_by(*columns))
    if person_role:
        stmt = stmt.where(ep.c.role == person_role)
    return {tuple(r[:-1]): int(r[-1]) for r in conn.execute(stmt)}
