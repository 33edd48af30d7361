"""Alembic environment: runs on the connection ``hub.mart.migrate`` hands over (no alembic.ini, no URL here)."""

from __future__ import annotations

from alembic import context

from hub.mart import restricted

config = context.config
target_metadata = restricted.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("the mart's migrations run through hub.mart.migrate.upgrade(engine)")
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run()
