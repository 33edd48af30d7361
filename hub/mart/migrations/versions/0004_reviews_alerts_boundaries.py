"""Alerts and maps: the homicide review register, the hot-spot alert log, area boundaries.

- ``homicide_review`` (restricted): one row per Offensive Weapons Homicide Review case, keyed by the
  case's token; the worker's alert stage registers a case before its alert is sent and stamps it after.
- ``hotspot_alert`` (restricted): one row per emerging hot-spot alert (area level, area, ISO week).
- ``ref_boundary`` (reference, public data): area geometries for the reports' maps, loaded with
  ``hub reference load boundaries FILE``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "homicide_review",
        sa.Column("case_ref", sa.String(64), primary_key=True,
                  comment="The case's keyed token (event id), never a crime ref"),
        sa.Column("alert_id", sa.String(32), nullable=False, unique=True, comment="Id of the alert on svh.alerts"),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("occurred_date", sa.Date),
        sa.Column("lsoa_code", sa.String(9)),
        sa.Column("lad_code", sa.String(9)),
        sa.Column("offence_code", sa.String(8), nullable=False),
        sa.Column("weapons", sa.String(64), nullable=False,
                  comment="Weapon flags that met the criteria, comma-separated"),
        sa.Column("victim_age_band", sa.String(8)),
        sa.Column("status", sa.String(32), nullable=False,
                  comment="to_consider, dhr_precedence, review_arranged, not_required, closed"),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("alert_sent_at", sa.DateTime(timezone=True), comment="When Kafka acknowledged the alert"),
        sa.Column("notified_at", sa.DateTime(timezone=True), comment="When the notify hook succeeded"),
        sa.Column("status_changed_at", sa.DateTime(timezone=True)),
        comment="Restricted: Offensive Weapons Homicide Review register, one row per case (PCSC Act 2022 s.24)",
    )
    op.create_table(
        "hotspot_alert",
        sa.Column("alert_id", sa.String(32), primary_key=True, comment="Deterministic: area level, area, week"),
        sa.Column("area_level", sa.String(8), nullable=False),
        sa.Column("area_code", sa.String(9), nullable=False, index=True),
        sa.Column("iso_week", sa.String(8), nullable=False, index=True),
        sa.Column("events", sa.Integer, nullable=False, comment="Events counted in the area that week when raised"),
        sa.Column("baseline", sa.Float, nullable=False, comment="Expected weekly count from the area's recent weeks"),
        sa.Column("p_value", sa.Float, nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        comment="Restricted: emerging hot-spot alerts raised by the worker, one row per area and week",
    )
    op.create_table(
        "ref_boundary",
        sa.Column("level", sa.String(8), primary_key=True, comment="lsoa, msoa or lad"),
        sa.Column("code", sa.String(9), primary_key=True, comment="ONS area code"),
        sa.Column("name", sa.String(128), comment="ONS area name"),
        sa.Column("msoa_code", sa.String(9), comment="Parent MSOA, where the file gives it"),
        sa.Column("lad_code", sa.String(9), comment="Parent local authority district, where the file gives it"),
        sa.Column("population", sa.Integer, comment="Residents, where the file gives them"),
        sa.Column("geometry_json", sa.Text, nullable=False, comment="GeoJSON geometry, WGS84"),
        sa.Column("source_file", sa.String(256), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        comment="Reference: area boundaries (hub reference load boundaries FILE), for maps",
    )


def downgrade() -> None:
    op.drop_table("ref_boundary")
    op.drop_table("hotspot_alert")
    op.drop_table("homicide_review")
