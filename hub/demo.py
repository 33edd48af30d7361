"""``hub demo``: the whole pipeline on synthetic data, checked against the generator's ground truth.

Generate a county's police extract -> connector publishes to Kafka -> the worker (a real child
process) pseudonymises and sinks into a fresh mart -> wait until Kafka says the worker has drained
-> print the released table and compare it, cell by cell, with the ground truth.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from hub import kafka_admin, logs
from hub.config import Settings
from hub.connectors import default_mapping_path, load_mapping
from hub.connectors.base import RunReport
from hub.connectors.load import publish_file
from hub.kafka_read import read_topic
from hub.mart import connect, count_events, incident_counts, init, release_lsoa_week_counts
from hub.mart.audit import ReleaseContext
from hub.mart.queries import release_area_counts
from hub.mart.report import format_area_counts, format_released
from hub.policy import load_agreement
from hub.pseudonymisation import KeyRing, PostcodeLookup, save_key_file
from hub.streams.lag import wait_until_drained
from hub.streams.process import WorkerProcess
from hub.synth import SynthManifest, expected_counts, generate_police_extract
from hub.topics import Topics

SOURCE = "police_incident"


def say(msg: str) -> None:
    print(msg, flush=True)


def demo_settings(base: Settings, run_dir: Path, manifest: SynthManifest, prefix: str) -> Settings:
    """The demo's own topics, mart and key file (never a master key from the environment)."""
    return base.replace(
        data_dir=run_dir, topic_prefix=prefix, app_id=f"{prefix}-worker",
        mart_url=f"sqlite:///{(run_dir / 'mart.db').resolve()}", keys_file=run_dir / "keys.json",
        postcode_lookup=manifest.lookup_csv, master_key=None, previous_master_key=None,
    )


def publish_extract(settings: Settings, extract: Path, lookup: Path | None) -> RunReport:
    """Run the police connector once over ``extract`` (what ``hub connector load`` does)."""
    mapping = load_mapping(default_mapping_path(SOURCE), PostcodeLookup.from_csv(lookup) if lookup else None)
    return publish_file(settings, mapping, extract)


def run_demo(base: Settings, incidents: int = 3000, seed: int = 2026) -> int:
    started = time.monotonic()
    logs.setup("ERROR")  # the demo prints its own summary; dead letters are counted below
    run_dir = (base.data_dir / "demo").resolve()
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    prefix = f"demo-{time.strftime('%Y%m%d%H%M%S')}"

    say(f"[1/6] generating a synthetic police extract ({incidents} incidents, seed {seed})")
    manifest = generate_police_extract(run_dir / "data", seed=seed, incidents=incidents)
    settings = demo_settings(base, run_dir, manifest, prefix)
    save_key_file(KeyRing.generate(), settings.keys_path)
    say(f"      {manifest.rows_total} rows ({manifest.rows_malformed} deliberately malformed) "
        f"-> {manifest.extract_csv}")

    say(f"[2/6] creating topics {prefix}.* on Kafka at {settings.kafka_bootstrap}")
    try:
        kafka_admin.ensure_topics(settings, [SOURCE], timeout_s=30)
    except Exception as exc:  # noqa: BLE001 - explain, don't dump a traceback
        say(f"error: Kafka is not reachable at {settings.kafka_bootstrap} ({type(exc).__name__}); "
            "start it with: deploy/kafka.sh start")
        return 2

    say("[3/6] connector: validating and publishing the extract")
    report = publish_extract(settings, manifest.extract_csv, manifest.lookup_csv)
    say(f"      read {report.read} = published {report.published} + dead-lettered {report.dead_lettered} "
        f"{dict(sorted(report.errors.items()))}")

    say("[4/6] worker: pseudonymising and loading the mart (a separate process)")
    engine = connect(settings.mart)
    init(engine)
    worker = WorkerProcess(settings, run_dir / "worker.log").start()
    topics = Topics(prefix)
    try:
        worker.wait_started(120)
        last = [-1]

        def progress(lag: int) -> None:
            if lag != last[0]:
                say(f"      {lag} messages still to process")
                last[0] = lag

        wait_until_drained(settings, settings.app_id, [topics.raw(SOURCE), topics.shared], 600, on_progress=progress)
        in_mart = count_events(engine)
    finally:
        worker.stop()
    say(f"      drained; mart holds {in_mart} events; worker log: {worker.log_path}")

    say("[5/6] checking against the ground truth")
    dead = read_topic(settings, topics.dlq(SOURCE))
    truth = expected_counts(manifest.truth_incidents_csv)
    counts = incident_counts(engine)
    agreement = load_agreement(settings.agreement_file())
    profile = agreement.release_profile("partnership")
    released = release_lsoa_week_counts(counts, profile)
    expected_release = release_lsoa_week_counts(truth, profile)
    checks = {
        "every valid row is in the mart once": in_mart == manifest.rows_valid == report.published,
        "every malformed row is on the dead-letter topic": len(dead) == manifest.rows_malformed == report.dead_lettered,
        "counts by LSOA x week x category equal the ground truth": counts == truth,
        "released (suppressed) table equals the ground truth's": released == expected_release,
    }
    for name, ok in checks.items():
        say(f"      {'PASS' if ok else 'FAIL'}  {name}")

    say(f"[6/6] released table (profile 'partnership': counts 1-{profile.standard.threshold - 1} suppressed)")
    say(format_released(released, limit=10))
    say("      the same incidents by MSOA x month, released for the needs assessment (and audited):")
    ctx = ReleaseContext.create(agreement, "sna", "partnership", user="demo")
    say(format_area_counts(release_area_counts(engine, ctx, geography="msoa", period="month"), limit=12))
    kafka_admin.delete_topics(settings, [SOURCE])
    say(f"done in {time.monotonic() - started:.1f} s; mart: {settings.mart}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":  # pragma: no cover
    from hub.config import load_settings
    sys.exit(run_demo(load_settings()))
