"""Finding 1's remainder: a well-formed event of another source cannot take an existing event's id.

Event ids are keyed on source and record id, so two sources never make the same id: an event that
arrives with an id the mart holds under another source is forged (or mis-produced). The mart refuses
it, whether the real event came in an earlier batch or earlier in the same batch, and keeps the real
one and its persons as they were; the sink dead-letters the refused event (tests/hostile/
test_forged_events.py shows that on the real broker with the worker).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from hub.mart import store
from hub.mart.store import EventIdTaken
from hub.policy import Agreement
from hub.pseudonymisation import KeyRing
from tests.hostile.test_coded_fields import pseudonymise


@pytest.fixture
def mart(tmp_path: Path) -> Engine:
    engine = store.connect(f"sqlite:///{tmp_path / 'mart.db'}")
    store.init(engine)
    return engine


def rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        events = conn.execute(text("SELECT event_id, source, attributes_json FROM event ORDER BY event_id"))
        people = conn.execute(text("SELECT event_id, role, age_band FROM event_person ORDER BY event_id, seq"))
        return [tuple(r) for r in events] + [tuple(r) for r in people]


def test_an_event_of_another_source_cannot_overwrite_an_earlier_batchs_event(
        mart: Engine, agreement: Agreement, ring: KeyRing) -> None:
    real = pseudonymise(agreement, ring, "police_incident")
    assert store.upsert_events(mart, [real]) == 1
    before = rows(mart)
    forged = {**pseudonymise(agreement, ring, "ed_attendance"), "event_id": real["event_id"]}
    with pytest.raises(EventIdTaken):
        store.upsert_events(mart, [forged])
    assert rows(mart) == before
    assert store.upsert_events(mart, [real]) == 1  # the real source re-sending its event is still an upsert
    assert rows(mart) == before


def test_an_event_of_another_source_in_the_same_batch_is_refused(mart: Engine, agreement: Agreement,
                                                                 ring: KeyRing) -> None:
    real = pseudonymise(agreement, ring, "police_incident")
    forged = {**pseudonymise(agreement, ring, "ed_attendance"), "event_id": real["event_id"]}
    with pytest.raises(EventIdTaken):
        store.upsert_events(mart, [real, forged])  # the sink then writes them one by one: the first wins
    assert rows(mart) == []
    assert store.upsert_events(mart, [real]) == 1
    with pytest.raises(EventIdTaken):
        store.upsert_events(mart, [forged])
    assert [r[:2] for r in rows(mart)][0] == (real["event_id"], "police_incident")
