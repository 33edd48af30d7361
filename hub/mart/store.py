"""Mart connection, initialisation and idempotent writes, on SQLite (default) or PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, func, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from hub.mart import cellkey, migrate, models, released

BUSY_TIMEOUT_S = 10.0
"""SQLite: how long a write waits for another connection's write lock before it fails ("database is locked")."""


def connect(url: str, busy_timeout_s: float = BUSY_TIMEOUT_S) -> Engine:
    """An engine for the mart at ``url``; on SQLite, WAL and a write that waits ``busy_timeout_s`` for the lock."""
    is_sqlite = make_url(url).get_backend_name() == "sqlite"
    # sqlite3's connect timeout is the busy timeout until the pragmas below run (its default is 5 s)
    engine = create_engine(url, future=True, pool_pre_ping=True,
                           connect_args={"timeout": busy_timeout_s} if is_sqlite else {})
    if is_sqlite:
        @sa_event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL with synchronous=NORMAL: a commit is not fsynced (a checkpoint is). A killed process loses
            # nothing (the WAL is in the OS's hands); a power cut may lose the last commits, whose offsets
            # may already be committed: the SQLite mart is rebuilt from Kafka then (docs/ops.md). The
            # fsync per sink batch cost ~20 us per event.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={round(busy_timeout_s * 1000)}")
            cur.close()
    return engine


def sqlite_file(engine: Engine) -> bool:
    """Whether ``engine`` is a SQLite mart in a file (which a second engine on the same URL shares)."""
    return _sqlite_path(engine) is not None and engine.url.query.get("mode") != "memory"


