"""``hub bench linkage``: link the persons of a synthetic police extract and score against its truth.

The extract (repeat victims and suspects, with typos, nicknames, swapped names, transposed and missing
dates of birth) goes through the connector mapping and the privacy boundary as in ``hub bench core``;
linkage then sees only the shared events' tokens. Only the bench, which holds the key ring, knows
which event id is which crime reference, and so can look up the true person ids.
"""

from __future__ import annotations

import csv
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.connectors import CsvFileConnector, default_mapping_path, load_mapping
from hub.linkage import (
    DEFAULT_MODEL,
    PersonRecord,
    candidate_pairs,
    cluster,
    cluster_quality,
    link_quality,
    pairs_completeness,
    record_key,
    records_from_events,
    score_pairs,
    train,
)
from hub.linkage.clustering import links_above
from hub.linkage.scoring import DEFAULT_THRESHOLD, TermFrequencies
from hub.policy import example_agreement_path, load_agreement
from hub.pseudonymisation import KeyRing, PostcodeLookup, Pseudonymiser
from hub.synth import generate_police_extract

SOURCE = "police_incident"
SWEEP = (0.99, 0.5)
"""Other match-probability thresholds to report F1 at (the default is ``DEFAULT_THRESHOLD``)."""


@dataclass(frozen=True)
class PseudonymisedExtract:
    """A synthetic extract's shared events, record key -> true person id, and event id -> raw record."""

    events: list[dict[str, Any]]
    truth: dict[str, str]
    raw: dict[str, dict[str, Any]]


def pseudonymised_extract(incidents: int, seed: int, ring: KeyRing | None = None) -> PseudonymisedExtract:
    """Generate a police extract, map it and pseudonymise it, keeping what only the key holder knows."""
    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate_police_extract(Path(tmp), seed=seed, incidents=incidents)
        lookup = PostcodeLookup.from_csv(manifest.lookup_csv)
        mapping = load_mapping(default_mapping_path(SOURCE), lookup)
        raw = [r.record for r in CsvFileConnector(manifest.extract_csv, mapping).records() if r.record]
        with manifest.truth_persons_csv.open(encoding="utf-8", newline="") as handle:
            people = {(row["crime_reference"], row["role"]): row["person_id"] for row in csv.DictReader(handle)}
    pseudonymiser = Pseudonymiser(load_agreement(example_agreement_path()), ring or KeyRing.generate("kbench"),
                                  lookup)
    out = PseudonymisedExtract([], {}, {})
    for record in raw:
        event = pseudonymiser.apply(SOURCE, record).shared
        out.events.append(event)
        out.raw[event["event_id"]] = record
        for person in event["persons"]:
            true_id = people.get((record["record_id"], person["role"]))
            if true_id is not None:
                out.truth[record_key(event["event_id"], person["role"])] = true_id
    return out


def _quality(prefix: str, persons: Mapping[str, str], truth: Mapping[str, str]) -> dict[str, float]:
    q = cluster_quality(persons, truth)
    return {f"{prefix}precision_pct": 100 * q.precision, f"{prefix}recall_pct": 100 * q.recall,
            f"{prefix}f1_pct": 100 * q.f1}


def run(incidents: int = 3000, seed: int = 1) -> dict[str, float]:
    started = time.perf_counter()
    extract = pseudonymised_extract(incidents, seed)
    events, truth = extract.events, extract.truth
    prepare_s = time.perf_counter() - started
    records: list[PersonRecord] = records_from_events(events)
    timer = time.perf_counter()
    candidates = candidate_pairs(records)
    block_s, timer = time.perf_counter() - timer, time.perf_counter()
    model = train(records, candidates, u_pairs=100_000, seed=seed).model
    train_s, timer = time.perf_counter() - timer, time.perf_counter()
    by_key = {r.key: r for r in records}
    scored = score_pairs(by_key, candidates.pairs, model, TermFrequencies.from_records(records))
    score_s, timer = time.perf_counter() - timer, time.perf_counter()
    keys = [r.key for r in records]
    persons = cluster(keys, scored, DEFAULT_THRESHOLD)
    cluster_s = time.perf_counter() - timer
    blocking = pairs_completeness(candidates.pairs, truth)
    links = links_above(scored, DEFAULT_THRESHOLD)
    pair_links = link_quality(links, truth)
    # The same candidates scored with the documented default parameters instead of estimated ones.
    defaults = score_pairs(by_key, candidates.pairs, DEFAULT_MODEL, TermFrequencies.from_records(records))
    figures = {
        "events": float(len(events)), "records": float(len(records)),
        "true_persons": float(len(set(truth.values()))), "true_pairs": float(blocking.true_pairs),
        "candidate_pairs": float(blocking.candidate_pairs),
        "pairs_completeness_pct": 100 * blocking.pairs_completeness,
        "links": float(len(links)), "link_precision_pct": 100 * pair_links.precision,
        "link_recall_pct": 100 * pair_links.recall,
    }
    figures.update(_quality("", persons, truth))
    figures["persons_found"] = float(len(set(persons.values())))
    for threshold in SWEEP:
        q = cluster_quality(cluster(keys, scored, threshold), truth)
        figures[f"f1_pct_at_p{threshold:g}"] = 100 * q.f1
    figures.update(_quality("default_model_", cluster(keys, defaults, DEFAULT_THRESHOLD), truth))
    figures["prior_per_million"] = 1e6 * model.prior
    figures["pseudonymise_s"] = prepare_s
    figures.update(block_s=block_s, train_s=train_s, score_s=score_s, cluster_s=cluster_s)
    link_s = block_s + train_s + score_s + cluster_s
    figures["link_s"] = link_s
    figures["link_records_per_s"] = len(records) / link_s
    return figures
