"""``hub connector run`` as a real process on the real broker: crash and restart without loss, a clean
stop on SIGTERM, /health and /metrics, health when Kafka is unreachable, and HTTP push end to end."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hub.config import Settings
from hub.connectors.mapping import RowError, default_mapping_path, load_mapping
from hub.dead_letters import headers_dict
from hub.kafka_read import read_topic
from hub.mart import connect, incident_counts
from hub.pseudonymisation import PostcodeLookup
from hub.synth import SynthManifest, expected_counts, generate_police_extract
from hub.topics import Topics
from tests.connectors.harness import ConnectorProcess, make_tokens, write_config
from tests.integration.pipeline import drain, events_in_mart, metric_value, start_worker, with_pipeline_files
from tests.plugins.services import free_port

pytestmark = pytest.mark.integration
SOURCE = "police_incident"
CHECKPOINT_EVERY = 500


def valid_ids(manifest: SynthManifest) -> set[str]:
    """Record ids of the extract's rows that the standard mapping (with the lookup) accepts."""
    mapping = load_mapping(default_mapping_path(SOURCE), PostcodeLookup.from_csv(manifest.lookup_csv))
    ids = set()
    with manifest.extract_csv.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        for cells in reader:
            if len(cells) != len(header):
                continue
            with contextlib.suppress(RowError):
                ids.add(mapping.parse(dict(zip(header, cells, strict=True)))["record_id"])
    return ids


def file_drop_connector(settings: Settings, root: Path, manifest: SynthManifest) -> ConnectorProcess:
    port = free_port()
    path = write_config(root, "file_drop", SOURCE, settings=settings, inbox=str(root / "inbox"), poll_seconds=0.2,
                        extra={"checkpoint_every": CHECKPOINT_EVERY, "progress_every": 2000,
                               "postcode_lookup": str(manifest.lookup_csv),
                               "health": {"port": port, "kafka_probe_seconds": 1}})
    return ConnectorProcess(path, settings, root / "connector.log", port)


def drop(root: Path, manifest: SynthManifest) -> Path:
    (root / "inbox").mkdir(parents=True, exist_ok=True)
    target = root / "inbox" / "crimes.csv"
    shutil.copyfile(manifest.extract_csv, target)
    past = time.time() - 60
    os.utime(target, (past, past))
    return target


def checkpoint(root: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((root / "state" / "file_drop.json").read_text()))
    except (FileNotFoundError, ValueError):
        return {}


def wait_for(predicate: Any, timeout_s: float, what: str, poll_s: float = 0.02) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll_s)
    raise TimeoutError(what)


def mid_file(root: Path, at_least: int) -> bool:
    return int(checkpoint(root).get("in_progress", {}).get("records", 0)) >= at_least


def archived(root: Path) -> bool:
    return (root / "inbox" / "archive" / "crimes.csv").exists()


def test_killed_mid_backfill_it_resumes_without_loss_and_the_mart_holds_each_row_once(
        settings: Settings, tmp_path: Path) -> None:
    manifest = generate_police_extract(tmp_path / "data", seed=5, incidents=12000)
    settings = with_pipeline_files(settings, manifest)
    root = tmp_path / "conn"
    inbox_file = drop(root, manifest)
    first = file_drop_connector(settings, root, manifest).start()
    try:
        wait_for(lambda: mid_file(root, 3000), 120, "the connector never got 3000 records into the file")
    finally:
        first.kill()  # SIGKILL mid-backfill: no chance to flush or checkpoint
    assert inbox_file.exists() and not archived(root)
    resumed_from = int(checkpoint(root)["in_progress"]["records"])
    assert 3000 <= resumed_from < manifest.rows_total

    second = file_drop_connector(settings, root, manifest).start()
    try:
        wait_for(lambda: archived(root), 120, "the restarted connector never archived the file", 0.2)
        assert second.terminate() == 0
    finally:
        second.kill()
    log = second.log_path.read_text()
    assert "resuming a file after its last checkpoint" in log

    topics = Topics(settings.topic_prefix)
    raw = Counter((m.key or b"").decode() for m in read_topic(settings, topics.raw(SOURCE)))
    ids = valid_ids(manifest)
    assert len(ids) == manifest.rows_valid
    assert set(raw) == ids  # every valid row at least once, nothing else
    assert sum(raw.values()) - len(ids) <= CHECKPOINT_EVERY  # duplicates only since the last checkpoint
    dead = {headers_dict(m.headers)["position"] for m in read_topic(settings, topics.dlq(SOURCE))}
    assert len(dead) == manifest.rows_malformed  # every malformed row dead-lettered (at least once)
    done = next(iter(checkpoint(root)["done"].values()))["report"]
    assert done["read"] == manifest.rows_total  # the file's totals span both processes
    assert done["published"] == manifest.rows_valid and done["dead_lettered"] == manifest.rows_malformed

    worker = start_worker(settings)
    try:
        try:
            drain(settings, timeout_s=300)
        except TimeoutError as exc:  # say why, so a slow or stuck worker is diagnosable from the report
            problems = [line for line in worker.log_path.read_text().splitlines()
                        if '"level": "error"' in line or "Has not committed" in line][-5:]
            raise AssertionError(f"{exc}; mart holds {events_in_mart(settings)} of {manifest.rows_valid} "
                                 f"events; worker log {worker.log_path}: {problems}") from None
    finally:
        worker.stop()
    assert events_in_mart(settings) == manifest.rows_valid  # each row exactly once in effect
    assert incident_counts(connect(settings.mart)) == expected_counts(manifest.truth_incidents_csv)


