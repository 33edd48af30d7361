"""Render the Grafana dashboard's panels on Prometheus's own graph page with headless Chromium (Debian's
`chromium` package), for docs/ops.md. Grafana itself has no Debian package (nor one on PyPI, npm or Maven
Central), so the screenshot shows each panel's exact PromQL query, from deploy/grafana/dashboards/svh-hub.json,
evaluated by a real Prometheus scraping a real worker and connector.

    python3 deploy/grafana/render_panels.py http://127.0.0.1:9090 docs/img/dashboard.png [--range 10m]

tests/integration/test_prometheus.py calls it when HUB_TEST_DASHBOARD_PNG names an output file.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parent / "dashboards" / "svh-hub.json"


def graph_url(prometheus: str, exprs: list[str], range_input: str) -> str:
    params: dict[str, str] = {}
    for i, expr in enumerate(exprs):
        params.update({f"g{i}.expr": expr, f"g{i}.tab": "0", f"g{i}.stacked": "0", f"g{i}.show_exemplars": "0",
                       f"g{i}.range_input": range_input})
    return f"{prometheus.rstrip('/')}/graph?{urllib.parse.urlencode(params)}"


def render(prometheus: str, out: Path, range_input: str = "10m", width: int = 1400) -> Path:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("chromium is not installed (as root: apt-get install -y chromium)")
    doc = json.loads(DASHBOARD.read_text("utf-8"))
    exprs = [t["expr"] for p in doc["panels"] for t in p.get("targets", []) if p["type"] != "table"]
    height = 170 + 520 * len(exprs)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={profile}", f"--window-size={width},{height}",
                        "--virtual-time-budget=20000", f"--screenshot={out.resolve()}",
                        graph_url(prometheus, exprs, range_input)],
                       check=True, capture_output=True, timeout=180)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prometheus")
    parser.add_argument("out", type=Path)
    parser.add_argument("--range", default="10m")
    args = parser.parse_args(argv)
    print(render(args.prometheus, args.out, args.range))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
