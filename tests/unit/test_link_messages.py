"""Tokens are split off the shared event before it is sent; the link stage's messages round-trip."""

from __future__ import annotations

import re
from datetime import date

from hub.linkage.messages import LINK_TOKENS, LINKED_EVENT, linked_event, records_of, split_tokens
from hub.linkage.model_file import DEFAULT_FILE
from hub.policy import Agreement
from hub.pseudonymisation import KeyRing, Pseudonymiser
from hub.schemas import SHARED_EVENT, default_repository
from hub.streams.link import LinkState

TOKEN = re.compile(rb"[A-Za-z0-9_-]+:[0-9a-f]{32}")


def _event(agreement: Agreement, ring: KeyRing, rid: str) -> dict[str, object]:
    record = {"record_id": rid, "occurred_from": date(2025, 3, 4), "offence_code": "8N",
              "victim_forename": "Ann", "victim_surname": "Lee", "victim_dob": date(1990, 1, 2),
              "suspect_forename": "Bob", "suspect_surname": "Stone"}
    return Pseudonymiser(agreement, ring).apply("police_incident", record).shared


def test_the_shared_event_keeps_no_token_and_the_token_message_has_them_all(agreement: Agreement,
                                                                            ring: KeyRing) -> None:
    full = _event(agreement, ring, "ZZ/25/1")
    shared, tokens = split_tokens(full)
    schemas = default_repository()
    assert not TOKEN.search(schemas.encode(SHARED_EVENT, shared))
    assert [p["role"] for p in shared["persons"]] == [p["role"] for p in full["persons"]]  # type: ignore[index]
    assert tokens is not None
    decoded = schemas.decode(schemas.encode(LINK_TOKENS, tokens), expect=LINK_TOKENS)[1]
    assert {p["role"]: p["tokens"] for p in decoded["persons"]} == {
        p["role"]: p["tokens"] for p in full["persons"] if p["tokens"]}  # type: ignore[union-attr]
    assert split_tokens({**full, "persons": [{"role": "patient", "age_band": "18-24", "sex": "F",
                                              "tokens": {}}]})[1] is None


def test_the_link_stage_links_a_message_and_publishes_no_token(agreement: Agreement, ring: KeyRing) -> None:
    schemas = default_repository()
    state = LinkState(DEFAULT_FILE, schemas)
    first = split_tokens(_event(agreement, ring, "ZZ/25/1"))[1]
    again = split_tokens(_event(agreement, ring, "ZZ/25/2"))[1]
    assert first is not None and again is not None
    one = state.link(state.decode(schemas.encode(LINK_TOKENS, first)))
    two = state.link(again)
    assert one["victim"].person_id == two["victim"].person_id  # same name and date of birth
    assert one["suspect"].person_id != two["suspect"].person_id  # a name alone: too little
    out = linked_event(again, two, DEFAULT_FILE.version)
    payload = schemas.encode(LINKED_EVENT, out)
    assert not TOKEN.search(payload)
    assert len(records_of(again)) == 2
