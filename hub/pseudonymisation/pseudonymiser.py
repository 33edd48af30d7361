"""Apply an agreement to one raw record, giving one shared (pseudonymised) event.

This is the privacy boundary. The output holds only what the agreement grants, in the shape of the
shared event schema: direct identifiers become keyed tokens or generalised values, everything
else not granted is dropped and its field name (never its value) is reported as withheld.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from hub.policy import Agreement
from hub.policy.conformance import EventRules
from hub.pseudonymisation.geography import PostcodeLookup
from hub.pseudonymisation.keys import KeyRing
from hub.pseudonymisation.ops import PseudonymisationError
from hub.pseudonymisation.plan import SEX_CODES, PlanContext, SourcePlan
from hub.pseudonymisation.tokens import EVENT_ID, LINKAGE, Tokeniser
from hub.reference import offence_codes

__all__ = ["SEX_CODES", "PseudonymisationError", "PseudonymisedEvent", "Pseudonymiser"]


@dataclass(slots=True)
class PseudonymisedEvent:
    shared: dict[str, Any]
    withheld: list[str] = field(default_factory=list)


class Pseudonymiser:
    """Turns raw records of any covered source into shared events (thread-safe, no I/O).

    Each source's agreement is compiled into a :class:`SourcePlan` the first time the source is seen
    (see ``plan.py`` for why); a new agreement or key ring means a new ``Pseudonymiser``.
    """

    def __init__(self, agreement: Agreement, ring: KeyRing, geography: PostcodeLookup | None = None,
                 *, at: str = "hub") -> None:
        """``at`` is where this instance runs (``hub`` or ``source``): a source is pseudonymised only where
        its agreement says, so a health body's raw records that reach the hub are refused, not processed."""
        self.agreement = agreement
        self.at = at
        self.ring = ring
        self.geography = geography
        self.tokeniser = Tokeniser(ring)
        self._tokenisers: dict[str, Tokeniser] = {LINKAGE: self.tokeniser}
        self.offences = offence_codes()
        self.rules = EventRules(agreement)  # every output is checked against the agreement before it leaves
        self._context = PlanContext(
            agreement_id=agreement.id, agreement_version=agreement.version, at=at,
            event_key=ring.purpose_key(EVENT_ID, ring.event_key),  # derived once, not per event
            geography=geography, offences=self.offences, tokeniser_for=self.tokeniser_for, token_purpose=LINKAGE,
            conformance=lambda shared: self.rules.problems(shared, at=at),
            output_tests=partial(self.rules.output_tests, at=at), token_check=self.rules.keyed_tokens,
            token_entry_check=self.rules.keyed_token, token_mac_check=self.rules.keyed_mac_token)
        self._plans: dict[str, SourcePlan] = {}

    def tokeniser_for(self, purpose: str) -> Tokeniser:
        """The tokeniser keyed for ``purpose`` (one per purpose, built once)."""
        tok = self._tokenisers.get(purpose)
        if tok is None:
            tok = self._tokenisers[purpose] = Tokeniser(self.ring, purpose)
        return tok

    def plan(self, source: str) -> SourcePlan:
        """The compiled plan of ``source`` (raises ``NoAgreementError`` for a source the agreement lacks)."""
        plan = self._plans.get(source)
        if plan is None:
            plan = self._plans[source] = SourcePlan(source, self.agreement.source(source), self._context)
        return plan

    def apply(self, source: str, record: Mapping[str, Any]) -> PseudonymisedEvent:
        shared, withheld = self.plan(source).apply(record)
        return PseudonymisedEvent(shared, withheld)
