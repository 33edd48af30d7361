"""Releases: the one way data leaves the mart. Cells are built from the restricted layer, protected by the
cell key method with the agreement's thresholds, audited, and written to the released layer.

Python API (what ``hub mart counts|export|report`` and the reports call)::

    from hub.mart.release import Filters, release
    table = release(engine, ctx, measure="police_incidents", geography="msoa", period="month",
                    filters=Filters(flags=("knife",), date_from=date(2025, 1, 1)))
    for cell in table.rows:            # ReleasedCell
        cell.area_code, cell.area_name, cell.period, cell.category, cell.value  # value None: suppressed
        cell.rate_per_1000             # per 1,000 residents (ONS mid-year estimate); None if suppressed

- ``engine``: the mart (``hub.mart.store.open_mart``); ``ctx``: ``ReleaseContext`` (who, purpose,
  profile; only sources the agreement allows for the purpose are read).
- ``measure``: a name in ``hub.mart.measures.MEASURES`` or None for every measure of the allowed sources
  (then each measure's ``total``, unless ``breakdown`` names one it has). ``breakdown``: one of the
  measure's breakdowns (default: its first, e.g. offence category for police incidents).
- ``geography``: lsoa, msoa (default) or lad; never finer than the profile allows, and sensitive
  records (by code, category or flag: ``Agreement.sensitive``) are coarsened to the profile's
  ``sensitive.finest_geography`` and take its threshold. ``period``: week or month (default).
- ``filters``: sources, categories (rows of the breakdown), flags (records with all of them), age bands
  (records with a person in one of them), dates (whole periods: the periods containing the dates).

Every cell of the grid is emitted (every area of the level x every period in range x every category),
so an empty cell looks like any small one. A cell's value is its count plus the p-table's noise for
its cell key, suppressed (None) below the threshold, then rounded if the profile says so. The same
records always give the same value, in every release. The release is recorded in ``audit_release``
before the caller gets it, and its cells in ``released_cell``; ``table.sources`` names the sources
with records in it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

from sqlalchemy import Connection, Engine, select

from hub.mart import cellkey, models, released, store
from hub.mart.areas import AreaIndex
from hub.mart.audit import ReleaseContext, ReleaseRecord, record_release, utc_now
from hub.mart.measures import (
    LINKED_PERSONS,
    MEASURES,
    Fact,
    Measure,
    cohorts_allowed,
    is_sensitive,
    measures_for_sources,
)
from hub.policy import ReleaseProfile
from hub.policy.agreement import GEOGRAPHY_LEVELS, Disclosure, SensitiveRules

PERIODS = ("week", "month")


class ReleaseError(ValueError):
    """A release that cannot be made as asked (unknown measure, breakdown, period...)."""


@dataclass(frozen=True)
class Filters:
    sources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    age_bands: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None

    def as_dict(self) -> dict[str, object]:
        return {k: (v.isoformat() if isinstance(v, date) else list(v) if isinstance(v, tuple) else v)
                for k, v in asdict(self).items() if v not in ((), None)}


@dataclass(frozen=True)
class ReleasedCell:
    measure: str
    area_level: str
    area_code: str
    area_name: str | None
    period: str
    category: str
    sensitive: bool
    value: int | None  # None: suppressed
    population: int | None = None

    @property
    def status(self) -> str:
        return "suppressed" if self.value is None else "released"

    @property
    def rate_per_1000(self) -> float | None:
        if self.value is None or not self.population:
            return None
        return round(self.value * 1000 / self.population, 2)


@dataclass(frozen=True)
class ReleasedTable:
    name: str
    rows: list[ReleasedCell]
    release_id: int
    parameters: dict[str, object]
    sources: tuple[str, ...]
    method: str
    notes: tuple[str, ...] = ()

    @property
    def cells_suppressed(self) -> int:
        return sum(1 for r in self.rows if r.value is None)


def coarsest(*levels: str) -> str:
    return max(levels, key=GEOGRAPHY_LEVELS.index)


def method_text(profile: ReleaseProfile, table: cellkey.PTable = cellkey.SVH_PTABLE) -> str:
    def rules(d: Disclosure) -> str:
        return (f"threshold {d.threshold}" + (f", rounded to {d.rounding}" if d.rounding > 1 else "")
                + f", finest {d.finest_geography}")
    return (f"cell key method, p-table {table.name} (noise -{table.max_noise}..+{table.max_noise}); "
            f"standard: {rules(profile.standard)}; sensitive: {rules(profile.sensitive)}")


# --- the restricted read ----------------------------------------------------------------------------

def load_facts(conn: Connection, sources: Sequence[str]) -> list[Fact]:
    """Events of ``sources`` with their people's age bands (restricted: never returned to a user)."""
    ev, person = models.event, models.event_person
    bands: dict[str, list[str]] = defaultdict(list)
    for eid, band in conn.execute(select(person.c.event_id, person.c.age_band)
                                  .join(ev, ev.c.event_id == person.c.event_id)
                                  .where(ev.c.source.in_(list(sources)))):
        if band:
            bands[eid].append(band)
    rows = conn.execute(select(ev).where(ev.c.source.in_(list(sources))))
    return [Fact.from_row(dict(r._mapping), bands.get(r.event_id, ())) for r in rows]


