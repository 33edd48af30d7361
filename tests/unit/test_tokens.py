"""Keyed tokens and match keys: determinism, key and purpose separation, rotation, fuzzy agreement."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hub.pseudonymisation import KeyRing, Tokeniser, event_id, normalise
from hub.pseudonymisation.tokens import TOKEN_KINDS

OTHER_SECRET = bytes(range(100, 132))

TOKEN = re.compile(r"^k1:[0-9a-f]{32}$")
EVENT_ID = re.compile(r"^ev-[0-9a-f]{30}$")
PROPS = settings(max_examples=80, deadline=None, derandomize=True)
# Printable text without ':' so it can never imitate the "<key id>:" prefix.
plain_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x17F, exclude_characters=":"),
                     min_size=1, max_size=30)
# Single-word names (a multi-word name legitimately keeps only its first word as a forename).
names = st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéöÑ"),
                min_size=1, max_size=20)


@PROPS
@given(value=plain_text)
def test_same_key_same_token_across_instances(ring_factory: Callable[..., KeyRing], value: str) -> None:
    # Two rings built from the same key file contents: a restart, or another agency's connector.
    a, b = Tokeniser(ring_factory()), Tokeniser(ring_factory())
    assert a.token("name", value) == b.token("name", value)
    assert TOKEN.match(a.token("name", value))


@PROPS
@given(value=plain_text)
def test_different_key_different_token(ring_factory: Callable[..., KeyRing], value: str) -> None:
    mine = Tokeniser(ring_factory()).token("name", value)
    theirs = Tokeniser(ring_factory(secret=OTHER_SECRET)).token("name", value)
    assert mine != theirs
    assert mine.split(":")[1] != theirs.split(":")[1]


@PROPS
@given(value=plain_text)
def test_different_purpose_different_token(ring: KeyRing, value: str) -> None:
    linkage = Tokeniser(ring, "linkage").token("name", value)
    other = Tokeniser(ring, "other").token("name", value)
    assert linkage != other
    assert linkage.split(":")[1] != other.split(":")[1]  # not just a different label


@PROPS
@given(a=plain_text, b=plain_text)
def test_different_value_different_token(ring: KeyRing, a: str, b: str) -> None:
    assume(a != b)
    tok = Tokeniser(ring)
    assert tok.token("name", a) != tok.token("name", b)


def test_domain_separates_tokens(ring: KeyRing) -> None:
    tok = Tokeniser(ring)
    assert tok.token("name", "SMITH") != tok.token("postcode", "SMITH")


@PROPS
@given(value=plain_text)
def test_token_names_its_key(ring_factory: Callable[..., KeyRing], value: str) -> None:
    tok = Tokeniser(ring_factory(key_id="k20250101ab12"))
    assert tok.key_id == "k20250101ab12"
    assert tok.token("name", value).startswith("k20250101ab12:")


@PROPS
@given(value=plain_text.filter(lambda v: len(v.strip()) >= 3))
def test_token_never_contains_its_input(ring: KeyRing, value: str) -> None:
    tok = Tokeniser(ring)
    forms = {value, value.strip()}
    for kind in ("forename", "surname", "reference"):
        norm = {"forename": normalise.forename, "surname": normalise.surname, "reference": normalise.reference}[kind]
        n = norm(value)
        if n and len(n) >= 3:
            forms.add(n)
        for t in tok.match_keys(kind, value).values():
            assert TOKEN.match(t)
            for form in forms:
                if len(form) >= 3:
                    assert form not in t
    raw = tok.token("name", value)
    assert value not in raw and value.strip() not in raw


@pytest.mark.parametrize("kind,value", [
    ("forename", "Alexander"), ("surname", "Tweetington-Smythe"), ("dob", date(1991, 4, 17)),
    ("postcode", "ZZ1 0FW"), ("nhs_number", "943 476 5919"), ("pnc_id", "98/123456A"), ("reference", "ab123456c"),
])
def test_every_kind_gives_tokens_without_the_value(ring: KeyRing, kind: str, value: object) -> None:
    keys = Tokeniser(ring).match_keys(kind, value)
    assert keys, kind
    text = " ".join(keys.values()).upper()
    shown = str(value).upper()
    for form in {shown, shown.replace(" ", ""), shown.replace("-", ""), "1991-04-17", "ZZ10FW", "9434765919"}:
        assert form not in text
    assert all(TOKEN.match(t) for t in keys.values())


def test_all_declared_kinds_are_supported(ring: KeyRing) -> None:
    tok = Tokeniser(ring)
    for kind in TOKEN_KINDS:
        assert tok.match_keys(kind, None) == {}
    with pytest.raises(ValueError, match="unknown token kind"):
        tok.match_keys("shoe_size", "9")


@pytest.mark.parametrize("kind,value", [
    ("forename", "Unknown"), ("surname", "  "), ("dob", date(1900, 1, 1)), ("postcode", "nowhere"),
    ("nhs_number", "9434765918"), ("pnc_id", "not a pnc"), ("forename", 42),
])
def test_unusable_values_give_no_tokens(ring: KeyRing, kind: str, value: object) -> None:
    assert Tokeniser(ring).match_keys(kind, value) == {}


# --- event ids and rotation -------------------------------------------------------------------------

@PROPS
@given(record_id=st.text(alphabet="ABCDEFGHZ0123456789/", min_size=1, max_size=16))
def test_event_id_is_deterministic(ring_factory: Callable[..., KeyRing], record_id: str) -> None:
    a = event_id(ring_factory(), "police_incident", record_id)
    assert a == event_id(ring_factory(), "police_incident", record_id)
    assert a == event_id(ring_factory(), "police_incident", " " + record_id + " ")  # outer spaces are not the id
    assert EVENT_ID.match(a)
    assert a != event_id(ring_factory(), "probation_event", record_id)  # source is part of the id
    if len(record_id) >= 3:
        assert record_id.lower() not in a


def test_event_id_refuses_empty_record_id(ring: KeyRing) -> None:
    with pytest.raises(ValueError):
        event_id(ring, "police_incident", "   ")


def test_rotation_keeps_event_ids_and_changes_linkage_tokens(ring_factory: Callable[..., KeyRing]) -> None:
    ring = ring_factory()
    before_event = event_id(ring, "police_incident", "ZZ/25/000001")
    before = Tokeniser(ring).match_keys("surname", "Smith")
    new_kid = ring.rotate("k2")
    assert new_kid == "k2" and ring.active == "k2" and ring.event_key == "k1"
    assert event_id(ring, "police_incident", "ZZ/25/000001") == before_event
    after = Tokeniser(ring).match_keys("surname", "Smith")
    assert set(after) == set(before)
    for name in before:
        assert after[name].startswith("k2:") and before[name].startswith("k1:")
        assert after[name].split(":")[1] != before[name].split(":")[1]
    # The old key is still there: re-tokenising with it reproduces the old tokens.
    old = Tokeniser(KeyRing(keys={"k1": ring.keys["k1"]}, active="k1", event_key="k1"))
    assert old.match_keys("surname", "Smith") == before


# --- match keys that survive recording errors -------------------------------------------------------

def test_typo_in_forename_keeps_phonetic_token(ring: KeyRing) -> None:
    tok = Tokeniser(ring)
    jon, john = tok.match_keys("forename", "Jon"), tok.match_keys("forename", "John")
    assert jon["forename"] != john["forename"]
    assert jon["forename_phonetic"] == john["forename_phonetic"]


def test_typo_in_forename_keeps_prefix_token(ring: KeyRing) -> None:
    tok = Tokeniser(ring)
    a, b = tok.match_keys("forename", "Jonathan"), tok.match_keys("forename", "Jonathon")
    assert a["forename"] != b["forename"]
    assert a["forename_prefix"] == b["forename_prefix"]


def test_surname_variants_agree(ring: KeyRing) -> None:
    tok = Tokeniser(ring)
    assert tok.match_keys("surname", "O'Brien-Smith") == tok.match_keys("surname", "obrien smith")
    smith, smyth = tok.match_keys("surname", "Smith"), tok.match_keys("surname", "Smyth")
    assert smith["surname"] != smyth["surname"]
    assert smith["surname_phonetic"] == smyth["surname_phonetic"]


def test_forename_takes_first_given_name_and_ignores_titles(ring: KeyRing) -> None:
    tok = Tokeniser(ring)
    assert tok.match_keys("forename", "Mr John Paul") == tok.match_keys("forename", "JOHN")


@PROPS
@given(forename=names, surname=names)
def test_swapped_names_keep_name_pair(ring: KeyRing, forename: str, surname: str) -> None:
    tok = Tokeniser(ring)
    pair = tok.name_pair(forename, surname)
    assert pair == tok.name_pair(surname, forename)
    if normalise.forename(forename) and normalise.surname(surname):
        assert set(pair) == {"name_pair"}
    else:
        assert pair == {}


def test_name_pair_differs_for_different_people(ring: KeyRing) -> None:
    tok = Tokeniser(ring)
    assert tok.name_pair("John", "Smith") != tok.name_pair("John", "Smyth")
    assert tok.name_pair("John", None) == {}


def test_swapped_names_meet_on_exact_name_tokens(ring: KeyRing) -> None:
    tok = Tokeniser(ring)
    assert tok.match_keys("forename", "Smith")["forename"] == tok.match_keys("surname", "Smith")["surname"]


def test_transposed_dob_matches(ring: KeyRing) -> None:
    tok = Tokeniser(ring)
    true, typo = tok.match_keys("dob", date(1991, 4, 7)), tok.match_keys("dob", date(1991, 7, 4))
    assert true["dob"] != typo["dob"]
    assert true["dob_transposed"] == typo["dob"]
    assert typo["dob_transposed"] == true["dob"]
    assert true["dob_year"] == typo["dob_year"]


def test_no_transposition_when_it_is_not_a_date_or_is_the_same(ring: KeyRing) -> None:
    tok = Tokeniser(ring)
    assert "dob_transposed" not in tok.match_keys("dob", date(1991, 4, 17))  # 17 is not a month
    assert "dob_transposed" not in tok.match_keys("dob", date(1991, 5, 5))  # same either way


def test_dob_parts_agree_when_one_part_differs(ring: KeyRing) -> None:
    tok = Tokeniser(ring)
    a, b = tok.match_keys("dob", date(1991, 4, 17)), tok.match_keys("dob", date(1992, 4, 17))
    assert a["dob_month_day"] == b["dob_month_day"] and a["dob_year"] != b["dob_year"]


def test_postcode_sector_agrees_within_a_sector(ring: KeyRing) -> None:
    tok = Tokeniser(ring)
    a, b = tok.match_keys("postcode", "zz1 0fw"), tok.match_keys("postcode", "ZZ10FX")
    assert a["postcode"] != b["postcode"]
    assert a["postcode_sector"] == b["postcode_sector"]
    assert a == tok.match_keys("postcode", "ZZ1  0FW")


def test_pnc_forms_agree(ring: KeyRing) -> None:
    tok = Tokeniser(ring)
    assert tok.match_keys("pnc_id", "98/123A") == tok.match_keys("pnc_id", "1998/0000123A")


def test_every_token_kind_an_agreement_may_name_can_be_derived() -> None:
    from hub.pseudonymisation import tokens
    assert set(tokens.TOKEN_KINDS) == set(tokens._DERIVERS)
