"""The whole pipeline over EVERY source in RAW_SCHEMAS at once: real broker, the worker as a process.

Each agency's synthetic extract carries planted canaries (names, dates of birth, postcodes; for the
health bodies NHS-number-like strings in free text). Each is published with the publisher its
agreement section calls for: the raw ``Publisher`` for sources pseudonymised at the hub, the
``AtSourcePublisher`` (inside the agency) for the ED and the ambulance trust. Then: the mart holds
exactly the valid rows of each source, every bad row is counted as a dead letter, and no canary is to
be found after the privacy boundary, while the raw topics of hub-pseudonymised sources do hold theirs
(so the search is known to work).
"""

from __future__ import annotations

import csv
import logging
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from sqlalchemy import inspect, text

from hub import kafka_admin, logs, metrics
from hub.config import Settings, load_settings
from hub.connectors import CsvFileConnector, RunReport, default_mapping_path, load_mapping
from hub.connectors.at_source import make_publisher
from hub.connectors.publisher import Publisher
from hub.dead_letters import headers_dict
from hub.kafka_read import read_topic
from hub.mart import connect, count_events, incident_counts, open_mart
from hub.policy import load_agreement
from hub.pseudonymisation import KeyRing, PostcodeLookup, load_keyring, save_key_file
from hub.schemas import RAW_SCHEMAS, default_repository
from hub.streams.lag import wait_until_drained
from hub.streams.process import WorkerProcess
from hub.synth import SOURCE_GENERATORS, PlantedPerson, expected_counts, generate_police_extract
from hub.topics import Topics
from tests.integration.pipeline import metrics_text, start_worker

pytestmark = pytest.mark.integration

CANARIES = {
    "police_incident": PlantedPerson("Zebedee", "Quillfeather", date(1987, 3, 14), "ZZ3 7QX"),
    "ed_attendance": PlantedPerson("Perpetua", "Wolfsbane", date(1979, 6, 21), "ZZ8 4QJ"),
    "ambulance_callout": PlantedPerson("Barnaby", "Thistlewood", date(1990, 2, 27), "ZZ2 9XW"),
    "probation_event": PlantedPerson("Cornelius", "Ravenscroft", date(1961, 4, 17), "ZZ4 6YV"),
    "youth_justice_event": PlantedPerson("Ottoline", "Vandersnoot", date(2010, 11, 2), "ZZ9 1AB"),
    "school_exclusion": PlantedPerson("Peregrine", "Ashcombe", date(2012, 5, 9), "ZZ6 2WQ"),
    "referral": PlantedPerson("Hortensia", "Blackwood", date(2008, 8, 30), "ZZ5 3WL"),
    "intervention_activity": PlantedPerson("Unused", "Anonymous", date(2000, 1, 1), "ZZ1 1AA"),  # no names to plant
}
SIZES = {"ed_attendance": "attendances", "ambulance_callout": "callouts", "probation_event": "events",
         "youth_justice_event": "outcomes", "school_exclusion": "exclusions", "referral": "referrals",
         "intervention_activity": "activities"}
POLICE_SEED, POLICE_INCIDENTS = 17, 150
MISROUTED = "ED-MISROUTED-1"


@dataclass(frozen=True)
class Extract:
    path: Path
    rows_total: int
    rows_valid: int
    rows_malformed: int
    needles: tuple[str, ...]  # canary strings that must never pass the boundary


@dataclass
class AllSources:
    settings: Settings
    extracts: dict[str, Extract]
    reports: dict[str, RunReport]
    at_source: list[str]
    quarantine: Path
    connector_log: Path
    connector_metrics: str
    topics_after_connectors: set[str]
    police_truth: Path
    worker: WorkerProcess


