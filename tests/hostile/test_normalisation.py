"""Finding 3: normalisation must neither split one person into two nor merge two into one.

Attacks: letters that do not decompose, format characters and apostrophe look-alikes inside names,
Cyrillic look-alike letters, non-Latin names, placeholder words, initials, sentinel dates of birth,
and record ids that differ only in case or spaces.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.pseudonymisation import KeyRing, Tokeniser, event_id, normalise

PROPS = settings(max_examples=200, deadline=None, derandomize=True)
FORMAT_CHARS = ["\u200b", "\u00ad", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e", "\u202a"]
APOSTROPHES = ["'", "\u2019", "\u2018", "\u00b4", "`", "\u02bc", "\u2032", "\uff07"]
latin_names = st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
                      min_size=2, max_size=12)


@pytest.mark.parametrize("raw,expected", [
    ("Łukasz", "LUKASZ"), ("Søren", "SOREN"), ("Þóra", "THORA"), ("Đorđe", "DORDE"), ("Straße", "STRASSE"),
    ("Øyvind", "OYVIND"), ("Ægir", "AEGIR"),
])
def test_letters_that_do_not_decompose_are_transliterated(raw: str, expected: str) -> None:
    assert normalise.forename(raw) == expected
    assert normalise.surname(raw) == expected


@pytest.mark.parametrize("raw", ["D\u00b4Arcy", "D\u2019Arcy", "D`Arcy", "D\u02bcArcy", "D\u200bArcy",
                                 "D\u00adArcy", "D'\u200dArcy", "\ufeffD'Arcy"])
def test_format_characters_and_apostrophe_variants_do_not_cut_a_name(raw: str) -> None:
    assert normalise.surname(raw) == "DARCY"
    assert normalise.forename(raw) == "DARCY"


@PROPS
@given(name=latin_names, at=st.integers(0, 12), mark=st.sampled_from(FORMAT_CHARS + APOSTROPHES))
def test_an_invisible_mark_or_apostrophe_anywhere_never_changes_the_token(ring: KeyRing, name: str, at: int,
                                                                         mark: str) -> None:
    tok = Tokeniser(ring)
    at = min(at, len(name))
    marked = name[:at] + mark + name[at:]
    assert tok.match_keys("forename", marked) == tok.match_keys("forename", name)
    assert tok.match_keys("surname", marked) == tok.match_keys("surname", name)


def test_cyrillic_look_alike_letters_give_the_latin_token(ring: KeyRing) -> None:
    tok = Tokeniser(ring)
    latin = tok.match_keys("forename", "Anna")
    assert tok.match_keys("forename", "\u0410nna") == latin  # Cyrillic capital A
    assert tok.match_keys("surname", "C\u043ex") == tok.match_keys("surname", "Cox")  # Cyrillic o
    assert tok.match_keys("surname", "\u0421ox") == tok.match_keys("surname", "Cox")  # Cyrillic capital Es


@pytest.mark.parametrize("raw", ["Дмитрий", "王小明", "Αλέξανδρος", "محمد"])
def test_non_latin_names_get_tokens(ring: KeyRing, raw: str) -> None:
    tok = Tokeniser(ring)
    assert tok.match_keys("forename", raw)
    assert tok.match_keys("surname", raw)


@pytest.mark.parametrize("raw", ["BABY", "Baby", "UNKNOWN", "REFUSED", "Withheld", "TEST", "Not Given", "Unnamed",
                                 "Baby Of"])
def test_placeholders_are_never_tokenised_as_names(ring: KeyRing, raw: str) -> None:
    tok = Tokeniser(ring)
    assert tok.match_keys("forename", raw) == {}
    assert tok.match_keys("surname", raw) == {}
    assert tok.name_pair(raw, "Smith") == {}


@pytest.mark.parametrize("raw", ["J", "j.", "A ", "J Paul"])
def test_one_letter_forenames_are_refused(ring: KeyRing, raw: str) -> None:
    assert Tokeniser(ring).match_keys("forename", raw) == {}
    assert Tokeniser(ring).name_pair(raw, "Smith") == {}


@pytest.mark.parametrize("sentinel", [date(1970, 1, 1), date(1900, 1, 1), date(1901, 1, 1)])
def test_sentinel_dates_of_birth_are_not_real_dates(ring: KeyRing, sentinel: date) -> None:
    assert Tokeniser(ring).match_keys("dob", sentinel) == {}


def test_a_real_date_of_birth_still_gives_tokens(ring: KeyRing) -> None:
    assert Tokeniser(ring).match_keys("dob", date(1991, 4, 17))


@pytest.mark.parametrize("a,b", [("ab 12", "AB12"), ("ab12", "AB12"), ("AB 12", "AB12"), ("A B12", "AB 12")])
def test_record_ids_are_kept_exact(ring: KeyRing, a: str, b: str) -> None:
    assert event_id(ring, "police_incident", a) != event_id(ring, "police_incident", b)


def test_record_id_outer_spaces_are_not_part_of_it(ring: KeyRing) -> None:
    assert event_id(ring, "police_incident", " AB12 ") == event_id(ring, "police_incident", "AB12")
