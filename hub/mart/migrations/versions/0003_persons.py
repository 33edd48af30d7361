"""Persons: the link stage's person mentions and merges (restricted).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_mention",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(32), primary_key=True),
        sa.Column("person_id", sa.String(64), nullable=False, index=True),
        sa.Column("source", sa.String(64), nullable=False, index=True),
        sa.Column("occurred_date", sa.Date, index=True),
        sa.Column("model_version", sa.String(32), nullable=False),
    )
    op.create_table(
        "person_merge",
        sa.Column("person_id", sa.String(64), primary_key=True),
        sa.Column("into_person_id", sa.String(64), nullable=False, index=True),
        sa.Column("event_id", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("person_merge")
    op.drop_table("person_mention")
