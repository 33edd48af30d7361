"""Matching ED assault attendances to police incidents (the Cardiff Model's central measure).

ED (ISTV) events carry no identity: only when (date and hour), where (the assault's area, geocoded at
the trust from the free-text location against the partnership's gazetteer), the patient's age band and
sex, and the method. A police incident of the same assault has the same facts, recorded independently.

The model is Fellegi-Sunter on these five comparisons, each with ordered levels (``LEVELS``: hours apart
0, 1, 2, 3, 4-6, 7+; same LSOA, same MSOA, other area; same age band, adjacent, further; same sex or
not; same method, one side says only "other", different methods). ``m`` and ``u`` are the chances of
each level among candidate pairs (police incidents within ``window_hours`` of the attendance) that are
and are not the same assault; a level's weight is log2(m/u), never above a level that agrees more (an
exact agreement never weighs less than a looser one). Agreement on a value is weighed by how common the
value is among the police incidents (term frequency, as Splink does): two victims of 55-64 agreeing say
more than two of 18-24.

An attendance is one assault, so at most one of its candidates is the match, and some attendances never
reached the police at all (the Cardiff share). With ``share`` the chance that an attendance's assault is
one of its k candidates, each candidate's prior odds are share / ((1 - share) k), and its probability is
its odds over one plus the odds of all the attendance's candidates (a description that fits many
incidents, e.g. with no area, is doubted). ``fit`` estimates m, u and share from the candidate pairs
themselves by EM under exactly this model (unsupervised: no truth). Pairs whose probability reaches the
threshold are matched one-to-one, strongest first (an incident has one victim at ED).

The share of ED assault attendances with no matching police incident, by area and month, is what the
partnership needs (violence that never reaches the police); it is released only under disclosure control.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Incident:
    """The facts of one event that matching compares (from a shared event; no identity at all)."""

    event_id: str
    when: datetime  # date and hour (minutes unknown after generalisation)
    lsoa: str | None
    msoa: str | None
    age_band: str | None
    sex: str | None
    weapon: str | None  # "knife", "blunt", "body", "other" or None


FIELDS = ("hour", "area", "age", "sex", "weapon")
LEVELS: dict[str, tuple[str, ...]] = {
    "hour": ("same hour", "1 h apart", "2 h apart", "3 h apart", "4-6 h apart", "7+ h apart"),
    "area": ("same LSOA", "same MSOA", "other area"),
    "age": ("same band", "adjacent band", "further"),
    "sex": ("same", "differs"),
    "weapon": ("same", "one says other", "differs"),
}
"""The comparison levels, most agreeing first. A comparison with a value missing on either side is left out."""
AGE_BANDS = ("0-9", "10-14", "15-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")
_AGE_INDEX = {band: i for i, band in enumerate(AGE_BANDS)}
_FLOOR = 1e-6  # no probability is ever exactly 0 or 1: a weight stays finite


def _bits(m: Sequence[float], u: Sequence[float]) -> tuple[float, ...]:
    """log2(m/u) per level, made non-increasing down the levels (a looser agreement never outweighs a closer)."""
    out, cap = [], math.inf
    for mi, ui in zip(m, u, strict=True):
        cap = min(cap, math.log2(max(mi, _FLOOR) / max(ui, _FLOOR)))
        out.append(cap)
    return tuple(out)


@dataclass(frozen=True)
class Weights:
    """m and u per comparison level (in ``FIELDS`` and ``LEVELS`` order), the share, and the threshold.

    ``m[f][l]``: the chance of level l of comparison f when the pair is the same assault; ``u[f][l]``: when
    it is not (among candidate pairs inside the window). ``share``: the chance that an attendance's assault
    is one of its candidates (the rest never reached the police). The defaults are ``fit`` on ten synthetic
    counties (seeds 10-19, pooled; ``hub bench linkage --dataset incidents --seeds 10-19 --pooled``), none
    of them the benchmark's own; a partnership fits them on its own data (``fit``).

    ``threshold`` is in log2 odds of the candidate-normalised probability: 1.0 keeps a pair when it is at
    least twice as likely the same assault as not (probability 2/3), i.e. a false match is taken to cost
    twice a missed one (a false match hides an assault the police never heard of behind one they did).
    Chosen on the training counties (seeds 10-19), where the probabilities are well calibrated and matches
    kept at 0.5 are ~0.948 precise, below the 0.95 the partnership asks for; at 2/3 ~0.964, recall ~0.936.
    """

    m: tuple[tuple[float, ...], ...] = (
        (0.5164, 0.4401, 0.03819, 0.002139, 0.001165, 0.00196), (0.9918, 0.001951, 0.006237),
        (0.9261, 0.07002, 0.003833), (0.9846, 0.01541), (0.8635, 0.1351, 0.001402))
    u: tuple[tuple[float, ...], ...] = (
        (0.02525, 0.0509, 0.04872, 0.04615, 0.1247, 0.7043), (0.04953, 0.1234, 0.8271),
        (0.2392, 0.3635, 0.3974), (0.5743, 0.4257), (0.4441, 0.1679, 0.388))
    share: float = 0.4042
    threshold: float = 1.0

    def __post_init__(self) -> None:
        if [len(x) for x in self.m] != [len(LEVELS[f]) for f in FIELDS] or \
                [len(x) for x in self.u] != [len(LEVELS[f]) for f in FIELDS]:
            raise ValueError("m and u need one probability per level of each comparison (LEVELS)")
        if not 0 < self.share < 1:
            raise ValueError("share must be between 0 and 1")
        object.__setattr__(self, "bits", tuple(_bits(m, u) for m, u in zip(self.m, self.u, strict=True)))

    bits: tuple[tuple[float, ...], ...] = field(init=False, repr=False, compare=False)
    """log2(m/u) per level, monotone (computed)."""

    def as_dict(self) -> dict[str, Any]:
        """The weights as plain data (with the levels they belong to), to store a fitted model."""
        return {"levels": {f: list(LEVELS[f]) for f in FIELDS}, "m": [list(r) for r in self.m],
                "u": [list(r) for r in self.u], "share": self.share, "threshold": self.threshold}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Weights:
        """Weights stored by ``as_dict``; ValueError if they were fitted for other comparison levels."""
        if data.get("levels") != {f: list(LEVELS[f]) for f in FIELDS}:
            raise ValueError("the stored weights are for other comparison levels")
        return cls(tuple(tuple(float(x) for x in r) for r in data["m"]),
                   tuple(tuple(float(x) for x in r) for r in data["u"]), float(data["share"]),
                   float(data["threshold"]))

    def table(self) -> dict[str, float]:
        """The weights in bits, by name (``weight_hour_same hour``: ...), and the share: for printing."""
        out = {f"weight_{f}_{label.replace(' ', '_')}": bits
               for f, row in zip(FIELDS, self.bits, strict=True) for label, bits in zip(LEVELS[f], row, strict=True)}
        out["share_reaching_police"] = self.share
        return out


DEFAULT_WEIGHTS = Weights()


def weapon_of(method: str | None, knife: bool | None) -> str | None:
    """One coarse method category from ISTV codes or police flags."""
    if knife:
        return "knife"
    code = (method or "").upper()
    return {"BP": "body", "FIST": "body", "KICK": "body", "BL": "blunt", "OT": "other", "KN": "knife",
            "GL": "knife", "BOTTLE": "knife", "KNIFE": "knife"}.get(code)


def incident_from_event(event: Mapping[str, Any], role: str | None = None) -> Incident | None:
    """The facts of a shared event (its first person, or the person with ``role``); None without a date."""
    day = event.get("occurred_date")
    if isinstance(day, str):
        day = date.fromisoformat(day)
    if not isinstance(day, date):
        return None
    hour = event.get("occurred_hour")
    when = datetime(day.year, day.month, day.day, int(hour) if isinstance(hour, int) else 12)
    persons = [p for p in event.get("persons") or () if role is None or p.get("role") == role]
    person = persons[0] if persons else {}
    attributes = event.get("attributes") or {}
    flags = event.get("flags") or {}
    return Incident(str(event["event_id"]), when, event.get("lsoa_code"), event.get("msoa_code"),
                    person.get("age_band"), person.get("sex"),
                    weapon_of(attributes.get("assault_method") or attributes.get("weapon"), flags.get("knife")))


Gamma = tuple[int | None, ...]
"""A pair's level on each comparison (None: a value missing on either side)."""


