"""Finding 1: the sink trusts nothing on the shared topic; at-source events are checked before they join it.

Attacks, on the real broker with the worker as a process: forged events written straight to the shared
topic (a bogus agreement id, a name in ``attributes.note`` and in ``age_band``, a spreadsheet formula in
``offence_category``, an unknown source, a name in a coded field of an event that reuses a real event's
id to overwrite it), and events on an at-source topic that carry tokens, a name in a coded field, or a
source the agreement pseudonymises at the hub.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from kafka import KafkaProducer
from sqlalchemy import text

from hub import kafka_admin
from hub.config import Settings, load_settings
from hub.dead_letters import headers_dict
from hub.kafka_read import read_topic
from hub.mart import connect
from hub.policy import load_agreement
from hub.pseudonymisation import KeyRing, Pseudonymiser, save_key_file
from hub.schemas import RAW_SCHEMAS, SHARED_EVENT, default_repository
from hub.streams.lag import wait_until_drained
from hub.streams.process import WorkerProcess
from hub.topics import Topics
from tests.integration.pipeline import start_worker
from tests.plugins.services import free_port, unique

pytestmark = pytest.mark.integration
NAME = "Zebedee Quillfeather"
RING = KeyRing(keys={"k1": bytes(range(32))}, active="k1", event_key="k1")


def police_event(record_id: str) -> dict[str, Any]:
    agreement = load_agreement(load_settings({}).agreement_file())
    record = {"record_id": record_id, "offence_code": "8N", "occurred_from": datetime(2025, 3, 4, 21, 30),
              "location_lsoa": "E01999001", "victim_forename": "Ann", "victim_surname": "Other",
              "victim_dob": date(2001, 1, 2), "victim_sex": "F", "knife": True, "outcome_code": "15"}
    return Pseudonymiser(agreement, RING).apply("police_incident", record).shared


def ed_event(record_id: str, ring: KeyRing = RING) -> dict[str, Any]:
    agreement = load_agreement(load_settings({}).agreement_file())
    record = {"record_id": record_id, "site_code": "RZZ01", "assault_at": datetime(2025, 3, 7, 23, 55),
              "assault_method": "KN", "location_type": "PS", "patient_age": 23, "patient_sex": "M"}
    return Pseudonymiser(agreement, ring, at="source").apply("ed_attendance", record).shared


def forged(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(base)
    for path, value in changes.items():
        head, _, rest = path.partition("__")
        if rest:
            event[head][rest] = value
        else:
            event[head] = value
    return event


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("forged")
    prefix = unique("forged")
    keys = base / "keys.json"
    hub_ring = KeyRing.generate()
    save_key_file(hub_ring, keys)
    settings = load_settings({}, data_dir=base / "run", kafka_bootstrap=kafka_bootstrap, topic_prefix=prefix,
                             app_id=f"{prefix}-worker", metrics_port=free_port(), keys_file=keys)
    kafka_admin.ensure_topics(settings, RAW_SCHEMAS, timeout_s=30)
    t = Topics(prefix)
    real, real_ed = police_event("ZZ/25/000001"), ed_event("ED25-000001")
    victim = real["persons"][0]
    to_shared = [
        real,
        forged(police_event("ZZ/25/000002"), agreement_id="bogus-agreement"),
        forged(police_event("ZZ/25/000003"), attributes__note=NAME),
        forged(police_event("ZZ/25/000004"), persons=[{**victim, "age_band": NAME}]),
        forged(police_event("ZZ/25/000005"), offence_category='=HYPERLINK("http://evil.example/","x")'),
        forged(police_event("ZZ/25/000006"), source="made_up_source"),
        forged(real, attributes__outcome_code=NAME),  # same event id as the real one: an overwrite
        forged(police_event("ZZ/25/000007"), persons=[{**victim, "role": NAME}]),
        # Well-formed and conforming, but another source's event under the real one's id: an overwrite the
        # checks of the event itself cannot see (ids are keyed on source and record id, so it is forged).
        forged(ed_event("ED25-000009"), event_id=real["event_id"]),
    ]
    to_at_source = {
        "ed_attendance": [
            real_ed,
            forged(ed_event("ED25-000002"), attributes__site_code=NAME),
            forged(ed_event("ED25-000003"), persons=[{**ed_event("ED25-000003")["persons"][0],
                                                      "tokens": victim["tokens"]}]),
            forged(ed_event("ED25-000004"), source="police_incident"),
            ed_event("ED25-000005", hub_ring),  # a trust holding the hub's key (finding 10)
        ],
        "police_incident": [police_event("ZZ/25/000008")],  # pseudonymised at the hub, not at a source
    }
    repo = default_repository()
    producer = KafkaProducer(**settings.kafka_python_kwargs(), acks="all")
    for ev in to_shared:
        producer.send(t.shared, key=ev["event_id"].encode(), value=repo.encode(SHARED_EVENT, ev))
    for source, events in to_at_source.items():
        for ev in events:
            producer.send(t.at_source(source), key=ev["event_id"].encode(), value=repo.encode(SHARED_EVENT, ev))
    producer.flush()
    producer.close()
    worker: WorkerProcess = start_worker(settings)
    try:
        wait_until_drained(settings, settings.app_id, [t.at_source(s) for s in RAW_SCHEMAS], 120)
        wait_until_drained(settings, settings.app_id, [t.shared], 120)
        yield {"settings": settings, "real": real, "real_ed": real_ed, "topics": t}
    finally:
        worker.stop()


def mart_rows(settings: Settings) -> list[tuple[Any, ...]]:
    with connect(settings.mart).connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM event"))]


def test_only_conforming_events_reach_the_mart(outcome: dict[str, Any]) -> None:
    rows = mart_rows(outcome["settings"])
    ids = sorted(r[0] for r in rows)
    assert ids == sorted([outcome["real"]["event_id"], outcome["real_ed"]["event_id"]])
    dump = repr(rows)
    assert "Zebedee" not in dump and "HYPERLINK" not in dump and "bogus" not in dump


def test_a_forged_event_cannot_overwrite_a_real_one(outcome: dict[str, Any]) -> None:
    rows = mart_rows(outcome["settings"])
    real = next(r for r in rows if r[0] == outcome["real"]["event_id"])
    assert '"outcome_code": "15"' in repr(real)


def test_a_well_formed_event_of_another_source_cannot_take_a_real_events_id(outcome: dict[str, Any]) -> None:
    rows = mart_rows(outcome["settings"])
    real = next(r for r in rows if r[0] == outcome["real"]["event_id"])
    assert real[1] == "police_incident"
    letters = [headers_dict(m.headers) for m in read_topic(outcome["settings"], outcome["topics"].shared_dlq)]
    taken = [h for h in letters if h["kind"] == "rejected_by_mart"]
    assert len(taken) == 1 and "EventIdTaken" in taken[0]["exception.message"]


def test_forged_events_are_dead_lettered_without_their_bytes(outcome: dict[str, Any]) -> None:
    settings, t = outcome["settings"], outcome["topics"]
    letters = [m for m in read_topic(settings, t.shared_dlq) if headers_dict(m.headers)["kind"] == "nonconforming"]
    kinds = sorted(headers_dict(m.headers)["kind"] for m in letters)
    assert kinds == ["nonconforming"] * 7
    assert all(m.value is None for m in letters)
    assert not any("Zebedee" in headers_dict(m.headers)["exception.message"] for m in letters)


def test_at_source_events_are_checked_before_they_join_the_shared_stream(outcome: dict[str, Any]) -> None:
    settings, t = outcome["settings"], outcome["topics"]
    refused = [headers_dict(m.headers) for s in ("ed_attendance", "police_incident")
               for m in read_topic(settings, t.dlq(s))]
    assert sorted(h["kind"] for h in refused) == ["nonconforming"] * 5
    assert sum("the hub's key" in h["exception.message"] for h in refused) == 1
    assert not any("Zebedee" in h["exception.message"] for h in refused)
    shared = [default_repository().decode(m.value or b"")[1]["event_id"] for m in read_topic(settings, t.shared)]
    assert outcome["real_ed"]["event_id"] in shared
    assert len(shared) == 9 + 1  # what was forged onto it, plus the one at-source event that conforms


