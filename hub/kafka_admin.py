"""Creating the hub's topics (kafka-python admin client), with retention by sensitivity."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from contextlib import AbstractContextManager

from kafka import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from hub import logs
from hub.config import Settings
from hub.topics import Topics

log = logs.get(__name__)


def shared_retention_ms(settings: Settings) -> int | None:
    """How long topics after the boundary keep events: the longest ``retention_days`` the agreement gives any
    source (one topic holds every source; the mart purge enforces each source's own period). None if the
    agreement cannot be read here (the broker's default then applies, and the mart purge still runs)."""
    from hub.policy import load_agreement
    try:
        agreement = load_agreement(settings.agreement_file())
    except Exception:  # noqa: BLE001 - a process that does not use the agreement still creates its topics
        return None
    days = [s.retention_days for s in agreement.sources.values()]
    return max(days) * 86_400_000 if days else None


def topic_specs(settings: Settings, sources: Iterable[str], raw: bool = True) -> dict[str, dict[str, object]]:
    """Raw and raw dead-letter topics keep identifiers: short retention. Topics after the boundary keep the
    agreement's longest retention (``shared_retention_ms``), never the broker's default of forever-ish.
    ``raw=False`` leaves out the raw topics (sources pseudonymised at the source have none)."""
    t = Topics(settings.topic_prefix)
    restricted = {"retention.ms": str(settings.raw_retention_hours * 3600 * 1000)}
    specs: dict[str, dict[str, object]] = {}
    for source in sources:
        if raw:
            specs[t.raw(source)] = {"configs": restricted}
        specs[t.dlq(source)] = {"configs": restricted}
        specs[t.at_source(source)] = {"configs": restricted}  # unchecked until the worker validates it
    retention = shared_retention_ms(settings)
    shared = {"retention.ms": str(retention)} if retention else {}
    for name in (t.shared, t.shared_dlq, t.linked, t.alerts):  # linked: the link stage's; alerts: hot spots'
        specs[name] = {"configs": dict(shared)}
    for spec in specs.values():
        spec.update(num_partitions=settings.topic_partitions, replication_factor=settings.topic_replication_factor)
    # The restricted token store: kept (the link stage rebuilds its person index from it, and
    # `hub linkage train` fits on it), one partition so candidate matches always meet.
    specs[t.link_tokens] = {"configs": {"retention.ms": "-1"}, "num_partitions": 1,
                            "replication_factor": settings.topic_replication_factor}
    return specs


class KafkaUnavailable(ConnectionError):
    """Kafka did not answer in time: one line for the person at the terminal, not a library's retries."""


def _quiet_kafka_client() -> AbstractContextManager[None]:
    """kafka-python logs every failed connection attempt (dozens a minute); while we wait with a deadline of
    our own, only our one line at the end says what happened."""
    return logs.quieted("kafka")


def ensure_topics(settings: Settings, sources: Iterable[str], timeout_s: float = 60.0, raw: bool = True) -> list[str]:
    """Create missing topics and wait for their leaders; returns the names created. Raises
    ``KafkaUnavailable`` (one clear line) if the broker does not answer within ``timeout_s``."""
    connect = Retrying(retry=retry_if_exception_type(KafkaError), stop=stop_after_delay(timeout_s),
                       wait=wait_fixed(0.5), reraise=True)  # the broker may still be starting
    try:
        with _quiet_kafka_client():
            # Each attempt gives up at the deadline too (kafka-python's own bootstrap wait is 30 s).
            admin = connect(KafkaAdminClient, **settings.kafka_python_kwargs(), client_id="svh-admin",
                            bootstrap_timeout_ms=int(timeout_s * 1000))
    except KafkaError as exc:
        raise KafkaUnavailable(f"Kafka at {settings.kafka_bootstrap} did not answer within {timeout_s:.0f} s "
                               f"({type(exc).__name__}); is it running, and are HUB_KAFKA_BOOTSTRAP and the "
                               "security settings right?") from None
    try:
        specs = topic_specs(settings, sources, raw)
        existing = set(admin.list_topics())
        missing = {name: spec for name, spec in specs.items() if name not in existing}
        if missing:
            # Another process may create one between our list and create: that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing, wait_for_metadata=True)
            log.info("created topics", extra={"count": len(missing)})
        return sorted(missing)
    finally:
        admin.close()


def ensure_internal_topics(settings: Settings, configs: dict[str, dict[str, str]]) -> list[str]:
    """Create a worker stage's internal topics (the worker may not declare topics itself); returns those created."""
    admin = KafkaAdminClient(**settings.kafka_python_kwargs(), client_id="svh-admin")
    try:
        existing = set(admin.list_topics())
        missing = {name: {"configs": cfg, "num_partitions": settings.topic_partitions, "replication_factor": 1}
                   for name, cfg in configs.items() if name not in existing}
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing, wait_for_metadata=True)
        return sorted(missing)
    finally:
        admin.close()


def delete_topics(settings: Settings, sources: Iterable[str]) -> None:
    """Remove a run's topics (the demo cleans up after itself); missing topics are ignored."""
    admin = KafkaAdminClient(**settings.kafka_python_kwargs(), client_id="svh-admin")
    try:
        existing = set(admin.list_topics())
        names = [n for n in topic_specs(settings, sources) if n in existing]
        if names:
            admin.delete_topics(names)
    finally:
        admin.close()
