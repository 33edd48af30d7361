"""The cell key method: record keys, cell keys, the p-table, and the ONS package's published algorithm."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

from hub.mart import cellkey
from hub.mart.cellkey import SVH_PTABLE, FilePTable, cell_key, pcv, preimage, protect_cell, record_key


def ons_10_5_pvalue(value: int) -> int:
    """The ONS package's ``generate_ptable_10_5_rule`` formula (cell_key_perturbation 3.1.0)."""
    if value < 10:
        return -value
    return {0: 0, 1: -1, 2: -2, 3: 2, 4: 1}[value % 5]


def ons_create_perturbed_table(records: list[tuple[str, int]], ptable: dict[tuple[int, int], int],
                               threshold: int) -> dict[str, int | None]:
    """The package's create_perturbed_table, step by step, for one tabulation variable."""
    count: Counter[str] = Counter(cell for cell, _ in records)
    keysum: dict[str, int] = defaultdict(int)
    for cell, key in records:
        keysum[cell] += key
    max_ckey = max(k for _, k in ptable)
    out: dict[str, int | None] = {}
    for cell, n in count.items():
        ckey = keysum[cell] % (max_ckey + 1)
        p = n if n <= 750 else ((n - 1) % 250) + 501
        value = n + ptable.get((p, ckey), 0)
        out[cell] = None if value < threshold else value
    return out


def test_matches_the_ons_package_algorithm_on_its_own_10_5_ptable() -> None:
    rows = {(v, k): ons_10_5_pvalue(v) for v in range(1, 751) for k in range(256)}
    rng = random.Random(5)
    records = [(f"c{rng.randrange(400)}", rng.randrange(256)) for _ in range(60_000)]
    records += [("big", rng.randrange(256)) for _ in range(1234)]  # > 750: p-table rows reused
    expected = ons_create_perturbed_table(records, rows, threshold=10)
    by_cell: dict[str, list[int]] = defaultdict(list)
    for cell, key in records:
        by_cell[cell].append(key)
    table = FilePTable("ons-10-5", rows)
    ours = {c: protect_cell(len(k), cell_key(k), 10, 0, table).value for c, k in by_cell.items()}
    assert ours == expected
    assert ours["big"] == 1235  # 1234 -> pcv 734 -> +1: the 10-5 rule rounds to 5


def test_record_keys_are_fixed_and_uniform() -> None:
    keys = [record_key(f"event-{i}") for i in range(20_000)]
    assert record_key("event-1") == keys[1] and all(0 <= k < 256 for k in keys)
    counts = Counter(keys)
    assert len(counts) == 256 and max(counts.values()) < 2 * min(counts.values())


def test_same_records_same_noise_and_zero_never_perturbed() -> None:
    keys = [record_key(f"e{i}") for i in range(7)]
    assert protect_cell(7, cell_key(keys), 5) == protect_cell(7, cell_key(list(reversed(keys))), 5)
    assert all(SVH_PTABLE.perturbation(0, k) == 0 for k in range(256))
    assert protect_cell(0, 0, 5).value is None  # a zero is suppressed like any small count


def test_ptable_shape_and_preimages_are_intervals() -> None:
    row = SVH_PTABLE.row(40)
    assert Counter(row) == {-2: 13, -1: 51, 0: 128, 1: 51, 2: 13}
    assert min(SVH_PTABLE.row(1)) == -1  # never below zero
    assert pcv(751) == 501 and pcv(1000) == 750 and pcv(750) == 750
    for threshold, rounding in ((5, 0), (10, 0), (10, 5)):
        seen: dict[int | None, set[int]] = defaultdict(set)
        for n in range(0, 200):
            for k in range(256):
                seen[protect_cell(n, k, threshold, rounding).value].add(n)
        for value, counts in seen.items():
            lo, hi = preimage(value, threshold, rounding)
            if value is None or value < 180:
                assert counts == set(range(lo, hi + 1)), (threshold, rounding, value)
            assert min(counts) >= lo and max(counts) <= hi


def test_small_counts_are_never_shown_below_threshold() -> None:
    for n in range(0, 30):
        for k in range(256):
            v = protect_cell(n, k, 5).value
            assert v is None or v >= 5
    assert cellkey.round_to(12, 5) == 10 and cellkey.round_to(13, 5) == 15
