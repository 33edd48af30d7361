# mypy: disallow-untyped-defs, disallow-incomplete-defs, disallow-any-generics, warn-return-any
"""The person index the stream's link stage keeps: stable person ids, merges recorded, replay-safe.

Each person mention (one person in one event) is linked as it arrives (:class:`IncrementalLinker`) and
given a pseudonymous person id. The id is that of the cluster's founding mention (the first to arrive),
so it never changes when later mentions join. When a late mention links two existing persons, the
person founded earlier survives and the other is recorded as merged into it (:class:`Merge`): mentions
already published keep their id, and ``resolve`` (or the mart's merge table) maps it to the survivor,
so counts and cohorts stay correct and every id stays traceable.

Determinism is what makes the index survive restarts: the same mentions in the same order give the same
ids and merges. The stream rebuilds the index by replaying the restricted token topic up to its committed
offset, then carries on. A mention seen again (its token message published twice, when the pseudonymiser
redelivers after a crash, or redelivered to the link stage after a rebalance) is recognised by its key
and answered with the id it was *given*, not its current one: a merge since then must not publish the
same mention under a second id (the merge itself was published once, with the mention that caused it).
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field

from hub.linkage.blocking import DEFAULT_RULES, MAX_BLOCK, BlockingRule
from hub.linkage.incremental import IncrementalLinker
from hub.linkage.records import PersonRecord
from hub.linkage.scoring import DEFAULT_THRESHOLD, MatchModel, TermFrequencies, score_pair

PERSON_PREFIX = "pp-"


def founder_id(record_key: str) -> str:
    """Person id of a cluster founded by ``record_key`` (a keyed event id and a role: no key needed)."""
    return PERSON_PREFIX + hashlib.sha256(record_key.encode()).hexdigest()[:30]


@dataclass(frozen=True)
class Merge:
    """``person_id`` (founded later) was found to be the same person as ``into`` (founded earlier)."""

    person_id: str
    into: str


@dataclass(frozen=True)
class Assignment:
    """What adding one mention did: its person id, any merges it caused, whether it was new."""

    person_id: str
    merges: list[Merge] = field(default_factory=list)
    new: bool = True


class PersonIndex:
    """Mentions -> persons, one mention at a time; ids stable, merges recorded."""

    def __init__(self, model: MatchModel, *, rules: Sequence[BlockingRule] = DEFAULT_RULES,
                 threshold: float = DEFAULT_THRESHOLD, term_frequencies: TermFrequencies | None = None,
                 max_block: int = MAX_BLOCK) -> None:
        self.linker = IncrementalLinker(model, rules=rules, threshold=threshold, term_frequencies=term_frequencies,
                                        max_block=max_block)
        self._seq: dict[str, int] = {}  # record key -> arrival number
        self._keys: list[str] = []  # arrival number -> record key
        self._given = array("q")  # arrival number -> arrival number of the founder of the person it was given
        self._label: dict[str, tuple[int, str]] = {}  # union-find root -> (founder's arrival, person id)
        self.merged: dict[str, str] = {}  # absorbed person id -> the person id it merged into
        self._sets: dict[frozenset[str], frozenset[str]] = {}  # shared token sets (PersonRecord.compact)

    def __len__(self) -> int:
        return len(self._seq)

    def add(self, record: PersonRecord) -> Assignment:
        seen = self._seq.get(record.key)
        if seen is not None:  # seen before: the id it was given then; nothing changes, no merge is re-sent
            return Assignment(self.given(record.key), [], new=False)
        record = record.compact(self._sets)
        linker, sets = self.linker, self.linker.sets
        seq = len(self._seq)
        self._seq[record.key] = seq
        self._keys.append(record.key)
        candidates = linker.index.add(record)
        linker.records[record.key] = record
        sets.add(record.key)
        linked = []
        for key in sorted(candidates):
            other = linker.records[key]
            a, b = (record, other) if record.key < key else (other, record)
            if score_pair(a, b, linker.model, linker.tf).probability >= linker.threshold:
                linked.append(key)
        labels = {root: self._label[root] for root in {sets.find(k) for k in linked}}
        for key in linked:
            sets.union(record.key, key)
        root = sets.find(record.key)
        joined = sorted(labels.values())
        if not joined:
            self._label[root] = (seq, founder_id(record.key))
            self._given.append(seq)
            return Assignment(self._label[root][1])
        survivor = joined[0]
        self._given.append(survivor[0])
        merges = [Merge(label[1], survivor[1]) for label in joined[1:]]
        for merge in merges:
            self.merged[merge.person_id] = merge.into
        for r in labels:
            if r != root:
                self._label.pop(r, None)
        self._label[root] = survivor
        return Assignment(survivor[1], merges)

    def given(self, record_key: str) -> str:
        """The person id a mention was given when it arrived (what was published for it, for good)."""
        return founder_id(self._keys[self._given[self._seq[record_key]]])

    def person_of(self, record_key: str) -> str:
        """The current person id of a mention (the survivor's, after merges)."""
        return self._label[self.linker.sets.find(record_key)][1]

    def resolve(self, person_id: str) -> str:
        """Follow merges to the person id that survives."""
        while person_id in self.merged:
            person_id = self.merged[person_id]
        return person_id

    def persons(self) -> dict[str, str]:
        """Mention key -> current person id, for every mention added."""
        return {key: self.person_of(key) for key in self._seq}
