"""The Offensive Weapons Homicide Review register and the hot-spot alert log (restricted layer).

The register is what makes a review trigger happen exactly once per case: the worker inserts the case
(keyed by its token; a repeat changes nothing), sends the alert only while ``alert_sent_at`` is empty,
and stamps it once Kafka acknowledged. Redelivery, a restarted worker or a re-run connector finds the
stamp and sends nothing. Review partners move a case's status on with ``hub reviews status``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Column, Date, DateTime, Engine, Float, Integer, String, Table, Text, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hub.mart import models

homicide_review = Table(
    "homicide_review", models.metadata,
    Column("case_ref", String(64), primary_key=True, comment="The case's keyed token (event id), never a crime ref"),
    Column("alert_id", String(32), nullable=False, unique=True, comment="Id of the alert on svh.alerts"),
    Column("source", String(64), nullable=False),
    Column("occurred_date", Date),
    Column("lsoa_code", String(9)),
    Column("lad_code", String(9)),
    Column("offence_code", String(8), nullable=False),
    Column("weapons", String(64), nullable=False, comment="Weapon flags that met the criteria, comma-separated"),
    Column("victim_age_band", String(8)),
    Column("status", String(32), nullable=False,
           comment="to_consider, dhr_precedence, review_arranged, not_required, closed"),
    Column("notes", Text, nullable=False, default=""),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("alert_sent_at", DateTime(timezone=True), comment="When Kafka acknowledged the alert"),
    Column("notified_at", DateTime(timezone=True), comment="When the notify hook succeeded"),
    Column("status_changed_at", DateTime(timezone=True)),
    comment="Restricted: Offensive Weapons Homicide Review register, one row per case (PCSC Act 2022 s.24)",
)

hotspot_alert = Table(
    "hotspot_alert", models.metadata,
    Column("alert_id", String(32), primary_key=True, comment="Deterministic: area level, area, week"),
    Column("area_level", String(8), nullable=False),
    Column("area_code", String(9), nullable=False, index=True),
    Column("iso_week", String(8), nullable=False, index=True),
    Column("events", Integer, nullable=False, comment="Events counted in the area that week when raised"),
    Column("baseline", Float, nullable=False, comment="Expected weekly count from the area's recent weeks"),
    Column("p_value", Float, nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    comment="Restricted: emerging hot-spot alerts raised by the worker, one row per area and week",
)

STATUSES = ("to_consider", "dhr_precedence", "review_arranged", "not_required", "closed")


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _insert(engine: Engine, table: Any) -> Any:
    return postgresql.insert(table) if engine.dialect.name == "postgresql" else sqlite.insert(table)


@dataclass(frozen=True)
class RegisteredCase:
    case_ref: str
    alert_id: str
    alert_sent: bool
    notified: bool
    new: bool


def ensure_tables(engine: Engine) -> None:
    """The register and alert log are restricted tables made by ``hub mart init`` (Alembic revision 0003):
    this only checks they are there, so a mart that was not upgraded fails with one clear line."""
    from sqlalchemy import inspect

    from hub.mart.store import MartNotInitialised
    if not inspect(engine).has_table("homicide_review"):
        raise MartNotInitialised("the mart has no homicide review register: run 'hub mart init'")


def register_case(engine: Engine, row: dict[str, Any]) -> RegisteredCase:
    """Insert a case unless it is already registered; returns its state either way."""
    t = homicide_review
    with engine.begin() as conn:
        stmt = _insert(engine, t).values(**row, registered_at=_now()).on_conflict_do_nothing(
            index_elements=["case_ref"])
        new = conn.execute(stmt).rowcount == 1
        got = conn.execute(select(t.c.alert_id, t.c.alert_sent_at, t.c.notified_at)
                           .where(t.c.case_ref == row["case_ref"])).one()
    return RegisteredCase(row["case_ref"], got.alert_id, got.alert_sent_at is not None, got.notified_at is not None,
                          new)


def mark_alert_sent(engine: Engine, case_ref: str) -> None:
    t = homicide_review
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.case_ref == case_ref, t.c.alert_sent_at.is_(None))
                     .values(alert_sent_at=_now()))


def mark_notified(engine: Engine, case_ref: str) -> None:
    t = homicide_review
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.case_ref == case_ref).values(notified_at=_now()))


def set_status(engine: Engine, case_ref: str, status: str) -> bool:
    """Move a case on (review partners' decision); False when no case has that reference."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    t = homicide_review
    with engine.begin() as conn:
        done = conn.execute(update(t).where(t.c.case_ref == case_ref)
                            .values(status=status, status_changed_at=_now())).rowcount
    return bool(done)


def list_cases(engine: Engine, status: str | None = None) -> list[dict[str, Any]]:
    t = homicide_review
    stmt = select(t).order_by(t.c.occurred_date, t.c.case_ref)
    if status:
        stmt = stmt.where(t.c.status == status)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def format_cases(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "no review cases registered"
    out = [f"{'case (token)':<18} {'occurred':<10} {'area':<10} {'district':<10} {'offence':<7} {'weapon':<14} "
           f"{'age':<6} {'status':<16} {'alerted':<8} notified"]
    for r in rows:
        out.append(f"{r['case_ref'][:16] + '..':<18} {str(r['occurred_date'] or '-'):<10} "
                   f"{r['lsoa_code'] or '-':<10} {r['lad_code'] or '-':<10} {r['offence_code']:<7} "
                   f"{r['weapons']:<14} {r['victim_age_band'] or '?':<6} {r['status']:<16} "
                   f"{'yes' if r['alert_sent_at'] else 'no':<8} {'yes' if r['notified_at'] else 'no'}")
        if r["notes"]:
            out.append(f"{'':<19}{r['notes']}")
    out.append(f"({len(rows)} cases; case references are keyed tokens: the force resolves them)")
    return "\n".join(out)


# --- hot-spot alerts ----------------------------------------------------------------------------------

def hotspot_alerted(engine: Engine, alert_id: str) -> bool:
    t = hotspot_alert
    with engine.connect() as conn:
        return conn.execute(select(t.c.alert_id).where(t.c.alert_id == alert_id)).first() is not None


def record_hotspot(engine: Engine, row: dict[str, Any]) -> bool:
    """Log a raised hot-spot alert; False if that area-week was already logged."""
    t = hotspot_alert
    with engine.begin() as conn:
        stmt = _insert(engine, t).values(**row, raised_at=_now()).on_conflict_do_nothing(index_elements=["alert_id"])
        return bool(conn.execute(stmt).rowcount == 1)


def hotspots_between(engine: Engine, start: date, end: date) -> list[dict[str, Any]]:
    """Hot-spot alerts whose week starts within [start, end] (for the needs assessment)."""
    t = hotspot_alert
    lo, hi = start.isocalendar(), end.isocalendar()
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c.iso_week, t.c.area_code))]
    return [r for r in rows if f"{lo.year}-W{lo.week:02d}" <= r["iso_week"] <= f"{hi.year}-W{hi.week:02d}"]
