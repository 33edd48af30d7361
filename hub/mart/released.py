"""The RELEASED layer: the only tables analysts and BI tools read. Every row came through disclosure control.

Each release (``hub mart counts|export|report`` or :func:`hub.mart.release.release`) is written here in
the same transaction as its audit row: ``released_table`` says what was released, under which purpose,
profile and method; ``released_cell`` holds its cells, perturbed and suppressed exactly as shown to the
person who asked. Nothing else is ever written here, so granting read access to this layer grants
access to released statistics and nothing more.

Where it lives:

- PostgreSQL: the schema ``released`` (``hub mart init --released-schema``), readable by the analyst
  role, which has no privilege on the restricted schema. BI tools connect as the analyst.
- SQLite: a separate file beside the mart, ``<mart>-released.db``; the mart file itself is mode 600.

The tables are defined in the placeholder schema ``released``; :func:`engine_for` maps it to the real
schema (PostgreSQL) or to the analyst file (SQLite).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    inspect,
    text,
)
from sqlalchemy.engine import make_url

SCHEMA = "released"  # placeholder; see engine_for
DEFAULT_PG_SCHEMA = "released"

metadata = MetaData(schema=SCHEMA)

released_table = Table(
    "released_table", metadata,
    Column("release_id", Integer, primary_key=True, autoincrement=False,
           comment="Same id as the release's audit row"),
    Column("released_at", DateTime(timezone=True), nullable=False, comment="When, UTC"),
    Column("user_name", String(128), nullable=False, comment="Who released it"),
    Column("measure", String(64), nullable=False, comment="What is counted (see the measures in docs/analyst.md)"),
    Column("purpose", String(64), nullable=False, comment="Purpose the agreement declares"),
    Column("profile", String(64), nullable=False, comment="Release profile: thresholds, rounding, finest geography"),
    Column("geography", String(8), nullable=False, comment="Area level asked for (sensitive cells may be coarser)"),
    Column("period", String(8), nullable=False, comment="week or month"),
    Column("filters_json", Text, nullable=False, comment="Filters applied (source, category, flag, age band, dates)"),
    Column("sources", String(512), nullable=False, comment="Sources with records in this release"),
    Column("method", String(256), nullable=False, comment="Disclosure control applied (cell key, p-table, thresholds)"),
    comment="One row per release: what was released, to whom, how it was protected",
)

released_cell = Table(
    "released_cell", metadata,
    Column("release_id", Integer, primary_key=True, comment="released_table.release_id"),
    Column("cell_no", Integer, primary_key=True, comment="Position of the cell in its release"),
    Column("measure", String(64), nullable=False, comment="What is counted"),
    Column("area_level", String(8), nullable=False, comment="lsoa, msoa or lad"),
    Column("area_code", String(9), nullable=False, comment="ONS area code"),
    Column("area_name", String(128), comment="ONS area name"),
    Column("period", String(16), nullable=False, comment="ISO week YYYY-Www or month YYYY-MM"),
    Column("category", String(64), nullable=False, comment="Breakdown within the measure (category, reason...)"),
    Column("sensitive", Boolean, nullable=False, comment="Counted under the agreement's sensitive-offence rules"),
    Column("value", Integer, comment="Perturbed (and rounded) count; NULL when suppressed"),
    Column("status", String(16), nullable=False, comment="released or suppressed"),
    Column("population", Integer, comment="Area population (ONS mid-year estimate)"),
    Column("rate_per_1000", Float, comment="value / population x 1,000 (NULL when suppressed)"),
    comment="Cells of each release, after perturbation, suppression and rounding",
)


def released_url(mart_url: str) -> str:
    """Where the released layer lives: the same PostgreSQL database, or ``<mart>-released.db`` for SQLite."""
    url = make_url(mart_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return mart_url
    path = Path(url.database)
    return url.set(database=str(path.with_name(f"{path.stem}-released{path.suffix or '.db'}"))).render_as_string(
        hide_password=False)


def engine_for(mart_url: str, pg_schema: str = DEFAULT_PG_SCHEMA) -> Engine:
    """An engine on the released layer, with the placeholder schema mapped to where it really is."""
    url = released_url(mart_url)
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        return engine.execution_options(schema_translate_map={SCHEMA: None})
    return engine.execution_options(schema_translate_map={SCHEMA: pg_schema})


def create(engine: Engine, pg_schema: str = DEFAULT_PG_SCHEMA) -> None:
    """Create the released layer's schema (PostgreSQL) or file (SQLite, mode 644: it is for analysts)."""
    if engine.dialect.name == "sqlite" and engine.url.database and engine.url.database != ":memory:":
        path = Path(engine.url.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:  # checked first: the writer role may use the schema but not create one
            if not inspect(conn).has_schema(pg_schema):
                conn.execute(text(f'CREATE SCHEMA "{pg_schema}"'))
    metadata.create_all(engine)
