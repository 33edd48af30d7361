"""Headless Chromium (Debian's ``chromium`` package) for the reports: a render check and screenshots.

The page's own inline script records on ``<body>`` whether every chart decoded and whether any script or
resource error happened (see ``hub.reports.html``); ``--dump-dom`` returns the DOM after load, so the
check needs no DevTools connection.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--disable-dev-shm-usage", "--virtual-time-budget=15000")


class BrowserError(RuntimeError):
    """No headless browser, or it failed; the message says which."""


def find_chromium() -> str:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    raise BrowserError("no chromium on PATH (Debian: apt-get install -y chromium)")


@dataclass(frozen=True)
class RenderCheck:
    status: str  # "ok", "broken:N", or "missing" when the page's script never ran
    images: int
    height: int
    errors: str


def _run(args: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        try:
            return subprocess.run([find_chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
                                  capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise BrowserError(f"chromium did not finish within {timeout_s:.0f} s") from None


def render_check(html_file: Path, timeout_s: float = 120.0) -> RenderCheck:
    """Load the page in headless Chromium and read back what its load-time check recorded."""
    done = _run(["--dump-dom", html_file.resolve().as_uri()], timeout_s)
    body = re.search(r"<body([^>]*)>", done.stdout)
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1))) if body else {}
    return RenderCheck(attrs.get("render-check", "missing"), int(attrs.get("images", "0") or 0),
                       int(attrs.get("height", "0") or 0), attrs.get("render-errors", "").strip())


def screenshot(html_file: Path, png: Path, width: int = 1280, timeout_s: float = 120.0) -> Path:
    """A full-page PNG of the report (height from the page itself)."""
    height = max(800, render_check(html_file, timeout_s).height + 40)
    png.parent.mkdir(parents=True, exist_ok=True)
    done = _run([f"--window-size={width},{height}", f"--screenshot={png.resolve()}", html_file.resolve().as_uri()],
                timeout_s)
    if not png.is_file():
        raise BrowserError(f"chromium wrote no screenshot (exit {done.returncode})")
    return png
