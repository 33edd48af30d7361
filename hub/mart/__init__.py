"""The data mart: a restricted layer (row-level, Alembic-migrated) and a released layer (disclosure-controlled).

Releases go through ``hub.mart.release.release``; see its module docstring for the Python API.
"""

from hub.mart.queries import incident_counts
from hub.mart.store import connect, count_events, init, open_mart, upsert_events

__all__ = ["connect", "count_events", "incident_counts", "init", "open_mart", "upsert_events"]
