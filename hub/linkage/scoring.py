"""Fellegi-Sunter scoring of candidate pairs on token agreement.

Each comparison (forename, surname, date of birth) puts a pair at the first of its ordered levels that
applies, or at null when either record lacks the value (null weighs nothing). A level's match weight is
``log2(m / u)``: ``m`` is the chance of that level when the two records are the same person, ``u`` when
they are not. A pair's total is the prior's log2 odds plus the level weights (a log2 Bayes factor);
the match probability is ``2**w / (1 + 2**w)``.

``name_pair`` (the order-free token of both names) is the forename comparison's ``swapped`` level:
when it agrees and the forenames do not, the names were keyed in swapped, so the surname is compared
crosswise (and agrees). Scoring it as a comparison of its own would count the names twice.

Parameters are explicit (:data:`DEFAULT_MODEL`, with documented defaults) and can be estimated as
Splink does: ``u`` from random pairs (:func:`estimate_u`), ``m`` and the share of matches among
candidates by EM sessions on the candidate pairs (:func:`train_m`), and term-frequency adjustments for
exact name agreement (:class:`TermFrequencies`).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from hub.linkage.blocking import Pair
from hub.linkage.records import PersonRecord

Gamma = tuple[int, ...]
"""Level index per comparison, in :data:`LEVELS` order; ``NULL`` where either record lacks the value."""
NULL = -1

LEVELS: dict[str, tuple[str, ...]] = {
    "forename": ("exact", "swapped", "canonical", "one_edit", "phonetic", "prefix", "else"),
    "surname": ("exact", "one_edit", "phonetic", "prefix", "else"),
    "dob": ("exact", "transposed", "two_parts", "year", "else"),
    "postcode": ("exact", "sector", "else"),
    "sex": ("exact", "else"),
}
_F = {name: i for i, name in enumerate(LEVELS["forename"])}
_S = {name: i for i, name in enumerate(LEVELS["surname"])}
_D = {name: i for i, name in enumerate(LEVELS["dob"])}
_P = {name: i for i, name in enumerate(LEVELS["postcode"])}
EXACT = 0  # every comparison's first level
TF_KEYS = {"forename": "forename", "surname": "surname"}
"""Comparisons whose exact level gets a term-frequency adjustment, and the match key it counts.
Not the date of birth: a prolific suspect's own records would make their date look common."""
DOB_PARTS = ("dob_year", "dob_month", "dob_day")


def _swapped_fuzzy(a: PersonRecord, b: PersonRecord) -> bool:
    """Forename and surname swapped, with a typo: each name within one edit of the other's crosswise."""
    return a.agrees(b, "forename_del", "surname_del") and a.agrees(b, "surname_del", "forename_del")


def compare(a: PersonRecord, b: PersonRecord) -> Gamma:
    """The comparison vector of two records (forename, surname, dob, postcode, sex levels)."""
    swapped_exact = False
    if a.get("forename") and b.get("forename"):
        if a.agrees(b, "forename"):
            forename = _F["exact"]
        elif a.agrees(b, "name_pair"):
            forename, swapped_exact = _F["swapped"], True
        elif a.agrees(b, "forename_canonical"):
            forename = _F["canonical"]
        elif a.agrees(b, "forename_del"):
            forename = _F["one_edit"]
        elif a.agrees(b, "forename_phonetic"):
            forename = _F["phonetic"]
        elif a.agrees(b, "forename_prefix"):
            forename = _F["prefix"]
        elif a.get("surname") and b.get("surname") and not a.agrees(b, "surname") and _swapped_fuzzy(a, b):
            forename = _F["swapped"]
        else:
            forename = _F["else"]
    else:
        forename = NULL
    if forename == _F["swapped"]:
        # Names swapped: each surname is the other's forename (exactly, or within one edit).
        surname = _S["exact"] if swapped_exact else _S["one_edit"]
    elif a.get("surname") and b.get("surname"):
        if a.agrees(b, "surname"):
            surname = _S["exact"]
        elif a.agrees(b, "surname_del"):
            surname = _S["one_edit"]
        elif a.agrees(b, "surname_phonetic"):
            surname = _S["phonetic"]
        elif a.agrees(b, "surname_prefix"):
            surname = _S["prefix"]
        else:
            surname = _S["else"]
    else:
        surname = NULL
    return (forename, surname, _compare_dob(a, b), _compare_postcode(a, b), _compare_sex(a, b))


