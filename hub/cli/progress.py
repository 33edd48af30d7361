"""Progress on long work (loads, backfills, drains, benchmarks): one rich progress line.

``counting`` writes to stderr, so stdout stays for a command's result (e.g. the JSON report) and scripts
can still parse it. On a terminal the line updates in place; otherwise rich prints it once, at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


@contextmanager
def counting(what: str, unit: str = "records") -> Iterator[Callable[[int], None]]:
    """Yields ``update(n)``: call it with the running count of ``unit`` done so far."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} " + unit),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        task = progress.add_task(what, total=None)
        yield lambda n: progress.update(task, completed=n)


@contextmanager
def remaining(what: str, unit: str = "messages", stderr: bool = False) -> Iterator[Callable[[int], None]]:
    """Yields ``update(left)``: how many ``unit`` are still to do (e.g. a consumer group's lag); the bar's
    total is the most ever left, so it fills as the work drains."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.fields[left]:,} " + unit + " left"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=stderr), transient=False) as progress:
        task = progress.add_task(what, total=None, left=0)
        most = [0]

        def update(left: int) -> None:
            most[0] = max(most[0], left)
            progress.update(task, total=most[0] or 1, completed=most[0] - left, left=left)
        yield update
