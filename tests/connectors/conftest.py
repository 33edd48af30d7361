"""Fixtures for connector tests. The real services (broker, PostgreSQL, settings) come from the
``tests.plugins.services`` plugin, so the conformance tests use the same ones as the integration suite
(started if needed, never skipped)."""

from __future__ import annotations

import pytest

from tests.connectors.harness import Fixture, load_fixture


@pytest.fixture
def fixture() -> Fixture:
    """The police_incident conformance fixture (header and good rows)."""
    fx = load_fixture("police_incident")
    assert fx is not None
    return fx
