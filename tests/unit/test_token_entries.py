"""The names of a value's many-valued token entries, and the token message split from a shared event.

Pins what the per-event speed-ups (1 Dec 2026) must keep: a deletion neighbourhood's entries are named
``forename_del#0 .. #N-1`` for every one of its N strings, however long the name and in whatever order names
of different lengths arrive; ``split_tokens`` keeps every person in the shared event (tokens emptied) and
copies the token maps only when asked."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from hub.linkage.messages import split_tokens
from hub.pseudonymisation import normalise
from hub.pseudonymisation.tokens import MULTI_SEP, _forename, _surname, deletion_neighbourhood

LONG = "Abcdefghijklmnopqrstuvwxyzabcdefghijklmn"  # 40 letters, no two alike side by side: 41 distinct strings


def expected(prefix: str, name: str) -> dict[str, tuple[str, str]]:
    return {f"{prefix}{MULTI_SEP}{i}": ("name_del", v) for i, v in enumerate(deletion_neighbourhood(name))}


@pytest.mark.parametrize("order", [("Al", "Alexandria", LONG, "Jo", "Christopher"),
                                   (LONG, "Christopher", "Alexandria"),
                                   ("Christopher", LONG, LONG + "opq")])
def test_every_deletion_gets_its_own_numbered_entry(order: tuple[str, ...]) -> None:
    assert len(deletion_neighbourhood(normalise.forename(LONG) or "")) > 32  # more than any name seen before
    for name in order:
        for prefix, tokens, norm in (("forename_del", _forename(name), normalise.forename(name)),
                                     ("surname_del", _surname(name), normalise.surname(name))):
            assert norm
            got = {k: v for k, v in tokens.items() if k.startswith(prefix + MULTI_SEP)}
            assert got == expected(prefix, norm)


def person(role: str, tokens: dict[str, Any] | None) -> dict[str, Any]:
    return {"role": role, "sex": "F", "age_band": "18-24", "tokens": tokens}


def test_split_tokens_keeps_every_person_and_copies_only_when_asked() -> None:
    maps = {"victim": {"forename": "tok-a"}, "suspect": {"surname": "tok-b"}}
    shared = {"event_id": "ev-1", "source": "police_incident", "key_id": "k1", "occurred_date": None,
              "persons": [person("victim", maps["victim"]), person("witness", None),
                          person("other", {}), person("suspect", maps["suspect"])]}
    for copy in (True, False):
        out, message = split_tokens(shared, copy=copy)
        assert [p["role"] for p in out["persons"]] == ["victim", "witness", "other", "suspect"]
        assert all(p["tokens"] == {} for p in out["persons"])
        assert [dict(p, tokens=None) for p in out["persons"]] == [dict(p, tokens=None) for p in shared["persons"]]
        assert message is not None
        assert [p["role"] for p in message["persons"]] == ["victim", "suspect"]
        for p in message["persons"]:
            assert p["tokens"] == maps[p["role"]]
            assert (p["tokens"] is maps[p["role"]]) is (not copy)
    assert shared["persons"][0]["tokens"] == {"forename": "tok-a"}  # the input is not changed
    assert split_tokens({**shared, "persons": [person("witness", None)]})[1] is None


@pytest.mark.parametrize("name", ["dob_year", "dob"])  # an entry remembered, and one of a whole value
def test_an_entry_refused_by_the_per_token_check_makes_its_map_refused(agreement: Any, name: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A mint given only the per-token check (no per-key form) checks each new token itself (``TokenMint._entry``'s
    other path): a map with one refused entry must come out refused there too (review finding 2)."""
    from tests.unit.test_generated_plan import _police_plans

    mint = _police_plans(agreement)[0]._mints["dob"]
    mint.clear()
    refused = {name}
    real = mint._entry_check
    assert real is not None
    monkeypatch.setattr(mint, "_mac_check", None)
    monkeypatch.setattr(mint, "_entry_check", lambda n, token: n not in refused and real(n, token))
    try:
        made = mint._mint(date(1990, 4, 7), ())
        assert made[0] and made[2] is False
        refused.clear()
        mint.clear()
        assert mint._mint(date(1990, 4, 7), ())[2] is True
    finally:
        mint.clear()
