"""Summarise a py-spy profile (``py-spy record --format raw``): the top functions under one frame.

``python -m hub.bench.profile core.txt "run.<locals>.boundary"`` prints, for every function that ran
beneath the first frame whose ``name (file:line)`` contains the filter, the share of those samples it was on the
stack for (inclusive) and at the top of it (self). This is how the figures in docs/benchmarks.md
were made.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path


def summarise(path: Path, within: str = "", top: int = 25) -> list[str]:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text("utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        raw = stack.split(";")
        start = next((i for i, f in enumerate(raw) if within in f), None)  # "name (file:line)"
        frames = [f.split(" (")[0] for f in raw]
        if start is None or not count.isdigit():
            continue
        n = int(count)
        total += n
        below = frames[start:]
        own[below[-1]] += n
        for name in set(below):
            inclusive[name] += n
    if not total:
        return [f"no samples under {within!r}"]
    out = [f"{total} samples under {within!r}", "  incl.   self  function"]
    for name, n in inclusive.most_common(top):
        out.append(f"{100 * n / total:6.1f}% {100 * own[name] / total:5.1f}%  {name}")
    return out


if __name__ == "__main__":  # pragma: no cover - a developer tool
    print("\n".join(summarise(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "")))  # noqa: T201
