"""``hub bench core``: the pure per-event cost of the privacy boundary, without Kafka, beside an anchor.

Decode a raw Avro record, pseudonymise it (the source's compiled plan: keyed match keys,
generalisation), encode the shared event: the work the worker does per message, in one process.

The machine is shared and noisy, so the figure is printed beside an anchor measured in the same run,
repeat by repeat (interleaved): the least any boundary could do per event, a plain fastavro decode of
the same payload, three one-shot HMACs and a fastavro encode of the same shared event (fastavro's own
writer, not the repository's compiled one the boundary uses: the anchor stays the issue's). Rates are
events per CPU second of this process (``time.process_time``: one core, whatever else the machine
runs); wall-clock rates are printed too.

Then the same on a pipeline-sized extract (``novel_*``, 20,000 incidents, the pipeline bench's seed): there nearly
every date of birth and name pair is met for the first time, as in the worker, so the figure is the boundary's
cost on novel values, printed beside that extract's own anchor.
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
NOVEL_INCIDENTS = 20000
"""The pipeline bench's extract: most dates of birth and name pairs in it are met once, so the boundary's cost
there is mostly minting tokens for values seen for the first time (the worker's case), not the issue's 3,000."""


def _timed(loop: Callable[[], None], events: int) -> tuple[float, float]:
    """(events per CPU second, events per wall second) of one run of ``loop``."""
    cpu, wall = time.process_time(), time.perf_counter()
    loop()
    return events / (time.process_time() - cpu), events / (time.perf_counter() - wall)


def _extract(incidents: int, seed: int) -> tuple[list[dict[str, Any]], PostcodeLookup, float]:
    """The connector's records of a synthetic police extract, its postcode look-up and the CSV parse rate."""
    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate_police_extract(Path(tmp), seed=seed, incidents=incidents)
        lookup = PostcodeLookup.from_csv(manifest.lookup_csv)
        mapping = load_mapping(default_mapping_path(SOURCE), lookup)
        started = time.perf_counter()
        records = [r.record for r in CsvFileConnector(manifest.extract_csv, mapping).records() if r.record]
        parse_s = time.perf_counter() - started
    return records, lookup, len(records) / parse_s


def _measure(records: list[dict[str, Any]], lookup: PostcodeLookup, repeats: int) -> dict[str, Any]:
    """The boundary and the anchor over ``records``, interleaved repeat by repeat, each repeat starting cold."""
    schemas = default_repository()
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
    return {"events": len(payloads), "boundary": boundary_runs, "anchor": anchor_runs}


def run(incidents: int = 3000, repeats: int = 5, novel_incidents: int = NOVEL_INCIDENTS,
        novel_repeats: int = 2) -> dict[str, float]:
    """The figures of ``hub bench core``: ``incidents`` as the issue measured, then (unless 0) a pipeline-sized
    extract of ``novel_incidents``, where nearly every person's date of birth and name pair is met for the first
    time, as in the worker under ``hub bench pipeline`` (``novel_*``: the boundary's cost on novel values)."""
    records, lookup, parse_rate = _extract(incidents, seed=1)
    m = _measure(records, lookup, repeats)
    boundary_runs, anchor_runs = m["boundary"], m["anchor"]
    cpu = statistics.median(r[0] for r in boundary_runs)
    anchor_cpu = statistics.median(r[0] for r in anchor_runs)
    out = {"events": float(m["events"]), "csv_parse_validate_per_s": parse_rate,
           "boundary_per_cpu_s_median": cpu, "boundary_per_cpu_s_min": min(r[0] for r in boundary_runs),
           "boundary_us_per_event": 1e6 / cpu,
           "anchor_per_cpu_s_median": anchor_cpu, "boundary_vs_anchor": cpu / anchor_cpu,
           # each repeat's boundary over the anchor run just before it (the same minute of the machine)
           "boundary_vs_anchor_paired_median": statistics.median(
               b[0] / a[0] for b, a in zip(boundary_runs, anchor_runs, strict=True)),
           "target_vs_41k_anchor": TARGET_PER_S / 41000.0,
           "boundary_per_wall_s_median": statistics.median(r[1] for r in boundary_runs),
           "anchor_per_wall_s_median": statistics.median(r[1] for r in anchor_runs)}
    if novel_incidents > 0:
        records, lookup, _ = _extract(novel_incidents, seed=3)  # the pipeline bench's seed
        m = _measure(records, lookup, max(1, novel_repeats))
        novel = statistics.median(r[0] for r in m["boundary"])
        novel_anchor = statistics.median(r[0] for r in m["anchor"])
        out.update({"novel_events": float(m["events"]), "novel_boundary_us_per_event": 1e6 / novel,
                    "novel_anchor_us_per_event": 1e6 / novel_anchor, "novel_boundary_vs_anchor": novel / novel_anchor})
    return out
