"""Linking one record at a time: the shape a stream agent takes, still pure.

Each new record is blocked against the records seen so far, scored against its candidates with a
trained model, and joined to the clusters it links to. Fed the same records in the same order with
the same model, it gives exactly the persons a batch :func:`hub.linkage.link` run gives. In a stream
the block index, the records' tokens and the union-find would be tables (see docs/linkage.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.linkage.blocking import DEFAULT_RULES, MAX_BLOCK, BlockIndex, BlockingRule
from hub.linkage.clustering import UnionFind, person_id
from hub.linkage.records import PersonRecord
from hub.linkage.scoring import DEFAULT_THRESHOLD, MatchModel, ScoredPair, TermFrequencies, score_pair


@dataclass(frozen=True)
class Linked:
    """What adding one record did: its person id, the pairs it linked and the candidates it scored."""

    person_id: str
    links: list[ScoredPair]
    candidates: int


class IncrementalLinker:
    """Holds the block index, the records and the clusters; :meth:`add` links one record."""

    def __init__(self, model: MatchModel, *, rules: Sequence[BlockingRule] = DEFAULT_RULES,
                 threshold: float = DEFAULT_THRESHOLD, term_frequencies: TermFrequencies | None = None,
                 max_block: int = MAX_BLOCK) -> None:
        self.model = model
        self.threshold = threshold
        self.tf = term_frequencies
        self.index = BlockIndex(rules, max_block)
        self.records: dict[str, PersonRecord] = {}
        self.sets = UnionFind()

    def add(self, record: PersonRecord) -> Linked:
        candidates = self.index.add(record)
        self.records[record.key] = record
        self.sets.add(record.key)
        links = []
        for key in sorted(candidates):
            a, b = (record, self.records[key]) if record.key < key else (self.records[key], record)
            scored = score_pair(a, b, self.model, self.tf)
            if scored.probability >= self.threshold:
                links.append(scored)
                self.sets.union(a.key, b.key)
        return Linked(self.person_of(record.key), links, len(candidates))

    def person_of(self, key: str) -> str:
        """The current person id of a record (it changes when a later link merges a smaller key in)."""
        return person_id(self.sets.least(key))

    def persons(self) -> dict[str, str]:
        """Record key -> person id for every record added."""
        return {key: self.person_of(key) for key in self.records}
