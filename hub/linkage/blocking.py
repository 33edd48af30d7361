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
from itertools import product

from hub.linkage.records import PersonRecord, key_id_of

BlockValue = tuple[str, ...]
Pair = tuple[str, str]


@dataclass(frozen=True)
class BlockingRule:
    """A named rule; ``keys`` are alternative tuples of match-key names whose tokens must all agree."""

    name: str
    keys: tuple[tuple[str, ...], ...]
    unordered: bool = False
    """Tokens of a value are sorted, so (forename, surname) meets (surname, forename): swapped names."""

    def values(self, record: PersonRecord) -> set[BlockValue]:
        """The record's block values under this rule: for each key id that makes all of a tuple's match
        keys, every combination of their tokens (a multi-valued key such as ``surname_del`` gives several)."""
        out: set[BlockValue] = set()
        for names in self.keys:
            if record.one_key:  # the usual case: every token made with one key id
                lists = [record.get(n) for n in names]
                if all(lists):
                    self._add(out, product(*lists))
                continue
            per_name: list[dict[str, list[str]]] = []
            for n in names:
                by_kid: dict[str, list[str]] = {}
                for t in record.get(n):
                    by_kid.setdefault(key_id_of(t), []).append(t)
                if not by_kid:
                    break
                per_name.append(by_kid)
            else:
                for kid in set(per_name[0]).intersection(*per_name[1:]):
                    self._add(out, product(*(tokens[kid] for tokens in per_name)))
        return out

    def _add(self, out: set[BlockValue], combos: Iterable[tuple[str, ...]]) -> None:
        if self.unordered:
            out.update((self.name, *sorted(combo)) for combo in combos)
        else:
            out.update((self.name, *combo) for combo in combos)


DEFAULT_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("dob", (("dob",), ("dob_transposed",))),
    BlockingRule("surname_phonetic+dob_year", (("surname_phonetic", "dob_year"),)),
    BlockingRule("forename_canonical+surname", (("forename_canonical", "surname"),)),
    BlockingRule("forename_phonetic+surname_phonetic", (("forename_phonetic", "surname_phonetic"),)),
    BlockingRule("name_pair", (("name_pair",),)),
    BlockingRule("postcode+surname_del", (("postcode", "surname_del"),)),
    BlockingRule("postcode+forename_del", (("postcode", "forename_del"),)),
    BlockingRule("one_name_one_edit", (("forename_nbr", "surname_del"), ("forename_del", "surname_nbr")),
                 unordered=True),
)
"""Date of birth (or its transposition); sound of the surname within a birth year (catches surname
typos); nickname-proof names and names by sound (catch a missing or mistyped date of birth); the
order-free name pair (catches forename and surname swapped); the postcode with either name within one
edit (catches a wrong date of birth and a typo); one name exact and the other within one edit, straight
or crosswise (catches a missing date of birth with a typo, or swapped names with a typo). Each rule is
cheap: a record has about 2 x (name length + 1) values for the neighbourhood rules, never their product."""

MAX_BLOCK = 1000
"""A block value shared by more records than this (a placeholder name, a default date) stops taking
members: its pairs would be numerous and uninformative. Such values are counted, not silently lost."""


@dataclass
class BlockIndex:
    """Block value -> record keys seen so far; :meth:`add` returns the new record's candidates."""

    rules: Sequence[BlockingRule] = DEFAULT_RULES
    max_block: int = MAX_BLOCK
    blocks: dict[int, list[str]] = field(default_factory=dict)
    """Hash of a block value -> record keys (a hash, not the tuple of tokens: a tenth of the memory; two
    values colliding in 64 bits only add a candidate pair, which scoring then rejects)."""
    oversized: set[int] = field(default_factory=set)

    def candidates(self, record: PersonRecord) -> dict[str, set[str]]:
        """Keys of indexed records sharing a block value with ``record``, each with the rules that met."""
        return self._candidates(record, self._values(record))

    def _values(self, record: PersonRecord) -> list[tuple[str, set[int]]]:
        return [(rule.name, {hash(v) for v in rule.values(record)}) for rule in self.rules]

    def _candidates(self, record: PersonRecord, values: list[tuple[str, set[int]]]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        blocks = self.blocks
        for name, rule_values in values:
            for value in rule_values:
                for key in blocks.get(value, ()):
                    if key != record.key:
                        met = out.get(key)
                        if met is None:
                            out[key] = {name}
                        else:
                            met.add(name)
        return out

    def add(self, record: PersonRecord) -> dict[str, set[str]]:
        """Index ``record`` and return its candidates among the records indexed before it."""
        values = self._values(record)
        found = self._candidates(record, values)
        for _, rule_values in values:
            for value in rule_values:
                if value in self.oversized:
                    continue
                members = self.blocks.setdefault(value, [])
                if len(members) >= self.max_block:
                    self.oversized.add(value)
                    del self.blocks[value]
                else:  # a record's values are a set: it is appended once (a replayed key never re-enters)
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
