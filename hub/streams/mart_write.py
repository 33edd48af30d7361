"""Where the sink's event writes run: a SQLite mart's on the event loop's thread, PostgreSQL's in a thread.

Why not a thread for SQLite: a worker's main thread runs Python without pause while it drains (the boundary),
and a write thread shares its GIL. sqlite3's ``executemany`` releases and re-takes the GIL for every row, and
each time it waits for the main thread to give the GIL up, which Python forces only every switch interval
(5 ms): a convoy. A 500-event batch took ~30 ms of CPU and 200-290 ms of wall time, and held SQLite's one write
lock, which the other worker's sink waits for, all that time (docs/benchmarks.md, worker section). On the
loop's thread the write runs to its end in its ~30 ms of CPU. PostgreSQL's write waits on the network (the
server does the work), so it keeps its thread and the loop goes on meanwhile.

Cancellation: a write on the loop's thread cannot be cancelled half-way: it is a plain call, and a
cancellation reaches the agent only at its next ``await``, after the write has committed or failed (rolled
back). That is what the thread path ensures with its shield (``hub.streams.app._finish_in_thread``).

The lock wait: SQLite has one write lock per file. Waiting for it on the loop's thread would stop the whole
worker (its pseudonymise stage, the producer's acknowledgements, Faust's commits and the rebalance callbacks it
answers), so a write on the loop waits at most ``LOOP_LOCK_WAIT_S`` (its own engine, a short busy timeout),
then it is handed to a thread that waits the mart's usual ``store.BUSY_TIMEOUT_S`` (counted in
``svh_mart_lock_handoffs_total``). Nothing was written by the attempt that gave up (its transaction rolled
back) and every write is an idempotent upsert. The heartbeats do not wait for the loop: Faust's consumer runs
aiokafka in a thread of its own, and SQLite sleeps for the lock without the GIL. Two workers' sinks hold the
lock ~30-60 ms per batch each, so a handoff means something else held it: ``hub mart`` commands, the incident
match refresh, a backup. Opening a connection waits no longer than that either (sqlite3's own connect timeout is
set to the same bound, or its default 5 s would apply while the connection's pragmas run).

Also on the loop's thread now: SQLite's automatic WAL checkpoint, which a commit runs once the log passes 1,000
pages, with one fsync (``synchronous=NORMAL``): 26 ms median, 45 ms at most over 120 batches of 500 events on this
machine's disk (review, 1 Dec 2026). On slow storage that is a longer pause of the loop, not a loss.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from hub import metrics
from hub.mart import store

T = TypeVar("T")

LOOP_LOCK_WAIT_S = 0.5
"""The longest a write on the event loop's thread waits for SQLite's write lock before it goes to a thread: a few
of another sink's batches, and short against the 10 s session and 20 s rebalance timeouts (hub.streams.membership)."""


class MartWrites:
    """Runs mart writes ``func(engine, *args)`` on the loop's thread (a SQLite file) or in a thread (otherwise).

    ``in_thread(func, engine, *args)`` runs one in a thread (``hub.streams.app._finish_in_thread``)."""

    def __init__(self, engine: Engine, in_thread: Callable[..., Awaitable[Any]]) -> None:
        self.engine = engine
        self._in_thread = in_thread
        self.loop_engine: Engine | None = None
        if store.sqlite_file(engine):  # a second pool on the same file, its connections with the short wait
            self.loop_engine = store.connect(engine.url.render_as_string(hide_password=False),
                                             busy_timeout_s=LOOP_LOCK_WAIT_S)

    async def __call__(self, table: str, func: Callable[..., T], *args: Any) -> T:
        loop_engine = self.loop_engine
        if loop_engine is not None:
            try:
                try:
                    return func(loop_engine, *args)
                finally:
                    # A turn for the loop after every write, written or refused: a batch the mart refused is
                    # written again one event at a time, each a plain call, and without this the loop would not
                    # run between them (each may wait ``LOOP_LOCK_WAIT_S`` for the lock). Cancelled here after
                    # a commit, the batch is not acked: Kafka redelivers it, and the idempotent upsert changes
                    # nothing.
                    await asyncio.sleep(0)
            except OperationalError as exc:
                if not store.lock_timed_out(exc):
                    raise
                metrics.MART_LOCK_HANDOFFS.labels(table).inc()
        handed: T = await self._in_thread(func, self.engine, *args)
        return handed
