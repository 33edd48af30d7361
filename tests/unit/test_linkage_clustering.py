"""Clustering against a reference connected-components implementation, and the pair-level metrics."""

from __future__ import annotations

import hashlib
import itertools
import random
from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.linkage import UnionFind, cluster_quality, connected_components, link_quality, pairs_completeness, person_id
from hub.linkage.clustering import clusters_of, links_above
from hub.linkage.scoring import ScoredPair

PROPS = settings(max_examples=150, deadline=None, derandomize=True)


def reference_components(nodes: list[str], edges: list[tuple[str, str]]) -> set[frozenset[str]]:
    """Breadth-first search over an adjacency list: the obvious, trusted implementation."""
    adjacent: dict[str, set[str]] = {n: set() for n in nodes}
    for a, b in edges:
        adjacent[a].add(b)
        adjacent[b].add(a)
    seen: set[str] = set()
    out = set()
    for start in nodes:
        if start in seen:
            continue
        component, queue = {start}, deque([start])
        while queue:
            for nxt in adjacent[queue.popleft()] - component:
                component.add(nxt)
                queue.append(nxt)
        seen |= component
        out.add(frozenset(component))
    return out


@st.composite
def random_graphs(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str]]]:
    """Erdos-Renyi-like graphs of 0..60 nodes with a drawn edge density (sparse to dense)."""
    n = draw(st.integers(0, 60))
    nodes = [f"ev-{i:03d}/victim" for i in range(n)]
    density = draw(st.floats(0, 0.2))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    edges = [(a, b) for a, b in itertools.combinations(nodes, 2) if rng.random() < density]
    edges += [(a, a) for a in nodes if rng.random() < 0.05]  # self links are harmless
    return nodes, edges


@PROPS
@given(graph=random_graphs(), seed=st.integers(0, 1000))
def test_clusters_match_reference_components(graph: tuple[list[str], list[tuple[str, str]]], seed: int) -> None:
    nodes, edges = graph
    assignment = connected_components(nodes, edges)
    assert set(assignment) == set(nodes)
    assert {frozenset(members) for members in clusters_of(assignment).values()} == reference_components(nodes, edges)
    # Ids depend on the clusters only, not on the order records or links arrive in.
    rng = random.Random(seed)
    shuffled_nodes, shuffled_edges = nodes[:], [(b, a) if rng.random() < 0.5 else (a, b) for a, b in edges]
    rng.shuffle(shuffled_nodes)
    rng.shuffle(shuffled_edges)
    assert connected_components(shuffled_nodes, shuffled_edges) == assignment
    for pid, members in clusters_of(assignment).items():
        assert pid == person_id(min(members))


@PROPS
@given(graph=random_graphs())
def test_union_find_tracks_least_member_and_sizes(graph: tuple[list[str], list[tuple[str, str]]]) -> None:
    nodes, edges = graph
    sets = UnionFind(nodes)
    for a, b in edges:
        sets.union(a, b)
    assert len(sets) == len(nodes)
    for group in sets.groups():
        assert {sets.least(member) for member in group} == {min(group)}
    assert not nodes or sets.union(nodes[0], nodes[0]) is False


def test_person_id_is_a_hash_of_the_least_key() -> None:
    assert person_id("ev-a/victim") == "pp-" + hashlib.sha256(b"ev-a/victim").hexdigest()[:30]
    assignment = connected_components(["b", "a", "c"], [("b", "a")])
    assert assignment["a"] == assignment["b"] == person_id("a") != assignment["c"] == person_id("c")


def test_links_above_threshold() -> None:
    scored = [ScoredPair("a", "b", (0, 0, 0), 5.0, 0.97), ScoredPair("a", "c", (0, 0, 0), 0.0, 0.5)]
    assert links_above(scored, 0.9) == [("a", "b")]
    assert links_above(scored, 0.5) == [("a", "b"), ("a", "c")]


def test_metrics_by_hand() -> None:
    truth = {"a": "1", "b": "1", "c": "1", "d": "2", "e": "2"}
    clusters = {"a": "X", "b": "X", "c": "Y", "d": "Y", "e": "Z", "unknown": "Z"}
    quality = cluster_quality(clusters, truth)
    # predicted pairs ab, cd; true pairs ab, ac, bc, de; only ab is both
    assert (quality.true_positives, quality.predicted_pairs, quality.true_pairs) == (1, 2, 4)
    assert (quality.precision, quality.recall) == (0.5, 0.25)
    assert abs(quality.f1 - 1 / 3) < 1e-12
    blocking = pairs_completeness([("a", "b"), ("a", "d"), ("d", "e"), ("a", "unknown")], truth)
    assert (blocking.candidate_pairs, blocking.true_candidates, blocking.true_pairs) == (4, 2, 4)
    assert blocking.pairs_completeness == 0.5
    links = link_quality([("a", "b"), ("c", "d"), ("a", "unknown")], truth)
    assert (links.true_positives, links.predicted_pairs, links.true_pairs) == (1, 2, 4)
    empty = cluster_quality({}, {})
    assert (empty.precision, empty.recall, empty.f1) == (1.0, 1.0, 1.0)


@PROPS
@given(clusters=st.lists(st.integers(0, 5), max_size=25), truths=st.lists(st.integers(0, 5), max_size=25))
def test_cluster_quality_matches_brute_force(clusters: list[int], truths: list[int]) -> None:
    keys = [f"r{i}" for i in range(min(len(clusters), len(truths)))]
    assignment = {k: str(c) for k, c in zip(keys, clusters, strict=False)}
    truth = {k: str(t) for k, t in zip(keys, truths, strict=False)}
    pairs = list(itertools.combinations(keys, 2))
    predicted = {p for p in pairs if assignment[p[0]] == assignment[p[1]]}
    actual = {p for p in pairs if truth[p[0]] == truth[p[1]]}
    quality = cluster_quality(assignment, truth)
    assert (quality.true_positives, quality.predicted_pairs, quality.true_pairs) == (
        len(predicted & actual), len(predicted), len(actual))
    assert pairs_completeness(predicted, truth).true_candidates == len(predicted & actual)
