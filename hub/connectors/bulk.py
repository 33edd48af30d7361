"""Pre-encoded records appended to kafka-python's record accumulator in bulk, one partition's run at a time.

Why: ``KafkaProducer.send`` is pure Python and does, for every record, what the connector has already
settled once for the file: type checks of key, value and the headers, serialisers, a metadata look-up, the
partitioner, a size estimate, a lock, a ``FutureRecordMetadata`` with a callback, and
``DefaultRecordBatchBuilder.append`` encoding the (same two) headers again. Profiled, that is ~80% of the
sending process, so the connector's sender cost as much as the whole raw producer it is measured against,
and the reading process came on top. ``BulkAppender.append`` writes a run of records for one partition
straight into the partition's open ``ProducerBatch`` (or new ones, exactly as the accumulator would make
them) under the accumulator's own partition lock, in Kafka's record format v2, byte for byte what
``DefaultRecordBatchBuilder.append`` would have written (a unit test builds both ways and compares the
batches). Everything after the append is kafka-python's own: linger, draining, the idempotent producer's
sequence numbers (assigned from ``next_offset()`` when a batch is drained), acks=all, retries, expiry.

Delivery is confirmed per batch instead of per record: every record of a batch is in its one produce
request, and the batch's ``produce_future`` is completed once, successfully only if the broker
acknowledged the whole batch (``BatchAck.get`` raises otherwise, as ``FutureRecordMetadata.get`` would for
each of its records). A batch split after MESSAGE_TOO_LARGE (kafka-python re-binds per-record futures, which
these records do not have) never completes its first future: the producer's ``flush`` and ``BatchAck.get``
then time out rather than confirm (``hub connector load``: exit 75); the connector's batches (256 KiB) are
far below the broker's 1 MiB limit, so it does not happen.

Version safety: this relies on private kafka-python attributes (``_accumulator``, ``_sender``, the
accumulator's ``_batches``/``_tp_lock``/``_incomplete``/``_appends_in_progress``, ``MemoryRecordsBuilder``'s
``_builder``/``_next_offset``/``_closed`` and ``DefaultRecordBatchBuilder``'s buffer and counters). They are
checked against the versions listed in ``VERIFIED`` (pyproject pins kafka-python to 3.0.12, and a unit test
says the pinned version is listed); on any other version, a
transactional producer, or a message format below v2, ``usable`` says no and the publisher calls ``send``
per record, as before. Real-broker tests (tests/connectors/test_bulk_append.py) read back every record and
fail if one is lost, doubled, reordered, moved to another partition or its headers changed.
"""

from __future__ import annotations

import time
from typing import Any

import kafka
from kafka import errors as kafka_errors
from kafka.producer.producer_batch import ProducerBatch
from kafka.producer.record_accumulator import RecordAccumulator
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecordsBuilder
from kafka.structs import TopicPartition

VERIFIED = frozenset({"3.0.12"})
"""kafka-python versions whose accumulator and batch builder this module was read against and tested with."""


def zigzag_varint(value: int) -> bytes:
    """Kafka's signed varint (zigzag, then base-128), as ``kafka.record.util.encode_varint`` writes it."""
    value = (value << 1) ^ (value >> 63)
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


_VARINTS = [zigzag_varint(i) for i in range(1 << 14)]  # lengths, offsets and small timestamp deltas


def _varint(value: int, _table: list[bytes] = _VARINTS, _n: int = 1 << 14) -> bytes:
    return _table[value] if 0 <= value < _n else zigzag_varint(value)


def encoded_headers(headers: list[tuple[str, bytes]]) -> bytes:
    """A record's headers as record format v2 writes them after the value: the count, then each key and value."""
    out = [_varint(len(headers))]
    for name, value in headers:
        raw = name.encode("utf-8")
        out += [_varint(len(raw)), raw, _varint(len(value)), value]
    return b"".join(out)


def usable(producer: Any) -> bool:
    """Whether ``producer`` is a kafka-python producer this module can append to (see the module's docstring)."""
    if kafka.__version__ not in VERIFIED:
        return False
    acc = getattr(producer, "_accumulator", None)
    if not isinstance(acc, RecordAccumulator) or getattr(producer, "_sender", None) is None:
        return False
    tm = acc.config.get("transaction_manager")
    return acc.config.get("message_version") == 2 and not (tm is not None and tm.is_transactional())


class BatchAck:
    """Waits for one batch's acknowledgement: ``get`` returns once the broker acknowledged every record in it
    and raises if it did not (an error, a timeout, or a batch split, whose records these futures do not follow)."""

    __slots__ = ("_future",)

    def __init__(self, future: Any) -> None:
        self._future = future

    def get(self, timeout: float | None = None) -> None:
        fut = self._future
        if not fut.wait(timeout) or not fut.is_done:
            raise kafka_errors.KafkaTimeoutError(f"batch for {fut.topic_partition} not acknowledged within {timeout} s"
                                                 " (or split after MESSAGE_TOO_LARGE)")
        if fut.failed():
            raise fut.exception
        _base_offset, _timestamp, record_errors = fut.value
        if record_errors is not None:  # the whole batch failed: the same exception each record's future would raise
            raise record_errors(0)


