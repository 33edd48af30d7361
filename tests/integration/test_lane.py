"""The batch lane (the default) through a rebalance: a second worker joins while the first is draining a backlog.

The same test runs the fallback path (``worker_batch_lane=false``, Faust's streams) so that it stays tested.

The join revokes the first worker's partitions while its lanes hold fetched messages and its stages have
batches in hand: the lanes are cleared (fetched again from the committed offsets by whichever worker gets
the partition), the batches in hand finish and are acked before the revocation completes (Faust's
``wait_empty``), and both workers then drain their shares. The mart must be exact: nothing lost, nothing
doubled.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from hub.config import Settings
from hub.mart import connect, incident_counts
from hub.streams.process import WorkerProcess
from hub.synth import expected_counts, generate_police_extract
from tests.integration.faults import consumed, split_extract, wait_until
from tests.integration.pipeline import drain, events_in_mart, publish, start_worker, with_pipeline_files

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("lane", [True, False], ids=["batch-lane", "faust-streams"])
def test_a_worker_joining_mid_drain_loses_nothing_and_doubles_nothing(settings: Settings, tmp_path: Path,
                                                                      lane: bool) -> None:
    manifest = generate_police_extract(tmp_path / "data", seed=23, incidents=6000)
    settings = with_pipeline_files(settings, manifest, worker_instance="lane-1", worker_batch_lane=lane)
    first_half, second_half = split_extract(manifest.extract_csv, 2, tmp_path / "parts")
    first = publish(settings, first_half, manifest.lookup_csv)
    worker = start_worker(settings, "worker-1.log")
    joiner: WorkerProcess | None = None
    try:
        wait_until(lambda: consumed(settings) >= 300, 120, "the first worker never consumed 300 events")
        # Its own data dir and instance, the same mart; no metrics port (the first worker's is in use).
        joiner_settings = settings.model_copy(update={
            "data_dir": tmp_path / "joiner", "worker_instance": "lane-2", "metrics_port": 0,
            "mart_url": SecretStr(settings.mart)})
        joiner = WorkerProcess(joiner_settings, tmp_path / "worker-2.log").start()
        second = publish(settings, second_half, manifest.lookup_csv)  # the backlog grows while it joins
        joiner.wait_started(120)
        drain(settings, timeout_s=300)
        assert worker.alive() and joiner.alive()  # a rebalance, not a crash and a restart
    finally:
        worker.stop()
        if joiner is not None:
            joiner.stop()
    assert first.published + second.published == manifest.rows_valid
    assert events_in_mart(settings) == manifest.rows_valid  # nothing lost, nothing doubled
    assert incident_counts(connect(settings.mart)) == expected_counts(manifest.truth_incidents_csv)
