"""Progress on long work (loads, checks, backfills, drains, benchmarks): one rich progress line.

Progress goes to stderr, so stdout stays for a command's result (e.g. the JSON report) and scripts
can still parse it. On a terminal the line updates in place. Without one (cron, a CI log, a pipe)
rich would print it only once, at the end, so a plain line is written every ``PLAIN_EVERY_S`` seconds
as well: a long run's log shows it is alive and how far it has got.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

PLAIN_EVERY_S = 10.0  # without a terminal: seconds between plain progress lines


class _Plain:
    """Plain progress lines for a console that is not a terminal, at most one per ``PLAIN_EVERY_S``."""

    def __init__(self, console: Console, what: str) -> None:
        self.console = console if not console.is_terminal else None
        self.what = what.strip()
        self.start = self.last = time.monotonic()

    def __call__(self, text: Callable[[], str]) -> None:
        now = time.monotonic()
        if self.console is not None and now - self.last >= PLAIN_EVERY_S:
            self.last = now
            self.console.print(f"{self.what}: {text()} ({now - self.start:.0f} s)", highlight=False, markup=False,
                               soft_wrap=True)


@contextmanager
def counting(what: str, unit: str = "records") -> Iterator[Callable[[int], None]]:
    """Yields ``update(n)``: call it with the running count of ``unit`` done so far."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} " + unit),
               TimeElapsedColumn())
    console = Console(stderr=True)
    plain = _Plain(console, what)
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(what, total=None)

        def update(n: int) -> None:
            progress.update(task, completed=n)
            plain(lambda: f"{n:,} {unit}")
        yield update


@contextmanager
def reading(what: str, total_bytes: int | None, unit: str = "records") -> Iterator[Callable[[int, int], None]]:
    """Yields ``update(count, done_bytes)`` for reading a file of ``total_bytes`` (None: not known, e.g. rows
    of a table): a bar of the bytes read, beside the running count of ``unit``."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[count]:,} " + unit), TimeElapsedColumn())
    console = Console(stderr=True)
    plain = _Plain(console, what)
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(what, total=total_bytes, count=0)

        def update(count: int, done_bytes: int) -> None:
            progress.update(task, completed=done_bytes if total_bytes else count, count=count)
            share = f", {100 * done_bytes / total_bytes:.0f}% of the file" if total_bytes else ""
            plain(lambda: f"{count:,} {unit}{share}")
        yield update
        if total_bytes:
            progress.update(task, completed=total_bytes)


@contextmanager
def remaining(what: str, unit: str = "messages", stderr: bool = False) -> Iterator[Callable[[int], None]]:
    """Yields ``update(left)``: how many ``unit`` are still to do (e.g. a consumer group's lag); the bar's
    total is the most ever left, so it fills as the work drains."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.fields[left]:,} " + unit + " left"), TimeElapsedColumn())
    console = Console(stderr=stderr)
    plain = _Plain(console, what)
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(what, total=None, left=0)
        most = [0]

        def update(left: int) -> None:
            most[0] = max(most[0], left)
            progress.update(task, total=most[0] or 1, completed=most[0] - left, left=left)
            plain(lambda: f"{left:,} {unit} left")
        yield update