def compare(ed: Incident, police: Incident) -> Gamma:
    """The pair's comparison levels (``LEVELS``)."""
    hours = int(abs((ed.when - police.when).total_seconds()) // 3600)
    hour = hours if hours <= 3 else 4 if hours <= 6 else 5
    area = None
    if ed.lsoa and police.lsoa:
        area = 0 if ed.lsoa == police.lsoa else 1 if ed.msoa and ed.msoa == police.msoa else 2
    age = None
    if ed.age_band in _AGE_INDEX and police.age_band in _AGE_INDEX:
        age = min(2, abs(_AGE_INDEX[ed.age_band] - _AGE_INDEX[police.age_band]))
    sex = (0 if ed.sex == police.sex else 1) if ed.sex in ("M", "F") and police.sex in ("M", "F") else None
    weapon = None
    if ed.weapon and police.weapon:
        weapon = 0 if ed.weapon == police.weapon else 1 if "other" in (ed.weapon, police.weapon) else 2
    return (hour, area, age, sex, weapon)


_VALUE_OF = (None, "lsoa", "age_band", "sex", "weapon")  # the value whose frequency weighs an agreement


class TermFrequencies:
    """How common each value of area, age band, sex and method is among the police incidents (add-one
    smoothed): agreement on value v weighs log2(m/u) + log2(u/freq(v)) instead of log2(m/u)."""

    def __init__(self, police: Iterable[Incident]) -> None:
        counts: list[dict[str, int]] = [{} for _ in FIELDS]
        for p in police:
            for f, attr in enumerate(_VALUE_OF):
                value = getattr(p, attr) if attr else None
                if value:
                    counts[f][value] = counts[f].get(value, 0) + 1
        self._freq = [{v: (n + 1) / (sum(c.values()) + len(c) + 1) for v, n in c.items()} for c in counts]
        self._unseen = [1 / (sum(c.values()) + len(c) + 1) for c in counts]

    def adjustment(self, ed: Incident, gamma: Gamma, w: Weights) -> float:
        """Bits to add to the pair's agreements for how common the agreed values are."""
        total = 0.0
        for f, attr in enumerate(_VALUE_OF):
            if attr and gamma[f] == 0:
                value = getattr(ed, attr)
                total += math.log2(w.u[f][0] / self._freq[f].get(value, self._unseen[f]))
        return total


def pair_bits(gamma: Gamma, w: Weights) -> float:
    return sum(w.bits[f][level] for f, level in enumerate(gamma) if level is not None)


def score(ed: Incident, police: Incident, w: Weights = DEFAULT_WEIGHTS, tf: TermFrequencies | None = None) -> float:
    """log2 of the likelihood ratio that the two describe the same assault (the sum of the levels' weights,
    with the term-frequency adjustment if ``tf`` is given; no prior)."""
    gamma = compare(ed, police)
    return pair_bits(gamma, w) + (tf.adjustment(ed, gamma, w) if tf else 0.0)


@dataclass(frozen=True)
class IncidentMatch:
    ed_event_id: str
    police_event_id: str
    score: float  # log2 odds that the two are the same assault (candidate-normalised)
    probability: float


Candidates = list[tuple[Incident, list[tuple[Incident, Gamma]]]]


def candidates(ed: Iterable[Incident], police: Sequence[Incident], window_hours: float = 24.0) -> Candidates:
    """Each attendance with the police incidents within ``window_hours`` of it, and the pairs' levels."""
    ordered = sorted(police, key=lambda p: p.when)
    times = [p.when for p in ordered]
    window = timedelta(hours=window_hours)
    out: Candidates = []
    for a in ed:
        lo, hi = bisect.bisect_left(times, a.when - window), bisect.bisect_right(times, a.when + window)
        out.append((a, [(p, compare(a, p)) for p in ordered[lo:hi]]))
    return out


def _posteriors(bits: Sequence[float], share: float) -> list[float]:
    """Each candidate's probability of being the attendance's assault, given the candidates' log2 likelihood
    ratios: prior share / k for each, 1 - share for none of them."""
    if not bits:
        return []
    top = max(bits)
    prior = math.log2(share / ((1 - share) * len(bits)))
    odds = [math.exp2(b - top) for b in bits]  # scaled by 2^-(top + prior) to stay finite
    none = math.exp2(-(top + prior))
    total = none + sum(odds)
    return [o / total for o in odds]


def match_incidents(ed: Iterable[Incident], police: Sequence[Incident], *, window_hours: float = 24.0,
                    weights: Weights = DEFAULT_WEIGHTS) -> list[IncidentMatch]:
    """One-to-one matches of ED attendances to police incidents within the time window, strongest first."""
    tf = TermFrequencies(police)
    scored: list[tuple[float, float, str, str]] = []
    for a, pairs in candidates(ed, police, window_hours):
        bits = [pair_bits(g, weights) + tf.adjustment(a, g, weights) for _, g in pairs]
        for (p, _), probability in zip(pairs, _posteriors(bits, weights.share), strict=True):
            probability = min(max(probability, _FLOOR), 1 - _FLOOR)
            log_odds = math.log2(probability / (1 - probability))
            if log_odds >= weights.threshold:
                scored.append((log_odds, probability, a.event_id, p.event_id))
    taken_ed: set[str] = set()
    taken_police: set[str] = set()
    out = []
    for s, probability, a_id, p_id in sorted(scored, key=lambda t: (-t[0], t[2], t[3])):
        if a_id in taken_ed or p_id in taken_police:
            continue
        taken_ed.add(a_id)
        taken_police.add(p_id)
        out.append(IncidentMatch(a_id, p_id, s, probability))
    return out


@dataclass(frozen=True)
class Fit:
    weights: Weights
    iterations: int
    converged: bool
    pairs: int
    attendances: int


def fit(datasets: Iterable[tuple[Sequence[Incident], Sequence[Incident]]], *, window_hours: float = 24.0,
        start: Weights = DEFAULT_WEIGHTS, iterations: int = 200, tolerance: float = 1e-6) -> Fit:
    """m, u and share by EM on the candidate pairs of (ED attendances, police incidents) datasets (each its own
    county or period: candidates never cross datasets); see ``fit_levels``."""
    attendances = [[g for _, g in pairs] for ed, police in datasets
                   for _, pairs in candidates(ed, police, window_hours)]
    return fit_levels(attendances, start=start, iterations=iterations, tolerance=tolerance)


def fit_levels(attendances: Sequence[Sequence[Gamma]], *, start: Weights = DEFAULT_WEIGHTS, iterations: int = 200,
               tolerance: float = 1e-6) -> Fit:
    """m, u and share by EM on the attendances' candidate pairs (each attendance: its candidates' levels),
    under the matching model: at most one candidate per attendance is its assault, each with prior chance
    share / k, none with 1 - share. Unsupervised: no truth is used. E step: each candidate's probability
    (``_posteriors``); M step: m and u are the levels' frequencies weighted by it and by one minus it, share
    the attendances' mean total. Each level starts with one pseudo-count either way, so a level never seen
    among matches gets a large finite penalty, not an infinite one. The threshold is kept from ``start``."""
    patterns: dict[Gamma, int] = {}
    ids_of = [[patterns.setdefault(tuple(g), len(patterns)) for g in pairs] for pairs in attendances]
    gammas = list(patterns)
    m, u, share = [list(x) for x in start.m], [list(x) for x in start.u], start.share
    done, step = False, 0
    for step in range(1, iterations + 1):  # noqa: B007
        raw = [[math.log2(max(mi, _FLOOR) / max(ui, _FLOOR)) for mi, ui in zip(mf, uf, strict=True)]
               for mf, uf in zip(m, u, strict=True)]  # EM works on the raw ratios, not the monotone ones
        pattern_bits = [sum(raw[f][lv] for f, lv in enumerate(g) if lv is not None) for g in gammas]
        matched = [0.0] * len(gammas)
        seen = [0] * len(gammas)
        found = 0.0
        for ids in ids_of:
            for i, q in zip(ids, _posteriors([pattern_bits[i] for i in ids], share), strict=True):
                matched[i] += q
                seen[i] += 1
                found += q
        cm = [[1.0] * len(LEVELS[f]) for f in FIELDS]
        cu = [[1.0] * len(LEVELS[f]) for f in FIELDS]
        for g, q, n in zip(gammas, matched, seen, strict=True):
            for f, lv in enumerate(g):
                if lv is not None:
                    cm[f][lv] += q
                    cu[f][lv] += n - q
        m = [[c / sum(row) for c in row] for row in cm]
        u = [[c / sum(row) for c in row] for row in cu]
        new_share = min(max(found / max(1, len(ids_of)), 0.001), 0.999)
        done = abs(new_share - share) < tolerance
        share = new_share
        if done:
            break
    weights = Weights(tuple(map(tuple, m)), tuple(map(tuple, u)), share, start.threshold)
    return Fit(weights, step, done, sum(len(ids) for ids in ids_of), len(ids_of))


def unmatched_share(ed: Iterable[Incident], matches: Iterable[IncidentMatch]) -> dict[tuple[str, str], tuple[int, int]]:
    """(area, month) -> (ED assault attendances, of which with no matching police incident): raw counts, for
    a release to perturb and suppress."""
    matched = {m.ed_event_id for m in matches}
    out: dict[tuple[str, str], list[int]] = {}
    for a in ed:
        key = (a.msoa or a.lsoa or "unknown", a.when.strftime("%Y-%m"))
        cell = out.setdefault(key, [0, 0])
        cell[0] += 1
        cell[1] += a.event_id not in matched
    return {k: (v[0], v[1]) for k, v in out.items()}
