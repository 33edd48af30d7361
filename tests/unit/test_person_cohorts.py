"""Persons in the mart: cohorts from linked mentions, released only through disclosure control."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from hub.mart import store
from hub.mart.audit import ReleaseContext
from hub.mart.measures import Fact
from hub.mart.persons import cohort_rows, cohorts_of, upsert_linked
from hub.mart.release import Members, ReleaseError, build_release
from hub.policy import Agreement
from tests.unit.test_measures import LSOA_A, idx

D1, D2, D3 = date(2025, 1, 10), date(2025, 3, 5), date(2025, 6, 1)


def test_cohorts_of_a_persons_mentions() -> None:
    assert cohorts_of([("police_incident", "victim", D1)]) == []
    assert cohorts_of([("police_incident", "victim", D1), ("police_incident", "suspect", D2)]) == [
        "victim_then_suspect"]
    assert cohorts_of([("police_incident", "suspect", D1), ("police_incident", "victim", D2)]) == []
    assert cohorts_of([("school_exclusion", "pupil", D1), ("youth_justice_event", "child", D3)]) == [
        "known_to_2plus_agencies", "excluded_then_youth_justice"]


def _event(eid: str, source: str, day: date) -> dict[str, object]:
    return {"event_id": eid, "source": source, "agreement_id": "a", "agreement_version": "1", "key_id": "k1",
            "occurred_date": day, "occurred_month": day.strftime("%Y-%m"), "lsoa_code": LSOA_A, "flags": {},
            "attributes": {}, "persons": []}


def test_cohorts_come_from_the_restricted_tables_and_leave_only_protected(tmp_path: Path,
                                                                           agreement: Agreement) -> None:
    engine = store.connect(f"sqlite:///{tmp_path / 'mart.db'}")
    store.init(engine)
    store.upsert_events(engine, [_event("e1", "school_exclusion", D1), _event("e2", "youth_justice_event", D2),
                                 _event("e3", "police_incident", D3), _event("e4", "police_incident", D3)])
    upsert_linked(engine, [
        {"event_id": "e1", "source": "school_exclusion", "occurred_date": D1, "model_version": "lm-1",
         "mentions": [{"role": "pupil", "person_id": "pp-a"}], "merges": []},
        {"event_id": "e2", "source": "youth_justice_event", "occurred_date": D2, "model_version": "lm-1",
         "mentions": [{"role": "child", "person_id": "pp-b"}], "merges": [{"person_id": "pp-b", "into": "pp-a"}]},
        {"event_id": "e3", "source": "police_incident", "occurred_date": D3, "model_version": "lm-1",
         "mentions": [{"role": "victim", "person_id": "pp-c"}], "merges": []},
    ])
    with engine.connect() as conn:
        rows = cohort_rows(conn, ["school_exclusion", "youth_justice_event", "police_incident"])
    assert [(r["event_id"], r["occurred_month"]) for r in rows] == [("pp-a", "2025-01")]  # merged: one person
    facts = [Fact.from_row(r) for r in rows]
    ctx = ReleaseContext.create(agreement, "sna", "partnership", "t", environ={})
    members: Members = []
    built = build_release(facts, idx(), ctx, "linked_person_cohorts", "lsoa", "month", None, "cohort", members)
    counted = {(built.rows[i].category, built.rows[i].period): set(ids) for i, ids, _, _ in members}
    assert counted == {("known_to_2plus_agencies", "2025-01"): {"pp-a"},
                       ("excluded_then_youth_justice", "2025-01"): {"pp-a"}}
    assert all(r.value is None for r in built.rows)  # one person per cell: suppressed, never shown
    default = build_release(facts, idx(), ctx, None, "lsoa", "month")
    assert "linked_person_cohorts" not in default.parameters["breakdowns"]  # only when asked by name


def test_a_purpose_without_two_linked_sources_is_refused(agreement: Agreement) -> None:
    purposes = [p for p in agreement.purposes if len({s for s in agreement.sources_for(p)} & {
        "police_incident", "probation_event", "youth_justice_event", "school_exclusion"}) < 2]
    assert purposes, "the example agreement must keep a purpose without two linked sources for this test"
    ctx = ReleaseContext.create(agreement, purposes[0], "partnership", "t", environ={})
    with pytest.raises(ReleaseError, match="two or more linked sources"):
        build_release([], idx(), ctx, "linked_person_cohorts", "lsoa", "month", None, "cohort")
