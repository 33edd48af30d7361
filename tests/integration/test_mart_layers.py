"""On a real PostgreSQL: the analyst role reads the released layer and is refused every restricted table;
a mart of the previous release upgrades with every row kept."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from hub.mart import restricted
from hub.mart.store import Layout, connect, init
from tests.plugins.services import postgres_schema
from tests.unit.test_migrations import upgrade_keeps_every_row

pytestmark = pytest.mark.postgres


@pytest.fixture
def layout(postgres_url: str) -> Iterator[Layout]:
    tag = uuid.uuid4().hex[:8]
    lay = Layout(released_schema=f"rel_{tag}", writer_role=f"svh_w_{tag}", analyst_role=f"svh_a_{tag}")
    yield lay
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{lay.released_schema}" CASCADE')
        for role in (f"login_{tag}", f"worker_{tag}", lay.analyst_role, lay.writer_role):  # grants: gone with schemas
            conn.execute(f"DROP ROLE IF EXISTS {role}")


def test_analyst_reads_released_layer_and_is_refused_every_restricted_table(postgres_url: str,
                                                                           layout: Layout) -> None:
    with postgres_schema(postgres_url) as url:
        engine = connect(url)
        report = init(engine, layout)
        assert layout.analyst_role in report.roles
        restricted_schema = url.rsplit("search_path%3D", 1)[1]
        tag = layout.analyst_role.rsplit("_", 1)[1]
        login, password = f"login_{tag}", uuid.uuid4().hex
        with engine.begin() as conn:
            conn.execute(text(f"CREATE ROLE {login} LOGIN PASSWORD '{password}' IN ROLE {layout.analyst_role}"))
        analyst_url = make_url(postgres_url).set(username=login, password=password)
        analyst = create_engine(analyst_url)
        names = [t.name for t in restricted.tables()]
        assert {"event", "event_person", "audit_release", "audit_purge", "ref_area"} <= set(names)
        refused = []
        for name in names:
            with analyst.connect() as conn:
                try:
                    conn.execute(text(f'SELECT * FROM "{restricted_schema}"."{name}" LIMIT 1'))  # noqa: S608
                except ProgrammingError as exc:
                    assert "permission denied" in str(exc)
                    refused.append(name)
        assert refused == names
        with analyst.connect() as conn:  # ...while the released layer is readable
            for table in ("released_table", "released_cell"):
                conn.execute(text(f'SELECT count(*) FROM "{layout.released_schema}"."{table}"'))  # noqa: S608
            with pytest.raises(ProgrammingError):
                conn.execute(text(f'INSERT INTO "{layout.released_schema}".released_cell (release_id, cell_no) '
                                  "VALUES (1, 1)"))
        analyst.dispose()
        engine.dispose()


def test_writer_runs_the_worker_and_releases_without_owning_anything(postgres_url: str, layout: Layout) -> None:
    """The worker starts (init at head: no DDL), writes events, and a release is audited and stored."""
    from datetime import date

    from hub.mart.audit import ReleaseContext
    from hub.mart.release import release
    from hub.mart.store import upsert_events
    from hub.policy import example_agreement_path, load_agreement
    with postgres_schema(postgres_url) as url:
        owner = connect(url)
        init(owner, layout)
        tag = layout.writer_role.rsplit("_", 1)[1]
        login, password = f"worker_{tag}", uuid.uuid4().hex
        with owner.begin() as conn:
            conn.execute(text(f"CREATE ROLE {login} LOGIN PASSWORD '{password}' IN ROLE {layout.writer_role}"))
        writer_url = make_url(url).set(username=login, password=password).render_as_string(hide_password=False)
        writer = connect(writer_url)
        report = init(writer)  # what the worker does at start-up
        assert "not created" in report.roles  # it may not create roles, and needs not
        upsert_events(writer, [{"event_id": f"e{i}", "source": "police_incident", "agreement_id": "a",
                                "agreement_version": "1", "key_id": "k", "occurred_date": date(2025, 3, 4),
                                "occurred_week": "2025-W10", "occurred_month": "2025-03",
                                "lsoa_code": "E01990001", "offence_category": "robbery"} for i in range(9)])
        ctx = ReleaseContext.create(load_agreement(example_agreement_path()), "sna", "partnership", "w",
                                    environ={})
        table = release(writer, ctx, "police_incidents", "lsoa", "week")
        assert table.release_id == 1 and table.sources == ("police_incident",)
        with owner.connect() as conn:
            stored = conn.execute(text(f'SELECT count(*) FROM "{layout.released_schema}".released_cell')).scalar_one()
        assert stored == len(table.rows)
        with pytest.raises(ProgrammingError, match="permission denied"), writer.begin() as conn:
            conn.execute(text("DELETE FROM audit_release"))  # the trail is append-only for the writer too
        writer.dispose()
        owner.dispose()


def test_previous_release_mart_upgrades_on_postgres(postgres_url: str, layout: Layout) -> None:
    with postgres_schema(postgres_url) as url:
        upgrade_keeps_every_row(url, layout)