def _compare_dob(a: PersonRecord, b: PersonRecord) -> int:
    if a.get("dob") and b.get("dob"):
        if a.agrees(b, "dob"):
            return _D["exact"]
        if a.agrees(b, "dob_transposed", "dob") or b.agrees(a, "dob_transposed", "dob"):
            return _D["transposed"]
    elif not any(a.get(p) for p in DOB_PARTS) or not any(b.get(p) for p in DOB_PARTS):
        return NULL
    year, month, day = (a.agrees(b, p) for p in DOB_PARTS)
    if year + month + day >= 2:
        return _D["two_parts"]
    if year:
        return _D["year"]
    return _D["else"]


def _compare_postcode(a: PersonRecord, b: PersonRecord) -> int:
    if not a.get("postcode") or not b.get("postcode"):
        return NULL
    if a.agrees(b, "postcode"):
        return _P["exact"]
    return _P["sector"] if a.agrees(b, "postcode_sector") else _P["else"]


def _compare_sex(a: PersonRecord, b: PersonRecord) -> int:
    if a.sex not in ("M", "F") or b.sex not in ("M", "F"):
        return NULL
    return EXACT if a.sex == b.sex else 1


@dataclass(frozen=True)
class Comparison:
    """One comparison's levels with their m and u probabilities (each set sums to 1)."""

    name: str
    levels: tuple[str, ...]
    m: tuple[float, ...]
    u: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.m) != len(self.levels) or len(self.u) != len(self.levels):
            raise ValueError(f"{self.name}: need one m and one u per level")
        for label, probs in (("m", self.m), ("u", self.u)):
            if any(not 0 < p <= 1 for p in probs) or abs(sum(probs) - 1) > 1e-6:
                raise ValueError(f"{self.name}: {label} probabilities must be in (0, 1] and sum to 1")

    @cached_property
    def weights(self) -> tuple[float, ...]:
        """Each level's weight, constrained: no level weighs more than a level before it (levels are in
        order of trust, so an exact agreement never weighs less than a fuzzy one, whatever EM says)."""
        out: list[float] = []
        for m, u in zip(self.m, self.u, strict=True):
            w = math.log2(m / u)
            out.append(min(w, out[-1]) if out else w)
        return tuple(out)

    def weight(self, level: int) -> float:
        """The constrained log2(m / u) of a level; 0 for null."""
        return 0.0 if level == NULL else self.weights[level]


def _comparison(name: str, m: Sequence[float], u: Sequence[float]) -> Comparison:
    return Comparison(name, LEVELS[name], tuple(m), tuple(u))


DEFAULT_COMPARISONS: tuple[Comparison, ...] = (
    #                         exact  swapped canonical one_edit phonetic prefix else
    _comparison("forename", (0.83, 0.005, 0.03, 0.06, 0.02, 0.02, 0.035),
                            (0.012, 0.0002, 0.002, 0.003, 0.006, 0.03, 0.9468)),
    #                         exact  one_edit phonetic prefix else
    _comparison("surname", (0.85, 0.07, 0.02, 0.02, 0.04),
                           (0.005, 0.002, 0.004, 0.02, 0.969)),
    #                      exact    transposed two_parts year  else
    _comparison("dob", (0.88, 0.02, 0.07, 0.01, 0.02),
                       (0.00005, 0.00005, 0.006, 0.017, 0.97690)),
    #                          exact  sector else
    _comparison("postcode", (0.80, 0.08, 0.12),
                            (0.001, 0.01, 0.989)),
    #                     exact else
    _comparison("sex", (0.98, 0.02),
                       (0.5, 0.5)),
)
"""Defaults for police records: m from the error rates such records show (about one name in seven with a
typo, nickname, case or swap; 3% of dates of birth with day and month transposed, a few with other
slips); u for a population of ~60 birth years, common British forenames (~1% agree by chance) and
surnames (~0.5%). Estimate both on real data (:func:`estimate_u`, :func:`train_m`)."""
DEFAULT_PRIOR = 1e-4
"""Chance that two records drawn at random are the same person: about (true pairs) / (all pairs). It
falls as the data grows; :func:`train_m` estimates it."""
DEFAULT_THRESHOLD = 0.9
"""Match probability at or above which a pair links two records."""


