"""Alembic, driven from code: ``hub mart init`` upgrades the restricted layer to head.

No ``alembic.ini``: the script location is this package's ``migrations`` folder and the connection is
handed to ``migrations/env.py``. A mart made by the previous release (tables, but no ``alembic_version``)
is upgraded from the start: revision ``0001`` (that release's schema) creates only the tables it
lacks, so its rows are kept.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
PREVIOUS_RELEASE = "0001"


def _config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    """The newest revision this hub knows."""
    heads = ScriptDirectory.from_config(_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the mart's migrations have {len(heads)} heads ({', '.join(heads)}); merge them")
    return heads[0]


def current(engine: Engine) -> str | None:
    """The mart's revision, ``PREVIOUS_RELEASE`` for an un-stamped previous-release mart, else None."""
    with engine.connect() as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
        if rev is None and inspect(conn).has_table("event"):
            return PREVIOUS_RELEASE
        return rev


def upgrade(engine: Engine, target: str = "head") -> tuple[str | None, str]:
    """Upgrade the restricted layer to ``target``; returns (revision before, revision after)."""
    before = current(engine)
    with engine.begin() as conn:
        command.upgrade(_config(conn), target)
    return before, current(engine) or ""
