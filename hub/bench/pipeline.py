"""``hub bench pipeline``: end to end through the broker, workers as processes, into a SQLite mart.

For each worker count (1 and 2 worker processes on 4 partitions by default), on fresh topics:

1. the connector publishes N incidents; a raw kafka-python producer sends the same payloads just before
   and just after (the connector's anchor);
2. the bare single-stage loop (``hub.bench.anchors``) drains the raw topic; the workers then drain it
   into the mart (raw -> pseudonymise -> shared -> sink -> mart); the bare loop runs again. The
   worker's anchor is the mean of the two bare runs, so both see the same minutes of the machine.

The drain rate counts mart rows written from the moment the workers' group is stable (every worker assigned)
to the last row, so group joins and start-up are not in it. Then, with two workers running, the connector
publishes at a steady rate (1,000 events/s for 60 s by default) and the publish-to-mart latency of every event
is measured by watching the mart (its rows appear in insertion order). ``--long-run N`` instead feeds N events
(bare producer, so the connector's speed is not in the way) through one worker and prints the worker's
resident memory at 100,000 and at N events.
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from hub import kafka_admin, logs
from hub.bench import anchors, cpu
from hub.bench import connector as bench_connector
from hub.config import Settings
from hub.connectors import CsvFileConnector, default_mapping_path, load_mapping
from hub.connectors.base import SourceRecord
from hub.connectors.publisher import Publisher, make_producer
from hub.demo import SOURCE, demo_settings
from hub.mart import connect, init
from hub.pseudonymisation import KeyRing, PostcodeLookup, event_id, load_keyring, save_key_file
from hub.schemas import RAW_SCHEMAS, default_repository
from hub.streams.process import WorkerProcess
from hub.synth import SynthManifest, generate_police_extract
from hub.topics import Topics

POLL_S = 0.05


def _rss_mb(pid: int) -> float:
    """Resident set size of a process (Linux /proc), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")  # pragma: no cover


