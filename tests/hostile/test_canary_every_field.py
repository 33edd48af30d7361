"""The whole pipeline with a canary in EVERY mapped field of EVERY source, coded fields included.

For each source, one good extract row, then one row per mapped column with that column holding a
distinct canary (a made-up name). Each agency's connector publishes as its agreement says (raw to the
hub, or pseudonymised inside the trust with the trust's own key); the worker (pseudonymise, link, sink)
runs as a process. Whatever happens to each row (kept, dropped, dead-lettered at the connector, refused
at the boundary), no canary may be found after the boundary: not on the shared, linked or link-token
topics, not on the shared dead-letter topic, not in any mart table, not in the worker's log or metrics,
not on a health body's dead-letter topic. The hub sources' raw topics must hold their canaries (so the
search is known to look in the right place). A free-text location the trust's connector geocodes gets one
more row: a canary beside a place the gazetteer knows, so the text is placed (its area leaves) and the
name beside it must not.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import inspect, text

from hub import kafka_admin
from hub.config import Settings, load_settings
from hub.connectors import CsvFileConnector, default_mapping_path, load_mapping
from hub.connectors.at_source import make_publisher
from hub.kafka_read import read_topic
from hub.mart import connect
from hub.policy import load_agreement
from hub.pseudonymisation import KeyRing, load_keyring, save_key_file
from hub.schemas import RAW_SCHEMAS, default_repository
from hub.streams.lag import wait_until_drained
from hub.streams.process import WorkerProcess
from hub.topics import Topics
from tests.connectors.harness import csv_bytes
from tests.hostile.test_coded_fields import ROWS
from tests.integration.pipeline import start_worker
from tests.plugins.services import free_port, unique

pytestmark = pytest.mark.integration
PLACE, PLACE_LSOA = "The Star Lamb Tavern", "E01990001"  # in the shipped synthetic gazetteer


def canary(source: str, column: str) -> str:
    return f"Qzx{abs(hash((source, column))) % 10**6:06d}Canary"


@dataclass
class Outcome:
    settings: Settings
    canaries: dict[str, dict[str, str]]  # source -> column -> canary
    placed: dict[str, str]  # source -> the canary written beside a gazetteer place in its place column
    at_source: list[str]
    worker: WorkerProcess


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Outcome]:
    base = tmp_path_factory.mktemp("canary-every-field")
    prefix = unique("canary-every-field")
    hub_keys, agency_keys = base / "keys.json", base / "agency" / "keys.json"
    save_key_file(KeyRing.generate(), hub_keys)
    save_key_file(KeyRing.generate(holder="agency:example-hospitals"), agency_keys)
    settings = load_settings({}, data_dir=base / "run", kafka_bootstrap=kafka_bootstrap, topic_prefix=prefix,
                             app_id=f"{prefix}-worker", metrics_port=free_port(), keys_file=hub_keys)
    agreement = load_agreement(settings.agreement_file())
    schemas = default_repository()
    at_source = sorted(s for s in RAW_SCHEMAS if agreement.source(s).pseudonymise_at == "source")
    kafka_admin.ensure_topics(settings, [s for s in RAW_SCHEMAS if s not in at_source], timeout_s=30)
    kafka_admin.ensure_topics(settings, at_source, timeout_s=30, raw=False)
    canaries: dict[str, dict[str, str]] = {}
    placed: dict[str, str] = {}
    for source in sorted(RAW_SCHEMAS):
        mapping = load_mapping(default_mapping_path(source))
        good = ROWS[source]
        header = list(good)
        id_col = mapping.record_id_column()
        rows = [list(good.values())]
        canaries[source] = {}
        for i, column in enumerate(mapping.columns):
            row = {**good, id_col: f"{good[id_col]}-{i}"}
            row[column] = canaries[source][column] = canary(source, column)
            rows.append([row[h] for h in header])
        for f in mapping.fields:
            if f.type == "place":  # a location the gazetteer CAN place, with a name in it
                placed[source] = canary(source, f"{f.column} placed")
                row = {**good, id_col: f"{good[id_col]}-placed", f.column: f"outside {PLACE}, {placed[source]} hit me"}
                rows.append([row[h] for h in header])
        path = base / "data" / f"{source}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(csv_bytes(header, rows))
        publisher = make_publisher(settings, source, schemas, agreement, load_keyring(agency_keys), None,
                                   base / "agency" / "quarantine")
        for rec in CsvFileConnector(path, mapping).records():
            publisher.publish(rec)
        publisher.close()
    worker = start_worker(settings)
    try:
        t = Topics(prefix)
        wait_until_drained(settings, settings.app_id, [t.raw(s) for s in RAW_SCHEMAS if s not in at_source]
                           + [t.at_source(s) for s in at_source] + [t.shared], 180)
        yield Outcome(settings, canaries, placed, at_source, worker)
    finally:
        worker.stop()


def topic_bytes(settings: Settings, topic: str) -> bytes:
    return b"\n".join((m.value or b"") + b"".join(v for _, v in m.headers) + (m.key or b"")
                      for m in read_topic(settings, topic))


def all_canaries(outcome: Outcome) -> list[str]:
    return [c for cols in outcome.canaries.values() for c in cols.values()] + list(outcome.placed.values())


def test_every_field_of_every_source_had_a_canary(outcome: Outcome) -> None:
    for source in RAW_SCHEMAS:
        assert set(outcome.canaries[source]) == set(load_mapping(default_mapping_path(source)).columns)


def test_no_canary_after_the_boundary(outcome: Outcome) -> None:
    t = Topics(outcome.settings.topic_prefix)
    places = {name: topic_bytes(outcome.settings, name) for name in (t.shared, t.shared_dlq, t.linked,
                                                                   t.link_tokens)}
    for source in outcome.at_source:
        places[t.dlq(source)] = topic_bytes(outcome.settings, t.dlq(source))
        places[t.at_source(source)] = topic_bytes(outcome.settings, t.at_source(source))
    assert len(places[t.shared]) > 0
    engine = connect(outcome.settings.mart)
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            rows = conn.execute(text(f'SELECT * FROM "{table}"')).all()  # noqa: S608 - names from the catalogue
            places[f"mart.{table}"] = repr(rows).encode()
    places["worker log"] = outcome.worker.log_path.read_bytes()
    url = f"http://127.0.0.1:{outcome.settings.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - loopback
        places["worker /metrics"] = resp.read()
    found = {(where, c) for where, blob in places.items() for c in all_canaries(outcome) if c.encode() in blob}
    assert found == set()


def test_the_search_looks_in_the_right_place(outcome: Outcome) -> None:
    t = Topics(outcome.settings.topic_prefix)
    for source, cols in outcome.canaries.items():
        if source in outcome.at_source:
            continue
        raw = topic_bytes(outcome.settings, t.raw(source)) + topic_bytes(outcome.settings, t.dlq(source))
        seen = [c for c in cols.values() if c.encode() in raw]
        assert len(seen) == len(cols), source  # every canary reached the restricted side




def test_a_placed_location_sends_its_area_and_never_the_name_beside_it(outcome: Outcome) -> None:
    assert set(outcome.placed) == {"ed_attendance"}
    engine = connect(outcome.settings.mart)
    with engine.connect() as conn:
        areas = {r[0] for r in conn.execute(text("SELECT lsoa_code FROM event WHERE source = 'ed_attendance'"))}
    assert PLACE_LSOA in areas  # only the placed row has an area: the text was placed at the trust
    # ...and test_no_canary_after_the_boundary found its canary nowhere past the boundary


def test_linkage_tokens_never_sit_beside_analysts_attributes(outcome: Outcome) -> None:
    """Finding 9: birth-year, month-day, prefix and postcode-sector tokens beside age band, date and LSOA let
    an analyst pin tokens to values without the key; they travel only on the restricted link-token topic."""
    t = Topics(outcome.settings.topic_prefix)
    repo = default_repository()
    shared = [repo.decode(m.value or b"")[1] for m in read_topic(outcome.settings, t.shared)]
    assert shared and all(not p.get("tokens") for ev in shared for p in ev["persons"])
    linked = [m for m in read_topic(outcome.settings, t.linked) if m.value]
    assert all(b"dob_year" not in (m.value or b"") and b"postcode_sector" not in (m.value or b"") for m in linked)
    tokens = [m for m in read_topic(outcome.settings, t.link_tokens) if m.value]
    assert tokens and any(b"dob_year" in (m.value or b"") for m in tokens)  # they exist, on the restricted topic
