"""The consumer-lag metric: ``svh_consumer_lag_messages{stage, topic, partition}``, refreshed in the background.

Why a thread of its own and Kafka's committed offsets, not Faust's in-memory positions: the number must mean
the same as the drain check (``hub.streams.lag``) and must survive a worker restart, so an operator's
"lag growing" alert and a test's "drained" wait agree. It costs one offset fetch and one end-offset request
per interval, whatever the event rate. Each worker process of a group exports the whole group's lag for
every partition; aggregate with ``max`` (not ``sum``) across instances.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping, Sequence

from kafka import KafkaAdminClient, KafkaConsumer

from hub import logs, metrics
from hub.config import Settings
from hub.streams.lag import partition_lag

log = logs.get(__name__)

INTERVAL_S = 5.0


def stage_topics(app: object) -> dict[str, list[str]]:
    """Each Faust agent's name and its input topics (the stages this process runs)."""
    out: dict[str, list[str]] = {}
    for agent in getattr(app, "agents", {}).values():
        channel = getattr(agent, "channel", None)
        topics = list(getattr(channel, "topics", ()) or ())
        out[str(agent.name).rsplit(".", 1)[-1]] = topics
    return out


def refresh(admin: KafkaAdminClient, consumer: KafkaConsumer, group: str,
            stages: Mapping[str, Sequence[str]]) -> int:
    """Set the gauge for every partition of every stage's topics; returns the total lag."""
    total = 0
    for stage, topics in stages.items():
        for tp, lag in partition_lag(admin, consumer, group, topics).items():
            metrics.CONSUMER_LAG.labels(stage, tp.topic, str(tp.partition)).set(lag)
            total += lag
    metrics.LAG_LAST_CHECK.set_to_current_time()
    return total


class LagExporter(threading.Thread):
    """Daemon thread: refresh the lag gauge every ``interval_s`` until stopped; Kafka errors are logged and
    retried (the last values stay, and ``svh_consumer_lag_last_check_timestamp_seconds`` shows their age)."""

    def __init__(self, settings: Settings, stages: Mapping[str, Sequence[str]],
                 interval_s: float = INTERVAL_S) -> None:
        super().__init__(name="svh-lag-exporter", daemon=True)
        self.settings = settings
        self.stages = dict(stages)
        self.interval_s = interval_s
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        admin: KafkaAdminClient | None = None
        consumer: KafkaConsumer | None = None
        while not self._stop_event.is_set():
            started = time.monotonic()
            try:
                if admin is None or consumer is None:
                    kw = self.settings.kafka_python_kwargs()
                    admin = KafkaAdminClient(**kw, client_id="svh-lag-exporter")
                    consumer = KafkaConsumer(**kw, client_id="svh-lag-exporter", enable_auto_commit=False)
                refresh(admin, consumer, self.settings.app_id, self.stages)
            except Exception as exc:  # noqa: BLE001 - a broker outage must not end the exporter
                log.warning("consumer lag not read; retrying", extra={"error": type(exc).__name__})
                for client in (admin, consumer):
                    if client is not None:
                        with contextlib.suppress(Exception):  # closing a broken client
                            client.close()
                admin = consumer = None
            self._stop_event.wait(max(0.5, self.interval_s - (time.monotonic() - started)))
        for client in (admin, consumer):
            if client is not None:
                client.close()


def start(settings: Settings, app: object, interval_s: float = INTERVAL_S) -> LagExporter:
    exporter = LagExporter(settings, stage_topics(app), interval_s)
    exporter.start()
    return exporter
