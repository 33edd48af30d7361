"""Shared fixtures for the unit tests of the pure core (no Kafka, no network).

Fixtures used by hypothesis tests are session-scoped (hypothesis refuses function-scoped ones).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hub.policy import Agreement, example_agreement_path, load_agreement
from hub.pseudonymisation import KeyRing, PostcodeLookup
from hub.schemas import SchemaRepository, default_repository
from tests.unit.source_rows import AREA, CANARY_POSTCODE

FIXED_SECRET = bytes(range(32))


def make_ring(secret: bytes = FIXED_SECRET, key_id: str = "k1") -> KeyRing:
    """A key ring with a fixed secret, so tokens are reproducible across test runs."""
    return KeyRing(keys={key_id: secret}, active=key_id, event_key=key_id)


@pytest.fixture(scope="session")
def repo() -> SchemaRepository:
    return default_repository()


@pytest.fixture(scope="session")
def example_path() -> Path:
    return example_agreement_path()


@pytest.fixture(scope="session")
def example_text(example_path: Path) -> str:
    return example_path.read_text("utf-8")


@pytest.fixture(scope="session")
def agreement(example_path: Path) -> Agreement:
    return load_agreement(example_path)


@pytest.fixture(scope="session")
def ring_factory() -> Callable[..., KeyRing]:
    """``ring_factory(secret=..., key_id=...)``: a fresh ring tests may rotate."""
    return make_ring


@pytest.fixture(scope="session")
def ring() -> KeyRing:
    """Shared, never mutated: tests that rotate keys build their own ring."""
    return make_ring()


@pytest.fixture(scope="session")
def lookup() -> PostcodeLookup:
    """A one-postcode lookup: ``CANARY_POSTCODE`` in ``AREA``."""
    return PostcodeLookup({CANARY_POSTCODE: AREA}, {AREA.lsoa: AREA})