def needles(person: PlantedPerson, more: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(dict.fromkeys((person.forename, person.surname, f"{person.forename} {person.surname}",
                                person.dob.isoformat(), person.dob.strftime("%d/%m/%Y"), person.postcode,
                                person.postcode.replace(" ", ""), *more)))


def generate(base: Path) -> tuple[dict[str, Extract], Path]:
    police = generate_police_extract(base / "police_incident", seed=POLICE_SEED, incidents=POLICE_INCIDENTS,
                                     malformed=5, planted=[CANARIES["police_incident"]])
    extracts = {"police_incident": Extract(police.extract_csv, police.rows_total, police.rows_valid,
                                           police.rows_malformed, needles(CANARIES["police_incident"]))}
    for source, make in SOURCE_GENERATORS.items():
        people = {"police_seed": POLICE_SEED, "police_incidents": POLICE_INCIDENTS} if source in (
            "probation_event", "youth_justice_event", "school_exclusion", "referral") else {}
        m = make(base / source, seed=5, planted=[CANARIES[source]], **{SIZES[source]: 50}, **people)
        planted = needles(CANARIES[source], m.planted) if m.planted else ()  # interventions: anonymous
        extracts[source] = Extract(m.extract_csv, m.rows_total, m.rows_valid, m.rows_malformed, planted)
    assert set(extracts) == set(RAW_SCHEMAS), "a source in RAW_SCHEMAS has no generator"
    return extracts, police.truth_incidents_csv


def publish_all(settings: Settings, extracts: dict[str, Extract], lookup_csv: Path, agency_keys: Path,
                quarantine: Path) -> tuple[dict[str, RunReport], list[str]]:
    """What each agency's connector does: map, validate, and publish with the publisher its agreement
    section calls for (the health bodies' run inside their own network, with their own key file)."""
    schemas = default_repository()
    agreement = load_agreement(settings.agreement_file(), schemas)
    lookup = PostcodeLookup.from_csv(lookup_csv)
    agency_ring = load_keyring(agency_keys)
    at_source = sorted(s for s in extracts if agreement.source(s).pseudonymise_at == "source")
    kafka_admin.ensure_topics(settings, [s for s in extracts if s not in at_source], timeout_s=30)
    kafka_admin.ensure_topics(settings, at_source, timeout_s=30, raw=False)
    reports = {}
    for source, extract in extracts.items():
        mapping = load_mapping(default_mapping_path(source), lookup)
        publisher = make_publisher(settings, source, schemas, agreement, agency_ring, lookup, quarantine)
        for rec in CsvFileConnector(extract.path, mapping).records():
            publisher.publish(rec)
        reports[source] = publisher.close()
    return reports, at_source


def misroute(settings: Settings, extract: Extract, lookup_csv: Path) -> None:
    """A mistake the hub must catch: one ED record (with no canary in it) sent raw to the hub, as if by a
    connector configured to pseudonymise at the hub. The worker must refuse it, not pseudonymise it."""
    mapping = load_mapping(default_mapping_path("ed_attendance"), PostcodeLookup.from_csv(lookup_csv))
    rec = next(r for r in CsvFileConnector(extract.path, mapping).records()
               if r.record is not None and not any(n.encode() in r.original for n in extract.needles))
    rec.record = {**rec.record, "record_id": MISROUTED}
    kafka_admin.ensure_topics(settings, ["ed_attendance"], timeout_s=30)
    publisher = Publisher(settings, "ed_attendance", default_repository())
    publisher.publish(rec)
    publisher.close()


def existing_topics(settings: Settings) -> set[str]:
    admin = KafkaAdminClient(**settings.kafka_python_kwargs(), client_id="svh-test")
    try:
        return {t for t in admin.list_topics() if t.startswith(settings.topic_prefix + ".")}
    finally:
        admin.close()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[AllSources]:
    from tests.plugins.services import free_port, unique

    base = tmp_path_factory.mktemp("all-sources")
    prefix = unique("all-sources")
    extracts, police_truth = generate(base / "data")
    lookup_csv = base / "data" / "police_incident" / "postcode_lookup.csv"
    run_dir = base / "run"
    run_dir.mkdir()
    hub_keys, agency_keys = run_dir / "keys.json", base / "agency" / "keys.json"
    save_key_file(KeyRing.generate(), hub_keys)
    save_key_file(KeyRing.generate(holder="agency:example-hospitals"), agency_keys)  # the hub's never leaves it
    settings = load_settings({}, data_dir=run_dir, kafka_bootstrap=kafka_bootstrap, topic_prefix=prefix,
                             app_id=f"{prefix}-worker", metrics_port=free_port(), keys_file=hub_keys,
                             postcode_lookup=lookup_csv)
    quarantine = base / "agency" / "quarantine"
    connector_log = base / "connector.log"
    handler = logging.FileHandler(connector_log, encoding="utf-8")
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        reports, at_source = publish_all(settings, extracts, lookup_csv, agency_keys, quarantine)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()
    connector_metrics = metrics.exposition()[0].decode()
    after_connectors = existing_topics(settings)
    misroute(settings, extracts["ed_attendance"], lookup_csv)
    worker = start_worker(settings)
    try:
        t = Topics(prefix)
        wait_until_drained(settings, settings.app_id,
                           [t.raw(s) for s in extracts if s not in at_source]
                           + [t.at_source(s) for s in at_source] + [t.shared], 120)
        yield AllSources(settings, extracts, reports, at_source, quarantine, connector_log, connector_metrics,
                         after_connectors, police_truth, worker)
    finally:
        worker.stop()


def test_health_bodies_are_pseudonymised_at_source(run: AllSources) -> None:
    assert run.at_source == ["ambulance_callout", "ed_attendance"]


def test_every_record_read_is_published_or_dead_lettered(run: AllSources) -> None:
    for source, extract in run.extracts.items():
        report = run.reports[source]
        assert report.balanced, source
        assert (report.read, report.published, report.dead_lettered) == (
            extract.rows_total, extract.rows_valid, extract.rows_malformed), source
        assert extract.rows_malformed >= 4 and extract.rows_valid >= 50


def test_the_mart_holds_exactly_the_valid_rows_of_each_source(run: AllSources) -> None:
    engine = connect(run.settings.mart)
    for source, extract in run.extracts.items():
        assert count_events(engine, source) == extract.rows_valid, source
    assert count_events(engine) == sum(e.rows_valid for e in run.extracts.values())
    # The other sources do not leak into the police incident counts (they have no incident LSOA and offence
    # category together), so those still equal the police ground truth.
    assert incident_counts(engine) == expected_counts(run.police_truth)


def test_each_source_appears_in_the_default_release(run: AllSources) -> None:
    """hub mart counts --purpose sna, as shipped: every measure, MSOA x month; every source is in it."""
    from hub.mart.audit import ReleaseContext, releases
    from hub.mart.release import release
    engine = open_mart(run.settings.mart)
    ctx = ReleaseContext.create(load_agreement(run.settings.agreement_file()), "sna", "partnership", "t", environ={})
    table = release(engine, ctx)
    assert set(table.sources) == set(RAW_SCHEMAS)
    assert {r.measure for r in table.rows} >= {"police_incidents", "ed_assault_attendances",
                                               "ambulance_assault_callouts", "probation_new_starts",
                                               "youth_justice_new_starts", "school_exclusions"}
    assert releases(engine)[0]["sources"] == ",".join(sorted(RAW_SCHEMAS))


def test_health_flags_and_patients_reach_the_mart_without_identity(run: AllSources) -> None:
    engine = connect(run.settings.mart)
    with engine.connect() as conn:
        for source in run.at_source:
            knives = conn.execute(text("SELECT COUNT(*) FROM event WHERE source = :s AND knife"), {"s": source})
            expected = sum(1 for row in _truth(run, source) if row["valid"] == "true"
                           and "knife" in row["flags"].split(";"))
            assert knives.scalar_one() == expected, source
            roles = conn.execute(text("SELECT DISTINCT p.role FROM event_person p JOIN event e "
                                      "ON e.event_id = p.event_id WHERE e.source = :s"), {"s": source})
            assert {r[0] for r in roles} == {"patient"}


def _truth(run: AllSources, source: str) -> list[dict[str, str]]:
    path = run.extracts[source].path.with_name(f"{source}_truth.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_no_raw_topic_holds_a_health_body_s_record(run: AllSources) -> None:
    t = Topics(run.settings.topic_prefix)
    for source in run.at_source:
        assert t.raw(source) not in run.topics_after_connectors, "the connector created a raw topic"
        assert t.dlq(source) in run.topics_after_connectors
    assert read_topic(run.settings, t.raw("ambulance_callout")) == []  # (the worker may have declared it)
    for source in run.extracts:
        if source not in run.at_source:
            assert t.raw(source) in run.topics_after_connectors


def test_a_health_body_s_raw_record_that_reaches_the_hub_is_refused(run: AllSources) -> None:
    """The misrouted ED record is dead-lettered by the worker at stage pseudonymise, never pseudonymised; the
    dead letter is a notice without the record (the health body's dead-letter topic never holds patient data)."""
    t = Topics(run.settings.topic_prefix)
    assert len(read_topic(run.settings, t.raw("ed_attendance"))) == 1
    refused = [m for m in read_topic(run.settings, t.dlq("ed_attendance"))
               if headers_dict(m.headers)["stage"] == "pseudonymise"]
    assert len(refused) == 1 and refused[0].key == MISROUTED.encode() and not refused[0].value
    h = headers_dict(refused[0].headers)
    assert (h["stage"], h["kind"]) == ("pseudonymise", "unpseudonymisable")
    assert "pseudonymised at the source, not at the hub" in h["exception.message"]
    assert count_events(connect(run.settings.mart), "ed_attendance") == run.extracts["ed_attendance"].rows_valid


def test_dead_letters_hold_the_row_at_the_hub_but_only_a_notice_from_a_health_body(run: AllSources) -> None:
    t = Topics(run.settings.topic_prefix)
    for source, extract in run.extracts.items():
        dead = [m for m in read_topic(run.settings, t.dlq(source)) if headers_dict(m.headers)["stage"] == "validate"]
        assert len(dead) == extract.rows_malformed, source
        for msg in dead:
            h = headers_dict(msg.headers)
            assert h["stage"] == "validate" and h["kind"] and h["position"].startswith(extract.path.name)
            if source in run.at_source:
                assert not msg.value and msg.key is None, "a health body's row left the agency"
            else:
                assert msg.value  # the original row, for repair (restricted topic)
    for source in run.at_source:
        path = run.quarantine / f"{source}.quarantine.jsonl"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        lines = path.read_text("utf-8").splitlines()
        assert len(lines) == run.extracts[source].rows_malformed
        assert CANARIES[source].surname in path.read_text("utf-8")  # the row is kept, inside the agency


def test_no_canary_passes_the_boundary(run: AllSources) -> None:
    t = Topics(run.settings.topic_prefix)
    places = {
        t.shared: _topic_text(run.settings, t.shared),
        "the mart": _mart_text(run.settings),
        "the worker log": run.worker.log_path.read_text("utf-8", errors="replace").lower(),
        "the worker's /metrics": metrics_text(run.settings).lower(),
        "the connectors' log": run.connector_log.read_text("utf-8").lower(),
        "the connectors' /metrics": run.connector_metrics.lower(),
    }
    for source in run.at_source:
        places[t.dlq(source)] = _topic_text(run.settings, t.dlq(source))
    assert len(places[t.shared]) > 10_000 and "quarantined at the source" in places[t.dlq("ed_attendance")]
    for source, extract in run.extracts.items():
        for needle in extract.needles:
            for where, blob in places.items():
                assert needle.lower() not in blob, f"{source} canary {needle!r} reached {where}"


def test_the_search_finds_canaries_where_they_are_allowed(run: AllSources) -> None:
    t = Topics(run.settings.topic_prefix)
    for source, extract in run.extracts.items():
        if source not in run.at_source and extract.needles:  # (the intervention return is anonymous)
            raw = _topic_text(run.settings, t.raw(source))
            assert CANARIES[source].surname.lower() in raw, source
            assert CANARIES[source].forename.lower() in raw, source


def _topic_text(settings: Settings, topic: str) -> str:
    msgs = read_topic(settings, topic)
    blob = b"".join((m.key or b"") + (m.value or b"") + b"".join(k.encode() + (v or b"") for k, v in m.headers)
                    for m in msgs)
    return blob.decode("latin-1").lower()


def _mart_text(settings: Settings) -> str:
    """Every row of every table in the mart, as text."""
    engine = connect(settings.mart)
    out = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            out += [repr(tuple(r)) for r in conn.execute(text(f'SELECT * FROM "{table}"'))]  # noqa: S608
    return "\n".join(out).lower()
