"""The mart on SQLite (a file in tmp_path): idempotent init and upserts, released counts."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from hub.mart import connect, count_events, incident_counts, init, upsert_events
from hub.mart.measures import Fact, is_sensitive
from hub.policy import Agreement
from hub.pseudonymisation import Area, KeyRing, PostcodeLookup, Pseudonymiser

LSOA_A, LSOA_B = "E01999001", "E01999002"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = connect(f"sqlite:///{tmp_path / 'mart' / 'mart.db'}")
    init(eng)
    yield eng
    eng.dispose()


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY 1, 2"))]
                for t in ("event", "event_person", "mart_meta")}


def make_events(agreement: Agreement, ring: KeyRing) -> list[dict[str, Any]]:
    area_a, area_b = Area(LSOA_A, "E02999001", "E06000099"), Area(LSOA_B, "E02999001", "E06000099")
    pseudo = Pseudonymiser(agreement, ring, PostcodeLookup({"ZZ1 0FW": area_a, "ZZ2 1AB": area_b},
                                                           {LSOA_A: area_a, LSOA_B: area_b}))
    out = []
    for i, (code, pc, when) in enumerate([("8N", "ZZ1 0FW", datetime(2025, 3, 4, 21)),
                                          ("8N", "ZZ1 0FW", datetime(2025, 3, 5, 1)),
                                          ("19C", "ZZ2 1AB", datetime(2025, 3, 6, 2)),
                                          ("105A", "ZZ2 1AB", datetime(2025, 3, 11, 14))]):
        rec = {"record_id": f"ZZ/25/{i:06d}", "offence_code": code, "occurred_from": when, "location_postcode": pc,
               "victim_forename": "Ann", "victim_surname": "Other", "victim_dob": date(2001, 1, 2), "victim_sex": "F",
               "suspect_dob": date(1990, 5, 6), "suspect_sex": "M", "knife": i % 2 == 0,
               "domestic_abuse": code == "105A", "outcome_code": "15"}
        out.append(pseudo.apply("police_incident", rec).shared)
    return out


def test_init_is_idempotent(engine: Engine) -> None:
    before = dump(engine)
    assert ("schema_version", "2") in before["mart_meta"]
    init(engine)
    init(engine)
    assert dump(engine) == before
    assert incident_counts(engine) == {}


def test_upsert_twice_leaves_identical_tables(engine: Engine, agreement: Agreement, ring: KeyRing) -> None:
    events = make_events(agreement, ring)
    assert upsert_events(engine, events) == 4
    once = dump(engine)
    assert len(once["event"]) == 4 and len(once["event_person"]) == 8
    assert upsert_events(engine, copy.deepcopy(events)) == 4
    assert dump(engine) == once
    upsert_events(engine, list(reversed(events)) + events[:2])  # redelivered out of order, duplicated in a batch
    assert dump(engine) == once
    assert count_events(engine) == 4 and count_events(engine, "police_incident") == 4
    assert count_events(engine, "ed_attendance") == 0


def test_changed_event_replaces_row_and_persons(engine: Engine, agreement: Agreement, ring: KeyRing) -> None:
    events = make_events(agreement, ring)
    upsert_events(engine, events)
    changed = copy.deepcopy(events[0])
    changed["offence_code"], changed["offence_category"] = "105A", "violence_without_injury"
    changed["flags"] = {"knife": False}
    changed["persons"] = [{"role": "victim", "age_band": "18-24", "sex": "F", "tokens": {}}]
    upsert_events(engine, [changed])
    with engine.connect() as conn:
        ev = conn.execute(text("SELECT offence_code, offence_category, knife, domestic_abuse FROM event "
                               "WHERE event_id = :e"), {"e": changed["event_id"]}).one()
        people = conn.execute(text("SELECT seq, role, age_band, sex FROM event_person WHERE event_id = :e"),
                              {"e": changed["event_id"]}).all()
        total_people = conn.execute(text("SELECT COUNT(*) FROM event_person")).scalar_one()
    assert tuple(ev) == ("105A", "violence_without_injury", False, None)
    assert [tuple(p) for p in people] == [(0, "victim", "18-24", "F")]
    assert total_people == 7
    assert count_events(engine) == 4


def test_event_columns_and_attributes(engine: Engine, agreement: Agreement, ring: KeyRing) -> None:
    events = make_events(agreement, ring)
    upsert_events(engine, events)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT occurred_date, occurred_week, occurred_hour, lsoa_code, knife, "
                                "attributes_json FROM event WHERE event_id = :e"),
                           {"e": events[0]["event_id"]}).one()
    assert str(row[0]) == "2025-03-04" and row[1] == "2025-W10" and row[2] == 21 and row[3] == LSOA_A
    assert bool(row[4]) is True
    assert json.loads(row[5]) == {"outcome_code": "15"}


def test_mart_holds_no_tokens(engine: Engine, agreement: Agreement, ring: KeyRing) -> None:
    events = make_events(agreement, ring)
    upsert_events(engine, events)
    everything = repr(dump(engine))
    tokens = [t for ev in events for p in ev["persons"] for t in p["tokens"].values()]
    assert tokens and not [t for t in tokens if t in everything]


def test_incident_counts_view(engine: Engine, agreement: Agreement, ring: KeyRing) -> None:
    upsert_events(engine, make_events(agreement, ring))
    assert incident_counts(engine) == {
        (LSOA_A, "2025-W10", "violence_with_injury"): 2,
        (LSOA_B, "2025-W10", "sexual_offences"): 1,
        (LSOA_B, "2025-W11", "violence_without_injury"): 1,
    }


def test_empty_upsert_is_a_no_op(engine: Engine) -> None:
    assert upsert_events(engine, []) == 0


def test_sqlite_fast_path_stores_what_the_portable_statements_store(engine: Engine, agreement: Agreement,
                                                                    ring: KeyRing, tmp_path: Path) -> None:
    """SQLite's executemany path (hub.mart.store._sqlite_upsert_events) against SQLAlchemy's own insert of
    ``event_row`` into a second mart: the same rows, byte for byte, in both tables."""
    from hub.mart import models
    from hub.mart.store import event_row
    events = make_events(agreement, ring)
    upsert_events(engine, events)
    other = connect(f"sqlite:///{tmp_path / 'other' / 'mart.db'}")
    init(other)
    with other.begin() as conn:
        conn.execute(models.event.insert(), [event_row(ev) for ev in events])
        conn.execute(models.event_person.insert(), [
            {"event_id": ev["event_id"], "seq": i, "role": p["role"], "age_band": p.get("age_band"),
             "sex": p.get("sex")} for ev in events for i, p in enumerate(ev["persons"])])
    with engine.connect() as a, other.connect() as b:
        for table in ("event", "event_person"):
            query = text(f"SELECT * FROM {table} ORDER BY 1, 2")
            assert [tuple(r) for r in a.execute(query)] == [tuple(r) for r in b.execute(query)]
    other.dispose()


# --- released counts --------------------------------------------------------------------------------

def fact(**kw: Any) -> Fact:
    base: dict[str, Any] = {"event_id": "e", "record_key": 0, "source": "police_incident", "occurred": None,
                            "week": None, "month": None, "lsoa": LSOA_A, "offence_code": "8N",
                            "offence_category": "violence_with_injury", "flags": {}, "attributes": {}}
    base.update(kw)
    return Fact(**base)


@pytest.mark.parametrize("kw", [
    {"offence_code": "8Q", "offence_category": "stalking_and_harassment"},  # stalking
    {"offence_code": "8L", "offence_category": "stalking_and_harassment"},  # harassment
    {"offence_code": "11A", "offence_category": "violence_without_injury"},  # child cruelty, by code
    {"offence_code": "106", "offence_category": "violence_without_injury"},  # modern slavery, by code
    {"offence_code": "19C", "offence_category": "sexual_offences"},
    {"flags": {"domestic_abuse": True}},  # a domestic-abuse-flagged assault, by flag
    {"source": "ambulance_callout", "offence_code": None, "offence_category": None,
     "flags": {"sexual_assault": True}},
    {"source": "school_exclusion", "offence_code": None, "offence_category": None,
     "flags": {"sexual_misconduct": True}},
])
def test_sensitive_records_by_code_category_and_flag(agreement: Agreement, kw: dict[str, Any]) -> None:
    assert is_sensitive(fact(**kw), agreement.sensitive)


def test_ordinary_records_are_not_sensitive(agreement: Agreement) -> None:
    assert not is_sensitive(fact(), agreement.sensitive)
    assert not is_sensitive(fact(flags={"domestic_abuse": False, "knife": True}), agreement.sensitive)
    assert not is_sensitive(fact(offence_code="105A", offence_category="violence_without_injury"),
                            agreement.sensitive)
