"""The compiled plan and the pre-keyed HMAC: faster, and exactly the tokens the plain definitions give."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.policy import Agreement, NoAgreementError
from hub.pseudonymisation import KeyRing, Pseudonymiser, Tokeniser, event_id
from hub.pseudonymisation.tokens import EVENT_ID, EventIds, KeyedHash
from tests.unit.conftest import make_ring


@settings(max_examples=200, deadline=None, derandomize=True)
@given(key=st.binary(min_size=16, max_size=130), domain=st.text(max_size=20), value=st.binary(max_size=200))
def test_keyed_hash_is_hmac_sha256(key: bytes, domain: str, value: bytes) -> None:
    """Keys shorter and longer than SHA-256's 64-byte block: the RFC 2104 construction, byte for byte."""
    expected = hmac.digest(key, domain.encode() + b"\x1f" + value, "sha256")
    keyed = KeyedHash(key)
    assert keyed.digest(domain, value) == expected
    assert keyed.digest(domain, value) == expected  # the cached domain state is copied, never consumed


def test_tokens_and_event_ids_keep_their_published_definition() -> None:
    """Tokens already in marts and linkage indexes must not change: HMAC-SHA256 of domain, 0x1f, value."""
    ring = make_ring()
    key = ring.purpose_key("linkage")
    mac = hmac.new(key, b"name\x1fSMITH", hashlib.sha256).digest()
    assert Tokeniser(ring).token("name", "SMITH") == f"k1:{mac[:16].hex()}"
    assert Tokeniser(ring).tokens({"surname": ("name", "SMITH")}) == {"surname": f"k1:{mac[:16].hex()}"}
    ev_key = ring.purpose_key(EVENT_ID, ring.event_key)
    ev = "ev-" + hmac.new(ev_key, b"police_incident\x1fZZ/25/1", hashlib.sha256).digest()[:15].hex()
    assert event_id(ring, "police_incident", " ZZ/25/1 ") == ev  # record ids are exact (outer spaces aside)
    assert EventIds(ev_key, "police_incident")("ZZ/25/1") == ev


def test_overlap_tokens_carry_the_previous_key(ring: KeyRing) -> None:
    from datetime import UTC, datetime, timedelta
    both = KeyRing(keys={"k0": b"o" * 32, "k1": b"n" * 32}, active="k1", event_key="k0",
                   overlap={"k0": datetime.now(UTC) + timedelta(days=1)})
    tokens = Tokeniser(both).match_keys("surname", "Smith")
    assert tokens["surname@k0"] == Tokeniser(KeyRing(keys={"k0": b"o" * 32}, active="k0",
                                                     event_key="k0")).match_keys("surname", "Smith")["surname"]


