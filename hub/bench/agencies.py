"""``hub bench linkage --dataset synthetic``: one population seen by police, probation, youth justice
and schools, each extract through its own connector mapping and the privacy boundary, linked on tokens.

The generators share the police extract's people (``police_seed``), so the same young person can be a
suspect in a police incident, a child in youth justice and a pupil excluded from school. Truth comes
from each generator's truth file; only the bench, which holds the key ring, can join event ids to it.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from hub.connectors import CsvFileConnector, default_mapping_path, load_mapping
from hub.linkage import MatchModel, PersonRecord, record_key, records_from_events
from hub.linkage.index import PersonIndex
from hub.policy import example_agreement_path, load_agreement
from hub.pseudonymisation import KeyRing, PostcodeLookup, Pseudonymiser
from hub.synth import generate_police_extract
from hub.synth.probation import generate_probation_extract
from hub.synth.schools import generate_school_extract
from hub.synth.youth_justice import generate_youth_justice_extract

SOURCES = ("police_incident", "probation_event", "youth_justice_event", "school_exclusion")


@dataclass(frozen=True)
class AgencyExtracts:
    """Shared events of all four sources (tokens included), record key -> true person id."""

    events: list[dict[str, Any]]
    truth: dict[str, str]

    @property
    def records(self) -> list[PersonRecord]:
        return records_from_events(self.events)


def _raw(source: str, extract_csv: Path, lookup: PostcodeLookup) -> list[dict[str, Any]]:
    mapping = load_mapping(default_mapping_path(source), lookup)
    return [r.record for r in CsvFileConnector(extract_csv, mapping).records() if r.record]


def agency_extracts(incidents: int = 2000, seed: int = 7, ring: KeyRing | None = None) -> AgencyExtracts:
    """Generate the four extracts from one population, map and pseudonymise them, keep the truth."""
    pseudonymiser: Pseudonymiser | None = None
    out = AgencyExtracts([], {})
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        police = generate_police_extract(root / "police", seed=seed, incidents=incidents)
        lookup = PostcodeLookup.from_csv(police.lookup_csv)
        pseudonymiser = Pseudonymiser(load_agreement(example_agreement_path()), ring or KeyRing.generate("kbench"),
                                      lookup)
        with police.truth_persons_csv.open(encoding="utf-8", newline="") as handle:
            people = {(row["crime_reference"], row["role"]): row["person_id"] for row in csv.DictReader(handle)}
        for record in _raw("police_incident", police.extract_csv, lookup):
            event = pseudonymiser.apply("police_incident", record).shared
            out.events.append(event)
            for person in event["persons"]:
                true_id = people.get((record["record_id"], person["role"]))
                if true_id is not None:
                    out.truth[record_key(event["event_id"], person["role"])] = true_id
        others: dict[str, Callable[..., Any]] = {
            "probation_event": lambda d: generate_probation_extract(d, seed=seed + 1, events=incidents // 6,
                                                                    police_seed=seed, police_incidents=incidents),
            "youth_justice_event": lambda d: generate_youth_justice_extract(
                d, seed=seed + 2, outcomes=incidents // 8, police_seed=seed, police_incidents=incidents),
            "school_exclusion": lambda d: generate_school_extract(d, seed=seed + 3, exclusions=incidents // 8,
                                                                  police_seed=seed, police_incidents=incidents),
        }
        for source, generate in others.items():
            manifest = generate(root / source)
            truth = {row["record_id"]: row["person_id"] for row in manifest.truth() if row["person_id"]}
            for record in _raw(source, manifest.extract_csv, lookup):
                event = pseudonymiser.apply(source, record).shared
                out.events.append(event)
                for person in event["persons"]:
                    if person.get("tokens") and record["record_id"] in truth:
                        out.truth[record_key(event["event_id"], person["role"])] = truth[record["record_id"]]
    return out


def stream_persons(records: list[PersonRecord], model: MatchModel, threshold: float) -> dict[str, str]:
    """Record key -> person id as the worker's link stage gives them: one mention at a time in arrival
    order, the model file's weights and threshold, no term-frequency adjustment (the stream has none)."""
    index = PersonIndex(model, threshold=threshold)
    for record in records:
        index.add(record)
    return index.persons()


