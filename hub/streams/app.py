"""The Faust worker: pseudonymise raw events into shared events, and sink shared events into the mart.

One actor per agent (faust#606 loses messages with concurrency > 1); scale with partitions.
Values are raw bytes and decoded in the agent, so a bad payload becomes a dead letter with its
reason instead of a codec crash. Every mart write is an idempotent upsert keyed by event id,
because Faust delivers at least once. Faust's web server is off: it would serve table state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import faust

from hub import logs, metrics
from hub.config import Settings
from hub.dead_letters import dead_letter_headers
from hub.mart import store
from hub.policy import Agreement, NoAgreementError
from hub.pseudonymisation import PseudonymisationError, Pseudonymiser
from hub.schemas import RAW_SCHEMAS, SHARED_EVENT, SchemaError, SchemaRepository
from hub.topics import Topics

log = logs.get(__name__)

PSEUDONYMISE_BATCH = 500
PSEUDONYMISE_WITHIN_S = 0.2
SINK_BATCH = 500
SINK_WITHIN_S = 0.5


class StreamWorker:
    """Builds the Faust app for the given stages; holds the pure core objects the agents use."""

    def __init__(self, settings: Settings, agreement: Agreement, pseudonymiser: Pseudonymiser,
                 schemas: SchemaRepository, stages: Sequence[str] = ("pseudonymise", "sink")) -> None:
        self.settings = settings
        self.agreement = agreement
        self.pseudonymiser = pseudonymiser
        self.schemas = schemas
        self.topics = Topics(settings.topic_prefix)
        self.sources = sorted(RAW_SCHEMAS)
        self.engine = store.connect(settings.mart) if "sink" in stages else None
        self.app = faust.App(
            settings.app_id,
            broker=[f"kafka://{hp}" for hp in settings.kafka_bootstrap.split(",")],
            store="memory://",
            datadir=str(settings.data_dir / "faust"),
            web_enabled=False,
            web_tables_enabled=False,
            topic_partitions=settings.topic_partitions,
            topic_allow_declare=False,  # topics are created with their retention by hub.kafka_admin
            consumer_auto_offset_reset="earliest",
            broker_commit_interval=0.5,
            producer_acks=-1,
            producer_linger=0.005,
        )
        self._raw_to_source = {self.topics.raw(s): s for s in self.sources}
        self._dlq_topics = {s: self._topic(self.topics.dlq(s)) for s in self.sources}
        self._shared_dlq = self._topic(self.topics.shared_dlq)
        self._shared = self._topic(self.topics.shared)
        if "pseudonymise" in stages:
            self.app.agent(self._topic(*self._raw_to_source), name="pseudonymise", concurrency=1)(self._pseudonymise)
        if "sink" in stages:
            self.app.agent(self._shared, name="sink", concurrency=1)(self._sink)

    def _topic(self, *names: str) -> Any:
        return self.app.topic(*names, key_type=bytes, value_type=bytes, key_serializer="raw",
                              value_serializer="raw", internal=False)

    # -- pseudonymise -------------------------------------------------------------------------------

    async def _pseudonymise(self, stream: Any) -> None:
        # Batches amortise Faust's per-event machinery; send_soon() queues without a round trip.
        # Faust flushes its producer buffer before committing offsets, so this stays at-least-once.
        async for batch in stream.take_events(PSEUDONYMISE_BATCH, within=PSEUDONYMISE_WITHIN_S):
            for event in batch:
                msg = event.message
                source = self._raw_to_source.get(msg.topic, "unknown")
                started = time.perf_counter()
                metrics.STAGE_CONSUMED.labels("pseudonymise", source).inc()
                try:
                    self._pseudonymise_one(source, msg)
                except Exception as exc:  # noqa: BLE001 - see below
                    # An exception escaping here would crash the agent, and take_events acks the whole batch
                    # on the way out, so the rest of the batch would be committed unprocessed (lost).
                    # Its message may quote a value: the dead letter names only the class.
                    self._dead_letter(source, msg, "pseudonymise", exc, "unexpected",
                                      message=f"unexpected {type(exc).__name__} (message withheld)")
                metrics.STAGE_SECONDS.labels("pseudonymise").observe(time.perf_counter() - started)
            metrics.LAST_EVENT.labels("pseudonymise").set_to_current_time()

    def _pseudonymise_one(self, source: str, msg: Any) -> None:
        payload: bytes = msg.value or b""
        try:
            _, record = self.schemas.decode(payload, expect=RAW_SCHEMAS.get(source, source))
        except SchemaError as exc:
            self._dead_letter(source, msg, "deserialise", exc, "undecodable")
            return
        try:
            result = self.pseudonymiser.apply(source, record)
        except NoAgreementError as exc:
            self._dead_letter(source, msg, "policy", exc, "no_agreement")
            return
        except PseudonymisationError as exc:
            self._dead_letter(source, msg, "pseudonymise", exc, "unpseudonymisable")
            return
        try:
            value = self.schemas.encode(SHARED_EVENT, result.shared)
        except SchemaError as exc:
            self._dead_letter(source, msg, "encode", exc, "schema_mismatch")
            return
        key = result.shared["event_id"].encode()
        self._shared.send_soon(key=key, value=value, headers=[("svh.source", source.encode())])
        for name in result.withheld:
            metrics.FIELDS_WITHHELD.labels(source, name).inc()
        metrics.STAGE_PROCESSED.labels("pseudonymise", source, "emitted").inc()

    def _dead_letter(self, source: str, msg: Any, stage: str, exc: Exception, kind: str,
                     message: str | None = None) -> None:
        # Before the boundary: the original bytes go to the source's restricted dead-letter topic.
        position = f"{msg.topic}[{msg.partition}]@{msg.offset}"
        headers = dead_letter_headers(source=source, stage=stage, error_class=type(exc).__name__,
                                      message=str(exc) if message is None else message, position=position,
                                      error_kind=kind, topic=msg.topic, partition=msg.partition, offset=msg.offset)
        # Never svh.dlq.shared: that topic is after the boundary, and these bytes hold identifiers.
        self._dlq_topics[source].send_soon(key=msg.key, value=msg.value, headers=headers)
        metrics.dead_lettered(source, stage, kind)
        metrics.STAGE_PROCESSED.labels("pseudonymise", source, "dead_lettered").inc()
        log.warning("dead-lettered a message", extra={"source": source, "stage": stage, "error": kind,
                                                       "topic": msg.topic, "partition": msg.partition,
                                                       "offset": msg.offset})

    # -- sink ---------------------------------------------------------------------------------------

    async def _sink(self, stream: Any) -> None:
        async for batch in stream.take_events(SINK_BATCH, within=SINK_WITHIN_S):
            started = time.perf_counter()
            shared: list[dict[str, Any]] = []
            for event in batch:
                msg = event.message
                try:
                    _, record = self.schemas.decode(msg.value or b"", expect=SHARED_EVENT)
                except SchemaError as exc:
                    await self._sink_dead_letter(msg, exc)
                    continue
                shared.append(record)
            await self._write_with_retry(shared)
            for record in shared:
                metrics.STAGE_CONSUMED.labels("sink", record["source"]).inc()
                metrics.STAGE_PROCESSED.labels("sink", record["source"], "emitted").inc()
            metrics.STAGE_SECONDS.labels("sink").observe(time.perf_counter() - started)
            metrics.LAST_EVENT.labels("sink").set_to_current_time()

    async def _write_with_retry(self, shared: list[dict[str, Any]]) -> None:
        """A mart outage must not lose events: retry with backoff; offsets stay uncommitted meanwhile."""
        assert self.engine is not None
        delay = 0.5
        while True:
            try:
                written = await asyncio.to_thread(store.upsert_events, self.engine, shared)
                metrics.MART_ROWS.labels("event").inc(written)
                return
            except Exception as exc:  # noqa: BLE001 - any database error is retried, never dropped
                log.error("mart write failed; retrying", extra={"stage": "sink", "error": type(exc).__name__,
                                                                "seconds": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _sink_dead_letter(self, msg: Any, exc: Exception) -> None:
        position = f"{msg.topic}[{msg.partition}]@{msg.offset}"
        headers = dead_letter_headers(source="shared", stage="sink", error_class=type(exc).__name__,
                                      message=str(exc), position=position, error_kind="undecodable",
                                      topic=msg.topic, partition=msg.partition, offset=msg.offset)
        await self._shared_dlq.send(key=msg.key, value=msg.value, headers=headers)
        metrics.dead_lettered("shared", "sink", "undecodable")
        metrics.STAGE_CONSUMED.labels("sink", "unknown").inc()  # consumed = emitted + dead-lettered
        metrics.STAGE_PROCESSED.labels("sink", "unknown", "dead_lettered").inc()
