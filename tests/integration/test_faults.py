"""Faults, bounded and repeatable: SIGKILL the worker ten times during 100,000 events, restart the broker,
stop PostgreSQL for 30 s under the sink, lose one broker of three. After each: the mart equals the ground
truth (nothing lost, nothing doubled) and every dead letter is accounted for.

Killing a connector mid-file is tests/integration/test_connector_service.py
(test_killed_mid_backfill_it_resumes_without_loss_and_the_mart_holds_each_row_once).
Brokers and the PostgreSQL server that a test stops are its own (deploy/kafka.sh, deploy/postgres.sh with
their own ports and state under .run/faults/), never the shared ones. Seeds are fixed and printed.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from hub import kafka_admin
from hub.config import Settings, load_settings
from hub.connectors.base import RunReport
from hub.demo import SOURCE
from hub.kafka_read import read_topic
from hub.mart import connect, incident_counts, init
from hub.synth import SynthManifest, expected_counts, generate_police_extract
from hub.topics import Topics
from tests.integration.faults import (
    OwnBroker,
    OwnCluster,
    OwnPostgres,
    Phases,
    Supervisor,
    committed,
    drain_supervised,
    scrape,
    wait_until,
)
from tests.integration.pipeline import events_in_mart, metric_value, publish, with_pipeline_files
from tests.plugins.services import batch_lane, free_port, unique

pytestmark = pytest.mark.integration


def fault_settings(tmp_path: Path, bootstrap: str, manifest: SynthManifest, **more: Any) -> Settings:
    prefix = unique("fault")
    settings = load_settings({}, data_dir=tmp_path / "run", kafka_bootstrap=bootstrap, topic_prefix=prefix,
                             app_id=f"{prefix}-worker", metrics_port=free_port(), topic_partitions=2,
                             worker_instance="w1", worker_batch_lane=batch_lane(), **more)
    return with_pipeline_files(settings, manifest)


def assert_exact(settings: Settings, manifest: SynthManifest, report: RunReport) -> None:
    """Mart == ground truth; every malformed row dead-lettered; no dead letter after the boundary."""
    topics = Topics(settings.topic_prefix)
    assert report.read == manifest.rows_total
    assert report.published == manifest.rows_valid and report.dead_lettered == manifest.rows_malformed
    assert events_in_mart(settings) == manifest.rows_valid  # nothing lost, nothing doubled
    assert incident_counts(connect(settings.mart)) == expected_counts(manifest.truth_incidents_csv)
    assert len(read_topic(settings, topics.dlq(SOURCE))) == manifest.rows_malformed
    assert read_topic(settings, topics.shared_dlq) == []


def publish_in_background(settings: Settings, manifest: SynthManifest) -> tuple[threading.Thread, list[RunReport]]:
    out: list[RunReport] = []
    thread = threading.Thread(target=lambda: out.append(publish(settings, manifest.extract_csv, manifest.lookup_csv)),
                              daemon=True)
    thread.start()
    return thread, out


@pytest.mark.slow
@pytest.mark.timeout(1800)  # about 3 min on an idle 2-core machine; 12 on one shared with six other builds
def test_ten_sigkills_during_100k_events(tmp_path: Path, kafka_bootstrap: str, postgres_schema_url: str) -> None:
    seed = 2026
    rng = random.Random(seed)
    manifest = generate_police_extract(tmp_path / "data", seed=seed, incidents=100_000)
    settings = fault_settings(tmp_path, kafka_bootstrap, manifest, mart_url=postgres_schema_url)
    raw = Topics(settings.topic_prefix).raw(SOURCE)
    kafka_admin.ensure_topics(settings, [SOURCE])
    init(connect(settings.mart))
    thresholds = sorted(rng.sample(range(3_000, 97_000), 10))
    print(f"\nseed {seed}: SIGKILL when the group has committed {thresholds} of {manifest.rows_valid}")
    thread, reports = publish_in_background(settings, manifest)
    supervisor = Supervisor(settings, tmp_path)
    supervisor.start()
    started = time.monotonic()
    phase = Phases("ten SIGKILLs")
    try:
        for at in thresholds:
            wait_until(lambda at=at: supervisor.check() or committed(settings, raw) >= at, 600,
                       f"the worker never got to {at}", poll_s=0.2)
            supervisor.kill()
            phase(f"SIGKILL at {at} committed")
        thread.join(600)
        drain_supervised(settings, supervisor, [raw, Topics(settings.topic_prefix).shared])
        phase("drained")
    finally:
        supervisor.stop()
    print(f"{supervisor.kills} SIGKILLs, {len(supervisor.exits)} other exits, "
          f"{time.monotonic() - started:.0f} s for {manifest.rows_total} rows")
    assert supervisor.kills == 10
    assert_exact(settings, manifest, reports[0])


def test_broker_restart_mid_run(tmp_path: Path, own_broker: OwnBroker) -> None:
    phase = Phases("broker restart")
    manifest = generate_police_extract(tmp_path / "data", seed=31, incidents=3000)
    settings = fault_settings(tmp_path, own_broker.bootstrap, manifest)
    topics = Topics(settings.topic_prefix)
    report = publish(settings, manifest.extract_csv, manifest.lookup_csv)
    init(connect(settings.mart))
    supervisor = Supervisor(settings, tmp_path)
    supervisor.start()
    try:
        phase("published, worker starting")
        wait_until(lambda: supervisor.check() or committed(settings, topics.raw(SOURCE)) >= 1000, 300,
                   "the worker never committed 1000 events", poll_s=0.2)
        phase("1000 events committed")
        own_broker.stop()  # controlled shutdown ...
        phase("broker stopped")
        own_broker.start()  # ... and back, mid-run
        phase("broker restarted and answering")
        drain_supervised(settings, supervisor, [topics.raw(SOURCE), topics.shared])
        phase("drained")
    finally:
        supervisor.stop()
    print(f"\nbroker restarted mid-run: worker exits {supervisor.exits}")
    assert_exact(settings, manifest, report)


def test_postgres_stopped_for_30_s_under_the_sink(tmp_path: Path, kafka_bootstrap: str) -> None:
    phase = Phases("postgres stop")
    server = OwnPostgres().start()
    phase("own PostgreSQL started")
    try:
        manifest = generate_police_extract(tmp_path / "data", seed=41, incidents=3000)
        settings = fault_settings(tmp_path, kafka_bootstrap, manifest, mart_url=server.url())
        topics = Topics(settings.topic_prefix)
        report = publish(settings, manifest.extract_csv, manifest.lookup_csv)
        init(connect(settings.mart))
        supervisor = Supervisor(settings, tmp_path)
        supervisor.start()
        try:
            phase("published, worker starting")
            wait_until(lambda: supervisor.check() or events_in_mart(settings) >= 500, 300,
                       "the sink never wrote 500 events", poll_s=0.2)
            phase("500 events in the mart")
            server.stop()
            down_at = time.monotonic()
            failures = 0.0
            while time.monotonic() - down_at < 30:  # the outage lasts 30 s; meanwhile the sink must retry
                supervisor.check()
                text = scrape(settings)
                failures = metric_value(text, "svh_mart_write_failures_total") if text else failures
                time.sleep(1)
            server.start()
            phase("PostgreSQL down for 30 s, started again")
            drain_supervised(settings, supervisor, [topics.raw(SOURCE), topics.shared])
            phase("drained")
        finally:
            supervisor.stop()
        print(f"\nPostgreSQL down 30 s: {failures:.0f} failed mart writes retried, worker exits {supervisor.exits}")
        assert failures > 0  # the outage was seen (and alerted on: SvhMartWriteFailing) ...
        assert_exact(settings, manifest, report)  # ... and cost nothing
    finally:
        server.remove()


def test_three_broker_cluster_loses_one_broker_mid_run(tmp_path: Path) -> None:
    phase = Phases("three brokers")
    cluster = OwnCluster(3).start()
    phase("cluster started and answering")
    try:
        manifest = generate_police_extract(tmp_path / "data", seed=51, incidents=3000)
        settings = fault_settings(tmp_path, cluster.bootstrap, manifest, topic_replication_factor=3)
        topics = Topics(settings.topic_prefix)
        kafka_admin.ensure_topics(settings, [SOURCE])
        init(connect(settings.mart))
        thread, reports = publish_in_background(settings, manifest)  # acks=all, min.insync.replicas 2
        supervisor = Supervisor(settings, tmp_path)
        supervisor.start()
        try:
            wait_until(lambda: supervisor.check() or committed(settings, topics.raw(SOURCE)) >= 1000, 300,
                       "the worker never committed 1000 events", poll_s=0.2)
            phase("1000 events committed")
            cluster.kill(2)  # SIGKILL one broker while the connector and the worker are busy
            thread.join(300)
            phase("connector finished")
            drain_supervised(settings, supervisor, [topics.raw(SOURCE), topics.shared])
            phase("drained")
        finally:
            supervisor.stop()
        print(f"\none broker of three killed mid-run: worker exits {supervisor.exits}")
        assert reports, "the connector did not finish with a broker down"
        assert_exact(settings, manifest, reports[0])
    finally:
        cluster.remove()
