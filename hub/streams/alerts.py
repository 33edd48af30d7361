"""The worker's alert stage: homicide-review triggers and emerging hot spots, raised on ``svh.alerts``.

Two agents. ``alerts`` reads ``svh.shared``: it judges each event against the homicide-review rule and
forwards the violence the hot-spot watch counts to an internal topic keyed by area, so that every count
for an area lands on one partition (a Faust table must be co-partitioned with its stream).
``hotspots`` reads that topic and keeps a Faust windowed table of event ids by area x ISO week (tumbling
one-week windows in event time, kept ``baseline_weeks + 2`` weeks, backed by a changelog topic); each
event's week is compared with the area's previous weeks (``hub.alerts.rules.exceedance``).

Exactly once: a review case is registered in the mart before its alert is sent and stamped once Kafka
acknowledged the alert, so redelivery and re-runs send nothing more; the Prometheus counters move only
on that first send. Counting event ids (not events) makes the windowed counts idempotent too. In the one
window where the worker dies between Kafka's acknowledgement and the stamp, the repeat carries the same
deterministic ``alert_id`` for consumers to drop.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hub import logs, metrics
from hub.alerts.notify import configured, notify
from hub.alerts.rules import (
    AlertRules,
    ReviewCase,
    alert_id,
    counts_towards_hotspots,
    exceedance,
    load_rules,
    owhr_case,
)
from hub.mart import reviews, store
from hub.schemas import SHARED_EVENT, SchemaError
from hub.streams.app import confirm_delivery, retry_mart

if TYPE_CHECKING:
    from hub.config import Settings
    from hub.streams.app import StreamWorker

log = logs.get(__name__)

ALERT_SCHEMA = "svh.alerts.Alert"
WEEK_S = 7 * 86400
_MONDAY0 = date(1970, 1, 5)  # Faust's tumbling windows start at multiples of the size: count from a Monday
BATCH = 500
WITHIN_S = 0.5


def by_area_topic(settings: Settings) -> str:
    """Internal topic of the hot-spot watch (named like Faust's own internal topics)."""
    return f"{settings.app_id}-hotspot-by-area"


def internal_topics(settings: Settings, rules: AlertRules) -> dict[str, dict[str, str]]:
    """Topics the alert stage needs besides the hub's own: name -> topic configs (created by hub.kafka_admin)."""
    keep_ms = (rules.hotspots.baseline_weeks + 3) * WEEK_S * 1000
    return {
        by_area_topic(settings): {"retention.ms": str(keep_ms)},
        f"{settings.app_id}-hotspot_events-changelog": {"cleanup.policy": "compact,delete",
                                                        "retention.ms": str(keep_ms)},
        f"{settings.app_id}-hotspot_first_week-changelog": {"cleanup.policy": "compact"},
    }


def week_timestamp(day: date) -> float:
    """Seconds since Monday 1970-01-05: one-week tumbling windows over it are ISO weeks (Monday to Sunday)."""
    return float((day - _MONDAY0).days * 86400 + 43200)


def iso_week(day: date) -> str:
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AlertStage:
    """Registers the alert agents (and the hot-spot tables) on the worker's Faust app."""

    def __init__(self, worker: StreamWorker, rules: AlertRules | None = None) -> None:
        settings = worker.settings
        self.worker = worker
        self.rules = rules or load_rules(settings.alert_rules)
        self.engine = worker.engine or store.connect(settings.mart)
        store.init(self.engine)  # the register and alert log are Alembic revision 0003 (idempotent)
        # Only sources the agreement lets the partnership use for hot-spot tasking are counted.
        allowed = set(worker.agreement.sources_for("hotspot_tasking"))
        self.hotspot_sources = {s for s in self.rules.hotspots.sources if s in allowed}
        app = worker.app
        self._alerts = worker._topic(worker.topics.alerts)
        self._by_area = worker._topic(by_area_topic(settings))
        self._raised: set[str] = set()
        self._ts = 0.0
        app.agent(worker._shared, name="alerts", concurrency=1)(self._judge)
        if self.rules.hotspots.enabled:
            keep = timedelta(weeks=self.rules.hotspots.baseline_weeks + 2)
            counts: Any = app.Table("hotspot_events", default=list, partitions=settings.topic_partitions)
            self._counts = counts.tumbling(timedelta(weeks=1), expires=keep).relative_to(self._event_time)
            self._first = app.Table("hotspot_first_week", default=None, partitions=settings.topic_partitions)
            app.agent(self._by_area, name="hotspots", concurrency=1)(self._watch)

    def _event_time(self, event: Any = None) -> float:
        # The windowed table's clock: the week of the event being counted (set just before each update).
        return self._ts

    # -- homicide reviews, and routing to the hot-spot watch ---------------------------------------------

    async def _judge(self, stream: Any) -> None:
        level = self.rules.hotspots.area_level
        async for batch in stream.take_events(BATCH, within=WITHIN_S):
            pending: list[Any] = []
            cases: list[ReviewCase] = []
            for event in batch:
                try:
                    _, record = self.worker.schemas.decode(event.message.value or b"", expect=SHARED_EVENT)
                except SchemaError:
                    continue  # the sink dead-letters undecodable shared messages; nothing to judge here
                case = owhr_case(self.rules.owhr, record)
                if case is not None:
                    cases.append(case)
                if record.get("source") in self.hotspot_sources and counts_towards_hotspots(self.rules.hotspots,
                                                                                             record):
                    area, day = record.get(f"{level}_code"), record.get("occurred_date")
                    if area and isinstance(day, date):
                        value = json.dumps({"id": record["event_id"][:24], "date": day.isoformat()}).encode()
                        pending.append(self._by_area.send_soon(key=str(area).encode(), value=value))
            await confirm_delivery(pending, "alerts")
            for case in cases:
                await self._raise_review(case)

    async def _raise_review(self, case: ReviewCase) -> None:
        aid = alert_id("owhr", case.case_ref)
        row = {"case_ref": case.case_ref, "alert_id": aid, "source": case.source,
               "occurred_date": case.occurred_date, "lsoa_code": case.lsoa_code, "lad_code": case.lad_code,
               "offence_code": case.offence_code, "weapons": ",".join(case.weapons),
               "victim_age_band": case.victim_age_band, "status": case.status, "notes": "; ".join(case.notes)}
        registered = await _retry(reviews.register_case, self.engine, row)
        alert = {"alert_id": aid, "kind": "owhr", "raised_at": _utc_now(), "rules_version": self.rules.version,
                 "case_ref": case.case_ref, "status": case.status, "occurred_date": case.occurred_date,
                 "iso_week": iso_week(case.occurred_date) if case.occurred_date else None,
                 "area_level": "lsoa" if case.lsoa_code else None, "area_code": case.lsoa_code,
                 "details": {"offence_code": case.offence_code, "weapons": ",".join(case.weapons),
                             "victim_age_band": case.victim_age_band or "unknown", "lad_code": case.lad_code or "",
                             "notes": "; ".join(case.notes)}}
        if not registered.alert_sent:
            value = self.worker.schemas.encode(ALERT_SCHEMA, alert)
            await confirm_delivery([self._alerts.send_soon(key=aid.encode(), value=value)], "alerts")
            await _retry(reviews.mark_alert_sent, self.engine, case.case_ref)
            metrics.HOMICIDE_REVIEW_ALERTS.inc()
            log.warning("homicide review trigger raised", extra={"alert_id": aid, "status": case.status})
        notify_cfg = self.rules.owhr.notify
        if configured(notify_cfg) and not registered.notified:
            failures = await asyncio.to_thread(notify, notify_cfg, alert)
            if failures:
                metrics.ALERT_NOTIFY_FAILURES.labels("owhr").inc()
                log.error("notify hook failed", extra={"alert_id": aid, "error": "; ".join(failures)})
            else:
                await _retry(reviews.mark_notified, self.engine, case.case_ref)

    # -- hot spots -----------------------------------------------------------------------------------

    async def _watch(self, stream: Any) -> None:
        # One event at a time: a table update goes to the changelog partition of the current event.
        rule = self.rules.hotspots
        window = self._counts.table.window
        async for event in stream.events():
            msg = event.message
            try:
                area = (msg.key or b"").decode()
                data = json.loads(msg.value or b"{}")
                day = date.fromisoformat(data["date"])
                token = str(data["id"])
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                continue  # written by the alerts agent only; a foreign message is ignored
            self._ts = week_timestamp(day)
            week_no = (day - _MONDAY0).days // 7
            first = self._first.get(area)
            if first is None or week_no < first:
                self._first[area] = first = week_no
            ids = list(self._counts[area].value())
            if token not in ids:
                ids.append(token)
                self._counts[area] = ids
            weeks_back = min(rule.baseline_weeks, week_no - first)
            history = [len(self._counts[area][window.current(self._ts - k * WEEK_S)])
                       for k in range(1, weeks_back + 1)]
            verdict = exceedance(rule, len(ids), history)
            if verdict.alert:
                await self._raise_hotspot(area, day, verdict.count, verdict.baseline, verdict.p_value)

    async def _raise_hotspot(self, area: str, day: date, count: int, baseline: float, p_value: float) -> None:
        level, week = self.rules.hotspots.area_level, iso_week(day)
        aid = alert_id("hotspot", level, area, week)
        if aid in self._raised:
            return
        if await _retry(reviews.hotspot_alerted, self.engine, aid):
            self._raised.add(aid)
            return
        alert = {"alert_id": aid, "kind": "hotspot", "raised_at": _utc_now(), "rules_version": self.rules.version,
                 "iso_week": week, "area_level": level, "area_code": area, "count": count,
                 "baseline": round(baseline, 3), "p_value": p_value,
                 "details": {"method": f"Poisson exceedance, alpha {self.rules.hotspots.alpha}"}}
        value = self.worker.schemas.encode(ALERT_SCHEMA, alert)
        await confirm_delivery([self._alerts.send_soon(key=aid.encode(), value=value)], "alerts")
        await _retry(reviews.record_hotspot, self.engine, {
            "alert_id": aid, "area_level": level, "area_code": area, "iso_week": week, "events": count,
            "baseline": baseline, "p_value": p_value})
        self._raised.add(aid)
        metrics.HOTSPOT_ALERTS.labels(level).inc()
        log.warning("hot-spot alert raised", extra={"alert_id": aid, "area": area, "week": week})


async def _retry(func: Any, *args: Any) -> Any:
    """A mart call that must not be skipped: retried with back-off while the batch stays uncommitted."""
    return await retry_mart("alerts", lambda: asyncio.to_thread(func, *args))
