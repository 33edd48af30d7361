"""The restricted layer: every row-level table, in one SQLAlchemy ``MetaData`` that Alembic migrates.

Only the hub's own processes (worker, release builder, retention) read or write these tables. On
PostgreSQL they live in the mart's own schema, on which the analyst role has no privilege; on SQLite
they live in the mart file, created mode 600. Analysts read the released layer (``hub.mart.released``).

To add a restricted table (persons and mentions, linkage tokens, registers...):

1. define it on ``hub.mart.models.metadata`` in a module of your area, e.g. ``hub/mart/persons.py``;
2. import that module below, so Alembic, the analyst-refusal test and the data dictionary see it;
3. add one Alembic revision in ``hub/mart/migrations/versions/`` (``down_revision`` = the current head)
   that creates it exactly as defined: ``tests/unit/test_migrations.py`` checks that head matches.

A new table is restricted by default: nothing is released except through ``hub.mart.release``.
"""

from __future__ import annotations

from sqlalchemy import MetaData, Table

from hub.mart import models, persons  # noqa: F401 - persons registers person_mention and person_merge
from hub.mart import reviews as _reviews  # noqa: F401 - homicide review register, hot-spot alert log

# Area modules that define restricted tables register themselves by being imported here.

metadata: MetaData = models.metadata


def tables() -> list[Table]:
    """Every restricted table, in dependency order."""
    return list(metadata.sorted_tables)