def lock_timed_out(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's "database is locked": another connection held the write lock for longer than
    this connection's busy timeout (SQLITE_BUSY, any extended code). Nothing was written: the transaction is
    rolled back."""
    code = getattr(getattr(exc, "orig", exc), "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == sqlite3.SQLITE_BUSY


class MartNotInitialised(RuntimeError):
    """The mart does not exist or is behind this hub's schema: run ``hub mart init``."""


@dataclass(frozen=True)
class Layout:
    """Where the released layer lives and which roles read and write (PostgreSQL; names only on SQLite)."""

    released_schema: str = released.DEFAULT_PG_SCHEMA
    writer_role: str = "svh_writer"
    analyst_role: str = "svh_analyst"


@dataclass(frozen=True)
class InitReport:
    revision_before: str | None
    revision: str
    released_url: str
    roles: str  # what happened to the PostgreSQL roles


_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _sqlite_path(engine: Engine) -> Path | None:
    db = engine.url.database
    return Path(db) if engine.dialect.name == "sqlite" and db and db != ":memory:" else None


def _private_file(path: Path) -> None:
    """Create the SQLite mart (and its WAL files, if any) readable by the hub's own user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for f in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if f.exists():
            os.chmod(f, 0o600)


def init(engine: Engine, layout: Layout | None = None) -> InitReport:
    """Create or upgrade the mart: the restricted layer to Alembic's head, then the released layer.

    SQLite: the mart file is mode 600 and the released layer is a separate file. PostgreSQL: the
    released schema, and the writer and analyst roles with their grants (see :func:`grant_roles`).
    """
    lay = layout or _stored_layout(engine) or _default_layout(engine)
    for name in (lay.released_schema, lay.writer_role, lay.analyst_role):
        if not _NAME.match(name):
            raise ValueError(f"{name!r} is not a plain lower-case PostgreSQL name")
    path = _sqlite_path(engine)
    if path is not None:
        _private_file(path)
    before, after = migrate.upgrade(engine)
    if path is not None:
        _private_file(path)
    from hub.mart import areas
    areas.ensure_shipped(engine)
    rel_url = released.released_url(str(engine.url.render_as_string(hide_password=False)))
    rel_engine = released.engine_for(engine.url.render_as_string(hide_password=False), lay.released_schema)
    released.create(rel_engine, lay.released_schema)
    rel_engine.dispose()
    with engine.begin() as conn:
        _upsert(conn, models.mart_meta, [
            {"key": "schema_version", "value": str(models.SCHEMA_VERSION)},
            {"key": "released_schema", "value": lay.released_schema},
            {"key": "writer_role", "value": lay.writer_role},
            {"key": "analyst_role", "value": lay.analyst_role}], ["key"])
    roles = grant_roles(engine, lay) if engine.dialect.name == "postgresql" else "none (SQLite: file permissions)"
    return InitReport(before, after, rel_url, roles)


def _default_layout(engine: Engine) -> Layout:
    """``released`` beside ``public``; beside any other mart schema, ``<schema>_released``."""
    if engine.dialect.name != "postgresql":
        return Layout()
    with engine.connect() as conn:
        schema = str(conn.execute(text("SELECT current_schema()")).scalar_one())
    return Layout() if schema == "public" else Layout(released_schema=f"{schema}_released"[:63])


def _stored_layout(engine: Engine) -> Layout | None:
    try:
        with engine.connect() as conn:
            meta = dict(conn.execute(select(models.mart_meta.c.key, models.mart_meta.c.value)).all())
    except SQLAlchemyError:
        return None
    if "released_schema" not in meta:
        return None
    return Layout(meta["released_schema"], meta.get("writer_role", "svh_writer"),
                  meta.get("analyst_role", "svh_analyst"))


def layout_of(engine: Engine) -> Layout:
    """The layout ``hub mart init`` recorded for this mart."""
    return _stored_layout(engine) or Layout()


def grant_roles(engine: Engine, lay: Layout) -> str:
    """PostgreSQL: create the writer and analyst roles (NOLOGIN groups) and grant each its layer.

    The writer (the worker, the release builder) may read and write the restricted schema and write
    the released one; the analyst may read the released schema and nothing else. Give people and BI
    tools login roles that are members: ``CREATE ROLE alice LOGIN PASSWORD '...' IN ROLE svh_analyst``.
    Needs CREATEROLE; without it the roles are left to a DBA and the statements are printed.
    """
    with engine.connect() as conn:
        restricted = str(conn.execute(text("SELECT current_schema()")).scalar_one())
        can = bool(conn.execute(text("SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user"))
                   .scalar_one())
    statements = role_statements(restricted, lay)
    if not can:
        return ("not created: this user may not create roles; a DBA should run:\n  " + ";\n  ".join(statements)
                + ";")
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    return f"{lay.writer_role} (restricted schema {restricted}), {lay.analyst_role} (schema {lay.released_schema} only)"


def role_statements(restricted: str, lay: Layout) -> list[str]:
    """The SQL that creates the two roles and their grants (idempotent)."""
    w, a, r, s = lay.writer_role, lay.analyst_role, f'"{restricted}"', f'"{lay.released_schema}"'
    out = [f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN "
           f"CREATE ROLE {role} NOLOGIN; END IF; END $$" for role in (w, a)]
    out += [
        f"REVOKE ALL ON SCHEMA {r} FROM PUBLIC",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {r} FROM PUBLIC",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {r} FROM {a}",
        f"REVOKE ALL ON SCHEMA {r} FROM {a}",
        f"GRANT USAGE ON SCHEMA {r} TO {w}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {r} TO {w}",
        *[f"REVOKE UPDATE, DELETE, TRUNCATE ON {r}.{t} FROM {w}" for t in models.AUDIT_TABLES],  # append-only
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {r} TO {w}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {r} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {w}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {r} GRANT USAGE, SELECT ON SEQUENCES TO {w}",
        f"REVOKE ALL ON SCHEMA {s} FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA {s} TO {w}, {a}",
        f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA {s} TO {w}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {a}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT ON TABLES TO {a}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT, INSERT ON TABLES TO {w}",
    ]
    return out


def open_mart(url: str) -> Engine:
    """Connect to a mart that ``hub mart init`` made and upgraded; never creates anything.

    Raises ``MartNotInitialised`` (one line, naming the mart and what to do) when there is no mart
    there, or when it is behind this hub's schema.
    """
    shown = make_url(url).render_as_string(hide_password=True)
    hint = "run 'hub mart init' (or point HUB_MART_URL at an initialised mart)"
    target = make_url(url)
    if target.get_backend_name() == "sqlite" and target.database and target.database != ":memory:" \
            and not Path(target.database).exists():
        raise MartNotInitialised(f"no mart at {shown}: {hint}")
    engine = connect(url)
    try:
        rev = migrate.current(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise MartNotInitialised(f"cannot open the mart at {shown} ({type(exc).__name__}): {hint}") from None
    if rev is None:
        engine.dispose()
        raise MartNotInitialised(f"{shown} holds no mart: {hint}")
    if rev != migrate.head():
        engine.dispose()
        raise MartNotInitialised(f"the mart at {shown} is at schema revision {rev}, this hub needs "
                                 f"{migrate.head()}: run 'hub mart init' to upgrade it (rows are kept)")
    return engine


def ensure_audit(engine: Engine) -> None:
    """Kept for callers of the previous release: the audit tables come with ``init`` (Alembic) now."""
    if migrate.current(engine) is None:
        init(engine)


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
    row["record_key"] = cellkey.record_key(str(shared["event_id"]))
    return row


class EventIdTaken(IntegrityError):
    """An event whose id the mart already holds under another source, or that a batch holds twice with two
    sources. Event ids are keyed on source and record id, so no pipeline makes such an event: it is forged
    or mis-produced, and writing it would overwrite another source's event. Refused (the sink dead-letters
    it as ``rejected_by_mart: EventIdTaken``); the first writer of an id keeps it."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} event id(s) already belong to another source", None,
                         ValueError("event id of another source"))


