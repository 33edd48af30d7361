"""Analysts' queries over the mart, released through the agreement's disclosure control."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Engine, text

from hub.mart.disclosure import Cell, protect
from hub.policy import ReleaseProfile
from hub.reference import offence_codes

CountKey = tuple[str, str, str]  # (lsoa, iso week, offence category)


def sensitive_categories() -> set[str]:
    """Categories made only of sensitive offences (e.g. sexual offences): the stricter profile applies."""
    by_cat: dict[str, list[bool]] = {}
    for o in offence_codes().values():
        by_cat.setdefault(o.category, []).append(o.sensitive)
    return {cat for cat, flags in by_cat.items() if all(flags)}


def incident_counts(engine: Engine) -> dict[CountKey, int]:
    """Unsuppressed counts by LSOA x ISO week x offence category (restricted: not for release)."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT lsoa_code, occurred_week, offence_category, incidents "
                                 "FROM v_incident_counts"))
        return {(r[0], r[1], r[2]): int(r[3]) for r in rows}


@dataclass(frozen=True)
class ReleasedCount:
    lsoa_code: str
    iso_week: str
    offence_category: str
    count: int | None  # None: suppressed
    suppressed: str | None


def release_lsoa_week_counts(counts: Mapping[CountKey, int], profile: ReleaseProfile) -> list[ReleasedCount]:
    """Counts by LSOA x week x category as the profile allows them to be released.

    Categories whose profile does not allow LSOA (sensitive ones, by default) are withheld from this
    table entirely. No totals are released with it, so primary suppression protects every cell.
    """
    sensitive = sensitive_categories()
    out: list[ReleasedCount] = []
    for is_sensitive in (False, True):
        rules = profile.for_rows(is_sensitive)
        if rules.finest_geography != "lsoa":
            continue
        cells = [Cell(k, n) for k, n in counts.items() if (k[2] in sensitive) == is_sensitive]
        for c in protect(cells, rules.threshold, rules.rounding):
            lsoa, week, cat = c.key
            out.append(ReleasedCount(str(lsoa), str(week), str(cat), c.released, c.suppressed))
    return sorted(out, key=lambda r: (r.lsoa_code, r.iso_week, r.offence_category))
