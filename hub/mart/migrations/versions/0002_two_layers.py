"""Two layers: record keys for the cell-key method, area and population reference, no unsuppressed view.

- ``event.record_key``: the cell-key method's per-record key (0-255), backfilled for existing rows from
  the keyed event id, exactly as ``hub.mart.cellkey.record_key`` computes it for new rows.
- ``v_incident_counts`` is dropped: it exposed unsuppressed counts to anyone who could read the mart.
- ``ref_area`` and ``ref_population``: area names and hierarchy, population denominators (public data).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _record_key(event_id: str) -> int:
    # Frozen copy of hub.mart.cellkey.record_key at this revision (a test checks they agree).
    return hashlib.sha256(b"svh-record-key\x00" + event_id.encode("utf-8")).digest()[0]


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_incident_counts")
    with op.batch_alter_table("event") as batch:
        batch.add_column(sa.Column("record_key", sa.Integer))
    bind = op.get_bind()
    event = sa.table("event", sa.column("event_id", sa.String), sa.column("record_key", sa.Integer))
    ids = [r[0] for r in bind.execute(sa.select(event.c.event_id).where(event.c.record_key.is_(None)))]
    stmt = sa.update(event).where(event.c.event_id == sa.bindparam("eid")).values(record_key=sa.bindparam("rk"))
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        bind.execute(stmt, [{"eid": eid, "rk": _record_key(eid)} for eid in chunk])
    op.create_table(
        "ref_area",
        sa.Column("area_code", sa.String(9), primary_key=True),
        sa.Column("level", sa.String(4), nullable=False, index=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("parent_code", sa.String(9)),
    )
    op.create_table(
        "ref_population",
        sa.Column("lsoa_code", sa.String(9), primary_key=True),
        sa.Column("population", sa.Integer, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("source", sa.String(256), nullable=False),
    )
    meta = sa.table("mart_meta", sa.column("key", sa.String), sa.column("value", sa.String))
    op.execute(sa.update(meta).where(meta.c.key == "schema_version").values(value="2"))


def downgrade() -> None:
    op.drop_table("ref_population")
    op.drop_table("ref_area")
    with op.batch_alter_table("event") as batch:
        batch.drop_column("record_key")
