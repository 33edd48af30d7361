"""Nicknames: Bill, Billy, Will and William share ``forename_canonical``; unrelated names do not."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.pseudonymisation import KeyRing, Tokeniser, given_names
from hub.pseudonymisation.given_names import _graph

PROPS = settings(max_examples=200, deadline=None, derandomize=True)


@pytest.mark.parametrize("nickname,formal", [
    ("Bill", "William"), ("Billy", "William"), ("Will", "William"), ("Willy", "William"),
    ("Bob", "Robert"), ("Rob", "Robert"), ("Jim", "James"), ("Jimmy", "James"), ("Peggy", "Margaret"),
    ("Liz", "Elizabeth"), ("Beth", "Elizabeth"), ("Dick", "Richard"), ("Ted", "Edward"), ("Jack", "John"),
    ("Johnny", "John"), ("Mike", "Michael"), ("Tom", "Thomas"), ("Charlie", "Charles"), ("Dave", "David"),
])
def test_nickname_and_formal_name_share_forename_canonical(ring: KeyRing, nickname: str, formal: str) -> None:
    tok = Tokeniser(ring)
    a, b = tok.match_keys("forename", nickname), tok.match_keys("forename", formal)
    assert a["forename"] != b["forename"]
    assert a["forename_canonical"] == b["forename_canonical"]


@pytest.mark.parametrize("one,other", [
    ("William", "Robert"), ("John", "James"), ("Elizabeth", "Margaret"), ("Thomas", "Richard"),
    ("David", "Daniel"), ("Mary", "Margaret"), ("Michael", "Mitchell"), ("Albert", "Alfred"),
    ("Zebedee", "Ottoline"), ("Bill", "Bob"), ("Mohammed", "Muhammad"),
])
def test_unrelated_names_do_not(ring: KeyRing, one: str, other: str) -> None:
    tok = Tokeniser(ring)
    assert tok.match_keys("forename", one)["forename_canonical"] != tok.match_keys("forename", other)[
        "forename_canonical"]


def test_canonical_forms() -> None:
    assert given_names.canonical("BILL") == given_names.canonical("WILLIAM") == "WILLIAM"
    assert given_names.canonical("OTTOLINEX") == "OTTOLINEX"  # unknown names are their own canonical form
    assert given_names.known("BILL") and not given_names.known("OTTOLINEX")


def test_canonical_is_idempotent_on_every_library_name() -> None:
    nick, canon = _graph()
    for name in set(nick) | set(canon):
        c = given_names.canonical(name)
        assert given_names.canonical(c) == c, name


@PROPS
@given(name=st.text(alphabet=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), min_size=1, max_size=12))
def test_canonical_is_total_and_deterministic(name: str) -> None:
    c = given_names.canonical(name)
    assert c and c.isalpha() and c.isupper()
    assert given_names.canonical(c) == c


def test_canonical_token_is_keyed_and_names_its_key(ring: KeyRing) -> None:
    token = Tokeniser(ring).match_keys("forename", "Bill")["forename_canonical"]
    assert token.startswith(f"{ring.active}:") and "WILLIAM" not in token.upper()
    assert token != Tokeniser(ring).match_keys("forename", "William")["forename"]  # its own domain
