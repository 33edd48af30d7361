"""Blocking: which pairs of person records are worth scoring at all.

A blocking rule names one or more match keys; two records are a candidate pair when their tokens agree
on every match key of a rule. Rules may list alternatives whose tokens share a domain, so ``dob`` also
meets ``dob_transposed`` (day and month keyed in swapped). A block value is a tuple of tokens made with
one key id, so records meet across a rotation only through the previous-key tokens a record made
during the overlap carries.

Pairs completeness (the share of true pairs that are candidates) caps recall: measure it
(:func:`hub.linkage.evaluate.pairs_completeness`). :class:`BlockIndex` is incremental so the same code
serves a batch run and a stream (where the index would live in a table partitioned by block value).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from hub.linkage.records import PersonRecord, key_id_of

BlockValue = tuple[str, ...]
Pair = tuple[str, str]


@dataclass(frozen=True)
class BlockingRule:
    """A named rule; ``keys`` are alternative tuples of match-key names whose tokens must all agree."""

    name: str
    keys: tuple[tuple[str, ...], ...]

    def values(self, record: PersonRecord) -> set[BlockValue]:
        """The record's block values under this rule: one per key id that makes all of a tuple's tokens."""
        out: set[BlockValue] = set()
        for names in self.keys:
            per_name = [{key_id_of(t): t for t in record.get(n)} for n in names]
            if not all(per_name):
                continue
            common = set(per_name[0]).intersection(*per_name[1:])
            out.update((self.name, *(tokens[kid] for tokens in per_name)) for kid in common)
        return out


DEFAULT_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("dob", (("dob",), ("dob_transposed",))),
    BlockingRule("surname_phonetic+dob_year", (("surname_phonetic", "dob_year"),)),
    BlockingRule("forename_canonical+surname", (("forename_canonical", "surname"),)),
    BlockingRule("forename_phonetic+surname_phonetic", (("forename_phonetic", "surname_phonetic"),)),
    BlockingRule("name_pair", (("name_pair",),)),
)
"""Date of birth (or its transposition); sound of the surname within a birth year (catches surname
typos); nickname-proof names and names by sound (catch a missing or mistyped date of birth); the
order-free name pair (catches forename and surname swapped)."""

MAX_BLOCK = 1000
"""A block value shared by more records than this (a placeholder name, a default date) stops taking
members: its pairs would be numerous and uninformative. Such values are counted, not silently lost."""


@dataclass
class BlockIndex:
    """Block value -> record keys seen so far; :meth:`add` returns the new record's candidates."""

    rules: Sequence[BlockingRule] = DEFAULT_RULES
    max_block: int = MAX_BLOCK
    blocks: dict[BlockValue, list[str]] = field(default_factory=dict)
    oversized: set[BlockValue] = field(default_factory=set)

    def candidates(self, record: PersonRecord) -> dict[str, set[str]]:
        """Keys of indexed records sharing a block value with ``record``, each with the rules that met."""
        out: dict[str, set[str]] = {}
        for rule in self.rules:
            for value in rule.values(record):
                for key in self.blocks.get(value, ()):
                    if key != record.key:
                        out.setdefault(key, set()).add(rule.name)
        return out

    def add(self, record: PersonRecord) -> dict[str, set[str]]:
        """Index ``record`` and return its candidates among the records indexed before it."""
        found = self.candidates(record)
        for rule in self.rules:
            for value in rule.values(record):
                if value in self.oversized:
                    continue
                members = self.blocks.setdefault(value, [])
                if len(members) >= self.max_block:
                    self.oversized.add(value)
                    del self.blocks[value]
                elif record.key not in members:
                    members.append(record.key)
        return found


@dataclass(frozen=True)
class Candidates:
    """Candidate pairs (each ``(a, b)`` with ``a < b``) and how many each rule found."""

    pairs: frozenset[Pair]
    by_rule: dict[str, int]
    oversized_blocks: int


def ordered(a: str, b: str) -> Pair:
    return (a, b) if a < b else (b, a)


def candidate_pairs(records: Iterable[PersonRecord], rules: Sequence[BlockingRule] = DEFAULT_RULES,
                    max_block: int = MAX_BLOCK) -> Candidates:
    """All candidate pairs of a batch of records (the same pairs a stream would find adding them in order)."""
    index = BlockIndex(rules, max_block)
    pairs: set[Pair] = set()
    by_rule: Counter[str] = Counter()
    for record in records:
        for key, met in index.add(record).items():
            pairs.add(ordered(record.key, key))
            by_rule.update(met)
    return Candidates(frozenset(pairs), {rule.name: by_rule[rule.name] for rule in rules}, len(index.oversized))
