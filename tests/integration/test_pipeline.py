"""End to end on a real broker, with the worker as a real process: mart versus ground truth,
dead letters, idempotent re-runs, and the privacy boundary (planted identifiers go nowhere)."""

from __future__ import annotations

import contextlib
import csv
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from hub.config import Settings
from hub.dead_letters import headers_dict
from hub.demo import SOURCE
from hub.kafka_read import read_topic
from hub.mart import connect, incident_counts
from hub.synth import PlantedPerson, SynthManifest, expected_counts, generate_police_extract
from hub.topics import Topics
from tests.integration.pipeline import (
    Run,
    drain,
    events_in_mart,
    mart_dump,
    metric_value,
    metrics_text,
    publish,
    start_worker,
    with_pipeline_files,
)

pytestmark = pytest.mark.integration

CANARIES = [
    PlantedPerson("Zebedee", "Quillfeather", date(1987, 3, 14), "ZZ3 7QX"),
    PlantedPerson("Ottoline", "Vandersnoot", date(2004, 11, 2), "ZZ9 1AB"),
]


def canary_strings(p: PlantedPerson) -> list[str]:
    return [p.forename, p.surname, f"{p.forename} {p.surname}", p.dob.isoformat(), p.dob.strftime("%d/%m/%Y"),
            p.postcode, p.postcode.replace(" ", "")]


def truth_rows(manifest: SynthManifest) -> list[dict[str, str]]:
    with manifest.truth_incidents_csv.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pipeline")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def run(request: pytest.FixtureRequest, module_tmp: Path, kafka_bootstrap: str) -> Iterator[Run]:
    """One full run per mart backend: 800 incidents (+12 malformed), two canary people planted."""
    from tests.plugins.services import postgres_schema, unique

    backend = request.param
    base = module_tmp / backend
    manifest = generate_police_extract(base / "data", seed=7, incidents=800, planted=CANARIES)
    prefix = unique(f"e2e-{backend}")
    with contextlib.ExitStack() as stack:
        overrides: dict[str, object] = {}
        if backend == "postgres":
            overrides["mart_url"] = stack.enter_context(postgres_schema(request.getfixturevalue("postgres_url")))
        yield from _full_run(base, manifest, prefix, kafka_bootstrap, overrides)


def _full_run(base: Path, manifest: SynthManifest, prefix: str, kafka_bootstrap: str,
              overrides: dict[str, object]) -> Iterator[Run]:
    from hub.config import load_settings
    from tests.plugins.services import free_port

    settings = load_settings({}, data_dir=base / "run", kafka_bootstrap=kafka_bootstrap, topic_prefix=prefix,
                             app_id=f"{prefix}-worker", metrics_port=free_port(), **overrides)
    settings = with_pipeline_files(settings, manifest)
    report = publish(settings, manifest.extract_csv, manifest.lookup_csv)
    worker = start_worker(settings)
    try:
        drain(settings)
        yield Run(settings, manifest, report, worker)
    finally:
        worker.stop()


def test_mart_equals_ground_truth(run: Run) -> None:
    truth = expected_counts(run.manifest.truth_incidents_csv)
    assert run.report.read == run.manifest.rows_total
    assert run.report.published == run.manifest.rows_valid
    assert events_in_mart(run.settings) == run.manifest.rows_valid
    assert incident_counts(connect(run.settings.mart)) == truth


def test_every_malformed_row_is_dead_lettered_with_row_and_field(run: Run) -> None:
    dead = read_topic(run.settings, Topics(run.settings.topic_prefix).dlq(SOURCE))
    assert len(dead) == run.manifest.rows_malformed == run.report.dead_lettered
    expected = {int(r["row_number"]): r for r in truth_rows(run.manifest) if r["valid"] == "false"}
    seen = set()
    for msg in dead:
        h = headers_dict(msg.headers)
        row = int(re.search(r"row (\d+)", h["position"]).group(1))  # type: ignore[union-attr]
        seen.add(row)
        truth = expected[row]
        assert h["stage"] == "validate"
        assert f"row {row}" in h["exception.message"]
        if truth["error_field"]:
            assert h["field"] == truth["error_field"]
            assert truth["error_field"] in h["exception.message"]
        else:
            assert "columns" in h["exception.message"]
        assert msg.value  # the original row is kept for repair and replay
    assert seen == set(expected)


