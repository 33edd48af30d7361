"""Apply an agreement to one raw record, giving one shared (pseudonymised) event.

This is the privacy boundary. The output holds only what the agreement grants, in the shape of the
shared event schema: direct identifiers become keyed tokens or generalised values, everything
else not granted is dropped and its field name (never its value) is reported as withheld.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from hub.policy import Agreement, Output
from hub.policy.conformance import LINKAGE, EventRules
from hub.pseudonymisation import generalise
from hub.pseudonymisation.geography import LSOA_CODE, Area, PostcodeLookup
from hub.pseudonymisation.keys import KeyRing
from hub.pseudonymisation.tokens import EVENT_ID, Tokeniser, event_id_with_key
from hub.reference import normalise_offence_code, offence_codes

SEX_CODES = {"M": "M", "MALE": "M", "F": "F", "FEMALE": "F", "X": "X", "I": "X", "INDETERMINATE": "X"}


class PseudonymisationError(ValueError):
    """A record the boundary cannot turn into a shared event; the message names fields, never values."""


@dataclass
class PseudonymisedEvent:
    shared: dict[str, Any]
    withheld: list[str] = field(default_factory=list)


@dataclass
class _Person:
    role: str
    age_band: str | None = None
    sex: str | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    names: dict[str, Any] = field(default_factory=dict)

    def empty(self) -> bool:
        return self.age_band is None and self.sex is None and not self.tokens


class Pseudonymiser:
    """Turns raw records of any covered source into shared events (thread-safe, no I/O)."""

    def __init__(self, agreement: Agreement, ring: KeyRing, geography: PostcodeLookup | None = None,
                 *, at: str = "hub") -> None:
        """``at`` is where this instance runs (``hub`` or ``source``): a source is pseudonymised only where
        its agreement says, so a health body's raw records that reach the hub are refused, not processed."""
        self.agreement = agreement
        self.at = at
        self.ring = ring
        self.geography = geography
        self.tokeniser = Tokeniser(ring)
        self._event_key = ring.purpose_key(EVENT_ID, ring.event_key)  # derived once, not per event
        self.offences = offence_codes()
        self.rules = EventRules(agreement)

    def apply(self, source: str, record: Mapping[str, Any]) -> PseudonymisedEvent:
        policy = self.agreement.source(source)  # raises NoAgreementError
        if policy.pseudonymise_at != self.at:
            raise PseudonymisationError(f"the agreement has {source} pseudonymised at the {policy.pseudonymise_at}, "
                                        f"not at the {self.at}")
        rid = record.get(policy.record_id)
        if not isinstance(rid, str) or not rid.strip():
            raise PseudonymisationError(f"{policy.record_id} is missing: no event id can be derived")
        when = record.get(policy.event_time)
        if not isinstance(when, date):
            raise PseudonymisationError(f"{policy.event_time} is missing or not a date")
        shared: dict[str, Any] = {
            "event_id": event_id_with_key(self._event_key, source, rid), "source": source,
            "agreement_id": self.agreement.id, "agreement_version": self.agreement.version,
            "key_id": self.tokeniser.key_id, "flags": {}, "attributes": {}, "persons": [],
            "withheld_fields": [],
        }
        persons: dict[str, _Person] = {}
        withheld: list[str] = []
        tokens_granted = LINKAGE in policy.purposes
        for name, value in record.items():
            rules = policy.fields.get(name)
            if value is None:
                continue
            if rules and not tokens_granted:  # tokens serve linkage only: none for a source not linked
                rules = tuple(o for o in rules if o.treatment != "token")
            if not rules or all(o.treatment == "drop" for o in rules):
                withheld.append(name)
                continue
            for out in rules:
                self._apply_one(out, name, value, when, shared, persons)
        for person in persons.values():
            person.tokens.update(self.tokeniser.name_pair(person.names.get("forename"),
                                                          person.names.get("surname")))
        shared["persons"] = [
            {"role": p.role, "age_band": p.age_band, "sex": p.sex, "tokens": dict(sorted(p.tokens.items()))}
            for p in persons.values() if not p.empty()]
        shared["withheld_fields"] = sorted(withheld)
        problems = self.rules.problems(shared, at=self.at)
        if problems:  # a name in a coded field, say: refused here, never published
            raise PseudonymisationError("the event does not conform to the agreement: " + "; ".join(problems))
        return PseudonymisedEvent(shared, sorted(withheld))

    def _apply_one(self, out: Output, name: str, value: Any, when: date, shared: dict[str, Any],
                   persons: dict[str, _Person]) -> None:
        if out.treatment == "drop":
            return
        if out.treatment == "token":
            assert out.person and out.kind
            person = persons.setdefault(out.person, _Person(out.person))
            person.tokens.update(self.tokeniser.match_keys(out.kind, value))
            if out.kind in ("forename", "surname"):
                person.names[out.kind] = value
            return
        assert out.target
        result = value if out.treatment == "keep" else self._generalise(out, name, value, when)
        if result is None:
            return
        self._put(out.target, result, shared, persons)

    def _generalise(self, out: Output, name: str, value: Any, when: date) -> Any:
        method = out.method
        if method in generalise.DATE_METHODS:
            if not isinstance(value, date):
                raise PseudonymisationError(f"{name} is not a date, cannot generalise to {method}")
            if method == "hour" and not isinstance(value, datetime):
                return None
            return generalise.by_date_method(value, method)
        if method == "age_band":
            if isinstance(value, int) and not isinstance(value, bool):
                return generalise.band_of_age(value)
            if not isinstance(value, date):
                raise PseudonymisationError(f"{name} is neither a date of birth nor an age")
            on = when.date() if isinstance(when, datetime) else when
            return generalise.age_band(value, on)
        if method in ("lsoa", "msoa", "lad"):
            area = self._area(str(value))
            if area is None:
                return None
            return {"lsoa": area.lsoa, "msoa": area.msoa, "lad": area.lad}[method]
        if method == "offence_category":
            offence = self.offences.get(normalise_offence_code(str(value)))
            return offence.category if offence else None
        if method == "sex":
            return SEX_CODES.get(str(value).strip().upper())
        raise PseudonymisationError(f"{name}: unsupported generalisation {method}")  # pragma: no cover

    def _area(self, value: str) -> Area | None:
        code = value.strip().upper()
        if LSOA_CODE.match(code):
            return self.geography.by_lsoa(code) if self.geography else Area(code, None, None)
        return self.geography.by_postcode(value) if self.geography else None

    @staticmethod
    def _put(target: str, value: Any, shared: dict[str, Any], persons: dict[str, _Person]) -> None:
        head, _, rest = target.partition(".")
        if head == "flags":
            shared["flags"][rest] = bool(value)
        elif head == "attributes":
            shared["attributes"][rest] = value.isoformat() if isinstance(value, date) else str(value)
        elif head == "person":
            role, _, attr = rest.partition(".")
            person = persons.setdefault(role, _Person(role))
            if getattr(person, attr) is None:
                setattr(person, attr, value)
        elif shared.get(target) is None:  # the first rule that resolves wins
            shared[target] = value

