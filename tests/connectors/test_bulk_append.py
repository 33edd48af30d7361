"""The connector's bulk path (``hub.connectors.bulk``: encoded rows appended to kafka-python's accumulator a
partition's run at a time) on the real broker: what a consumer reads is exactly what ``send`` per record puts
there (the same records, keys, headers and partitions, in the same order, none lost or doubled), and a batch
the broker does not acknowledge makes the publish fail instead of being counted as delivered."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError

from hub import kafka_admin
from hub.config import Settings
from hub.connectors import CsvFileConnector, bulk, default_mapping_path, feed, load_mapping
from hub.connectors import publisher as publisher_module
from hub.connectors.base import SourceRecord
from hub.connectors.load import NotDelivered, publish_file
from hub.connectors.publisher import Publisher, make_producer
from hub.kafka_read import Message, read_topic
from hub.schemas import RAW_SCHEMAS, shipped_schemas
from hub.synth import generate_police_extract
from hub.topics import Topics
from tests.integration.faults import OwnBroker

SOURCE = "police_incident"
HEADERS = [("svh.source", SOURCE.encode()), ("svh.schema", RAW_SCHEMAS[SOURCE].encode())]


def _by_partition(messages: list[Message]) -> dict[int, list[tuple[bytes | None, bytes | None, list[Any]]]]:
    out: dict[int, list[tuple[bytes | None, bytes | None, list[Any]]]] = {}
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        out.setdefault(m.partition, []).append((m.key, m.value, m.headers))
    return out


@pytest.fixture
def counted_appends(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many records went through ``BulkAppender.append`` (so a test knows the bulk path was taken)."""
    seen: list[int] = []
    real = bulk.BulkAppender.append

    def append(self: bulk.BulkAppender, tp: Any, records: list[tuple[bytes, bytes]]) -> Any:
        seen.append(len(records))
        return real(self, tp, records)

    monkeypatch.setattr(bulk.BulkAppender, "append", append)
    return seen


def test_publish_file_in_bulk_puts_exactly_what_send_puts(settings: Settings, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          counted_appends: list[int]) -> None:
    """``hub connector load`` over an extract with bad rows, once in bulk and once with ``send`` per record
    (``bulk.usable`` says no): per partition the same (key, value, headers) in the same order, every good row
    once, the same dead letters."""
    monkeypatch.setattr(feed, "CHILD_MIN_BYTES", 0)
    manifest = generate_police_extract(tmp_path / "data", seed=11, incidents=1500)
    mapping = load_mapping(default_mapping_path(SOURCE))
    by_send = settings.replace(topic_prefix=settings.topic_prefix + "-send")
    kafka_admin.ensure_topics(settings, [SOURCE])
    kafka_admin.ensure_topics(by_send, [SOURCE])

    report = publish_file(settings, mapping, manifest.extract_csv)
    assert sum(counted_appends) == report.published > 1000  # the bulk path took every encoded row
    monkeypatch.setattr(bulk, "usable", lambda producer: False)
    counted_appends.clear()
    reference = publish_file(by_send, mapping, manifest.extract_csv)
    assert counted_appends == []
    assert (report.read, report.published, report.dead_lettered) == (
        reference.read, reference.published, reference.dead_lettered)

    got = read_topic(settings, Topics(settings.topic_prefix).raw(SOURCE))
    want = read_topic(by_send, Topics(by_send.topic_prefix).raw(SOURCE))
    assert len(got) == report.published
    assert _by_partition(got) == _by_partition(want)
    assert all(m.headers == HEADERS for m in got)
    expected = Counter(x[:2] for x in CsvFileConnector(manifest.extract_csv, mapping).encoded(shipped_schemas())
                       if type(x) is tuple)
    assert Counter((m.key, m.value) for m in got) == expected  # every encoded row once, no other
    dead = read_topic(settings, Topics(settings.topic_prefix).dlq(SOURCE))
    dead_ref = read_topic(by_send, Topics(by_send.topic_prefix).dlq(SOURCE))
    # dead letters are sent with ``send`` either way; a keyless one goes to any partition
    assert Counter((m.key, m.value, tuple(m.headers)) for m in dead) == Counter(
        (m.key, m.value, tuple(m.headers)) for m in dead_ref) and len(dead) == report.dead_lettered


def _mixed_items(extract: Path, every: int) -> list[feed.Item]:
    """The extract's rows as ``publish_many`` takes them, with every ``every``-th good row handed over as its
    parsed ``SourceRecord`` (the reference path: ``send``) between encoded rows of the same partitions."""
    mapping = load_mapping(default_mapping_path(SOURCE))
    encoded = list(CsvFileConnector(extract, mapping).encoded(shipped_schemas()))
    records = list(CsvFileConnector(extract, mapping).records())
    assert len(encoded) == len(records)
    items: list[feed.Item] = []
    for i, (enc, rec) in enumerate(zip(encoded, records, strict=True)):
        if type(enc) is tuple and i % every:
            items.append((enc[0], enc[1], feed.key_hash(enc[0])))
        else:
            items.append(rec if isinstance(rec, SourceRecord) else enc)  # type: ignore[arg-type]
    return items


