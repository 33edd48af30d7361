"""The worker's garbage-collector settings (hub.streams.worker.tune_gc)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from hub.streams.worker import GC_YOUNG_THRESHOLD, tune_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_tune_gc_freezes_the_start_up_heap_and_widens_the_young_generation(restored_gc: None) -> None:
    kept = [[i] for i in range(1000)]  # tracked containers alive at start-up
    older = gc.get_threshold()[1:]
    tune_gc()
    assert gc.get_freeze_count() >= len(kept)  # out of every later collection
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *older)
    assert GC_YOUNG_THRESHOLD > 700  # wider than Python's default