ID_CHUNK = 500  # event ids per look-up (SQLite's bound-parameter limit is far above)


def upsert_events(engine: Engine, events: Iterable[Mapping[str, Any]]) -> int:
    """Write shared events; re-writing an event replaces it exactly, so redelivery changes nothing.

    Raises ``EventIdTaken`` (and writes nothing) if an event would replace one of another source."""
    latest: dict[str, Mapping[str, Any]] = {}
    for ev in events:
        earlier = latest.get(ev["event_id"])
        if earlier is not None and earlier.get("source") != ev.get("source"):
            raise EventIdTaken(1)
        latest[ev["event_id"]] = ev  # a batch may hold the same event twice (at-least-once)
    if not latest:
        return 0
    ids = list(latest)
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            _sqlite_upsert_events(conn, latest, ids)
            return len(ids)
        if conn.dialect.driver == "psycopg":
            _postgres_upsert_events(conn, latest, ids)
            return len(ids)
        rows = [event_row(ev) for ev in latest.values()]
        people = [{"event_id": eid, "seq": i, "role": p["role"], "age_band": p.get("age_band"), "sex": p.get("sex")}
                  for eid, ev in latest.items() for i, p in enumerate(ev.get("persons") or [])]
        taken = sum(1 for i in range(0, len(ids), ID_CHUNK) for eid, source in conn.execute(
            select(models.event.c.event_id, models.event.c.source).where(
                models.event.c.event_id.in_(ids[i:i + ID_CHUNK]))) if source != latest[eid].get("source"))
        if taken:
            raise EventIdTaken(taken)
        _upsert(conn, models.event, rows, ["event_id"])
        conn.execute(delete(models.event_person).where(models.event_person.c.event_id.in_(ids)))
        if people:
            conn.execute(models.event_person.insert(), people)
    return len(rows)


_TOP_COLUMNS = ("event_id", "source", "agreement_id", "agreement_version", "key_id", "occurred_date", "occurred_week",
                "occurred_month", "occurred_hour", "lsoa_code", "msoa_code", "lad_code", "offence_code",
                "offence_category")