@pytest.mark.parametrize("batch_size", [700, 16 * 1024])
def test_small_batches_and_records_sent_between_runs_keep_every_partitions_order(
        settings: Settings, tmp_path: Path, batch_size: int, counted_appends: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Many batches per partition (a few records each: new batches, full batches, several in flight with their
    idempotent sequence numbers), rows sent by ``send`` between the bulk runs, and the publisher waiting for
    the oldest acknowledgements as it goes: per partition, the records arrive exactly in the order they were
    handed over, each once."""
    monkeypatch.setattr(publisher_module, "SETTLE_EVERY", 40)
    manifest = generate_police_extract(tmp_path / "data", seed=12, incidents=800)
    items = _mixed_items(manifest.extract_csv, every=5)
    kafka_admin.ensure_topics(settings, [SOURCE])
    publisher = Publisher(settings, SOURCE, shipped_schemas(), producer=make_producer(settings, batch_size=batch_size))
    for at in range(0, len(items), 97):
        publisher.publish_many(items[at:at + 97])
    report = publisher.close()
    assert counted_appends and sum(counted_appends) < report.published  # both paths were taken

    parts = sorted(publisher.partitions())
    schemas = shipped_schemas()
    want: dict[int, list[tuple[bytes | None, bytes | None, list[Any]]]] = {}
    for item in items:
        if type(item) is tuple:
            key, value, h = item
        else:
            assert isinstance(item, SourceRecord)
            if item.record is None or item.error is not None:
                continue  # a dead letter
            key = str(item.record.get("record_id") or item.record_id or "").encode()
            value, h = schemas.encode(RAW_SCHEMAS[SOURCE], item.record), feed.key_hash(key)
        want.setdefault(parts[h % len(parts)], []).append((key, value, HEADERS))
    got = read_topic(settings, Topics(settings.topic_prefix).raw(SOURCE))
    assert len(got) == report.published == sum(map(len, want.values()))
    assert _by_partition(got) == want


def _topic_with(settings: Settings, configs: dict[str, str]) -> None:
    admin = KafkaAdminClient(**settings.kafka_python_kwargs(), client_id="svh-test-admin")
    try:
        admin.create_topics([NewTopic(Topics(settings.topic_prefix).raw(SOURCE), 2, 1, topic_configs=configs)])
    finally:
        admin.close()


@pytest.mark.parametrize("configs", [
    {"message.timestamp.before.max.ms": "1"},  # every record's timestamp too old when it arrives: INVALID_TIMESTAMP
    {"max.message.bytes": "2000"},  # MESSAGE_TOO_LARGE: kafka-python splits the batch, which these rows don't follow
], ids=["refused", "split"])
def test_a_batch_the_broker_does_not_acknowledge_fails_the_publish(
        settings: Settings, tmp_path: Path, counted_appends: list[int], configs: dict[str, str]) -> None:
    """The publish raises instead of confirming rows the broker refused (the bulk path's acknowledgement wait
    raises), or rows kafka-python re-sent in split batches (their first batch is never completed, so the
    producer's flush and the acknowledgement wait both time out)."""
    manifest = generate_police_extract(tmp_path / "data", seed=13, incidents=300)
    items = [(x[0], x[1], feed.key_hash(x[0])) for x in CsvFileConnector(
        manifest.extract_csv, load_mapping(default_mapping_path(SOURCE))).encoded(shipped_schemas())
        if type(x) is tuple]
    _topic_with(settings, configs)
    publisher = Publisher(settings, SOURCE, shipped_schemas(), producer=make_producer(settings))
    publisher.publish_many(items)  # type: ignore[arg-type]
    assert sum(counted_appends) == len(items)
    try:
        with pytest.raises(KafkaError):
            publisher.flush(timeout_s=8)
    finally:
        publisher.abandon()


def test_hub_connector_load_stops_with_one_line_when_kafka_refuses_the_rows(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, counted_appends: list[int]) -> None:
    """``publish_file`` over a topic that refuses every record: ``NotDelivered`` (a ``ReadingFailed``, which
    ``hub`` turns into one line and exit 75, load again), naming the error class and no value."""
    monkeypatch.setattr(feed, "CHILD_MIN_BYTES", 0)
    manifest = generate_police_extract(tmp_path / "data", seed=14, incidents=300)
    _topic_with(settings, {"message.timestamp.before.max.ms": "1"})
    kafka_admin.ensure_topics(settings, [SOURCE])  # the others (the dead-letter topic)
    with pytest.raises(NotDelivered, match=r"^police_extract.csv: Kafka did not acknowledge every record sent "
                                           r"\(\w+Error\); load the file again") as caught:
        publish_file(settings, load_mapping(default_mapping_path(SOURCE)), manifest.extract_csv)
    assert isinstance(caught.value, feed.ReadingFailed) and counted_appends


def _encoded_items(tmp_path: Path, seed: int, incidents: int) -> list[Any]:
    manifest = generate_police_extract(tmp_path / "data", seed=seed, incidents=incidents)
    return [(x[0], x[1], feed.key_hash(x[0])) for x in CsvFileConnector(
        manifest.extract_csv, load_mapping(default_mapping_path(SOURCE))).encoded(shipped_schemas())
        if type(x) is tuple]


def test_abandoning_with_batches_still_lingering_closes_the_producer_without_raising(
        settings: Settings, tmp_path: Path, counted_appends: list[int]) -> None:
    """After a failure the load abandons its producer while batches are unfinished. kafka-python's ``close(0)``
    flushes first and its flush raises then; ``abandon`` must still stop the sender and close the producer, so the
    load's own error (one line, exit 75) is what the operator sees (found by review: a traceback, the producer
    left open)."""
    items = _encoded_items(tmp_path, seed=15, incidents=200)
    kafka_admin.ensure_topics(settings, [SOURCE])
    publisher = Publisher(settings, SOURCE, shipped_schemas(), producer=make_producer(settings, linger_ms=5000))
    publisher.publish_many(items)  # type: ignore[arg-type]
    assert counted_appends and publisher.producer._accumulator.has_incomplete  # lingering: nothing sent yet
    publisher.abandon()
    assert publisher.producer._closed and not publisher.producer._sender.is_alive()


def test_a_record_too_large_for_a_request_is_refused_without_leaving_an_empty_batch(settings: Settings) -> None:
    """A record over ``max_request_size`` is refused as ``send`` refuses it, before any batch is made for it: an
    empty batch left queued would be sent, and the broker's INVALID_RECORD is fatal to the idempotent producer,
    so every later record (dead letters too) would fail (found by review)."""
    kafka_admin.ensure_topics(settings, [SOURCE])
    topic = Topics(settings.topic_prefix).raw(SOURCE)
    producer = make_producer(settings, max_request_size=2000)
    try:
        producer.partitions_for(topic)
        tp = bulk.TopicPartition(topic, 0)
        appender = bulk.BulkAppender(producer, HEADERS)
        with pytest.raises(bulk.kafka_errors.MessageSizeTooLargeError):
            appender.append(tp, [(b"k", b"x" * 3000)])
        assert not producer._accumulator._batches[tp]  # no empty batch queued
        acks = appender.append(tp, [(b"k", b"fits")])
        later = producer.send(topic, key=b"k2", value=b"fits too", partition=0)
        for ack, n in acks:
            ack.get(timeout=30)
            assert n == 1
        assert later.get(timeout=30).partition == 0
    finally:
        producer.close(timeout=5)
    got = read_topic(settings, topic)
    assert sorted(m.value for m in got if m.partition == 0) == [b"fits", b"fits too"]


@pytest.mark.slow  # about a minute: its own broker started twice
def test_a_broker_restart_mid_publish_loses_and_doubles_nothing(settings: Settings, tmp_path: Path,
                                                                own_broker: OwnBroker,
                                                                counted_appends: list[int]) -> None:
    """Rows appended in bulk just before the broker stops (some in flight) and while it is down are retried by
    kafka-python's sender once it is back; with the idempotent producer's sequence numbers on bulk-written batches,
    each partition then holds every row once, in the order handed over."""
    s = settings.replace(kafka_bootstrap=own_broker.bootstrap)
    kafka_admin.ensure_topics(s, [SOURCE])
    manifest = generate_police_extract(tmp_path / "data", seed=15, incidents=3000)
    items: list[feed.Item] = [(x[0], x[1], feed.key_hash(x[0])) for x in CsvFileConnector(
        manifest.extract_csv, load_mapping(default_mapping_path(SOURCE))).encoded(shipped_schemas())
        if type(x) is tuple]
    half, three_quarters = len(items) // 2, 3 * len(items) // 4
    publisher = Publisher(s, SOURCE, shipped_schemas(), producer=make_producer(s))
    for at in range(0, half, 500):
        publisher.publish_many(items[at:min(at + 500, half)])
    publisher.flush()
    publisher.publish_many(items[half:three_quarters])  # lingering or in flight when the broker stops
    own_broker.stop()
    publisher.publish_many(items[three_quarters:])  # appended while it is down
    own_broker.start()
    report = publisher.close()  # raises unless every batch was acknowledged
    assert sum(counted_appends) == report.published == len(items)

    parts = publisher.partitions()
    want: dict[int, list[tuple[bytes | None, bytes | None, list[Any]]]] = {}
    for key, value, h in items:  # type: ignore[misc]
        want.setdefault(parts[h % len(parts)], []).append((key, value, HEADERS))
    got = read_topic(s, Topics(s.topic_prefix).raw(SOURCE))
    assert len(got) == len(items)
    assert _by_partition(got) == want
