"""The worker's garbage-collector settings (``hub.streams.worker.settle_heap``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from hub.streams.worker import GC_YOUNG_THRESHOLD, settle_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_settling_freezes_the_built_heap_and_spaces_young_collections(restored_gc: None) -> None:
    built = [[n] for n in range(1000)]  # containers that exist when the worker is built
    _, middle, old = gc.get_threshold()
    settle_heap()
    assert gc.get_freeze_count() >= len(built)  # out of every later pass
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, middle, old)


def test_cycles_made_after_settling_are_still_collected(restored_gc: None) -> None:
    settle_heap()
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1
