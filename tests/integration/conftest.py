"""The integration tests' fixtures (the broker, PostgreSQL, per-test settings) come from the plugin
``tests.plugins.services``; these names stay importable from here for tests written before it."""

from tests.plugins.services import free_port, postgres_schema, unique

__all__ = ["free_port", "postgres_schema", "unique"]
