"""Fixtures for connector tests. The real-service fixtures come from the integration suite, so the
conformance tests use the same broker and PostgreSQL (started if needed, never skipped)."""

from __future__ import annotations

from tests.integration.conftest import kafka_bootstrap, postgres_schema_url, postgres_url, settings  # noqa: F401
