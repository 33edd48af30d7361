"""Recovery: a worker killed with SIGKILL is replaced, and the replacement consumes again within seconds.

With static group membership (HUB_WORKER_INSTANCE) the replacement presents the dead worker's instance id
and takes its partitions back at once; with dynamic membership it waits for the dead member's session
(10 s, hub.streams.membership) to expire. The test prints both times (the figures in docs/ops.md) and
asserts the mart, never the times: exactly the extract's valid rows, nothing lost, nothing doubled.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hub.config import Settings
from hub.mart import connect, incident_counts
from hub.streams.process import WorkerProcess
from hub.synth import expected_counts, generate_police_extract
from tests.integration.faults import consumed, split_extract, wait_until
from tests.integration.pipeline import drain, events_in_mart, publish, start_worker, with_pipeline_files

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("membership", ["static", "dynamic"])
def test_a_killed_worker_s_replacement_consumes_again_and_the_mart_is_exact(
        settings: Settings, tmp_path: Path, membership: str) -> None:
    manifest = generate_police_extract(tmp_path / "data", seed=21, incidents=5000)
    settings = with_pipeline_files(settings, manifest,
                                   worker_instance="w1" if membership == "static" else None)
    first_half, second_half = split_extract(manifest.extract_csv, 2, tmp_path / "parts")
    first = publish(settings, first_half, manifest.lookup_csv)
    worker = start_worker(settings, "worker-1.log")
    replacement: WorkerProcess | None = None
    try:
        wait_until(lambda: consumed(settings) >= 200, 120, "the first worker never consumed 200 events")
        killed_at = time.monotonic()
        worker.kill()  # SIGKILL mid-stream: no commit, no LeaveGroup
        replacement = WorkerProcess(settings, settings.data_dir / "worker-2.log").start()  # the supervisor's restart
        second = publish(settings, second_half, manifest.lookup_csv)  # the agencies keep sending meanwhile
        wait_until(lambda: b"Worker ready" in replacement.log_path.read_bytes()
                   if replacement.log_path.exists() else False, 120, "the replacement never started")
        ready_s = time.monotonic() - killed_at
        wait_until(lambda: consumed(settings) > 0, 180, "the replacement never consumed")
        consuming_s = time.monotonic() - killed_at
        print(f"\nrecovery ({membership} membership): replacement ready {ready_s:.1f} s after SIGKILL, "
              f"consuming again {consuming_s:.1f} s after SIGKILL ({consuming_s - ready_s:.1f} s after ready)")
        drain(settings, timeout_s=300)
    finally:
        worker.stop()
        if replacement is not None:
            replacement.stop()
    assert first.read + second.read == manifest.rows_total
    assert first.published + second.published == manifest.rows_valid
    assert events_in_mart(settings) == manifest.rows_valid  # nothing lost, nothing doubled
    assert incident_counts(connect(settings.mart)) == expected_counts(manifest.truth_incidents_csv)
