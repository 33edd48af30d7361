"""Consumer lag from Kafka itself: how the demo and tests know the pipeline has drained."""

from __future__ import annotations

import time
from collections.abc import Iterable

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_delay, wait_fixed

from hub.config import Settings


def group_lag(settings: Settings, group: str, topics: Iterable[str]) -> int:
    """Messages in ``topics`` the group has not committed yet (a partition never committed counts whole)."""
    kw = settings.kafka_python_kwargs()
    admin = KafkaAdminClient(**kw, client_id="svh-lag")
    consumer = KafkaConsumer(**kw, client_id="svh-lag", enable_auto_commit=False)
    try:
        return sum(partition_lag(admin, consumer, group, topics).values())
    finally:
        consumer.close()
        admin.close()


def partition_lag(admin: KafkaAdminClient, consumer: KafkaConsumer, group: str,
                  topics: Iterable[str]) -> dict[TopicPartition, int]:
    """End offset minus the group's committed offset, per partition of ``topics`` (never committed: all)."""
    parts = [TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or ())]
    if not parts:
        return {}
    ends = consumer.end_offsets(parts)
    committed = admin.list_group_offsets({group: None}).get(group, {})
    lag: dict[TopicPartition, int] = {}
    for tp in parts:
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset is not None and meta.offset >= 0 else 0
        lag[tp] = max(0, ends[tp] - done)
    return lag


def wait_until_drained(settings: Settings, group: str, topics: list[str], timeout_s: float = 300.0,
                       poll_s: float = 0.5, on_progress: object = None) -> float:
    """Block until the group's lag on ``topics`` is zero; returns seconds waited, raises on timeout."""
    start = time.monotonic()

    def measure() -> int:
        lag = group_lag(settings, group, topics)
        if callable(on_progress):
            on_progress(lag)
        return lag

    def timed_out(state: RetryCallState) -> int:
        lag = state.outcome.result() if state.outcome is not None else "?"
        raise TimeoutError(f"pipeline did not drain within {timeout_s:.0f} s ({lag} messages behind)")

    Retrying(retry=retry_if_result(lambda lag: lag != 0), stop=stop_after_delay(timeout_s), wait=wait_fixed(poll_s),
             retry_error_callback=timed_out)(measure)
    return time.monotonic() - start
