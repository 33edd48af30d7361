"""Charts for reports: the trend by period and the hot-spot areas, drawn from a released table only.

Suppressed cells are left out, never drawn as zero: a chart must not reveal what the table hides.
Uses matplotlib's non-interactive Agg backend, so it runs on servers without a display.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first

from hub.mart.release import ReleasedTable  # noqa: E402


def trend_and_hotspots(table: ReleasedTable, out: Path, title: str, top: int = 10) -> Path:
    """Two panels: released counts per period by measure, and the areas with most released counts."""
    by_period: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_area: dict[str, int] = defaultdict(int)
    for row in table.rows:
        if row.value is None:
            continue
        by_period[row.measure][row.period] += row.value
        by_area[f"{row.area_name or row.area_code} ({row.area_level})"] += row.value
    periods = sorted({p for cats in by_period.values() for p in cats})
    fig, (trend, spots) = plt.subplots(1, 2, figsize=(14, 5.5), gridspec_kw={"width_ratios": [3, 2]})
    for category in sorted(by_period, key=lambda c: -sum(by_period[c].values())):
        # A period with nothing released is a gap in the line, not a zero.
        values = [by_period[category].get(p, float("nan")) for p in periods]
        trend.plot(periods, values, marker="o", ms=3, label=category)
    trend.set_title("Released counts by period")
    trend.set_xlabel("period")
    trend.set_ylabel("count (suppressed cells not shown)")
    trend.tick_params(axis="x", labelrotation=60, labelsize=7)
    trend.legend(fontsize=7)
    hot = sorted(by_area.items(), key=lambda kv: -kv[1])[:top]
    spots.barh([k for k, _ in reversed(hot)], [v for _, v in reversed(hot)], color="#b2182b")
    spots.set_title(f"Hot spots: top {len(hot)} areas")
    spots.set_xlabel("released count")
    spots.tick_params(axis="y", labelsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
