"""Driving any connector mode from tests: write its config, feed it rows, run it, collect what it sent.

The same harness serves the unit tests (a ``RecordingProducer``) and the conformance suite (the real
broker), so both exercise the one code path ``hub connector run`` uses.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hub.config import Settings
from hub.connectors.base import RecordSink
from hub.connectors.config import ConnectorConfig, load_config
from hub.connectors.mapping import FieldMapping
from hub.connectors.modes.http_push import HttpPush, add_token, new_token
from hub.connectors.publisher import Publisher
from hub.connectors.runtime import Runtime
from hub.connectors.service import run_once
from hub.connectors.testing import RecordingProducer
from hub.schemas import default_repository

FIXTURES = Path(__file__).parent / "fixtures"
WATERMARK, TIE = "svh_changed_at", "svh_row"


@dataclass
class Fixture:
    source: str
    header: list[str]
    rows: list[list[str]]

    def as_dicts(self, rows: Sequence[Sequence[str]] | None = None) -> list[dict[str, str]]:
        return [dict(zip(self.header, r, strict=True)) for r in (self.rows if rows is None else rows)]


def load_fixture(source: str) -> Fixture | None:
    path = FIXTURES / f"{source}.csv"
    if not path.exists():
        return None
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return Fixture(source, rows[0], rows[1:])


@dataclass(frozen=True)
class BadInput:
    """A row broken in one known way, and what its dead letter must say."""

    name: str
    row: list[str]  # cells in header order (for wrong_column_count: one extra cell)
    kind: str
    column: str | None  # the field the dead letter must name (None: the row as a whole)
    modes: tuple[str, ...] = ("file_drop", "database", "http")


def bad_inputs(fixture: Fixture, mapping: FieldMapping) -> list[BadInput]:
    """The shared set: bad date, unknown code, missing id, wrong column count (each where the source can
    have it). Derived from the mapping, so every source gets them without hand-written cases."""
    base = list(fixture.rows[0])
    idx = {c: i for i, c in enumerate(fixture.header)}
    out: list[BadInput] = []

    def with_cell(column: str, value: str) -> list[str]:
        row = list(base)
        row[idx[column]] = value
        return row

    dated = next((f for f in mapping.fields if f.type in ("date", "datetime") and not f.more_columns), None)
    if dated is not None:
        out.append(BadInput("bad_date", with_cell(dated.column, "31/02/20x5"),
                            "bad_date" if dated.type == "date" else "bad_datetime", dated.column))
    coded = next((f for f in mapping.fields if f.type in ("offence_code", "code") and not f.more_columns), None)
    if coded is not None:
        out.append(BadInput("unknown_code", with_cell(coded.column, "QQ-NOT-A-CODE"),
                            "unknown_offence_code" if coded.type == "offence_code" else "unknown_code", coded.column))
    id_column = mapping.record_id_column()
    out.append(BadInput("missing_id", with_cell(id_column, ""), "missing_value", id_column))
    out.append(BadInput("wrong_column_count", [*base, "an extra cell"], "wrong_column_count", None,
                        modes=("file_drop",)))
    out.append(BadInput("unknown_column", list(base), "unknown_column", None, modes=("http",)))
    return out


def unique_ids(fixture: Fixture, mapping: FieldMapping, rows: list[list[str]], tag: str) -> list[list[str]]:
    """Give bad rows their own record ids (so a bad row's key never collides with a good one)."""
    i = fixture.header.index(mapping.record_id_column())
    out = []
    for n, row in enumerate(rows):
        row = list(row)
        if row[i]:
            row[i] = f"{row[i]}-{tag}{n}"
        out.append(row)
    return out


def write_config(root: Path, mode: str, source: str, *, settings: Settings | None = None, name: str = "test",
                 extra: dict[str, Any] | None = None, **mode_settings: Any) -> Path:
    """A connector config under ``root`` for ``mode``; the Kafka section follows ``settings`` if given."""
    data: dict[str, Any] = {"name": name, "source": source, "mode": mode, "state_dir": "state",
                            "health": {"port": 0}, "kafka": {"create_topics": settings is not None}}
    if settings is not None:
        data["kafka"].update(bootstrap=settings.kafka_bootstrap, topic_prefix=settings.topic_prefix)
    defaults: dict[str, dict[str, Any]] = {
        "file_drop": {"inbox": "inbox", "settle_seconds": 0, "poll_seconds": 0.2},
        "database": {"url": f"sqlite:///{root / 'agency.db'}", "table": "extract", "watermark": WATERMARK,
                     "tie_breaker": TIE, "page_size": 4, "poll_seconds": 0.2},
        "http": {"port": 0, "tokens_file": "tokens.yaml"},
    }
    data[mode] = {**defaults[mode], **mode_settings}
    data.update(extra or {})
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[str]], delimiter: str = ",") -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def drop_file(inbox: Path, name: str, payload: bytes, age_s: float = 60.0) -> Path:
    """Write a file into the inbox as a finished extract (its modification time ``age_s`` ago)."""
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / name
    path.write_bytes(payload)
    past = time.time() - age_s
    os.utime(path, (past, past))
    return path


