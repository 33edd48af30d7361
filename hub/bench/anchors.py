"""The anchors ``hub bench pipeline`` measures beside the hub, on the same broker in the same run.

- A raw kafka-python producer sending the connector's own payloads (same keys, same producer settings):
  what the connector's publish rate is compared with.
- A bare single-stage loop (aiokafka consume, fastavro decode, one HMAC, fastavro encode, aiokafka
  produce, acknowledgements awaited and offsets committed per batch): what the worker's drain rate is
  compared with. It does the least a stage could do; the worker does the whole boundary, a second
  stage (the sink) and the mart writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import io
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastavro import schemaless_reader, schemaless_writer
from kafka import KafkaAdminClient
from kafka.errors import TopicAlreadyExistsError

from hub.config import Settings
from hub.connectors.publisher import make_producer
from hub.schemas import SHARED_EVENT, SchemaRepository
from hub.schemas.repository import HEADER_LENGTH, SINGLE_OBJECT_MAGIC

FETCH = 1000  # records per getmany, like a worker batch


def create_topics(settings: Settings, names: list[str]) -> None:
    admin = KafkaAdminClient(**settings.kafka_python_kwargs(), client_id="svh-bench")
    try:
        specs = {n: {"num_partitions": settings.topic_partitions, "replication_factor": 1} for n in names}
        with contextlib.suppress(TopicAlreadyExistsError):
            admin.create_topics(specs, wait_for_metadata=True)
    finally:
        admin.close()


def delete_topics(settings: Settings, names: list[str]) -> None:
    admin = KafkaAdminClient(**settings.kafka_python_kwargs(), client_id="svh-bench")
    try:
        existing = set(admin.list_topics())
        if gone := [n for n in names if n in existing]:
            admin.delete_topics(gone)
    finally:
        admin.close()


def raw_producer_rate(settings: Settings, topic: str, messages: list[tuple[bytes, bytes]]) -> float:
    """Messages per second a bare kafka-python producer (the connector's settings) sends and has acknowledged."""
    producer = make_producer(settings, client_id="svh-bench-producer")
    try:
        producer.send(topic, key=b"warm-up", value=b"")  # connection and metadata outside the timing
        producer.flush(30)
        started = time.perf_counter()
        futures = [producer.send(topic, key=key, value=value) for key, value in messages]
        producer.flush(120)
        for fut in futures:
            fut.get(timeout=30)
        return len(messages) / (time.perf_counter() - started)
    finally:
        producer.close()


async def _bare_stage(settings: Settings, schemas: SchemaRepository, source_topic: str, out_topic: str,
                      group: str, expected: int, key: bytes, timeout_s: float) -> float:
    shared = schemas.get(SHARED_EVENT)
    header = SINGLE_OBJECT_MAGIC + shared.fingerprint
    consumer = AIOKafkaConsumer(source_topic, bootstrap_servers=settings.kafka_bootstrap, group_id=group,
                                auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=FETCH)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5,
                                max_batch_size=512 * 1024)
    await consumer.start()
    await producer.start()
    try:
        done = 0
        started: float | None = None
        deadline = time.monotonic() + timeout_s
        while done < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=FETCH)
            if not batches:
                continue
            if started is None:
                started = time.perf_counter()
            futures: list[Any] = []
            for tp, messages in batches.items():
                for msg in messages:
                    body = io.BytesIO(msg.value)
                    body.seek(HEADER_LENGTH)
                    writer = schemas.writer_of(msg.value)
                    record: Any = schemaless_reader(body, writer.parsed, None)
                    event_id = "ev-" + hmac.digest(key, str(record["record_id"]).encode(), "sha256")[:15].hex()
                    out = io.BytesIO()
                    out.write(header)
                    schemaless_writer(out, shared.parsed, {
                        "event_id": event_id, "source": "police_incident", "agreement_id": "bench",
                        "agreement_version": "1", "key_id": "bench", "occurred_date": record["occurred_from"].date(),
                        "flags": {}, "attributes": {}, "persons": [], "withheld_fields": []})
                    futures.append(await producer.send(out_topic, out.getvalue(), key=event_id.encode(),
                                                       partition=tp.partition))
                done += len(messages)
            await asyncio.gather(*futures)
            await consumer.commit()
        if started is None or done < expected:
            raise TimeoutError(f"the bare stage handled {done} of {expected} messages in {timeout_s:.0f} s")
        return done / (time.perf_counter() - started)
    finally:
        await producer.stop()
        await consumer.stop()


def bare_stage_rate(settings: Settings, schemas: SchemaRepository, source_topic: str, out_topic: str,
                    group: str, expected: int, timeout_s: float = 600.0) -> float:
    """Events per second of the bare stage over ``expected`` messages of ``source_topic`` (from the start)."""
    key = b"bench-key-" + group.encode()
    return asyncio.run(_bare_stage(settings, schemas, source_topic, out_topic, group, expected, key, timeout_s))
