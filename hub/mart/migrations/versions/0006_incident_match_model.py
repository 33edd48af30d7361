"""ED-police matching weights fitted by EM on the mart's own events (restricted; parameters only).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_match_model",
        sa.Column("model_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attendances", sa.Integer, nullable=False),
        sa.Column("pairs", sa.Integer, nullable=False),
        sa.Column("weights_json", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("incident_match_model")
