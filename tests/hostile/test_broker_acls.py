"""Finding 1 (the broker's part): on a SASL/SCRAM broker with the hub's ACLs, a connector's credentials
write only its own topic and read nothing.

Starts its own broker with ``deploy/kafka-secure.sh`` on free ports and a temporary state directory
(never the shared development broker), creates the topics as ``svh-admin``, and tries every connector.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, NotLeaderForPartitionError, TopicAuthorizationFailedError

from hub import kafka_admin
from hub.config import Settings, load_settings
from hub.policy import example_agreement_path, load_agreement
from hub.schemas import RAW_SCHEMAS
from hub.topics import Topics
from tests.plugins.services import free_port

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "kafka-secure.sh"
AGREEMENT = load_agreement(example_agreement_path())
T = Topics("svh")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("kafka-secure")
    env = {**os.environ, "KAFKA_SECURE_DIR": str(state), "KAFKA_SECURE_PORT": str(free_port()),
           "KAFKA_SECURE_CONTROLLER_PORT": str(free_port()), "HUB_TOPIC_PREFIX": "svh"}

    def run(*args: str) -> str:
        return subprocess.run(["bash", str(SCRIPT), *args], env=env, check=True, capture_output=True,
                              text=True, timeout=300).stdout

    try:
        run("start")
        run("acls")
        passwords = {line.split("=", 1)[0]: line.strip().split("=", 1)[1]
                     for line in (state / "credentials").read_text().splitlines()}
        assert oct((state / "credentials").stat().st_mode & 0o777) == "0o600"
        yield {"port": env["KAFKA_SECURE_PORT"], "passwords": passwords}
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, timeout=120)


def settings_for(broker: dict[str, Any], user: str) -> Settings:
    return load_settings({}, kafka_bootstrap=f"127.0.0.1:{broker['port']}", topic_prefix="svh",
                         security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512", sasl_username=user,
                         sasl_password=broker["passwords"][user])


@pytest.fixture(scope="module")
def topics(broker: dict[str, Any]) -> list[str]:
    admin = settings_for(broker, "svh-admin")
    kafka_admin.ensure_topics(admin, RAW_SCHEMAS, timeout_s=60)
    specs = kafka_admin.topic_specs(admin, RAW_SCHEMAS)
    names = sorted(specs)
    for name in names:  # something to read, so a refusal to read is not just an empty topic
        for partition in range(int(str(specs[name]["num_partitions"]))):
            assert can_write(admin, name, partition=partition)
    assert can_read(admin, T.shared)  # the probe is readable by whoever may read
    return names


def own_topic(source: str) -> str:
    return T.at_source(source) if AGREEMENT.source(source).pseudonymise_at == "source" else T.raw(source)


def can_write(settings: Settings, topic: str, timeout_s: float = 90.0, partition: int | None = None) -> bool:
    """Whether a send is acknowledged (True) or refused for authorisation (False); a new topic whose leader is
    not elected yet is retried until the deadline."""
    producer = KafkaProducer(**settings.kafka_python_kwargs(), retries=10, retry_backoff_ms=500,
                             max_block_ms=20000, request_timeout_ms=10000)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                producer.send(topic, b"probe", partition=partition).get(30)
                return True
            except TopicAuthorizationFailedError:
                return False
            except NotLeaderForPartitionError:
                if time.monotonic() > deadline:
                    raise
    finally:
        producer.close(5)


def can_read(settings: Settings, topic: str, timeout_s: float = 15.0) -> bool:
    """Whether a record of ``topic`` (which holds some: see ``topics``) can be fetched."""
    consumer = KafkaConsumer(**settings.kafka_python_kwargs(), group_id=None, auto_offset_reset="earliest")
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if consumer.poll(timeout_ms=1000):
                return True
        return False
    except KafkaError:
        return False
    finally:
        consumer.close()


@pytest.mark.parametrize("source", sorted(RAW_SCHEMAS))
def test_a_connector_writes_only_its_own_topics(broker: dict[str, Any], topics: list[str], source: str) -> None:
    settings = settings_for(broker, f"connector-{source}")
    allowed = {own_topic(source), T.dlq(source)}
    assert allowed <= set(topics)
    for topic in sorted(allowed):
        assert can_write(settings, topic), topic
    other = "probation_event" if source == "police_incident" else "police_incident"
    wrong_kind = T.raw(source) if own_topic(source) == T.at_source(source) else T.at_source(source)
    for topic in (T.shared, T.shared_dlq, T.raw(other), T.at_source(other), T.dlq(other), wrong_kind):
        assert not can_write(settings, topic), topic


@pytest.mark.parametrize("source", ["police_incident", "ed_attendance"])
def test_a_connector_reads_nothing(broker: dict[str, Any], topics: list[str], source: str) -> None:
    settings = settings_for(broker, f"connector-{source}")
    for topic in (own_topic(source), T.dlq(source), T.shared):
        assert not can_read(settings, topic), topic


def test_no_credentials_no_access(broker: dict[str, Any], topics: list[str]) -> None:
    wrong = settings_for(broker, "connector-police_incident").model_copy(update={"sasl_username": "nobody"})
    with pytest.raises(KafkaError):
        KafkaProducer(**wrong.kafka_python_kwargs(), max_block_ms=5000).send(T.raw("police_incident"), b"x").get(10)