def area_index(conn: Connection) -> AreaIndex:
    idx = AreaIndex.load(conn)
    ev = models.event
    for lsoa, msoa, lad in conn.execute(select(ev.c.lsoa_code, ev.c.msoa_code, ev.c.lad_code).distinct()
                                        .where(ev.c.lsoa_code.is_not(None))):
        idx.learn(lsoa, msoa, lad)
    return idx


# --- pure cell building -----------------------------------------------------------------------------

def _weeks(first: str, last: str) -> list[str]:
    d = date.fromisocalendar(int(first[:4]), int(first[6:]), 1)
    end = date.fromisocalendar(int(last[:4]), int(last[6:]), 1)
    out = []
    while d <= end:
        y, w, _ = d.isocalendar()
        out.append(f"{y}-W{w:02d}")
        d += timedelta(days=7)
    return out


def _months(first: str, last: str) -> list[str]:
    y, m = int(first[:4]), int(first[5:7])
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def period_of(d: date, period: str) -> str:
    if period == "week":
        y, w, _ = d.isocalendar()
        return f"{y}-W{w:02d}"
    return f"{d.year:04d}-{d.month:02d}"


@dataclass
class _Cell:
    keys: list[int] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


Members = list[tuple[int, tuple[str, ...], int, int]]  # (cell index, event ids, threshold, rounding)


