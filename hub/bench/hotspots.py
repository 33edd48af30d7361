"""``hub bench hotspots``: false alarms per year of the hot-spot rule on a spike-free synthetic year.

The county's synthetic police year has fixed area weights and weekly/daily rhythms but no planted
spike, so every alert on it is a false alarm. The anchor, measured in the same run, is the same rule on
an idealised year: independent Poisson weekly counts with each area's own mean. The ratio says how much
the real-looking year's extra variation (weekends, seasons, clustering) costs. Planted spikes then
measure detection: the share found within their own week. The rule is the one the worker runs
(``hub.alerts.rules.exceedance`` via ``scan``); the worker only supplies the counts.
"""

from __future__ import annotations

import csv
import random
import tempfile
from datetime import date
from pathlib import Path

from hub.alerts.rules import HotspotRule, load_rules, scan
from hub.synth import generate_police_extract

_MONDAY0 = date(1970, 1, 5)


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method (means here are small)."""
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def synthetic_year_counts(incidents: int, seed: int, rule: HotspotRule) -> tuple[dict[tuple[str, int], int], int]:
    """(area, week number) -> violent incidents counted by the rule, from a generated police year; and weeks."""
    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate_police_extract(Path(tmp), seed=seed, incidents=incidents, malformed=0)
        with manifest.truth_incidents_csv.open(newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if r["valid"] == "true"]
    counts: dict[tuple[str, int], int] = {}
    for r in rows:
        if rule.offence_categories and r["offence_category"] not in rule.offence_categories:
            continue
        week = (date.fromisoformat(r["occurred_date"]) - _MONDAY0).days // 7
        counts[(r["lsoa21cd"], week)] = counts.get((r["lsoa21cd"], week), 0) + 1
    weeks = len({w for _, w in counts})
    return counts, weeks


def run(incidents: int = 3000, seed: int = 2026, years: int = 5, spikes: int = 60) -> dict[str, float]:
    """Figures over ``years`` synthetic years (seeds ``seed``, ``seed + 1``, ...), averaged per year."""
    rule = load_rules().hotspots
    rng = random.Random(seed)
    alarms = anchor = found = planted_total = tested = 0
    weeks_total = 0
    areas: list[str] = []
    for year in range(years):
        counts, weeks = synthetic_year_counts(incidents, seed + year, rule)
        weeks_total += weeks
        areas = sorted({a for a, _ in counts})
        first, last = min(w for _, w in counts), max(w for _, w in counts)
        alarms += len(scan(rule, counts))
        means = {a: sum(n for (b, _), n in counts.items() if b == a) / weeks for a in areas}
        ideal = {(a, w): _poisson(rng, means[a]) for a in areas for w in range(first, last + 1)}
        anchor += len(scan(rule, ideal))
        tested += sum(1 for (_, w), n in counts.items() if n > 0 and w - first >= rule.min_history_weeks)
        # Planted spikes, one area-week at a time: the area's usual week plus a surge, past the warm-up.
        for _ in range(spikes):
            area, week = rng.choice(areas), rng.randrange(first + rule.baseline_weeks, last + 1)
            planted = dict(counts)
            planted[(area, week)] = planted.get((area, week), 0) + max(rule.min_count, round(3 * means[area]) + 4)
            found += any(a == area and w == week for a, w, _ in scan(rule, planted))
            planted_total += 1
    per_year = 52.0 / max(1, weeks_total)
    return {
        "synthetic years": float(years),
        "areas watched": float(len(areas)),
        "area-weeks tested per year": tested * per_year,
        "false alarms per year": alarms * per_year,
        "anchor (Poisson year)": anchor * per_year,
        "ratio to anchor": alarms / anchor if anchor else float("nan"),
        "spikes found in-week %": 100.0 * found / max(1, planted_total),
    }
