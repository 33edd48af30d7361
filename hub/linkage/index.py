# mypy: disallow-untyped-defs, disallow-incomplete-defs, disallow-any-generics, warn-return-any
"""The person index the stream's link stage keeps: stable person ids, merges recorded, replay-safe.

Each person mention (one person in one event) is linked as it arrives and given a pseudonymous person
id. The id is that of the cluster's founding mention (the first to arrive), so it never changes when
later mentions join. When a late mention links two existing persons, the person founded earlier survives
and the other is recorded as merged into it (:class:`Merge`): mentions already published keep their id,
and ``resolve`` (or the mart's merge table) maps it to the survivor, so counts and cohorts stay correct
and every id stays traceable.

Determinism is what makes the index survive restarts: the same mentions in the same order give the same
ids and merges. The stream rebuilds the index by replaying the restricted token topic up to its committed
offset, then carries on. A mention seen again (its token message published twice, when the pseudonymiser
redelivers after a crash, or redelivered to the link stage after a rebalance) is recognised by its key
and answered with the id it was *given*, not its current one: a merge since then must not publish the
same mention under a second id (the merge itself was published once, with the mention that caused it).

How it is kept fast and small (the batch path, :class:`hub.linkage.IncrementalLinker` with
:class:`BlockIndex` and :func:`score_pair`, gives the same persons; a test checks it): a mention is a
number (its arrival), its tokens a tuple of token sets in a fixed slot order (each set shared with every
mention holding the same one), block members are lists of arrival numbers (a block of one is the number
itself), the union-find is three lists, and a pair's weight is one look-up in a table of every comparison
vector's weight, precomputed from the model.
"""

from __future__ import annotations

import hashlib
import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Any

from hub.linkage.blocking import DEFAULT_RULES, MAX_BLOCK, BlockingRule
from hub.linkage.records import PersonRecord, entry_name
from hub.linkage.scoring import (
    DEFAULT_THRESHOLD,
    EXACT,
    LEVELS,
    TF_KEYS,
    MatchModel,
    TermFrequencies,
    probability,
)
from hub.pseudonymisation.tokens import MULTI_SEP

PERSON_PREFIX = "pp-"

Slots = tuple[Any, ...]
"""A mention's match keys in :data:`SLOTS` order (a one-token key is its token or None, a multi-valued key a
frozenset), then :data:`_ROTATED_MARK` or None, then its sex. A mention made during a key rotation
overlap holds every key as a frozenset (a token per key id) and carries the mark."""

SLOTS: tuple[str, ...] = (
    "forename", "name_pair", "forename_canonical", "forename_del", "forename_phonetic", "forename_prefix",
    "surname", "surname_del", "surname_phonetic", "surname_prefix",
    "dob", "dob_transposed", "dob_year", "dob_month", "dob_day", "postcode", "postcode_sector",
)
"""The match keys :func:`hub.linkage.scoring.compare` reads, in a fixed order; blocking rules may add more."""
(F, NP, FC, FD, FPH, FPR, S, SD, SPH, SPR, DOB, DOBT, DY, DM, DD, PC, PS) = range(len(SLOTS))
MULTI_KEYS = ("forename_del", "surname_del")
"""The match keys that hold several tokens (a name's one-deletion neighbourhood)."""
_EMPTY: frozenset[str] = frozenset()
_SEXES = ("M", "F")
_ROTATED, _UNUSED = -2, -1  # slot of an entry naming a key id (a rotation overlap); of one no rule reads
_ROTATED_MARK = "rotated"
_OVERSIZED = False
"""Marks a block value shared by more than ``max_block`` mentions (it takes no more members)."""
_MARGIN = 1e-6
"""Bits around the threshold's log2 odds within which a pair's probability is computed to decide."""


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


