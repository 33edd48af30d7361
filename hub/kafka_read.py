"""Reading a whole topic from the beginning to its current end (for checks, the demo and tests)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition

from hub.config import Settings


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def read_topic(settings: Settings, topic: str, timeout_s: float = 60.0) -> list[Message]:
    """Every message now in ``topic`` (up to the end offsets seen at the start); no group, no commits."""
    consumer = KafkaConsumer(**settings.kafka_python_kwargs(), enable_auto_commit=False, group_id=None,
                             client_id="svh-reader", auto_offset_reset="earliest")
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not parts:
            return []
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        out: list[Message] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} to its end within {timeout_s:.0f} s")
            for tp, records in consumer.poll(timeout_ms=500).items():
                for r in records:
                    if r.offset < ends[tp]:
                        out.append(Message(r.topic, r.partition, r.offset, r.key, r.value, list(r.headers or [])))
        return out
    finally:
        consumer.close()
