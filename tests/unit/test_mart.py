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

from hub.mart import connect, count_events, incident_counts, init, release_lsoa_week_counts, upsert_events
from hub.mart.queries import CountKey, sensitive_categories
from hub.policy import Agreement, Disclosure, ReleaseProfile
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
               "domestic_abuse": code == "105A", "outcome_code": "OC1"}
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
    assert json.loads(row[5]) == {"outcome_code": "OC1"}


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


# --- released counts --------------------------------------------------------------------------------

COUNTS: dict[CountKey, int] = {
    (LSOA_A, "2025-W10", "violence_with_injury"): 3,
    (LSOA_A, "2025-W11", "violence_with_injury"): 12,
    (LSOA_B, "2025-W10", "violence_with_injury"): 0,
    (LSOA_A, "2025-W10", "sexual_offences"): 14,
    (LSOA_B, "2025-W10", "sexual_offences"): 7,
}


def test_sexual_offences_are_a_sensitive_category() -> None:
    assert "sexual_offences" in sensitive_categories()
    assert "violence_with_injury" not in sensitive_categories()


def test_sensitive_categories_withheld_at_lsoa(agreement: Agreement) -> None:
    profile = agreement.release_profile("partnership")
    assert profile.sensitive.finest_geography == "msoa"
    released = release_lsoa_week_counts(COUNTS, profile)
    assert {r.offence_category for r in released} == {"violence_with_injury"}
    got = {(r.lsoa_code, r.iso_week): (r.count, r.suppressed) for r in released}
    assert got == {(LSOA_A, "2025-W10"): (None, "primary"), (LSOA_A, "2025-W11"): (12, None),
                   (LSOA_B, "2025-W10"): (0, None)}


def test_sensitive_categories_use_their_own_threshold_when_lsoa_is_allowed() -> None:
    profile = ReleaseProfile("test", "test", Disclosure(5, 0, True, "lsoa"), Disclosure(10, 0, True, "lsoa"))
    released = {(r.lsoa_code, r.iso_week, r.offence_category): r for r in release_lsoa_week_counts(COUNTS, profile)}
    assert released[(LSOA_B, "2025-W10", "sexual_offences")].suppressed == "primary"  # 7 < 10
    assert released[(LSOA_A, "2025-W10", "sexual_offences")].count == 14


def test_public_profile_releases_nothing_at_lsoa(agreement: Agreement) -> None:
    assert release_lsoa_week_counts(COUNTS, agreement.release_profile("public")) == []


def test_rounding_is_applied() -> None:
    profile = ReleaseProfile("t", "t", Disclosure(5, 5, True, "lsoa"), Disclosure(10, 5, True, "msoa"))
    released = {r.iso_week: r.count for r in release_lsoa_week_counts(COUNTS, profile) if r.lsoa_code == LSOA_A}
    assert released == {"2025-W10": None, "2025-W11": 10}
