"""What every connector mode shares: the ``Runtime`` (mapping, publisher, state folder) and its ``Health``.

``Runtime.publish_unit`` is the one place records go to Kafka, so the guarantees hold in every mode:
a checkpoint is written only after Kafka acknowledged what it covers (at-least-once), and every
record read is published or dead-lettered and counted. This module sits below the modes (they
receive a ``Runtime``) and below ``service``, which runs a mode; it imports neither.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub import kafka_admin, logs, metrics
from hub.config import Settings
from hub.connectors.at_source import make_publisher
from hub.connectors.base import Encoded, RecordSink, RunReport, SourceRecord
from hub.connectors.checkpoints import StateDir
from hub.connectors.mapping import FieldMapping
from hub.connectors.sections import ConnectorConfig
from hub.policy import NoAgreementError, load_agreement
from hub.pseudonymisation import load_keyring
from hub.schemas import RAW_SCHEMAS, SHARED_EVENT, default_repository
from hub.topics import Topics

log = logs.get(__name__)


def open_publisher(runtime: Runtime, producer: Any = None) -> RecordSink:
    """The publisher the agreement calls for (``at_source.make_publisher``): raw records to the hub, or,
    for a source pseudonymised at the source, shared events made inside the agency."""
    return make_publisher(runtime.settings, runtime.config.source, runtime.schemas, runtime.agreement,
                          runtime.keyring, runtime.mapping.lookup, runtime.quarantine_dir, producer=producer)


@dataclass
class UnitResult:
    report: RunReport  # this unit only
    complete: bool  # False if a stop request ended it at a checkpoint


class Health:
    """What ``/health`` says: Kafka reachability, the last success, counts since start."""

    def __init__(self, config: ConnectorConfig) -> None:
        self.config = config
        self.started_at = time.time()
        self.last_success: float | None = None
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.kafka_reachable: bool | None = None
        self.kafka_checked_at: float | None = None
        self.totals = RunReport(config.source)
        self.units: dict[str, int] = {}
        self.ready = False  # the mode is up (for HTTP push: listening)

    def unit(self, outcome: str, report: RunReport | None = None) -> None:
        self.units[outcome] = self.units.get(outcome, 0) + 1
        metrics.CONNECTOR_UNITS.labels(self.config.source, self.config.mode, outcome).inc()
        if report is not None:
            self.totals.add(report)
        if outcome != "failed":
            self.last_success = time.time()
            metrics.CONNECTOR_LAST_SUCCESS.labels(self.config.source).set(self.last_success)

    def failed(self, exc: BaseException) -> None:
        self.last_error = type(exc).__name__  # the class only: library messages may quote values
        self.last_error_at = time.time()
        self.unit("failed")

    def kafka(self, reachable: bool) -> None:
        self.kafka_reachable = reachable
        self.kafka_checked_at = time.time()
        metrics.CONNECTOR_KAFKA_UP.labels(self.config.source).set(1 if reachable else 0)

    @property
    def status(self) -> str:
        if self.kafka_reachable is None or not self.ready:
            return "starting"
        return "ok" if self.kafka_reachable else "kafka_unreachable"

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "name": self.config.name, "source": self.config.source,
                "mode": self.config.mode, "started_at": _iso(self.started_at),
                "last_success": _iso(self.last_success), "last_error": self.last_error,
                "last_error_at": _iso(self.last_error_at),
                "kafka": {"reachable": self.kafka_reachable, "checked_at": _iso(self.kafka_checked_at)},
                "counts": {**self.totals.as_dict(), "units": dict(sorted(self.units.items()))}}


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


class Runtime:
    """Everything a mode needs, and the one path from records to Kafka."""

    def __init__(self, config: ConnectorConfig, settings: Settings | None = None,
                 sink_factory: Callable[[], RecordSink] | None = None) -> None:
        self.config = config
        self.settings = settings or config.settings()
        self.mapping: FieldMapping = config.load_mapping()
        self.schemas = default_repository()
        self.topics = Topics(self.settings.topic_prefix)
        self.state = StateDir(config.state_dir)
        self.health = Health(config)
        self.stop = threading.Event()
        self._load_policy()
        self._sink_factory = sink_factory or (lambda: open_publisher(self))
        self._sink: RecordSink | None = None
        self._topics_ready = not config.kafka.create_topics

    def _load_policy(self) -> None:
        """The agreement decides where the source is pseudonymised; refuse to start without one, or without
        the key file a source pseudonymised here needs (fail at start-up, not on the first record)."""
        config = self.config
        self.agreement = load_agreement(self.settings.agreement_file())
        try:
            policy = self.agreement.source(config.source)
        except NoAgreementError:
            raise config.error("source", f"the agreement {self.settings.agreement_file()} does not cover "
                                         f"{config.source}: its records may not be shared") from None
        self.at_source = policy.pseudonymise_at == "source"
        self.keyring = (load_keyring(self.settings.keys_path, self.settings.key_environment()) if self.at_source
                        else None)
        self.quarantine_dir = config.pseudonymisation.quarantine or config.state_dir / "quarantine"
        self.output_topic = self.topics.at_source(config.source) if self.at_source else self.topics.raw(config.source)
        self.output_schema = SHARED_EVENT if self.at_source else RAW_SCHEMAS[config.source]

    def sink(self) -> RecordSink:
        """The open publisher; opened (and the topics created, if configured) on first use."""
        if self._sink is None:
            if not self._topics_ready:
                kafka_admin.ensure_topics(self.settings, [self.config.source], timeout_s=10,
                                          raw=not self.at_source)  # no raw topic for an at-source source
                self._topics_ready = True
            self._sink = self._sink_factory()
        return self._sink

    def discard_sink(self) -> None:
        """After a failure: drop the publisher without waiting; what it had not acknowledged is re-read."""
        sink, self._sink = self._sink, None
        if sink is not None:
            with contextlib.suppress(Exception):
                abandon = getattr(sink, "abandon", None)
                abandon() if abandon else sink.close()

    def publish_unit(self, records: Iterable[SourceRecord] | Iterable[SourceRecord | Encoded], unit: str,
                     on_checkpoint: Callable[[RunReport], None] | None = None,
                     on_record: Callable[[SourceRecord, bool], None] | None = None) -> UnitResult:
        """Publish ``records`` and wait for Kafka's acknowledgement. Every ``checkpoint_every`` records,
        and at the end, ``on_checkpoint`` gets what is acknowledged so far (this unit); a stop request
        ends the unit there. ``on_record`` learns whether each record was published (True) or
        dead-lettered. Raises (after dropping the publisher) if Kafka did not acknowledge. Rows already encoded
        (``Encoded``, see ``takes_encoded``) go only to a raw ``Publisher``."""
        sink = self.sink()
        before = sink.report.copy()
        placed_before = dict(self.mapping.placements)
        every = self.config.checkpoint_every if on_checkpoint else 0
        progress = self.config.progress_every
        started = time.monotonic()
        n = 0
        try:
            for rec in records:
                dead_before = sink.report.dead_lettered
                sink.publish(rec)  # type: ignore[arg-type]  # Encoded only where takes_encoded()
                n += 1
                if on_record is not None:
                    on_record(rec, sink.report.dead_lettered == dead_before)  # type: ignore[arg-type]
                if n % progress == 0:
                    rate = n / max(time.monotonic() - started, 1e-6)
                    log.info("progress", extra={"source": self.config.source, "file": unit, "count": n,
                                                "rate": round(rate, 1)})
                if on_checkpoint is not None and every and n % every == 0:
                    sink.flush()
                    on_checkpoint(self._since(sink.report, before, placed_before))
                    if self.stop.is_set():
                        log.info("stopping at a checkpoint", extra={"source": self.config.source, "file": unit,
                                                                   "count": n})
                        return UnitResult(self._since(sink.report, before, placed_before), complete=False)
            sink.flush()
        except BaseException:
            self.discard_sink()
            raise
        report = self._since(sink.report, before, placed_before)
        if on_checkpoint is not None:
            on_checkpoint(report)
        seconds = time.monotonic() - started
        log.info("unit published", extra={"source": self.config.source, "file": unit, "read": report.read,
                                         "published": report.published, "dead_lettered": report.dead_lettered,
                                         "seconds": round(seconds, 3)})
        return UnitResult(report, complete=True)

    def _since(self, report: RunReport, before: RunReport, placed_before: dict[str, int]) -> RunReport:
        """This unit's counts, with the free-text locations its mapping placed and could not place."""
        out = report.minus(before)
        out.count_locations(self.mapping.placements, placed_before)
        return out

    def takes_encoded(self) -> bool:
        """Does the sink take rows the compiled plan encoded (a ``Publisher`` of raw events, not at source)?"""
        from hub.connectors.publisher import Publisher
        return isinstance(self.sink(), Publisher)

    def probe_kafka(self, timeout_s: float = 5.0) -> bool:
        """Can we reach (and authenticate to) the brokers now? A short-lived admin client per probe."""
        from kafka import KafkaAdminClient
        try:
            admin = KafkaAdminClient(**self.settings.kafka_python_kwargs(), client_id="svh-connector-probe",
                                     bootstrap_timeout_ms=int(timeout_s * 1000),
                                     request_timeout_ms=int(timeout_s * 1000))
        except Exception:  # noqa: BLE001 - any failure means unreachable
            ok = False
        else:
            try:
                admin.describe_cluster()
                ok = True
            except Exception:  # noqa: BLE001
                ok = False
            finally:
                with contextlib.suppress(Exception):
                    admin.close()
        self.health.kafka(ok)
        return ok

    def close(self) -> RunReport | None:
        """Flush and close the publisher (a clean stop), release the state lock."""
        sink, self._sink = self._sink, None
        try:
            return sink.close() if sink is not None else None
        finally:
            self.state.close()
