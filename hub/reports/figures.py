"""The reports' charts, drawn with matplotlib (Agg backend) and the map with geopandas, as PNG bytes.

Every function takes released cells only: a suppressed cell is left out (or hatched on the map), never
drawn as zero.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first

PALETTE = ["#0b3c5d", "#328cc1", "#d9b310", "#b2182b", "#5aae61", "#762a83", "#f4a582", "#878787"]


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def choropleth(frame: Any, column: str, title: str, legend: str) -> bytes:
    """A GeoDataFrame with a numeric ``column`` (NaN: suppressed or no population) as a map."""
    from matplotlib.colors import LogNorm
    fig, ax = plt.subplots(figsize=(10, 5.2))
    values = frame[column].dropna()
    positive = values[values > 0]
    norm = LogNorm(vmin=float(positive.min()), vmax=float(positive.max())) if len(positive) > 1 else None
    frame.plot(column=column, ax=ax, cmap="YlOrRd", edgecolor="#666666", linewidth=0.4, legend=True, norm=norm,
               legend_kwds={"label": legend, "shrink": 0.7},
               missing_kwds={"color": "#eeeeee", "hatch": "///", "edgecolor": "#999999", "label": "suppressed"})
    for _, row in frame.iterrows():
        if row.get("label"):
            point = row.geometry.representative_point()
            ax.annotate(str(row["label"]), (point.x, point.y), ha="center", fontsize=7, color="#111111")
    ax.set_axis_off()
    ax.set_title(title, fontsize=11)
    return _png(fig)


def hbar(values: Mapping[str, float], title: str, xlabel: str) -> bytes:
    items = sorted(values.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(9, max(2.2, 0.32 * len(items) + 1)))
    ax.barh([k for k, _ in items], [v for _, v in items], color=PALETTE[0])
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(xlabel)
    return _png(fig)


def grouped_bars(groups: Sequence[str], series: Mapping[str, Sequence[float | None]], title: str,
                 ylabel: str) -> bytes:
    """Bars by group, one colour per series; None (suppressed) leaves a gap."""
    fig, ax = plt.subplots(figsize=(10, 4.2))
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        xs = [g + i * width for g, v in enumerate(values) if v is not None]
        ax.bar(xs, [v for v in values if v is not None], width, label=name, color=PALETTE[i % len(PALETTE)])
    ax.set_xticks([g + width * (len(series) - 1) / 2 for g in range(len(groups))], groups, rotation=20,
                  ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=8)
    return _png(fig)


def trend(labels: Sequence[str], series: Mapping[str, Sequence[float | None]], title: str, ylabel: str) -> bytes:
    """Lines over evenly spaced periods; a suppressed or missing period is a gap in its line."""
    fig, ax = plt.subplots(figsize=(10, 4))
    for i, (name, values) in enumerate(series.items()):
        ys = [float("nan") if v is None else v for v in values]
        ax.plot(range(len(labels)), ys, marker="o", ms=4, label=name, color=PALETTE[i % len(PALETTE)],
                linestyle="-" if i == 0 else "--")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_ylim(bottom=0)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def heatmap(rows: Sequence[str], cols: Sequence[str], values: Sequence[Sequence[float | None]], title: str,
            legend: str) -> bytes:
    import numpy as np
    data = np.array([[float("nan") if v is None else v for v in row] for row in values], dtype=float)
    fig, ax = plt.subplots(figsize=(10, 3.6))
    cmap = matplotlib.colormaps["Blues"].with_extremes(bad="#f3e3e3")
    im = ax.imshow(np.ma.masked_invalid(data), aspect="auto", cmap=cmap)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xticks(range(len(cols)), cols, fontsize=8)
    ax.set_xlabel("hour of day")
    fig.colorbar(im, ax=ax, label=legend, shrink=0.8)
    ax.set_title(title, fontsize=11)
    return _png(fig)


def pyramid(bands: Sequence[str], male: Sequence[float | None], female: Sequence[float | None], title: str) -> bytes:
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ys = range(len(bands))
    ax.barh([y for y, v in zip(ys, male, strict=True) if v is not None], [-v for v in male if v is not None],
            color=PALETTE[1], label="male")
    ax.barh([y for y, v in zip(ys, female, strict=True) if v is not None], [v for v in female if v is not None],
            color=PALETTE[3], label="female")
    ax.set_yticks(list(ys), bands)
    ax.axvline(0, color="#333", linewidth=0.6)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{abs(x):.0f}"))
    ax.set_xlabel("people (suppressed cells not drawn)")
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=8)
    return _png(fig)


def intervals(labels: Sequence[str], mids: Sequence[float], lows: Sequence[float], highs: Sequence[float],
              title: str, xlabel: str) -> bytes:
    """A ranked dot plot with intervals (top of the list at the top)."""
    fig, ax = plt.subplots(figsize=(9, max(2.5, 0.34 * len(labels) + 1)))
    ys = list(range(len(labels)))[::-1]
    ax.errorbar(mids, ys, xerr=[[m - lo for m, lo in zip(mids, lows, strict=True)],
                                [hi - m for m, hi in zip(mids, highs, strict=True)]],
                fmt="o", color=PALETTE[3], ecolor="#999999", capsize=3)
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)
