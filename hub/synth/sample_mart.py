"""A demo-like mart without Kafka: every source's synthetic extract, mapped and pseudonymised in-process.

For report tests, screenshots and trying the reports out (``hub report sample-mart``): the same mapping,
validation and pseudonymisation code the connectors and the worker run, written straight into the mart,
plus the fictional county's boundaries, the hot-spot alerts the worker's rule would have raised and the ED to
police incident matches the worker's sink would have stored.
The pipeline itself is tested end to end elsewhere; this is for what reads the mart.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from hub.alerts.rules import alert_id, counts_towards_hotspots, load_rules, owhr_case, scan
from hub.connectors import CsvFileConnector, default_mapping_path, load_mapping
from hub.mart import incident_matches, init, reviews, store
from hub.policy import example_agreement_path, load_agreement
from hub.pseudonymisation import KeyRing, PostcodeLookup, Pseudonymiser
from hub.schemas import default_repository
from hub.synth import SOURCE_GENERATORS, generate_police_extract
from hub.synth.boundaries import shipped_path

_MONDAY0 = date(1970, 1, 5)
SIZES = {"ed_attendance": 900, "ambulance_callout": 500, "probation_event": 400, "youth_justice_event": 300,
         "school_exclusion": 300, "referral": 300, "intervention_activity": 300}


@dataclass(frozen=True)
class SampleMart:
    events: dict[str, int]
    hotspot_alerts: int
    review_cases: int


def fill(engine: Engine, workdir: Path, incidents: int = 3000, seed: int = 2026, scale: float = 1.0,
         start: date = date(2025, 1, 6)) -> SampleMart:
    """Generate a year (from ``start``) of every source into ``workdir`` and load it into the mart at ``engine``."""
    from hub.reports.boundaries import load_boundaries

    init(engine)
    schemas = default_repository()
    agreement = load_agreement(example_agreement_path(), schemas)
    police = generate_police_extract(workdir / "police_incident", seed=seed, incidents=incidents, malformed=0,
                                     start=start)
    lookup = PostcodeLookup.from_csv(police.lookup_csv)
    # A fixed key derived from the seed: synthetic data only, and a second fill upserts the same events.
    ring = KeyRing(keys={"ksample": hashlib.sha256(f"svh-sample-{seed}".encode()).digest()}, active="ksample",
                   event_key="ksample")
    at_hub, at_source = Pseudonymiser(agreement, ring, lookup), Pseudonymiser(agreement, ring, lookup, at="source")
    extracts = {"police_incident": police.extract_csv}
    for source, generate in SOURCE_GENERATORS.items():
        size = max(10, int(SIZES[source] * scale))
        # ED attendances: a known share are assaults of the police extract, as in a real county (the report's
        # hidden-violence section measures the rest)
        overlap: dict[str, object] = ({"police_seed": seed, "police_incidents": incidents}
                                      if source == "ed_attendance" else {})
        extracts[source] = generate(workdir / source, seed=seed, malformed=0, start=start, rows=size,
                                    **overlap).extract_csv
    counts: dict[str, int] = {}
    shared_all = []
    for source, path in extracts.items():
        mapping = load_mapping(default_mapping_path(source), lookup)
        pseudo = at_source if agreement.source(source).pseudonymise_at == "source" else at_hub
        shared = [pseudo.apply(source, r.record).shared for r in CsvFileConnector(path, mapping).records()
                  if r.record is not None]
        counts[source] = store.upsert_events(engine, shared)
        shared_all.extend(shared)
    load_boundaries(engine, shipped_path())
    incident_matches.refresh(engine)  # what the worker's sink does on its timer
    rules = load_rules()
    reviews_registered = 0
    for ev in shared_all:
        case = owhr_case(rules.owhr, ev)
        if case is not None:
            reviews_registered += reviews.register_case(engine, {
                "case_ref": case.case_ref, "alert_id": alert_id("owhr", case.case_ref), "source": case.source,
                "occurred_date": case.occurred_date, "lsoa_code": case.lsoa_code, "lad_code": case.lad_code,
                "offence_code": case.offence_code, "weapons": ",".join(case.weapons),
                "victim_age_band": case.victim_age_band, "status": case.status,
                "notes": "; ".join(case.notes)}).new
    rule = rules.hotspots
    weekly: dict[tuple[str, int], int] = {}
    for ev in shared_all:
        area, day = ev.get(f"{rule.area_level}_code"), ev.get("occurred_date")
        if area and isinstance(day, date) and counts_towards_hotspots(rule, ev):
            key = (area, (day - _MONDAY0).days // 7)
            weekly[key] = weekly.get(key, 0) + 1
    raised = 0
    for area, week, verdict in scan(rule, weekly):
        monday = date.fromordinal(_MONDAY0.toordinal() + 7 * week)
        iso = monday.isocalendar()
        label = f"{iso.year}-W{iso.week:02d}"
        raised += reviews.record_hotspot(engine, {
            "alert_id": alert_id("hotspot", rule.area_level, area, label), "area_level": rule.area_level,
            "area_code": area, "iso_week": label, "events": verdict.count, "baseline": verdict.baseline,
            "p_value": verdict.p_value})
    return SampleMart(counts, raised, reviews_registered)
