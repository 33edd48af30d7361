"""Database mode against the real PostgreSQL and the real broker: a typed table read incrementally by
watermark and tie-breaker; only new rows on each run; a restart from the checkpoint publishes nothing twice."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hub.config import Settings
from hub.connectors.config import load_config
from hub.connectors.mapping import default_mapping_path, load_mapping
from hub.connectors.runtime import Runtime
from hub.connectors.service import run_once
from hub.kafka_read import read_topic
from hub.schemas import default_repository
from hub.topics import Topics
from tests.connectors.harness import load_fixture, write_config

pytestmark = [pytest.mark.integration, pytest.mark.postgres]
SOURCE = "police_incident"
URL_ENV = "SVH_TEST_RMS_DB_URL"


def typed_rows() -> tuple[list[str], list[dict[str, Any]]]:
    """The fixture's rows as a records system would hold them: timestamps, dates and booleans, not text."""
    fixture = load_fixture(SOURCE)
    assert fixture is not None
    mapping = load_mapping(default_mapping_path(SOURCE))
    types = {f.column: f.type for f in mapping.fields}
    out = []
    for cells in fixture.as_dicts():
        row: dict[str, Any] = {}
        for col, text in cells.items():
            kind = types.get(col)
            if not text:
                row[col] = None
            elif kind == "datetime":
                row[col] = datetime.strptime(text, mapping.datetime_format)
            elif kind == "date":
                row[col] = datetime.strptime(text, mapping.date_format).date()
            elif kind == "flag":
                row[col] = text.upper() in ("Y", "YES", "1", "TRUE")
            else:
                row[col] = text
        out.append(row)
    return fixture.header, out


def make_table(engine: sa.Engine, header: list[str]) -> sa.Table:
    mapping = load_mapping(default_mapping_path(SOURCE))
    kinds = {"datetime": sa.DateTime(), "date": sa.Date(), "flag": sa.Boolean()}
    types = {f.column: f.type for f in mapping.fields}
    meta = sa.MetaData()
    table = sa.Table("crimes", meta,
                     *[sa.Column(c, kinds.get(types.get(c, ""), sa.Text()), primary_key=c == "CrimeRef")
                       for c in header],
                     sa.Column("LastModified", sa.DateTime(), nullable=False))
    meta.create_all(engine)
    return table


def test_incremental_reads_on_postgres(settings: Settings, tmp_path: Path, postgres_schema_url: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_ENV, postgres_schema_url)  # the password stays in the environment
    engine = sa.create_engine(postgres_schema_url)
    header, rows = typed_rows()
    table = make_table(engine, header)
    base = datetime(2025, 6, 1, 9, 0)
    first, later = rows[:5], rows[5:]
    with engine.begin() as conn:
        # two rows share a watermark: the tie-breaker orders them and a page may split them
        conn.execute(table.insert(), [{**r, "LastModified": base + timedelta(minutes=i // 2)}
                                      for i, r in enumerate(first)])
    path = write_config(tmp_path, "database", SOURCE, settings=settings, url=None, url_env=URL_ENV,
                        table="crimes", watermark="LastModified", tie_breaker="CrimeRef", page_size=2)
    assert "@" not in path.read_text()  # no credentials in the config

    def run() -> dict[str, Any]:
        return run_once(Runtime(load_config(path))).as_dict()

    topic = Topics(settings.topic_prefix).raw(SOURCE)
    assert run()["published"] == len(first)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{**r, "LastModified": base + timedelta(hours=1, minutes=i)}
                                      for i, r in enumerate(later)])
    assert run()["published"] == len(later)  # only the new ones
    assert run()["read"] == 0  # a restart from the checkpoint publishes nothing twice
    messages = read_topic(settings, topic)
    assert sorted(m.key.decode() for m in messages if m.key) == sorted(r["CrimeRef"] for r in rows)  # once each

    # typed cells arrived as the same record the CSV path gives
    repo = default_repository()
    by_key = {(m.key or b"").decode(): m for m in messages}
    _, decoded = repo.decode(by_key[rows[0]["CrimeRef"]].value or b"")
    assert decoded["occurred_from"] == rows[0]["OccurredFrom"]
    assert isinstance(decoded["victim_dob"], date) and decoded["victim_dob"] == rows[0]["VictimDOB"]
    assert decoded["knife"] == rows[0]["KnifeFlag"]

    # a row changed in the records system is read again (its watermark moved), nothing else
    with engine.begin() as conn:
        conn.execute(table.update().where(table.c.CrimeRef == rows[1]["CrimeRef"])
                     .values(KnifeFlag=True, LastModified=base + timedelta(days=1)))
    assert run()["published"] == 1
    state = json.loads((tmp_path / "state" / "database.json").read_text())
    assert state["tie_breaker"] == {"type": "str", "value": rows[1]["CrimeRef"]}
    assert state["watermark"]["type"] == "datetime"
    engine.dispose()
