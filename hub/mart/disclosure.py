"""Statistical disclosure control for released tables (pure functions).

Primary suppression hides small counts (1 .. threshold-1; zero is safe to show). Secondary
suppression hides a second cell in any group where exactly one cell is hidden, so that a released
group total cannot be used to recover it. Rounding (to a base) applies to every released count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

PRIMARY = "primary"
SECONDARY = "secondary"


@dataclass
class Cell:
    key: tuple[Hashable, ...]
    count: int
    released: int | None = None
    suppressed: str | None = None  # None, "primary" or "secondary"


def round_to(count: int, base: int) -> int:
    """Round half up to the nearest multiple of ``base`` (0 or 1: unchanged)."""
    if base <= 1:
        return count
    return int((count + base / 2) // base * base)


def protect(cells: Sequence[Cell], threshold: int, rounding: int = 0,
            group_of: Callable[[Cell], Hashable] | None = None) -> list[Cell]:
    """Apply primary (and, given ``group_of``, secondary) suppression and rounding; returns the cells."""
    for c in cells:
        if 0 < c.count < threshold:
            c.suppressed, c.released = PRIMARY, None
        else:
            c.suppressed, c.released = None, round_to(c.count, rounding)
    if group_of is not None:
        groups: dict[Hashable, list[Cell]] = defaultdict(list)
        for c in cells:
            groups[group_of(c)].append(c)
        for members in groups.values():
            hidden = [c for c in members if c.suppressed]
            shown = sorted((c for c in members if not c.suppressed and c.count > 0), key=lambda c: (c.count, c.key))
            if len(hidden) == 1 and shown:
                shown[0].suppressed, shown[0].released = SECONDARY, None
    return list(cells)
