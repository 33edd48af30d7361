"""The sink's mart writes on a SQLite file: on the event loop's thread, handed to a thread when the lock is held."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hub import metrics
from hub.config import load_settings
from hub.mart import store
from hub.policy import Agreement
from hub.pseudonymisation import KeyRing, Pseudonymiser
from hub.schemas import SchemaRepository
from hub.streams.app import StreamWorker
from hub.streams.batch import Outgoing
from hub.streams.mart_write import LOOP_LOCK_WAIT_S
from tests.unit.test_mart import make_events


@pytest.fixture
def sink(tmp_path: Path, agreement: Agreement, ring: KeyRing, repo: SchemaRepository) -> StreamWorker:
    settings = load_settings({}, data_dir=tmp_path, topic_prefix="unit", mart_url=f"sqlite:///{tmp_path}/m.db")
    w = StreamWorker(settings, agreement, Pseudonymiser(agreement, ring), repo, stages=("sink",))
    assert w.engine is not None
    store.init(w.engine)
    return w


def recording_threads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The real upsert, noting the thread each call ran on."""
    threads: list[int] = []
    real = store.upsert_events

    def upsert(engine: Any, events: Any) -> int:
        threads.append(threading.get_ident())
        return real(engine, events)

    monkeypatch.setattr(store, "upsert_events", upsert)
    return threads


def batch(events: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Any]]:
    return [(ev, SimpleNamespace(topic="unit.shared", partition=0, offset=i, key=b"k", value=b"v"))
            for i, ev in enumerate(events)]


def sample(name: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, {"table": "event"}) or 0.0


def test_the_sink_writes_a_sqlite_mart_on_the_event_loops_thread(
        sink: StreamWorker, agreement: Agreement, ring: KeyRing, monkeypatch: pytest.MonkeyPatch) -> None:
    threads = recording_threads(monkeypatch)
    events = make_events(agreement, ring)
    out: list[Outgoing] = []
    written = asyncio.run(sink._write_with_retry(batch(events), out))
    assert threads == [threading.get_ident()]  # asyncio.run's loop runs on this thread
    assert len(written) == 4 and not out
    assert sink.engine is not None and store.count_events(sink.engine) == 4


def test_a_write_on_the_loops_thread_waits_for_sqlites_lock_briefly(sink: StreamWorker) -> None:
    """The loop's engine waits well under a second for the lock (the loop stops meanwhile); the thread's, 10 s."""
    assert sink.mart_writes is not None and sink.mart_writes.loop_engine is not None and sink.engine is not None

    def busy_timeout_ms(engine: Any) -> int:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one())

    assert busy_timeout_ms(sink.mart_writes.loop_engine) == round(LOOP_LOCK_WAIT_S * 1000) <= 1000
    assert busy_timeout_ms(sink.engine) == round(store.BUSY_TIMEOUT_S * 1000) == 10_000


