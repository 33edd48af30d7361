"""Keyed tokens (HMAC-SHA256) and the derived match keys used for linkage.

A token is ``<key id>:<32 hex digits>`` (128 bits; hex because it is fast and case-proof). It names
its key so keys can rotate; it is never a plain hash, so a ten-digit NHS number cannot be recovered
by enumerating all of them.
Match keys follow the ONS "derive and conquer" idea: several tokens per person (exact, phonetic,
prefix, canonical form of a nickname, the one-deletion neighbourhood of each name, date-of-birth parts
and transposition, name pair in either order, full postcode and sector) so that a typo or a nickname
in one field still leaves others that agree.

Multi-valued match keys: the one-deletion neighbourhood (SymSpell-style: the name and every string one
letter shorter) gives several tokens; they are entries ``forename_del#0``, ``forename_del#1``, ... of one
match key ``forename_del``. Two names one edit apart (a deletion, an insertion, a substitution, or two
adjacent letters swapped) share at least one of them, so a typo stays comparable after hashing.
A date of birth that is impossible as a whole (month 13, day 42) still gives the tokens of its valid
parts (year, month, day on their own).

Rotation: while the key ring holds a previous key in its overlap, every match key is also emitted
under that key as ``<match key>@<previous key id>``. A record tokenised before the rotation and
one tokenised during the overlap then share tokens (:func:`shared_match_keys`); event ids stay on
the ring's event key throughout.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import jellyfish

from hub.policy.agreement import TOKEN_KINDS as AGREEMENT_TOKEN_KINDS
from hub.pseudonymisation import given_names, normalise
from hub.pseudonymisation.keys import KeyRing

LINKAGE = "linkage"
EVENT_ID = "event-id"
Deriver = Callable[[object], dict[str, tuple[str, str]]]
TOKEN_KINDS = AGREEMENT_TOKEN_KINDS  # one list: what an agreement may ask for is what can be derived


class KeyedHash:
    """HMAC-SHA256 (RFC 2104) under one key, with the key's padded states hashed once.

    ``hmac.new`` per token re-derives both padded key blocks every time: two of its four SHA-256
    compressions, plus a Python object, for each of ~20 tokens per event. Here the inner state also
    holds the domain prefix, so each MAC is two state copies and two short updates. The result is
    byte for byte ``hmac.digest(key, domain + b"\\x1f" + value, "sha256")`` (a unit test checks it).
    """

    __slots__ = ("_domains", "_inner", "_macs", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        block = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(block.translate(hmac.trans_36))
        self._outer = hashlib.sha256(block.translate(hmac.trans_5C))
        self._domains: dict[str, Any] = {}
        self._macs: dict[tuple[str, str], str] = {}  # (domain, text) -> 32 hex digits; see ``tokens``

    def _domain(self, domain: str) -> Any:
        state = self._domains[domain] = self._inner.copy()
        state.update(domain.encode() + b"\x1f")
        return state

    def forget(self) -> None:
        """Forget the remembered MACs (a benchmark starts each repeat cold)."""
        self._macs.clear()

    def digest(self, domain: str, value: bytes) -> bytes:
        """The MAC of ``domain \\x1f value``; the state after the domain is kept (domains are few)."""
        inner = (self._domains.get(domain) or self._domain(domain)).copy()
        inner.update(value)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def mac(self, pair: tuple[str, str]) -> str:
        """The 32 hex digits of ``tokens``' token of one derived ``(domain, text)`` (remembered the same way,
        except in a domain of whole values, ``WHOLE_VALUE_DOMAINS``)."""
        mac = self._macs.get(pair)
        if mac is None:
            mac = self.mac_once(pair)
            if pair[0] not in WHOLE_VALUE_DOMAINS:
                if len(self._macs) >= _MACS_REMEMBERED:
                    self._macs.clear()
                self._macs[pair] = mac
        return mac

    def mac_once(self, pair: tuple[str, str]) -> str:
        """``mac`` of a pair in a domain of whole values (``WHOLE_VALUE_DOMAINS``), which ``mac`` never remembers:
        made without looking for it among the remembered ones."""
        return self.digest(pair[0], pair[1].encode()).hex()[:32]  # 128 bits

    def tokens(self, label: str, derived: Mapping[str, tuple[str, str]], suffix: str = "") -> dict[str, str]:
        """``{name + suffix: "<label>:<32 hex>"}`` for derived ``{name: (domain, text)}``.

        MACs of texts met recently are remembered (bounded, per key; ``mac``): a date of birth seen for the first
        time still shares its year, month and day with many others, and a name's neighbourhood holds the
        name itself (``forename_nbr``), so about half of a new person's tokens were made before.
        """
        out = {}
        prefix, macs, make = label + ":", self._macs, self.mac
        for name, pair in derived.items():
            out[name + suffix] = prefix + (macs.get(pair) or make(pair))
        return out


WHOLE_VALUE_DOMAINS = frozenset({"dob", "name_pair", "postcode", "nhs_number", "pnc_id", "reference"})
"""Domains whose text is a whole identifying value (a full date of birth, a name pair, an NHS number): such an
entry comes back only with its value, whose tokens a plan already remembers per value, so its MAC and map entry
are made without being remembered (``KeyedHash.mac``, ``TokenMint``): kept, they would only fill the memories
and the garbage collector's work on data where nearly every value is new."""

