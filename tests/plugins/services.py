"""A pytest plugin (registered in tests/conftest.py) with the real services every test folder may use:
the local KRaft broker and PostgreSQL, started if needed, per-test settings, and the helpers
(``free_port``, ``unique``, ``postgres_schema``) several folders import.

Set HUB_TEST_BOOTSTRAP (and HUB_TEST_POSTGRES_URL) to use services that are already running.
Nothing is skipped for want of a service: the fixtures start them (CI relies on this).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from hub.config import Settings, load_settings
from tests.integration.faults import OwnBroker

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> str:
    return subprocess.run(["bash", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    existing = os.environ.get("HUB_TEST_BOOTSTRAP")
    if existing:
        return existing
    _run("deploy/kafka.sh", "start")
    _run("deploy/kafka.sh", "wait")
    return f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    existing = os.environ.get("HUB_TEST_POSTGRES_URL")
    if existing:
        return existing
    _run("deploy/postgres.sh", "start")
    return _run("deploy/postgres.sh", "url").splitlines()[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unique(name: str) -> str:
    return f"t-{name[:30].replace('[', '-').replace(']', '')}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def settings(tmp_path: Path, kafka_bootstrap: str, request: pytest.FixtureRequest) -> Settings:
    """Settings isolated per test: own topic prefix, consumer group, data dir, mart and metrics port."""
    prefix = unique(request.node.name)
    return load_settings({}, data_dir=tmp_path / "run", kafka_bootstrap=kafka_bootstrap, topic_prefix=prefix,
                         app_id=f"{prefix}-worker", metrics_port=free_port(), topic_partitions=2,
                         worker_batch_lane=batch_lane())


def batch_lane() -> bool | None:
    """``HUB_TEST_WORKER_BATCH_LANE=0`` runs the integration tests' workers through Faust's streams (the fallback
    path), ``=1`` with the batch lane; unset, the default setting (the lane)."""
    return {"0": False, "1": True}.get(os.environ.get("HUB_TEST_WORKER_BATCH_LANE", ""))


@contextlib.contextmanager
def postgres_schema(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema, as a SQLAlchemy URL whose search_path points at it; dropped afterwards."""
    schema = "t_" + uuid.uuid4().hex[:12]
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{postgres_url}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_released" CASCADE')  # the mart's released layer


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    with postgres_schema(postgres_url) as url:
        yield url


@pytest.fixture
def own_broker() -> Iterator[OwnBroker]:
    """A broker of this test's own (other ports, own state directory), which it may stop and start."""
    broker = OwnBroker().start()
    try:
        yield broker
    finally:
        broker.remove()
