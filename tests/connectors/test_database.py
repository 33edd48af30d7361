"""Database mode without a broker (SQLite): pages in watermark order, checkpoints after acks, typed cells."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime
from pathlib import Path

import pytest

from hub.connectors.config import load_config
from hub.connectors.mapping import RowError, default_mapping_path, load_mapping
from hub.connectors.modes.database import Database, cell_text, database_url
from hub.connectors.service import run_once
from hub.connectors.testing import FlakyProducer, RecordingProducer
from hub.policy import ConfigError
from tests.connectors.harness import TIE, Fixture, insert_rows, recording_runtime, write_config

SOURCE = "police_incident"



def run(tmp_path: Path, producer: RecordingProducer, **mode: object) -> dict[str, object]:
    config = load_config(write_config(tmp_path, "database", SOURCE, **mode), environ={})
    return run_once(recording_runtime(config, producer)).as_dict()


def keys(producer: RecordingProducer) -> list[bytes]:
    return [s.key or b"" for s in producer.on(f"svh.raw.{SOURCE}")]


def test_only_new_rows_are_published_on_each_run(tmp_path: Path, fixture: Fixture) -> None:
    insert_rows(tmp_path / "agency.db", fixture.header, fixture.rows[:5])
    producer = RecordingProducer()
    assert run(tmp_path, producer)["published"] == 5  # pages of 4: 4 + 1
    insert_rows(tmp_path / "agency.db", fixture.header, fixture.rows[5:])
    assert run(tmp_path, producer)["published"] == len(fixture.rows) - 5
    assert run(tmp_path, producer)["read"] == 0
    assert keys(producer) == [r[0].encode() for r in fixture.rows]
    state = json.loads((tmp_path / "state" / "database.json").read_text())
    assert state["tie_breaker"] == {"type": "int", "value": len(fixture.rows)}


def test_rows_sharing_a_watermark_are_ordered_by_the_tie_breaker(tmp_path: Path, fixture: Fixture) -> None:
    insert_rows(tmp_path / "agency.db", fixture.header, fixture.rows)
    with sqlite3.connect(tmp_path / "agency.db") as conn:
        conn.execute("UPDATE extract SET svh_changed_at = '2025-06-01T00:00:00'")  # every row the same
    producer = RecordingProducer()
    assert run(tmp_path, producer, page_size=3)["published"] == len(fixture.rows)  # across page boundaries
    assert keys(producer) == [r[0].encode() for r in fixture.rows]


def test_a_changed_row_is_published_again(tmp_path: Path, fixture: Fixture) -> None:
    insert_rows(tmp_path / "agency.db", fixture.header, fixture.rows)
    producer = RecordingProducer()
    run(tmp_path, producer)
    with sqlite3.connect(tmp_path / "agency.db") as conn:
        conn.execute(f"UPDATE extract SET svh_changed_at = '2026-01-01T00:00:00' WHERE {TIE} = 2")
    before = len(producer.sent)
    run(tmp_path, producer)
    assert keys(producer)[before:] == [fixture.rows[1][0].encode()]


def test_the_checkpoint_never_passes_an_unacknowledged_page(tmp_path: Path, fixture: Fixture) -> None:
    insert_rows(tmp_path / "agency.db", fixture.header, fixture.rows)
    config = load_config(write_config(tmp_path, "database", SOURCE), environ={})
    with pytest.raises(Exception, match="not acknowledged"):
        run_once(recording_runtime(config, FlakyProducer(fail_at={5})))  # in the second page
    state = json.loads((tmp_path / "state" / "database.json").read_text())
    assert state["tie_breaker"]["value"] == 4  # the first page only
    producer = RecordingProducer()
    run_once(recording_runtime(config, producer))
    assert keys(producer) == [r[0].encode() for r in fixture.rows[4:]]


def test_a_query_works_like_a_table(tmp_path: Path, fixture: Fixture) -> None:
    insert_rows(tmp_path / "agency.db", fixture.header, fixture.rows)
    producer = RecordingProducer()
    query = 'SELECT * FROM extract WHERE "HOOffenceCode" <> \'8N\''
    totals = run(tmp_path, producer, table=None, query=query)
    expected = [r[0].encode() for r in fixture.rows if r[1] != "8N"]
    assert totals["published"] == len(expected) and keys(producer) == expected


def test_bad_rows_are_dead_lettered_with_the_column(tmp_path: Path, fixture: Fixture) -> None:
    bad = list(fixture.rows[0])
    bad[fixture.header.index("OccurredFrom")] = "yesterday"
    insert_rows(tmp_path / "agency.db", fixture.header, [bad, *fixture.rows[1:]])
    producer = RecordingProducer()
    totals = run(tmp_path, producer)
    assert totals["dead_lettered"] == 1
    [dead] = producer.on(f"svh.dlq.{SOURCE}")
    h = dict(dead.headers)
    assert h["svh.errors.field"] == b"OccurredFrom" and h["svh.errors.kind"] == b"bad_datetime"
    assert json.loads(dead.value)["OccurredFrom"] == "yesterday"  # the row as read, for repair


def test_missing_columns_stop_the_connector_with_the_key(tmp_path: Path, fixture: Fixture) -> None:
    insert_rows(tmp_path / "agency.db", fixture.header, fixture.rows)
    path = write_config(tmp_path, "database", SOURCE, watermark="LastModified")
    config = load_config(path, environ={})
    with pytest.raises(ConfigError, match=r"database.watermark: extract has no column 'LastModified'"):
        Database(recording_runtime(config, RecordingProducer()))


def test_typed_cells_become_the_mappings_text() -> None:
    mapping = load_mapping(default_mapping_path(SOURCE))
    assert cell_text(datetime(2025, 3, 4, 21, 30), "datetime", mapping) == "04/03/2025 21:30"
    assert cell_text(datetime(1991, 4, 17, 0, 0), "date", mapping) == "17/04/1991"
    assert cell_text(date(1991, 4, 17), "date", mapping) == "17/04/1991"
    assert cell_text(date(2025, 3, 4), "datetime", mapping) == "04/03/2025 00:00"
    assert cell_text(True, "flag", mapping) == "Y" and cell_text(None, "string", mapping) == ""
    assert cell_text(42, "integer", mapping) == "42"


def test_typed_values_reach_the_mapping_as_they_are() -> None:
    """A database's dates, date-times and booleans are parsed as values, not printed and parsed again: a
    date-time keeps its seconds (the text format has none), and gives what its text would otherwise."""
    mapping = load_mapping(default_mapping_path(SOURCE))
    text = {"CrimeRef": "X1", "HOOffenceCode": "8N", "OccurredFrom": "04/03/2025 21:30",
            "LocationLSOA": "E01000001", "VictimDOB": "17/04/1991", "KnifeFlag": "Y"}
    typed = {**text, "OccurredFrom": datetime(2025, 3, 4, 21, 30, 45), "VictimDOB": date(1991, 4, 17),
             "KnifeFlag": True}
    from_text, from_values = mapping.parse(text), mapping.parse(typed)
    assert from_values["occurred_from"] == datetime(2025, 3, 4, 21, 30, 45)
    assert from_text == {**from_values, "occurred_from": datetime(2025, 3, 4, 21, 30)}
    assert mapping.parse({**typed, "VictimDOB": datetime(1991, 4, 17, 0, 0)})["victim_dob"] == date(1991, 4, 17)
    with pytest.raises(RowError, match="KnifeFlag: flag is not Y or N"):
        mapping.parse({**typed, "KnifeFlag": 7})


def test_password_from_the_environment_or_a_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "database", SOURCE, url="postgresql+psycopg://reader@db/rms",
                        password_env="SVH_TEST_DB_PASSWORD")
    config = load_config(path, environ={})
    url = database_url(config, {"SVH_TEST_DB_PASSWORD": "pw"})
    assert url.password == "pw" and "pw" not in repr(url)  # SQLAlchemy masks it
    with pytest.raises(ConfigError, match="SVH_TEST_DB_PASSWORD is not set"):
        database_url(config, {})
    path = write_config(tmp_path, "database", SOURCE, url=None, url_env="SVH_TEST_DB_URL")
    url = database_url(load_config(path, environ={}), {"SVH_TEST_DB_URL": "postgresql+psycopg://u:p2@h/d"})
    assert url.password == "p2"
