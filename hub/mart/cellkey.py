"""The cell key method (ONS, Census 2021 outputs): consistent perturbation that survives differencing.

Every record has a fixed **record key** (0-255). A cell's **cell key** is the sum of its records' keys
modulo 256. The **perturbation table** (p-table) gives, for a cell's count and its cell key, the noise
added to it. So the same set of records always gets the same noise, in every table and in every
release, and an attacker who subtracts one table from another subtracts noise they cannot know.
Cells whose perturbed count falls below the agreement's threshold are suppressed (zeros too, so a
suppressed cell may hold none), and a profile's rounding is applied after perturbation.

Why our own code and not the ONS ``cell-key-perturbation`` package (3.1.0, MIT): it installs, and this
module follows its algorithm step for step (cell key = sum of record keys mod (max ckey + 1); ``pcv`` =
the count, reusing p-table rows 501-750 above 750; ``count = pre_sdc_count + pvalue``; suppress below
the threshold), but it does not fit the hub: it needs pandas for a 30-line computation on the release
path, it tabulates only the cells present in the microdata (zero cells would be absent, so every
absent cell is known to be zero and every suppressed one non-zero), it counts each record in exactly
one cell (a probation order counts in every month of a caseload), and its shipped p-table is the
deterministic 10-5 rule, which adds no noise at all. ``tests/unit/test_cellkey.py`` checks this module
against that published algorithm on its own 10-5 p-table.

Pure functions: no database, Kafka or Faust.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

KEY_RANGE = 256  # record and cell keys are 0..255, as in the ONS package
PCV_MAX = 750  # p-table rows; counts above reuse rows 501-750 (ONS)
SUPPRESSED = "suppressed"


def record_key(event_id: str) -> int:
    """The record key of an event: fixed by its (keyed, secret) event id, uniform on 0..255.

    Derived rather than drawn at random so that a replay or a rebuilt mart gets the same keys, and
    hence the same noise, as the first load: releases stay consistent across rebuilds.
    """
    return hashlib.sha256(b"svh-record-key\x00" + event_id.encode("utf-8")).digest()[0]


def cell_key(record_keys: Iterable[int]) -> int:
    """The cell key: sum of the cell's record keys modulo 256 (0 for an empty cell)."""
    return sum(record_keys) % KEY_RANGE


def pcv(count: int) -> int:
    """The p-table row for a count (ONS: rows 501-750 are reused for counts above 750)."""
    return count if count <= PCV_MAX else ((count - 1) % 250) + 501


@dataclass(frozen=True)
class PTable:
    """A perturbation table: noise for (count, cell key), published as its parameters.

    ``noise`` maps a perturbation to its share of the 256 cell keys, for counts of 2 and more; a
    count of 1 gets the same shape without the perturbations that would take it below zero (their
    share goes to no change) and zero is never perturbed. Every perturbation in ``noise`` is reachable
    from every count >= 2, so what a released value says about the count behind it is an interval
    (``preimage``), the same for every cell.
    """

    name: str
    noise: tuple[tuple[int, int], ...]  # (perturbation, number of cell keys out of 256)

    def __post_init__(self) -> None:
        if sum(n for _, n in self.noise) != KEY_RANGE:
            raise ValueError(f"p-table {self.name}: cell-key shares must add up to {KEY_RANGE}")

    @property
    def max_noise(self) -> int:
        return max(abs(p) for p, _ in self.noise)

    def row(self, count: int) -> tuple[int, ...]:
        """The perturbation for each cell key 0..255 of a cell holding ``count`` records."""
        return _row(self, pcv(count))

    def perturbation(self, count: int, ckey: int) -> int:
        return 0 if count <= 0 else self.row(count)[ckey]

    def rows(self) -> list[tuple[int, int, int]]:
        """(pcv, ckey, pvalue) for pcv 1..750: the ONS p-table file format."""
        return [(v, k, p) for v in range(1, PCV_MAX + 1) for k, p in enumerate(self.row(v))]


@cache
def _row(table: PTable, count: int) -> tuple[int, ...]:
    out: list[int] = []
    for p, share in table.noise:
        out.extend([p if count + p >= 0 else 0] * share)
    # Spread the cell keys so that neighbouring keys do not share noise (keys are uniform anyway).
    order = sorted(range(KEY_RANGE), key=lambda k: (k * 97) % KEY_RANGE)
    row = [0] * KEY_RANGE
    for key, p in zip(order, out, strict=True):
        row[key] = p
    return tuple(row)


@dataclass(frozen=True)
class FilePTable:
    """A p-table given as ONS-format rows (pcv, ckey, pvalue), e.g. the package's ``ptable_10_5_rule.csv``."""

    name: str
    values: dict[tuple[int, int], int]

    @property
    def max_noise(self) -> int:
        return max((abs(v) for v in self.values.values()), default=0)

    def perturbation(self, count: int, ckey: int) -> int:
        return 0 if count <= 0 else self.values.get((pcv(count), ckey), 0)


# The hub's p-table: noise -2..+2, half the cells unchanged. Published in docs/analyst.md.
SVH_PTABLE = PTable("svh-2", ((-2, 13), (-1, 51), (0, 128), (1, 51), (2, 13)))


@dataclass(frozen=True)
class Protected:
    """One cell after disclosure control: ``value`` None means suppressed."""

    value: int | None
    status: str  # "released" or "suppressed"


def round_to(count: int, base: int) -> int:
    """Round half up to the nearest multiple of ``base`` (0 or 1: unchanged)."""
    if base <= 1:
        return count
    return int((count + base / 2) // base * base)


def protect_cell(count: int, ckey: int, threshold: int, rounding: int = 0,
                 table: PTable | FilePTable = SVH_PTABLE) -> Protected:
    """Perturb, suppress below ``threshold`` (zero included), then round."""
    perturbed = count + table.perturbation(count, ckey)
    if perturbed < threshold:
        return Protected(None, SUPPRESSED)
    return Protected(round_to(perturbed, rounding), "released")


def preimage(value: int | None, threshold: int, rounding: int = 0, table: PTable = SVH_PTABLE,
             limit: int = 100_000) -> tuple[int, int]:
    """What a released cell tells anyone who knows the method: the true count lies in [lo, hi].

    This is the exact set (it is an interval for this p-table family), which is what an attacker
    combining releases works with: see ``tests/integration/test_differencing.py``.
    """
    d = table.max_noise
    if value is None:  # perturbed count < threshold
        return 0, threshold - 1 + d
    lo_p, hi_p = (value - rounding // 2, value + (rounding - 1) // 2) if rounding > 1 else (value, value)
    lo_p = max(lo_p, threshold)
    return max(0, lo_p - d), min(limit, hi_p + d)


def protect_counts(counts: Sequence[int], ckeys: Sequence[int], threshold: int, rounding: int = 0,
                   table: PTable = SVH_PTABLE) -> list[Protected]:
    return [protect_cell(n, k, threshold, rounding, table) for n, k in zip(counts, ckeys, strict=True)]
