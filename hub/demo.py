"""``hub demo``: the whole pipeline on synthetic data, checked against the generator's ground truth.

Generate a county's extracts for all six sources -> each agency's connector publishes to Kafka (the
health bodies pseudonymise at the source) -> the worker (a real child process) pseudonymises and sinks
into a fresh mart -> wait until Kafka says the worker has drained, and until the worker's timer has
matched ED assault attendances to police incidents -> compare the police counts, cell by cell, and the
incident matches with the ground truth -> print the default release (every measure, MSOA x month), which
holds every source, and the share of ED assaults the police never heard of (Cardiff Model).
"""

from __future__ import annotations

import csv
import shutil
import socket
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy.engine import Engine

from hub import kafka_admin, logs
from hub.cli.progress import remaining
from hub.config import Settings
from hub.connectors import default_mapping_path, load_mapping
from hub.connectors.at_source import make_publisher
from hub.connectors.base import RunReport
from hub.connectors.csv_file import CsvFileConnector
from hub.connectors.load import publish_file
from hub.kafka_read import read_topic
from hub.mart import connect, count_events, incident_counts, init
from hub.mart.audit import ReleaseContext
from hub.mart.output import format_table
from hub.mart.release import release
from hub.policy import load_agreement
from hub.pseudonymisation import KeyRing, PostcodeLookup, load_keyring, save_key_file
from hub.schemas import default_repository
from hub.streams.lag import wait_until_drained
from hub.streams.process import WorkerProcess
from hub.synth import SOURCE_GENERATORS, SynthManifest, expected_counts, generate_police_extract
from hub.topics import Topics

SOURCE = "police_incident"
OTHER_SIZES = {"ed_attendance": ("attendances", 400), "ambulance_callout": ("callouts", 300),
               "probation_event": ("events", 300), "youth_justice_event": ("outcomes", 200),
               "school_exclusion": ("exclusions", 250)}


def say(msg: str) -> None:
    print(msg, flush=True)


