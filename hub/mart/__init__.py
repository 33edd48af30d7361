"""The data mart: SQLAlchemy tables and views, idempotent writes, disclosure-controlled queries."""

from hub.mart.queries import ReleasedCount, incident_counts, release_lsoa_week_counts
from hub.mart.store import connect, count_events, init, upsert_events

__all__ = ["ReleasedCount", "connect", "count_events", "incident_counts", "init", "release_lsoa_week_counts",
           "upsert_events"]
