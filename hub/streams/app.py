"""The Faust worker: pseudonymise raw events into shared events, link persons, sink into the mart.

The pseudonymise stage splits each event: the shared event (no token) goes to ``svh.shared``, the
persons' linkage tokens to the restricted ``svh.link.tokens`` that only the link stage reads. The link
stage gives every person mention a pseudonymous person id (``svh.linked``); the sink writes events and,
from ``svh.linked``, person mentions and merges into the restricted layer of the mart. Every
``incident_match_interval_s`` the sink re-matches ED attendances to police incidents for the months its
writes touched (``hub.mart.incident_matches``), so the released share of ED assaults the police never
heard of is current without a command run by hand.

One actor per agent (faust#606 loses messages with concurrency > 1); scale with partitions.
Values are raw bytes and decoded in the agent, so a bad payload becomes a dead letter with its
reason instead of a codec crash. Every mart write is an idempotent upsert keyed by event id,
because Faust delivers at least once. Faust's web server is off: it would serve table state.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn, TypeVar

import faust
from sqlalchemy.exc import DataError, IntegrityError

from hub import logs, metrics
from hub.config import Settings
from hub.dead_letters import dead_letter_headers
from hub.linkage.messages import LINKED_EVENT, linked_event
from hub.linkage.model_file import ModelFile
from hub.mart import incident_matches, persons, store
from hub.policy import Agreement, NoAgreementError
from hub.policy.conformance import EventRules
from hub.pseudonymisation import PseudonymisationError, Pseudonymiser
from hub.schemas import RAW_SCHEMAS, SHARED_EVENT, SchemaError, SchemaRepository
from hub.streams import drain, membership
from hub.streams.batch import BatchSender, Outgoing
from hub.streams.boundary import Boundary
from hub.streams.credentials import broker_credentials
from hub.streams.lane import Lane
from hub.streams.lane import run as run_lane
from hub.streams.link import LinkState, replay
from hub.streams.made import MADE_HERE_MAX, MadeHere
from hub.streams.mart_write import MartWrites
from hub.topics import Topics

log = logs.get(__name__)

PSEUDONYMISE_BATCH = 500
PSEUDONYMISE_WITHIN_S = 0.2
SINK_BATCH = 500
SINK_WITHIN_S = 0.25
LINK_BATCH = 500
LINK_WITHIN_S = 0.2
STREAM_BUFFER = 2 * PSEUDONYMISE_BATCH
"""Events Faust buffers per stream (its default is 4,096): two batches keep a stage busy, and a shorter queue
keeps the sink close behind the pseudonymise stage, so the events it made are still in ``MadeHere``."""
PRODUCER_BATCH_BYTES = 512 * 1024
"""Record batch size per partition: a 500-event batch of ~1.5 kB events goes in a few record batches, not
dozens of 16 kB ones (each waits for the one before on its partition). The broker's message.max.bytes
(~1 MB by default) caps it."""


class StreamWorker:
    """Builds the Faust app for the given stages; holds the pure core objects the agents use."""

    def __init__(self, settings: Settings, agreement: Agreement, pseudonymiser: Pseudonymiser,
                 schemas: SchemaRepository, stages: Sequence[str] = ("pseudonymise", "sink"),
                 linkage_model: ModelFile | None = None) -> None:
        self.settings = settings
        self.agreement = agreement
        self.pseudonymiser = pseudonymiser
        self.schemas = schemas
        self.boundary = Boundary(schemas, pseudonymiser)
        self.topics = Topics(settings.topic_prefix)
        self.sources = sorted(RAW_SCHEMAS)
        self.engine = store.connect(settings.mart) if "sink" in stages else None
        # The sink's event writes: on the event loop's thread for a SQLite file (hub.streams.mart_write)
        self.mart_writes = MartWrites(self.engine, _finish_in_thread) if self.engine is not None else None
        self.app = faust.App(
            settings.app_id,
            broker=[f"kafka://{hp}" for hp in settings.kafka_bootstrap.split(",")],
            store="memory://",
            datadir=str(settings.data_dir / "faust"),
            web_enabled=False,
            web_tables_enabled=False,
            topic_partitions=settings.topic_partitions,
            topic_replication_factor=settings.topic_replication_factor,
            topic_allow_declare=False,  # topics are created with their retention by hub.kafka_admin
            consumer_auto_offset_reset="earliest",
            broker_commit_interval=0.5,
            stream_buffer_maxsize=STREAM_BUFFER,
            Monitor=drain.LeanMonitor,
            producer_acks=-1,
            producer_linger=0.005,
            producer_max_batch_size=PRODUCER_BATCH_BYTES,
            broker_credentials=broker_credentials(settings),
            **membership.faust_options(settings),
        )
        self.lanes = drain.install(self.app)  # Faust's consumer, one delivery task per fetch, and batch lanes
        # The stages that take their batches straight from the consumer (hub.streams.lane). Not the sink when
        # the alert stage runs here: its Faust stream reads svh.shared too, and a lane takes a topic whole.
        self.laned = {"pseudonymise", "sink"} & set(stages) if settings.worker_batch_lane else set()
        if "alerts" in stages:
            self.laned.discard("sink")
        self._raw_to_source = {self.topics.raw(s): s for s in self.sources}
        self._at_source_topics = {self.topics.at_source(s): s for s in self.sources}
        self.rules = EventRules(agreement, schemas)  # a producer's word is never trusted
        self._at_source = {name for name, src in agreement.sources.items() if src.pseudonymise_at == "source"}
        self._dlq_topics = {s: self.topics.dlq(s) for s in self.sources}
        self._shared = self._topic(self.topics.shared)
        self.sender = BatchSender(self.app)
        self.made = MadeHere(MADE_HERE_MAX if {"pseudonymise", "sink"} <= set(stages) else 0)
        self._link_tokens = self._topic(self.topics.link_tokens)
        self._linked = self._topic(self.topics.linked)
        self.link_state: LinkState | None = None
        if "link" in stages:
            if linkage_model is None:
                raise ValueError("the link stage needs a linkage model")
            self.link_state = LinkState(linkage_model, schemas)
            self.app.agent(self._link_tokens, name="link", concurrency=1)(self._link)
        if "pseudonymise" in stages:
            inputs = self._topic(*self._raw_to_source, *self._at_source_topics)
            self.app.agent(inputs, name="pseudonymise", concurrency=1)(
                self._on_lane("pseudonymise", inputs.topics, PSEUDONYMISE_BATCH, self._pseudonymise_batch)
                if "pseudonymise" in self.laned else self._pseudonymise)
        self.incident_months = incident_matches.MonthsTouched()
        if "sink" in stages:
            self.app.agent(self._shared, name="sink", concurrency=1)(
                self._on_lane("sink", self._shared.topics, SINK_BATCH, self._sink_batch)
                if "sink" in self.laned else self._sink)
            self.app.agent(self._linked, name="sink_persons", concurrency=1)(self._sink_persons)
            if settings.incident_match_interval_s > 0:
                self.app.timer(settings.incident_match_interval_s, name="incident_matches")(self._refresh_incidents)
        self.alert_stage: Any = None  # hub.streams.alerts.AlertStage, added by hub.streams.worker.build

    def _topic(self, *names: str) -> Any:
        return self.app.topic(*names, key_type=bytes, value_type=bytes, key_serializer="raw",
                              value_serializer="raw", internal=False)

    def _on_lane(self, stage: str, topics: Sequence[str], max_: int,
                 handle: Callable[[list[Any]], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
        """The agent of a stage on a batch lane: its topics' messages come from the consumer a fetch at a time
        (``hub.streams.lane``), not through Faust's stream; acks, offsets and commits stay Faust's."""
        lane = self.lanes.add(Lane(stage, topics, STREAM_BUFFER))  # a revocation empties it (drain.py)

        async def agent(stream: Any) -> None:
            await run_lane(self.app, lane, stream, max_, handle, die)

        agent.__name__ = agent.__qualname__ = f"{stage}_lane"
        return agent

    # -- pseudonymise -------------------------------------------------------------------------------

    async def _pseudonymise(self, stream: Any) -> None:
        # A batch amortises Faust's per-event machinery, and everything per event that need not be: the
        # batch's messages go to Kafka in bulk (BatchSender), metrics are counted once per batch. Every
        # event of the batch is handled without an await, then the batch waits for Kafka to acknowledge
        # every send before the next one: take_events acks the whole batch when it moves on, so nothing
        # is acked unsent.
        async for batch in stream.take_events(PSEUDONYMISE_BATCH, within=PSEUDONYMISE_WITHIN_S):
            await self._pseudonymise_batch([event.message for event in batch])

    async def _pseudonymise_batch(self, messages: list[Any]) -> None:
        """One batch of raw messages: every event handled without an await, then the whole batch's output
        handed to Kafka and acknowledged (or the process ends) before the caller may ack the batch."""
        started = time.perf_counter()
        out: list[Outgoing] = []
        tally: Counter[tuple[str, str]] = Counter()
        withheld: Counter[tuple[str, str]] = Counter()
        for msg in messages:
            source = self._raw_to_source.get(msg.topic) or self._at_source_topics.get(msg.topic, "unknown")
            try:
                outcome = self._pseudonymise_one(source, msg, out, withheld)
            except Exception as exc:  # noqa: BLE001 - see below
                # An exception escaping here would end the batch: take_events would ack the whole batch on
                # the way out, so the rest of it would be committed unprocessed (lost); the batch lane would
                # end the process. Either way one bad message must not cost the batch.
                # Its message may quote a value: the dead letter names only the class.
                outcome = self._dead_letter(source, msg, "pseudonymise", exc, "unexpected", out,
                                            message=f"unexpected {type(exc).__name__} (message withheld)")
            tally[source, outcome] += 1
        self.made.trim()
        await deliver(self.sender, out, "pseudonymise")
        for (source, outcome), n in tally.items():
            metrics.STAGE_CONSUMED.labels("pseudonymise", source).inc(n)
            metrics.STAGE_PROCESSED.labels("pseudonymise", source, outcome).inc(n)
        for (source, name), n in withheld.items():
            metrics.FIELDS_WITHHELD.labels(source, name).inc(n)
        metrics.STAGE_SECONDS.labels("pseudonymise").observe(time.perf_counter() - started)
        metrics.LAST_EVENT.labels("pseudonymise").set_to_current_time()

    def _pseudonymise_one(self, source: str, msg: Any, out: list[Outgoing],
                          withheld: Counter[tuple[str, str]]) -> str:
        """Handle one raw message, adding what it sends to ``out``: the shared event and, if any person has
        tokens, the link-tokens message (both keyed by event id), or one dead letter; returns the outcome."""
        payload: bytes = msg.value or b""
        if msg.topic in self._at_source_topics:
            return self._admit_one(source, msg, out)
        boundary = self.boundary  # the same steps ``hub bench core`` measures
        try:
            record = boundary.decode(source, payload)
        except SchemaError as exc:
            return self._dead_letter(source, msg, "deserialise", exc, "undecodable", out)
        try:
            shared, fields_withheld = boundary.apply(source, record)
        except NoAgreementError as exc:
            return self._dead_letter(source, msg, "policy", exc, "no_agreement", out)
        except PseudonymisationError as exc:
            return self._dead_letter(source, msg, "pseudonymise", exc, "unpseudonymisable", out)
        try:  # tokens never travel beside analysts' attributes
            event, value, token_value = boundary.encode_event(shared)
        except SchemaError as exc:
            return self._dead_letter(source, msg, "encode", exc, "schema_mismatch", out)
        self.made.add(value, event)
        key = shared["event_id"].encode()
        out.append(Outgoing(self.topics.shared, msg.partition, key, value, [("svh.source", source.encode())]))
        if token_value is not None:  # one partition: every candidate match meets there
            out.append(Outgoing(self.topics.link_tokens, 0, key, token_value, [("svh.source", source.encode())]))
        for name in fields_withheld:
            withheld[source, name] += 1
        return "emitted"

    def _admit_one(self, source: str, msg: Any, out: list[Outgoing]) -> str:
        """An event pseudonymised at a source joins the shared stream only if the agreement lets that source
        be pseudonymised there, it was not made with the hub's key, and every value conforms; otherwise it is
        dead-lettered with the reason (on the source's restricted dead-letter topic)."""
        try:
            _, event = self.schemas.decode(msg.value or b"", expect=SHARED_EVENT)
        except SchemaError as exc:
            return self._dead_letter(source, msg, "deserialise", exc, "undecodable", out)
        problems = self.rules.problems(event, at="source")
        if event.get("key_id") in self.pseudonymiser.ring.keys:
            problems.append("it was made with the hub's key, which no agency may hold")
        if event.get("source") != source:
            problems.insert(0, f"it names another source than its topic's ({source})")
        if problems:
            refused = PseudonymisationError("; ".join(problems))
            return self._dead_letter(source, msg, "policy", refused, "nonconforming", out)
        self.made.add(msg.value, event)
        out.append(Outgoing(self.topics.shared, msg.partition, event["event_id"].encode(), msg.value,
                            [("svh.source", source.encode())]))
        return "emitted"

    def _dead_letter(self, source: str, msg: Any, stage: str, exc: Exception, kind: str, out: list[Outgoing],
                     message: str | None = None) -> str:
        # Before the boundary: the original bytes go to the source's restricted dead-letter topic.
        position = f"{msg.topic}[{msg.partition}]@{msg.offset}"
        headers = dead_letter_headers(source=source, stage=stage, error_class=type(exc).__name__,
                                      message=str(exc) if message is None else message, position=position,
                                      error_kind=kind, topic=msg.topic, partition=msg.partition, offset=msg.offset)
        # Never svh.dlq.shared: that topic is after the boundary, and these bytes hold identifiers. A source
        # pseudonymised at source keeps its dead-letter topic free of records: raw bytes that reach the hub
        # by mistake stay on the restricted raw topic, and the dead letter is a notice without a value.
        value = None if source in self._at_source else msg.value
        out.append(Outgoing(self._dlq_topics[source], msg.partition, msg.key, value, headers))
        metrics.dead_lettered(source, stage, kind)
        log.warning("dead-lettered a message", extra={"source": source, "stage": stage, "error": kind,
                                                       "topic": msg.topic, "partition": msg.partition,
                                                       "offset": msg.offset})
        return "dead_lettered"

    # -- link ---------------------------------------------------------------------------------------

    async def _link(self, stream: Any) -> None:
        # Rebuild the person index from the token topic up to the committed offset before taking any
        # message (see hub/streams/link.py): a restarted worker carries on from exactly where it was.
        state = self.link_state
        assert state is not None
        await asyncio.to_thread(replay, state, self.settings, self.topics.link_tokens, self.settings.app_id)
        async for batch in stream.take_events(LINK_BATCH, within=LINK_WITHIN_S):
            started = time.perf_counter()
            out: list[Outgoing] = []
            emitted: Counter[str] = Counter()
            for event in batch:
                msg = event.message
                try:
                    message = state.decode(msg.value or b"")
                except SchemaError as exc:
                    out.append(self._link_dead_letter(msg, exc, "undecodable"))
                    continue
                source = str(message["source"])
                linked = linked_event(message, state.link(message), state.model.version)
                # Partition 0 of svh.linked, like the token topic: linked events keep the link stage's order.
                out.append(Outgoing(self.topics.linked, 0, msg.key, self.schemas.encode(LINKED_EVENT, linked),
                                    [("svh.source", source.encode())]))
                emitted[source] += 1
            await deliver(self.sender, out, "link")
            for source, n in emitted.items():  # counted once per batch, after Kafka acknowledged it
                metrics.STAGE_CONSUMED.labels("link", source).inc(n)
                metrics.STAGE_PROCESSED.labels("link", source, "emitted").inc(n)
            metrics.STAGE_SECONDS.labels("link").observe(time.perf_counter() - started)
            metrics.LAST_EVENT.labels("link").set_to_current_time()

    def _link_dead_letter(self, msg: Any, exc: Exception, kind: str) -> Outgoing:
        # The value holds linkage tokens: the dead letter is a notice without it (svh.dlq.shared is not
        # restricted); the message stays on the restricted token topic.
        position = f"{msg.topic}[{msg.partition}]@{msg.offset}"
        headers = dead_letter_headers(source="shared", stage="link", error_class=type(exc).__name__,
                                      message=f"{kind}: {type(exc).__name__}", position=position, error_kind=kind,
                                      topic=msg.topic, partition=msg.partition, offset=msg.offset)
        metrics.dead_lettered("shared", "link", kind)
        metrics.STAGE_CONSUMED.labels("link", "unknown").inc()
        metrics.STAGE_PROCESSED.labels("link", "unknown", "dead_lettered").inc()
        return Outgoing(self.topics.shared_dlq, msg.partition, msg.key, None, headers)

    async def _sink_persons(self, stream: Any) -> None:
        async for batch in stream.take_events(SINK_BATCH, within=SINK_WITHIN_S):
            out: list[Outgoing] = []
            linked: list[dict[str, Any]] = []
            for event in batch:
                msg = event.message
                try:
                    _, record = self.schemas.decode(msg.value or b"", expect=LINKED_EVENT)
                except SchemaError as exc:
                    out.append(self._sink_dead_letter(msg, exc, "undecodable"))
                    continue
                linked.append(record)
            if linked:
                await self._write_persons(linked)
            await deliver(self.sender, out, "sink")

    async def _write_persons(self, linked: list[dict[str, Any]]) -> None:
        """Persons, mentions and merges into the restricted layer; an outage is retried, never dropped."""
        engine = self.engine
        assert engine is not None
        written = await retry_mart("sink", lambda: _finish_in_thread(persons.upsert_linked, engine, linked))
        metrics.MART_ROWS.labels("person_mention").inc(written)

    # -- sink ---------------------------------------------------------------------------------------

    async def _sink(self, stream: Any) -> None:
        async for batch in stream.take_events(SINK_BATCH, within=SINK_WITHIN_S):
            await self._sink_batch([event.message for event in batch])

    async def _sink_batch(self, messages: list[Any]) -> None:
        """One batch of shared events into the mart (retried through an outage; a row the database refuses is
        dead-lettered), its dead letters acknowledged by Kafka, before the caller may ack the batch."""
        started = time.perf_counter()
        good: list[tuple[dict[str, Any], Any]] = []
        out: list[Outgoing] = []
        made = self.made
        for msg in messages:
            record = made.take(msg.value)
            if record is not None:  # these very bytes were made and checked here (see MadeHere)
                good.append((record, msg))
                continue
            try:
                _, record = self.schemas.decode(msg.value or b"", expect=SHARED_EVENT)
            except SchemaError as exc:
                out.append(self._sink_dead_letter(msg, exc, "undecodable"))
                continue
            problems = self.rules.problems(record)
            if problems:  # forged or mis-produced: never written, and its bytes (which may hold anything)
                refused = PseudonymisationError("; ".join(problems))  # stay off the dead-letter topic
                out.append(self._sink_dead_letter(msg, refused, "nonconforming", message=str(refused),
                                                  keep_value=False))
                continue
            good.append((record, msg))
        written = await self._write_with_retry(good, out)
        self.incident_months.note(written)  # after the write: the next refresh sees these events
        await deliver(self.sender, out, "sink")
        by_source = Counter(record["source"] for record in written)
        for source, n in by_source.items():
            metrics.STAGE_CONSUMED.labels("sink", source).inc(n)
            metrics.STAGE_PROCESSED.labels("sink", source, "emitted").inc(n)
        if out:  # consumed = emitted + dead-lettered
            metrics.STAGE_CONSUMED.labels("sink", "unknown").inc(len(out))
            metrics.STAGE_PROCESSED.labels("sink", "unknown", "dead_lettered").inc(len(out))
        metrics.STAGE_SECONDS.labels("sink").observe(time.perf_counter() - started)
        metrics.LAST_EVENT.labels("sink").set_to_current_time()

    async def _refresh_incidents(self, *_: Any) -> None:
        """Re-match ED attendances to police incidents for the months written since the last refresh (all of
        them on the first run). A failure is logged and counted, and its months are tried again next time."""
        assert self.engine is not None
        months = self.incident_months.take()
        if months is not None and not months:  # nothing written since: every noted month is refreshed
            metrics.INCIDENT_MATCH_REFRESHES.labels("idle").inc()
            return
        started = time.perf_counter()
        try:
            stored = await asyncio.to_thread(incident_matches.refresh, self.engine, months=months)
        except Exception as exc:  # noqa: BLE001 - the mart may be down: try again on the next tick
            self.incident_months.give_back(months)
            metrics.INCIDENT_MATCH_REFRESHES.labels("failed").inc()
            log.error("incident match refresh failed; retrying on the next tick",
                      extra={"stage": "sink", "error": type(exc).__name__})
            return
        metrics.INCIDENT_MATCH_REFRESHES.labels("done").inc()
        metrics.INCIDENT_MATCH_LAST.set_to_current_time()
        log.info("incident matches refreshed", extra={"stage": "sink", "table": "incident_match", "count": stored,
                                                      "status": "all months" if months is None else
                                                      f"{len(months)} months",
                                                      "seconds": round(time.perf_counter() - started, 3)})

    async def _write_with_retry(self, good: list[tuple[dict[str, Any], Any]],
                                out: list[Outgoing]) -> list[dict[str, Any]]:
        """Write a batch; returns the events written. A mart outage must not lose events: retry with back-off
        while the offsets stay uncommitted. A row the database itself rejects (bad data, a constraint) is
        dead-lettered alone, so one poison event cannot stall the pipeline. A SQLite mart is written on the
        event loop's thread (``hub.streams.mart_write``: no cancellation half-way, a bounded wait for the lock)."""
        writes = self.mart_writes
        assert writes is not None
        events = [record for record, _ in good]

        async def whole_batch() -> list[dict[str, Any]]:
            metrics.MART_ROWS.labels("event").inc(await writes("event", store.upsert_events, events))
            return events

        try:
            return await retry_mart("sink", whole_batch, failures="event", refused=(DataError, IntegrityError))
        except (DataError, IntegrityError):  # the batch holds a row the database refuses: find it
            return await retry_mart("sink", lambda: self._write_one_by_one(good, out), failures="event")

    async def _write_one_by_one(self, good: list[tuple[dict[str, Any], Any]],
                                out: list[Outgoing]) -> list[dict[str, Any]]:
        writes = self.mart_writes
        assert writes is not None
        written: list[dict[str, Any]] = []
        for record, msg in good:
            try:
                await writes("event", store.upsert_events, [record])
                written.append(record)
            except (DataError, IntegrityError) as exc:
                out.append(self._sink_dead_letter(msg, exc, "rejected_by_mart"))
        metrics.MART_ROWS.labels("event").inc(len(written))
        return written

    def _sink_dead_letter(self, msg: Any, exc: Exception, kind: str, message: str | None = None,
                          keep_value: bool = True) -> Outgoing:
        # After the boundary: pseudonymised bytes only. Database messages quote values: class only.
        position = f"{msg.topic}[{msg.partition}]@{msg.offset}"
        headers = dead_letter_headers(source="shared", stage="sink", error_class=type(exc).__name__,
                                      message=message or f"{kind}: {type(exc).__name__}", position=position,
                                      error_kind=kind, topic=msg.topic, partition=msg.partition, offset=msg.offset)
        metrics.dead_lettered("shared", "sink", kind)
        return Outgoing(self.topics.shared_dlq, msg.partition, msg.key, msg.value if keep_value else None, headers)


T = TypeVar("T")
EXIT_REDELIVER = 75  # EX_TEMPFAIL: the supervisor restarts the worker and Kafka redelivers the batch
DELIVERY_TIMEOUT_S = 120.0


def die(stage: str, reason: str) -> NoReturn:
    """Crash-only: leave at once, committing nothing, so Kafka redelivers the uncommitted batch on restart.

    Raising instead would let Faust's take_events ack the batch on the way out, and lose it.
    """
    log.critical("stopping the worker without committing", extra={"stage": stage, "status": reason})
    logging.shutdown()
    os._exit(EXIT_REDELIVER)


async def confirm_delivery(futures: list[Any], stage: str) -> None:
    """Wait until Kafka acknowledged every send of the batch; a failed or timed-out send ends the process."""
    if not futures:
        return
    gathered = asyncio.gather(*futures)
    try:
        await asyncio.wait_for(asyncio.shield(gathered), DELIVERY_TIMEOUT_S)
    except asyncio.CancelledError:
        # Shutting down: give the in-flight sends a moment; acknowledged, the batch may be acked.
        try:
            await asyncio.wait_for(asyncio.shield(gathered), 10.0)
        except BaseException:  # noqa: BLE001 - anything but a confirmed delivery
            die(stage, "stopped before Kafka acknowledged the batch")
        raise
    except Exception as exc:  # noqa: BLE001 - a delivery error or a timeout
        die(stage, f"Kafka did not acknowledge a send ({type(exc).__name__})")


async def deliver(sender: BatchSender, messages: list[Outgoing], stage: str) -> None:
    """Hand a batch's messages to Kafka and wait for every acknowledgement, or end the process.

    Handing over awaits too (a partition's previous record batch must be in flight first), so it gets
    the same care as the acknowledgements: an error ends the process unacknowledged, and a stop while
    handing over lets it finish (or ends the process) before the batch may be acked on the way out.
    """
    task = asyncio.ensure_future(sender.send(messages))
    try:
        futures = await asyncio.shield(task)
    except asyncio.CancelledError:
        try:
            futures = await asyncio.wait_for(task, 10.0)
        except BaseException:  # noqa: BLE001 - anything but a completed hand-over
            die(stage, "stopped before the batch was handed to Kafka")
        await confirm_delivery(futures, stage)
        raise
    except Exception as exc:  # noqa: BLE001 - the producer refused the batch
        die(stage, f"Kafka did not take the batch ({type(exc).__name__})")
    await confirm_delivery(futures, stage)


async def retry_mart(stage: str, attempt: Callable[[], Awaitable[T]], *, failures: str | None = None,
                     refused: tuple[type[Exception], ...] = ()) -> T:
    """Run a mart call until it succeeds. An outage must not lose a batch: it is retried with back-off (0.5 s,
    doubling to 30 s) while the batch's offsets stay uncommitted; stopped meanwhile, the process ends so
    Kafka redelivers. ``refused`` errors (the database rejecting a row) are raised to the caller at once;
    ``failures`` names the ``svh_mart_write_failures_total`` label an outage counts under."""
    delay = 0.5
    while True:
        try:
            return await attempt()
        except refused:
            raise
        except Exception as exc:  # noqa: BLE001 - an outage: retried, never dropped
            if failures is not None:
                metrics.MART_WRITE_FAILURES.labels(failures).inc()
            log.error("mart write failed; retrying", extra={"stage": stage, "error": type(exc).__name__,
                                                            "seconds": delay})
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                die(stage, "stopped while the mart was unavailable; the batch will be redelivered")
            delay = min(delay * 2, 30.0)


async def _finish_in_thread(func: Any, *args: Any) -> Any:
    """Run a blocking write in a thread; if the agent is cancelled meanwhile, let the write finish first
    (it is idempotent) or end the process, never leave the batch to be acked half-written."""
    task = asyncio.ensure_future(asyncio.to_thread(func, *args))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        try:
            await asyncio.wait_for(task, 30.0)
        except BaseException:  # noqa: BLE001
            die("sink", "stopped before the mart write completed")
        raise