def demo_settings(base: Settings, run_dir: Path, manifest: SynthManifest, prefix: str) -> Settings:
    """The demo's own topics, mart and key file (never a master key from the environment)."""
    return base.replace(
        data_dir=run_dir, topic_prefix=prefix, app_id=f"{prefix}-worker",
        mart_url=f"sqlite:///{(run_dir / 'mart.db').resolve()}", keys_file=run_dir / "keys.json",
        postcode_lookup=manifest.lookup_csv, master_key=None, previous_master_key=None,
        metrics_port=_free_port(), incident_match_interval_s=1.0,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _refreshes(settings: Settings, outcome: str) -> float:
    """``svh_incident_match_refreshes_total{outcome}`` as the worker's /metrics serves it (-1: unreachable)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.metrics_port}/metrics", timeout=5) as resp:  # noqa: S310
            body = resp.read().decode()
    except OSError:
        return -1.0
    return sum(float(line.rpartition(" ")[2]) for line in body.splitlines()
               if line.startswith("svh_incident_match_refreshes_total{") and f'outcome="{outcome}"' in line)


def wait_for_incident_matches(settings: Settings, timeout_s: float = 120.0) -> bool:
    """After the drain: wait until the worker's timer has had a tick with nothing left to match (every month
    its sink wrote is matched; ticks run one after another). False if that did not happen in time."""
    before = _refreshes(settings, "idle")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _refreshes(settings, "idle") > before >= 0:
            return True
        time.sleep(0.2)
    return False


def incident_quality(engine: Engine, truth_csv: Path, ring: KeyRing,
                     police_ring: KeyRing) -> tuple[float, float, int]:
    """(precision, recall, true pairs) of the mart's ED <-> police matches against the ED generator's truth."""
    from sqlalchemy import select

    from hub.mart.incident_matches import incident_match
    from hub.pseudonymisation.tokens import event_id
    with truth_csv.open(newline="", encoding="utf-8") as fh:
        truth = {event_id(ring, "ed_attendance", r["record_id"]): event_id(police_ring, SOURCE, r["police_ref"])
                 for r in csv.DictReader(fh) if r["valid"] == "true" and r["police_ref"]}
    with engine.connect() as conn:
        matches = [(r.ed_event_id, r.police_event_id) for r in conn.execute(select(incident_match))]
    correct = sum(truth.get(ed) == police for ed, police in matches)
    return (correct / len(matches) if matches else 0.0), (correct / len(truth) if truth else 0.0), len(truth)


def publish_extract(settings: Settings, extract: Path, lookup: Path | None) -> RunReport:
    """Run the police connector once over ``extract`` (what ``hub connector load`` does)."""
    mapping = load_mapping(default_mapping_path(SOURCE), PostcodeLookup.from_csv(lookup) if lookup else None)
    return publish_file(settings, mapping, extract)


def publish_other_sources(settings: Settings, run_dir: Path, manifest: SynthManifest, seed: int,
                          incidents: int, agency_ring: KeyRing | None = None) -> dict[str, RunReport]:
    """The five other agencies' connectors, each with the publisher its agreement section calls for. The ED
    extract holds a known share of the police extract's assaults (the truth says which)."""
    schemas = default_repository()
    agreement = load_agreement(settings.agreement_file(), schemas)
    lookup = PostcodeLookup.from_csv(manifest.lookup_csv)
    # the hub's key never leaves the hub: the health bodies have their own
    agency_ring = agency_ring or KeyRing.generate(holder="agency:example-hospitals")
    hub_ring = load_keyring(settings.keys_path)
    reports: dict[str, RunReport] = {}
    for source, (arg, size) in OTHER_SIZES.items():  # the five agencies besides the police
        generate = SOURCE_GENERATORS[source]
        kwargs: dict[str, object] = {"seed": seed, arg: size}
        if source in ("probation_event", "youth_justice_event", "school_exclusion", "ed_attendance"):
            kwargs.update(police_seed=seed, police_incidents=incidents)
        extract = generate(run_dir / "data" / source, **kwargs)
        mapping = load_mapping(default_mapping_path(source), lookup)
        ring = agency_ring if agreement.source(source).pseudonymise_at == "source" else hub_ring
        publisher = make_publisher(settings, source, schemas, agreement, ring, lookup, run_dir / "quarantine")
        for rec in CsvFileConnector(extract.extract_csv, mapping).records():
            publisher.publish(rec)
        reports[source] = publisher.close()
        reports[source].count_locations(mapping.placements)  # free-text locations placed at the trust, or not
    return reports


