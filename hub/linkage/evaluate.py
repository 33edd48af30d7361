"""Linkage quality against ground truth, at pair level.

Truth maps record keys to true person ids. A true pair is two records of one true person; a predicted
pair is two records of one cluster. Records missing from the truth are left out of every count.
Counts come from cluster sizes (``n * (n - 1) / 2``), so large clusters cost nothing to evaluate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hub.linkage.blocking import Pair


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def true_pair_count(truth: Mapping[str, str]) -> int:
    return sum(_pairs(n) for n in Counter(truth.values()).values())


@dataclass(frozen=True)
class Blocking:
    """Candidate pairs, true pairs, and the true pairs among the candidates."""

    candidate_pairs: int
    true_pairs: int
    true_candidates: int

    @property
    def pairs_completeness(self) -> float:
        """Share of true pairs that blocking lets through: the ceiling on recall."""
        return self.true_candidates / self.true_pairs if self.true_pairs else 1.0


def pairs_completeness(candidates: Iterable[Pair], truth: Mapping[str, str]) -> Blocking:
    """How many true pairs the candidate pairs hold."""
    n = found = 0
    for a, b in candidates:
        n += 1
        ta, tb = truth.get(a), truth.get(b)
        found += ta is not None and ta == tb
    return Blocking(n, true_pair_count(truth), found)


@dataclass(frozen=True)
class Quality:
    """Pair-level quality of clusters: true positives, predicted and true pair counts."""

    true_positives: int
    predicted_pairs: int
    true_pairs: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def cluster_quality(clusters: Mapping[str, str], truth: Mapping[str, str]) -> Quality:
    """Pair-level precision, recall and F1 of ``clusters`` (record key -> person id) against ``truth``."""
    keys = [k for k in clusters if k in truth]
    both = Counter((clusters[k], truth[k]) for k in keys)
    predicted = Counter(clusters[k] for k in keys)
    actual = Counter(truth[k] for k in keys)
    return Quality(sum(_pairs(n) for n in both.values()), sum(_pairs(n) for n in predicted.values()),
                   sum(_pairs(n) for n in actual.values()))


def link_quality(links: Iterable[Pair], truth: Mapping[str, str]) -> Quality:
    """Pair-level quality of the links themselves, before clustering closes them transitively."""
    tp = predicted = 0
    for a, b in links:
        if a in truth and b in truth:
            predicted += 1
            tp += truth[a] == truth[b]
    return Quality(tp, predicted, true_pair_count(truth))