def errors(records: list[PersonRecord], persons: dict[str, str], truth: dict[str, str]) -> dict[str, int]:
    """Missed true pairs and false links (pairs, not clusters) and how many of each lack a date of birth
    on one side: where the stream's errors sit."""
    by_key = {r.key: r for r in records}
    out = {"missed_pairs": 0, "missed_pairs_no_dob": 0, "false_pairs": 0, "false_pairs_no_dob": 0}
    for kind, groups, other in (("missed", truth, persons), ("false", persons, truth)):
        members: dict[str, list[str]] = {}
        for key, group in groups.items():
            if key in truth and key in by_key:
                members.setdefault(group, []).append(key)
        for keys in members.values():
            for a, b in combinations(sorted(keys), 2):
                if other.get(a) != other.get(b):
                    out[f"{kind}_pairs"] += 1
                    out[f"{kind}_pairs_no_dob"] += not (by_key[a].get("dob") and by_key[b].get("dob"))
    return out


def run(incidents: int = 2000, seed: int = 7, threshold: float | None = None) -> dict[str, Any]:
    """Link the four agencies' persons as the stream does, with a model Splink fits on their tokens; F1
    against truth at the stream's threshold and a sweep; the batch path (term frequencies) and the hub's
    own constrained EM beside it; then the link stage's speed and memory."""
    import time

    from hub.linkage import cluster_quality, link, pairs_completeness
    from hub.linkage.scoring import DEFAULT_THRESHOLD
    from hub.linkage.splink_train import train_with_splink

    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    extracts = agency_extracts(incidents, seed)
    records = extracts.records
    started = time.perf_counter()
    fit = train_with_splink(records, seed=seed)
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    persons = stream_persons(records, fit.model, threshold)
    link_s = time.perf_counter() - started
    q = cluster_quality(persons, extracts.truth)
    batch = link(records, fit.model, threshold=threshold)
    out: dict[str, Any] = {
        "records": len(records), "sources": len({r.source for r in records}),
        "true_persons": len(set(extracts.truth.values())), "threshold": threshold,
        "pairs_completeness": pairs_completeness(batch.candidates.pairs, extracts.truth).pairs_completeness,
        "f1": q.f1, "precision": q.precision, "recall": q.recall, "splink_prior": fit.model.prior,
        "train_s": train_s, "link_s": link_s, "link_records_per_s": len(records) / link_s,
    }
    out.update(errors(records, persons, extracts.truth))
    for other in (0.5, 0.8, 0.95):
        sweep = cluster_quality(stream_persons(records, fit.model, other), extracts.truth)
        out[f"f1_at_p{other:g}"] = sweep.f1
        out[f"precision_at_p{other:g}"] = sweep.precision
    batch_q = cluster_quality(batch.persons, extracts.truth)
    out["batch_with_term_frequencies_f1"] = batch_q.f1
    out["batch_with_term_frequencies_precision"] = batch_q.precision
    own = link(records, threshold=threshold, seed=seed)  # the batch path, beside Splink's batch figure
    own_q = cluster_quality(own.persons, extracts.truth)
    out["own_em_batch_with_term_frequencies_f1"] = own_q.f1
    out["own_em_prior"] = own.model.prior
    for mine, theirs in zip(own.model.comparisons, fit.model.comparisons, strict=True):
        gap = max(abs(a - b) for a, b in zip(mine.weights, theirs.weights, strict=True))
        out[f"own_em_vs_splink_max_weight_gap_bits_{mine.name}"] = gap
    from hub.bench import link_stage
    out.update(link_stage.run(20_000, fit.model, threshold=threshold, memory_n=100_000))
    return out