_BLOCK = 64  # SHA-256 block size in bytes
_MACS_REMEMBERED = 1 << 15
"""MACs a ``KeyedHash`` remembers before it forgets them all (about 5 MiB when full)."""


class Tokeniser:
    """Makes tokens for one purpose with the ring's active key (purpose keys are cached).

    ``clock`` (UTC now) decides whether a previous key's overlap is still running; a long-running
    worker stops emitting previous-key tokens by itself when the overlap ends.
    """

    def __init__(self, ring: KeyRing, purpose: str = LINKAGE, clock: Callable[[], datetime] | None = None) -> None:
        self.ring = ring
        self.purpose = purpose
        self.key_id = ring.active
        self._key = ring.purpose_key(purpose, ring.active)
        self._hash = KeyedHash(self._key)
        # the key's KeyedHash methods themselves (no frame of this class's between a plan and the hash, per new entry)
        self.mac_of: Callable[[tuple[str, str]], str] = self._hash.mac
        """``token_of`` without the key id and colon before its 32 hex digits."""
        self.mac_once: Callable[[tuple[str, str]], str] = self._hash.mac_once
        """``mac_of`` of a pair in a domain of whole values (``WHOLE_VALUE_DOMAINS``; ``KeyedHash.mac_once``)."""
        self._clock = clock
        self._previous = {kid: KeyedHash(ring.purpose_key(purpose, kid)) for kid in ring.overlap
                          if kid != ring.active}

    def token(self, domain: str, value: str) -> str:
        return _token(self._hash, self.key_id, domain, value)

    def forget(self) -> None:
        """Forget the MACs remembered under every key of this tokeniser."""
        self._hash.forget()
        for keyed in self._previous.values():
            keyed.forget()

    def overlap_key_ids(self) -> list[str]:
        """Previous key ids whose overlap is running now."""
        if not self._previous:
            return []
        now = self._clock() if self._clock else None
        return [kid for kid in self.ring.overlap_keys(now) if kid in self._previous]

    def tokens(self, derived: Mapping[str, tuple[str, str]]) -> dict[str, str]:
        """Tokens of derived match keys (name -> (domain, normalised text)), plus previous-key tokens in an
        overlap. The hot path: a compiled plan derives once and calls this once per identifying field."""
        return self.tokens_under(derived, self.overlap_key_ids() if self._previous else ())

    @property
    def rotating(self) -> bool:
        """Whether previous keys may add tokens (then which ones depends on the clock: ``overlap_key_ids``)."""
        return bool(self._previous)

    def tokens_under(self, derived: Mapping[str, tuple[str, str]], overlap: Sequence[str]) -> dict[str, str]:
        """``tokens`` with the running overlap's previous key ids given (a cache keys on them)."""
        out = self._hash.tokens(self.key_id, derived)
        for kid in overlap:
            out.update(self._previous[kid].tokens(kid, derived, KEY_SEP + kid))
        return out

    def token_of(self, pair: tuple[str, str]) -> str:
        """The active key's token of one derived ``(domain, text)``: ``tokens`` of ``{name: pair}`` holds it."""
        return self.key_id + ":" + self._hash.mac(pair)

    def match_keys(self, kind: str, value: object) -> dict[str, str]:
        """Tokens for one identifying value, keyed by match-key name; empty if the value is unusable."""
        return self.tokens(deriver(kind)(value))

    def name_pair(self, forename: str | None, surname: str | None) -> dict[str, str]:
        """Order-free token of the two names: agrees when forename and surname were swapped."""
        return self.tokens(name_pair_keys(normalise.forename(forename), normalise.surname(surname)))


