"""The link stage's state: a person index rebuilt by replaying the restricted token topic.

Why not a Faust table or the mart: the person index is a deterministic function of the ordered token
messages (same mentions, same order, same model: same ids and merges). The restricted token topic has
one partition and is kept, so it already is the durable, ordered log of the index; a changelog table
would store the same facts again (the block index, every mention's tokens, the clusters: many writes per
mention) and a mart copy would need a transaction spanning Kafka and the database. On start the stage
reads the topic from the beginning up to its consumer group's committed offset, feeding the index as it
would live, then Faust delivers from that offset: whatever was processed but not committed before a
crash is processed again from the same state, so a killed and restarted worker gives exactly the ids of
one clean run, and republishes the same linked events (the mart upserts them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from hub import logs
from hub.config import Settings
from hub.linkage.index import Assignment, PersonIndex
from hub.linkage.messages import LINK_TOKENS, records_of
from hub.linkage.model_file import ModelFile
from hub.schemas import SchemaError, SchemaRepository

log = logs.get(__name__)


class LinkState:
    """The person index and how to feed it one link-tokens message (live or in replay)."""

    def __init__(self, model: ModelFile, schemas: SchemaRepository) -> None:
        self.model = model
        self.schemas = schemas
        self.index = PersonIndex(model.model, threshold=model.threshold)

    def decode(self, payload: bytes) -> dict[str, Any]:
        _, message = self.schemas.decode(payload, expect=LINK_TOKENS)
        return message

    def link(self, message: dict[str, Any]) -> dict[str, Assignment]:
        """Link each mention of one message; role -> its assignment."""
        return {record.role: self.index.add(record) for record in records_of(message)}


def committed_offset(settings: Settings, topic: str, group: str) -> int:
    """The group's committed offset on partition 0 of ``topic`` (0 if none)."""
    consumer = KafkaConsumer(**settings.kafka_python_kwargs(), group_id=group, enable_auto_commit=False,
                             client_id="svh-link-replay")
    try:
        return consumer.committed(TopicPartition(topic, 0)) or 0
    finally:
        consumer.close()


def read_until(settings: Settings, topic: str, end: int, timeout_s: float = 600.0) -> Iterator[bytes]:
    """Values of partition 0 of ``topic`` from the beginning up to (not including) offset ``end``."""
    if end <= 0:
        return
    consumer = KafkaConsumer(**settings.kafka_python_kwargs(), group_id=None, enable_auto_commit=False,
                             client_id="svh-link-replay", auto_offset_reset="earliest")
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        deadline = time.monotonic() + timeout_s
        while consumer.position(tp) < end:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not replay {topic} to offset {end} within {timeout_s:.0f} s")
            for records in consumer.poll(timeout_ms=500, max_records=5000).values():
                for r in records:
                    if r.offset < end and r.value is not None:
                        yield r.value
    finally:
        consumer.close()


def replay(state: LinkState, settings: Settings, topic: str, group: str,
           reader: Callable[[Settings, str, int], Iterator[bytes]] = read_until) -> int:
    """Rebuild the index from ``topic`` up to the group's committed offset; returns messages replayed."""
    end = committed_offset(settings, topic, group)
    started = time.perf_counter()
    count = 0
    for payload in reader(settings, topic, end):
        count += 1
        try:
            state.link(state.decode(payload))
        except SchemaError:
            continue  # dead-lettered when it was first seen; skipped the same way now
    log.info("person index rebuilt", extra={"stage": "link", "count": count, "offset": end,
                                            "seconds": round(time.perf_counter() - started, 3)})
    return count
