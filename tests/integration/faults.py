"""Helpers for recovery and fault tests: split an extract, watch a worker's /metrics, time what happens."""

from __future__ import annotations

import os
import shutil
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

from hub.config import Settings
from hub.streams.process import WorkerProcess

REPO = Path(__file__).resolve().parents[2]


def split_extract(extract: Path, parts: int, out_dir: Path) -> list[Path]:
    """``extract`` cut into ``parts`` CSV files of consecutive rows, each with the header (one row per line:
    the synthetic extracts quote no line breaks)."""
    lines = extract.read_text("utf-8").splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    out_dir.mkdir(parents=True, exist_ok=True)
    size = -(-len(rows) // parts)
    paths = []
    for i in range(parts):
        path = out_dir / f"{extract.stem}-{i + 1}.csv"
        path.write_text(header + "".join(rows[i * size:(i + 1) * size]), "utf-8")
        paths.append(path)
    return paths


def scrape(settings: Settings) -> str | None:
    """The worker's /metrics text, or None while nothing listens."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.metrics_port}/metrics", timeout=2) as resp:  # noqa: S310
            return str(resp.read().decode())
    except OSError:
        return None


def consumed(settings: Settings, stage: str = "pseudonymise") -> float:
    """Messages the running worker process has consumed in ``stage`` (0 while it is not serving metrics)."""
    from tests.integration.pipeline import metric_value
    text = scrape(settings)
    return metric_value(text, "svh_stage_consumed_total", stage=stage) if text else 0.0


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.05) -> float:
    """Seconds until ``predicate()`` held; TimeoutError naming ``what`` after ``timeout_s``."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(f"{what} (waited {timeout_s:.0f} s)")
        time.sleep(poll_s)
    return time.monotonic() - start


def committed(settings: Settings, topic: str) -> int:
    """Messages of ``topic`` the worker group has committed, summed over partitions (-1 while the broker cannot
    say, e.g. its group coordinator is still loading after a restart)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError
    try:
        admin = KafkaAdminClient(**settings.kafka_python_kwargs(), client_id="svh-test-progress")
    except KafkaError:
        return -1
    try:
        offsets = admin.list_group_offsets({settings.app_id: None}).get(settings.app_id, {})
        return sum(m.offset for tp, m in offsets.items() if tp.topic == topic and m.offset and m.offset > 0)
    except KafkaError:
        return -1
    finally:
        admin.close()


class Supervisor:
    """What systemd's Restart=always does for the worker: a worker that exits (status 75 when Kafka did not
    acknowledge a batch) is started again; ``kill`` is SIGKILL followed by the restart."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.workers: list[WorkerProcess] = []
        self.exits: list[int | None] = []
        self.kills = 0

    @property
    def current(self) -> WorkerProcess:
        return self.workers[-1]

    def start(self) -> WorkerProcess:
        worker = WorkerProcess(self.settings, self.log_dir / f"worker-{len(self.workers) + 1}.log").start()
        self.workers.append(worker)
        return worker

    def check(self) -> None:
        """Restart the worker if it has exited."""
        if self.workers and not self.current.alive():
            self.exits.append(self.current.proc.returncode if self.current.proc else None)
            self.start()

    def kill(self) -> None:
        self.current.kill()
        self.kills += 1
        self.start()

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


def drain_supervised(settings: Settings, supervisor: Supervisor, topics: list[str], timeout_s: float = 600.0) -> float:
    """Until the group has committed everything in ``topics``, restarting the worker whenever it exits."""
    from hub.streams.lag import group_lag

    def drained() -> bool:
        supervisor.check()
        try:
            return group_lag(settings, settings.app_id, topics) == 0
        except Exception:  # noqa: BLE001 - the broker may be restarting
            return False
    return wait_until(drained, timeout_s, "the pipeline did not drain", poll_s=0.5)


def _sh(*args: str, env: dict[str, str]) -> str:
    import subprocess
    done = subprocess.run(["bash", *args], cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()[-2000:]} {done.stdout.strip()[-2000:]}")
    return done.stdout