class MartWatch:
    """New mart rows as they appear (SQLite rowids grow with inserts): when each event reached the mart. On
    PostgreSQL only the count is watched (enough for the drain rate; the latency run needs SQLite's rowids)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.last = 0
        self.count = 0
        self.sqlite = engine.dialect.name == "sqlite"

    def poll(self) -> list[str]:
        if not self.sqlite:
            with self.engine.connect() as conn:
                self.count = int(conn.execute(text("SELECT count(*) FROM event")).scalar_one())
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT rowid, event_id FROM event WHERE rowid > :r ORDER BY rowid"),
                                {"r": self.last}).all()
        if rows:
            self.last = rows[-1][0]
            self.count += len(rows)
        return [r[1] for r in rows]


def _pg(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


class Run:
    """One bench run's files, settings and topics."""

    def __init__(self, base: Settings, root: Path, name: str, incidents: int, partitions: int, seed: int = 3,
                 stages: str | None = None, mart_url: str | None = None) -> None:
        self.dir = root / name
        shutil.rmtree(self.dir, ignore_errors=True)
        self.manifest: SynthManifest = generate_police_extract(self.dir / "data", seed=seed, incidents=incidents)
        prefix = f"bench-{time.strftime('%Y%m%d%H%M%S')}-{name}"
        settings = demo_settings(base, self.dir, self.manifest, prefix)
        # The worker as deployed: the demo re-matches incidents every second (so its figures show at once);
        # a deployed sink does it every incident_match_interval_s (60 s by default), and the bench's
        # figures must be the deployed worker's, not the demo's.
        self.settings = settings.replace(topic_partitions=partitions, metrics_port=0,
                                         incident_match_interval_s=base.incident_match_interval_s)
        self.prefix = prefix
        self.pg_schema: str | None = None
        if mart_url:
            # PostgreSQL: a fresh schema per run (as the tests' postgres_schema), so every run starts empty.
            self.pg_schema = f"bench_{uuid.uuid4().hex[:12]}"
            self._pg_admin = mart_url
            _pg(mart_url, f'CREATE SCHEMA "{self.pg_schema}"')
            sep = "&" if "?" in mart_url else "?"
            self.settings = self.settings.replace(mart_url=f"{mart_url}{sep}options=-csearch_path%3D{self.pg_schema}")
        save_key_file(KeyRing.generate(), self.settings.keys_path)
        self.topics = Topics(prefix)
        self.extra = [f"{prefix}.bench.producer", f"{prefix}.bench.bare"]
        kafka_admin.ensure_topics(self.settings, [SOURCE])
        anchors.create_topics(self.settings, self.extra)
        self.engine = connect(self.settings.mart)
        init(self.engine)
        self.publish_s = 0.0
        self.stages = stages  # None: the worker's default stages

    def records(self) -> list[SourceRecord]:
        lookup = PostcodeLookup.from_csv(self.manifest.lookup_csv)
        mapping = load_mapping(default_mapping_path(SOURCE), lookup)
        return [r for r in CsvFileConnector(self.manifest.extract_csv, mapping).records() if r.record]

    def workers(self, n: int) -> list[WorkerProcess]:
        out = []
        for i in range(n):
            (self.dir / f"worker{i}").mkdir(parents=True, exist_ok=True)
            # Each its own instance id: one inherited from HUB_WORKER_INSTANCE would make the two workers one
            # static member, each fencing the other out of the group.
            s = self.settings.replace(data_dir=self.dir / f"worker{i}", worker_instance=f"bench{i}")
            kw = {"stages": self.stages} if self.stages else {}
            out.append(WorkerProcess(s, self.dir / f"worker{i}.log", **kw).start())
        for w in out:
            w.wait_started(180)
        return out

    def close(self) -> None:
        """Delete every topic of the run (the workers create every source's raw, dead-letter and at-source
        topics, not only the bench's source: left behind, they piled up on the broker, ~840 after a day of runs,
        and every full metadata request paid for them) and the PostgreSQL schema, if any."""
        self.engine.dispose()
        admin = KafkaAdminClient(**self.settings.kafka_python_kwargs(), client_id="svh-bench")
        try:
            if gone := [t for t in admin.list_topics() if t.startswith(f"{self.prefix}.")
                        or t.startswith(f"{self.prefix}-")]:
                admin.delete_topics(gone)
        finally:
            admin.close()
        if self.pg_schema:
            _pg(self._pg_admin, f'DROP SCHEMA IF EXISTS "{self.pg_schema}" CASCADE',
                f'DROP SCHEMA IF EXISTS "{self.pg_schema}_released" CASCADE')


def group_stable(settings: Settings, members: int) -> Callable[[], bool]:
    """True once the workers' consumer group is Stable with ``members`` members (stays true after)."""
    admin = KafkaAdminClient(**settings.kafka_python_kwargs(), client_id="svh-bench")
    seen = False

    def stable() -> bool:
        nonlocal seen
        if not seen:
            info = admin.describe_groups([settings.app_id]).get(settings.app_id, {})
            seen = info.get("group_state") == "Stable" and len(info.get("members") or ()) == members
            if seen:
                admin.close()
        return seen

    return stable


