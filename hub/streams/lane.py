"""The batch lane: a stage takes each fetch's messages of its topics straight from Faust's consumer.

Why: Faust hands every message to its streams one at a time: the conductor makes an Event and puts it on the
stream's queue, the stream's passive drainer takes it off and runs the take buffer's processor, and
``take_events`` collects the batch; in a py-spy profile of a draining worker that was about a fifth of the main
thread, paid twice per event (the pseudonymise stage and the sink each consume). The hub's stages work on
whole batches anyway, so for their topics the consumer (``hub.streams.drain.BatchDrainConsumer``) appends the
fetched messages to the stage's lane, and the stage takes them from there as a list.

What stays Faust's: the consumer and its fetch, the read offsets and offset gaps (kept per message, as
before), the acknowledgements (``Consumer.ack`` for every message, after the batch's sends are acknowledged
and its mart writes done), the commits, the subscription (the stage's agent registers its topic with the
conductor) and the rebalance protocol:

- a message is tracked as unacknowledged (``Consumer.unacked``) from the moment its stage takes it, as a
  stream tracks it, so ``wait_empty`` at a revocation waits for the batch in hand;
- what is fetched but not yet taken is dropped when partitions are revoked (the consumer empties its lanes
  first), and so are messages of an older consumer generation: a revocation came between, and the assignment
  after it seeks every partition back to its committed offset, so they are fetched again. Nothing else drops
  a read message: Faust's ``flow_control`` does not manage the lanes, since it also clears its queues on every
  resume, with no seek after some of them;
- the consumer's delivery into the lane is raced against the flow's suspension, so a rebalance interrupts
  a delivery waiting for room.

Bounded, as Faust bounds a stream's buffer: once ``limit`` messages wait in a lane, the consumer stops fetching
the partitions that fed it (``Consumer.on_buffer_full``) until the stage has taken it down to half
(``on_buffer_drop``), so one stage running ahead does not starve another: with a backlog, the raw topic's
partitions wait while the sink's keep flowing, and the sink stays close behind the pseudonymise stage (whose
events it then need not decode again, ``hub.streams.made``). At ``HARD_LIMIT`` times ``limit`` the delivery
itself waits.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from time import monotonic
from typing import Any

HARD_LIMIT = 4
"""A lane holding this many times its limit holds the consumer's delivery loop (fetched data already in memory)."""


class Lane:
    """The fetched, not yet taken messages of one stage's topics, in fetch order (bounded)."""

    def __init__(self, name: str, topics: Iterable[str], limit: int) -> None:
        self.name = name
        self.topics = frozenset(topics)
        self.limit = limit
        self._queue: deque[list[Any]] = deque()
        self._queued = 0
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._held: set[Any] = set()
        self._epoch = 0  # how many times the lane was emptied (``clear``)
        self._resume: Callable[[Any], None] | None = None

    def __len__(self) -> int:
        return self._queued

    async def put(self, messages: list[Any]) -> None:
        """Append one fetch's messages (waits while the lane holds ``HARD_LIMIT`` times its limit or more)."""
        epoch = self._epoch
        while self._queued >= self.limit * HARD_LIMIT:
            self._room.clear()
            await self._room.wait()
            if self._epoch != epoch:
                # Emptied while this fetch waited for room (a revocation): the fetch is stale. Appended now, its
                # messages would be handled and acked while the partition has no committed offset, and Faust would
                # commit past the messages the revocation dropped (found by review: the lane's lost events).
                return
        self._queue.append(messages)
        self._queued += len(messages)
        self._ready.set()

    def full(self) -> bool:
        return self._queued >= self.limit

    def hold(self, tps: Iterable[Any], pause: Callable[[Any], None], resume: Callable[[Any], None]) -> None:
        """The lane is full: ``pause`` fetching each of ``tps`` now, ``resume`` it once the lane is down to half."""
        self._resume = resume
        for tp in tps:
            if tp not in self._held:
                self._held.add(tp)
                pause(tp)

    def clear(self) -> None:
        """Drop everything not yet taken (the consumer calls this when partitions are revoked). Held
        partitions are forgotten, not resumed: the assignment that follows sets what is fetched."""
        self._queue.clear()
        self._queued = 0
        self._epoch += 1  # a put waiting for room drops its fetch
        self._held.clear()
        self._room.set()

    async def take(self, max_: int) -> list[Any]:
        """The oldest messages waiting, at most ``max_``, as soon as there is one (no batching window: a
        stage that falls behind gets full batches, one that keeps up gets what arrived)."""
        queue = self._queue
        while not queue:
            self._ready.clear()
            await self._ready.wait()
        out: list[Any] = []
        while queue and len(out) < max_:
            head = queue[0]
            room = max_ - len(out)
            if len(head) <= room:
                out.extend(queue.popleft())
            else:
                out.extend(head[:room])
                queue[0] = head[room:]
        self._queued -= len(out)
        if self._queued < self.limit * HARD_LIMIT:
            self._room.set()
        if self._held and self._queued <= self.limit // 2 and self._resume is not None:
            resume, held = self._resume, list(self._held)
            self._held.clear()
            for tp in held:
                resume(tp)
        return out


