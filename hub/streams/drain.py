"""Faust's consumer, handing each fetched batch to the streams in one task instead of one task per message,
and Faust's Monitor without its per-message statistics.

Why: Faust's ``Consumer._drain_messages`` delivers every fetched message through
``wait_first(callback(message), suspend_flow.wait())``: four asyncio tasks (the delivery, the flow
suspension, the consumer's stopped and crashed events), an ``asyncio.wait`` and three cancellations per
message, and the worker's pseudonymise and sink stages each pay it, so twice per event. In a py-spy
profile of a draining worker that loop and the event-loop turns it causes were ~15% of the process.

What is kept: everything else of Faust's consumer. The same fetch (``getmany``, its round-robin over
partitions, generation checks), the same per-message bookkeeping in the same order (read offsets, gaps
in the offsets, ``commit_every``), the same callback (the conductor, its Events, the streams, their acks),
and so the same offsets and commits. What changes: the messages of one fetch are delivered one after
another inside ONE task raced against the flow suspension (a rebalance) and the consumer's stop, so a
rebalance still interrupts a delivery blocked on a full stream buffer, as ``wait_first`` per message
did. A suspended flow also stops the delivery between two messages (Faust's ``getmany`` likewise stops
yielding when the flow stops); the messages not delivered are fetched again from the committed offsets
after the rebalance, exactly as those Faust's own loop drops.

Topics with a batch lane (``hub.streams.lane``: the hub's own stages) skip the callback: after the same
per-message bookkeeping, their messages are appended to the stage's lane, one list per fetch, and the
stage takes them from there.
"""

from __future__ import annotations

import asyncio
from time import monotonic
from typing import Any, cast

from faust.sensors import Monitor
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from hub.streams.lane import Lane, Lanes

YIELD_EVERY = 100
"""Messages delivered between two turns of the event loop (Faust's own figure)."""
FETCH_WAIT_S = 0.1
"""How long one fetch waits for records (Faust's: 1 s). A fetch asks only for the partitions fetched at its
start; a partition resumed meanwhile (its stage's lane or stream buffer drained, ``on_buffer_drop``) waits for
the next fetch, and with a backlog the stage behind it would idle for up to this long."""


class BatchDrainConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer with a per-fetch delivery loop (see the module's docstring), delivering the
    messages of topics with a batch lane (``hub.streams.lane``) to the lane, a fetch at a time."""

    @property
    def lanes(self) -> Lanes:
        return cast(BatchDrainTransport, self.transport).lanes

    async def on_partitions_revoked(self, revoked: set[Any]) -> None:  # pragma: no cover - worker process
        """Empty the batch lanes first: what they hold was read but not taken, and only a revocation (whose
        assignment seeks every partition back to its committed offset) may drop read messages. Faust's own
        revocation follows (read offsets, acks, stopping the flow, ``wait_empty`` for the batches in hand)."""
        for lane in set(self.lanes.by_topic.values()):
            lane.clear()
        await super().on_partitions_revoked(revoked)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - runs in the worker process
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                batch = [pair async for pair in getmany(timeout=FETCH_WAIT_S)]
                # The generation the fetch belongs to, read when it returns, as Faust's getmany reads it after its
                # wait (it stops yielding if the generation changes while it yields). Not before the fetch: a
                # rebalance that completes while the fetch waits (revocation, assignment, the seek to the committed
                # offsets, the flow resumed) returns records of the new generation, from the new position; dropped
                # as stale, nothing would fetch them again, and the next fetch's offsets would be counted as a gap
                # (acked) from the read offset: lost (found by review). A fetch delivered under a generation that
                # changes while it is delivered stops at once (``_deliver``); the seek that follows fetches the rest.
                generation = self.app.consumer_generation_id
                await self.sleep(0)  # as Faust: getmany may return at once, over and over
                if batch and not self.should_stop:
                    await self.wait_first(self._deliver(batch, generation), self.suspend_flow.wait())
                unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)

    async def _deliver(self, batch: list[tuple[Any, Any]], generation: int) -> None:
        """Faust's per-message steps of ``_drain_messages`` for each message of one fetch (made in consumer
        generation ``generation``), in order."""
        callback = self.callback
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        suspended = self.suspend_flow.is_set
        app = self.app
        lane_of = self.lanes.by_topic.get
        laned: dict[Lane, list[Any]] = {}
        since_yield = 0
        for tp, message in batch:
            if suspended() or not self.flow_active or app.consumer_generation_id != generation:
                break  # a rebalance: the rest is fetched again from the committed offsets
            offset = message.offset
            r_offset = get_read_offset(tp)
            if r_offset is None or offset >= r_offset:
                gap = offset - (r_offset or 0)
                if gap > 1 and r_offset and acks_enabled_for(message.topic):
                    await self._add_gap(tp, r_offset + 1, offset)
                if commit_every is not None and self._n_acked >= commit_every:
                    self._n_acked = 0
                    await self.commit()
                lane = lane_of(message.topic)
                if lane is not None:  # a stage on the batch lane takes it with the rest of the fetch, below
                    pending = laned.get(lane)
                    if pending is None:
                        pending = laned[lane] = []
                    pending.append(message)
                else:
                    since_yield += 1
                    if since_yield > YIELD_EVERY:
                        await asyncio.sleep(0)
                        since_yield = 0
                    await callback(message)
                set_read_offset(tp, offset)
            else:
                self.log.dev("DROPPED MESSAGE ROFF %r", offset)
        for lane, messages in laned.items():
            # Messages of a rebalanced generation go nowhere: the stage would drop them anyway.
            if suspended() or not self.flow_active or app.consumer_generation_id != generation:
                return
            await lane.put(messages)
            if lane.full():  # stop fetching what feeds it until its stage catches up, as Faust's stream buffers do
                lane.hold({TP(m.topic, m.partition) for m in messages}, self.on_buffer_full, self.on_buffer_drop)


class BatchDrainTransport(faust_aiokafka.Transport):
    """Faust's aiokafka transport with :class:`BatchDrainConsumer`, and the app's batch lanes."""

    Consumer = BatchDrainConsumer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lanes = Lanes()


class LeanMonitor(Monitor):
    """Faust's Monitor minus the four statistics it kept per message and per stream event (timestamps and
    counters in dicts, ~6% of a draining worker's main thread). Nothing reads them: Faust's web views, which
    served them, are off, and the hub's own metrics (``hub.metrics``) count per batch. The one thing Faust
    itself reads, the time a partition last fed a stream (its stall detector), is still kept. The Monitor's
    other duties (partition end offsets, commits, rebalances) are Faust's own."""

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> dict[str, Any] | None:
        # Kept: Faust's stall detector (``verify_event_path``) reads when each partition last fed a stream;
        # without it, every partition with a backlog is logged as stalled once the worker has run 300 s, and
        # a real stall is not.
        self.stream_inbound_time[tp] = monotonic()
        return None

    def on_stream_event_out(self, tp: Any, offset: int, stream: Any, event: Any,
                            state: dict[str, Any] | None = None) -> None:
        return None

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        return None


def install(app: Any) -> Lanes:
    """Make ``app`` (a new ``faust.App``, before its topics are declared) consume with the batch drain loop;
    returns its (empty) set of batch lanes."""
    transport = cast(Any, BatchDrainTransport)(app.conf.broker_consumer, app)
    app.transport = transport
    return cast(Lanes, transport.lanes)
