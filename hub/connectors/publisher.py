"""Publishing to Kafka with kafka-python: Avro records to the raw topic, bad rows to the dead-letter topic.

acks=all and the idempotent producer, keyed by record id (so one record's versions keep their
order). Every record read is either published or dead-lettered, and counted; ``close`` checks
every send was acknowledged and that the counts add up.
"""

from __future__ import annotations

from typing import Any

from kafka import KafkaProducer

from hub import logs, metrics
from hub.config import Settings
from hub.connectors.base import RunReport, SourceRecord
from hub.dead_letters import dead_letter_headers
from hub.schemas import RAW_SCHEMAS, SchemaRepository
from hub.topics import Topics

log = logs.get(__name__)
def make_producer(settings: Settings, **extra: Any) -> KafkaProducer:
    return KafkaProducer(**settings.kafka_python_kwargs(), acks="all", enable_idempotence=True, linger_ms=20,
                         batch_size=256 * 1024, compression_type=None, client_id="svh-connector", **extra)


class Publisher:
    def __init__(self, settings: Settings, source: str, schemas: SchemaRepository,
                 producer: KafkaProducer | None = None) -> None:
        self.source = source
        self.schema_name = RAW_SCHEMAS[source]
        self.schemas = schemas
        topics = Topics(settings.topic_prefix)
        self.raw_topic = topics.raw(source)
        self.dlq_topic = topics.dlq(source)
        self.producer = producer or make_producer(settings)
        self.report = RunReport(source)
        self._pending: list[Any] = []

    def publish(self, rec: SourceRecord) -> None:
        self.report.read += 1
        metrics.RECORDS_READ.labels(self.source).inc()
        if rec.error is None and rec.record is not None:
            try:
                value = self.schemas.encode(self.schema_name, rec.record)
            except ValueError as exc:
                self._dead_letter(rec, "encode", type(exc).__name__, str(exc), "schema_mismatch", None)
                return
            key = (rec.record_id or "").encode()
            headers = [("svh.source", self.source.encode()), ("svh.schema", self.schema_name.encode())]
            self._pending.append(self.producer.send(self.raw_topic, key=key, value=value, headers=headers))
            self.report.published += 1
            metrics.RECORDS_PUBLISHED.labels(self.source).inc()
        else:
            err = rec.error
            assert err is not None
            self._dead_letter(rec, "validate", type(err).__name__, str(err), err.kind, err.column)
        if len(self._pending) >= 5000:
            self._settle()

    def _dead_letter(self, rec: SourceRecord, stage: str, cls: str, message: str, kind: str,
                     column: str | None) -> None:
        reason = f"{rec.position}" + (f" ({rec.record_id})" if rec.record_id else "") + f": {message}"
        headers = dead_letter_headers(source=self.source, stage=stage, error_class=cls, message=reason,
                                      position=rec.position, error_kind=kind, column=column)
        key = rec.record_id.encode() if rec.record_id else None
        self._pending.append(self.producer.send(self.dlq_topic, key=key, value=rec.original, headers=headers))
        self.report.dead_lettered += 1
        self.report.errors[kind] = self.report.errors.get(kind, 0) + 1
        metrics.dead_lettered(self.source, stage, kind)
        # Logged without the record id or values: position and column only.
        log.warning("dead-lettered a record", extra={"source": self.source, "stage": stage, "error": kind,
                                                      "row": rec.position, "field": column})

    def _settle(self) -> None:
        self.producer.flush()
        for fut in self._pending:
            fut.get(timeout=30)  # raises if the broker did not acknowledge
        self._pending.clear()

    def close(self) -> RunReport:
        self._settle()
        self.producer.close()
        if not self.report.balanced:  # pragma: no cover - guarded by construction
            raise RuntimeError(f"conservation broken for {self.source}: {self.report.as_dict()}")
        return self.report