KEY_SEP = "@"
MULTI_SEP = "#"
"""``forename_del#3``: the fourth token of the multi-valued match key ``forename_del``."""


def _token(keyed: KeyedHash, key_id: str, domain: str, value: str) -> str:
    return f"{key_id}:{keyed.digest(domain, value.encode('utf-8'))[:16].hex()}"


def deriver(kind: str) -> Deriver:
    """The derivation of a token family (raises for a family nothing derives); plans resolve it once."""
    derive = _DERIVERS.get(kind)
    if derive is None:
        raise ValueError(f"unknown token kind {kind!r}; expected one of {', '.join(TOKEN_KINDS)}")
    return derive


def name_pair_keys(forename: str | None, surname: str | None) -> dict[str, tuple[str, str]]:
    """The order-free name pair of already normalised names (empty unless both are usable)."""
    if not forename or not surname:
        return {}
    return {"name_pair": ("name_pair", "\x1f".join(sorted((forename, surname))))}


def match_key_name(entry: str) -> str:
    """``surname@k2025`` -> ``surname``, ``forename_del#2@k1`` -> ``forename_del``: an entry's match key."""
    return entry.split(KEY_SEP, 1)[0].split(MULTI_SEP, 1)[0]


def shared_match_keys(a: Mapping[str, str], b: Mapping[str, str]) -> set[str]:
    """Match keys on which two people's token maps agree, under any key both carry.

    Tokens name their key, so tokens made with different keys never compare equal; a record made
    during a rotation overlap carries both keys' tokens and so agrees with records made before it.
    """
    def by_name(tokens: Mapping[str, str]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for entry, token in tokens.items():
            out.setdefault(match_key_name(entry), set()).add(token)
        return out

    left, right = by_name(a), by_name(b)
    return {name for name, tokens in left.items() if tokens & right.get(name, set())}


def event_id(ring: KeyRing, source: str, record_id: str) -> str:
    """Deterministic event id: same source and record id give the same id, across restarts and rotation."""
    return event_id_with_key(ring.purpose_key(EVENT_ID, ring.event_key), source, record_id)


def event_id_with_key(key: bytes, source: str, record_id: str) -> str:
    """``event_id`` with the event-id purpose key already derived (the per-event hot path caches it).

    The record id is taken exactly (outer spaces aside): ``ab 12`` and ``AB12`` are two records, and
    folding them together would let one overwrite the other in the mart."""
    ref = normalise.record_id(record_id)
    if not ref:
        raise ValueError("record id is empty")
    mac = hmac.digest(key, f"{source}\x1f{ref}".encode(), "sha256")  # one-shot
    return "ev-" + mac[:15].hex()


def deletion_neighbourhood(name: str) -> list[str]:
    """The name and every string one letter shorter (distinct, sorted): SymSpell's distance-1 deletes.

    Names of three letters or fewer give only themselves: their deletes (two letters) agree by chance.
    """
    if len(name) <= 3:
        return [name]
    return sorted({name} | {name[:i] + name[i + 1:] for i in range(len(name))})


def _multi(name: str, domain: str, values: list[str]) -> dict[str, tuple[str, str]]:
    keys = _MULTI_KEYS.get(name)
    if keys is None or len(keys) < len(values):  # the entries' names are made once, not per new name
        keys = _MULTI_KEYS[name] = [f"{name}{MULTI_SEP}{i}" for i in range(max(len(values), 32))]
    return {key: (domain, v) for key, v in zip(keys[:len(values)], values, strict=True)}  # a name per value


_MULTI_KEYS: dict[str, list[str]] = {}
"""``forename_del`` -> ``["forename_del#0", "forename_del#1", ...]`` (two match keys use it)."""


class EventIds:
    """``event_id`` for one source with the key's states hashed once (a compiled plan holds one)."""

    __slots__ = ("_hash", "_source")

    def __init__(self, key: bytes, source: str) -> None:
        self._hash = KeyedHash(key)
        self._source = source

    def __call__(self, record_id: str) -> str:
        ref = normalise.record_id(record_id)  # exact: "ab 12" and "AB12" are two records
        if not ref:
            raise ValueError("record id is empty")
        return "ev-" + self._hash.digest(self._source, ref.encode())[:15].hex()


def _forename(value: object) -> dict[str, tuple[str, str]]:
    n = normalise.forename(value if isinstance(value, str) else None)
    if not n:
        return {}
    out = {"forename": ("name", n), "forename_phonetic": ("name_phonetic", jellyfish.metaphone(n)),
           "forename_prefix": ("name_prefix", n[:3]),
           "forename_canonical": ("name_canonical", given_names.canonical(n))}
    # The neighbourhood, and the name itself in its domain (``forename_nbr``), so blocking can pair a name
    # with the other's neighbourhood (one edit apart) without every pair of the two neighbourhoods.
    out.update(_multi("forename_del", "name_del", deletion_neighbourhood(n)))  # one domain: compared crosswise
    out["forename_nbr"] = ("name_del", n)
    return out


def _surname(value: object) -> dict[str, tuple[str, str]]:
    n = normalise.surname(value if isinstance(value, str) else None)
    if not n:
        return {}
    out = {"surname": ("name", n), "surname_phonetic": ("name_phonetic", jellyfish.metaphone(n)),
           "surname_prefix": ("name_prefix", n[:3])}
    out.update(_multi("surname_del", "name_del", deletion_neighbourhood(n)))
    out["surname_nbr"] = ("name_del", n)
    return out


_DOB_TEXT = (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), re.compile(r"^(\d{4})(\d{2})(\d{2})$"))
_DOB_TEXT_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