class Lanes:
    """The lanes of one worker process, by topic; the consumer delivers into them."""

    def __init__(self) -> None:
        self.by_topic: dict[str, Lane] = {}

    def add(self, lane: Lane) -> Lane:
        for topic in lane.topics:
            if topic in self.by_topic:
                raise ValueError(f"topic {topic} already has a lane ({self.by_topic[topic].name})")
            self.by_topic[topic] = lane
        return lane


async def batches(app: Any, lane: Lane, max_: int) -> AsyncIterator[list[Any]]:
    """The stage's batches from its lane: messages of the current consumer generation, tracked as unacked.

    The caller acknowledges a batch with :func:`ack` once it is done with it (sends acknowledged, mart written);
    :func:`run` does that.
    """
    consumer = app.consumer
    unacked = consumer.unacked  # Faust's WeakSet of messages started and not acked (wait_empty waits on it)
    add_unacked = unacked.add
    inbound = getattr(app.monitor, "stream_inbound_time", None)
    while True:
        messages = await lane.take(max_)
        if not consumer.flow_active:
            continue  # taken between a revocation and the seek after it: fetched again from the committed offsets
        generation = app.consumer_generation_id
        # Read before a revocation: the assignment after it seeks back to the committed offsets (fetched again).
        current = [m for m in messages if m.generation_id == generation]
        if not current:
            continue
        for m in current:
            m.tracked = True
            add_unacked(m)
        if inbound is not None:  # Faust's stall detector reads when each partition last fed a stream
            now = monotonic()
            for tp in {m.tp for m in current}:
                inbound[tp] = now
        yield current


def ack(app: Any, messages: list[Any]) -> None:
    """Faust's acknowledgement of each message: its offset may be committed once those before it are."""
    consumer_ack = app.consumer.ack
    for m in messages:
        consumer_ack(m)


async def run(app: Any, lane: Lane, stream: Any, max_: int,
              handle: Callable[[list[Any]], Awaitable[None]], die: Callable[[str, str], Any]) -> None:
    """A stage's agent on the lane: register the stage's topic with Faust's conductor (so the consumer
    subscribes to it and acks it), then handle batch after batch, acknowledging each once ``handle`` returned.

    ``handle`` must deal with every message itself (dead letters, retries, or ending the process); an
    exception escaping it ends the process (``die``, i.e. ``hub.streams.app.die``) without committing, so the
    batch is fetched again after the restart (Faust's ``take_events`` would ack the batch on the way out and
    lose it)."""
    stream.channel.__aiter__()  # Faust adds the topic's iterator to the conductor: subscribed, acks enabled
    unacked = app.consumer.unacked
    batch: list[Any] = []
    try:
        async for batch in batches(app, lane, max_):
            await handle(batch)
            ack(app, batch)
            batch = []
    except asyncio.CancelledError:
        for m in batch:  # stopping: not acked, so never committed; wait_empty must not wait for them
            unacked.discard(m)
        raise
    except Exception as exc:  # noqa: BLE001 - anything else: crash-only
        die(lane.name, f"the stage failed ({type(exc).__name__})")