def state_dir(name: str) -> Path:
    """A fresh directory under the checkout's .run/ (ignored by git) for a test's own server."""
    path = REPO / ".run" / "faults" / f"{name}-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    return path


class OwnBroker:
    """A single KRaft broker of the test's own (deploy/kafka.sh with its own ports and state directory), so the
    test can stop and start it; never the shared broker."""

    def __init__(self) -> None:
        from tests.plugins.services import free_port
        self.dir = state_dir("kafka")
        self.port = free_port()
        self.env = {"KAFKA_RUN_DIR": str(self.dir), "KAFKA_PORT": str(self.port),
                    "KAFKA_CONTROLLER_PORT": str(free_port()), "KAFKA_HEAP_OPTS": "-Xms128m -Xmx384m"}
        self.bootstrap = f"127.0.0.1:{self.port}"

    def start(self) -> OwnBroker:
        _sh("deploy/kafka.sh", "start", env=self.env)
        _sh("deploy/kafka.sh", "wait", "180", env=self.env)
        return self

    def stop(self) -> None:
        _sh("deploy/kafka.sh", "stop", env=self.env)

    def remove(self) -> None:
        try:
            _sh("deploy/kafka.sh", "reset", env=self.env)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class OwnCluster:
    """``deploy/kafka.sh cluster``: three brokers (each also a controller) on loopback ports of the test's own."""

    def __init__(self, nodes: int = 3) -> None:
        self.dir = state_dir("cluster")
        base = _free_port_run(2 * nodes)
        self.env = {"KAFKA_CLUSTER_DIR": str(self.dir), "KAFKA_CLUSTER_PORT": str(base), "KAFKA_NODES": str(nodes),
                    "KAFKA_HEAP_OPTS": "-Xms128m -Xmx320m"}
        self.bootstrap = _sh("deploy/kafka.sh", "cluster", "bootstrap", env=self.env).strip()

    def start(self) -> OwnCluster:
        _sh("deploy/kafka.sh", "cluster", "start", env=self.env)
        _sh("deploy/kafka.sh", "cluster", "wait", env={**self.env, "KAFKA_WAIT_TIMEOUT": "240"})
        return self

    def kill(self, node: int) -> None:
        _sh("deploy/kafka.sh", "cluster", "kill", str(node), env=self.env)

    def remove(self) -> None:
        try:
            _sh("deploy/kafka.sh", "cluster", "reset", env=self.env)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class OwnPostgres:
    """A PostgreSQL server of the test's own (deploy/postgres.sh with its own port and cluster directory)."""

    def __init__(self) -> None:
        from tests.plugins.services import free_port
        self.dir = state_dir("postgres")
        self.env = {"PG_RUN_DIR": str(self.dir), "PG_PORT": str(free_port())}

    def start(self) -> OwnPostgres:
        _sh("deploy/postgres.sh", "start", env=self.env)
        return self

    def url(self) -> str:
        return _sh("deploy/postgres.sh", "url", env=self.env).strip().splitlines()[-1]

    def stop(self) -> None:
        _sh("deploy/postgres.sh", "stop", env=self.env)

    def remove(self) -> None:
        try:
            _sh("deploy/postgres.sh", "reset", env=self.env)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def _free_port_run(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports."""
    import random
    import socket
    rng = random.Random()  # noqa: S311 - not security
    for _ in range(200):
        base = rng.randrange(30000, 60000 - count)
        try:
            socks = []
            for port in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return base
    raise RuntimeError(f"no {count} consecutive free ports")


class Phases:
    """Prints how long each phase of a fault test took (the figures in docs/ops.md)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.start = self.last = time.monotonic()

    def __call__(self, what: str) -> None:
        now = time.monotonic()
        print(f"  [{self.name}] {what}: {now - self.last:.1f} s (t+{now - self.start:.0f} s)", flush=True)
        self.last = now
