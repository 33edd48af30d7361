"""Clustering linked pairs into pseudonymous persons (connected components by union-find).

A person id is derived from the smallest record key in its cluster, so the same links give the same
ids whatever order they arrive in. Record keys are already keyed pseudonyms (event ids), so the id
needs no key of its own; it changes when a new link merges two clusters (the smaller key wins).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping

from hub.linkage.scoring import DEFAULT_THRESHOLD, ScoredPair

PERSON_PREFIX = "pp-"


class UnionFind:
    """Disjoint sets of record keys with path halving and union by size; knows each set's least key."""

    def __init__(self, items: Iterable[str] = ()) -> None:
        self._parent: dict[str, str] = {}
        self._size: dict[str, int] = {}
        self._least: dict[str, str] = {}
        for item in items:
            self.add(item)

    def __contains__(self, item: str) -> bool:
        return item in self._parent

    def __iter__(self) -> Iterator[str]:
        return iter(self._parent)

    def __len__(self) -> int:
        return len(self._parent)

    def add(self, item: str) -> None:
        if item not in self._parent:
            self._parent[item] = item
            self._size[item] = 1
            self._least[item] = item

    def find(self, item: str) -> str:
        self.add(item)
        parent = self._parent
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def union(self, a: str, b: str) -> bool:
        """Join the sets of ``a`` and ``b``; False if they were already one."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if self._size[ra] < self._size[rb]:
            ra, rb = rb, ra
        self._parent[rb] = ra
        self._size[ra] += self._size.pop(rb)
        self._least[ra] = min(self._least[ra], self._least.pop(rb))
        return True

    def least(self, item: str) -> str:
        """The smallest key in ``item``'s set."""
        return self._least[self.find(item)]

    def groups(self) -> list[set[str]]:
        """The sets, each once."""
        out: dict[str, set[str]] = {}
        for item in self._parent:
            out.setdefault(self.find(item), set()).add(item)
        return list(out.values())


def person_id(least_key: str) -> str:
    """Deterministic pseudonymous person id of a cluster, from its smallest record key."""
    return PERSON_PREFIX + hashlib.sha256(least_key.encode()).hexdigest()[:30]


def connected_components(keys: Iterable[str], links: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Record key -> person id for every key (an unlinked record is a person of its own)."""
    sets = UnionFind(keys)
    for a, b in links:
        sets.union(a, b)
    return {key: person_id(sets.least(key)) for key in sets}


def links_above(scored: Iterable[ScoredPair], threshold: float = DEFAULT_THRESHOLD) -> list[tuple[str, str]]:
    """The pairs whose match probability reaches ``threshold``."""
    return [(p.a, p.b) for p in scored if p.probability >= threshold]


def cluster(keys: Iterable[str], scored: Iterable[ScoredPair], threshold: float = DEFAULT_THRESHOLD) -> dict[str, str]:
    """Record key -> person id, linking pairs at or above ``threshold``."""
    return connected_components(keys, links_above(scored, threshold))


def clusters_of(assignment: Mapping[str, str]) -> dict[str, set[str]]:
    """Person id -> its record keys."""
    out: dict[str, set[str]] = {}
    for key, pid in assignment.items():
        out.setdefault(pid, set()).add(key)
    return out


def one_to_one(scored: Iterable[ScoredPair], source_of: Mapping[str, str],
               threshold: float = DEFAULT_THRESHOLD) -> list[tuple[str, str]]:
    """Links for two-file linkage where each record matches at most one record of each other source.

    Greedy by match probability (ties by key): a pair links only if neither record already links to a
    record of the other's source. A duplicate within one file then cannot pull in a second partner.
    """
    taken: set[tuple[str, str]] = set()  # (record key, source it is already linked to)
    out = []
    for p in sorted((p for p in scored if p.probability >= threshold), key=lambda p: (-p.weight, p.a, p.b)):
        sa, sb = source_of[p.a], source_of[p.b]
        if (p.a, sb) in taken or (p.b, sa) in taken:
            continue
        taken.update({(p.a, sb), (p.b, sa)})
        out.append((p.a, p.b))
    return out
