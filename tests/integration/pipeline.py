"""Driving the real pipeline from tests: publish with the connector, run the worker process, wait on Kafka."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from hub.config import Settings
from hub.connectors.base import RunReport
from hub.demo import SOURCE, publish_extract
from hub.mart import connect, count_events, init
from hub.pseudonymisation import KeyRing, save_key_file
from hub.streams.lag import wait_until_drained
from hub.streams.process import WorkerProcess
from hub.synth import SynthManifest
from hub.topics import Topics


def with_pipeline_files(settings: Settings, manifest: SynthManifest, **more: object) -> Settings:
    keys = settings.data_dir / "keys.json"
    if not keys.exists():
        save_key_file(KeyRing.generate(), keys)
    return settings.model_copy(update={"keys_file": keys, "postcode_lookup": manifest.lookup_csv, **more})


def drain(settings: Settings, timeout_s: float = 180.0) -> None:
    t = Topics(settings.topic_prefix)
    wait_until_drained(settings, settings.app_id, [t.raw(SOURCE), t.shared], timeout_s)


@dataclass
class Run:
    settings: Settings
    manifest: SynthManifest
    report: RunReport
    worker: WorkerProcess


def start_worker(settings: Settings, log_name: str = "worker.log") -> WorkerProcess:
    init(connect(settings.mart))
    worker = WorkerProcess(settings, settings.data_dir / log_name).start()
    worker.wait_started(120)
    return worker


def publish(settings: Settings, extract: Path, lookup: Path | None) -> RunReport:
    from hub import kafka_admin
    kafka_admin.ensure_topics(settings, [SOURCE])
    return publish_extract(settings, extract, lookup)


def mart_dump(settings: Settings) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the mart's tables, sorted: equal dumps mean equal marts."""
    engine = connect(settings.mart)
    with engine.connect() as conn:
        return {table: sorted(tuple(r) for r in conn.execute(text(f"SELECT * FROM {table}")))  # noqa: S608
                for table in ("event", "event_person")}


def metrics_text(settings: Settings) -> str:
    url = f"http://127.0.0.1:{settings.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - loopback only
        return str(resp.read().decode())


def metric_value(text_: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text_.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


def events_in_mart(settings: Settings) -> int:
    return count_events(connect(settings.mart))


def as_json(obj: object) -> str:
    return json.dumps(obj, default=str, sort_keys=True)
