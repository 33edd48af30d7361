"""LSOA risk profile: indicators combined after empirical-Bayes shrinkage, ranked with uncertainty (pure).

Method (stated in the report): for each indicator, counts per area and resident population give raw
rates; a gamma prior fitted to all areas by the method of moments (Marshall's global estimator) shrinks
each area's rate towards the county rate in proportion to how little evidence the area has, so a small
area with a handful of events cannot top the list by chance. Each shrunk rate is standardised (z-score
across areas) and the profile is the mean z-score. Uncertainty: areas' posterior gamma distributions are
sampled (seeded) and the whole ranking redone per draw, giving a 90% interval for each area's rank.
A suppressed count enters as half the threshold (its expected value under suppression), and is marked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Prior:
    alpha: float
    beta: float
    county_rate: float


def fit_prior(counts: Sequence[float] | np.ndarray, populations: Sequence[float] | np.ndarray) -> Prior:
    y, n = np.asarray(counts, dtype=float), np.asarray(populations, dtype=float)
    m = y.sum() / n.sum()
    rates = y / n
    s2 = float((n * (rates - m) ** 2).sum() / n.sum())
    between = s2 - m / n.mean()
    if between <= 1e-12 or m <= 0:  # no extra-Poisson variation: every area gets the county rate
        between = max(1e-12, m * 1e-6)
    return Prior(alpha=m * m / between, beta=m / between, county_rate=float(m))


@dataclass(frozen=True)
class AreaRisk:
    code: str
    score: float  # mean z-score of the shrunk rates
    rank: int
    rank_low: int  # 90% interval of the rank
    rank_high: int
    rates: dict[str, float]  # indicator -> shrunk rate per 1,000
    raw: dict[str, float]  # indicator -> raw rate per 1,000
    imputed: tuple[str, ...]  # indicators whose count was suppressed


def profile(indicators: Mapping[str, Mapping[str, int | None]], populations: Mapping[str, int],
            threshold: int, draws: int = 2000, seed: int = 7) -> list[AreaRisk]:
    """Rank the areas that have a population; ``indicators`` maps name -> area -> released count (None:
    suppressed; missing: zero)."""
    areas = sorted(a for a, p in populations.items() if p and p > 0)
    if not areas or not indicators:
        return []
    pop = np.array([populations[a] for a in areas], dtype=float)
    rng = np.random.default_rng(seed)
    names = sorted(indicators)
    shrunk: dict[str, np.ndarray] = {}
    raw: dict[str, np.ndarray] = {}
    samples: list[np.ndarray] = []
    imputed: dict[str, list[str]] = {a: [] for a in areas}
    for name in names:
        values: list[float] = []
        for a in areas:
            got = indicators[name].get(a, 0)
            if got is None:
                imputed[a].append(name)
            values.append(threshold / 2 if got is None else float(got))
        y = np.array(values)
        prior = fit_prior(y, pop)
        shrunk[name] = (prior.alpha + y) / (prior.beta + pop)
        raw[name] = y / pop
        samples.append(rng.gamma(prior.alpha + y, 1.0 / (prior.beta + pop), size=(draws, len(areas))))

    def zmean(rates: list[np.ndarray], axis: int) -> np.ndarray:
        zs = []
        for r in rates:
            sd = r.std(axis=axis, keepdims=True)
            zs.append((r - r.mean(axis=axis, keepdims=True)) / np.where(sd > 0, sd, 1.0))
        return np.asarray(np.mean(zs, axis=0), dtype=float)

    score = zmean([shrunk[n][None, :] for n in names], axis=1)[0]
    drawn = zmean(samples, axis=1)  # draws x areas
    ranks = (-drawn).argsort(axis=1).argsort(axis=1) + 1
    order = np.argsort(-score)
    out = []
    for position, i in enumerate(order, start=1):
        a = areas[i]
        # The interval is of the rank under the rates' uncertainty; it always contains the point rank.
        low, high = int(np.percentile(ranks[:, i], 5)), int(np.percentile(ranks[:, i], 95))
        out.append(AreaRisk(a, float(score[i]), position, min(low, position), max(high, position),
                            {n: float(shrunk[n][i] * 1000) for n in names},
                            {n: float(raw[n][i] * 1000) for n in names}, tuple(imputed[a])))
    return out
