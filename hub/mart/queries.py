"""Restricted counts for the hub's own checks (the demo compares the mart with the generator's truth).

Nothing here is released: what leaves the mart goes through ``hub.mart.release``.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from hub.mart import models

CountKey = tuple[str, str, str]  # (lsoa, iso week, offence category)


def incident_counts(engine: Engine, source: str | None = None) -> dict[CountKey, int]:
    """Unsuppressed counts by LSOA x ISO week x offence category (restricted: not for release)."""
    ev = models.event
    stmt = (select(ev.c.lsoa_code, ev.c.occurred_week, ev.c.offence_category, func.count())
            .where(ev.c.lsoa_code.is_not(None), ev.c.occurred_week.is_not(None), ev.c.offence_category.is_not(None))
            .group_by(ev.c.lsoa_code, ev.c.occurred_week, ev.c.offence_category))
    if source:
        stmt = stmt.where(ev.c.source == source)
    with engine.connect() as conn:
        return {(r[0], r[1], r[2]): int(r[3]) for r in conn.execute(stmt)}