def build_cells(facts: Iterable[Fact], measure: Measure, breakdown: str, geography: str, period: str,
                filters: Filters, profile: ReleaseProfile, sensitive: SensitiveRules,
                idx: AreaIndex, members: Members | None = None,
                offset: int = 0) -> tuple[list[ReleasedCell], set[str], int]:
    """The protected cells of one measure: (cells, sources with records in them, records without an area).

    ``members``, if given, receives each non-empty cell's index (plus ``offset``), event ids, threshold
    and rounding: the restricted view a disclosure audit needs (tests/integration/test_differencing.py).
    """
    if period not in measure.periods_allowed:
        raise ReleaseError(f"{measure.name} is released by {' or '.join(measure.periods_allowed)} only")
    split = measure.breakdowns[breakdown]
    mine = [f for f in facts if f.source == measure.source and measure.include(f)]
    all_periods = sorted({p for f in mine for p in measure.periods(f, period)})
    vocabulary = sorted({c for f in mine for c in split(f)})
    lo = period_of(filters.date_from, period) if filters.date_from else None
    hi = period_of(filters.date_to, period) if filters.date_to else None
    levels = {cls: coarsest(geography, profile.for_rows(cls).finest_geography) for cls in (False, True)}
    counts: dict[tuple[bool, str, str, str], _Cell] = defaultdict(_Cell)
    unplaced = 0
    for f in mine:
        if filters.flags and not all(f.flag(x) for x in filters.flags):
            continue
        if filters.age_bands and not set(f.age_bands) & set(filters.age_bands):
            continue
        cls = is_sensitive(f, sensitive)
        area = idx.up(f.area, levels[cls]) if f.area else None
        if area is None:
            unplaced += 1
            continue
        for p in measure.periods(f, period):
            if (lo and p < lo) or (hi and p > hi):
                continue
            for c in split(f):
                bucket = counts[(cls, area, p, c)]
                bucket.keys.append(f.record_key)
                bucket.ids.append(f.event_id)
    if not all_periods:
        return [], set(), unplaced
    span = (_weeks if period == "week" else _months)(all_periods[0], all_periods[-1])
    span = [p for p in span if not (lo and p < lo) and not (hi and p > hi)]
    categories = [c for c in vocabulary if not filters.categories or c in filters.categories]
    out: list[ReleasedCell] = []
    used: set[str] = set()
    for cls in (False, True):
        rules = profile.for_rows(cls)
        level = levels[cls]
        for area in idx.areas(level):
            for p in span:
                for c in categories:
                    cell = counts.get((cls, area, p, c))
                    keys = cell.keys if cell else []
                    if cell and keys:
                        used.add(measure.source)
                        if members is not None:
                            members.append((offset + len(out), tuple(cell.ids), rules.threshold, rules.rounding))
                    prot = cellkey.protect_cell(len(keys), cellkey.cell_key(keys), rules.threshold, rules.rounding)
                    out.append(ReleasedCell(measure.name, level, area, idx.names.get(area), p, c, cls, prot.value,
                                            idx.population.get(area)))
    return out, used, unplaced


# --- the release -----------------------------------------------------------------------------------

def plan(ctx: ReleaseContext, measure: str | None, breakdown: str | None,
         filters: Filters) -> list[tuple[Measure, str]]:
    """The (measure, breakdown) pairs a release covers, refusing what the purpose does not allow."""
    allowed = set(ctx.sources)
    if filters.sources:
        unknown = set(filters.sources) - {m.source for m in MEASURES.values()}
        if unknown:
            raise ReleaseError(f"no measure for source(s) {', '.join(sorted(unknown))}")
        allowed &= set(filters.sources)
    if measure is not None:
        if measure not in MEASURES:
            raise ReleaseError(f"unknown measure {measure!r}; measures: {', '.join(MEASURES)}")
        m = MEASURES[measure]
        if m.source == LINKED_PERSONS:
            if not cohorts_allowed(sorted(allowed)):
                raise ReleaseError(f"{measure} needs a purpose allowing two or more linked sources; "
                                   f"{ctx.purpose!r} does not")
        elif m.source not in allowed:
            raise ReleaseError(f"{measure} counts {m.source}, which purpose {ctx.purpose!r} may not use"
                               + (" (or the source filter excludes)" if filters.sources else ""))
        chosen = [m]
    else:
        chosen = measures_for_sources(sorted(allowed))
        breakdown = breakdown or "total"  # every measure at once: its totals, where a needs assessment starts
    out = []
    for m in chosen:
        if breakdown is not None and breakdown not in m.breakdowns:
            if measure is not None:
                raise ReleaseError(f"{m.name} breakdowns: {', '.join(m.breakdowns)}")
            out.append((m, m.default_breakdown))
        else:
            out.append((m, breakdown or m.default_breakdown))
    return out


@dataclass
class Built:
    rows: list[ReleasedCell]
    sources: tuple[str, ...]
    notes: list[str]
    parameters: dict[str, object]


