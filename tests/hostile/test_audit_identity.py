"""Finding 13: the audit trail's user is who the database and the operating system say is acting.

Attack: a release and a purge made with ``--user``/``HUB_AUDIT_USER`` naming someone else, on SQLite and
on PostgreSQL (whose login role is part of the identity); and $USER/$LOGNAME set to someone else.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine

from hub.mart import audit
from hub.mart.retention import purge
from hub.policy import Agreement
from tests.integration.test_mart_audit import SPEC, agreement, audit_rows, ctx, engine, load_counts, release  # noqa: F401

pytestmark = pytest.mark.integration


def test_a_stated_user_is_never_recorded_as_the_releaser(engine: Engine, agreement: Agreement,  # noqa: F811
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "the.chief.constable")  # self-asserted too: never read
    monkeypatch.setenv("LOGNAME", "the.chief.constable")
    load_counts(engine, SPEC)
    release(engine, ctx(agreement, user="the.chief.constable"), "police_incidents", "lsoa", "week")
    [row] = audit_rows(engine)
    assert "the.chief.constable" not in row["user_name"]
    assert audit.os_user() in row["user_name"]
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            role = conn.exec_driver_sql("SELECT session_user").scalar_one()
        assert row["user_name"].startswith(f"{role} ")
    assert json.loads(row["parameters_json"])["stated_user"] == "the.chief.constable"


def test_a_purge_records_the_identity_too(engine: Engine, agreement: Agreement) -> None:  # noqa: F811
    load_counts(engine, SPEC)
    purge(engine, agreement, "the.chief.constable", dry_run=True)
    with engine.connect() as conn:
        expected = audit.identity(conn)
    assert {r["user_name"] for r in audit.purges(engine)} == {expected}