def test_sigterm_stops_at_a_checkpoint_and_the_restart_publishes_nothing_twice(
        settings: Settings, tmp_path: Path) -> None:
    manifest = generate_police_extract(tmp_path / "data", seed=6, incidents=12000)
    root = tmp_path / "conn"
    drop(root, manifest)
    first = file_drop_connector(settings, root, manifest).start()
    try:
        wait_for(lambda: mid_file(root, 2000), 120, "the connector never got 2000 records into the file")
        started = time.monotonic()
        assert first.terminate() == 0
        assert time.monotonic() - started < 15  # after the current batch, not the whole file
    finally:
        first.kill()
    log = first.log_path.read_text()
    assert "stop requested" in log and "connector stopped" in log
    if archived(root):  # pragma: no cover - the file finished before the signal landed
        pytest.fail("the file finished before SIGTERM; make it bigger")
    topics = Topics(settings.topic_prefix)
    stopped_at = checkpoint(root)["in_progress"]
    published_before = len(read_topic(settings, topics.raw(SOURCE)))
    assert published_before == stopped_at["report"]["published"]  # everything sent was acknowledged

    second = file_drop_connector(settings, root, manifest).start()
    try:
        wait_for(lambda: archived(root), 120, "the restarted connector never archived the file", 0.2)
        status, health = second.health()
        metrics = second.metrics()
    finally:
        assert second.terminate() == 0
    raw = read_topic(settings, topics.raw(SOURCE))
    dlq = read_topic(settings, topics.dlq(SOURCE))
    assert len(raw) == manifest.rows_valid  # a clean stop: not one duplicate
    assert len({m.key for m in raw}) == manifest.rows_valid
    assert len(dlq) == manifest.rows_malformed

    # /health and /metrics of the second process: its own part of the file, and conservation
    assert status == 200 and health["status"] == "ok" and health["kafka"]["reachable"] is True
    counts = health["counts"]
    assert counts["read"] == manifest.rows_total - stopped_at["records"]
    assert counts["read"] == counts["published"] + counts["dead_lettered"]
    assert counts["units"] == {"published": 1} and health["last_success"]
    read = metric_value(metrics, "svh_records_read_total", source=SOURCE)
    published = metric_value(metrics, "svh_records_published_total", source=SOURCE)
    dead = metric_value(metrics, "svh_records_dead_lettered_total", source=SOURCE)
    assert (read, published, dead) == (counts["read"], counts["published"], counts["dead_lettered"])
    assert metric_value(metrics, "svh_connector_units_total", source=SOURCE, outcome="published") == 1
    assert metric_value(metrics, "svh_connector_kafka_up", source=SOURCE) == 1
    assert metric_value(metrics, "svh_connector_last_success_timestamp_seconds", source=SOURCE) > 0


def test_health_is_503_while_kafka_is_unreachable_and_nothing_is_lost(settings: Settings, tmp_path: Path) -> None:
    dead_kafka = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})
    manifest = generate_police_extract(tmp_path / "data", seed=7, incidents=50)
    root = tmp_path / "conn"
    inbox_file = drop(root, manifest)
    proc = file_drop_connector(dead_kafka, root, manifest).start()
    try:
        body = proc.wait_healthy("kafka_unreachable", 60)
        status, _ = proc.health()
        assert status == 503 and body["kafka"]["reachable"] is False
        wait_for(lambda: proc.health()[1]["last_error"] is not None, 60, "no failed unit reported", 0.5)
        assert inbox_file.exists() and checkpoint(root).get("done") in (None, {})
        assert proc.terminate(timeout_s=60) == 0  # still stops cleanly
    finally:
        proc.kill()


def test_http_push_service_answers_after_kafka_acknowledges(settings: Settings, tmp_path: Path) -> None:
    manifest = generate_police_extract(tmp_path / "data", seed=8, incidents=30)
    root = tmp_path / "conn"
    token = make_tokens(root)
    http_port, health_port = free_port(), free_port()
    path = write_config(root, "http", SOURCE, settings=settings, port=http_port,
                        extra={"health": {"port": health_port, "kafka_probe_seconds": 1}})
    with manifest.extract_csv.open(newline="", encoding="utf-8") as fh:
        records = list(csv.DictReader(fh))
    proc = ConnectorProcess(path, settings, root / "connector.log", health_port).start()
    try:
        proc.wait_healthy("ok", 60)
        url = f"http://127.0.0.1:{http_port}/v1/records"

        def post(body: bytes, auth: str) -> tuple[int, Any]:
            req = urllib.request.Request(url, data=body, method="POST", headers={
                "Authorization": auth, "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback only
                    return int(resp.status), json.loads(resp.read())
            except urllib.error.HTTPError as err:
                return int(err.code), json.loads(err.read())

        status, answer = post(json.dumps({"records": records}).encode(), f"Bearer {token}")
        assert status == 200
        assert post(b"[]", "Bearer not-the-token")[0] == 401
        assert post(b"not json", f"Bearer {token}")[0] == 400
    finally:
        assert proc.terminate() == 0
    accepted = [r for r in answer["results"] if r["status"] == "accepted"]
    rejected = [r for r in answer["results"] if r["status"] == "rejected"]
    assert len(accepted) + len(rejected) == len(records) and rejected  # the synth extract has bad rows
    topics = Topics(settings.topic_prefix)
    assert len(read_topic(settings, topics.raw(SOURCE))) == len(accepted)  # there once the 200 came back
    assert len(read_topic(settings, topics.dlq(SOURCE))) == len(rejected)
