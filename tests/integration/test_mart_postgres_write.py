"""The mart's PostgreSQL write path (``hub.mart.store._postgres_upsert_events``: psycopg, column arrays) on the
real PostgreSQL: it stores what SQLAlchemy's portable statements store, replaces an event exactly on
redelivery or change, and refuses an event id that belongs to another source, writing nothing."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DataError

from hub.connectors import CsvFileConnector, default_mapping_path, load_mapping
from hub.mart import connect, init, models, store
from hub.mart.store import EventIdTaken, event_row, upsert_events
from hub.policy import example_agreement_path, load_agreement
from hub.pseudonymisation import KeyRing, PostcodeLookup, Pseudonymiser
from hub.synth import generate_police_extract
from tests.plugins.services import postgres_schema

SOURCE = "police_incident"


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Shared events of a small synthetic extract: every column and person field the generator fills."""
    manifest = generate_police_extract(tmp_path_factory.mktemp("extract"), seed=7, incidents=300)
    lookup = PostcodeLookup.from_csv(manifest.lookup_csv)
    mapping = load_mapping(default_mapping_path(SOURCE), lookup)
    records = [r.record for r in CsvFileConnector(manifest.extract_csv, mapping).records() if r.record]
    plan = Pseudonymiser(load_agreement(example_agreement_path()), KeyRing.generate("kpg"), lookup).plan(SOURCE)
    return [plan.apply(r)[0] for r in records]


@pytest.fixture
def engines(postgres_url: str) -> Iterator[tuple[Engine, Engine]]:
    """Two fresh marts on PostgreSQL: one written by the fast path, one by SQLAlchemy's portable statements."""
    with postgres_schema(postgres_url) as a_url, postgres_schema(postgres_url) as b_url:
        a, b = connect(a_url), connect(b_url)
        init(a)
        init(b)
        yield a, b
        a.dispose()
        b.dispose()


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY 1, 2"))]  # noqa: S608
                for t in ("event", "event_person")}


def portable(engine: Engine, events: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(models.event.insert(), [event_row(ev) for ev in events])
        conn.execute(models.event_person.insert(), [
            {"event_id": ev["event_id"], "seq": i, "role": p["role"], "age_band": p.get("age_band"),
             "sex": p.get("sex")} for ev in events for i, p in enumerate(ev.get("persons") or [])])


def test_fast_path_stores_what_the_portable_statements_store(engines: tuple[Engine, Engine],
                                                             events: list[dict[str, Any]],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    fast, other = engines
    calls: list[int] = []  # so that this test fails if upsert_events stops taking the PostgreSQL path
    real = store._postgres_upsert_events
    monkeypatch.setattr(store, "_postgres_upsert_events",
                        lambda conn, latest, ids: calls.append(len(ids)) or real(conn, latest, ids))
    assert len(events) > 200
    assert upsert_events(fast, events[:150]) == 150
    assert upsert_events(fast, events[100:]) == len(events) - 100  # 50 redelivered
    portable(other, events)
    stored = dump(fast)
    assert len(stored["event"]) == len(events)
    assert stored == dump(other)
    assert any(row[5] is not None for row in stored["event"])  # the date column was written as a date
    assert stored["event_person"]
    assert calls == [150, len(events) - 100]


def test_a_changed_event_replaces_its_row_and_persons(engines: tuple[Engine, Engine],
                                                      events: list[dict[str, Any]]) -> None:
    fast, other = engines
    upsert_events(fast, events[:20])
    changed = copy.deepcopy(events[:20])
    for ev in changed:
        ev["persons"] = (ev.get("persons") or [])[:1]
        ev["lsoa_code"] = None
    upsert_events(fast, changed)
    portable(other, changed)
    assert dump(fast) == dump(other)


def test_an_event_id_of_another_source_is_refused_and_nothing_is_written(engines: tuple[Engine, Engine],
                                                                          events: list[dict[str, Any]]) -> None:
    fast, _ = engines
    upsert_events(fast, events[:5])
    before = dump(fast)
    forged = {**events[0], "source": "ed_attendance"}
    with pytest.raises(EventIdTaken):
        upsert_events(fast, [*events[5:10], forged])
    assert dump(fast) == before



def test_a_row_postgres_refuses_raises_sqlalchemys_data_error(engines: tuple[Engine, Engine],
                                                              events: list[dict[str, Any]]) -> None:
    """The sink dead-letters a batch's refused row (``DataError``/``IntegrityError``, SQLAlchemy's) and retries
    anything else as an outage: psycopg's own exception would stall the pipeline on one poison event."""
    fast, _ = engines
    too_long = {**events[0], "lsoa_code": "E" * 40}  # the column is VARCHAR(9)
    with pytest.raises(DataError):
        upsert_events(fast, [*events[1:5], too_long])
    assert dump(fast)["event"] == []
