"""``hub bench pipeline``: end to end through the local broker, the worker as a process, into a SQLite mart.

Prints the connector's publish rate and the worker's drain rate (raw topic -> mart) for N incidents.
"""

from __future__ import annotations

import shutil
import time

from hub import kafka_admin, logs
from hub.config import Settings
from hub.demo import SOURCE, demo_settings, publish_extract
from hub.mart import connect, count_events, init
from hub.pseudonymisation import KeyRing, save_key_file
from hub.streams.lag import wait_until_drained
from hub.streams.process import WorkerProcess
from hub.synth import generate_police_extract
from hub.topics import Topics


def run(base: Settings, incidents: int = 20000) -> dict[str, float]:
    logs.setup("ERROR")
    run_dir = (base.data_dir / "bench").resolve()
    shutil.rmtree(run_dir, ignore_errors=True)
    manifest = generate_police_extract(run_dir / "data", seed=3, incidents=incidents)
    prefix = f"bench-{time.strftime('%Y%m%d%H%M%S')}"
    settings = demo_settings(base, run_dir, manifest, prefix)
    save_key_file(KeyRing.generate(), settings.keys_path)
    kafka_admin.ensure_topics(settings, [SOURCE])
    started = time.perf_counter()
    report = publish_extract(settings, manifest.extract_csv, manifest.lookup_csv)
    publish_s = time.perf_counter() - started
    engine = connect(settings.mart)
    init(engine)
    worker = WorkerProcess(settings, run_dir / "worker.log").start()
    try:
        worker.wait_started(120)
        started = time.perf_counter()
        t = Topics(prefix)
        wait_until_drained(settings, settings.app_id, [t.raw(SOURCE), t.shared], 1800, poll_s=0.25)
        drain_s = time.perf_counter() - started
        in_mart = count_events(engine)
    finally:
        worker.stop()
        kafka_admin.delete_topics(settings, [SOURCE])
    return {"incidents": float(report.published), "in_mart": float(in_mart),
            "connector_publish_per_s": report.read / publish_s, "worker_drain_per_s": report.published / drain_s,
            "worker_drain_s": drain_s, "partitions": float(settings.topic_partitions)}
