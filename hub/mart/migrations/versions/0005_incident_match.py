"""ED assault attendances matched to police incidents (restricted).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_match",
        sa.Column("ed_event_id", sa.String(64), primary_key=True),
        sa.Column("police_event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("score", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("incident_match")