@dataclass(frozen=True)
class TermFrequencies:
    """How often each name token occurs, for adjusting exact agreement on common and rare names.

    An exact agreement on a token of relative frequency ``f`` weighs ``log2(m / max(f, min_u))`` instead
    of ``log2(m / u)``: agreeing on a common surname is weaker evidence than on a rare one.
    """

    frequencies: Mapping[str, Mapping[str, float]]
    min_u: float = 1e-4

    @classmethod
    def from_records(cls, records: Iterable[PersonRecord], min_u: float = 1e-4) -> TermFrequencies:
        counts: dict[str, Counter[str]] = {name: Counter() for name in TF_KEYS}
        for record in records:
            for comparison, key in TF_KEYS.items():
                counts[comparison].update(record.get(key))
        freqs = {}
        for comparison, counter in counts.items():
            # Per key id: during an overlap a record carries the token under two keys.
            totals: Counter[str] = Counter()
            for token, n in counter.items():
                totals[token.split(":", 1)[0]] += n
            freqs[comparison] = {t: n / totals[t.split(":", 1)[0]] for t, n in counter.items()}
        return cls(freqs, min_u)

    def adjustment(self, comparison: Comparison, a: PersonRecord, b: PersonRecord) -> float:
        """Bits to add to the exact level's weight for the token the two records share (0 if unknown)."""
        freqs = self.frequencies.get(comparison.name)
        if not freqs:
            return 0.0
        key = TF_KEYS[comparison.name]
        shared = a.get(key) & b.get(key)
        known = [freqs[t] for t in shared if t in freqs]
        if not known:
            return 0.0
        return math.log2(comparison.u[EXACT] / max(min(known), self.min_u))


