"""The mart's RESTRICTED layer, core tables (SQLAlchemy Core): row-level data only the hub's processes touch.

``event`` has one row per shared event (upserted by ``event_id``), ``event_person`` the
generalised people in it. Row-level events identify people by combination (date, hour, LSOA, age
band, sex), so no analyst or BI tool reads these tables: they read the released layer
(``hub.mart.released``), which is built only through disclosure control. On PostgreSQL the analyst
role has no privilege on this schema; on SQLite this file is mode 600 and releases go to a separate
analyst file. ``audit_release`` and ``audit_purge`` are append-only (database triggers refuse UPDATE
and DELETE).

Adding a restricted table (persons, mentions, tokens, registers...): see ``hub/mart/restricted.py``.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Integer, MetaData, String, Table, Text

SCHEMA_VERSION = 2  # mart_meta.schema_version; Alembic's revision is the real version

metadata = MetaData()

event = Table(
    "event", metadata,
    Column("event_id", String(64), primary_key=True, comment="Keyed id: same source record, same id"),
    Column("source", String(64), nullable=False, index=True),
    Column("agreement_id", String(128), nullable=False),
    Column("agreement_version", String(32), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("occurred_date", Date, index=True),
    Column("occurred_week", String(8), index=True, comment="ISO week YYYY-Www"),
    Column("occurred_month", String(7)),
    Column("occurred_hour", Integer),
    Column("lsoa_code", String(9), index=True),
    Column("msoa_code", String(9)),
    Column("lad_code", String(9)),
    Column("offence_code", String(8)),
    Column("offence_category", String(64), index=True),
    Column("domestic_abuse", Boolean),
    Column("knife", Boolean),
    Column("firearm", Boolean),
    Column("alcohol", Boolean),
    Column("flags_json", Text, nullable=False, default="{}",
           comment="Every granted flag (first_time_entrant, conveyed_to_hospital...), JSON"),
    Column("attributes_json", Text, nullable=False, default="{}", comment="Other granted attributes, JSON"),
    Column("record_key", Integer, comment="Cell-key method: 0-255, fixed per event (hub.mart.cellkey.record_key)"),
    comment="One pseudonymised event per row (restricted)",
)

event_person = Table(
    "event_person", metadata,
    Column("event_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("role", String(32), nullable=False),
    Column("age_band", String(8)),
    Column("sex", String(1)),
    comment="Generalised people in each event (victim, suspect, patient...)",
)

mart_meta = Table(
    "mart_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(256), nullable=False),
    comment="The mart's own settings: schema version, released schema and role names",
)

audit_release = Table(
    "audit_release", metadata,
    Column("release_id", Integer, primary_key=True, autoincrement=True),
    Column("released_at", DateTime(timezone=True), nullable=False, comment="When, UTC"),
    Column("user_name", String(128), nullable=False, comment="Who: --user, HUB_AUDIT_USER or the OS user"),
    Column("kind", String(16), nullable=False, comment="query, export or report"),
    Column("name", String(64), nullable=False, comment="What: the released table or report"),
    Column("parameters_json", Text, nullable=False, comment="Its parameters, JSON"),
    Column("purpose", String(64), nullable=False, comment="A purpose the agreement declares"),
    Column("profile", String(64), nullable=False, comment="Release profile (disclosure control applied)"),
    Column("audience", String(256), nullable=False),
    Column("agreement_id", String(128), nullable=False),
    Column("agreement_version", String(32), nullable=False),
    Column("sources", String(512), nullable=False, comment="Sources the purpose allows; only these were read"),
    Column("rows_released", Integer, nullable=False),
    Column("cells_suppressed", Integer, nullable=False),
    Column("destination", String(512), comment="Export file, or stdout"),
    comment="Append-only: one row per release of data from the mart",
)

audit_purge = Table(
    "audit_purge", metadata,
    Column("purge_id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), nullable=False, index=True, comment="Rows of one purge run share it"),
    Column("run_at", DateTime(timezone=True), nullable=False, comment="When, UTC"),
    Column("user_name", String(128), nullable=False),
    Column("agreement_id", String(128), nullable=False),
    Column("agreement_version", String(32), nullable=False),
    Column("source", String(64), nullable=False),
    Column("retention_days", Integer, comment="NULL: no agreement covers the source, nothing purged"),
    Column("cutoff_date", Date, comment="Events that occurred before this date are purged"),
    Column("events_deleted", Integer, nullable=False),
    Column("persons_deleted", Integer, nullable=False),
    Column("events_undated", Integer, nullable=False, comment="Kept: no occurred_date to age them by"),
    Column("dry_run", Boolean, nullable=False),
    comment="Append-only: one row per source per retention purge run",
)

ref_boundary = Table(
    "ref_boundary", metadata,
    Column("level", String(8), primary_key=True, comment="lsoa, msoa or lad"),
    Column("code", String(9), primary_key=True, comment="ONS area code"),
    Column("name", String(128), comment="ONS area name"),
    Column("msoa_code", String(9), comment="Parent MSOA, where the file gives it"),
    Column("lad_code", String(9), comment="Parent local authority district, where the file gives it"),
    Column("population", Integer, comment="Residents, where the file gives them"),
    Column("geometry_json", Text, nullable=False, comment="GeoJSON geometry, WGS84"),
    Column("source_file", String(256), nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
    comment="Reference: area boundaries (hub reference load boundaries FILE), for maps",
)

AUDIT_TABLES = ("audit_release", "audit_purge")

FLAG_COLUMNS = ("domestic_abuse", "knife", "firearm", "alcohol")

ref_area = Table(
    "ref_area", metadata,
    Column("area_code", String(9), primary_key=True, comment="ONS code (LSOA E01/W01, MSOA E02/W02, LAD)"),
    Column("level", String(4), nullable=False, index=True, comment="lsoa, msoa or lad"),
    Column("name", String(128), nullable=False, comment="ONS name, shown beside the code in releases"),
    Column("parent_code", String(9), comment="LSOA -> its MSOA, MSOA -> its LAD, LAD -> none"),
    comment="Areas of the partnership (reference data, public): names and the LSOA-MSOA-LAD hierarchy",
)

ref_population = Table(
    "ref_population", metadata,
    Column("lsoa_code", String(9), primary_key=True),
    Column("population", Integer, nullable=False, comment="All ages, ONS mid-year estimate"),
    Column("year", Integer, nullable=False, comment="Mid-year of the estimate"),
    Column("source", String(256), nullable=False, comment="File it was loaded from"),
    comment="Population by LSOA (reference data, public): denominators of rates per 1,000",
)
