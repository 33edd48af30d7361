"""The previous release's mart schema, frozen (hub/mart/models.py and store.init at commit 7e7866e).

Used to build a mart exactly as that release made it (tables by create_all, the unsuppressed view, the
append-only triggers, schema_version 1), so the upgrade tests start from the real thing.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Engine, Integer, MetaData, String, Table, Text, text

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


def create_previous_mart(engine: Engine, with_audit: bool = True) -> None:
    """What ``hub mart init`` of the previous release did (without the audit tables: the one before)."""
    tables = None if with_audit else [event, event_person, mart_meta]
    metadata.create_all(engine, tables=tables)
    with engine.begin() as conn:
        for name, body in VIEWS.items():
            conn.execute(text(f"CREATE VIEW {name} AS {body}"))
        conn.execute(mart_meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
        if with_audit and conn.dialect.name == "sqlite":
            for table in AUDIT_TABLES:
                for op in ("UPDATE", "DELETE"):
                    conn.execute(text(f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON "
                                      f"{table} BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"))
