"""Retention: purge events (and their people) older than each source's ``retention_days``.

Age is measured by ``occurred_date``, the date of the incident or attendance, not by when the row
reached the mart: an agreement's retention period refers to the age of the record, and the date is
the same on every re-load, so a re-sent old record cannot win itself a fresh retention period (the
next run removes it again). Events without an ``occurred_date`` cannot be aged; they are kept and
counted. Every run, dry or not, is recorded in ``audit_purge`` (one row per source), and running it
twice deletes nothing the second time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, and_, delete, func, or_, select

from hub.mart import models
from hub.mart.audit import PurgeRow, record_purge, utc_now
from hub.mart.incident_matches import incident_match
from hub.policy import Agreement


@dataclass(frozen=True)
class PurgeRun:
    run_id: str
    run_at: datetime
    dry_run: bool
    rows: list[PurgeRow]

    @property
    def events_deleted(self) -> int:
        return sum(r.events_deleted for r in self.rows)

    def summary(self) -> str:
        verb = "would purge" if self.dry_run else "purged"
        lines = [f"purge run {self.run_id} ({'dry run' if self.dry_run else 'applied'}), recorded in audit_purge"]
        for r in self.rows:
            if r.retention_days is None:
                lines.append(f"  {r.source}: no agreement covers it; nothing purged")
                continue
            lines.append(f"  {r.source}: keep {r.retention_days} days (occurred on or after {r.cutoff_date}); "
                         f"{verb} {r.events_deleted} events and {r.persons_deleted} people"
                         + (f"; {r.events_undated} undated events kept" if r.events_undated else ""))
        return "\n".join(lines)


def purge(engine: Engine, agreement: Agreement, user: str, today: date | None = None,
          dry_run: bool = False) -> PurgeRun:
    """Delete what each source's retention period no longer allows, and audit the run."""
    run_at = utc_now()
    day = today or run_at.date()
    ev, person = models.event, models.event_person
    rows: list[PurgeRow] = []
    with engine.begin() as conn:
        in_mart = {str(s) for s in conn.execute(select(ev.c.source).distinct()).scalars()}
        for source in sorted(in_mart | set(agreement.sources)):
            policy = agreement.sources.get(source)
            if policy is None:
                rows.append(PurgeRow(source, None, None, 0, 0, 0))
                continue
            cutoff = day - timedelta(days=policy.retention_days)
            expired = and_(ev.c.source == source, ev.c.occurred_date < cutoff)
            expired_ids = select(ev.c.event_id).where(expired)
            n_events = int(conn.execute(select(func.count()).select_from(ev).where(expired)).scalar_one())
            n_people = int(conn.execute(select(func.count()).select_from(person)
                                        .where(person.c.event_id.in_(expired_ids))).scalar_one())
            undated = int(conn.execute(select(func.count()).select_from(ev)
                                       .where(ev.c.source == source, ev.c.occurred_date.is_(None))).scalar_one())
            if not dry_run and n_events:
                conn.execute(delete(person).where(person.c.event_id.in_(expired_ids)))
                conn.execute(delete(incident_match).where(or_(incident_match.c.ed_event_id.in_(expired_ids),
                                                              incident_match.c.police_event_id.in_(expired_ids))))
                conn.execute(delete(ev).where(expired))
            rows.append(PurgeRow(source, policy.retention_days, cutoff, n_events, n_people, undated))
        run_id = "p" + uuid.uuid4().hex[:10]
        record_purge(conn, run_id, run_at, user, agreement, rows, dry_run)
    return PurgeRun(run_id, run_at, dry_run, rows)