def dob_parts(value: object) -> tuple[int | None, int | None, int | None]:
    """(year, month, day) of a date of birth, each None where it is missing or impossible on its own.

    Accepts a date or text (``YYYY-MM-DD``, ``YYYYMMDD``, ``DD/MM/YYYY``), so a date that is impossible
    as a whole (``1985-13-42``) still yields its valid year.
    """
    if isinstance(value, date):
        valid = normalise.dob(value)
        return (valid.year, valid.month, valid.day) if valid else (None, None, None)
    if not isinstance(value, str):
        return (None, None, None)
    text = value.strip()
    parts: tuple[str, str, str] | None = None
    for pattern in _DOB_TEXT:
        if m := pattern.match(text):
            parts = (m.group(1), m.group(2), m.group(3))
    if m := _DOB_TEXT_DMY.match(text):
        parts = (m.group(3), m.group(2), m.group(1))
    if parts is None:
        return (None, None, None)
    y, mo, dd = (int(p) for p in parts)
    year = y if 1901 <= y <= date.today().year else None
    return (year, mo if 1 <= mo <= 12 else None, dd if 1 <= dd <= 31 else None)


def _dob(value: object) -> dict[str, tuple[str, str]]:
    if type(value) is date:  # what Avro gives: the parts of a valid date are valid, checked once
        return _dob_of_date(value)
    return _dob_general(value)


