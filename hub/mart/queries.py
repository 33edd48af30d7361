"""Analysts' queries over the mart, released through the agreement's disclosure control.

``incident_counts`` and ``release_lsoa_week_counts`` are building blocks (restricted counts, and the
pure disclosure arithmetic on them). What leaves the mart goes through ``release_area_counts``, which
applies the profile's finest geography, suppression and rounding and records the release in the audit
trail in the same transaction.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, func, select

from hub.mart import models
from hub.mart.audit import ReleaseContext, ReleaseRecord, record_release
from hub.mart.disclosure import Cell, protect
from hub.policy import ReleaseProfile
from hub.policy.agreement import GEOGRAPHY_LEVELS
from hub.reference import offence_codes

CountKey = tuple[str, str, str]  # (lsoa, iso week, offence category)


def sensitive_categories() -> set[str]:
    """Categories made only of sensitive offences (e.g. sexual offences): the stricter profile applies."""
    by_cat: dict[str, list[bool]] = {}
    for o in offence_codes().values():
        by_cat.setdefault(o.category, []).append(o.sensitive)
    return {cat for cat, flags in by_cat.items() if all(flags)}


def incident_counts(engine: Engine) -> dict[CountKey, int]:
    """Unsuppressed counts by LSOA x ISO week x offence category (restricted: not for release)."""
    ev = models.event
    stmt = (select(ev.c.lsoa_code, ev.c.occurred_week, ev.c.offence_category, func.count())
            .where(ev.c.lsoa_code.is_not(None), ev.c.occurred_week.is_not(None), ev.c.offence_category.is_not(None))
            .group_by(ev.c.lsoa_code, ev.c.occurred_week, ev.c.offence_category))
    with engine.connect() as conn:
        return {(r[0], r[1], r[2]): int(r[3]) for r in conn.execute(stmt)}


@dataclass(frozen=True)
class ReleasedCount:
    lsoa_code: str
    iso_week: str
    offence_category: str
    count: int | None  # None: suppressed
    suppressed: str | None


def release_lsoa_week_counts(counts: Mapping[CountKey, int], profile: ReleaseProfile) -> list[ReleasedCount]:
    """Counts by LSOA x week x category as the profile allows them to be released.

    Categories whose profile does not allow LSOA (sensitive ones, by default) are withheld from this
    table entirely. No totals are released with it, so primary suppression protects every cell.
    """
    sensitive = sensitive_categories()
    out: list[ReleasedCount] = []
    for is_sensitive in (False, True):
        rules = profile.for_rows(is_sensitive)
        if rules.finest_geography != "lsoa":
            continue
        cells = [Cell(k, n) for k, n in counts.items() if (k[2] in sensitive) == is_sensitive]
        for c in protect(cells, rules.threshold, rules.rounding):
            lsoa, week, cat = c.key
            out.append(ReleasedCount(str(lsoa), str(week), str(cat), c.released, c.suppressed))
    return sorted(out, key=lambda r: (r.lsoa_code, r.iso_week, r.offence_category))


# --- released tables, read from the mart and recorded in the audit trail -----------------------------

PERIODS = ("week", "month")
_AREA_COLUMN = {"lsoa": "lsoa_code", "msoa": "msoa_code", "lad": "lad_code"}
_PARENT = {"lsoa": "msoa", "msoa": "lad", "lad": None}
_PERIOD_COLUMN = {"week": "occurred_week", "month": "occurred_month"}


def coarsest(*levels: str) -> str:
    """The coarsest of the given geography levels (lad is coarser than msoa, msoa than lsoa)."""
    return max(levels, key=GEOGRAPHY_LEVELS.index)


@dataclass(frozen=True)
class AreaCount:
    """One released cell: incidents in an area (at ``area_level``) in a period, of a category."""

    area_level: str
    area_code: str
    period: str
    offence_category: str
    count: int | None  # None: suppressed
    suppressed: str | None


@dataclass(frozen=True)
class ReleasedTable:
    name: str
    rows: list[AreaCount]
    release_id: int
    parameters: dict[str, object]
    sources: tuple[str, ...]

    @property
    def cells_suppressed(self) -> int:
        return sum(1 for r in self.rows if r.suppressed)


def _area_rows(conn: Connection, sources: Sequence[str], period: str) -> list[tuple[str | None, ...]]:
    """(lsoa, msoa, lad, period, category, n) for events of ``sources``; restricted, never returned to users."""
    pcol = _PERIOD_COLUMN[period]
    ev = models.event
    stmt = (select(ev.c.lsoa_code, ev.c.msoa_code, ev.c.lad_code, ev.c[pcol], ev.c.offence_category,
                   func.count().label("n"))
            .where(ev.c.source.in_(list(sources)), ev.c[pcol].is_not(None), ev.c.offence_category.is_not(None))
            .group_by(ev.c.lsoa_code, ev.c.msoa_code, ev.c.lad_code, ev.c[pcol], ev.c.offence_category))
    return [tuple(r) for r in conn.execute(stmt)]


def _by_parent(c: Cell) -> tuple[object, ...]:
    return (c.key[3], c.key[1], c.key[2])


def protect_area_counts(rows: Sequence[tuple[str | None, ...]], profile: ReleaseProfile,
                        geography: str | None = None) -> list[AreaCount]:
    """Aggregate LSOA-level rows to the released geography and apply the profile's disclosure control.

    Each row is (lsoa, msoa, lad, period, category, n). Standard and sensitive categories are each
    aggregated to the coarsest of ``geography`` and their rules' finest geography, then primary
    suppression and rounding apply. With secondary suppression on, cells are grouped by their parent
    area (LSOA in MSOA, MSOA in LAD, LADs in the partnership) x period x category, so a release of the
    parent level cannot be differenced against this one to recover a suppressed cell.
    """
    sensitive = sensitive_categories()
    out: list[AreaCount] = []
    for is_sensitive in (False, True):
        rules = profile.for_rows(is_sensitive)
        level = coarsest(geography or rules.finest_geography, rules.finest_geography)
        idx = GEOGRAPHY_LEVELS.index(level)
        parent = _PARENT[level]
        totals: dict[tuple[str, str, str], int] = {}
        parents: dict[tuple[str, str, str], str | None] = {}
        for row in rows:
            period, category, n = str(row[3]), str(row[4]), int(row[5] or 0)
            area = row[idx]
            if (category in sensitive) != is_sensitive or not area:
                continue
            key = (str(area), period, category)
            totals[key] = totals.get(key, 0) + n
            parents.setdefault(key, row[GEOGRAPHY_LEVELS.index(parent)] if parent else "*")
        # The key carries the parent area, so grouping for secondary suppression needs no closure.
        cells = [Cell((*k, parents[k]), n) for k, n in sorted(totals.items())]
        group = _by_parent if rules.secondary_suppression else None
        for c in protect(cells, rules.threshold, rules.rounding, group_of=group):
            area, period, category = (str(k) for k in c.key[:3])
            out.append(AreaCount(level, area, period, category, c.released, c.suppressed))
    return sorted(out, key=lambda r: (GEOGRAPHY_LEVELS.index(r.area_level), r.area_code, r.period,
                                      r.offence_category))


def release_area_counts(engine: Engine, ctx: ReleaseContext, geography: str | None = None, period: str = "week",
                        kind: str = "query", destination: str | None = "stdout") -> ReleasedTable:
    """Incidents by area x period x offence category, as the profile allows, recorded in the audit trail.

    Only sources whose agreement lists ``ctx.purpose`` contribute. The audit row is written in the
    same transaction as the read, before the caller can show or write anything.
    """
    if geography is not None and geography not in GEOGRAPHY_LEVELS:
        raise ValueError(f"geography must be one of {', '.join(GEOGRAPHY_LEVELS)}")
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    sources = ctx.sources
    params: dict[str, object] = {"geography": geography or ctx.profile.standard.finest_geography,
                                 "period": period}
    with engine.begin() as conn:
        released = protect_area_counts(_area_rows(conn, sources, period), ctx.profile, geography)
        params["levels_released"] = sorted({r.area_level for r in released}, key=GEOGRAPHY_LEVELS.index)
        table = ReleasedTable("incident_counts", released, 0, params, sources)
        rid = record_release(conn, ctx, ReleaseRecord(
            kind=kind, name=table.name, parameters=params, rows_released=len(released),
            cells_suppressed=table.cells_suppressed, sources=sources, destination=destination))
    return ReleasedTable(table.name, released, rid, params, sources)


def export_csv(table: ReleasedTable, path: Path) -> None:
    """Write a released table as CSV; suppressed cells are written as ``*`` (never as a number)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["area_level", "area_code", "period", "offence_category", "incidents"])
        for r in table.rows:
            writer.writerow([r.area_level, r.area_code, r.period, r.offence_category,
                             "*" if r.count is None else r.count])
