"""Database: read an agency table (or query) incrementally through SQLAlchemy.

Rows are read in pages ordered by a watermark column (which grows when a row is added or changed)
and a unique tie-breaker, strictly after the last checkpoint: ``wm > :wm OR (wm = :wm AND tb > :tb)``.
The checkpoint moves to a page's last row only after Kafka acknowledged the whole page, so a crash
re-reads at most one page (harmless: event ids are deterministic). Any SQLAlchemy URL works; the
password comes from the environment or a file, never the config.

Cells are turned into the text the mapping expects (dates in its formats, flags as Y/N), so one
mapping serves a CSV extract and a table alike.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import ConfigDict, Field, field_validator, model_validator
from sqlalchemy.engine import Engine, make_url

from hub import logs
from hub.connectors.base import SourceRecord
from hub.connectors.checkpoints import decode_value, encode_value
from hub.connectors.mapping import FieldMapping, RowError
from hub.connectors.mode import Mode
from hub.connectors.runtime import Runtime
from hub.connectors.sections import ConnectorConfig, ModeSettings, read_secret

log = logs.get(__name__)
CHECKPOINT = "database"


class DatabaseConfig(ModeSettings):
    url: str | None = Field(None, description="SQLAlchemy URL without a password, e.g. "
                                              "postgresql+psycopg://svh_reader@db.force.local/rms")
    url_env: str | None = Field(None, description="Environment variable holding the whole URL (may hold the "
                                                  "password).")
    password_env: str | None = Field(None, description="Environment variable holding the database password.")
    password_file: Path | None = Field(None, description="File holding the database password (mode 600).")
    table: str | None = Field(None, description="Table or view to read (or give query).")
    db_schema: str | None = Field(None, alias="schema", description="Schema of the table.")
    query: str | None = Field(None, description="A SELECT to read instead of a table; must return the "
                                                "watermark and tie-breaker columns.")
    watermark: str = Field(description="Column that grows when a row is added or changed (e.g. LastModified).")
    tie_breaker: str = Field(description="Unique column ordering rows with the same watermark (e.g. CrimeRef).")
    page_size: int = Field(1000, ge=1, le=100_000, description="Rows read, published and checkpointed at a time.")
    poll_seconds: float = Field(30.0, gt=0, description="How often the table is read when caught up.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    EXPANDED = ("url",)

    @field_validator("url")
    @classmethod
    def _no_inline_password(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError
        try:
            parsed = make_url(v)
        except ArgumentError:
            raise ValueError("not a SQLAlchemy URL (dialect+driver://user@host:port/database)") from None
        if parsed.password:
            raise ValueError("holds a password: never write a secret in this file; give password_env or "
                             "password_file, or the whole URL in url_env")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> DatabaseConfig:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url or url_env")
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of table or query")
        return self


def database_url(config: ConnectorConfig, environ: dict[str, str] | None = None) -> sa.URL:
    """The URL with its password from the environment or a file (the only place it is read)."""
    env = dict(os.environ if environ is None else environ)
    db = config.section(DatabaseConfig)
    if db.url_env:
        raw = env.get(db.url_env)
        if not raw:
            raise config.error("database.url_env", f"environment variable {db.url_env} is not set")
        url = make_url(raw)
    else:
        assert db.url is not None
        url = make_url(db.url)
    password = read_secret(config, "database.password", db.password_env, db.password_file, env)
    return url.set(password=password) if password is not None else url


def cell_text(value: Any, field_type: str | None, mapping: FieldMapping) -> str:
    """A database value as the text the mapping reads (for the original kept with a dead letter)."""
    return mapping.as_text(value, field_type)


def row_record(row: dict[str, Any], mapping: FieldMapping, position: str) -> SourceRecord:
    """A database row as a ``SourceRecord``: the mapping applied to its typed values (dates stay dates).

    The original kept for the dead-letter topic is the row as text in the mapping's formats, the form
    a JSON push takes, so a repaired dead letter can be replayed through the same mapping."""
    types = {f.column: f.type for f in mapping.fields}
    cells = {col: cell_text(v, types.get(col), mapping) for col, v in row.items()}
    id_text = cells.get(mapping.record_id_column(), "").strip() or None
    mapped = {c: cells.get(c, "") for c in mapping.columns}  # only these: the rest was never agreed to be shared
    original = json.dumps(mapped, sort_keys=True).encode("utf-8")
    rec = SourceRecord(position=position, original=original, record_id=id_text)
    try:
        rec.record = mapping.parse({col: v.decode(mapping.encoding) if isinstance(v, bytes) else v
                                    for col, v in row.items()})
    except RowError as exc:
        rec.error = exc
    return rec


class Database(Mode, mode="database", settings=DatabaseConfig):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.cfg = cfg = runtime.config.section(DatabaseConfig)
        self.engine: Engine = sa.create_engine(database_url(runtime.config), pool_pre_ping=True)
        self.relation = cfg.table or "query"
        self._check_columns()
        self.page_number = 0

    @classmethod
    def describe(cls, runtime: Runtime) -> list[str]:
        db = runtime.config.section(DatabaseConfig)
        cls(runtime).close()  # connects and checks the columns; raises ConfigError if one is missing
        return [f"database: {db.table or 'query'} has the mapped, watermark ({db.watermark}) and tie-breaker "
                f"({db.tie_breaker}) columns; pages of {db.page_size}"]

    @property
    def idle_seconds(self) -> float:
        return self.cfg.poll_seconds

    def _source(self) -> Any:
        if self.cfg.table:
            return sa.table(self.cfg.table, schema=self.cfg.db_schema)
        assert self.cfg.query is not None
        return sa.text(self.cfg.query).columns().subquery("svh_src")

    def _check_columns(self) -> None:
        """Refuse to start unless the table or query has the mapped, watermark and tie-breaker columns."""
        stmt = sa.select(sa.text("*")).select_from(self._source()).where(sa.false())
        with self.engine.connect() as conn:
            columns = list(conn.execute(stmt).keys())
        cfg, config = self.cfg, self.runtime.config
        for key, col in (("database.watermark", cfg.watermark), ("database.tie_breaker", cfg.tie_breaker)):
            if col not in columns:
                raise config.error(key, f"{self.relation} has no column {col!r}")
        missing = [c for c in self.runtime.mapping.columns if c not in columns]
        if missing:
            raise config.error("mapping", f"{self.relation} lacks mapped column(s) {', '.join(missing)} "
                                          f"(mapping {self.runtime.mapping.path})")

    def _page(self, after: tuple[Any, Any] | None, limit: int) -> list[dict[str, Any]]:
        wm: sa.ColumnClause[Any] = sa.column(self.cfg.watermark)
        tb: sa.ColumnClause[Any] = sa.column(self.cfg.tie_breaker)
        # Only the mapped, watermark and tie-breaker columns are read (never SELECT *): a column the mapping
        # does not name was never agreed to be shared, so it never enters the connector's memory.
        wanted = dict.fromkeys([*self.runtime.mapping.columns, self.cfg.watermark, self.cfg.tie_breaker])
        cols: list[sa.ColumnClause[Any]] = [sa.column(c) for c in wanted]
        stmt = sa.select(*cols).select_from(self._source()).where(wm.is_not(None))
        if after is not None:
            stmt = stmt.where(sa.or_(wm > sa.bindparam("wm"), sa.and_(wm == sa.bindparam("wm"),
                                                                     tb > sa.bindparam("tb"))))
        stmt = stmt.order_by(wm, tb).limit(limit)
        params = {"wm": after[0], "tb": after[1]} if after is not None else {}
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(stmt, params).mappings()]

    def _after(self) -> tuple[Any, Any] | None:
        state = self.runtime.state.read(CHECKPOINT)
        if "watermark" not in state:
            return None
        return decode_value(state["watermark"]), decode_value(state["tie_breaker"])

    def poll(self) -> bool:
        rt = self.runtime
        rows = self._page(self._after(), self.cfg.page_size)
        if not rows:
            return False
        self.page_number += 1
        unit = f"{self.relation} page {self.page_number}"
        records = (row_record(r, rt.mapping, f"{unit} row {i}") for i, r in enumerate(rows, start=1))
        result = rt.publish_unit(records, unit)
        last = rows[-1]
        state = rt.state.read(CHECKPOINT)
        state.update(watermark=encode_value(last[self.cfg.watermark]),
                     tie_breaker=encode_value(last[self.cfg.tie_breaker]))
        rt.state.write(CHECKPOINT, state)  # only now: Kafka acknowledged the whole page
        rt.health.unit("published", result.report)
        return len(rows) == self.cfg.page_size  # a short page means caught up: wait for poll_seconds

    def sample(self, limit: int) -> list[SourceRecord]:
        rows = self._page(self._after(), limit)
        return [row_record(r, self.runtime.mapping, f"{self.relation} row {i}") for i, r in enumerate(rows, 1)]

    def close(self) -> None:
        self.engine.dispose()