def test_metrics_count_every_message(run: Run) -> None:
    text = metrics_text(run.settings)
    consumed = metric_value(text, "svh_stage_consumed_total", stage="pseudonymise", source=SOURCE)
    emitted = metric_value(text, "svh_stage_processed_total", stage="pseudonymise", outcome="emitted")
    dead = metric_value(text, "svh_stage_processed_total", stage="pseudonymise", outcome="dead_lettered")
    assert consumed == emitted + dead == run.manifest.rows_valid
    sink_consumed = metric_value(text, "svh_stage_consumed_total", stage="sink")
    sink_emitted = metric_value(text, "svh_stage_processed_total", stage="sink", outcome="emitted")
    sink_dead = metric_value(text, "svh_stage_processed_total", stage="sink", outcome="dead_lettered")
    assert sink_consumed == sink_emitted + sink_dead == run.manifest.rows_valid


def test_planted_identifiers_never_pass_the_boundary(run: Run) -> None:
    topics = Topics(run.settings.topic_prefix)
    raw = b"".join((m.value or b"") for m in read_topic(run.settings, topics.raw(SOURCE))).decode("latin-1").lower()
    shared_msgs = read_topic(run.settings, topics.shared)
    assert len(shared_msgs) >= run.manifest.rows_valid
    shared = b"".join((m.key or b"") + (m.value or b"") + b"".join(v for _, v in m.headers)
                      for m in shared_msgs).decode("latin-1").lower()
    mart = repr(mart_dump(run.settings)).lower()
    log = run.worker.log_path.read_text("utf-8", errors="replace").lower()
    metrics = metrics_text(run.settings).lower()
    for person in CANARIES:
        # The raw topic does hold them (so the search below can find what it looks for) ...
        assert person.surname.lower() in raw
        for needle in canary_strings(person):
            n = needle.lower()
            # ... and nothing after the boundary does.
            assert n not in shared, f"{needle!r} reached {topics.shared}"
            assert n not in mart, f"{needle!r} reached the mart"
            assert n not in log, f"{needle!r} reached the worker log"
            assert n not in metrics, f"{needle!r} reached /metrics"


def test_planted_victims_keep_generalised_attributes(run: Run) -> None:
    """Pseudonymised, not erased: the canaries' incidents still carry an age band and an area."""
    with connect(run.settings.mart).connect() as conn:
        from sqlalchemy import text
        bands = {r[0] for r in conn.execute(text("SELECT age_band FROM event_person WHERE role = 'victim'"))}
    assert {"35-44", "18-24", "25-34"} & bands


def test_rerunning_the_connector_leaves_the_mart_unchanged(settings: Settings, tmp_path: Path) -> None:
    manifest = generate_police_extract(tmp_path / "data", seed=11, incidents=300)
    settings = with_pipeline_files(settings, manifest)
    first = publish(settings, manifest.extract_csv, manifest.lookup_csv)
    worker = start_worker(settings)
    try:
        drain(settings)
        before = mart_dump(settings)
        second = publish(settings, manifest.extract_csv, manifest.lookup_csv)
        drain(settings)
        after = mart_dump(settings)
    finally:
        worker.stop()
    assert first.as_dict() == second.as_dict()
    raw = read_topic(settings, Topics(settings.topic_prefix).raw(SOURCE))
    assert len(raw) == 2 * manifest.rows_valid  # really published twice ...
    assert len(before["event"]) == manifest.rows_valid
    assert after == before  # ... and the mart is exactly as after one run
