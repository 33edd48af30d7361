"""Render the Grafana dashboard's panels from a real Prometheus, for docs/ops.md.

Grafana itself has no Debian package (nor one on PyPI, npm or Maven Central; its Go module is AGPL), so it
cannot be installed here. This draws each panel of deploy/grafana/dashboards/svh-hub.json where the
dashboard puts it (gridPos), from the panel's exact PromQL evaluated by Prometheus's query_range API:
time series as lines, stat panels as their latest value, the table of firing alerts as rows. Needs
matplotlib (a dependency of the hub).

    .venv/bin/python deploy/grafana/render_panels.py http://127.0.0.1:9090 docs/img/dashboard.png [--minutes 10]

tests/integration/test_prometheus.py calls it when HUB_TEST_DASHBOARD_PNG names an output file.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

DASHBOARD = Path(__file__).resolve().parent / "dashboards" / "svh-hub.json"


def query_range(prometheus: str, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    with urllib.request.urlopen(f"{prometheus.rstrip('/')}/api/v1/query_range?{params}", timeout=30) as resp:  # noqa: S310
        body = json.loads(resp.read())
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body.get('error')}")
    return list(body["data"]["result"])


def legend(fmt: str, labels: dict[str, str]) -> str:
    out = fmt
    for k, v in labels.items():
        out = out.replace("{{" + k + "}}", v)
    return out.replace("{{", "").replace("}}", "") or "value"


def render(prometheus: str, out: Path, minutes: float = 10.0, start: float | None = None) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    doc = json.loads(DASHBOARD.read_text("utf-8"))
    end = time.time()
    start = start or end - minutes * 60
    step = max(1.0, (end - start) / 300)
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in doc["panels"])
    fig = plt.figure(figsize=(16, rows * 0.42))
    fig.suptitle(f"{doc['title']} - panels of deploy/grafana/dashboards/svh-hub.json, from Prometheus "
                 f"({datetime.fromtimestamp(start, timezone.utc):%H:%M}-{datetime.fromtimestamp(end, timezone.utc):%H:%M} UTC)",
                 fontsize=12, y=0.93)
    grid = fig.add_gridspec(rows, 24, hspace=3.0, wspace=1.2)
    for panel in doc["panels"]:
        g = panel["gridPos"]
        ax = fig.add_subplot(grid[g["y"]:g["y"] + g["h"], g["x"]:g["x"] + g["w"]])
        ax.set_title(panel["title"], fontsize=9, loc="left")
        series = []
        for target in panel["targets"]:
            for s in query_range(prometheus, target["expr"], start, end, step):
                series.append((legend(target.get("legendFormat", ""), s["metric"]), s["values"]))
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
        if panel["type"] == "stat":
            ax.axis("off")
            text = "  ".join(f"{float(v[-1][1]):.0f}" for _, v in series) if series else "no data"
            names = ", ".join(name for name, _ in series)
            ax.text(0.5, 0.45, text, ha="center", va="center", fontsize=22, color="#2f7d32" if series else "grey")
            ax.text(0.5, 0.02, names[:60], ha="center", va="bottom", fontsize=7, color="grey")
        elif panel["type"] == "table":
            ax.axis("off")
            lines = [f"{name}: {float(v[-1][1]):.0f}" for name, v in series] or ["no alerts firing"]
            ax.text(0.01, 0.9, "\n".join(lines[:6]), ha="left", va="top", fontsize=9, family="monospace")
        else:
            for name, values in series[:12]:
                xs = [datetime.fromtimestamp(float(t), timezone.utc) for t, _ in values]
                ys = [float(v) for _, v in values]
                ax.plot(xs, ys, linewidth=1.2, label=name[:48])
            if not series:
                ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="grey")
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
            ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=6))
            ax.tick_params(labelsize=7)
            if unit:
                ax.set_ylabel({"ops": "per second", "s": "seconds"}.get(unit, unit), fontsize=7)
            if series:
                ax.legend(fontsize=6, loc="upper left", frameon=False, ncol=2 if len(series) > 4 else 1)
            ax.set_xlim(datetime.fromtimestamp(start, timezone.utc), datetime.fromtimestamp(end, timezone.utc))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prometheus")
    parser.add_argument("out", type=Path)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args(argv)
    print(render(args.prometheus, args.out, args.minutes))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