def test_a_sqlite_write_kept_from_the_lock_goes_to_a_thread_and_is_not_a_failure(
        sink: StreamWorker, tmp_path: Path, agreement: Agreement, ring: KeyRing,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Another connection holds SQLite's write lock: the write on the loop's thread gives up after its short wait
    (the loop must not stop for the mart's whole 10 s busy timeout), the same write goes to a thread, which gets
    the lock once it is released; no outage is counted, nothing is lost."""
    threads = recording_threads(monkeypatch)
    events = make_events(agreement, ring)
    handoffs, failures = sample("svh_mart_lock_handoffs_total"), sample("svh_mart_write_failures_total")
    holder = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, as another sink's transaction would hold it

    async def scenario() -> tuple[bool, list[dict[str, Any]]]:
        task = asyncio.ensure_future(sink._write_with_retry(batch(events), []))
        await asyncio.sleep(0)  # the task runs until it awaits: the loop attempt gave up, the thread waits
        waiting = not task.done()
        holder.execute("COMMIT")
        return waiting, await task

    try:
        waiting, written = asyncio.run(scenario())
    finally:
        holder.close()
    assert waiting
    assert threads[0] == threading.get_ident() and threads[1] != threads[0]
    assert len(written) == 4
    assert sample("svh_mart_lock_handoffs_total") == handoffs + 1
    assert sample("svh_mart_write_failures_total") == failures
    assert sink.engine is not None and store.count_events(sink.engine) == 4


def test_lock_timed_out_knows_sqlites_busy_error(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError) as busy:
        other.execute("INSERT INTO t VALUES (1)")
    assert store.lock_timed_out(busy.value)
    with pytest.raises(sqlite3.OperationalError) as other_error:
        other.execute("SELECT * FROM no_such_table")
    assert not store.lock_timed_out(other_error.value)
    holder.close()
    other.close()


def test_a_write_handed_to_a_thread_uses_the_mart_engine_with_the_long_wait(
        sink: StreamWorker, tmp_path: Path, agreement: Agreement, ring: KeyRing,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The thread must not retry on the loop's engine (0.5 s): that would fail again and count an outage."""
    engines: list[Any] = []
    real = store.upsert_events

    def upsert(engine: Any, events: Any) -> int:
        engines.append(engine)
        return real(engine, events)

    monkeypatch.setattr(store, "upsert_events", upsert)
    holder = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")

    async def scenario() -> None:
        task = asyncio.ensure_future(sink._write_with_retry(batch(make_events(agreement, ring)), []))
        await asyncio.sleep(0)
        holder.execute("COMMIT")
        await task

    try:
        asyncio.run(scenario())
    finally:
        holder.close()
    assert sink.mart_writes is not None
    assert engines == [sink.mart_writes.loop_engine, sink.engine]


def test_a_batch_written_one_by_one_gives_the_loop_a_turn_between_events(
        sink: StreamWorker, agreement: Agreement, ring: KeyRing, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch the mart refuses is written again an event at a time on the loop's thread; the loop runs between
    them (each write may wait for the lock), and the refused event is dead-lettered, the others written."""
    events = make_events(agreement, ring)
    forged = dict(events[0], source="probation_event")  # the same event id under another source: refused
    order: list[str] = []
    real = store.upsert_events

    def upsert(engine: Any, evs: Any) -> int:
        order.append("write")
        return real(engine, evs)

    monkeypatch.setattr(store, "upsert_events", upsert)

    async def ticker() -> None:
        while True:
            order.append("tick")
            await asyncio.sleep(0)

    async def scenario() -> tuple[list[dict[str, Any]], list[Outgoing]]:
        assert sink.engine is not None
        store.upsert_events(sink.engine, events[:1])  # the first event is already in the mart
        order.clear()
        tick = asyncio.ensure_future(ticker())
        await asyncio.sleep(0)
        out: list[Outgoing] = []
        try:
            return await sink._write_with_retry(batch([forged, *events[1:]]), out), out
        finally:
            tick.cancel()

    written, out = asyncio.run(scenario())
    assert len(written) == len(events) - 1 and len(out) == 1
    writes = [i for i, step in enumerate(order) if step == "write"]
    assert len(writes) == 1 + len(events)  # the whole batch, then each event
    assert all("tick" in order[a + 1:b] for a, b in pairwise(writes[1:]))


def busy(code: int) -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError("database is locked")
    exc.sqlite_errorcode = code  # what sqlite3 sets on errors it raises
    return exc


@pytest.mark.parametrize("code", [5, 261, 517, 773])  # SQLITE_BUSY and its RECOVERY, SNAPSHOT, TIMEOUT variants
def test_lock_timed_out_knows_every_busy_code(code: int) -> None:
    assert store.lock_timed_out(busy(code))


@pytest.mark.parametrize("code", [6, 8, 13, 14, 10, 262])  # LOCKED, READONLY, FULL, CANTOPEN, IOERR, LOCKED_SHAREDCACHE
def test_lock_timed_out_is_not_an_outage(code: int) -> None:
    assert not store.lock_timed_out(busy(code))


def test_an_outage_on_the_loops_write_is_not_handed_to_a_thread(tmp_path: Path) -> None:
    """A read-only mart is an outage (retried with back-off, counted), not a lock to wait out in a thread."""
    from sqlalchemy.exc import OperationalError

    from hub.streams.mart_write import MartWrites

    path = tmp_path / "ro.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    engine = store.connect(f"sqlite:///file:{path}?mode=ro&uri=true")
    handed: list[Any] = []

    async def in_thread(*args: Any) -> None:
        handed.append(args)

    def write(eng: Any) -> None:
        with eng.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")

    writes = MartWrites(engine, in_thread)
    assert writes.loop_engine is not None
    with pytest.raises(OperationalError) as refused:
        asyncio.run(writes("event", write))
    assert getattr(refused.value.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_READONLY
    assert not handed


def test_a_shared_cache_memory_database_is_not_a_file() -> None:
    engine = store.connect("sqlite:///file:mem1?mode=memory&cache=shared&uri=true")
    assert not store.sqlite_file(engine)


def test_opening_a_connection_waits_no_longer_than_the_busy_timeout(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """sqlite3's connect timeout applies before the busy_timeout pragma runs: it must be the same bound."""
    path = tmp_path / "x.db"
    engine = store.connect(f"sqlite:///{path}", busy_timeout_s=0.5)
    seen: list[Any] = []
    real = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> Any:  # the real connection, its timeout noted
        seen.append(kwargs.get("timeout"))
        return real(*args, **kwargs)

    monkeypatch.setattr(engine.dialect.dbapi, "connect", connect)
    with engine.connect():
        pass
    assert seen == [0.5]
