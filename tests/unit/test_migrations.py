"""Alembic: the previous release's mart upgrades with every row kept; head matches the models; SQLite is private."""

from __future__ import annotations

import json
import stat
from datetime import date
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text

from hub.mart import cellkey, migrate, models, restricted, store
from hub.mart.store import connect, init, open_mart
from tests.unit import previous_release as old


def _old_rows(engine: Engine, n: int = 40) -> None:
    with engine.begin() as conn:
        conn.execute(old.event.insert(), [{
            "event_id": f"ev{i:04d}", "source": "police_incident", "agreement_id": "a", "agreement_version": "1",
            "key_id": "k1", "occurred_date": date(2025, 3, 1 + i % 28), "occurred_week": "2025-W10",
            "occurred_month": "2025-03", "occurred_hour": i % 24, "lsoa_code": f"E0199{i % 60 + 1:04d}",
            "msoa_code": "E02990001", "lad_code": "E07990001", "offence_code": "8N",
            "offence_category": "violence_with_injury", "domestic_abuse": i % 3 == 0, "knife": i % 5 == 0,
            "firearm": False, "alcohol": None, "flags_json": json.dumps({"knife": i % 5 == 0}),
            "attributes_json": "{}"} for i in range(n)])
        conn.execute(old.event_person.insert(), [{"event_id": f"ev{i:04d}", "seq": 0, "role": "victim",
                                                  "age_band": "18-24", "sex": "F"} for i in range(n)])
        conn.execute(old.audit_release.insert().values(
            released_at=date(2025, 4, 1), user_name="ann", kind="export", name="incident_counts",
            parameters_json="{}", purpose="sna", profile="partnership", audience="x", agreement_id="a",
            agreement_version="1", sources="police_incident", rows_released=3, cells_suppressed=1))


def _dump(engine: Engine, table: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(text(f"SELECT * FROM {table}")))  # noqa: S608


def upgrade_keeps_every_row(url: str, layout: store.Layout | None = None) -> None:
    engine = connect(url)
    old.create_previous_mart(engine)
    _old_rows(engine)
    before = {t: _dump(engine, t) for t in ("event", "event_person", "audit_release")}
    assert migrate.current(engine) == migrate.PREVIOUS_RELEASE
    report = init(engine, layout)
    assert (report.revision_before, report.revision) == (migrate.PREVIOUS_RELEASE, migrate.head())
    assert not inspect(engine).has_table("v_incident_counts") and "v_incident_counts" not in \
        inspect(engine).get_view_names()
    after_events = _dump(engine, "event")
    assert [r[:-1] for r in after_events] == before["event"]  # every column kept; record_key appended
    assert [r[-1] for r in after_events] == [cellkey.record_key(str(r[0])) for r in after_events]
    assert _dump(engine, "event_person") == before["event_person"]
    assert _dump(engine, "audit_release") == before["audit_release"]
    init(engine, layout)  # again: nothing changes
    assert _dump(engine, "event") == after_events
    open_mart(url).dispose()


def test_previous_release_mart_upgrades_with_every_row_kept(tmp_path: Path) -> None:
    upgrade_keeps_every_row(f"sqlite:///{tmp_path / 'old.db'}")


def test_migrated_schema_matches_the_models(tmp_path: Path) -> None:
    """Head of the migrations creates exactly the restricted tables the models define (no drift)."""
    engine = connect(f"sqlite:///{tmp_path / 'm.db'}")
    init(engine)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), restricted.metadata)
    assert [d for d in diffs if d[0] not in ("add_table_comment", "add_column_comment")] == []
    assert {t.name for t in restricted.tables()} <= set(inspect(engine).get_table_names())


def test_sqlite_mart_is_private_and_releases_go_to_a_separate_file(tmp_path: Path) -> None:
    path = tmp_path / "mart" / "mart.db"
    engine = connect(f"sqlite:///{path}")
    report = init(engine)
    with engine.begin() as conn:  # WAL files appear on write
        conn.execute(models.mart_meta.insert().values(key="probe", value="1"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for extra in (path.with_name("mart.db-wal"), path.with_name("mart.db-shm")):
        if extra.exists():
            assert stat.S_IMODE(extra.stat().st_mode) == 0o600
    released_file = path.with_name("mart-released.db")
    assert report.released_url.endswith("mart-released.db") and released_file.exists()
    names = set(inspect(connect(f"sqlite:///{released_file}")).get_table_names())
    assert names == {"released_table", "released_cell"}  # nothing row-level in the analysts' file


def test_a_644_mart_is_made_private_by_init(tmp_path: Path) -> None:
    path = tmp_path / "mart.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    init(connect(f"sqlite:///{path}"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_open_mart_never_creates_one(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "mart.db"
    try:
        open_mart(f"sqlite:///{path}")
    except store.MartNotInitialised as exc:
        assert "hub mart init" in str(exc) and "HUB_MART_URL" in str(exc)
    else:
        raise AssertionError("open_mart accepted a mart that does not exist")
    assert not path.exists() and not path.parent.exists()


def test_record_keys_are_written_with_events(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'm.db'}")
    init(engine)
    store.upsert_events(engine, [{"event_id": "abc", "source": "police_incident", "agreement_id": "a",
                                  "agreement_version": "1", "key_id": "k"}])
    with engine.connect() as conn:
        assert conn.execute(select(models.event.c.record_key)).scalar_one() == cellkey.record_key("abc")


def test_role_statements_grant_the_analyst_the_released_schema_only() -> None:
    sql = store.role_statements("svh", store.Layout("released", "svh_writer", "svh_analyst"))
    analyst = [s for s in sql if "svh_analyst" in s and s.startswith(("GRANT", "ALTER DEFAULT"))]
    assert analyst and all('"released"' in s for s in analyst)  # never a grant on the restricted schema
    assert 'REVOKE ALL ON ALL TABLES IN SCHEMA "svh" FROM svh_analyst' in sql
    assert 'REVOKE UPDATE, DELETE, TRUNCATE ON "svh".audit_release FROM svh_writer' in sql
