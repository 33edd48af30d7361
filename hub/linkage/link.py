"""Batch linkage: block, (optionally) estimate the model, score, cluster.

Modes: ``dedupe`` links any two records (one source or many); ``link`` links only records of different
sources (two files, neither de-duplicated); ``one_to_one`` (with ``link``) lets each record match at most
one record of each other source, the strongest first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hub.linkage.blocking import DEFAULT_RULES, MAX_BLOCK, BlockingRule, Candidates, candidate_pairs
from hub.linkage.clustering import connected_components, links_above, one_to_one
from hub.linkage.records import PersonRecord
from hub.linkage.scoring import (
    DEFAULT_MODEL,
    DEFAULT_THRESHOLD,
    MatchModel,
    ScoredPair,
    TermFrequencies,
    Training,
    compare,
    estimate_u,
    score_pairs,
    train_m,
)


@dataclass(frozen=True)
class Linkage:
    """What a batch run produced: the model used, candidates, scores and record key -> person id."""

    model: MatchModel
    candidates: Candidates
    scored: list[ScoredPair]
    persons: dict[str, str]
    training: Training | None = None


def train(records: Sequence[PersonRecord], candidates: Candidates, model: MatchModel = DEFAULT_MODEL,
          u_pairs: int = 50_000, seed: int = 0) -> Training:
    """Estimate ``u`` on random pairs, then ``m`` and the prior by EM sessions on the candidate pairs."""
    by_key = {r.key: r for r in records}
    model = estimate_u(records, model, u_pairs, seed)
    gammas = [compare(by_key[a], by_key[b]) for a, b in sorted(candidates.pairs)]
    return train_m(gammas, len(by_key), model)


MODES = ("dedupe", "link")


def link(records: Iterable[PersonRecord], model: MatchModel | None = None, *,
         rules: Sequence[BlockingRule] = DEFAULT_RULES, max_block: int = MAX_BLOCK,
         threshold: float = DEFAULT_THRESHOLD, term_frequencies: bool = True, u_pairs: int = 50_000,
         seed: int = 0, mode: str = "dedupe", one_to_one_links: bool = False) -> Linkage:
    """Link a batch of records into persons. Without a ``model`` one is estimated from the records."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    records = list(records)
    candidates = candidate_pairs(records, rules, max_block)
    source_of = {r.key: r.source for r in records}
    if mode == "link":
        candidates = Candidates(frozenset(p for p in candidates.pairs if source_of[p[0]] != source_of[p[1]]),
                                candidates.by_rule, candidates.oversized_blocks)
    training = None
    if model is None:
        training = train(records, candidates, u_pairs=u_pairs, seed=seed)
        model = training.model
    tf = TermFrequencies.from_records(records) if term_frequencies else None
    scored = score_pairs({r.key: r for r in records}, candidates.pairs, model, tf)
    links = one_to_one(scored, source_of, threshold) if one_to_one_links else links_above(scored, threshold)
    persons = connected_components((r.key for r in records), links)
    return Linkage(model, candidates, scored, persons, training)