def build_release(facts: Sequence[Fact], idx: AreaIndex, ctx: ReleaseContext, measure: str | None = None,
                  geography: str = "msoa", period: str = "month", filters: Filters | None = None,
                  breakdown: str | None = None, members: Members | None = None) -> Built:
    """The cells of a release, protected (pure: ``release`` reads the facts, then audits and stores this)."""
    filt = filters or Filters()
    if geography not in GEOGRAPHY_LEVELS:
        raise ReleaseError(f"geography must be one of {', '.join(GEOGRAPHY_LEVELS)}")
    if period not in PERIODS:
        raise ReleaseError(f"period must be one of {', '.join(PERIODS)}")
    pairs = plan(ctx, measure, breakdown, filt)
    if measure is None:  # every measure: those that cannot be released by this period are left out, and said so
        skipped = [m.name for m, _ in pairs if period not in m.periods_allowed]
        pairs = [(m, b) for m, b in pairs if period in m.periods_allowed]
    else:
        skipped = []
    rows: list[ReleasedCell] = []
    used: set[str] = set()
    notes: list[str] = [f"{n}: monthly only, left out of this {period}ly release" for n in skipped]
    params: dict[str, object] = {"measure": measure or "all", "geography": geography, "period": period,
                                 "breakdowns": {m.name: b for m, b in pairs}, "filters": filt.as_dict()}
    for m, b in pairs:
        cells, sources, unplaced = build_cells(facts, m, b, geography, period, filt, ctx.profile,
                                               ctx.agreement.sensitive, idx, members, len(rows))
        rows.extend(cells)
        used |= sources
        if unplaced:
            notes.append(f"{m.name}: some records have no area the mart can place and are not counted")
    return Built(rows, tuple(sorted(used)), notes, params)


def release(engine: Engine, ctx: ReleaseContext, measure: str | None = None, geography: str = "msoa",
            period: str = "month", filters: Filters | None = None, breakdown: str | None = None, *,
            kind: str = "query", destination: str | None = "stdout") -> ReleasedTable:
    """Build, protect, audit and store one release (see the module docstring)."""
    filt = filters or Filters()
    pairs = plan(ctx, measure, breakdown, filt)  # refuse before reading anything
    with engine.begin() as conn:
        facts = load_facts(conn, sorted({m.source for m, _ in pairs}))
        if any(m.source == LINKED_PERSONS for m, _ in pairs):
            from hub.mart.persons import cohort_rows
            facts += [Fact.from_row(row) for row in cohort_rows(conn, ctx.sources)]
        built = build_release(facts, area_index(conn), ctx, measure, geography, period, filt, breakdown)
        rid = record_release(conn, ctx, ReleaseRecord(
            kind=kind, name="counts" if measure is None else measure, parameters=built.parameters,
            rows_released=len(built.rows), cells_suppressed=sum(1 for r in built.rows if r.value is None),
            sources=built.sources, destination=destination))
    table = ReleasedTable("counts" if measure is None else measure, built.rows, rid, built.parameters,
                          built.sources, method_text(ctx.profile), tuple(built.notes))
    store_release(engine, ctx, table, geography, period, filt)
    return table


def store_release(engine: Engine, ctx: ReleaseContext, table: ReleasedTable, geography: str, period: str,
                  filters: Filters) -> None:
    """Write the release into the released layer (what analysts and BI tools read)."""
    url = engine.url.render_as_string(hide_password=False)
    target = released.engine_for(url, store.layout_of(engine).released_schema)
    try:
        with target.begin() as conn:
            conn.execute(released.released_table.insert().values(
                release_id=table.release_id, released_at=utc_now(), user_name=ctx.user, measure=table.name,
                purpose=ctx.purpose, profile=ctx.profile.name, geography=geography, period=period,
                filters_json=json.dumps(filters.as_dict(), sort_keys=True), sources=",".join(table.sources),
                method=table.method[:256]))
            batch = [{"release_id": table.release_id, "cell_no": i, "measure": r.measure, "area_level": r.area_level,
                      "area_code": r.area_code, "area_name": r.area_name, "period": r.period, "category": r.category,
                      "sensitive": r.sensitive, "value": r.value, "status": r.status, "population": r.population,
                      "rate_per_1000": r.rate_per_1000} for i, r in enumerate(table.rows)]
            for start in range(0, len(batch), 5000):
                conn.execute(released.released_cell.insert(), batch[start:start + 5000])
    finally:
        target.dispose()
