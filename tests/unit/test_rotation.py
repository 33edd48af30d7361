"""Key rotation with an overlap: linkage survives rotation while the overlap lasts, and only then.

Records of the same person tokenised before ``rotate()`` and during the overlap share tokens; after
the overlap ends (with no re-tokenising) they share none; event ids never change; tokens for
different purposes never coincide, overlap or not.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hub.cli import main
from hub.policy import Agreement
from hub.pseudonymisation import KeyRing, KeyRingError, Pseudonymiser, Tokeniser, event_id, load_keyring, normalise
from hub.pseudonymisation.keys import load_key_file, save_key_file
from hub.pseudonymisation.tokens import match_key_name, shared_match_keys

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
PROPS = settings(max_examples=40, deadline=None, derandomize=True)
names = st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyz"), min_size=2, max_size=12)


def person_tokens(tok: Tokeniser, forename: str, surname: str, dob: date) -> dict[str, str]:
    out = {**tok.match_keys("forename", forename), **tok.match_keys("surname", surname),
           **tok.match_keys("dob", dob)}
    out.update(tok.name_pair(forename, surname))
    return out


def clock(at: datetime) -> Callable[[], datetime]:
    return lambda: at


def test_rotate_records_the_overlap() -> None:
    ring = KeyRing.generate("k1")
    ring.rotate("k2", overlap_days=30, now=T0)
    assert ring.overlap == {"k1": T0 + timedelta(days=30)}
    assert ring.overlap_keys(T0) == ["k1"]
    assert ring.overlap_keys(T0 + timedelta(days=30)) == []  # the end is exclusive
    ring.rotate("k3", overlap_days=10, now=T0 + timedelta(days=5))
    assert ring.overlap == {"k2": T0 + timedelta(days=15)}  # one previous key at a time
    ring.rotate("k4")
    assert ring.overlap == {} and ring.active == "k4" and ring.event_key == "k1"
    with pytest.raises(KeyRingError, match="negative"):
        ring.rotate("k5", overlap_days=-1)


@PROPS
@given(forename=names, surname=names, y=st.integers(1930, 2015), m=st.integers(1, 12), d=st.integers(1, 28))
def test_linkage_survives_rotation_only_during_the_overlap(forename: str, surname: str, y: int, m: int,
                                                          d: int) -> None:
    dob = date(y, m, d)
    ring = KeyRing(keys={"k1": bytes(range(32))}, active="k1", event_key="k1")
    before = person_tokens(Tokeniser(ring, clock=clock(T0)), forename, surname, dob)
    ev_before = event_id(ring, "police_incident", "ZZ/26/000001")
    ring.rotate("k2", overlap_days=30, now=T0)

    during = person_tokens(Tokeniser(ring, clock=clock(T0 + timedelta(days=29))), forename, surname, dob)
    shared = shared_match_keys(before, during)
    assert shared and shared == {match_key_name(k) for k in before}  # every match key still agrees
    assert all(v.startswith("k2:") for k, v in during.items() if "@" not in k)
    assert all(v.startswith("k1:") for k, v in during.items() if k.endswith("@k1"))

    after = person_tokens(Tokeniser(ring, clock=clock(T0 + timedelta(days=31))), forename, surname, dob)
    assert not [k for k in after if "@" in k]
    assert shared_match_keys(before, after) == set()  # no re-tokenising: old records no longer link
    assert not set(before.values()) & set(after.values())
    # Records made during the overlap link both ways: to the old ones and to the new ones.
    assert shared_match_keys(during, after) == {match_key_name(k) for k in after}
    assert event_id(ring, "police_incident", "ZZ/26/000001") == ev_before  # event ids stay on k1


def test_a_different_person_does_not_link_through_the_overlap() -> None:
    ring = KeyRing(keys={"k1": bytes(range(32))}, active="k1", event_key="k1")
    before = person_tokens(Tokeniser(ring), "Ann", "Other", date(2001, 1, 2))
    ring.rotate("k2", overlap_days=30, now=T0)
    during = person_tokens(Tokeniser(ring, clock=clock(T0)), "Zebedee", "Quillfeather", date(1987, 3, 14))
    assert shared_match_keys(before, during) == set()


@PROPS
@given(value=names)
def test_purposes_never_share_tokens_even_during_an_overlap(value: str) -> None:
    assume(normalise.surname(value))  # a placeholder word ("nil") gives no token at all
    ring = KeyRing(keys={"k1": bytes(range(32))}, active="k1", event_key="k1")
    ring.rotate("k2", overlap_days=30, now=T0)
    at = clock(T0 + timedelta(days=1))
    linkage = Tokeniser(ring, "linkage", clock=at).match_keys("surname", value)
    other = Tokeniser(ring, "research", clock=at).match_keys("surname", value)
    assert set(linkage) == set(other) and any("@k1" in k for k in linkage)
    assert not {v.split(":")[1] for v in linkage.values()} & {v.split(":")[1] for v in other.values()}
    assert shared_match_keys(linkage, other) == set()


def test_pseudonymiser_emits_overlap_tokens(agreement: Agreement) -> None:
    ring = KeyRing(keys={"k1": bytes(range(32))}, active="k1", event_key="k1")
    record = {"record_id": "ZZ/26/1", "occurred_from": datetime(2026, 1, 9, 22), "offence_code": "8N",
              "victim_forename": "Bill", "victim_surname": "Smith", "victim_dob": date(1990, 5, 6)}
    first = Pseudonymiser(agreement, ring).apply("police_incident", record).shared
    ring.rotate("k2", overlap_days=3650)
    second = Pseudonymiser(agreement, ring).apply("police_incident", record).shared
    assert first["event_id"] == second["event_id"] and second["key_id"] == "k2"
    v1 = next(p for p in first["persons"] if p["role"] == "victim")["tokens"]
    v2 = next(p for p in second["persons"] if p["role"] == "victim")["tokens"]
    assert {k for k in v2 if k.endswith("@k1")} == {f"{k}@k1" for k in v1}
    assert shared_match_keys(v1, v2) == {match_key_name(k) for k in v1}


def test_overlap_survives_the_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    ring = KeyRing.generate("k1")
    ring.rotate("k2", overlap_days=7, now=T0)
    save_key_file(ring, path)
    loaded = load_key_file(path)
    assert loaded.overlap == {"k1": T0 + timedelta(days=7)} and loaded.event_key == "k1"
    assert Tokeniser(loaded, clock=clock(T0)).match_keys("surname", "Smith") == \
        Tokeniser(ring, clock=clock(T0)).match_keys("surname", "Smith")


def test_keys_rotate_command_sets_the_overlap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "keys.json"
    assert main(["keys", "init", "--file", str(path)]) == 0
    first = load_key_file(path).active
    assert main(["keys", "rotate", "--file", str(path), "--overlap-days", "14"]) == 0
    out = capsys.readouterr().out
    ring = load_key_file(path)
    assert ring.event_key == first and set(ring.overlap) == {first} and ring.active != first
    assert f"tokens are also made with {first} until" in out
    assert main(["keys", "show", "--file", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "overlap until" in shown and base64.b64encode(ring.keys[first]).decode() not in shown


def test_environment_keys_can_carry_the_previous_key() -> None:
    new, old = base64.b64encode(bytes(range(32))).decode(), base64.b64encode(bytes(range(1, 33))).decode()
    env = {"HUB_MASTER_KEY": new, "HUB_KEY_ID": "k2", "HUB_PREVIOUS_MASTER_KEY": old, "HUB_PREVIOUS_KEY_ID": "k1",
           "HUB_PREVIOUS_KEY_UNTIL": (T0 + timedelta(days=1)).isoformat(), "HUB_EVENT_KEY_ID": "k1"}
    ring = load_keyring(None, env)
    assert ring.active == "k2" and ring.event_key == "k1" and ring.overlap_keys(T0) == ["k1"]
    with pytest.raises(KeyRingError, match="HUB_PREVIOUS_KEY_ID"):
        load_keyring(None, {k: v for k, v in env.items() if k != "HUB_PREVIOUS_KEY_ID"})
    with pytest.raises(KeyRingError, match="UTC"):
        load_keyring(None, dict(env, HUB_PREVIOUS_KEY_UNTIL="2026-01-11T09:00:00"))
