"""``hub bench core``: the pure per-event cost of the privacy boundary, without Kafka.

Decode a raw Avro record, pseudonymise it (HMAC match keys, generalisation), encode the shared event:
the work the worker does per message, measured in one process on one core.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from hub.connectors import CsvFileConnector, default_mapping_path, load_mapping
from hub.policy import example_agreement_path, load_agreement
from hub.pseudonymisation import KeyRing, PostcodeLookup, Pseudonymiser
from hub.schemas import RAW_SCHEMAS, SHARED_EVENT, default_repository
from hub.synth import generate_police_extract

SOURCE = "police_incident"


def run(incidents: int = 3000, repeats: int = 5) -> dict[str, float]:
    schemas = default_repository()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate_police_extract(Path(tmp), seed=1, incidents=incidents)
        lookup = PostcodeLookup.from_csv(manifest.lookup_csv)
        mapping = load_mapping(default_mapping_path(SOURCE), lookup)
        started = time.perf_counter()
        records = [r.record for r in CsvFileConnector(manifest.extract_csv, mapping).records() if r.record]
        parse_s = time.perf_counter() - started
    payloads = [schemas.encode(RAW_SCHEMAS[SOURCE], r) for r in records]
    pseudonymiser = Pseudonymiser(load_agreement(example_agreement_path(), schemas), KeyRing.generate("kbench"), lookup)
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        for payload in payloads:
            _, rec = schemas.decode(payload)
            schemas.encode(SHARED_EVENT, pseudonymiser.apply(SOURCE, rec).shared)
        rates.append(len(payloads) / (time.perf_counter() - started))
    return {"events": float(len(payloads)), "csv_parse_validate_per_s": len(records) / parse_s,
            "boundary_per_s_median": statistics.median(rates), "boundary_per_s_min": min(rates),
            "boundary_us_per_event": 1e6 / statistics.median(rates)}
