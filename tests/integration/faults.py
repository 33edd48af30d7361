"""Helpers for recovery and fault tests: split an extract, watch a worker's /metrics, time what happens."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from hub.config import Settings


def split_extract(extract: Path, parts: int, out_dir: Path) -> list[Path]:
    """``extract`` cut into ``parts`` CSV files of consecutive rows, each with the header (one row per line:
    the synthetic extracts quote no line breaks)."""
    lines = extract.read_text("utf-8").splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    out_dir.mkdir(parents=True, exist_ok=True)
    size = -(-len(rows) // parts)
    paths = []
    for i in range(parts):
        path = out_dir / f"{extract.stem}-{i + 1}.csv"
        path.write_text(header + "".join(rows[i * size:(i + 1) * size]), "utf-8")
        paths.append(path)
    return paths


def scrape(settings: Settings) -> str | None:
    """The worker's /metrics text, or None while nothing listens."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.metrics_port}/metrics", timeout=2) as resp:  # noqa: S310
            return str(resp.read().decode())
    except OSError:
        return None


def consumed(settings: Settings, stage: str = "pseudonymise") -> float:
    """Messages the running worker process has consumed in ``stage`` (0 while it is not serving metrics)."""
    from tests.integration.pipeline import metric_value
    text = scrape(settings)
    return metric_value(text, "svh_stage_consumed_total", stage=stage) if text else 0.0


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.05) -> float:
    """Seconds until ``predicate()`` held; TimeoutError naming ``what`` after ``timeout_s``."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(f"{what} (waited {timeout_s:.0f} s)")
        time.sleep(poll_s)
    return time.monotonic() - start
