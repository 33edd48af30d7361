"""Shared fixtures of the hostile suite: each test attacks one finding of issue #11."""

from __future__ import annotations

import pytest

from hub.policy import Agreement, example_agreement_path, load_agreement
from hub.pseudonymisation import KeyRing

FIXED_SECRET = bytes(range(32))


def make_ring(secret: bytes = FIXED_SECRET, key_id: str = "k1") -> KeyRing:
    return KeyRing(keys={key_id: secret}, active=key_id, event_key=key_id)


@pytest.fixture(scope="session")
def ring() -> KeyRing:
    return make_ring()


@pytest.fixture(scope="session")
def agreement() -> Agreement:
    return load_agreement(example_agreement_path())

