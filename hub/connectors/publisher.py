"""Publishing to Kafka with kafka-python: Avro records to the raw topic, bad rows to the dead-letter topic.

acks=all and the idempotent producer, keyed by record id (so one record's versions keep their
order). Every record read is either published or dead-lettered, and counted; ``flush`` returns
only once every send so far is acknowledged, so callers checkpoint after it (at-least-once);
``close`` also checks that the counts add up.
"""

from __future__ import annotations

import contextlib
from collections import deque
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.structs import TopicPartition

from hub import logs, metrics
from hub.config import Settings
from hub.connectors import bulk
from hub.connectors.base import Encoded, RunReport, SourceRecord
from hub.dead_letters import CSV_HEADER, dead_letter_headers
from hub.schemas import RAW_SCHEMAS, SchemaRepository
from hub.topics import Topics

log = logs.get(__name__)
Item = tuple[bytes, bytes, int] | SourceRecord  # as hub.connectors.feed hands them over
SETTLE_EVERY = 5000  # past twice this many unacknowledged sends, publish waits for the oldest this many (bounds memory)


def producer_kwargs(settings: Settings, **extra: Any) -> dict[str, Any]:
    """Everything a connector's KafkaProducer is built with: connection and security from ``settings``."""
    return {**settings.kafka_python_kwargs(), "acks": "all", "enable_idempotence": True, "linger_ms": 20,
            "batch_size": 256 * 1024, "compression_type": None, "client_id": "svh-connector", **extra}


def make_producer(settings: Settings, **extra: Any) -> KafkaProducer:
    return KafkaProducer(**producer_kwargs(settings, **extra))