def ed_share(engine: Engine) -> tuple[int, int]:
    """(ED assault attendances in the mart, of which with no matching police incident)."""
    from sqlalchemy import func, select

    from hub.mart.incident_matches import incident_match
    from hub.mart.models import event
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).where(event.c.source == "ed_attendance")).scalar_one()
        matched = conn.execute(select(func.count()).select_from(incident_match)).scalar_one()
    return int(total), int(total) - int(matched)


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
    agreement = load_agreement(settings.agreement_file())
    at_source = [s for s in OTHER_SIZES if agreement.source(s).pseudonymise_at == "source"]
    at_hub = [SOURCE] + [s for s in OTHER_SIZES if s not in at_source]
    try:
        kafka_admin.ensure_topics(settings, at_hub, timeout_s=30)
        kafka_admin.ensure_topics(settings, at_source, timeout_s=30, raw=False)
    except Exception as exc:  # noqa: BLE001 - explain, don't dump a traceback
        say(f"error: Kafka is not reachable at {settings.kafka_bootstrap} ({type(exc).__name__}); "
            "start it with: deploy/kafka.sh start")
        return 2

    say("[3/6] connectors: validating and publishing the police extract and five other agencies' extracts")
    report = publish_extract(settings, manifest.extract_csv, manifest.lookup_csv)
    say(f"      police: read {report.read} = published {report.published} + dead-lettered {report.dead_lettered} "
        f"{dict(sorted(report.errors.items()))}")
    trust_ring = KeyRing.generate(holder="agency:example-hospitals")
    others = publish_other_sources(settings, run_dir, manifest, seed, incidents, trust_ring)
    for source, rep in others.items():
        where = "pseudonymised at the source" if source in at_source else "raw to the hub"
        placed = (f"; assault locations placed in an area {rep.locations.get('placed', 0)}, not placed (sent "
                  f"without an area) {rep.locations.get('unplaced', 0)}" if rep.locations else "")
        say(f"      {source}: read {rep.read} = published {rep.published} + dead-lettered {rep.dead_lettered} "
            f"({where}{placed})")

    say("[4/6] worker: pseudonymising and loading the mart (a separate process)")
    engine = connect(settings.mart)
    init(engine)
    worker = WorkerProcess(settings, run_dir / "worker.log").start()
    topics = Topics(prefix)
    try:
        worker.wait_started(120)
        with remaining("    draining the worker's input") as progress:
            wait_until_drained(settings, settings.app_id, [topics.raw(s) for s in at_hub]
                               + [topics.at_source(s) for s in at_source] + [topics.shared], 600,
                               on_progress=progress)
        matched_on_timer = wait_for_incident_matches(settings)
        in_mart = count_events(engine)
    finally:
        worker.stop()
    say(f"      drained; mart holds {in_mart} events; worker log: {worker.log_path}")

    say("[5/6] checking against the ground truth")
    dead = read_topic(settings, topics.dlq(SOURCE))
    truth = expected_counts(manifest.truth_incidents_csv)
    counts = incident_counts(engine, SOURCE)
    ctx = ReleaseContext.create(agreement, "sna", "partnership", user="demo")
    table = release(engine, ctx)  # the default: every measure the purpose allows, MSOA x month
    published = {s: r.published for s, r in others.items()} | {SOURCE: report.published}
    ed_truth = run_dir / "data" / "ed_attendance" / "ed_attendance_truth.csv"
    precision, recall, true_known = incident_quality(engine, ed_truth, trust_ring, load_keyring(settings.keys_path))
    checks = {
        "every valid police row is in the mart once": count_events(engine, SOURCE) == manifest.rows_valid
        == report.published,
        "every source's published rows are in the mart": all(count_events(engine, s) == n
                                                               for s, n in published.items()),
        "every malformed police row is on the dead-letter topic": len(dead) == manifest.rows_malformed
        == report.dead_lettered,
        "police counts by LSOA x week x category equal the ground truth": counts == truth,
        "the default release holds all six sources": set(table.sources) == set(published),
        "the worker matched ED attendances to police incidents on its timer": matched_on_timer,
        f"ED <-> police matches against the truth: precision {precision:.3f} >= 0.95, recall {recall:.3f} >= 0.90":
        precision >= 0.95 and recall >= 0.90,
    }
    for name, ok in checks.items():
        say(f"      {'PASS' if ok else 'FAIL'}  {name}")

    say("[6/6] the default release for the needs assessment (every measure, MSOA x month; audited):")
    say(format_table(table, limit=12))
    ed_total, unmatched = ed_share(engine)
    share = release(engine, ctx, "ed_assaults_without_police", "lad", "month", breakdown="total")
    say(f"      ED assault attendances with no matching police incident (Cardiff Model): {unmatched} of {ed_total} "
        f"({unmatched / max(ed_total, 1):.0%}, truth {1 - true_known / max(ed_total, 1):.0%}; restricted counts, "
        f"shown only here); released by district x month under disclosure control (audited):")
    say(format_table(share, limit=8))
    kafka_admin.delete_topics(settings, at_hub + at_source)
    say(f"done in {time.monotonic() - started:.1f} s; mart: {settings.mart}")
    say(f"query the demo's mart with: HUB_MART_URL={settings.mart} hub mart counts --purpose sna")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":  # pragma: no cover
    from hub.config import load_settings
    sys.exit(run_demo(load_settings()))
