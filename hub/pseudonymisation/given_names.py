"""Canonical given names from nicknames (Bill, Billy, Will -> WILLIAM), for the ``forename_canonical`` match key.

The name graph is the hand-curated ``nicknames`` package (English given names and their nicknames).
A nickname often belongs to several names (Bill: William, Robert, Willis; Sam: Samuel, Samantha), so
one name is chosen by a fixed rule, the same in every agency's pseudonymiser:

1. the candidates are the name itself and every name the library lists it as a nickname of;
2. prefer the candidate that stands for most of the candidates (itself plus its own nicknames),
   then the one with most nicknames (the fuller, more formal name), then the alphabetically first;
3. repeat from the chosen name until it no longer changes (a cycle resolves to its alphabetically
   first member), so the result is idempotent: canonical(canonical(x)) == canonical(x).

A name the library does not know is its own canonical form. The match key is one token among
several: Fellegi-Sunter weights learn how much its agreement is worth.
"""

from __future__ import annotations

from functools import cache, lru_cache

from nicknames import NickNamer


@cache
def _graph() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    namer = NickNamer()
    nick = {k.upper(): frozenset(v.upper() for v in vs) for k, vs in namer.nickname_lookup.items()}
    canon = {k.upper(): frozenset(v.upper() for v in vs) for k, vs in namer.canonical_lookup.items()}
    return nick, canon


def _step(name: str) -> str:
    nick, canon = _graph()
    candidates = {name} | canon.get(name, frozenset())

    def rank(c: str) -> tuple[int, int, str]:
        covered = len(candidates & ({c} | nick.get(c, frozenset())))
        return (-covered, -len(nick.get(c, ())), c)

    return min(candidates, key=rank)


@lru_cache(maxsize=65536)  # bounded: it holds (normalised) forenames seen by this process
def canonical(name: str) -> str:
    """The canonical form of an upper-case normalised forename (itself if the library does not know it)."""
    seen = [name]
    while True:
        nxt = _step(seen[-1])
        if nxt == seen[-1]:
            return nxt
        if nxt in seen:
            return min(seen[seen.index(nxt):])
        seen.append(nxt)


def known(name: str) -> bool:
    """Whether the nickname library knows the (upper-case) name at all."""
    nick, canon = _graph()
    return name in nick or name in canon