def _dob_of_date(value: date) -> dict[str, tuple[str, str]]:
    """``_dob_general`` of a date (the same map), without parsing it back into parts and checking it twice;
    the (domain, text) of each year, month, day and month-day, and the ISO text's ``-MM-DD``, are made once
    (the tables below), not per date."""
    d = normalise.dob(value)
    if d is None:
        return {}
    if d.year < 1000:  # pragma: no cover - normalise.dob keeps 120 years back: never fewer than four digits
        return _dob_general(d)
    month, day = d.month, d.day
    year = _DOB_YEARS.get(d.year)
    if year is None:
        year = _DOB_YEARS[d.year] = ("dob_year", str(d.year))  # 120 years or so
    # d.isoformat() (and the transposed date's), written from the ready parts
    out = {"dob_year": year, "dob_month": _DOB_MONTHS[month], "dob_day": _DOB_DAYS[day],
           "dob_month_day": _DOB_MONTH_DAYS[month][day], "dob": ("dob", year[1] + _ISO_MONTH_DAYS[month][day])}
    if day <= 12 and day != month:  # a real date: its day is a month and its month a day of any month
        out["dob_transposed"] = ("dob", year[1] + _ISO_MONTH_DAYS[day][month])
    return out


_DOB_MONTHS = [("dob_month", str(m)) for m in range(13)]
_DOB_DAYS = [("dob_day", str(d)) for d in range(32)]
_DOB_MONTH_DAYS = [[("dob_month_day", f"{m:02d}-{d:02d}") for d in range(32)] for m in range(13)]
_DOB_YEARS: dict[int, tuple[str, str]] = {}
_ISO_MONTH_DAYS = [[f"-{m:02d}-{d:02d}" for d in range(32)] for m in range(13)]


def _dob_general(value: object) -> dict[str, tuple[str, str]]:
    year, month, day = dob_parts(value)
    out: dict[str, tuple[str, str]] = {}
    if year is not None:
        out["dob_year"] = ("dob_year", str(year))
    if month is not None:
        out["dob_month"] = ("dob_month", str(month))
    if day is not None:
        out["dob_day"] = ("dob_day", str(day))
    if month is not None and day is not None:
        out["dob_month_day"] = ("dob_month_day", f"{month:02d}-{day:02d}")
    if year is None or month is None or day is None:
        return out
    try:
        d = normalise.dob(date(year, month, day))
    except ValueError:  # 31 February: the parts stand, the whole does not
        return out
    if d is None:
        return out
    out["dob"] = ("dob", d.isoformat())
    # Day and month keyed in swapped: the transposed record's dob token meets this one.
    if d.day <= 12 and d.day != d.month:
        out["dob_transposed"] = ("dob", date(d.year, d.day, d.month).isoformat())
    return out


_OTHER_POSTCODE = re.compile(r"^\d{4,5}$")


def _postcode(value: object) -> dict[str, tuple[str, str]]:
    """UK postcode and sector; a four- or five-digit postcode (other countries' test data) and all but
    its last digit."""
    text = value if isinstance(value, str) else None
    p = normalise.postcode(text)
    if p:
        return {"postcode": ("postcode", p), "postcode_sector": ("postcode_sector", p[:-2])}
    digits = text.strip() if text else ""
    if _OTHER_POSTCODE.match(digits):
        return {"postcode": ("postcode", digits), "postcode_sector": ("postcode_sector", digits[:-1])}
    return {}




def _simple(norm: Callable[[str | None], str | None], domain: str) -> Deriver:
    def derive(value: object) -> dict[str, tuple[str, str]]:
        n = norm(value if isinstance(value, str) else None)
        return {domain: (domain, n)} if n else {}
    return derive


_DERIVERS: dict[str, Deriver] = {
    "forename": _forename,
    "surname": _surname,
    "dob": _dob,
    "postcode": _postcode,
    "nhs_number": _simple(normalise.nhs_number, "nhs_number"),
    "pnc_id": _simple(normalise.pnc_id, "pnc_id"),
    "reference": _simple(normalise.reference, "reference"),
}