def _cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system, every thread) the processes have used so far (Linux /proc)."""
    return sum(cpu.process_cpu_s(pid) for pid in pids)


def _main_cpu_s(pids: list[int]) -> float:
    """CPU seconds of the processes' main threads alone (the event loop: the stages, Faust's bookkeeping); the
    rest is the mart's write thread, aiokafka's fetch thread and the lag exporter."""
    return sum(cpu.main_thread_cpu_s(pid) for pid in pids)


STALL_S = 90.0
"""No new mart row for this long while events are missing: the bench stops and says where they are."""


class EventsMissing(RuntimeError):
    """The workers stopped writing before every event reached the mart (lost, or a stuck worker)."""


def _where_events_are(settings: Settings, topics: Topics) -> str:
    """The workers' group: committed offset and end offset per partition of the raw and shared topics. Raw
    partitions committed to their ends while the shared topic or the mart is short is the signature of
    events acked without being processed (the batch lane's loss before its review mends)."""
    committed = _group_offsets(settings)
    consumer = KafkaConsumer(**settings.kafka_python_kwargs(), client_id="svh-bench", enable_auto_commit=False)
    try:
        parts = []
        for topic in (topics.raw(SOURCE), topics.shared):
            tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            ends = consumer.end_offsets(tps)
            for tp in tps:
                meta = committed.get(tp)
                parts.append(f"{topic}[{tp.partition}] committed {meta.offset if meta else None} of {ends[tp]}")
        return "; ".join(parts)
    finally:
        consumer.close()


def _group_offsets(settings: Settings) -> dict[TopicPartition, Any]:
    """The workers' group's committed offsets (``OffsetAndMetadata`` per partition)."""
    admin = KafkaAdminClient(**settings.kafka_python_kwargs(), client_id="svh-bench")
    try:
        return dict(admin.list_group_offsets({settings.app_id: None}).get(settings.app_id, {}))
    finally:
        admin.close()


def _committed(settings: Settings, topic: str) -> int:
    """The workers' group's committed offsets on ``topic``, summed: events its first stage has finished."""
    return sum(meta.offset for tp, meta in _group_offsets(settings).items() if tp.topic == topic and meta.offset > 0)


def _local_port_pid(host_port: str) -> int | None:
    """The process serving ``host:port`` if the host is this machine (the broker, PostgreSQL), else None."""
    host, _, port = host_port.rpartition(":")
    if host not in ("127.0.0.1", "localhost", "::1", "[::1]", "") or not port.isdigit():
        return None
    return cpu.listener_pid(int(port))


def _cpu_window(settings: Settings, pids: list[int]) -> cpu.CpuWindow:
    url = make_url(settings.mart)
    database = _local_port_pid(f"{url.host}:{url.port or 5432}") if url.get_backend_name() == "postgresql" else None
    return cpu.CpuWindow(pids, _local_port_pid(settings.kafka_bootstrap.split(",")[0]), database)


@dataclass
class Drain:
    rate: float  # rows per second from the group's stability to the last row (the headline figure)
    cpu_us: float  # the workers' CPU per event over the same rows, every thread
    main_us: float  # the same, main threads only
    first_row_s: float  # from the group's stability to the first row after it: the workers' ramp-up
    rate_from_first_row: float  # rows per second from that first row to the last
    ahead: float = float("nan")  # events past the first stage (raw offsets committed) but not in the mart at the clock
    rate_lower_bound: float = float("nan")  # ``rate`` as if those had been drained before the clock started


def _drain_rate(watch: MartWatch, expected: int, stable: Callable[[], bool], pids: list[int],
                timeout_s: float = 1800.0, where: Callable[[], str] | None = None,
                window: cpu.CpuWindow | None = None, committed: Callable[[], int] | None = None) -> Drain:
    """Mart rows per second from the moment the whole group is assigned (so a second worker's join, which stops
    every member while partitions move, is not in it) to the last of ``expected`` rows, and the workers' CPU
    microseconds per event over the same rows (what the machine's other load changes least).

    The clock starts when the group is stable, not at the first mart row: a worker whose sink gets nothing
    while its pseudonymise stage runs ahead (Faust's streams did that: no row for the first ~10 s of a
    20,000-event backlog) would otherwise be timed on its second half only, and look twice as fast as it is.
    The time from stability to the first row (the workers' ramp-up after the assignment: seeks, the first
    fetch, the first batch through both stages) is reported beside it, with the rate from that row on.

    A worker that started before the others may have pseudonymised events before the clock that reach the mart
    after it (``committed``: the raw topic's committed offsets, summed, read when the clock starts). They are
    counted in ``rate``; ``rate_lower_bound`` leaves them out, as if that work had all been done before the clock
    (their sink work was not), so the true figure lies between the two (found by review).
    """
    nan = float("nan")
    deadline = time.monotonic() + timeout_s
    first_t, first_n, first_cpu, first_main = 0.0, 0, 0.0, 0.0
    row_t, row_n = 0.0, 0
    ahead: int | None = None
    last_n, last_change = -1, time.monotonic()
    while watch.count < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the workers wrote {watch.count} of {expected} events in {timeout_s:.0f} s")
        watch.poll()
        if watch.count != last_n:
            last_n, last_change = watch.count, time.monotonic()
        elif time.monotonic() - last_change > STALL_S:
            raise EventsMissing(f"the mart holds {watch.count} of {expected} events and none came for "
                                f"{STALL_S:.0f} s: {where() if where else ''}")
        if not first_t and stable():
            first_t, first_n, first_cpu, first_main = time.perf_counter(), watch.count, _cpu_s(pids), _main_cpu_s(pids)
            if window:
                window.start()
            ahead = max(0, committed() - first_n) if committed else None
        elif first_t and not row_t and watch.count > first_n:
            row_t, row_n = time.perf_counter(), watch.count
        time.sleep(0.2)
    end = time.perf_counter()
    if not first_t or expected == first_n:  # everything landed in one poll
        return Drain(nan, nan, nan, nan, nan)
    per_event = 1e6 / (expected - first_n)
    return Drain(rate=(expected - first_n) / max(end - first_t, 1e-9),
                 cpu_us=(_cpu_s(pids) - first_cpu) * per_event, main_us=(_main_cpu_s(pids) - first_main) * per_event,
                 first_row_s=row_t - first_t if row_t else nan,
                 rate_from_first_row=(expected - row_n) / max(end - row_t, 1e-9) if row_t and row_n < expected else nan,
                 ahead=nan if ahead is None else float(ahead),
                 rate_lower_bound=nan if ahead is None else (expected - first_n - ahead) / max(end - first_t, 1e-9))


def _load() -> float:
    return os.getloadavg()[0]


def throughput(base: Settings, root: Path, incidents: int, workers: int, partitions: int,
               stages: str | None = None, mart_url: str | None = None) -> dict[str, float]:
    load_before = _load()
    run = Run(base, root, f"w{workers}", incidents, partitions, stages=stages, mart_url=mart_url)
    schemas = default_repository()
    try:
        producer_topic, bare_topic = run.extra
        # the connector between two raw-producer runs: the same function as `hub bench connector`
        conn = bench_connector.compare(run.settings, run.manifest.extract_csv, run.manifest.lookup_csv,
                                       producer_topic)
        published = int(conn["connector_published"])
        raw_topic = run.topics.raw(SOURCE)
        bare_before = anchors.bare_stage_rate(run.settings, schemas, raw_topic, bare_topic, f"{raw_topic}-bare1",
                                              published)
        procs = run.workers(workers)
        try:
            pids = [p.proc.pid for p in procs if p.proc is not None]
            watch = MartWatch(run.engine)
            window = _cpu_window(run.settings, pids)
            drain = _drain_rate(watch, published, group_stable(run.settings, workers), pids,
                                where=lambda: _where_events_are(run.settings, run.topics), window=window,
                                committed=lambda: _committed(run.settings, raw_topic))
            share = window.stop()
            load_drain = _load()
        finally:
            for p in procs:
                p.stop()
        watch.poll()
        if watch.count != published:  # an upsert cannot add rows: anything else is a doubled or lost event
            raise EventsMissing(f"the mart holds {watch.count} events, {published} were published")
        bare_after = anchors.bare_stage_rate(run.settings, schemas, raw_topic, bare_topic, f"{raw_topic}-bare2",
                                             published)
    finally:
        run.close()
    bare = (bare_before + bare_after) / 2
    w = f"w{workers}"
    return {f"{w}_events": float(published), f"{w}_partitions": float(partitions),
            f"{w}_connector_per_s": conn["connector_per_s"], f"{w}_raw_producer_per_s": conn["raw_producer_per_s"],
            f"{w}_connector_vs_raw_producer": conn["connector_vs_raw_producer"],
            f"{w}_worker_drain_per_s": drain.rate, f"{w}_bare_stage_per_s": bare,
            f"{w}_worker_vs_bare": drain.rate / bare,
            # events the first stage had done before the clock started, in the mart after it; the lower bound
            # leaves them out of the drain altogether (the true ratio lies between the two)
            f"{w}_pseudonymised_before_clock": drain.ahead,
            f"{w}_worker_vs_bare_lower_bound": drain.rate_lower_bound / bare,
            f"{w}_worker_cpu_us_per_event": drain.cpu_us, f"{w}_worker_main_thread_cpu_us_per_event": drain.main_us,
            # the share of the drain's wall time each worker's main thread was on a CPU (1.0: saturated)
            f"{w}_main_thread_busy": drain.main_us * drain.rate / 1e6 / workers,
            f"{w}_first_row_after_stable_s": drain.first_row_s,
            f"{w}_drain_from_first_row_per_s": drain.rate_from_first_row,
            f"{w}_from_first_row_vs_bare": drain.rate_from_first_row / bare,
            f"{w}_mart_events": float(watch.count),
            # cores used over the drain window (CPU seconds per second): who had the machine
            f"{w}_cores_workers": share.workers, f"{w}_cores_broker": share.broker,
            f"{w}_cores_postgres": share.database, f"{w}_cores_others": share.others,
            f"{w}_cores_busy_of": share.machine, f"{w}_cores": float(share.cores),
            f"{w}_load_1m_before": load_before,
            f"{w}_load_1m_at_drain_end": load_drain, f"{w}_load_1m_after": _load()}


def _cycle(records: list[SourceRecord]) -> Iterator[SourceRecord]:
    """Endless distinct records: the extract's, with a new record id each time round."""
    lap = 0
    while True:
        lap += 1
        for r in records:
            rec = dict(r.record or {})
            rec["record_id"] = f"{rec['record_id']}-L{lap}"
            yield replace(r, record=rec, record_id=rec["record_id"])


def _publish_paced(run: Run, rate: float, total: int,
                   watch: MartWatch) -> tuple[dict[str, float], dict[str, float]]:
    """Publish ``total`` events at ``rate`` events/s; returns event id -> publish time, and -> mart time."""
    ring = load_keyring(run.settings.keys_path)
    publisher = Publisher(run.settings, SOURCE, default_repository())
    source = _cycle(run.records())
    published: dict[str, float] = {}
    arrived: dict[str, float] = {}
    started = time.perf_counter()
    sent = 0
    run.publish_s = 0.0
    try:
        while sent < total:
            due = min(total, int((time.perf_counter() - started) * rate))
            while sent < due:
                rec = next(source)
                publisher.publish(rec)
                published[event_id(ring, SOURCE, str(rec.record_id))] = time.perf_counter()
                sent += 1
            for eid in watch.poll():
                arrived.setdefault(eid, time.perf_counter())
            time.sleep(POLL_S / 2)
        publisher.flush()
        run.publish_s = time.perf_counter() - started
        deadline = time.perf_counter() + 300
        while len(arrived) < len(published) and time.perf_counter() < deadline:
            for eid in watch.poll():
                arrived.setdefault(eid, time.perf_counter())
            time.sleep(POLL_S)
    finally:
        publisher.close()
    return published, arrived


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def latency(base: Settings, root: Path, rate: float, seconds: float, partitions: int,
            workers: int = 2, stages: str | None = None) -> dict[str, float]:
    run = Run(base, root, "latency", 2000, partitions, seed=4, stages=stages)
    try:
        watch = MartWatch(run.engine)
        procs = run.workers(workers)
        try:
            stable, deadline = group_stable(run.settings, workers), time.monotonic() + 120
            while not stable() and time.monotonic() < deadline:  # no rebalance inside the measurement
                time.sleep(0.5)
            published, arrived = _publish_paced(run, rate, int(rate * seconds), watch)
        finally:
            for p in procs:
                p.stop()
    finally:
        run.close()
    lat = sorted(arrived[e] - t for e, t in published.items() if e in arrived)
    return {"latency_workers": float(workers), "latency_events": float(len(published)),
            "latency_target_rate_per_s": rate, "latency_achieved_rate_per_s": len(published) / run.publish_s,
            "latency_missing": float(len(published) - len(lat)),
            "latency_p50_s": _percentile(lat, 50), "latency_p95_s": _percentile(lat, 95),
            "latency_p99_s": _percentile(lat, 99), "latency_max_s": lat[-1] if lat else float("nan")}


def long_run(base: Settings, root: Path, events: int, partitions: int, first: int = 100_000,
             chunk: int = 20_000, stages: str | None = None) -> dict[str, float]:
    """``events`` through one worker; its RSS when the mart holds ``first`` events and when it holds them all.

    The events (the extract's records, cycled with new record ids) are published by a bare kafka-python
    producer a chunk at a time, keeping the worker busy without the connector's parsing in the way:
    the worker's memory is what is measured, not the connector's speed.
    """
    run = Run(base, root, "long", 2000, partitions, seed=5, stages=stages)
    schemas = default_repository()
    name = RAW_SCHEMAS[SOURCE]
    out: dict[str, float] = {}
    watch = MartWatch(run.engine)
    try:
        procs = run.workers(1)
        pid = procs[0].proc.pid if procs[0].proc else 0
        producer = make_producer(run.settings, client_id="svh-bench-long")
        source = _cycle(run.records())
        raw_topic = run.topics.raw(SOURCE)

        def sample() -> None:
            watch.poll()
            if "first" not in out and watch.count >= first:
                out["first"] = _rss_mb(pid)

        try:
            sent = 0
            deadline = time.monotonic() + 4 * 3600
            while watch.count < events and time.monotonic() < deadline:
                if sent < events and sent - watch.count < chunk:  # keep about one chunk queued
                    for _ in range(min(chunk, events - sent)):
                        rec = next(source)
                        producer.send(raw_topic, key=str(rec.record_id).encode(),
                                      value=schemas.encode(name, rec.record or {}))
                    sent = min(events, sent + chunk)
                    producer.flush(120)
                sample()
                time.sleep(0.5)
            out["end"] = _rss_mb(pid)
        finally:
            producer.close()
            for p in procs:
                p.stop()
    finally:
        run.close()
    first_mb, end_mb = out.get("first", float("nan")), out["end"]
    return {"long_run_events": float(watch.count), f"worker_rss_at_{first // 1000}k_mb": first_mb,
            f"worker_rss_at_{events // 1000}k_mb": end_mb, "rss_growth": end_mb / first_mb - 1}


def run(base: Settings, incidents: int = 20000, workers: tuple[int, ...] = (1, 2), partitions: int = 4,
        latency_rate: float = 1000.0, latency_s: float = 60.0, long_events: int = 0,
        latency_workers: int = 2, emit: Callable[[dict[str, float]], None] | None = None,
        stages: str | None = None, mart_url: str | None = None,
        say: Callable[[str], None] | None = None) -> dict[str, float]:
    """Every phase's figures, each passed to ``emit`` as soon as it is measured (a full run takes minutes);
    ``say`` gets one line saying what is measured (workers, partitions, stages, mart, the batch lane)."""
    logs.setup("ERROR")
    root = (base.data_dir / "bench").resolve()
    figures: dict[str, float] = {}
    if say:
        mart = make_url(mart_url).render_as_string(hide_password=True) if mart_url else "SQLite (a file per run)"
        say(f"# {incidents} incidents, worker processes {','.join(map(str, workers)) or '-'} on {partitions} "
            f"partitions; stages {stages or 'the worker default'}; batch lane "
            f"{'on' if base.worker_batch_lane else 'off'}; mart {mart}; load average {_load():.2f}; "
            f"{os.cpu_count()} CPUs")

    def done(part: dict[str, float]) -> None:
        figures.update(part)
        if emit:
            emit(part)

    if long_events:
        done(long_run(base, root, long_events, partitions, stages=stages))
        return figures
    for n in workers:
        done(throughput(base, root, incidents, n, partitions, stages, mart_url))
    if latency_s > 0:
        if mart_url:
            raise ValueError("the latency run watches SQLite's rowids: run it without a PostgreSQL mart")
        done(latency(base, root, latency_rate, latency_s, partitions, latency_workers, stages))
    return figures