def insert_rows(db: Path, header: Sequence[str], rows: Sequence[Sequence[str]], table: str = "extract") -> None:
    """Append rows to a SQLite table (created with TEXT columns plus the watermark and tie-breaker)."""
    cols = ", ".join(f'"{c}" TEXT' for c in header)
    with sqlite3.connect(db) as conn:
        conn.execute(f'CREATE TABLE IF NOT EXISTS "{table}" ({cols}, {WATERMARK} TEXT NOT NULL, '
                     f"{TIE} INTEGER PRIMARY KEY)")
        start = conn.execute(f'SELECT COALESCE(MAX({TIE}), 0) FROM "{table}"').fetchone()[0]
        marks = ", ".join("?" for _ in range(len(header) + 2))
        for n, row in enumerate(rows, start=start + 1):
            conn.execute(f'INSERT INTO "{table}" VALUES ({marks})', [*row, f"2025-01-01T00:{n // 60:02d}:{n % 60:02d}",
                                                                  n])


def make_tokens(root: Path) -> str:
    token, digest = new_token()
    add_token(root / "tokens.yaml", "test-system", digest)
    return token


@dataclass
class Run:
    """One run of a connector: its per-request HTTP answers (http mode) and the runtime's totals."""

    config: ConnectorConfig
    responses: list[tuple[int, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)


def recording_runtime(config: ConnectorConfig, producer: RecordingProducer,
                      settings: Settings | None = None) -> Runtime:
    """A runtime whose publisher sends to ``producer`` (no broker)."""
    settings = settings or config.settings(environ={})

    def sink() -> RecordSink:
        return Publisher(settings, config.source, default_repository(), producer=producer)  # type: ignore[arg-type]
    return Runtime(config, settings, sink_factory=sink)


def run_pull(config_path: Path, runtime_factory: Callable[[ConnectorConfig], Runtime] | None = None) -> Run:
    """Run a pull mode once over what is there (``hub connector run --once``)."""
    config = load_config(config_path)
    runtime = runtime_factory(config) if runtime_factory else Runtime(config)
    totals = run_once(runtime)
    return Run(config, totals=totals.as_dict())


def post_all(config_path: Path, token: str, bodies: Sequence[Any],
             runtime_factory: Callable[[ConnectorConfig], Runtime] | None = None,
             headers: dict[str, str] | None = None) -> Run:
    """Start the push mode in-process, POST each body (JSON), stop; returns the answers."""
    from aiohttp.test_utils import TestClient, TestServer

    config = load_config(config_path)
    runtime = runtime_factory(config) if runtime_factory else Runtime(config)
    runtime.state.open()
    mode = HttpPush(runtime)
    run = Run(config)

    async def go() -> None:
        async with TestClient(TestServer(mode.app(None))) as client:
            for body in bodies:
                kw: dict[str, Any] = {"data": body} if isinstance(body, (bytes, str)) else {"json": body}
                resp = await client.post(mode.cfg.path, headers={"Authorization": f"Bearer {token}",
                                                                 **(headers or {})}, **kw)
                try:
                    answer = await resp.json()
                except Exception:  # noqa: BLE001 - a non-JSON error page
                    answer = await resp.text()
                run.responses.append((resp.status, answer))
    try:
        asyncio.run(go())
    finally:
        mode.close()
        runtime.close()
    run.totals = runtime.health.totals.as_dict()
    return run


class ConnectorProcess:
    """``hub connector run CONFIG`` as a real child process (for restart, signal and health tests)."""

    def __init__(self, config_path: Path, settings: Settings, log_path: Path, health_port: int) -> None:
        self.config_path = config_path
        self.settings = settings
        self.log_path = log_path
        self.health_port = health_port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ConnectorProcess:
        from hub.config import ENV_PREFIX
        from hub.streams.process import settings_env
        env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
        env.update(settings_env(self.settings))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "hub", "connector", "run", str(self.config_path)],
                                         env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def health(self, timeout_s: float = 5.0) -> tuple[int, dict[str, Any]]:
        url = f"http://127.0.0.1:{self.health_port}/health"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 - loopback only
                return int(resp.status), json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return int(err.code), json.loads(err.read())

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.health_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback only
            return str(resp.read().decode())

    def wait_healthy(self, status: str = "ok", timeout_s: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        last: Any = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"connector exited with {self.proc.returncode}; see {self.log_path}")
            try:
                _, body = self.health(1.0)
                last = body
                if body.get("status") == status:
                    return body
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"connector health never reached {status!r} (last {last}); see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: a crash at an arbitrary moment."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def terminate(self, timeout_s: float = 30.0) -> int:
        """SIGTERM and wait: the clean stop an init system does."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise
        return int(self.proc.returncode)