class KafkaPublisher:
    """What every publisher shares: the producer, the counts, and acknowledgement before checkpoints.

    Subclasses decide what a record becomes (``publish``) and call ``_sent``/``_dead`` to count it.
    """

    def __init__(self, settings: Settings, source: str, producer: KafkaProducer | None = None) -> None:
        self.source = source
        self.dlq_topic = Topics(settings.topic_prefix).dlq(source)
        self.producer = producer or make_producer(settings)
        self.report = RunReport(source)
        self._pending: deque[tuple[Any, int]] = deque()  # (a future with ``get``, how many sends it confirms)
        self._unsettled = 0  # sends in ``_pending``
        self._read_total = metrics.RECORDS_READ.labels(source)  # label look-ups once, not per record
        self._published_total = metrics.RECORDS_PUBLISHED.labels(source)

    def _read(self) -> None:
        self.report.read += 1
        self._read_total.inc()

    def _send(self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        self._pending.append((self.producer.send(topic, key=key, value=value, headers=headers), 1))
        self._unsettled += 1

    def _published(self) -> None:
        self.report.published += 1
        self._published_total.inc()

    def _dead(self, stage: str, kind: str) -> None:
        self.report.dead_lettered += 1
        self.report.errors[kind] = self.report.errors.get(kind, 0) + 1
        metrics.dead_lettered(self.source, stage, kind)

    def _settle_if_many(self) -> None:
        """Bound the sends awaiting acknowledgement: past ``2 * SETTLE_EVERY``, wait for the oldest
        ``SETTLE_EVERY`` (long sent, usually acknowledged already) while the newest stay in flight, so the
        producer is never drained empty mid-file as a ``flush`` would. Raises if one was not acknowledged."""
        if self._unsettled >= 2 * SETTLE_EVERY:
            settled = 0
            while settled < SETTLE_EVERY and self._pending:
                fut, n = self._pending[0]
                fut.get(timeout=30.0)
                self._pending.popleft()
                settled += n
            self._unsettled -= settled

    def _before_flush(self) -> None:
        """Anything else that must be durable before a checkpoint (the at-source quarantine file)."""

    def _release(self) -> None:
        """Close what the subclass holds besides the producer."""

    def flush(self, timeout_s: float = 30.0) -> None:
        """Block until every send so far is acknowledged by the broker; raises if one was not."""
        self._before_flush()
        self.producer.flush(timeout=timeout_s)
        for fut, _n in self._pending:
            fut.get(timeout=timeout_s)  # raises if the broker did not acknowledge
        self._pending.clear()
        self._unsettled = 0

    def abandon(self) -> None:
        """Drop the producer without waiting (after a failure): unacknowledged sends are not checkpointed,
        so the caller re-reads them."""
        self._pending.clear()
        self._unsettled = 0
        self._release()
        try:
            self.producer.close(timeout=0)
        except KafkaError:
            # kafka-python's close flushes first, and flush(0) raises while batches are unfinished, before the
            # sender is stopped (found by review: the failure then surfaced as that timeout, with a traceback, and
            # the producer stayed open). Force the sender closed, which fails its unfinished batches, then close.
            sender = getattr(self.producer, "_sender", None)
            if sender is not None and sender.is_alive():
                sender.force_close()
                sender.join(5.0)
            with contextlib.suppress(KafkaError):
                self.producer.close(timeout=0)

    def close(self) -> RunReport:
        self.flush()
        self._release()
        self.producer.close()
        if not self.report.balanced:  # pragma: no cover - guarded by construction
            raise RuntimeError(f"conservation broken for {self.source}: {self.report.as_dict()}")
        return self.report


class Publisher(KafkaPublisher):
    """Records of a source pseudonymised at the hub: Avro to the restricted raw topic, bad rows (original
    bytes) to the restricted dead-letter topic."""

    def __init__(self, settings: Settings, source: str, schemas: SchemaRepository,
                 producer: KafkaProducer | None = None) -> None:
        super().__init__(settings, source, producer)
        self.schema_name = RAW_SCHEMAS[source]
        self.schemas = schemas
        self.raw_topic = Topics(settings.topic_prefix).raw(source)
        self._headers = [("svh.source", source.encode()), ("svh.schema", self.schema_name.encode())]  # every record's
        self._partitions: list[int] | None = None  # the raw topic's, asked once (publish_many)
        self._tps: list[TopicPartition] = []
        self._bulk: bulk.BulkAppender | None = None  # None (once decided): ``send`` per record
        self._bulk_decided = False

    def publish(self, rec: SourceRecord | Encoded) -> None:
        if type(rec) is tuple:  # a row the compiled plan encoded: exactly the message of its record
            key, value = rec
            self._read()
            self._send(self.raw_topic, key, value, self._headers)
            self._published()
            self._settle_if_many()
            return
        assert isinstance(rec, SourceRecord)
        self._read()
        if rec.error is None and rec.record is not None:
            try:
                value = self.schemas.encode(self.schema_name, rec.record)
            except ValueError as exc:
                self._dead_letter(rec, "encode", type(exc).__name__, str(exc), "schema_mismatch", None)
                return
            record_id = rec.record.get("record_id") or rec.record_id or ""
            self._send(self.raw_topic, str(record_id).encode(), value, self._headers)
            self._published()
        else:
            err = rec.error
            assert err is not None
            self._dead_letter(rec, "validate", type(err).__name__, str(err), err.kind, err.column)
        self._settle_if_many()

    def partitions(self) -> list[int]:
        """The raw topic's partitions, asked of the broker once (the producer's first metadata request waits out
        its retry backoff, about 0.1 s after it connected). Sends nothing."""
        if self._partitions is None:
            self._partitions = sorted(self.producer.partitions_for(self.raw_topic))
            self._tps = [TopicPartition(self.raw_topic, p) for p in self._partitions]
        return self._partitions

    def publish_many(self, items: list[Item]) -> None:
        """``publish`` for a batch from ``hub.connectors.feed``: a (key, value, key hash) is a row the compiled
        plan encoded, sent as ``publish`` would send its record, to the partition kafka-python's default
        partitioner gives its key; a ``SourceRecord`` goes through ``publish``. Counted once per batch.

        With a producer ``hub.connectors.bulk`` can append to, the encoded rows go to the accumulator a
        partition's run at a time (the same records, headers and partitions, in the same order per partition;
        each batch's acknowledgement confirms its rows); a ``SourceRecord`` first appends the runs before it,
        so every partition keeps the file's order."""
        parts = self._partitions or self.partitions()
        n = len(parts)
        if not self._bulk_decided:
            self._bulk = bulk.BulkAppender(self.producer, self._headers) if bulk.usable(self.producer) else None
            self._bulk_decided = True
        sent = 0
        if self._bulk is not None:
            runs: list[list[tuple[bytes, bytes]]] = [[] for _ in parts]
            for item in items:
                if type(item) is tuple:
                    key, value, h = item
                    runs[h % n].append((key, value))
                    sent += 1
                else:
                    self._append_runs(runs)
                    self.publish(item)  # type: ignore[arg-type]
            self._append_runs(runs)
        else:
            send, pending, topic, headers = self.producer.send, self._pending.append, self.raw_topic, self._headers
            for item in items:
                if type(item) is tuple:
                    key, value, h = item
                    pending((send(topic, value=value, key=key, headers=headers, partition=parts[h % n]), 1))
                    sent += 1
                else:
                    self.publish(item)  # type: ignore[arg-type]
            self._unsettled += sent
        self.report.read += sent
        self.report.published += sent
        if sent:
            self._read_total.inc(sent)
            self._published_total.inc(sent)
        self._settle_if_many()

    def _append_runs(self, runs: list[list[tuple[bytes, bytes]]]) -> None:
        """Each partition's run of encoded rows to the accumulator (``publish_many``); empties the runs."""
        assert self._bulk is not None
        for i, run in enumerate(runs):
            if run:
                acks = self._bulk.append(self._tps[i], run)
                self._pending.extend(acks)
                self._unsettled += len(run)
                run.clear()

    def _dead_letter(self, rec: SourceRecord, stage: str, cls: str, message: str, kind: str,
                     column: str | None) -> None:
        # Position and column only: the record id is already the message key, and messages echo no values.
        reason = f"{rec.position}: {message}"
        headers = dead_letter_headers(source=self.source, stage=stage, error_class=cls, message=reason,
                                      position=rec.position, error_kind=kind, column=column)
        if rec.header is not None:
            headers.append((CSV_HEADER, rec.header))  # column names, for `hub dlq replay` after a mapping fix
        self._send(self.dlq_topic, rec.record_id.encode() if rec.record_id else None, rec.original, headers)
        self._dead(stage, kind)
        # Logged without the record id or values: position and column only.
        log.warning("dead-lettered a record", extra={"source": self.source, "stage": stage, "error": kind,
                                                      "row": rec.position, "field": column})