def test_a_source_is_compiled_once_and_never_reinterpreted(agreement: Agreement, ring: KeyRing,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    p = Pseudonymiser(agreement, ring)
    plan = p.plan("police_incident")
    assert p.plan("police_incident") is plan

    def no_second_look(self: Agreement, name: str) -> None:
        raise AssertionError("the agreement was consulted again")

    monkeypatch.setattr(Agreement, "source", no_second_look)
    record = {"record_id": "A1", "offence_code": "8N", "occurred_from": date(2025, 3, 4), "knife": True}
    shared = p.apply("police_incident", record).shared
    assert shared["flags"] == {"knife": True} and shared["occurred_week"] == "2025-W10"
    assert p._plans == {"police_incident": plan}


def test_a_source_without_agreement_has_no_plan(agreement: Agreement, ring: KeyRing) -> None:
    with pytest.raises(NoAgreementError):
        Pseudonymiser(agreement, ring).plan("gp_records")


def test_a_plan_keys_tokens_per_purpose(agreement: Agreement, ring: KeyRing) -> None:
    """Each purpose has its own tokeniser (its own derived key); the plan's token purpose is linkage."""
    p = Pseudonymiser(agreement, ring)
    assert p.tokeniser_for("linkage") is p.tokeniser
    other = p.tokeniser_for("research")
    assert other is p.tokeniser_for("research")
    assert other.token("name", "SMITH") != p.tokeniser.token("name", "SMITH")


def test_bench_core_prints_the_boundary_beside_its_anchor(capsys: pytest.CaptureFixture[str]) -> None:
    from hub.cli import main
    assert main(["bench", "core", "--incidents", "40", "--repeats", "1", "--novel-incidents", "30"]) == 0
    out = capsys.readouterr().out
    for name in ("boundary_per_cpu_s_median", "anchor_per_cpu_s_median", "boundary_vs_anchor",
                 "novel_boundary_us_per_event", "novel_boundary_vs_anchor"):
        assert name in out


def test_profile_summary_counts_samples_under_a_frame(tmp_path: Path) -> None:
    from hub.bench.profile import summarise
    raw = tmp_path / "p.txt"
    raw.write_text("main (a.py:1);loop (a.py:5);work (a.py:9) 3\nmain (a.py:1);loop (a.py:5) 1\nmain (a.py:1) 6\n")
    lines = summarise(raw, "loop (a.py")
    assert lines[0].startswith("4 samples")
    assert " 75.0%  75.0%  work" in "\n".join(lines)


def _uncached(p: Pseudonymiser, record: dict[str, object]) -> dict[str, object]:
    plan = p.plan("police_incident")
    plan.clear_caches()
    return plan.apply(record)[0]


def test_remembered_tokens_are_the_tokens_a_cold_plan_makes(agreement: Agreement, ring: KeyRing) -> None:
    """Names repeat, so a plan remembers each value's tokens: a hit gives exactly what a miss made,
    for either role, and a cold plan (caches cleared) gives the same event."""
    from datetime import datetime
    p = Pseudonymiser(agreement, ring)
    base = {"record_id": "A1", "offence_code": "8N", "occurred_from": datetime(2025, 3, 4, 22),
            "victim_forename": "Bill", "victim_surname": "Smith", "victim_dob": date(1990, 5, 6),
            "suspect_forename": "Smith", "suspect_surname": "Bill", "location_postcode": "ZZ1 1AA"}
    cold = _uncached(p, base)
    warm = p.plan("police_incident").apply({**base, "record_id": "A2"})[0]
    assert {k: v for k, v in warm.items() if k != "event_id"} == {k: v for k, v in cold.items() if k != "event_id"}
    other = Pseudonymiser(agreement, ring).apply("police_incident", {**base, "record_id": "A2"}).shared
    assert warm == other
    victim = next(x for x in warm["persons"] if x["role"] == "victim")["tokens"]
    tok = Tokeniser(ring)
    expected = {**tok.match_keys("forename", "Bill"), **tok.match_keys("surname", "Smith")}
    assert {k: victim[k] for k in expected} == expected


def test_remembered_tokens_follow_the_rotation_overlap(agreement: Agreement) -> None:
    """During an overlap the previous key's tokens are added; once it ends they are not, cache or no cache."""
    from datetime import UTC, datetime, timedelta
    now = [datetime(2026, 1, 10, tzinfo=UTC)]
    ring = KeyRing(keys={"k0": b"o" * 32, "k1": b"n" * 32}, active="k1", event_key="k0",
                   overlap={"k0": datetime(2026, 1, 11, tzinfo=UTC)})
    p = Pseudonymiser(agreement, ring)
    p._tokenisers["linkage"] = p.tokeniser = Tokeniser(ring, clock=lambda: now[0])
    record = {"record_id": "A1", "occurred_from": datetime(2025, 3, 4), "victim_surname": "Smith"}
    during = p.apply("police_incident", record).shared["persons"][0]["tokens"]
    assert "surname@k0" in during
    now[0] += timedelta(days=2)
    after = p.apply("police_incident", record).shared["persons"][0]["tokens"]
    assert "surname@k0" not in after and after["surname"] == during["surname"]


def test_a_remembered_good_value_does_not_vouch_for_a_bad_one(agreement: Agreement, ring: KeyRing) -> None:
    """The re-check remembers strings it accepted; a changed token or code is still refused with its reason."""
    from datetime import datetime

    from hub.policy.conformance import EventRules
    rules = EventRules(agreement)
    record = {"record_id": "A1", "offence_code": "8N", "occurred_from": datetime(2025, 3, 4, 22),
              "victim_surname": "Smith", "location_lsoa": "E01000001"}
    shared = Pseudonymiser(agreement, ring).apply("police_incident", record).shared
    assert rules.problems(shared, at="hub") == [] and rules.problems(shared, at="hub") == []
    person = shared["persons"][0]
    bad_token = {**shared, "persons": [{**person, "tokens": {**person["tokens"], "surname": "k1:SMITH"}}]}
    assert rules.problems(bad_token, at="hub") == ["the victim's tokens are not keyed tokens"]
    bad_week = {**shared, "occurred_week": "2025-W10 SMITH"}
    assert [p for p in rules.problems(bad_week, at="hub") if p.startswith("occurred_week")]
    assert rules.problems({**shared, "key_id": "k1 SMITH"}, at="hub") == ["key_id is not a key id"]
    assert rules.problems(shared, at="source")  # police is pseudonymised at the hub


_names = st.text(alphabet="abd_#@1", min_size=1, max_size=4)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(blocks=st.lists(st.dictionaries(_names, st.text(max_size=3), min_size=1, max_size=6), max_size=5))
def test_a_persons_token_maps_merge_into_the_sorted_union(blocks: list[dict[str, str]]) -> None:
    """Joined in order when the families' names follow one another, else the union sorted: the same map,
    in the same order, as updating one map in arrival order and sorting it (later maps win)."""
    from hub.pseudonymisation.plan import _merged
    blocks = [dict(sorted(b.items())) for b in blocks]
    union: dict[str, str] = {}
    for block in blocks:
        union.update(block)
    assert list(_merged(blocks).items()) == sorted(union.items())


def test_a_family_given_twice_for_one_person_still_gives_the_sorted_union(agreement: Agreement,
                                                                          ring: KeyRing) -> None:
    from hub.pseudonymisation.plan import _merged
    tok = Tokeniser(ring)
    first, second = tok.match_keys("surname", "Smith"), tok.match_keys("surname", "Smyth")
    merged = _merged([dict(sorted(first.items())), dict(sorted(second.items()))])
    assert list(merged.items()) == sorted({**first, **second}.items())


def test_remembered_macs_are_the_macs_and_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.pseudonymisation import tokens as tokens_module
    monkeypatch.setattr(tokens_module, "_MACS_REMEMBERED", 4)
    keyed = KeyedHash(b"k" * 32)
    derived = {f"n{i}": ("dob_year", str(1950 + i % 6)) for i in range(12)}
    once, again = keyed.tokens("k1", derived), keyed.tokens("k1", derived, "@k0")
    fresh = {name: "k1:" + hmac.digest(b"k" * 32, f"dob_year\x1f{text}".encode(), "sha256")[:16].hex()
             for name, (_, text) in derived.items()}
    assert once == fresh and again == {f"{name}@k0": t for name, t in fresh.items()}
    assert len(keyed._macs) <= 4
    keyed.forget()
    assert not keyed._macs and keyed.tokens("k1", derived) == fresh


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.dates(date(1850, 1, 1), date(2100, 12, 31)))
def test_a_date_of_birth_given_as_a_date_derives_what_the_general_path_derives(value: date) -> None:
    from hub.pseudonymisation.tokens import _dob, _dob_general
    assert list(_dob(value).items()) == list(_dob_general(value).items())
