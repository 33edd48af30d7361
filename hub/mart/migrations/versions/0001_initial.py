"""The schema of the previous release (SCHEMA_VERSION 1), which ``store.init`` created without Alembic.

A mart made by that release (or an earlier one, without the audit tables) has some or all of these
tables but no ``alembic_version``: this revision creates only what is missing, so such a mart is
upgraded from here with every row kept.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

AUDIT_TABLES = ("audit_release", "audit_purge")

V_INCIDENT_COUNTS = """
    SELECT lsoa_code, occurred_week, offence_category, COUNT(*) AS incidents,
           SUM(CASE WHEN domestic_abuse THEN 1 ELSE 0 END) AS domestic_abuse_incidents
    FROM event
    WHERE lsoa_code IS NOT NULL AND occurred_week IS NOT NULL AND offence_category IS NOT NULL
    GROUP BY lsoa_code, occurred_week, offence_category
"""


def append_only_triggers(dialect: str) -> list[str]:
    """DDL that makes the audit tables append-only in the database itself (idempotent)."""
    out: list[str] = []
    if dialect == "postgresql":
        out.append("CREATE OR REPLACE FUNCTION svh_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$")
        for table in AUDIT_TABLES:
            for name, when in (("append_only", "UPDATE OR DELETE ON {t} FOR EACH ROW"),
                               ("no_truncate", "TRUNCATE ON {t} FOR EACH STATEMENT")):
                out.append(f"DROP TRIGGER IF EXISTS {table}_{name} ON {table}")
                out.append(f"CREATE TRIGGER {table}_{name} BEFORE {when.format(t=table)} "
                           "EXECUTE FUNCTION svh_audit_append_only()")
    else:
        for table in AUDIT_TABLES:
            for op_name in ("UPDATE", "DELETE"):
                out.append(f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op_name.lower()} BEFORE {op_name} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
    return out


def upgrade() -> None:
    have = set(sa.inspect(op.get_bind()).get_table_names())

    def create_table(name: str, *columns: sa.Column[Any]) -> None:
        if name not in have:
            op.create_table(name, *columns)

    create_table(
        "event",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(64), nullable=False, index=True),
        sa.Column("agreement_id", sa.String(128), nullable=False),
        sa.Column("agreement_version", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("occurred_date", sa.Date, index=True),
        sa.Column("occurred_week", sa.String(8), index=True),
        sa.Column("occurred_month", sa.String(7)),
        sa.Column("occurred_hour", sa.Integer),
        sa.Column("lsoa_code", sa.String(9), index=True),
        sa.Column("msoa_code", sa.String(9)),
        sa.Column("lad_code", sa.String(9)),
        sa.Column("offence_code", sa.String(8)),
        sa.Column("offence_category", sa.String(64), index=True),
        sa.Column("domestic_abuse", sa.Boolean),
        sa.Column("knife", sa.Boolean),
        sa.Column("firearm", sa.Boolean),
        sa.Column("alcohol", sa.Boolean),
        sa.Column("flags_json", sa.Text, nullable=False),
        sa.Column("attributes_json", sa.Text, nullable=False),
    )
    create_table(
        "event_person",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("age_band", sa.String(8)),
        sa.Column("sex", sa.String(1)),
    )
    create_table(
        "mart_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
    )
    create_table(
        "audit_release",
        sa.Column("release_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_name", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("parameters_json", sa.Text, nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("profile", sa.String(64), nullable=False),
        sa.Column("audience", sa.String(256), nullable=False),
        sa.Column("agreement_id", sa.String(128), nullable=False),
        sa.Column("agreement_version", sa.String(32), nullable=False),
        sa.Column("sources", sa.String(512), nullable=False),
        sa.Column("rows_released", sa.Integer, nullable=False),
        sa.Column("cells_suppressed", sa.Integer, nullable=False),
        sa.Column("destination", sa.String(512)),
    )
    create_table(
        "audit_purge",
        sa.Column("purge_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(32), nullable=False, index=True),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_name", sa.String(128), nullable=False),
        sa.Column("agreement_id", sa.String(128), nullable=False),
        sa.Column("agreement_version", sa.String(32), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("retention_days", sa.Integer),
        sa.Column("cutoff_date", sa.Date),
        sa.Column("events_deleted", sa.Integer, nullable=False),
        sa.Column("persons_deleted", sa.Integer, nullable=False),
        sa.Column("events_undated", sa.Integer, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
    )
    dialect = op.get_bind().dialect.name
    op.execute(f"CREATE {'OR REPLACE VIEW' if dialect == 'postgresql' else 'VIEW IF NOT EXISTS'} "
               f"v_incident_counts AS {V_INCIDENT_COUNTS}")
    for statement in append_only_triggers(dialect):
        op.execute(statement)
    meta = sa.table("mart_meta", sa.column("key", sa.String), sa.column("value", sa.String))
    if op.get_bind().execute(sa.select(meta.c.key).where(meta.c.key == "schema_version")).first() is None:
        op.bulk_insert(meta, [{"key": "schema_version", "value": "1"}])


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_incident_counts")
    for table in ("audit_purge", "audit_release", "mart_meta", "event_person", "event"):
        op.drop_table(table)
