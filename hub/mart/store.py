"""Mart connection, initialisation and idempotent writes, on SQLite (default) or PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Engine, create_engine, delete, func, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql, sqlite

from hub.mart import models


def connect(url: str) -> Engine:
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        @sa_event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()
    return engine


def init(engine: Engine) -> None:
    """Create tables and views (idempotent) and record the schema version."""
    if engine.dialect.name == "sqlite" and engine.url.database:
        from pathlib import Path
        Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
    models.metadata.create_all(engine)
    with engine.begin() as conn:
        for name, body in models.VIEWS.items():
            conn.execute(text(f"DROP VIEW IF EXISTS {name}"))
            conn.execute(text(f"CREATE VIEW {name} AS {body}"))
        for statement in _append_only_triggers(conn.dialect.name):
            conn.execute(text(statement))
        _upsert(conn, models.mart_meta, [{"key": "schema_version", "value": str(models.SCHEMA_VERSION)}], ["key"])


def ensure_audit(engine: Engine) -> None:
    """Create the audit tables and their append-only triggers if missing (cheap; leaves views alone)."""
    models.metadata.create_all(engine, tables=[models.audit_release, models.audit_purge])
    with engine.begin() as conn:
        for statement in _append_only_triggers(conn.dialect.name):
            conn.execute(text(statement))


def _append_only_triggers(dialect: str) -> list[str]:
    """DDL that makes the audit tables append-only in the database itself (idempotent)."""
    out: list[str] = []
    if dialect == "postgresql":
        out.append("CREATE OR REPLACE FUNCTION svh_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$")
        for table in models.AUDIT_TABLES:
            for name, when in (("append_only", "UPDATE OR DELETE ON {t} FOR EACH ROW"),
                               ("no_truncate", "TRUNCATE ON {t} FOR EACH STATEMENT")):
                out.append(f"DROP TRIGGER IF EXISTS {table}_{name} ON {table}")
                out.append(f"CREATE TRIGGER {table}_{name} BEFORE {when.format(t=table)} "
                           "EXECUTE FUNCTION svh_audit_append_only()")
    else:
        for table in models.AUDIT_TABLES:
            for op in ("UPDATE", "DELETE"):
                out.append(f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
    return out


def _insert(conn: Any, table: Any) -> Any:
    return (postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table))


def _upsert(conn: Any, table: Any, rows: list[dict[str, Any]], keys: list[str]) -> None:
    if not rows:
        return
    stmt = _insert(conn, table)
    updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=updates) if updates
                 else stmt.on_conflict_do_nothing(index_elements=keys), rows)


def event_row(shared: Mapping[str, Any]) -> dict[str, Any]:
    flags = shared.get("flags") or {}
    row = {c: shared.get(c) for c in ("event_id", "source", "agreement_id", "agreement_version", "key_id",
                                      "occurred_date", "occurred_week", "occurred_month", "occurred_hour",
                                      "lsoa_code", "msoa_code", "lad_code", "offence_code", "offence_category")}
    for flag in models.FLAG_COLUMNS:
        row[flag] = flags.get(flag)
    row["flags_json"] = json.dumps(flags, sort_keys=True)
    row["attributes_json"] = json.dumps(shared.get("attributes") or {}, sort_keys=True)
    return row


def upsert_events(engine: Engine, events: Iterable[Mapping[str, Any]]) -> int:
    """Write shared events; re-writing an event replaces it exactly, so redelivery changes nothing."""
    latest: dict[str, Mapping[str, Any]] = {}
    for ev in events:
        latest[ev["event_id"]] = ev  # a batch may hold the same event twice (at-least-once)
    if not latest:
        return 0
    rows = [event_row(ev) for ev in latest.values()]
    people = [{"event_id": eid, "seq": i, "role": p["role"], "age_band": p.get("age_band"), "sex": p.get("sex")}
              for eid, ev in latest.items() for i, p in enumerate(ev.get("persons") or [])]
    with engine.begin() as conn:
        _upsert(conn, models.event, rows, ["event_id"])
        conn.execute(delete(models.event_person).where(models.event_person.c.event_id.in_(list(latest))))
        if people:
            conn.execute(models.event_person.insert(), people)
    return len(rows)


def count_events(engine: Engine, source: str | None = None) -> int:
    stmt = select(func.count()).select_from(models.event)
    if source:
        stmt = stmt.where(models.event.c.source == source)
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def upsert_linked(engine: Engine, linked: Iterable[Mapping[str, Any]]) -> int:
    """Write the link stage's mentions and merges; redelivery rewrites the same rows. Merges point at the
    survivor; a merge into a person that itself merged later is resolved when read (chains are short)."""
    mentions: dict[tuple[str, str], dict[str, Any]] = {}
    merges: dict[str, dict[str, Any]] = {}
    for ev in linked:
        for m in ev.get("mentions") or ():
            mentions[(ev["event_id"], m["role"])] = {
                "event_id": ev["event_id"], "role": m["role"], "person_id": m["person_id"], "source": ev["source"],
                "occurred_date": ev.get("occurred_date"), "model_version": ev.get("model_version") or ""}
        for g in ev.get("merges") or ():
            merges[g["person_id"]] = {"person_id": g["person_id"], "into_person_id": g["into"],
                                      "event_id": ev["event_id"]}
    with engine.begin() as conn:
        _upsert(conn, models.person_mention, list(mentions.values()), ["event_id", "role"])
        _upsert(conn, models.person_merge, list(merges.values()), ["person_id"])
        # A later merge of a survivor: point earlier merges straight at the new survivor.
        for row in merges.values():
            conn.execute(models.person_merge.update()
                         .where(models.person_merge.c.into_person_id == row["person_id"])
                         .values(into_person_id=row["into_person_id"]))
    return len(mentions)
