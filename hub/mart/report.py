"""Plain-text reports built on releases (every report's release is audited like any other)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from hub.mart.audit import ReleaseContext
from hub.mart.output import format_table
from hub.mart.release import Filters, release


def incident_report(engine: Engine, ctx: ReleaseContext, geography: str | None = None, period: str = "month",
                    limit: int = 25, chart: Path | None = None, measure: str | None = None,
                    filters: Filters | None = None) -> str:
    """A plain-text report of one release (default: every measure by MSOA x month), with a trend and
    hot-spot chart when ``chart`` names a PNG file."""
    table = release(engine, ctx, measure, geography or "msoa", period, filters, kind="report",
                    destination=str(chart) if chart else "report")
    head = (f"Released counts by area and {period}: agreement {ctx.agreement.id} v{ctx.agreement.version}, "
            f"profile {ctx.profile.name} ({ctx.profile.audience}), purpose {ctx.purpose}")
    text = head + "\n" + format_table(table, limit)
    if chart is not None:
        from hub.mart.charts import trend_and_hotspots
        trend_and_hotspots(table, chart, head)
        text += f"\nchart: {chart}"
    return text