class BulkAppender:
    """Appends runs of (key, value) records, all with the same headers, to one producer's partitions."""

    def __init__(self, producer: Any, headers: list[tuple[str, bytes]]) -> None:
        if not usable(producer):
            raise ValueError("this kafka-python producer cannot be appended to in bulk (see hub.connectors.bulk)")
        self._producer = producer
        self._acc: RecordAccumulator = producer._accumulator
        self._headers = encoded_headers(headers)
        self._max_request: int = producer.config["max_request_size"]
        # what KafkaProducer._estimate_size_in_bytes adds to key, value and headers (batch header, record overhead)
        builder = DefaultRecordBatchBuilder
        self._overhead: int = builder.HEADER_STRUCT.size + builder.MAX_RECORD_OVERHEAD

    def _new_batch(self, tp: TopicPartition, now: float) -> ProducerBatch:
        """A batch as ``RecordAccumulator.append`` makes one."""
        config = self._acc.config
        return ProducerBatch(tp, MemoryRecordsBuilder(config["message_version"], config["compression_attrs"],
                                                      config["batch_size"]), now=now)

    def append(self, tp: TopicPartition, records: list[tuple[bytes, bytes]]) -> list[tuple[BatchAck, int]]:
        """Append ``records`` (non-empty key and value bytes, in this order) to ``tp``; returns each batch they went
        into with how many of them. Raises as ``send`` would for a closed producer or a record over
        ``max_request_size`` (records before it are appended)."""
        producer, acc = self._producer, self._acc
        if producer._closed:
            raise kafka_errors.IllegalStateError("KafkaProducer already closed!")
        now = time.monotonic()
        timestamp = int(time.time() * 1000)
        acks: list[tuple[BatchAck, int]] = []
        wake = False
        acc._appends_in_progress.increment()
        try:
            with acc._tp_lock(tp):
                if acc._closed:
                    raise kafka_errors.IllegalStateError("RecordAccumulator is closed")
                dq = acc._batches[tp]
                batch = dq[-1] if dq else None
                at, total = 0, len(records)
                while at < total:
                    if batch is None or batch.records._closed:
                        # refuse a record too large for any batch before making one: an empty batch left queued
                        # would be sent, and the broker's INVALID_RECORD is fatal to an idempotent producer
                        self._refuse_if_too_large(records[at])
                        batch = self._new_batch(tp, now)
                        dq.append(batch)
                        acc._incomplete.add(batch)
                        wake = True
                    done = fill(batch, records, at, timestamp, now, self._headers, self._max_request)
                    if done > at:
                        acks.append((BatchAck(batch.produce_future), done - at))
                    if done < total:
                        self._refuse_if_too_large(records[done])  # else the batch is full
                        batch = None  # full: the next records go to a new batch
                    at = done
                wake = wake or len(dq) > 1 or dq[-1].records.is_full()
        finally:
            acc._appends_in_progress.decrement()
        if wake:
            producer._sender.wakeup()
        return acks

    def _size(self, record: tuple[bytes, bytes]) -> int:
        key, value = record
        # KafkaProducer._estimate_size_in_bytes: batch header, record overhead, key, value and headers with lengths
        return self._overhead + len(_varint(len(key))) + len(key) + len(_varint(len(value))) + len(value) + len(
            self._headers)

    def _refuse_if_too_large(self, record: tuple[bytes, bytes]) -> None:
        """Raise as ``send``'s size check does for a record over ``max_request_size``."""
        if self._size(record) > self._max_request:
            raise kafka_errors.MessageSizeTooLargeError(
                f"The message is {self._size(record)} bytes when serialized which is larger than the maximum "
                "request size you have configured with the max_request_size configuration")


def fill(batch: ProducerBatch, records: list[tuple[bytes, bytes]], at: int, timestamp: int, now: float,
         headers: bytes, max_request: int) -> int:
    """Write records from ``at`` into ``batch`` while they fit, exactly as ``DefaultRecordBatchBuilder.append``
    (offset = the builder's next offset, timestamp delta from its first record) and ``ProducerBatch.try_append``
    would; returns the index of the first record not written."""
    mrb = batch.records
    builder = mrb._builder
    buf: bytearray = builder._buffer
    limit = builder._batch_size
    room = max_request - DefaultRecordBatchBuilder.HEADER_STRUCT.size - DefaultRecordBatchBuilder.MAX_RECORD_OVERHEAD \
        - len(headers)  # for key and value with their lengths: what send's size check allows
    offset = mrb._next_offset
    first = builder._first_timestamp is None
    head = b"\x00" + _varint(0 if first else timestamp - builder._first_timestamp)  # attributes, timestamp delta
    biggest = 0
    table, n_table = _VARINTS, 1 << 14
    i, total = at, len(records)
    while i < total:
        key, value = records[i]
        kl, vl = len(key), len(value)
        if kl + vl + 10 > room and len(_varint(kl)) + kl + len(_varint(vl)) + vl > room:
            break  # the caller raises, as send's size check (``_estimate_size_in_bytes``) would
        body = b"".join((head, table[offset] if offset < n_table else zigzag_varint(offset),
                         table[kl] if kl < n_table else zigzag_varint(kl), key,
                         table[vl] if vl < n_table else zigzag_varint(vl), value, headers))
        length = len(body)
        prefix = table[length] if length < n_table else zigzag_varint(length)
        size = length + len(prefix)
        if size + len(buf) > limit and not first:
            break
        buf += prefix
        buf += body
        if first:
            builder._first_timestamp = builder._max_timestamp = timestamp
            first = False
        offset += 1
        if size > biggest:
            biggest = size
        i += 1
    if i > at:
        if builder._max_timestamp < timestamp:
            builder._max_timestamp = timestamp
        builder._num_records += i - at
        builder._last_offset = offset - 1
        mrb._next_offset = offset
        batch.max_record_size = max(batch.max_record_size, biggest)
        batch.last_append = now
    return i
