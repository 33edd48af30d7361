"""Keyed tokens (HMAC-SHA256) and the derived match keys used for linkage.

A token is ``<key id>:<32 hex digits>`` (128 bits; hex because it is fast and case-proof). It names
its key so keys can rotate; it is never a plain hash, so a ten-digit NHS number cannot be recovered
by enumerating all of them.
Match keys follow the ONS "derive and conquer" idea: several tokens per person (exact, phonetic,
prefix, date-of-birth parts and transposition, name pair in either order) so that a typo in one
field still leaves others that agree.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import date

import jellyfish

from hub.pseudonymisation import normalise
from hub.pseudonymisation.keys import KeyRing

LINKAGE = "linkage"
EVENT_ID = "event-id"
Deriver = Callable[[object], dict[str, tuple[str, str]]]
TOKEN_KINDS = ("forename", "surname", "dob", "postcode", "nhs_number", "pnc_id", "reference")


class Tokeniser:
    """Makes tokens for one purpose with the ring's active key (purpose keys are cached)."""

    def __init__(self, ring: KeyRing, purpose: str = LINKAGE) -> None:
        self.ring = ring
        self.purpose = purpose
        self.key_id = ring.active
        self._key = ring.purpose_key(purpose, ring.active)

    def token(self, domain: str, value: str) -> str:
        mac = hmac.new(self._key, domain.encode() + b"\x1f" + value.encode("utf-8"), hashlib.sha256).digest()
        return f"{self.key_id}:{mac[:16].hex()}"

    def match_keys(self, kind: str, value: object) -> dict[str, str]:
        """Tokens for one identifying value, keyed by match-key name; empty if the value is unusable."""
        derive = _DERIVERS.get(kind)
        if derive is None:
            raise ValueError(f"unknown token kind {kind!r}; expected one of {', '.join(TOKEN_KINDS)}")
        return {name: self.token(domain, text) for name, (domain, text) in derive(value).items()}

    def name_pair(self, forename: str | None, surname: str | None) -> dict[str, str]:
        """Order-free token of the two names: agrees when forename and surname were swapped."""
        f, s = normalise.forename(forename), normalise.surname(surname)
        if not f or not s:
            return {}
        return {"name_pair": self.token("name_pair", "\x1f".join(sorted((f, s))))}


def event_id(ring: KeyRing, source: str, record_id: str) -> str:
    """Deterministic event id: same source and record id give the same id, across restarts and rotation."""
    ref = normalise.reference(record_id)
    if not ref:
        raise ValueError("record id is empty")
    key = ring.purpose_key(EVENT_ID, ring.event_key)
    mac = hmac.new(key, f"{source}\x1f{ref}".encode(), hashlib.sha256).digest()
    return "ev-" + mac[:15].hex()


def _forename(value: object) -> dict[str, tuple[str, str]]:
    n = normalise.forename(value if isinstance(value, str) else None)
    if not n:
        return {}
    return {"forename": ("name", n), "forename_phonetic": ("name_phonetic", jellyfish.metaphone(n)),
            "forename_prefix": ("name_prefix", n[:3])}


def _surname(value: object) -> dict[str, tuple[str, str]]:
    n = normalise.surname(value if isinstance(value, str) else None)
    if not n:
        return {}
    return {"surname": ("name", n), "surname_phonetic": ("name_phonetic", jellyfish.metaphone(n)),
            "surname_prefix": ("name_prefix", n[:3])}


def _dob(value: object) -> dict[str, tuple[str, str]]:
    d = normalise.dob(value if isinstance(value, date) else None)
    if d is None:
        return {}
    out = {"dob": ("dob", d.isoformat()), "dob_year": ("dob_year", str(d.year)),
           "dob_month_day": ("dob_month_day", f"{d.month:02d}-{d.day:02d}")}
    # Day and month keyed in swapped: the transposed record's dob token meets this one.
    if d.day <= 12 and d.day != d.month:
        out["dob_transposed"] = ("dob", date(d.year, d.day, d.month).isoformat())
    return out


def _postcode(value: object) -> dict[str, tuple[str, str]]:
    p = normalise.postcode(value if isinstance(value, str) else None)
    if not p:
        return {}
    return {"postcode": ("postcode", p), "postcode_sector": ("postcode_sector", p[:-2])}


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
