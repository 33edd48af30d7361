"""Finding 8: purposes are separated. Tokens only for the purposes a source is granted, a key per purpose,
and tokens made for two purposes cannot be joined.
"""

from __future__ import annotations

from datetime import date, datetime

from hub.policy import Agreement, example_agreement_path, load_agreement
from hub.pseudonymisation import KeyRing, Pseudonymiser, Tokeniser
from hub.pseudonymisation.tokens import shared_match_keys

RECORD = {"record_id": "ZZ/25/000001", "offence_code": "8N", "occurred_from": datetime(2025, 3, 4, 21, 30),
          "location_lsoa": "E01999001", "victim_forename": "Ann", "victim_surname": "Other",
          "victim_dob": date(2001, 1, 2), "victim_sex": "F", "knife": True}


def without_linkage() -> Agreement:
    text = example_agreement_path().read_text("utf-8")
    old = "    purposes: [sna, hotspot_tasking, linkage]\n"
    assert old in text
    return load_agreement("no-linkage.yaml", text=text.replace(old, "    purposes: [sna, hotspot_tasking]\n", 1))


def test_removing_linkage_from_a_source_removes_its_tokens(agreement: Agreement, ring: KeyRing) -> None:
    linked = Pseudonymiser(agreement, ring).apply("police_incident", RECORD).shared
    assert linked["persons"][0]["tokens"]  # the example agreement links police records
    unlinked = Pseudonymiser(without_linkage(), ring).apply("police_incident", RECORD)
    assert all(p["tokens"] == {} for p in unlinked.shared["persons"])
    assert unlinked.shared["persons"][0]["age_band"] == "18-24"  # the rest still flows
    assert {"victim_forename", "victim_surname"} <= set(unlinked.withheld)


def test_each_purpose_has_its_own_key(ring: KeyRing) -> None:
    keys = {p: ring.purpose_key(p) for p in ("linkage", "sna", "hotspot_tasking", "event-id")}
    assert len(set(keys.values())) == len(keys)


def test_tokens_of_two_purposes_cannot_be_joined(ring: KeyRing) -> None:
    people = [("Ann", "Other", date(2001, 1, 2)), ("Barnaby", "Quillfeather", date(1988, 11, 23))]
    for forename, surname, dob in people:
        a, b = Tokeniser(ring, "linkage"), Tokeniser(ring, "sna")
        left = {**a.match_keys("forename", forename), **a.match_keys("surname", surname), **a.match_keys("dob", dob)}
        right = {**b.match_keys("forename", forename), **b.match_keys("surname", surname),
                 **b.match_keys("dob", dob)}
        assert set(left) == set(right)
        assert shared_match_keys(left, right) == set()
        assert not {v.split(":", 1)[1] for v in left.values()} & {v.split(":", 1)[1] for v in right.values()}
