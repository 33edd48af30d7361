"""The batch lane's queue and its hand-over rules, without a broker (the consumer and app are stand-ins; the
lane on the real broker is covered by tests/integration: pipeline, recovery, faults, linkage and incident)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from weakref import WeakSet

import pytest

from hub.config import load_settings
from hub.policy import Agreement
from hub.pseudonymisation import KeyRing, Pseudonymiser
from hub.schemas import SchemaRepository
from hub.streams.app import StreamWorker
from hub.streams.lane import HARD_LIMIT, Lane, Lanes, ack, batches, run
from hub.topics import Topics


class Msg:
    """Faust's message as far as the lane uses it (weak-referenceable, like faust.types.Message)."""

    def __init__(self, offset: int, generation: int = 1, partition: int = 0) -> None:
        self.offset = offset
        self.generation_id = generation
        self.tp = ("t", partition)
        self.tracked = False
        self.acked = False


class Consumer:
    def __init__(self) -> None:
        self.unacked: WeakSet[Msg] = WeakSet()
        self.acked: list[int] = []
        self.flow_active = True

    def ack(self, m: Msg) -> bool:
        m.acked = True
        self.unacked.discard(m)
        self.acked.append(m.offset)
        return True


def app(generation: int = 1, active: bool = True) -> Any:
    return SimpleNamespace(consumer=Consumer(), consumer_generation_id=generation,
                           flow_control=SimpleNamespace(is_active=lambda: active),
                           monitor=SimpleNamespace(stream_inbound_time={}))