def gamma_index(x: Slots, y: Slots) -> int:
    """The comparison vector of two mentions as one number, the levels of :func:`compare` in mixed radix
    (null as each comparison's last digit): the same levels, read off the slot tuples without a call per
    level. One-token match keys are the token itself (None when absent); the neighbourhoods are sets."""
    if x[-2] is not None or y[-2] is not None:  # a rotation overlap mention: compared as sets
        return _gamma_sets(_as_sets(x), _as_sets(y))
    swapped_exact = False
    xf, yf = x[F], y[F]
    if xf and yf:
        if xf == yf:
            f = 0
        elif x[NP] is not None and x[NP] == y[NP]:
            f, swapped_exact = 1, True
        elif x[FC] is not None and x[FC] == y[FC]:
            f = 2
        elif not x[FD].isdisjoint(y[FD]):
            f = 3
        elif x[FPH] is not None and x[FPH] == y[FPH]:
            f = 4
        elif x[FPR] is not None and x[FPR] == y[FPR]:
            f = 5
        elif x[S] and y[S] and x[S] != y[S] and not x[FD].isdisjoint(y[SD]) and not x[SD].isdisjoint(y[FD]):
            f = 1  # swapped with a typo
        else:
            f = 6
    else:
        f = 7
    if f == 1:
        s = 0 if swapped_exact else 1
    elif x[S] and y[S]:
        if x[S] == y[S]:
            s = 0
        elif not x[SD].isdisjoint(y[SD]):
            s = 1
        elif x[SPH] is not None and x[SPH] == y[SPH]:
            s = 2
        elif x[SPR] is not None and x[SPR] == y[SPR]:
            s = 3
        else:
            s = 4
    else:
        s = 5
    d = -1
    xd, yd = x[DOB], y[DOB]
    if xd and yd:
        if xd == yd:
            d = 0
        elif (x[DOBT] is not None and x[DOBT] == yd) or (y[DOBT] is not None and y[DOBT] == xd):
            d = 1
    elif not (x[DY] or x[DM] or x[DD]) or not (y[DY] or y[DM] or y[DD]):
        d = 5
    if d < 0:
        year = x[DY] is not None and x[DY] == y[DY]
        parts = (year + (x[DM] is not None and x[DM] == y[DM])
                 + (x[DD] is not None and x[DD] == y[DD]))
        d = 2 if parts >= 2 else 3 if year else 4
    p = 3
    if x[PC] and y[PC]:
        p = 0 if x[PC] == y[PC] else 1 if x[PS] is not None and x[PS] == y[PS] else 2
    xs, ys = x[-1], y[-1]
    sex = 2 if xs not in _SEXES or ys not in _SEXES else 0 if xs == ys else 1
    return (((f * 6 + s) * 6 + d) * 4 + p) * 3 + sex


def _as_set(value: Any) -> frozenset[str]:
    """A slot as a set of tokens, whichever form it is in."""
    if value is None:
        return _EMPTY
    return frozenset((value,)) if type(value) is str else value


def _as_sets(x: Slots) -> Slots:
    return (*(_as_set(v) for v in x[:-2]), x[-2], x[-1])


def _gamma_sets(x: Slots, y: Slots) -> int:
    """:func:`gamma_index` on slot tuples whose every match key is a set of tokens (key rotation overlap:
    a match key may hold a token per key id)."""
    swapped_exact = False
    if x[F] and y[F]:
        if not x[F].isdisjoint(y[F]):
            f = 0
        elif not x[NP].isdisjoint(y[NP]):
            f, swapped_exact = 1, True
        elif not x[FC].isdisjoint(y[FC]):
            f = 2
        elif not x[FD].isdisjoint(y[FD]):
            f = 3
        elif not x[FPH].isdisjoint(y[FPH]):
            f = 4
        elif not x[FPR].isdisjoint(y[FPR]):
            f = 5
        elif (x[S] and y[S] and x[S].isdisjoint(y[S]) and not x[FD].isdisjoint(y[SD])
              and not x[SD].isdisjoint(y[FD])):
            f = 1  # swapped with a typo
        else:
            f = 6
    else:
        f = 7
    if f == 1:
        s = 0 if swapped_exact else 1
    elif x[S] and y[S]:
        if not x[S].isdisjoint(y[S]):
            s = 0
        elif not x[SD].isdisjoint(y[SD]):
            s = 1
        elif not x[SPH].isdisjoint(y[SPH]):
            s = 2
        elif not x[SPR].isdisjoint(y[SPR]):
            s = 3
        else:
            s = 4
    else:
        s = 5
    d = -1
    if x[DOB] and y[DOB]:
        if not x[DOB].isdisjoint(y[DOB]):
            d = 0
        elif not x[DOBT].isdisjoint(y[DOB]) or not y[DOBT].isdisjoint(x[DOB]):
            d = 1
    elif not (x[DY] or x[DM] or x[DD]) or not (y[DY] or y[DM] or y[DD]):
        d = 5
    if d < 0:
        year = not x[DY].isdisjoint(y[DY])
        parts = year + (not x[DM].isdisjoint(y[DM])) + (not x[DD].isdisjoint(y[DD]))
        d = 2 if parts >= 2 else 3 if year else 4
    p = 3
    if x[PC] and y[PC]:
        p = 0 if not x[PC].isdisjoint(y[PC]) else 1 if not x[PS].isdisjoint(y[PS]) else 2
    xs, ys = x[-1], y[-1]
    sex = 2 if xs not in _SEXES or ys not in _SEXES else 0 if xs == ys else 1
    return (((f * 6 + s) * 6 + d) * 4 + p) * 3 + sex


