"""Statistical disclosure control: primary and secondary suppression, rounding."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.mart.disclosure import PRIMARY, SECONDARY, Cell, protect, round_to


def cells(counts: dict[str, int], group: str = "g") -> list[Cell]:
    return [Cell((group, k), n) for k, n in counts.items()]


def by_key(result: list[Cell]) -> dict[str, Cell]:
    return {str(c.key[-1]): c for c in result}


def test_primary_suppression_hides_1_to_threshold_minus_1() -> None:
    result = by_key(protect(cells({str(n): n for n in range(0, 8)}), threshold=5))
    for n in range(1, 5):
        assert result[str(n)].suppressed == PRIMARY and result[str(n)].released is None
    for n in (5, 6, 7):
        assert result[str(n)].suppressed is None and result[str(n)].released == n
    assert result["0"].suppressed is None and result["0"].released == 0  # zero is safe to show


def test_threshold_one_suppresses_nothing() -> None:
    result = protect(cells({"a": 1, "b": 0}), threshold=1)
    assert [c.suppressed for c in result] == [None, None]


@pytest.mark.parametrize("count,base,expected", [
    (0, 5, 0), (2, 5, 0), (3, 5, 5), (7, 5, 5), (8, 5, 10), (12, 5, 10), (13, 5, 15),
    (15, 10, 20), (14, 10, 10), (7, 0, 7), (7, 1, 7),
])
def test_round_to(count: int, base: int, expected: int) -> None:
    assert round_to(count, base) == expected


def test_rounding_applies_to_released_counts_only() -> None:
    result = by_key(protect(cells({"a": 3, "b": 12, "c": 13, "d": 0}), threshold=10, rounding=5))
    assert result["a"].released is None and result["a"].suppressed == PRIMARY
    assert result["b"].released == 10 and result["c"].released == 15 and result["d"].released == 0


def test_secondary_suppression_hides_exactly_the_smallest_other_cell() -> None:
    data = {"a": 2, "b": 9, "c": 6, "d": 0, "e": 40}
    result = by_key(protect(cells(data), threshold=5, group_of=lambda c: c.key[0]))
    assert result["a"].suppressed == PRIMARY
    assert result["c"].suppressed == SECONDARY and result["c"].released is None
    assert [k for k, c in result.items() if c.suppressed] == ["a", "c"]
    assert result["d"].released == 0 and result["b"].released == 9 and result["e"].released == 40


def test_secondary_suppression_is_per_group() -> None:
    result = protect(cells({"a": 2, "b": 9, "c": 6}, "g1") + cells({"a": 7, "b": 9}, "g2") +
                     cells({"a": 1, "b": 2, "c": 30}, "g3"), threshold=5, group_of=lambda c: c.key[0])
    hidden = {c.key: c.suppressed for c in result if c.suppressed}
    assert hidden == {("g1", "a"): PRIMARY, ("g1", "c"): SECONDARY, ("g3", "a"): PRIMARY, ("g3", "b"): PRIMARY}


def test_secondary_suppression_needs_a_group() -> None:
    result = by_key(protect(cells({"a": 2, "b": 9}), threshold=5))
    assert result["b"].suppressed is None and result["b"].released == 9


def test_no_secondary_when_only_zeros_remain() -> None:
    result = by_key(protect(cells({"a": 2, "b": 0, "c": 0}), threshold=5, group_of=lambda c: c.key[0]))
    assert result["b"].suppressed is None and result["c"].suppressed is None


def test_protect_resets_previous_results() -> None:
    cs = cells({"a": 2, "b": 9})
    protect(cs, threshold=5, group_of=lambda c: c.key[0])
    protect(cs, threshold=1)
    assert [c.suppressed for c in cs] == [None, None] and [c.released for c in cs] == [2, 9]


groups = st.dictionaries(st.integers(0, 4), st.lists(st.integers(0, 30), min_size=1, max_size=8), min_size=1)


@settings(max_examples=200, deadline=None)
@given(data=groups, threshold=st.integers(1, 11), rounding=st.sampled_from([0, 1, 5, 10]))
def test_no_group_reveals_a_single_hidden_cell(data: dict[int, list[int]], threshold: int, rounding: int) -> None:
    cs = [Cell((g, i), n) for g, counts in data.items() for i, n in enumerate(counts)]
    result = protect(cs, threshold, rounding, group_of=lambda c: c.key[0])
    members: dict[Hashable, list[Cell]] = defaultdict(list)
    for c in result:
        members[c.key[0]].append(c)
        if 0 < c.count < threshold:
            assert c.suppressed == PRIMARY and c.released is None  # every small count is hidden
        if c.suppressed:
            assert c.released is None
        else:
            assert c.released == round_to(c.count, rounding)
    for group in members.values():
        hidden = [c for c in group if c.suppressed]
        nonzero_shown = [c for c in group if not c.suppressed and c.count > 0]
        assert not (len(hidden) == 1 and nonzero_shown), "a group total would reveal the hidden cell"
        primaries = [c for c in group if c.suppressed == PRIMARY]
        secondaries = [c for c in group if c.suppressed == SECONDARY]
        assert len(secondaries) == (1 if len(primaries) == 1 and len(hidden) > 1 else 0)
        if secondaries:  # the least informative choice: the smallest non-zero unsuppressed count
            others = [c.count for c in group if c.suppressed is None and c.count > 0]
            assert all(secondaries[0].count <= n for n in others)