async def turns(n: int = 20) -> None:
    """Let the event loop run ``n`` turns: whatever can go on does; whatever waits still waits (no clock)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait for ``condition`` to hold, failing after ``timeout_s``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.001)


def test_take_returns_what_waits_in_order_and_at_most_max() -> None:
    async def go() -> list[list[int]]:
        lane = Lane("s", ["t"], limit=100)
        await lane.put([Msg(i) for i in range(3)])
        await lane.put([Msg(i) for i in range(3, 10)])
        out = [[m.offset for m in await lane.take(4)] for _ in range(3)]
        assert len(lane) == 0
        return out

    assert asyncio.run(go()) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_put_waits_only_at_the_hard_limit_and_clear_drops_what_was_not_taken() -> None:
    async def go() -> None:
        lane = Lane("s", ["t"], limit=1)
        await lane.put([Msg(i) for i in range(HARD_LIMIT)])
        blocked = asyncio.ensure_future(lane.put([Msg(HARD_LIMIT)]))
        await turns()
        assert not blocked.done()  # the consumer's delivery waits
        assert [m.offset for m in await lane.take(1)] == [0]
        await asyncio.wait_for(blocked, 1)
        lane.clear()  # a rebalance: fetched again from the committed offsets
        assert len(lane) == 0
        late = asyncio.ensure_future(lane.take(10))
        await turns()
        assert not late.done()
        await lane.put([Msg(7)])
        assert [m.offset for m in await asyncio.wait_for(late, 1)] == [7]

    asyncio.run(go())


def test_a_put_blocked_when_the_lane_is_emptied_adds_nothing() -> None:
    """A revocation empties the lane while the consumer's delivery waits for room: that fetch is stale and must
    not be added after the emptying (handled and acked, it let Faust commit past the dropped messages)."""
    async def go() -> None:
        lane = Lane("s", ["t"], limit=1)
        await lane.put([Msg(i) for i in range(HARD_LIMIT)])
        blocked = asyncio.ensure_future(lane.put([Msg(HARD_LIMIT)]))
        await turns()
        assert not blocked.done()
        lane.clear()  # the revocation, before the blocked put resumes
        await asyncio.wait_for(blocked, 1)
        assert len(lane) == 0
        await lane.put([Msg(50)])  # the next fetch after the emptying is added
        assert [m.offset for m in await lane.take(10)] == [50]

    asyncio.run(go())


def test_what_is_taken_while_the_flow_is_stopped_is_dropped() -> None:
    async def go() -> list[int]:
        a = app()
        lane = Lane("s", ["t"], limit=100)
        await lane.put([Msg(1)])
        a.consumer.flow_active = False  # between a revocation and the seek after it
        it = batches(a, lane, 10)
        first = asyncio.ensure_future(it.__anext__())
        await turns()
        assert not first.done()  # Msg(1) was dropped, not handed to the stage
        a.consumer.flow_active = True
        await lane.put([Msg(2)])
        return [m.offset for m in await asyncio.wait_for(first, 1)]

    assert asyncio.run(go()) == [2]


def test_a_full_lane_pauses_its_partitions_until_taken_down_to_half() -> None:
    async def go() -> None:
        lane = Lane("s", ["t"], limit=4)
        paused: list[Any] = []
        resumed: list[Any] = []
        await lane.put([Msg(i, partition=i % 2) for i in range(5)])
        assert lane.full()
        lane.hold({("t", 0), ("t", 1)}, paused.append, resumed.append)
        lane.hold({("t", 0)}, paused.append, resumed.append)  # already held: paused once
        assert sorted(paused) == [("t", 0), ("t", 1)]
        await lane.take(2)
        assert not resumed and not lane.full()  # 3 left: above half
        await lane.take(1)
        assert sorted(resumed) == [("t", 0), ("t", 1)]  # down to half: fetched again
        lane.hold({("t", 0)}, paused.append, resumed.append)
        lane.clear()  # a rebalance forgets held partitions: the assignment decides what is fetched
        await lane.put([Msg(9)])
        await lane.take(5)
        assert len(resumed) == 2

    asyncio.run(go())


def test_a_topic_has_one_lane() -> None:
    lanes = Lanes()
    lanes.add(Lane("a", ["t1", "t2"], 10))
    with pytest.raises(ValueError, match="t2"):
        lanes.add(Lane("b", ["t2"], 10))


def test_batches_drop_an_older_generation_and_track_the_rest_until_acked() -> None:
    async def go() -> None:
        a = app(generation=2)
        lane = Lane("s", ["t"], 100)
        old, new = [Msg(0, generation=1), Msg(1, generation=1)], [Msg(2, generation=2), Msg(3, generation=2)]
        await lane.put(old)
        await lane.put(new)
        it = batches(a, lane, 10)
        batch = await it.__anext__()
        assert batch == new  # the stale ones are fetched again after the rebalance, never handled here
        assert all(m.tracked for m in new) and set(a.consumer.unacked) == set(new)  # wait_empty waits on them
        assert ("t", 0) in a.monitor.stream_inbound_time
        ack(a, batch)
        assert a.consumer.acked == [2, 3] and not a.consumer.unacked
        await it.aclose()

    asyncio.run(go())


def test_only_an_older_generation_is_dropped_not_a_stopped_flow() -> None:
    # A read message is dropped only when a revocation came between (its assignment seeks back to the
    # committed offset); Faust's flow control, which also clears its queues on resumes with no seek after
    # them, does not manage the lanes.
    async def go() -> None:
        a = app(active=False)
        lane = Lane("s", ["t"], 100)
        msgs = [Msg(0)]
        await lane.put(msgs)
        it = batches(a, lane, 10)
        assert await asyncio.wait_for(it.__anext__(), 1) == msgs
        await it.aclose()

    asyncio.run(go())


class Died(Exception):
    pass


class Stream:
    def __init__(self) -> None:
        self.channel = SimpleNamespace(registered=False)
        self.channel.__aiter__ = self._register  # type: ignore[attr-defined]

    def _register(self) -> None:
        self.channel.registered = True


def test_run_acks_a_batch_only_after_the_handler_returned_and_a_failure_ends_the_process() -> None:
    async def go() -> None:
        a = app()
        lane = Lane("s", ["t"], 100)
        seen: list[list[int]] = []
        died: list[str] = []

        async def handle(batch: list[Any]) -> None:
            assert not any(m.acked for m in batch)  # nothing acked while the batch is in hand
            seen.append([m.offset for m in batch])
            if len(seen) == 2:
                raise RuntimeError("boom")

        def die(stage: str, reason: str) -> None:
            died.append(reason)
            raise Died(reason)  # stands in for os._exit(75)

        stream = Stream()
        await lane.put([Msg(0), Msg(1)])
        task = asyncio.ensure_future(run(a, lane, stream, 10, handle, die))
        await until(lambda: a.consumer.acked == [0, 1])
        assert stream.channel.registered
        msgs = [Msg(2)]
        await lane.put(msgs)
        with pytest.raises(Died):
            await asyncio.wait_for(task, 1)
        assert died == ["the stage failed (RuntimeError)"] and a.consumer.acked == [0, 1]  # never acked

    asyncio.run(go())


def test_a_stop_while_handling_leaves_the_batch_unacked_and_untracked() -> None:
    async def go() -> None:
        a = app()
        lane = Lane("s", ["t"], 100)
        started = asyncio.Event()

        async def handle(batch: list[Any]) -> None:
            started.set()
            await asyncio.Event().wait()  # in hand until the stop cancels it

        msgs = [Msg(0)]
        await lane.put(msgs)
        task = asyncio.ensure_future(run(a, lane, Stream(), 10, handle, lambda s, r: None))
        await started.wait()
        assert set(a.consumer.unacked) == set(msgs)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not a.consumer.acked and not a.consumer.unacked

    asyncio.run(go())


@pytest.mark.parametrize(("stages", "lane_setting", "laned"), [
    (("pseudonymise", "sink"), True, {"pseudonymise", "sink"}),
    (("pseudonymise", "sink", "alerts"), True, {"pseudonymise"}),  # the alert stage's stream reads svh.shared
    (("pseudonymise", "sink"), False, set()),
])
def test_the_worker_puts_its_own_stages_on_lanes(tmp_path: Path, agreement: Agreement, ring: KeyRing,
                                                repo: SchemaRepository, stages: tuple[str, ...],
                                                lane_setting: bool, laned: set[str]) -> None:
    settings = load_settings({}, data_dir=tmp_path, topic_prefix="unit", worker_batch_lane=lane_setting)
    w = StreamWorker(settings, agreement, Pseudonymiser(agreement, ring), repo, stages=stages)
    assert w.laned == laned
    topics = Topics("unit")
    assert (topics.raw("police_incident") in w.lanes.by_topic) == ("pseudonymise" in laned)
    assert (topics.shared in w.lanes.by_topic) == ("sink" in laned)


def test_the_lane_is_on_by_default(tmp_path: Path) -> None:
    assert load_settings({}, data_dir=tmp_path).worker_batch_lane is True  # docs/benchmarks.md: the batch lane
