"""Progress on long work (loads, backfills, benchmarks): a rich progress line on stderr.

stdout stays for the command's result (e.g. the JSON report), so scripts can still parse it. On a
terminal the line updates in place; otherwise rich prints it once, when the work ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


@contextmanager
def counting(what: str, unit: str = "records") -> Iterator[Callable[[int], None]]:
    """Yields ``update(n)``: call it with the running count of ``unit`` done so far."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} " + unit),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        task = progress.add_task(what, total=None)
        yield lambda n: progress.update(task, completed=n)