_RADIX = tuple(len(levels) + 1 for levels in LEVELS.values())  # each comparison's levels and null


_DOB_ELSE = 4  # the date of birth comparison's ``else`` level


def _dob_conflict(x: Slots, y: Slots) -> bool:
    """Two mentions whose dates of birth are both known and agree on nothing a typo explains."""
    return (gamma_index(x, y) // 12) % 6 == _DOB_ELSE


def gamma_of(index: int) -> tuple[int, ...]:
    """The comparison vector (``NULL`` = -1) a :func:`gamma_index` stands for."""
    out = []
    for radix in reversed(_RADIX):
        index, level = divmod(index, radix)
        out.append(-1 if level == radix - 1 else level)
    return tuple(reversed(out))


def weight_table(model: MatchModel) -> list[float]:
    """Every comparison vector's total weight, by :func:`gamma_index` (the same sums ``model.weight`` makes)."""
    return [model.weight(gamma_of(i)) for i in range(math.prod(_RADIX))]


class PersonIndex:
    """Mentions -> persons, one mention at a time; ids stable, merges recorded."""

    def __init__(self, model: MatchModel, *, rules: Sequence[BlockingRule] = DEFAULT_RULES,
                 threshold: float = DEFAULT_THRESHOLD, term_frequencies: TermFrequencies | None = None,
                 max_block: int = MAX_BLOCK, keep_apart: bool = True) -> None:
        self.model, self.threshold, self.tf, self.max_block = model, threshold, term_frequencies, max_block
        self.keep_apart = keep_apart
        self.rules = tuple(rules)
        names = list(SLOTS)
        for rule in self.rules:
            names.extend(n for keys in rule.keys for n in keys if n not in names)
        self._slot_of = {name: i for i, name in enumerate(names)}
        alternatives = [(r, tuple(self._slot_of[n] for n in keys), rule.unordered)
                        for r, rule in enumerate(self.rules) for keys in rule.keys]
        many = {self._slot_of[n]: True for n in MULTI_KEYS if n in self._slot_of}
        self._many = many  # slots of the multi-valued match keys (sets); every other slot holds one token
        self._blank = tuple(_EMPTY if i in many else None for i in range(len(self._slot_of)))
        self._single_keys = [(r, a[0], a[0] in many) for r, a, _ in alternatives if len(a) == 1]
        self._pair_keys = [(r, a[0], a[1], u, a[0] in many, a[1] in many) for r, a, u in alternatives
                           if len(a) == 2]
        self._more_keys = [(r, a, u) for r, a, u in alternatives if len(a) > 2]
        self._weights = weight_table(model)
        # A pair links when its probability reaches the threshold; compared on the weight (log2 odds) with
        # a margin, and on the probability itself inside the margin, so the answer is probability()'s.
        self._link_above = math.log2(threshold / (1 - threshold)) if 0 < threshold < 1 else None
        self._seq: dict[str, int] = {}  # mention key -> arrival number
        self._keys: list[str] = []  # arrival -> mention key
        self._slots: list[Slots] = []  # arrival -> token sets
        self._parent: list[int] = []  # union-find over arrival numbers
        self._size: list[int] = []
        self._least: list[int] = []  # a root's least arrival: its person's founder (founders are earliest)
        self._given = array("q")  # arrival -> founder (arrival) of the person it was given
        self._entries: dict[str, tuple[int, bool]] = {}  # token map entry -> (slot, multi-valued)
        self._singles: dict[str, str] = {}  # token -> the one string object every mention shares
        self._multis: dict[tuple[str, ...], frozenset[str]] = {}  # tokens -> their shared set
        self._blocks: dict[int, Any] = {}  # hash of a block value -> an arrival, a list of them, or _OVERSIZED
        self.merged: dict[str, str] = {}  # absorbed person id -> the person id it merged into

    def __len__(self) -> int:
        return len(self._seq)

    @property
    def oversized(self) -> int:
        """Block values that reached ``max_block`` members and stopped taking more."""
        return sum(members is _OVERSIZED for members in self._blocks.values())

    def slots(self, record: PersonRecord) -> Slots:
        """A record's match keys in slot order, read off its flat token map: a one-token key is the token
        (one string object for every mention holding it), a neighbourhood a set of tokens (one set object
        for every mention holding the same); then None (or the rotation mark) and the sex."""
        out: list[Any] = list(self._blank)
        entries, singles, multis, many_slots = self._entries, self._singles, self._multis, self._many
        multi: dict[int, list[str]] | None = None
        for entry, token in record.tokens.items():
            meta = entries.get(entry)
            if meta is None:
                meta = self._entry(entry)
            slot, many = meta
            if slot < 0:
                if slot == _ROTATED:  # a key rotation overlap: several tokens per match key, grouped
                    return self._grouped_slots(record)
                continue
            if many or slot in many_slots:
                if not many_slots.get(slot, False) and many:  # several tokens where one is expected
                    return self._grouped_slots(record)
                if multi is None:
                    multi = {slot: [token]}
                elif slot in multi:
                    multi[slot].append(token)
                else:
                    multi[slot] = [token]
            else:
                shared = singles.get(token)
                if shared is None:
                    shared = singles[token] = token
                out[slot] = shared
        if multi:
            for slot, tokens in multi.items():
                group = tuple(tokens)
                shared_set = multis.get(group)
                if shared_set is None:
                    shared_set = multis[group] = frozenset(group)
                out[slot] = shared_set
        out.append(None)
        out.append(record.sex)
        return tuple(out)

    def _entry(self, entry: str) -> tuple[int, bool]:
        name, rotated = entry_name(entry)
        meta = (_ROTATED if rotated else self._slot_of.get(name, _UNUSED), MULTI_SEP in entry)
        self._entries[entry] = meta
        return meta

    def _grouped_slots(self, record: PersonRecord) -> Slots:
        out: list[Any] = [_EMPTY] * len(self._slot_of)
        for name, tokens in record.by_name.items():
            i = self._slot_of.get(name)
            if i is not None:
                out[i] = self._multis.setdefault(tuple(sorted(tokens)), tokens)
        out.append(_ROTATED_MARK)
        out.append(record.sex)
        return tuple(out)

    def block_values(self, record: PersonRecord, slots: Slots) -> set[int]:
        """Hashes of the record's block values under every rule (the values :class:`BlockingRule` makes,
        the rule's number in place of its name)."""
        if slots[-2] is _ROTATED_MARK:  # a key rotation overlap: tokens of different key ids never combine
            return {hash((r, *value[1:])) for r, rule in enumerate(self.rules) for value in rule.values(record)}
        out: set[int] = set()
        add = out.add
        for r, i, many in self._single_keys:
            v = slots[i]
            if many:
                for t in v:
                    add(hash((r, t)))
            elif v is not None:
                add(hash((r, v)))
        for r, i, j, unordered, many_i, many_j in self._pair_keys:
            first = slots[i]
            if not first:
                continue
            second = slots[j]
            if not second:
                continue
            if not many_i:
                first = (first,)
            if not many_j:
                second = (second,)
            if unordered:
                for a in first:
                    for b in second:
                        add(hash((r, a, b) if a <= b else (r, b, a)))
            else:
                for a in first:
                    for b in second:
                        add(hash((r, a, b)))
        for r, alternative, unordered in self._more_keys:
            lists = [_as_set(slots[i]) for i in alternative]
            if all(lists):
                for c in product(*lists):
                    add(hash((r, *sorted(c))) if unordered else hash((r, *c)))
        return out

    def add(self, record: PersonRecord) -> Assignment:
        seen = self._seq.get(record.key)
        if seen is not None:  # seen before: the id it was given then; nothing changes, no merge is re-sent
            return Assignment(founder_id(self._keys[self._given[seen]]), [], new=False)
        x = self.slots(record)
        seq = len(self._keys)
        self._seq[record.key] = seq
        self._keys.append(record.key)
        self._slots.append(x)
        self._parent.append(seq)
        self._size.append(1)
        self._least.append(seq)
        # One pass over the block values: the members so far are candidates, then the mention joins them.
        blocks, max_block = self._blocks, self.max_block
        candidates: set[int] = set()
        for value in self.block_values(record, x):
            members = blocks.get(value)
            if members is None:
                blocks[value] = seq  # a block of one is the arrival number itself
            elif members is _OVERSIZED:
                continue
            elif type(members) is int:
                candidates.add(members)
                blocks[value] = [members, seq]
            else:
                candidates.update(members)
                if len(members) >= max_block:
                    blocks[value] = _OVERSIZED  # stops taking members (its members were still candidates)
                else:
                    members.append(seq)
        linked: list[tuple[float, int]] = []
        if candidates:
            slots, weight, reaches = self._slots, self._weight, self._reaches
            for c in candidates:
                w = weight(x, slots[c])
                if reaches(w):
                    linked.append((w, c))
        if not linked:
            self._given.append(seq)
            return Assignment(founder_id(record.key))
        find, least = self._find, self._least
        roots = {find(c) for _, c in linked}
        if len(roots) > 1 and self.keep_apart:
            kept = self._compatible(x, linked, candidates)
            linked = [(w, c) for w, c in linked if find(c) in kept]
        founders = sorted({least[find(c)] for _, c in linked})
        for _, c in linked:
            self._union(seq, c)
        survivor = founder_id(self._keys[founders[0]])
        merges = [Merge(founder_id(self._keys[f]), survivor) for f in founders[1:]]
        for merge in merges:
            self.merged[merge.person_id] = merge.into
        self._given.append(founders[0])
        return Assignment(survivor, merges)

    def _weight(self, x: Slots, y: Slots) -> float:
        """The pair's match weight (log2 odds), as :func:`score_pair` sums it."""
        g = gamma_index(x, y)
        weight = self._weights[g]
        if self.tf is not None:
            weight = self._tf_adjusted(weight, x, y, g)
        return weight

    def _reaches(self, weight: float) -> bool:
        """Whether a pair of this weight links: its match probability reaches the threshold."""
        above = self._link_above
        if above is not None:
            if weight > above + _MARGIN:
                return True
            if weight < above - _MARGIN:
                return False
        return probability(weight) >= self.threshold

    def _compatible(self, x: Slots, linked: list[tuple[float, int]], candidates: set[int]) -> set[int]:
        """The persons a mention that links to several may join: strongest link first (then the earliest
        founded), each next one only if none of its candidate mentions has a date of birth wholly unlike
        one of a person already joined (dates present on both and no level but ``else``)."""
        find, least, slots = self._find, self._least, self._slots
        best: dict[int, float] = {}
        for w, c in linked:
            r = find(c)
            if w > best.get(r, -math.inf):
                best[r] = w
        seen: dict[int, list[int]] = {}
        for c in candidates:
            r = find(c)
            if r in best:
                seen.setdefault(r, []).append(c)
        order = sorted(best, key=lambda r: (-best[r], least[r]))
        kept = [order[0]]
        for r in order[1:]:
            if not any(_dob_conflict(slots[a], slots[b]) for q in kept for a in seen[q] for b in seen[r]):
                kept.append(r)
        return set(kept)

    def _tf_adjusted(self, weight: float, x: Slots, y: Slots, g: int) -> float:
        """``weight`` plus what :func:`score_pair` adds for exact agreement on common or rare names (the
        same terms, added in the same order)."""
        assert self.tf is not None
        for comparison, level in zip(self.model.comparisons, gamma_of(g), strict=True):
            if level != EXACT:
                continue
            weights = comparison.weights
            adjustment = 0.0
            freqs = self.tf.frequencies.get(comparison.name)
            if freqs:
                slot = self._slot_of[TF_KEYS[comparison.name]]
                known = [freqs[t] for t in _as_set(x[slot]) & _as_set(y[slot]) if t in freqs]
                if known:
                    adjustment = math.log2(comparison.u[EXACT] / max(min(known), self.tf.min_u))
            weight += max(adjustment, weights[1] - weights[0])
        return weight

    def _find(self, i: int) -> int:
        parent = self._parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def _union(self, a: int, b: int) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra == rb:
            return
        size = self._size
        if size[ra] < size[rb]:
            ra, rb = rb, ra
        self._parent[rb] = ra
        size[ra] += size[rb]
        self._least[ra] = min(self._least[ra], self._least[rb])

    def given(self, record_key: str) -> str:
        """The person id a mention was given when it arrived (what was published for it, for good)."""
        return founder_id(self._keys[self._given[self._seq[record_key]]])

    def person_of(self, record_key: str) -> str:
        """The current person id of a mention (the survivor's, after merges)."""
        return founder_id(self._keys[self._least[self._find(self._seq[record_key])]])

    def resolve(self, person_id: str) -> str:
        """Follow merges to the person id that survives."""
        while person_id in self.merged:
            person_id = self.merged[person_id]
        return person_id

    def persons(self) -> dict[str, str]:
        """Mention key -> current person id, for every mention added."""
        return {key: self.person_of(key) for key in self._seq}
