"""Plain-text rendering of released tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence

from hub.mart.queries import ReleasedCount


def format_released(rows: Sequence[ReleasedCount], limit: int = 25) -> str:
    shown = sorted((r for r in rows if r.count is not None), key=lambda r: (-(r.count or 0), r.lsoa_code, r.iso_week))
    suppressed = sum(1 for r in rows if r.count is None)
    out = [f"{'LSOA':<10} {'week':<9} {'offence category':<26} {'count':>5}"]
    out += [f"{r.lsoa_code:<10} {r.iso_week:<9} {r.offence_category:<26} {r.count:>5}" for r in shown[:limit]]
    out.append(f"({len(rows)} cells: {len(shown)} released, {suppressed} suppressed as 1-4 or by the "
               f"sensitive-offence rules; showing the {min(limit, len(shown))} largest)")
    return "\n".join(out)
