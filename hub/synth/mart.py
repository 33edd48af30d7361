"""A synthetic mart of all six sources, built in-process: extract -> standard mapping -> the agreement's
pseudonymisation (at the hub or, for health bodies, as their connector does it) -> the mart.

The same code path as the pipeline minus Kafka, for tests and benchmarks of what the mart releases
(``tests/integration/test_differencing.py``). Bad rows are skipped, as the connector dead-letters them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from hub.connectors import CsvFileConnector, default_mapping_path, load_mapping
from hub.mart import store
from hub.policy import Agreement
from hub.pseudonymisation import KeyRing, PostcodeLookup, PseudonymisationError, Pseudonymiser
from hub.synth import SOURCE_GENERATORS, generate_police_extract

SIZE_ARG = {"ed_attendance": "attendances", "ambulance_callout": "callouts", "probation_event": "events",
            "youth_justice_event": "outcomes", "school_exclusion": "exclusions"}


def build_synthetic_mart(engine: Engine, agreement: Agreement, out_dir: Path, *, per_source: int = 150,
                         seed: int = 7, start: date = date(2025, 1, 6), days: int = 91,
                         ring: KeyRing | None = None) -> dict[str, int]:
    """Fill ``engine`` (initialised) with ``per_source`` records of each source; returns events written."""
    keys = ring or KeyRing.generate()
    police = generate_police_extract(out_dir / "police_incident", seed=seed, incidents=per_source, malformed=0,
                                     start=start, days=days)
    extracts = {"police_incident": police.extract_csv}
    for source in SIZE_ARG:  # the six sources of the needs assessment (other generators are not needed here)
        generate = SOURCE_GENERATORS[source]
        kwargs: dict[str, object] = {"seed": seed, SIZE_ARG[source]: per_source, "malformed": 0,
                                     "start": start, "days": days}
        if source not in ("ed_attendance", "ambulance_callout"):
            kwargs.update(police_seed=seed, police_incidents=per_source)
        extracts[source] = generate(out_dir / source, **kwargs).extract_csv
    lookup = PostcodeLookup.from_csv(police.lookup_csv)
    written: dict[str, int] = {}
    for source, path in extracts.items():
        where = agreement.source(source).pseudonymise_at
        boundary = Pseudonymiser(agreement, keys, lookup, at=where)
        events = []
        for rec in CsvFileConnector(path, load_mapping(default_mapping_path(source), lookup)).records():
            if rec.record is None:
                continue
            try:
                events.append(boundary.apply(source, rec.record).shared)
            except PseudonymisationError:
                continue
        written[source] = store.upsert_events(engine, events)
    return written
