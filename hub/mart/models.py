"""Mart tables (SQLAlchemy Core): plain, documented tables BI tools can read over ODBC.

``event`` has one row per shared event (upserted by ``event_id``), ``event_person`` the
generalised people in it. Linkage tokens are not stored here: analysts do not need them.
``audit_release`` and ``audit_purge`` are append-only (database triggers refuse UPDATE and DELETE).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Float, Integer, MetaData, String, Table, Text

SCHEMA_VERSION = 1

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
    comment="One pseudonymised event per row",
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

homicide_review = Table(
    "homicide_review", metadata,
    Column("case_ref", String(64), primary_key=True, comment="The case's keyed token (event id), never a crime ref"),
    Column("alert_id", String(32), nullable=False, unique=True, comment="Id of the alert on svh.alerts"),
    Column("source", String(64), nullable=False),
    Column("occurred_date", Date),
    Column("lsoa_code", String(9)),
    Column("lad_code", String(9)),
    Column("offence_code", String(8), nullable=False),
    Column("weapons", String(64), nullable=False, comment="Weapon flags that met the criteria, comma-separated"),
    Column("victim_age_band", String(8)),
    Column("status", String(32), nullable=False,
           comment="to_consider, dhr_precedence, review_arranged, not_required, closed"),
    Column("notes", Text, nullable=False, default=""),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("alert_sent_at", DateTime(timezone=True), comment="When Kafka acknowledged the alert"),
    Column("notified_at", DateTime(timezone=True), comment="When the notify hook succeeded"),
    Column("status_changed_at", DateTime(timezone=True)),
    comment="Restricted: Offensive Weapons Homicide Review register, one row per case (PCSC Act 2022 s.24)",
)

hotspot_alert = Table(
    "hotspot_alert", metadata,
    Column("alert_id", String(32), primary_key=True, comment="Deterministic: area level, area, week"),
    Column("area_level", String(8), nullable=False),
    Column("area_code", String(9), nullable=False, index=True),
    Column("iso_week", String(8), nullable=False, index=True),
    Column("events", Integer, nullable=False, comment="Events counted in the area that week when raised"),
    Column("baseline", Float, nullable=False, comment="Expected weekly count from the area's recent weeks"),
    Column("p_value", Float, nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    comment="Restricted: emerging hot-spot alerts raised by the worker, one row per area and week",
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

# Restricted: unsuppressed counts, for the hub's own checks and for building released tables.
VIEWS = {
    "v_incident_counts": """
        SELECT lsoa_code, occurred_week, offence_category, COUNT(*) AS incidents,
               SUM(CASE WHEN domestic_abuse THEN 1 ELSE 0 END) AS domestic_abuse_incidents
        FROM event
        WHERE lsoa_code IS NOT NULL AND occurred_week IS NOT NULL AND offence_category IS NOT NULL
        GROUP BY lsoa_code, occurred_week, offence_category
    """,
}
