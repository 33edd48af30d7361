"""The worker's garbage-collector settings (hub.streams.worker.tune_gc)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from hub.streams.worker import tune_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_tune_gc_freezes_the_start_up_heap_and_keeps_the_thresholds(restored_gc: None) -> None:
    kept = [[i] for i in range(1000)]  # tracked containers alive at start-up
    threshold = gc.get_threshold()
    tune_gc()
    assert gc.get_freeze_count() >= len(kept)  # out of every later collection
    assert gc.get_threshold() == threshold  # a wider young generation let memory settle higher (docstring)


def test_the_worker_tunes_the_collector_once_built_and_before_faust_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """``hub worker`` calls ``tune_gc`` after everything it keeps is built and before Faust's worker starts (the
    wiring; Kafka, the metrics server and Faust are stood in for: what runs is recorded, not run)."""
    import faust

    from hub.config import load_settings
    from hub.streams import worker

    steps: list[str] = []
    monkeypatch.setattr(worker, "build", lambda settings, stages: (steps.append("build"),
                                                                   type("W", (), {"app": None})())[1])
    monkeypatch.setattr(worker.kafka_admin, "ensure_topics", lambda *a: steps.append("topics"))
    monkeypatch.setattr(worker.metrics, "serve", lambda *a: steps.append("metrics"))
    monkeypatch.setattr(worker.lag_metrics, "start", lambda *a: steps.append("lag"))
    monkeypatch.setattr(worker, "tune_gc", lambda: steps.append("gc"))
    monkeypatch.setattr(worker.logs, "setup", lambda *a: None)

    class FaustWorker:
        def __init__(self, *a: object, **k: object) -> None:
            steps.append("faust")

        def execute_from_commandline(self) -> None:
            steps.append("run")

    monkeypatch.setattr(faust, "Worker", FaustWorker)
    worker.run(load_settings({}), stages=("sink",))
    assert steps == ["build", "topics", "metrics", "lag", "gc", "faust", "run"]