_ROW_COLUMNS = (*_TOP_COLUMNS, *models.FLAG_COLUMNS, "flags_json", "attributes_json", "record_key")
_SQLITE_UPSERT_EVENT = (
    f"INSERT INTO event ({', '.join(_ROW_COLUMNS)}) VALUES ({', '.join('?' for _ in _ROW_COLUMNS)}) "
    "ON CONFLICT (event_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _ROW_COLUMNS if c != "event_id"))
_SQLITE_INSERT_PERSON = "INSERT INTO event_person (event_id, seq, role, age_band, sex) VALUES (?, ?, ?, ?, ?)"
_SORTED_JSON = json.JSONEncoder(sort_keys=True).encode  # == json.dumps(..., sort_keys=True), built once


def _sqlite_row(shared: Mapping[str, Any]) -> tuple[Any, ...]:
    """``event_row`` as SQLAlchemy's SQLite types store it (a date as ISO text), in ``_ROW_COLUMNS`` order."""
    return _row(shared, iso_date=True)


def _row(shared: Mapping[str, Any], iso_date: bool) -> tuple[Any, ...]:
    """``event_row`` as a tuple in ``_ROW_COLUMNS`` order; the date as ISO text if ``iso_date`` (SQLite)."""
    get = shared.get
    flags = get("flags") or {}
    occurred = get("occurred_date")
    if iso_date and isinstance(occurred, date):
        occurred = occurred.isoformat()
    return (*(get(c) for c in _TOP_COLUMNS[:5]), occurred,
            *(get(c) for c in _TOP_COLUMNS[6:]), *(flags.get(f) for f in models.FLAG_COLUMNS),
            _SORTED_JSON(flags), _SORTED_JSON(get("attributes") or {}), cellkey.record_key(str(shared["event_id"])))


_PG_ARRAY_TYPES = {"event_id": "text", "occurred_date": "date", "occurred_hour": "integer", "record_key": "integer",
                   **{f: "boolean" for f in models.FLAG_COLUMNS}}
_PG_UPSERT_EVENT = (
    f"INSERT INTO event ({', '.join(_ROW_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"%b::{_PG_ARRAY_TYPES.get(c, 'text')}[]" for c in _ROW_COLUMNS) + ") "
    "ON CONFLICT (event_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _ROW_COLUMNS if c != "event_id"))
_PG_INSERT_PERSON = ("INSERT INTO event_person (event_id, seq, role, age_band, sex) "
                     "SELECT * FROM unnest(%b::text[], %b::integer[], %b::text[], %b::text[], %b::text[])")


def _postgres_upsert_events(conn: Any, latest: Mapping[str, Mapping[str, Any]], ids: list[str]) -> None:
    """The portable path's statements with psycopg, each ONE statement over column arrays (``unnest``): one
    round trip per statement whatever the batch's size, and no SQLAlchemy parameter processing per row, which
    cost ~140 us of CPU per event in the worker's write thread (2.6 times SQLite's fast path)."""
    # %b: psycopg sends the arrays in binary format; in text format it quotes every element through a regular
    # expression (~40% of the write's CPU). Through SQLAlchemy's connection, so a row PostgreSQL refuses raises
    # SQLAlchemy's DataError or IntegrityError, which the sink dead-letters (an outage is retried).
    taken = sum(1 for eid, source in conn.exec_driver_sql(
        "SELECT event_id, source FROM event WHERE event_id = ANY(%b::text[])", (ids,))
        if source != latest[eid].get("source"))
    if taken:
        raise EventIdTaken(taken)
    # rows in event id order: two workers' sinks writing overlapping batches (a rebalance's redelivery) then take
    # the rows' locks in the same order, which avoids most deadlocks (both are retried, found by review)
    order = sorted(latest)
    rows = [_row(latest[eid], iso_date=False) for eid in order]
    conn.exec_driver_sql(_PG_UPSERT_EVENT, tuple(list(column) for column in zip(*rows, strict=True)))
    conn.exec_driver_sql("DELETE FROM event_person WHERE event_id = ANY(%b::text[])", (order,))
    people = [(eid, i, p["role"], p.get("age_band"), p.get("sex"))
              for eid in order for i, p in enumerate(latest[eid].get("persons") or [])]
    if people:
        conn.exec_driver_sql(_PG_INSERT_PERSON, tuple(list(column) for column in zip(*people, strict=True)))


def _sqlite_upsert_events(conn: Any, latest: Mapping[str, Mapping[str, Any]], ids: list[str]) -> None:
    """The portable path's statements, each one prepared ``executemany`` over plain tuples: SQLAlchemy's
    per-row parameter processing cost ~110 us of CPU per event, as much as the bare stage's whole work.

    The tuples are made before the first write: SQLite's write lock is taken at the first write (the DELETE) and
    held to the commit, and another worker's sink waits for it meanwhile. In a worker whose main thread runs
    Python without pause, making them inside the lock took several times their CPU in wall time (the thread waits
    for the GIL)."""
    rows = [_sqlite_row(ev) for ev in latest.values()]
    people = [(eid, i, p["role"], p.get("age_band"), p.get("sex"))
              for eid, ev in latest.items() for i, p in enumerate(ev.get("persons") or [])]
    for i in range(0, len(ids), ID_CHUNK):
        chunk = ids[i:i + ID_CHUNK]
        marks = ", ".join("?" for _ in chunk)
        taken = sum(1 for eid, source in conn.exec_driver_sql(
            f"SELECT event_id, source FROM event WHERE event_id IN ({marks})", tuple(chunk))
            if source != latest[eid].get("source"))
        if taken:
            raise EventIdTaken(taken)
        conn.exec_driver_sql(f"DELETE FROM event_person WHERE event_id IN ({marks})", tuple(chunk))
    conn.exec_driver_sql(_SQLITE_UPSERT_EVENT, rows)
    if people:
        conn.exec_driver_sql(_SQLITE_INSERT_PERSON, people)


def count_events(engine: Engine, source: str | None = None) -> int:
    stmt = select(func.count()).select_from(models.event)
    if source:
        stmt = stmt.where(models.event.c.source == source)
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())

