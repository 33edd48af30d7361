"""The privacy boundary: an agreement applied to raw records.

The canary property plants known identifiers in a raw record and proves none survive in the shared
event, neither in its Python form nor in its Avro bytes.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hub.policy import Agreement, NoAgreementError, load_agreement
from hub.pseudonymisation import (
    Area,
    KeyRing,
    PostcodeLookup,
    PseudonymisationError,
    Pseudonymiser,
    Tokeniser,
    event_id,
)
from hub.pseudonymisation.normalise import PLACEHOLDERS, TITLES
from hub.pseudonymisation.tokens import match_key_name
from hub.schemas import SHARED_EVENT, SchemaRepository

EVENT_TIME = datetime(2025, 3, 4, 21, 30)
LSOA, MSOA, LAD = "E01999001", "E02999001", "E06000099"
TOKENISH = re.compile(r"[a-z0-9]+:[0-9a-f]{32}|ev-[0-9a-f]{30}")


def raw_record(**overrides: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "record_id": "ZZ/25/000001", "offence_code": "8N", "offence_description": "Assault with injury",
        "occurred_from": EVENT_TIME, "occurred_to": None, "reported_at": datetime(2025, 3, 5, 9, 0),
        "location_postcode": "ZZ1 0FW", "location_lsoa": None,
        "victim_forename": "Canary", "victim_surname": "Tweetington-Smythe", "victim_dob": date(1991, 4, 7),
        "victim_sex": "F", "suspect_forename": "Barnaby", "suspect_surname": "Quillfeather",
        "suspect_dob": date(1988, 11, 23), "suspect_sex": "Male", "domestic_abuse": False, "knife": True,
        "firearm": None, "alcohol": True, "outcome_code": "15",
        "narrative": "Canary Tweetington-Smythe was cut by Barnaby at ZZ1 0FW",
    }
    rec.update(overrides)
    return rec


def lookup_for(*postcodes: str) -> PostcodeLookup:
    area = Area(LSOA, MSOA, LAD)
    by_pc = {pc: area for pc in postcodes}
    return PostcodeLookup(by_pc, {LSOA: area})


@pytest.fixture(scope="module")
def pseudonymiser(agreement: Agreement, ring: KeyRing) -> Pseudonymiser:
    return Pseudonymiser(agreement, ring, lookup_for("ZZ1 0FW"))


def with_text(example_text: str, old: str, new: str) -> Agreement:
    assert old in example_text, old  # the first occurrence is in police_incident, the first source
    return load_agreement("modified.yaml", text=example_text.replace(old, new, 1))


def person(shared: dict[str, Any], role: str) -> dict[str, Any] | None:
    return next((p for p in shared["persons"] if p["role"] == role), None)


# --- what flows -----------------------------------------------------------------------------------

def test_example_record_becomes_the_expected_shared_event(pseudonymiser: Pseudonymiser, ring: KeyRing) -> None:
    shared = pseudonymiser.apply("police_incident", raw_record()).shared
    assert shared["event_id"] == event_id(ring, "police_incident", "ZZ/25/000001")
    assert (shared["source"], shared["agreement_id"], shared["agreement_version"], shared["key_id"]) == (
        "police_incident", "example-county-svd", "1.1", "k1")
    assert shared["occurred_date"] == date(2025, 3, 4)
    assert shared["occurred_week"] == "2025-W10" and shared["occurred_month"] == "2025-03"
    assert shared["occurred_hour"] == 21
    assert (shared["lsoa_code"], shared["msoa_code"], shared["lad_code"]) == (LSOA, MSOA, LAD)
    assert shared["offence_code"] == "8N" and shared["offence_category"] == "violence_with_injury"
    assert shared["flags"] == {"domestic_abuse": False, "knife": True, "alcohol": True}  # firearm None: absent
    assert shared["attributes"] == {"outcome_code": "15"}
    victim, suspect = person(shared, "victim"), person(shared, "suspect")
    assert victim is not None and suspect is not None
    assert victim["age_band"] == "25-34" and victim["sex"] == "F"
    assert suspect["age_band"] == "35-44" and suspect["sex"] == "M"
    assert {"forename", "forename_phonetic", "forename_prefix", "forename_canonical", "forename_del", "forename_nbr",
            "surname", "surname_phonetic", "surname_prefix", "surname_del", "surname_nbr", "dob", "dob_year",
            "dob_month", "dob_day", "dob_month_day", "dob_transposed",
            "name_pair"} == {match_key_name(entry) for entry in victim["tokens"]}
    tok = Tokeniser(ring)
    assert victim["tokens"]["surname"] == tok.match_keys("surname", "Tweetington-Smythe")["surname"]
    assert victim["tokens"]["name_pair"] == tok.name_pair("Canary", "Tweetington-Smythe")["name_pair"]


def test_output_encodes_with_the_shared_event_schema(pseudonymiser: Pseudonymiser, repo: SchemaRepository) -> None:
    shared = pseudonymiser.apply("police_incident", raw_record()).shared
    name, decoded = repo.decode(repo.encode(SHARED_EVENT, shared), expect=SHARED_EVENT)
    assert name == SHARED_EVENT
    assert decoded == {**{f: None for f in repo.get(SHARED_EVENT).field_names}, **shared}


def test_sparse_record_encodes(pseudonymiser: Pseudonymiser, repo: SchemaRepository) -> None:
    rec = {"record_id": "A1", "offence_code": "8N", "occurred_from": date(2025, 3, 4)}  # a date, no time
    shared = pseudonymiser.apply("police_incident", rec).shared
    assert shared["persons"] == [] and shared.get("occurred_hour") is None and shared.get("lsoa_code") is None
    assert shared["occurred_week"] == "2025-W10"
    repo.encode(SHARED_EVENT, shared)


def test_same_record_same_event(pseudonymiser: Pseudonymiser, ring: KeyRing, agreement: Agreement) -> None:
    a = pseudonymiser.apply("police_incident", raw_record()).shared
    b = Pseudonymiser(agreement, KeyRing(keys=dict(ring.keys), active="k1", event_key="k1"),
                      lookup_for("ZZ1 0FW")).apply("police_incident", raw_record()).shared
    assert a == b
    c = pseudonymiser.apply("police_incident", raw_record(record_id="ZZ/25/000002")).shared
    assert c["event_id"] != a["event_id"]


def test_lsoa_given_directly_is_used_when_postcode_does_not_resolve(pseudonymiser: Pseudonymiser) -> None:
    shared = pseudonymiser.apply("police_incident", raw_record(location_postcode="QQ9 9QQ",
                                                               location_lsoa=LSOA)).shared
    assert (shared["lsoa_code"], shared["msoa_code"], shared["lad_code"]) == (LSOA, MSOA, LAD)
    nowhere = pseudonymiser.apply("police_incident", raw_record(location_postcode="QQ9 9QQ")).shared
    assert nowhere.get("lsoa_code") is None and nowhere.get("msoa_code") is None


def test_unknown_sex_and_offence_are_not_invented(pseudonymiser: Pseudonymiser) -> None:
    shared = pseudonymiser.apply("police_incident", raw_record(victim_sex="U", offence_code="8N",
                                                               suspect_sex=None)).shared
    victim, suspect = person(shared, "victim"), person(shared, "suspect")
    assert victim is not None and victim["sex"] is None
    assert suspect is not None and suspect["sex"] is None


# --- (b) what the agreement does not grant is withheld, by name -----------------------------------

def test_ungranted_fields_are_absent_and_listed_by_name(pseudonymiser: Pseudonymiser) -> None:
    result = pseudonymiser.apply("police_incident", raw_record())
    assert result.withheld == ["narrative", "offence_description", "record_id", "reported_at"]
    assert result.shared["withheld_fields"] == result.withheld
    text = repr(result.shared)
    for value in ("Assault with injury", "ZZ/25/000001", "was cut by", "2025, 3, 5"):
        assert value not in text


def test_field_missing_from_agreement_is_withheld(example_text: str, ring: KeyRing) -> None:
    agr = with_text(example_text, "      outcome_code: {keep: attributes.outcome_code}\n", "")
    result = Pseudonymiser(agr, ring).apply("police_incident", raw_record())
    assert "outcome_code" in result.withheld and "outcome_code" in result.shared["withheld_fields"]
    assert result.shared["attributes"] == {}
    assert "OC1" not in repr(result.shared)


def test_field_not_in_the_schema_is_withheld(pseudonymiser: Pseudonymiser) -> None:
    result = pseudonymiser.apply("police_incident", raw_record(victim_phone="07700 900123"))
    assert "victim_phone" in result.withheld
    assert "900123" not in repr(result.shared)


# --- (c) the agreement, not the code, decides -----------------------------------------------------

def test_dropping_knife_removes_the_flag(example_text: str, ring: KeyRing) -> None:
    agr = with_text(example_text, "knife: {keep: flags.knife}", "knife: drop")
    result = Pseudonymiser(agr, ring).apply("police_incident", raw_record())
    assert "knife" not in result.shared["flags"]
    assert "knife" in result.withheld
    assert result.shared["flags"]["alcohol"] is True  # the rest still flows


def test_dropping_victim_dob_removes_age_band_and_dob_tokens(example_text: str, ring: KeyRing) -> None:
    old = ("      victim_dob:\n        - generalise: age_band\n          into: person.victim.age_band\n"
           "        - token: dob\n          person: victim\n")
    agr = with_text(example_text, old, "      victim_dob: drop\n")
    shared = Pseudonymiser(agr, ring).apply("police_incident", raw_record()).shared
    victim = person(shared, "victim")
    assert victim is not None
    assert victim["age_band"] is None
    assert not [k for k in victim["tokens"] if k.startswith("dob")]
    assert "forename" in victim["tokens"]  # names still tokenised
    suspect = person(shared, "suspect")
    assert suspect is not None and suspect["age_band"] == "35-44" and "dob" in suspect["tokens"]
    assert "victim_dob" in shared["withheld_fields"]


def test_granting_a_new_attribute_makes_it_flow(example_text: str, ring: KeyRing) -> None:
    agr = with_text(example_text, "reported_at: drop", "reported_at: {generalise: month, into: attributes.reported}")
    shared = Pseudonymiser(agr, ring).apply("police_incident", raw_record()).shared
    assert shared["attributes"]["reported"] == "2025-03"
    assert "reported_at" not in shared["withheld_fields"]


def test_dropping_all_suspect_fields_removes_the_suspect(example_text: str, ring: KeyRing) -> None:
    text = example_text
    for old in ("suspect_forename: {token: forename, person: suspect}", "suspect_surname: {token: surname, person: "
                "suspect}", "suspect_sex: {generalise: sex, into: person.suspect.sex}"):
        text = text.replace(old, old.split(":")[0] + ": drop")
    text = text.replace("      suspect_dob:\n        - generalise: age_band\n          into: person.suspect.age_band\n"
                        "        - token: dob\n          person: suspect\n", "      suspect_dob: drop\n")
    shared = Pseudonymiser(load_agreement("m.yaml", text=text), ring).apply("police_incident", raw_record()).shared
    assert person(shared, "suspect") is None and person(shared, "victim") is not None


def test_source_without_agreement_is_refused(pseudonymiser: Pseudonymiser) -> None:
    with pytest.raises(NoAgreementError):
        pseudonymiser.apply("gp_records", raw_record())


# --- (d) errors never carry values ----------------------------------------------------------------

@pytest.mark.parametrize("overrides,field_name", [
    ({"record_id": None}, "record_id"),
    ({"record_id": "   "}, "record_id"),
    ({"occurred_from": None}, "occurred_from"),
    ({"occurred_from": "04/03/2025 21:30"}, "occurred_from"),
    ({"victim_dob": "17/04/1991"}, "victim_dob"),
])
def test_unusable_record_is_refused_naming_the_field_only(pseudonymiser: Pseudonymiser, overrides: dict[str, Any],
                                                         field_name: str) -> None:
    rec = raw_record(**overrides)
    with pytest.raises(PseudonymisationError) as err:
        pseudonymiser.apply("police_incident", rec)
    message = str(err.value)
    assert field_name in message
    for value in rec.values():
        if isinstance(value, str) and value.strip():
            assert value not in message
        elif isinstance(value, date):
            assert value.isoformat() not in message and str(value.year) not in message


# --- (a) the canary property ----------------------------------------------------------------------

letters = st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
                  min_size=4, max_size=12).filter(lambda s: s.upper() not in TITLES | PLACEHOLDERS)
postcodes = st.builds(
    lambda area, district, sector, unit: f"{area}{district} {sector}{unit}",
    st.text(alphabet="ABCDEFGHJKLMNOPRSTUWYZ", min_size=1, max_size=2),
    st.integers(1, 99).map(str),
    st.integers(0, 9).map(str),
    st.text(alphabet="ABDEFGHJLNPQRSTUWXYZ", min_size=2, max_size=2),
)
# Realistic: born 1930 .. a year before the event.
dobs = st.dates(min_value=date(1930, 1, 1), max_value=EVENT_TIME.date() - timedelta(days=366))


def identifying_forms(forename: str, surname: str, dob: date, postcode: str) -> set[str]:
    forms: set[str] = set()
    for name in (forename, surname):
        forms |= {name, name.upper(), name.lower()}
    forms |= {dob.isoformat(), dob.strftime("%d/%m/%Y"), dob.strftime("%d%m%Y"), dob.strftime("%Y%m%d"),
              repr(dob)[len("datetime."):]}
    forms |= {postcode, postcode.replace(" ", ""), postcode.lower(), postcode.replace(" ", "").lower()}
    return forms


def found(forms: set[str], haystack: str) -> list[str]:
    """Forms present in the text (case-insensitive).

    Forms shorter than 6 characters are searched with tokens masked out: a 4-letter name has a ~1 in
    3000 chance of appearing by accident in a random 32-character hex token, while a real leak
    would show up outside the tokens' exact shape.
    """
    low = haystack.lower()
    masked = TOKENISH.sub("#", low)
    return [f for f in forms if f.lower() in (low if len(f) >= 6 else masked)]


@pytest.fixture(scope="module")
def benign_text(pseudonymiser: Pseudonymiser, repo: SchemaRepository) -> str:
    """Everything a shared event legitimately contains (field names, categories, ids) for a fixed record."""
    shared = pseudonymiser.apply("police_incident", raw_record()).shared
    return TOKENISH.sub("#", (repr(shared) + repo.encode(SHARED_EVENT, shared).decode("latin-1")).lower())


@settings(max_examples=60, deadline=None, derandomize=True)
@given(forename=letters, surname=letters, dob=dobs, postcode=postcodes, suspect=letters)
def test_canary_identifiers_never_cross_the_boundary(agreement: Agreement, ring: KeyRing, repo: SchemaRepository,
                                                     benign_text: str, forename: str, surname: str, dob: date,
                                                     postcode: str, suspect: str) -> None:
    forms = identifying_forms(forename, surname, dob, postcode) | {suspect, suspect.upper()}
    assume(not [f for f in forms if f.lower() in benign_text])  # e.g. a surname "Name" or "Pair"
    narrative = f"{forename} {surname} (born {dob:%d/%m/%Y}) of {postcode} was hurt by {suspect}"
    rec = raw_record(victim_forename=forename, victim_surname=surname, victim_dob=dob, location_postcode=postcode,
                     suspect_forename=suspect, suspect_surname=surname, suspect_dob=dob,
                     narrative=narrative, offence_description=narrative)
    result = Pseudonymiser(agreement, ring, lookup_for(postcode)).apply("police_incident", rec)
    shared = result.shared
    assert shared["lsoa_code"] == LSOA  # the postcode was used, then generalised
    victim = person(shared, "victim")
    assert victim is not None and "surname" in victim["tokens"]  # the names were used, as tokens

    assert found(forms, repr(shared)) == []
    assert found(forms, repr(result.withheld)) == []
    payload = repo.encode(SHARED_EVENT, shared)
    assert found(forms, payload.decode("latin-1")) == []
    _, decoded = repo.decode(payload)
    assert found(forms, repr(decoded)) == []


def test_canary_checker_would_catch_a_leak() -> None:
    # Guard: the search used by the canary property does find identifiers placed outside tokens.
    forms = identifying_forms("Wxyz", "Quillfeather", date(1991, 4, 7), "ZZ1 0FW")
    assert "Wxyz" in found(forms, "{'attributes': {'n': 'WXYZ'}, 't': 'k1:" + "a" * 32 + "'}")
    assert "1991-04-07" in found(forms, "{'occurred_date': '1991-04-07'}")
    assert "ZZ10FW" in found(forms, "b'\\x0czz10fw'")
