"""The audit trail: who released what from the mart, when, for which purpose, under which agreement.

Every release path (``hub mart counts``, ``hub mart export``, the report functions) goes through
:func:`record_release` inside the same transaction that reads the data, before anything is shown
or written: no audit row, no release. Retention purges are recorded by :func:`record_purge`.
Both tables are append-only; the database refuses UPDATE and DELETE on them (see ``store.init``).
"""

from __future__ import annotations

import json
import os
import pwd
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from hub.mart import models
from hub.policy import Agreement, ReleaseProfile

AUDIT_USER_ENV = "HUB_AUDIT_USER"
RELEASE_KINDS = ("query", "export", "report")


def os_user() -> str:
    """The operating-system account running this process, from the kernel's uid (never from $USER or
    $LOGNAME, which anyone can set)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # no passwd entry (some containers)
        return f"uid:{uid}"


def identity(conn: Connection) -> str:
    """Who is acting, as the systems themselves know it: on PostgreSQL the authenticated login role
    (``session_user``) and the OS account; on SQLite, which has no roles, the OS account. This, not a name
    given on the command line, is what the audit trail records as the user."""
    if conn.dialect.name == "postgresql":
        role = conn.execute(text("SELECT session_user")).scalar_one()
        return f"{role} (os:{os_user()})"[:128]
    return os_user()[:128]


def resolve_user(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """A name the caller *states* (``--user``, else ``HUB_AUDIT_USER``), else the OS account. It is recorded
    beside the identity as ``stated_user`` when it differs; it never replaces the identity."""
    env = os.environ if environ is None else environ
    for candidate in (explicit, env.get(AUDIT_USER_ENV)):
        if candidate and candidate.strip():
            return candidate.strip()
    return os_user()


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class ReleaseContext:
    """Who releases, for which purpose and under which profile; checked against the agreement."""

    agreement: Agreement
    profile: ReleaseProfile
    purpose: str
    user: str

    @classmethod
    def create(cls, agreement: Agreement, purpose: str | None, profile: str, user: str | None = None,
               environ: Mapping[str, str] | None = None) -> ReleaseContext:
        """Refuses (``ReleaseRefused``) a purpose or profile the agreement does not declare."""
        checked = agreement.check_release(purpose, profile)
        assert purpose is not None
        return cls(agreement, checked, purpose, resolve_user(user, environ))

    @property
    def sources(self) -> tuple[str, ...]:
        """The sources whose data may be released for this purpose."""
        return self.agreement.sources_for(self.purpose)


@dataclass(frozen=True)
class ReleaseRecord:
    kind: str
    name: str
    parameters: dict[str, Any]
    rows_released: int
    cells_suppressed: int
    sources: Sequence[str]
    destination: str | None = None
    released_at: datetime = field(default_factory=utc_now)


def record_release(conn: Connection, ctx: ReleaseContext, rec: ReleaseRecord) -> int:
    """Append one row to ``audit_release``; returns its id. Call inside the release's transaction."""
    if rec.kind not in RELEASE_KINDS:
        raise ValueError(f"release kind must be one of {', '.join(RELEASE_KINDS)}")
    who = identity(conn)
    parameters = dict(rec.parameters)
    if ctx.user and ctx.user not in (who, os_user()):
        parameters["stated_user"] = ctx.user  # a claim, kept beside the identity, never instead of it
    result = conn.execute(models.audit_release.insert().values(
        released_at=rec.released_at, user_name=who, kind=rec.kind, name=rec.name,
        parameters_json=json.dumps(parameters, sort_keys=True, default=str), purpose=ctx.purpose,
        profile=ctx.profile.name, audience=ctx.profile.audience[:256], agreement_id=ctx.agreement.id,
        agreement_version=ctx.agreement.version, sources=",".join(sorted(rec.sources)),
        rows_released=rec.rows_released, cells_suppressed=rec.cells_suppressed, destination=rec.destination))
    key = result.inserted_primary_key
    return int(key[0]) if key else 0


@dataclass(frozen=True)
class PurgeRow:
    source: str
    retention_days: int | None
    cutoff_date: date | None
    events_deleted: int
    persons_deleted: int
    events_undated: int


def record_purge(conn: Connection, run_id: str, run_at: datetime, user: str, agreement: Agreement,
                 rows: Sequence[PurgeRow], dry_run: bool) -> None:
    """Append one ``audit_purge`` row per source of a purge run (a run with no sources still leaves one)."""
    # ``user`` is what the caller stated; the trail records who the database and the OS say is acting.
    base = {"run_id": run_id, "run_at": run_at, "user_name": identity(conn), "agreement_id": agreement.id,
            "agreement_version": agreement.version, "dry_run": dry_run}
    items = [dict(base, source=r.source, retention_days=r.retention_days, cutoff_date=r.cutoff_date,
                  events_deleted=r.events_deleted, persons_deleted=r.persons_deleted,
                  events_undated=r.events_undated) for r in rows]
    if not items:
        items = [dict(base, source="(none)", retention_days=None, cutoff_date=None, events_deleted=0,
                      persons_deleted=0, events_undated=0)]
    conn.execute(models.audit_purge.insert(), items)


def releases(engine: Engine, limit: int | None = None) -> list[dict[str, Any]]:
    """The release trail, newest first."""
    stmt = select(models.audit_release).order_by(models.audit_release.c.release_id.desc())
    if limit:
        stmt = stmt.limit(limit)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def purges(engine: Engine, limit: int | None = None) -> list[dict[str, Any]]:
    """The purge trail, newest first."""
    stmt = select(models.audit_purge).order_by(models.audit_purge.c.purge_id.desc())
    if limit:
        stmt = stmt.limit(limit)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        moment: datetime = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def format_releases(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "no releases recorded"
    out = [f"{'id':>5}  {'when (UTC)':<20}  {'who':<16} {'what':<28} {'purpose':<16} {'profile':<12} "
           f"{'agreement':<24} {'rows':>6} {'suppr':>6}  destination"]
    for r in rows:
        what = f"{r['kind']}:{r['name']}"
        agreement = f"{r['agreement_id']} v{r['agreement_version']}"
        out.append(f"{r['release_id']:>5}  {_when(r['released_at']):<20}  {r['user_name']:<16} {what:<28} "
                   f"{r['purpose']:<16} {r['profile']:<12} {agreement:<24} {r['rows_released']:>6} "
                   f"{r['cells_suppressed']:>6}  {r['destination'] or ''}")
        out.append(f"{'':>7}parameters {r['parameters_json']}; sources {r['sources']}")
    return "\n".join(out)


def format_purges(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "no purges recorded"
    out = [f"{'id':>5}  {'when (UTC)':<20}  {'who':<16} {'run':<12} {'source':<20} {'keep days':>9} "
           f"{'cutoff':<10} {'events':>7} {'persons':>7} {'undated':>7}  mode"]
    for r in rows:
        keep = "-" if r["retention_days"] is None else str(r["retention_days"])
        out.append(f"{r['purge_id']:>5}  {_when(r['run_at']):<20}  {r['user_name']:<16} {r['run_id']:<12} "
                   f"{r['source']:<20} {keep:>9} {str(r['cutoff_date'] or '-'):<10} {r['events_deleted']:>7} "
                   f"{r['persons_deleted']:>7} {r['events_undated']:>7}  {'dry run' if r['dry_run'] else 'purged'}")
    return "\n".join(out)
