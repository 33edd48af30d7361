"""RESTRICTED layer: ED assault attendances matched to police incidents (``hub.linkage.incidents``).

``refresh`` re-matches ED attendances in the mart against the police incidents and replaces their rows of
the table. With ``months``, only the attendances of those months are matched again (against the police
incidents of those months and the day either side, less the incidents already matched to attendances of
other months): that is what the worker's sink does on a timer for the months its events touched
(``MonthsTouched``, ``HUB_INCIDENT_MATCH_INTERVAL_S``). Without, every attendance is matched again
(``hub mart match-incidents``): matching is one-to-one, so a new incident can move an earlier match, and
the full refresh is the reference the incremental one equals except at a month's edge.

The weights are the linkage module's defaults (EM on synthetic counties) until the partnership fits its own:
``fit_and_store`` (``hub mart match-incidents --fit``) runs EM on every ED attendance in the mart and its
candidate police incidents (no truth needed) and stores the result in ``incident_match_model``; from then
on every refresh, the worker's included, uses the latest stored fit. The table holds model parameters
only (chances per comparison level), no event or person.

The share of ED attendances with no police incident leaves only as the disclosure-controlled measure
``ed_assaults_without_police`` (by the attendance's area and month).
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Column, DateTime, Engine, Float, Integer, String, Table, Text, delete, insert, select, text

from hub.linkage.incidents import DEFAULT_WEIGHTS, Fit, Incident, Weights, fit, incident_from_event, match_incidents
from hub.mart import models

incident_match = Table(
    "incident_match", models.metadata,
    Column("ed_event_id", String(64), primary_key=True),
    Column("police_event_id", String(64), nullable=False, unique=True),
    Column("score", Float, nullable=False, comment="log2 odds that the two are the same assault"),
    comment="ED assault attendances matched one-to-one to police incidents (restricted)",
)

incident_match_model = Table(
    "incident_match_model", models.metadata,
    Column("model_id", Integer, primary_key=True, autoincrement=True),
    Column("fitted_at", DateTime(timezone=True), nullable=False),
    Column("attendances", Integer, nullable=False, comment="ED attendances the fit saw"),
    Column("pairs", Integer, nullable=False, comment="candidate pairs the fit saw"),
    Column("weights_json", Text, nullable=False, comment="m, u per comparison level, share, threshold"),
    comment="ED-police matching weights fitted by EM on the mart's own events; the latest is used",
)
MIN_ATTENDANCES = 200
MIN_PAIRS = 200
"""Candidate (attendance, police incident) pairs a fit needs besides the attendances."""
SHARE_CLIP = (0.001, 0.999)
"""EM's bounds on the share of attendances reaching the police: a fit that ends on one learned nothing."""
"""Fewer ED attendances than this are too few to estimate ~20 chances from: the fit is refused."""

ED, POLICE = "ed_attendance", "police_incident"
SOURCES = (ED, POLICE)
ROLE = {ED: "patient", POLICE: "victim"}
_LOCK_KEY = 0x5356_4D41  # PostgreSQL advisory lock: one refresh at a time across worker instances


def _incidents(conn: Any, source: str, months: Collection[str] | None = None) -> list[Incident]:
    """The source's events (in ``months``, if given) as incidents; police incidents only with a victim (the
    ED patient is one)."""
    ev, person = models.event, models.event_person
    where = [ev.c.source == source]
    if months is not None:
        where.append(ev.c.occurred_month.in_(sorted(months)))
    people: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in conn.execute(select(person.c.event_id, person.c.role, person.c.age_band, person.c.sex)
                          .join(ev, ev.c.event_id == person.c.event_id).where(*where)):
        people[r.event_id].append({"role": r.role, "age_band": r.age_band, "sex": r.sex})
    out = []
    for r in conn.execute(select(ev).where(*where)):
        row = dict(r._mapping)
        persons = people.get(row["event_id"], [])
        if source == POLICE and not any(p["role"] == ROLE[POLICE] for p in persons):
            continue
        attributes = json.loads(row.get("attributes_json") or "{}")
        event = {**row, "attributes": attributes, "flags": {"knife": row.get("knife")}, "persons": persons}
        incident = incident_from_event(event, ROLE[source])
        if incident is not None:
            out.append(incident)
    return out


def _neighbours(months: Iterable[str]) -> set[str]:
    """The months and the month either side (a police incident within a day of a match may sit in either)."""
    out: set[str] = set()
    for month in months:
        first = date.fromisoformat(f"{month}-01")
        out |= {month, (first - timedelta(days=1)).strftime("%Y-%m"), (first + timedelta(days=31)).strftime("%Y-%m")}
    return out


class TooFewToFit(ValueError):
    """The mart holds too few ED attendances to fit weights on."""


def stored_weights(conn: Any) -> Weights | None:
    """The latest weights fitted on the mart (None: none yet, or fitted for other comparison levels)."""
    row = conn.execute(select(incident_match_model.c.weights_json)
                       .order_by(incident_match_model.c.model_id.desc()).limit(1)).first()
    if row is None:
        return None
    try:
        return Weights.from_dict(json.loads(row[0]))
    except (ValueError, KeyError, TypeError):
        return None


