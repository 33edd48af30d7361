"""``hub bench core``: the pure per-event cost of the privacy boundary, without Kafka, beside an anchor.

Decode a raw Avro record, pseudonymise it (the source's compiled plan: keyed match keys,
generalisation), encode the shared event: the work the worker does per message, in one process.

The machine is shared and noisy, so the figure is printed beside an anchor measured in the same run,
repeat by repeat (interleaved): the least any boundary could do per event, a plain fastavro decode of
the same payload, three one-shot HMACs and a fastavro encode of the same shared event (fastavro's own
writer, not the repository's compiled one the boundary uses: the anchor stays the issue's). Rates are
events per CPU second of this process (``time.process_time``: one core, whatever else the machine
runs); wall-clock rates are printed too.
"""

from __future__ import annotations

import hmac
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastavro import schemaless_reader

from hub.connectors import CsvFileConnector, default_mapping_path, load_mapping
from hub.policy import example_agreement_path, load_agreement
from hub.pseudonymisation import KeyRing, PostcodeLookup, Pseudonymiser
from hub.schemas import RAW_SCHEMAS, SHARED_EVENT, default_repository
from hub.schemas.repository import HEADER_LENGTH
from hub.streams.boundary import Boundary
from hub.synth import generate_police_extract

SOURCE = "police_incident"
TARGET_PER_S = 15000.0
"""Issue #10's goal for one core; the issue measured the anchor at ~41,000 events/s on a quiet machine."""


def _timed(loop: Callable[[], None], events: int) -> tuple[float, float]:
    """(events per CPU second, events per wall second) of one run of ``loop``."""
    cpu, wall = time.process_time(), time.perf_counter()
    loop()
    return events / (time.process_time() - cpu), events / (time.perf_counter() - wall)


def run(incidents: int = 3000, repeats: int = 5) -> dict[str, float]:
    schemas = default_repository()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate_police_extract(Path(tmp), seed=1, incidents=incidents)
        lookup = PostcodeLookup.from_csv(manifest.lookup_csv)
        mapping = load_mapping(default_mapping_path(SOURCE), lookup)
        started = time.perf_counter()
        records = [r.record for r in CsvFileConnector(manifest.extract_csv, mapping).records() if r.record]
        parse_s = time.perf_counter() - started
    raw_schema = schemas.get(RAW_SCHEMAS[SOURCE])
    payloads = [schemas.encode(raw_schema.name, r) for r in records]
    ring = KeyRing.generate("kbench")
    pseudonymiser = Pseudonymiser(load_agreement(example_agreement_path(), schemas), ring, lookup)
    plan = pseudonymiser.plan(SOURCE)
    shared_events = [plan.apply(r)[0] for r in records]
    plan.clear_caches()
    key = ring.purpose_key("bench")

    steps = Boundary(schemas, pseudonymiser)  # the worker's pseudonymise stage runs these same steps

    def boundary() -> None:
        plan.clear_caches()  # each repeat starts cold: only repetition within the extract is remembered
        decode, apply, encode = steps.decode, steps.apply, steps.encode
        for payload in payloads:
            encode(apply(SOURCE, decode(SOURCE, payload))[0])

    def anchor() -> None:
        for payload, shared in zip(payloads, shared_events, strict=True):
            body = io.BytesIO(payload)
            body.seek(HEADER_LENGTH)
            rec: Any = schemaless_reader(body, raw_schema.parsed, None)
            for name in ("record_id", "victim_surname", "suspect_surname"):
                hmac.digest(key, str(rec[name]).encode(), "sha256")
            schemas.encode_with_fastavro(SHARED_EVENT, shared)  # plain fastavro, as the anchor

    boundary_runs, anchor_runs = [], []
    for _ in range(repeats):  # interleaved, so both see the same machine
        anchor_runs.append(_timed(anchor, len(payloads)))
        boundary_runs.append(_timed(boundary, len(payloads)))
    cpu = statistics.median(r[0] for r in boundary_runs)
    anchor_cpu = statistics.median(r[0] for r in anchor_runs)
    return {"events": float(len(payloads)), "csv_parse_validate_per_s": len(records) / parse_s,
            "boundary_per_cpu_s_median": cpu, "boundary_per_cpu_s_min": min(r[0] for r in boundary_runs),
            "boundary_us_per_event": 1e6 / cpu,
            "anchor_per_cpu_s_median": anchor_cpu, "boundary_vs_anchor": cpu / anchor_cpu,
            # each repeat's boundary over the anchor run just before it (the same minute of the machine)
            "boundary_vs_anchor_paired_median": statistics.median(
                b[0] / a[0] for b, a in zip(boundary_runs, anchor_runs, strict=True)),
            "target_vs_41k_anchor": TARGET_PER_S / 41000.0,
            "boundary_per_wall_s_median": statistics.median(r[1] for r in boundary_runs),
            "anchor_per_wall_s_median": statistics.median(r[1] for r in anchor_runs)}
