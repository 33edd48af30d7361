"""Linkage on a generated police extract, through the connector mapping and the privacy boundary.

Floors are set well under what was measured (seed 3, 800 incidents: pairs completeness 0.99, precision
~1.0, F1 ~0.97 at the default threshold), so they catch regressions, not noise.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from hub.bench.linkage import PseudonymisedExtract, pseudonymised_extract
from hub.cli import main
from hub.linkage import (
    IncrementalLinker,
    Linkage,
    PersonRecord,
    TermFrequencies,
    cluster_quality,
    link,
    pairs_completeness,
    records_from_events,
)
from hub.linkage.index import PersonIndex, gamma_index, gamma_of
from hub.linkage.records import KEY_SEP
from hub.linkage.scoring import compare
from hub.pseudonymisation import KeyRing, normalise


@pytest.fixture(scope="module")
def extract(ring: KeyRing) -> PseudonymisedExtract:
    return pseudonymised_extract(800, seed=3, ring=ring)


@pytest.fixture(scope="module")
def records(extract: PseudonymisedExtract) -> list[PersonRecord]:
    return records_from_events(extract.events)


@pytest.fixture(scope="module")
def linked(records: list[PersonRecord]) -> Linkage:
    return link(records, seed=3)


def test_quality_floors(extract: PseudonymisedExtract, linked: Linkage) -> None:
    blocking = pairs_completeness(linked.candidates.pairs, extract.truth)
    quality = cluster_quality(linked.persons, extract.truth)
    assert blocking.true_pairs > 300
    assert blocking.pairs_completeness >= 0.97
    assert quality.precision >= 0.97
    assert quality.f1 >= 0.90
    assert linked.training is not None
    assert 1e-4 < linked.model.prior < 1e-2  # the true share of matching pairs here is ~1e-3


def _recorded(extract: PseudonymisedExtract, key: str) -> tuple[str | None, str | None, object]:
    event_id, role = key.rsplit(KEY_SEP, 1)
    raw = extract.raw[event_id]
    return (normalise.forename(raw.get(f"{role}_forename")), normalise.surname(raw.get(f"{role}_surname")),
            raw.get(f"{role}_dob"))


def test_mistyped_names_link_to_their_person(extract: PseudonymisedExtract, linked: Linkage) -> None:
    """Appearances of one person whose recorded names differ (typo, nickname, swap) but not their date of
    birth: the tokens never agree exactly on every name, yet the records end up as one person."""
    by_person: dict[str, list[str]] = defaultdict(list)
    for key, person in extract.truth.items():
        by_person[person].append(key)
    variants = []
    for keys in by_person.values():
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                fa, sa, da = _recorded(extract, a)
                fb, sb, db = _recorded(extract, b)
                if da is not None and da == db and (fa, sa) != (fb, sb):
                    variants.append((a, b))
    assert len(variants) >= 20
    linked_pairs = [(a, b) for a, b in variants if linked.persons[a] == linked.persons[b]]
    assert len(linked_pairs) / len(variants) >= 0.85


def test_incremental_linking_gives_the_batch_persons(records: list[PersonRecord], linked: Linkage) -> None:
    linker = IncrementalLinker(linked.model, term_frequencies=TermFrequencies.from_records(records))
    outcomes = [linker.add(record) for record in records]
    assert linker.persons() == linked.persons
    assert sum(len(o.links) for o in outcomes) == sum(p.probability >= 0.9 for p in linked.scored)
    assert sum(o.candidates for o in outcomes) == len(linked.candidates.pairs)


def _partition(persons: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = defaultdict(set)
    for key, pid in persons.items():
        groups[pid].add(key)
    return {frozenset(g) for g in groups.values()}


@pytest.mark.parametrize("threshold", [0.5, 0.9])
@pytest.mark.parametrize("with_tf", [False, True])
def test_the_stream_index_gives_the_batch_persons(records: list[PersonRecord], linked: Linkage, threshold: float,
                                                  with_tf: bool) -> None:
    # PersonIndex (slot tuples, a precomputed weight table, arrival numbers) must link exactly as the
    # reference path (BlockIndex, compare, score_pair, UnionFind) does, pair for pair (keep_apart off: the
    # reference closes every link transitively).
    tf = TermFrequencies.from_records(records) if with_tf else None
    reference = IncrementalLinker(linked.model, threshold=threshold, term_frequencies=tf)
    index = PersonIndex(linked.model, threshold=threshold, term_frequencies=tf, keep_apart=False)
    for record in records:
        reference.add(record)
        index.add(record)
    assert _partition(index.persons()) == _partition(reference.persons())
    for key in list(reference.records)[:400]:  # every candidate of the first mentions: the same levels
        x = index.slots(reference.records[key])
        for other in reference.index.candidates(reference.records[key]):
            y = index.slots(reference.records[other])
            assert gamma_of(gamma_index(x, y)) == compare(reference.records[key], reference.records[other])


def test_bench_linkage_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "linkage", "--incidents", "200"]) == 0
    out = capsys.readouterr().out
    for figure in ("records", "candidate_pairs", "pairs_completeness_pct", "precision_pct", "recall_pct",
                   "f1_pct", "link_s"):
        assert f" {figure}: " in out
