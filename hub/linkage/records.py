"""Person records: one person appearance in one shared event, as linkage sees it.

A record holds only what the shared event carries (keyed tokens, never a name or a date), keyed by
``<event id>/<role>``. Token maps may hold one token per match key under several key ids during a key
rotation overlap (``surname`` and ``surname@k2025``); the record groups them by match key so that
comparisons use any key both records carry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from hub.pseudonymisation.tokens import KEY_SEP as KEY_ID_SEP
from hub.pseudonymisation.tokens import match_key_name

KEY_SEP = "/"
NO_TOKENS: frozenset[str] = frozenset()
_ENTRY_NAMES: dict[str, tuple[str, bool]] = {}
"""Token map entry (``forename_del#2@k1``) -> (its match key, whether it names a key id): the entries are
a small vocabulary (match keys x positions x key ids), so each is parsed once per process."""
_ENTRY_NAMES_MAX = 10_000


def record_key(event_id: str, role: str) -> str:
    """``ev-…/victim``: one person's appearance in one event."""
    return f"{event_id}{KEY_SEP}{role}"


def key_id_of(token: str) -> str:
    """The key id a token names (``k1:ab…`` -> ``k1``)."""
    return token.split(":", 1)[0]


def entry_name(entry: str) -> tuple[str, bool]:
    """A token map entry (``forename_del#2@k1``) -> (its match key, whether it names a key id). Entries are
    a small vocabulary (match keys x positions x key ids), so each is parsed once per process."""
    named = _ENTRY_NAMES.get(entry)
    if named is None:
        named = (match_key_name(entry), KEY_ID_SEP in entry)
        if len(_ENTRY_NAMES) < _ENTRY_NAMES_MAX:
            _ENTRY_NAMES[entry] = named
    return named


@dataclass(frozen=True)
class PersonRecord:
    """One person appearance: record key, source, role, the keyed token map and the sex code (M, F, X).

    The tokens grouped by match key (:attr:`by_name`) are worked out on first use: the stream's person
    index reads the flat token map itself, so a mention it links never pays for the grouping."""

    key: str
    source: str
    role: str
    tokens: Mapping[str, str]
    sex: str | None = None

    @cached_property
    def by_name(self) -> Mapping[str, frozenset[str]]:
        """Match key -> its tokens (one per key id the record was made with)."""
        grouped: dict[str, list[str]] = {}
        for entry, token in self.tokens.items():
            name = entry_name(entry)[0]
            group = grouped.get(name)
            if group is None:
                grouped[name] = [token]
            else:
                group.append(token)
        return {name: frozenset(t) for name, t in grouped.items()}

    @cached_property
    def one_key(self) -> bool:
        """All tokens made with one key id (no rotation overlap): blocking takes a fast path."""
        return not any(entry_name(entry)[1] for entry in self.tokens)

    @property
    def event_id(self) -> str:
        return self.key.rsplit(KEY_SEP, 1)[0]

    def get(self, name: str) -> frozenset[str]:
        """All tokens of one match key (one per key id the record was made with); empty if absent."""
        return self.by_name.get(name, NO_TOKENS)

    def agrees(self, other: PersonRecord, name: str, other_name: str | None = None) -> bool:
        """Whether this record's ``name`` tokens meet ``other``'s ``other_name`` (default the same) tokens.

        Different names compare only where their tokens share a domain (``dob_transposed`` with ``dob``,
        ``forename`` with ``surname``); tokens under different key ids never compare equal.
        """
        mine = self.by_name.get(name)
        theirs = other.by_name.get(other_name or name)
        return bool(mine and theirs and not mine.isdisjoint(theirs))


def records_from_event(event: Mapping[str, Any]) -> list[PersonRecord]:
    """The linkable persons of one shared event (persons with no token cannot be linked and are skipped)."""
    source = str(event["source"])
    out = []
    for person in event.get("persons") or ():
        tokens = person.get("tokens") or {}
        if tokens:
            sex = person.get("sex")
            out.append(PersonRecord(record_key(str(event["event_id"]), str(person["role"])), source,
                                    str(person["role"]), dict(tokens), str(sex) if sex else None))
    return out


def records_from_events(events: Iterable[Mapping[str, Any]]) -> list[PersonRecord]:
    """All linkable persons of many shared events, in order."""
    return [record for event in events for record in records_from_event(event)]