@dataclass(frozen=True)
class MatchModel:
    """Comparisons in :data:`LEVELS` order and the prior; scores comparison vectors."""

    comparisons: tuple[Comparison, ...] = DEFAULT_COMPARISONS
    prior: float = DEFAULT_PRIOR

    def __post_init__(self) -> None:
        names = tuple(c.name for c in self.comparisons)
        if names != tuple(LEVELS) or any(c.levels != LEVELS[c.name] for c in self.comparisons):
            raise ValueError(f"comparisons must be {', '.join(LEVELS)} with the levels of LEVELS")
        if not 0 < self.prior < 1:
            raise ValueError("prior must be in (0, 1)")

    @cached_property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1 - self.prior))

    @cached_property
    def _tables(self) -> tuple[tuple[float, ...], ...]:
        # Each comparison's constrained weights with 0.0 appended, so index NULL (-1) weighs nothing.
        return tuple((*c.weights, 0.0) for c in self.comparisons)

    def weight(self, gamma: Gamma) -> float:
        """Total match weight: prior log2 odds plus each comparison's level weight."""
        return self.prior_weight + sum(t[level] for t, level in zip(self._tables, gamma, strict=True))

    def explain(self, gamma: Gamma) -> dict[str, float]:
        """Each term of the total weight, by comparison (plus ``prior``)."""
        out = {"prior": self.prior_weight}
        out.update({c.name: c.weight(level) for c, level in zip(self.comparisons, gamma, strict=True)})
        return out

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form, so a model trained in batch can be loaded by a stream agent."""
        return {"prior": self.prior, "comparisons": {
            c.name: {"levels": list(c.levels), "m": list(c.m), "u": list(c.u)} for c in self.comparisons}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MatchModel:
        comparisons = data["comparisons"]
        return cls(tuple(Comparison(name, tuple(comparisons[name]["levels"]), tuple(comparisons[name]["m"]),
                                    tuple(comparisons[name]["u"])) for name in LEVELS), float(data["prior"]))

    def with_m(self, m: Mapping[str, Sequence[float]]) -> MatchModel:
        return replace(self, comparisons=tuple(
            replace(c, m=tuple(m[c.name])) if c.name in m else c for c in self.comparisons))

    def with_u(self, u: Mapping[str, Sequence[float]]) -> MatchModel:
        return replace(self, comparisons=tuple(
            replace(c, u=tuple(u[c.name])) if c.name in u else c for c in self.comparisons))


DEFAULT_MODEL = MatchModel()


def probability(weight: float) -> float:
    """Match probability of a total match weight (log2 odds)."""
    if weight >= 0:
        return 1 / (1 + math.exp2(-weight))
    odds = math.exp2(weight)
    return odds / (1 + odds)


@dataclass(frozen=True)
class ScoredPair:
    a: str
    b: str
    gamma: Gamma
    weight: float
    probability: float


def score_pair(a: PersonRecord, b: PersonRecord, model: MatchModel,
               tf: TermFrequencies | None = None) -> ScoredPair:
    """Compare and score one pair."""
    gamma = compare(a, b)
    weight = model.weight(gamma)
    if tf is not None:
        for comparison, level in zip(model.comparisons, gamma, strict=True):
            if level == EXACT:
                # Never below the next level: a common name agreeing exactly still beats a typo of it.
                weights = comparison.weights
                weight += max(tf.adjustment(comparison, a, b), weights[1] - weights[0])
    return ScoredPair(a.key, b.key, gamma, weight, probability(weight))


def score_pairs(records: Mapping[str, PersonRecord], pairs: Iterable[Pair], model: MatchModel,
                tf: TermFrequencies | None = None) -> list[ScoredPair]:
    """Score candidate pairs (keys into ``records``), in a stable order."""
    return [score_pair(records[a], records[b], model, tf) for a, b in sorted(pairs)]


def estimate_u(records: Sequence[PersonRecord], model: MatchModel = DEFAULT_MODEL, pairs: int = 50_000,
               seed: int = 0) -> MatchModel:
    """``u`` from random pairs of records (almost all non-matches), Splink-style.

    Random pairs still hold some true matches, and on repeat-heavy data they swamp rare levels such as
    an exact date of birth. A comparison's level is therefore counted only in pairs that disagree (or
    are null) on every other comparison: non-matches, if comparisons are independent given the match
    status. Counts are smoothed by half a pair per level.
    """
    if len(records) < 2:
        return model
    rng = random.Random(seed)
    elses = [len(c.levels) - 1 for c in model.comparisons]
    counts = [[0.0] * len(c.levels) for c in model.comparisons]
    n = len(records)
    for _ in range(pairs):
        i, j = rng.randrange(n), rng.randrange(n - 1)
        j += j >= i
        gamma = compare(records[i], records[j])
        disagree = [level in (NULL, last) for level, last in zip(gamma, elses, strict=True)]
        for c, level in enumerate(gamma):
            if level != NULL and all(disagree[:c] + disagree[c + 1:]):
                counts[c][level] += 1
    return model.with_u({c.name: _normalise(counts[k], 0.5) for k, c in enumerate(model.comparisons)})


def _normalise(counts: Sequence[float], smoothing: float) -> list[float]:
    total = sum(counts) + smoothing * len(counts)
    return [(n + smoothing) / total for n in counts]


@dataclass(frozen=True)
class EMResult:
    model: MatchModel
    match_share: float
    """Estimated share of the pairs trained on that are matches."""
    iterations: int


def estimate_m(gammas: Iterable[Gamma], model: MatchModel = DEFAULT_MODEL, fixed: Iterable[str] = (),
               max_iterations: int = 50, tolerance: float = 1e-6, start_share: float = 0.3) -> EMResult:
    """``m`` and the share of matches among ``gammas`` by EM, with every ``u`` held fixed (as Splink does).

    Comparisons named in ``fixed`` are ignored and keep their ``m``: train on pairs that a rule on those
    comparisons selected, since such pairs agree on them whether they match or not (see :func:`train_m`).
    EM runs on the distinct patterns of the comparison vectors.
    """
    skip = {k for k, c in enumerate(model.comparisons) if c.name in set(fixed)}
    patterns = Counter(tuple(NULL if k in skip else level for k, level in enumerate(g)) for g in gammas)
    total = sum(patterns.values())
    if not total:
        return EMResult(model, 0.0, 0)
    share = start_share
    iterations = 0
    for step in range(1, max_iterations + 1):
        iterations = step
        expected = [[0.0] * len(c.levels) for c in model.comparisons]
        matches = 0.0
        for gamma, count in patterns.items():
            log_m = math.log(share)
            log_u = math.log(1 - share)
            for c, level in zip(model.comparisons, gamma, strict=True):
                if level != NULL:
                    log_m += math.log(c.m[level])
                    log_u += math.log(c.u[level])
            posterior = 1 / (1 + math.exp(min(700.0, log_u - log_m)))
            matches += count * posterior
            for k, level in enumerate(gamma):
                if level != NULL:
                    expected[k][level] += count * posterior
        new_share = min(max(matches / total, 1e-9), 1 - 1e-9)
        new = model.with_m({c.name: _normalise(expected[k], 1e-3)
                            for k, c in enumerate(model.comparisons) if k not in skip})
        change = max(abs(a - b) for old, upd in zip(model.comparisons, new.comparisons, strict=True)
                     for a, b in zip(old.m, upd.m, strict=True))
        model, change, share = new, max(change, abs(new_share - share)), new_share
        if change < tolerance:
            break
    return EMResult(model, share, iterations)


TRAINING_SESSIONS: tuple[tuple[str, ...], ...] = (("dob",), ("forename", "surname"))
"""Each EM session trains on the pairs that agree exactly on these comparisons and estimates the others'
``m``: the date of birth session gives the names' ``m``, the names session the date of birth's."""


@dataclass(frozen=True)
class Training:
    """A model trained by :func:`train_m`: ``m`` from each session, and the prior they imply."""

    model: MatchModel
    sessions: dict[tuple[str, ...], EMResult]


def train_m(gammas: Sequence[Gamma], record_count: int, model: MatchModel = DEFAULT_MODEL,
            sessions: Sequence[tuple[str, ...]] = TRAINING_SESSIONS) -> Training:
    """Estimate ``m`` by EM sessions on candidate pairs (``u`` already estimated) and the prior.

    A comparison's ``m`` is the mean over the sessions that estimated it. The prior follows from the
    first session: its estimated matches, divided by the chance a match agrees exactly on the session's
    comparisons, over all pairs (Splink's estimate from a deterministic rule).
    """
    index = {c.name: k for k, c in enumerate(model.comparisons)}
    results: dict[tuple[str, ...], EMResult] = {}
    for names in sessions:
        chosen = [g for g in gammas if all(g[index[n]] == EXACT for n in names)]
        results[names] = estimate_m(chosen, model, fixed=names)
    m: dict[str, list[float]] = {}
    for c in model.comparisons:
        estimates = [r.model.comparisons[index[c.name]].m for names, r in results.items()
                     if c.name not in names and r.iterations]
        if estimates:
            m[c.name] = [sum(column) / len(estimates) for column in zip(*estimates, strict=True)]
    trained = model.with_m(m)
    first = sessions[0] if sessions else ()
    prior = model.prior
    if first and results[first].iterations:
        in_block = sum(all(g[index[n]] == EXACT for n in first) for g in gammas)
        agree = math.prod(trained.comparisons[index[n]].m[EXACT] for n in first)
        prior = prior_from_em(results[first].match_share, round(in_block / agree), record_count)
    return Training(MatchModel(trained.comparisons, prior), results)


def prior_from_em(match_share: float, pair_count: int, record_count: int) -> float:
    """The prior implied by EM: the expected matches among ``pair_count`` pairs over all pairs."""
    all_pairs = record_count * (record_count - 1) / 2
    if all_pairs <= 0 or pair_count <= 0:
        return DEFAULT_PRIOR
    return min(max(match_share * pair_count / all_pairs, 1e-12), 0.5)
