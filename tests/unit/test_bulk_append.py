"""``hub.connectors.bulk`` writes exactly the batches kafka-python's own append would (no broker: the batches are
built both ways in memory and compared byte for byte after the producer state is set and they are closed).
The real-broker tests are in tests/connectors/test_bulk_append.py."""

from __future__ import annotations

import time

import kafka
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.producer.producer_batch import ProducerBatch
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords, MemoryRecordsBuilder
from kafka.record.util import encode_varint
from kafka.structs import TopicPartition

from hub.connectors import bulk

TP = TopicPartition("t", 0)
HEADERS = [("svh.source", b"police_incident"), ("svh.schema", b"svh.raw.police_incident.v1")]
MAX_REQUEST = 1024 * 1024


def _new(batch_size: int) -> ProducerBatch:
    return ProducerBatch(TP, MemoryRecordsBuilder(2, 0, batch_size), now=0.0)


def _reference(calls: list[tuple[int, list[tuple[bytes, bytes]]]], batch_size: int,
               headers: list[tuple[str, bytes]]) -> list[ProducerBatch]:
    """kafka-python's own way: ``ProducerBatch.try_append`` per record, a new batch when it returns None."""
    batches = [_new(batch_size)]
    for timestamp, records in calls:
        for key, value in records:
            if batches[-1].try_append(timestamp, key, value, headers, now=0.0) is None:
                batches.append(_new(batch_size))
                assert batches[-1].try_append(timestamp, key, value, headers, now=0.0) is not None
    return batches


def _bulk(calls: list[tuple[int, list[tuple[bytes, bytes]]]], batch_size: int,
          headers: list[tuple[str, bytes]]) -> list[ProducerBatch]:
    batches = [_new(batch_size)]
    blob = bulk.encoded_headers(headers)
    for timestamp, records in calls:
        at = 0
        while at < len(records):
            done = bulk.fill(batches[-1], records, at, timestamp, 0.0, blob, MAX_REQUEST)
            if done < len(records):
                batches.append(_new(batch_size))
            at = done
    return batches


def _closed_bytes(batches: list[ProducerBatch]) -> list[bytes]:
    out = []
    seq = 100
    for b in batches:
        if b.records.next_offset() == 0:
            continue
        b.records.set_producer_state(4242, 3, seq, False)  # as the accumulator's drain does
        seq += b.records.next_offset()
        b.records.close()
        out.append(bytes(b.records.buffer()))
    return out


record = st.tuples(st.binary(max_size=40), st.binary(max_size=600))
calls = st.lists(st.tuples(st.integers(min_value=-5, max_value=70_000), st.lists(record, max_size=60)), max_size=6)


@settings(max_examples=150, deadline=None)
@given(calls=calls, batch_size=st.sampled_from([64, 700, 4096, 256 * 1024]),
       headers=st.sampled_from([HEADERS, [], [("é", b"")]]))
def test_bulk_batches_are_byte_for_byte_kafka_pythons(calls: list[tuple[int, list[tuple[bytes, bytes]]]],
                                                      batch_size: int, headers: list[tuple[str, bytes]]) -> None:
    """Same records, same batch boundaries, same offsets, timestamps (deltas from each batch's first record,
    negative ones too), headers, producer state and CRC; and the batches decode to the records in order."""
    base = 1_764_000_000_000
    timed = [(base + t, recs) for t, recs in calls]
    ref, got = _closed_bytes(_reference(timed, batch_size, headers)), _closed_bytes(_bulk(timed, batch_size, headers))
    assert got == ref
    decoded = [(r.key, r.value, r.headers) for buf in got for b in MemoryRecords(buf) for r in b]
    assert decoded == [(k, v, headers) for _t, recs in timed for k, v in recs]


def test_large_keys_values_and_offsets_take_the_long_varints() -> None:
    """Lengths and offsets past the varint table (16,384) are written by the general encoder, still identical."""
    big = [(b"k" * 20_000, b"v" * 70_000)] + [(b"%d" % i, b"") for i in range(17_000)]
    timed = [(1_764_000_000_000, big)]
    assert _closed_bytes(_bulk(timed, 4 * 1024 * 1024, HEADERS)) == _closed_bytes(_reference(timed, 4 * 1024 * 1024,
                                                                                            HEADERS))


def test_fill_stops_at_a_record_send_would_refuse_as_too_large() -> None:
    """A record over ``max_request_size`` (send's own estimate) is not written: ``fill`` stops before it."""
    batch = _new(1024 * 1024)
    records = [(b"a", b"x" * 10), (b"b", b"x" * 2000), (b"c", b"x")]
    blob = bulk.encoded_headers(HEADERS)
    limit = DefaultRecordBatchBuilder.estimate_size_in_bytes(b"b", b"x" * 2000, HEADERS) - 1
    assert bulk.fill(batch, records, 0, int(time.time() * 1000), 0.0, blob, limit) == 1
    assert batch.records.next_offset() == 1
    assert bulk.fill(batch, records, 0, int(time.time() * 1000), 0.0, blob, limit + 1) == 3


@pytest.mark.parametrize("value", [0, 1, 63, 64, 127, 8191, 8192, 1 << 20, -1, -64, -65, (1 << 40) + 3])
def test_zigzag_varint_is_kafka_pythons(value: int) -> None:
    out = bytearray()
    encode_varint(value, out.append)
    assert bulk.zigzag_varint(value) == bytes(out)


def test_headers_encode_to_their_size() -> None:
    """The header blob's length is what kafka-python counts for the headers (count, keys and values)."""
    size = DefaultRecordBatchBuilder.size_of(None, None, HEADERS) - 2  # minus the null key's and value's bytes
    assert len(bulk.encoded_headers(HEADERS)) == size


def test_only_verified_kafka_python_versions_are_appended_to(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any other kafka-python version (its private accumulator may differ) makes the publisher use ``send``."""

    class NotAProducer:
        pass

    assert not bulk.usable(NotAProducer())
    monkeypatch.setattr(kafka, "__version__", "9.9.9")
    assert not bulk.usable(NotAProducer())
    assert kafka.__version__ not in bulk.VERIFIED


def test_the_pinned_kafka_python_is_a_verified_one() -> None:
    """pyproject pins kafka-python; moving the pin means reading its accumulator again and adding the version to
    ``VERIFIED`` (else the connector silently falls back to ``send`` per record and loses its speed)."""
    assert kafka.__version__ in bulk.VERIFIED