def fit_and_store(engine: Engine, start: Weights = DEFAULT_WEIGHTS) -> Fit:
    """EM on every ED attendance in the mart and its candidate police incidents; the fit is stored and used by
    every refresh from then on. ``TooFewToFit`` below ``MIN_ATTENDANCES`` attendances."""
    with engine.begin() as conn:
        ed, police = _incidents(conn, ED), _incidents(conn, POLICE)
        if len(ed) < MIN_ATTENDANCES:
            raise TooFewToFit(f"{len(ed)} ED attendances in the mart: at least {MIN_ATTENDANCES} are needed to "
                              "fit the matching weights (the current weights stay)")
        result = fit([(ed, police)], start=start)
        share = result.weights.share
        if result.pairs < MIN_PAIRS or not SHARE_CLIP[0] < share < SHARE_CLIP[1]:
            # e.g. fitted before the police data arrived: every weight 0 and a share at its floor would
            # match nothing from then on
            raise TooFewToFit(f"{len(ed)} ED attendances have {result.pairs} candidate police incidents and EM "
                              f"put the share reaching the police at {share:.3f}: too little to fit the matching "
                              "weights (the current weights stay)")
        conn.execute(insert(incident_match_model).values(
            fitted_at=datetime.now(UTC), attendances=result.attendances, pairs=result.pairs,
            weights_json=json.dumps(result.weights.as_dict())))
    return result


def refresh(engine: Engine, weights: Weights | None = None, months: Collection[str] | None = None) -> int:
    """Match the ED attendances in the mart (of ``months`` only, if given) to police incidents, replacing their
    rows of ``incident_match``; returns the matches stored. Without ``weights``: the latest fitted on the mart
    (``fit_and_store``), else the defaults."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # concurrent refreshes (several workers) take turns
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        weights = weights or stored_weights(conn) or DEFAULT_WEIGHTS
        # Police incidents are loaded only when there are attendances to match them to: a mart (or months) of
        # police data alone would otherwise load every incident on each refresh, and a worker's memory would grow
        # with the mart (measured: 0.46 -> 1.04 GB between 700k and 842k events in hub bench pipeline --long-run).
        if months is None:
            ed = _incidents(conn, ED)
            conn.execute(delete(incident_match))
            police = _incidents(conn, POLICE) if ed else []
        else:
            months = {m for m in months if m}
            if not months:
                return 0
            ed = _incidents(conn, ED, months)
            ev = models.event
            in_months = select(ev.c.event_id).where(ev.c.source == ED, ev.c.occurred_month.in_(sorted(months)))
            conn.execute(delete(incident_match).where(incident_match.c.ed_event_id.in_(in_months)))
            if not ed:
                return 0
            taken = {r[0] for r in conn.execute(select(incident_match.c.police_event_id))}
            police = [p for p in _incidents(conn, POLICE, _neighbours(months)) if p.event_id not in taken]
        matches = match_incidents(ed, police, weights=weights)
        if matches:
            conn.execute(incident_match.insert(), [{"ed_event_id": m.ed_event_id, "police_event_id": m.police_event_id,
                                                    "score": m.score} for m in matches])
    return len(matches)


def matched_ed_events(conn: Any) -> set[str]:
    return {r[0] for r in conn.execute(select(incident_match.c.ed_event_id))}


class MonthsTouched:
    """The months whose matches a sink's writes may have changed, collected between refreshes (thread-safe).

    An ED attendance touches its month; a police incident its month and, within a day of a month's edge,
    the neighbouring month (an attendance there may match it). Until the first refresh everything is
    touched: matches of events written before a restart are then not missed."""

    def __init__(self) -> None:
        self._months: set[str] = set()
        self._everything = True
        self._lock = threading.Lock()

    def note(self, events: Iterable[Mapping[str, Any]]) -> None:
        found: set[str] = set()
        # A sink's batch of 500 holds a few dozen distinct (source, day) pairs: each is worked out once.
        pairs = {(event.get("source"), event.get("occurred_date")) for event in events}
        for source, day in pairs:
            if source not in SOURCES or not isinstance(day, (date, str)):
                continue
            day = date.fromisoformat(day) if isinstance(day, str) else day
            found.add(day.strftime("%Y-%m"))
            if source == POLICE:
                found |= {(day - timedelta(days=1)).strftime("%Y-%m"), (day + timedelta(days=1)).strftime("%Y-%m")}
        if found:
            with self._lock:
                self._months |= found

    def take(self) -> set[str] | None:
        """The months to refresh now (None: all of them; empty: nothing to do), and start collecting afresh."""
        with self._lock:
            if self._everything:
                self._everything, self._months = False, set()
                return None
            months, self._months = self._months, set()
            return months

    def give_back(self, months: set[str] | None) -> None:
        """A refresh failed: its months are refreshed next time."""
        with self._lock:
            if months is None:
                self._everything = True
            else:
                self._months |= months
