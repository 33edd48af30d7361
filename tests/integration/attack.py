"""A differencing attacker: the tightest integer bounds on protected cells that all releases together allow.

Model. The unknowns are the counts of **atoms**: groups of records that fall into exactly the same
released cells (across every release). Every released cell is a sum of atoms, and what it shows
bounds that sum: a perturbed value ``v`` says the count lies in ``cellkey.preimage(v)`` (exact for the
hub's p-table family), a suppressed cell says 0..threshold-1+noise, an exact value (the previous
suppression-only method) pins it. The attacker here is *stronger* than a real one: it knows which
atoms are non-empty (real attackers must also allow every other combination of attributes), so a
cell this attacker cannot pin cannot be pinned by anyone who has only the releases.

A protected cell (true count 1..threshold-1) is **pinned** if every integer solution gives it its
true count. Proof of "not pinned" is a feasible integer solution where it differs: random-objective
solves find most of these at once, then each remaining cell is minimised and maximised (``milp``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix

Interval = tuple[int, int]


@dataclass
class Knowledge:
    """What the attacker learnt: for each distinct record set released, the interval its count lies in."""

    cells: dict[frozenset[str], Interval] = field(default_factory=dict)
    protected: dict[frozenset[str], int] = field(default_factory=dict)  # record set -> its true count
    releases: int = 0
    released_cells: int = 0

    def add(self, records: Iterable[str], interval: Interval, protected: bool) -> None:
        key = frozenset(records)
        lo, hi = interval
        if key in self.cells:  # the same records seen again (another table, purpose or profile): intersect
            old = self.cells[key]
            lo, hi = max(lo, old[0]), min(hi, old[1])
        self.cells[key] = (lo, hi)
        self.released_cells += 1
        if protected:
            self.protected[key] = len(key)


@dataclass
class Verdict:
    pinned: list[tuple[frozenset[str], int]]
    checked: int
    atoms: int
    constraints: int
    solves: int


def attack(k: Knowledge, seed: int = 11, random_solves: int = 12, stop_at_first_pin: bool = False,
           limit: int | None = None) -> Verdict:
    records = sorted(set().union(*k.cells)) if k.cells else []
    # atoms: records with identical membership
    membership: dict[str, list[int]] = {r: [] for r in records}
    cell_list = list(k.cells.items())
    for ci, (recs, _) in enumerate(cell_list):
        for r in recs:
            membership[r].append(ci)
    atoms: dict[tuple[int, ...], list[str]] = {}
    for r, cells in membership.items():
        atoms.setdefault(tuple(cells), []).append(r)
    atom_list = list(atoms.values())
    atom_of = {r: a for a, recs in enumerate(atom_list) for r in recs}
    truth = np.array([len(a) for a in atom_list], dtype=float)
    rows, cols = [], []
    lo = np.empty(len(cell_list))
    hi = np.empty(len(cell_list))
    for ci, (recs, (a, b)) in enumerate(cell_list):
        for atom in sorted({atom_of[r] for r in recs}):
            rows.append(ci)
            cols.append(atom)
        lo[ci], hi[ci] = a, b
    matrix = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(cell_list), len(atom_list)))
    assert np.all(matrix @ truth >= lo) and np.all(matrix @ truth <= hi), "the truth must satisfy what was released"
    cons = LinearConstraint(matrix, lo, hi)
    bounds = Bounds(np.zeros(len(atom_list)), np.full(len(atom_list), 10_000.0))
    integrality = np.ones(len(atom_list))
    solves = 0

    def solve(objective: np.ndarray) -> np.ndarray:
        nonlocal solves
        solves += 1
        res = milp(objective, constraints=cons, bounds=bounds, integrality=integrality,
                   options={"disp": False, "time_limit": 120})
        assert res.x is not None, res.message
        return np.round(res.x)

    targets = list(k.protected.items())
    if limit is not None:
        random.Random(seed).shuffle(targets)
        targets = targets[:limit]
    vectors: list[tuple[frozenset[str], int, np.ndarray]] = []
    for recs, true in targets:
        v = np.zeros(len(atom_list))
        for a in {atom_of[r] for r in recs}:
            v[a] = 1.0
        vectors.append((recs, true, v))
    open_: list[tuple[frozenset[str], int, np.ndarray]] = vectors

    def prune(x: np.ndarray) -> None:
        nonlocal open_
        open_ = [(r, t, v) for r, t, v in open_ if round(float(v @ x)) == t]

    rng = np.random.default_rng(seed)
    if not stop_at_first_pin:
        for _ in range(random_solves):
            prune(solve(rng.normal(size=len(atom_list))))
            if not open_:
                break
    pinned: list[tuple[frozenset[str], int]] = []
    while open_:
        recs, true, v = open_[0]
        x_min = solve(v)
        prune(x_min)
        if open_ and open_[0][0] is recs:
            x_max = solve(-v)
            prune(x_max)
            if open_ and open_[0][0] is recs:
                pinned.append((recs, true))
                open_ = open_[1:]
                if stop_at_first_pin:
                    break
    return Verdict(pinned, len(vectors), len(atom_list), len(cell_list), solves)

