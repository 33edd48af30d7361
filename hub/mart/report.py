"""Plain-text rendering of released tables, and reports (every report's release is audited)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine

from hub.mart.audit import ReleaseContext
from hub.mart.queries import ReleasedCount, ReleasedTable, release_area_counts


def format_released(rows: Sequence[ReleasedCount], limit: int = 25) -> str:
    shown = sorted((r for r in rows if r.count is not None), key=lambda r: (-(r.count or 0), r.lsoa_code, r.iso_week))
    suppressed = sum(1 for r in rows if r.count is None)
    out = [f"{'LSOA':<10} {'week':<9} {'offence category':<26} {'count':>5}"]
    out += [f"{r.lsoa_code:<10} {r.iso_week:<9} {r.offence_category:<26} {r.count:>5}" for r in shown[:limit]]
    out.append(f"({len(rows)} cells: {len(shown)} released, {suppressed} suppressed as 1-4 or by the "
               f"sensitive-offence rules; showing the {min(limit, len(shown))} largest)")
    return "\n".join(out)


def format_area_counts(table: ReleasedTable, limit: int = 25) -> str:
    """A released area table for the terminal: the largest released cells, then what was held back."""
    rows = table.rows
    shown = sorted((r for r in rows if r.count is not None),
                   key=lambda r: (-(r.count or 0), r.area_code, r.period, r.offence_category))
    suppressed = sum(1 for r in rows if r.count is None)
    out = [f"{'level':<5} {'area':<10} {'period':<9} {'offence category':<26} {'count':>5}"]
    out += [f"{r.area_level:<5} {r.area_code:<10} {r.period:<9} {r.offence_category:<26} {r.count:>5}"
            for r in shown[:limit]]
    levels = ", ".join(sorted({r.area_level for r in rows})) or "-"
    out.append(f"({len(rows)} cells at {levels}: {len(shown)} released, {suppressed} suppressed; showing the "
               f"{min(limit, len(shown))} largest; recorded as release {table.release_id})")
    return "\n".join(out)


def incident_report(engine: Engine, ctx: ReleaseContext, geography: str | None = None, period: str = "month",
                    limit: int = 25, chart: Path | None = None) -> str:
    """A plain-text incident report, with a trend and hot-spot chart when ``chart`` names a PNG file;
    the release is recorded in the audit trail like any other."""
    table = release_area_counts(engine, ctx, geography, period, kind="report",
                                destination=str(chart) if chart else "report")
    head = (f"Incidents by area and {period}: agreement {ctx.agreement.id} v{ctx.agreement.version}, "
            f"profile {ctx.profile.name} ({ctx.profile.audience}), purpose {ctx.purpose}")
    text = head + "\n" + format_area_counts(table, limit)
    if chart is not None:
        from hub.mart.charts import trend_and_hotspots
        trend_and_hotspots(table, chart, head)
        text += f"\nchart: {chart}"
    return text
