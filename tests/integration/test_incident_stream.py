"""ED assault attendances matched to police incidents in the running pipeline, on the real broker.

Synthetic police and ED extracts with known truth (``police_share`` of the attendances are assaults of the
police extract, ``police_ref`` in the ED truth) go through the agencies' own connectors (``hub connector
run --once`` in file-drop mode: the police raw to the hub, the ED pseudonymised inside the trust, where its
free-text assault location is placed against the gazetteer and only the area leaves), then the worker
(a real process) into a PostgreSQL mart. Nobody runs a matching command: the sink's timer refreshes
``incident_match`` for the months it wrote. Then:

- the matches in the mart reach precision >= 0.95 and recall >= 0.90 against the truth;
- the share of ED assaults with no police match appears in the released layer, by area x month, cell-key
  protected and suppressed under the partnership profile;
- no assault location text is anywhere: not on a topic, not in a mart table (restricted or released);
- the ED connector's report counts the locations it could not place.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from hub import kafka_admin
from hub.config import Settings, load_settings
from hub.connectors.base import RunReport
from hub.connectors.config import load_config
from hub.connectors.runtime import Runtime
from hub.connectors.service import run_once
from hub.kafka_read import read_topic
from hub.mart import connect, released, store
from hub.mart.audit import ReleaseContext
from hub.mart.incident_matches import incident_match
from hub.mart.release import release
from hub.policy import load_agreement
from hub.pseudonymisation import KeyRing, load_keyring, save_key_file
from hub.pseudonymisation.tokens import event_id
from hub.streams.lag import wait_until_drained
from hub.streams.process import WorkerProcess
from hub.synth import SOURCE_GENERATORS, generate_police_extract
from hub.topics import Topics
from tests.integration.faults import wait_until
from tests.integration.pipeline import metric_value, metrics_text, start_worker
from tests.plugins.services import free_port, postgres_schema, unique

pytestmark = pytest.mark.integration

POLICE_SEED, POLICE_INCIDENTS, ED_ATTENDANCES, SHARE = 31, 1500, 400, 0.4
ED, POLICE = "ed_attendance", "police_incident"


@dataclass
class Outcome:
    settings: Settings
    reports: dict[str, RunReport]
    truth: dict[str, str]  # ED event id -> police event id of the same assault
    ed_events: int
    location_texts: list[str]
    worker: WorkerProcess


def connector_config(base: Path, name: str, source: str, settings: Settings, extract: Path, lookup: Path,
                     keys: Path | None) -> Path:
    """A file-drop connector for ``source`` with the extract already in its inbox."""
    inbox = base / name / "inbox"
    inbox.mkdir(parents=True)
    shutil.copy(extract, inbox / extract.name)
    at_source = (f"pseudonymisation: {{keys_file: {keys}, quarantine: {base / name / 'quarantine'}}}\n"
                 if keys else "")
    path = base / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nsource: {source}\nmode: file_drop\npostcode_lookup: {lookup}\n"
        f"state_dir: {base / name / 'state'}\n"
        f"file_drop: {{inbox: {inbox}, settle_seconds: 0, poll_seconds: 1}}\n"
        f"health: {{port: 0}}\nkafka: {{bootstrap: '{settings.kafka_bootstrap}', "
        f"topic_prefix: {settings.topic_prefix}}}\n" + at_source, encoding="utf-8")
    return path


def refreshed_after_drain(settings: Settings, timeout_s: float = 120.0) -> None:
    """Wait until the sink's timer has had a tick with nothing left to match after the drain: every month
    the sink wrote was refreshed (ticks run one after another, so an idle tick means none is pending)."""
    idle_before = metric_value(metrics_text(settings), "svh_incident_match_refreshes_total", outcome="idle")

    def idle_tick() -> bool:
        text_ = metrics_text(settings)
        assert metric_value(text_, "svh_incident_match_refreshes_total", outcome="failed") == 0
        return metric_value(text_, "svh_incident_match_refreshes_total", outcome="idle") > idle_before

    wait_until(idle_tick, timeout_s, "the sink's timer did not refresh the incident matches in time", poll_s=0.2)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str, postgres_url: str
            ) -> Iterator[Outcome]:
    base = tmp_path_factory.mktemp("incident-stream")
    prefix = unique("incident-stream")
    police = generate_police_extract(base / "data" / POLICE, seed=POLICE_SEED, incidents=POLICE_INCIDENTS,
                                     malformed=3)
    ed = SOURCE_GENERATORS[ED](base / "data" / ED, seed=4, attendances=ED_ATTENDANCES, malformed=2,
                               police_seed=POLICE_SEED, police_incidents=POLICE_INCIDENTS, police_share=SHARE)
    hub_keys, agency_keys = base / "hub-keys.json", base / "trust" / "keys.json"
    save_key_file(KeyRing.generate(), hub_keys)
    save_key_file(KeyRing.generate(holder="agency:example-hospitals"), agency_keys)
    with postgres_schema(postgres_url) as mart_url:
        settings = load_settings({}, data_dir=base / "run", kafka_bootstrap=kafka_bootstrap, topic_prefix=prefix,
                                 app_id=f"{prefix}-worker", metrics_port=free_port(), keys_file=hub_keys,
                                 postcode_lookup=police.lookup_csv, mart_url=mart_url,
                                 incident_match_interval_s=1.0)
        kafka_admin.ensure_topics(settings, [POLICE], timeout_s=30)
        kafka_admin.ensure_topics(settings, [ED], timeout_s=30, raw=False)
        reports = {
            POLICE: run_once(Runtime(load_config(connector_config(base, "police", POLICE, settings,
                                                                  police.extract_csv, police.lookup_csv, None)))),
            ED: run_once(Runtime(load_config(connector_config(base, "trust-ed", ED, settings, ed.extract_csv,
                                                              ed.lookup_csv, agency_keys)))),
        }
        hub_ring, trust_ring = load_keyring(hub_keys), load_keyring(agency_keys)
        truth = {event_id(trust_ring, ED, r["record_id"]): event_id(hub_ring, POLICE, r["police_ref"])
                 for r in ed.truth() if r["valid"] == "true" and r["police_ref"]}
        with ed.extract_csv.open(newline="", encoding="utf-8") as fh:
            texts = [r["AssaultLocDesc"] for r in csv.DictReader(fh) if len(r.get("AssaultLocDesc") or "") > 8]
        worker = start_worker(settings)
        try:
            t = Topics(prefix)
            wait_until_drained(settings, settings.app_id, [t.raw(POLICE), t.at_source(ED), t.shared], 300)
            refreshed_after_drain(settings)
            yield Outcome(settings, reports, truth, ed.rows_valid, texts, worker)
        finally:
            worker.stop()
            kafka_admin.delete_topics(settings, [POLICE, ED])


def test_the_trust_sends_areas_and_counts_the_locations_it_cannot_place(outcome: Outcome) -> None:
    report = outcome.reports[ED]
    assert report.published == outcome.ed_events and report.dead_lettered == 2
    locations = report.locations
    assert locations["placed"] + locations["unplaced"] <= report.read  # a row may say nothing, or be cut short
    assert 0 < locations["unplaced"] < 0.3 * report.read and locations["placed"] > 0.6 * report.read
    with connect(outcome.settings.mart).connect() as conn:
        placed = conn.execute(text("SELECT count(*) FROM event WHERE source = 'ed_attendance' "
                                   "AND lsoa_code IS NOT NULL")).scalar_one()
    assert placed > 0.6 * outcome.ed_events  # the assault's area reached the mart


def test_incident_matches_in_the_mart_reach_the_quality_targets(outcome: Outcome) -> None:
    with connect(outcome.settings.mart).connect() as conn:
        matches = [(r.ed_event_id, r.police_event_id) for r in conn.execute(incident_match.select())]
    correct = sum(outcome.truth.get(ed) == police for ed, police in matches)
    precision, recall = correct / len(matches), correct / len(outcome.truth)
    print(f"incident matches in the mart: {len(matches)}, precision {precision:.3f}, recall {recall:.3f}")
    assert len(outcome.truth) == int(ED_ATTENDANCES * SHARE)
    assert precision >= 0.95, (precision, recall)
    assert recall >= 0.90, (precision, recall)


def test_the_share_without_a_police_match_is_released_by_area_and_month_under_disclosure_control(
        outcome: Outcome) -> None:
    engine = connect(outcome.settings.mart)
    agreement = load_agreement(outcome.settings.agreement_file())
    ctx = ReleaseContext.create(agreement, "sna", "partnership", "incident-stream-test", environ={})
    table = release(engine, ctx, "ed_assaults_without_police", "lad", "month", breakdown="total")
    profile = agreement.release_profiles["partnership"]
    threshold = min(profile.standard.threshold, profile.sensitive.threshold)
    target = released.engine_for(outcome.settings.mart, store.layout_of(engine).released_schema)
    cell = released.released_cell
    with target.connect() as conn:
        cells = conn.execute(select(cell.c.area_level, cell.c.area_code, cell.c.period, cell.c.value)
                             .where(cell.c.release_id == table.release_id)).all()
    assert cells and len(cells) == len(table.rows)
    assert {c.area_level for c in cells} == {"lad"} and all(len(c.period) == 7 for c in cells)  # area x month
    assert all(c.value is None or c.value >= threshold for c in cells)  # small counts suppressed
    shown = [c.value for c in cells if c.value is not None]
    unmatched_true = outcome.ed_events - len(outcome.truth)
    assert shown and sum(shown) <= 1.3 * unmatched_true  # perturbed and suppressed, never inflated


def test_no_location_text_on_any_topic_or_in_any_table(outcome: Outcome) -> None:
    s, t = outcome.settings, Topics(outcome.settings.topic_prefix)
    blobs = {name: b"\n".join((m.value or b"") + b"".join(v for _, v in m.headers) for m in read_topic(s, name))
             for name in (t.at_source(ED), t.dlq(ED), t.shared, t.shared_dlq, t.linked, t.raw(POLICE))}
    assert blobs[t.shared]
    engine = connect(s.mart)
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            blobs[f"mart.{table}"] = repr(conn.execute(text(f'SELECT * FROM "{table}"')).all()).encode()  # noqa: S608
    target = released.engine_for(s.mart, store.layout_of(engine).released_schema)
    with target.connect() as conn:
        for table in (released.released_table, released.released_cell):
            blobs[f"released.{table.name}"] = repr(conn.execute(select(table)).all()).encode()
    blobs["worker log"] = outcome.worker.log_path.read_bytes()
    assert outcome.location_texts
    found = {(where, t_) for where, blob in blobs.items() for t_ in outcome.location_texts
             if t_.lower().encode() in blob.lower()}
    assert found == set()
