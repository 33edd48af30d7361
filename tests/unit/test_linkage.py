"""Linkage core on hand-made token sets: records, blocking, comparison levels, weights, estimation."""

from __future__ import annotations

import json
import math
import random
import string
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from hub.linkage import (
    DEFAULT_MODEL,
    LEVELS,
    BlockingRule,
    Comparison,
    MatchModel,
    PersonRecord,
    TermFrequencies,
    candidate_pairs,
    compare,
    estimate_m,
    estimate_u,
    link,
    record_key,
    records_from_event,
    score_pair,
)
from hub.linkage.scoring import NULL, Gamma, probability
from hub.pseudonymisation import KeyRing, Tokeniser

F, S, D = ({name: i for i, name in enumerate(LEVELS[c])} for c in ("forename", "surname", "dob"))


def tokens(tok: Tokeniser, forename: str | None, surname: str | None, dob: date | None) -> dict[str, str]:
    out: dict[str, str] = {}
    out.update(tok.match_keys("forename", forename))
    out.update(tok.match_keys("surname", surname))
    out.update(tok.match_keys("dob", dob))
    out.update(tok.name_pair(forename, surname))
    return out


@pytest.fixture(scope="module")
def person(ring: KeyRing) -> Callable[..., PersonRecord]:
    tok = Tokeniser(ring)

    def make(event: str, forename: str | None, surname: str | None, dob: date | None = None,
             role: str = "victim") -> PersonRecord:
        return PersonRecord(record_key(event, role), "police_incident", role, tokens(tok, forename, surname, dob))
    return make


DOB = date(1990, 3, 4)


def test_records_from_event_keys_and_skips_tokenless_persons() -> None:
    event = {"event_id": "ev-1", "source": "police_incident", "persons": [
        {"role": "victim", "tokens": {"surname": "k1:aa"}},
        {"role": "suspect", "age_band": "18-24", "sex": "M", "tokens": {}}]}
    [record] = records_from_event(event)
    assert (record.key, record.event_id, record.role, record.source) == ("ev-1/victim", "ev-1", "victim",
                                                                        "police_incident")
    assert record.get("surname") == {"k1:aa"} and record.get("forename") == frozenset()


def test_comparison_levels(person: Callable[..., PersonRecord]) -> None:
    base = person("e0", "John", "Smith", DOB)
    cases: list[tuple[PersonRecord, tuple[int, int, int]]] = [
        (person("e1", "john", " SMITH ", DOB), (F["exact"], S["exact"], D["exact"])),
        (person("e2", "Smith", "John", DOB), (F["swapped"], S["exact"], D["exact"])),
        (person("e2b", "Smiht", "John", DOB), (F["swapped"], S["one_edit"], D["exact"])),
        (person("e3", "Jon", "Smith", date(1990, 4, 3)), (F["canonical"], S["exact"], D["transposed"])),
        (person("e4", "John", "Smyth", date(1990, 5, 6)), (F["exact"], S["one_edit"], D["year"])),
        (person("e4b", "John", "Smythe", date(1990, 3, 6)), (F["exact"], S["phonetic"], D["two_parts"])),
        (person("e5", "John", "Smithson", date(1991, 3, 4)), (F["exact"], S["prefix"], D["two_parts"])),
        (person("e6", "Zak", "Jones", date(1972, 1, 2)), (F["else"], S["else"], D["else"])),
        (person("e7", "John", None, None), (F["exact"], NULL, NULL)),
    ]
    for other, expected in cases:
        assert compare(base, other)[:3] == expected
        assert compare(other, base)[:3] == expected
    kath = person("k0", "Katherine", "Smith", DOB)
    assert compare(kath, person("k1", "Kathryn", "Smith", DOB))[0] == F["phonetic"]
    assert compare(kath, person("k2", "Katharine", "Smith", DOB))[0] == F["one_edit"]
    assert compare(person("c0", "Christopher", "Smith"), person("c1", "Christoph", "Smith"))[0] == F["prefix"]


def test_impossible_dob_keeps_its_valid_parts(ring: KeyRing) -> None:
    tok = Tokeniser(ring)
    impossible = tok.match_keys("dob", "1990-13-42")
    assert set(impossible) == {"dob_year"}
    assert impossible["dob_year"] == tok.match_keys("dob", DOB)["dob_year"]
    month_wrong = PersonRecord("x/victim", "s", "victim", tok.match_keys("dob", "1990-13-04"))
    real = PersonRecord("y/victim", "s", "victim", tok.match_keys("dob", DOB))
    assert compare(month_wrong, real)[2] == D["two_parts"]  # year and day agree
    assert set(tok.match_keys("dob", "31/02/1990")) == {"dob_year", "dob_month", "dob_day", "dob_month_day"}


def test_postcode_and_sex_levels(ring: KeyRing) -> None:
    tok = Tokeniser(ring)

    def rec(key: str, postcode: str | None, sex: str | None) -> PersonRecord:
        return PersonRecord(f"{key}/victim", "s", "victim", tok.match_keys("postcode", postcode), sex)
    base = rec("a", "ZZ1 0FW", "M")
    assert compare(base, rec("b", "zz10fw", "M"))[3:] == (0, 0)
    assert compare(base, rec("c", "ZZ1 0XX", "F"))[3:] == (1, 1)
    assert compare(base, rec("d", "AB1 2CD", None))[3:] == (2, NULL)


def test_exact_never_weighs_less_than_fuzzy() -> None:
    model = DEFAULT_MODEL.with_m({"forename": (0.3, 0.005, 0.03, 0.4, 0.2, 0.03, 0.035)})
    weights = model.comparisons[0].weights
    assert all(a >= b for a, b in zip(weights, weights[1:], strict=False))


def test_weights_order_agreement(person: Callable[..., PersonRecord]) -> None:
    base = person("e0", "John", "Smith", DOB)
    same = score_pair(base, person("e1", "John", "Smith", DOB), DEFAULT_MODEL)
    typo = score_pair(base, person("e2", "John", "Smiths", DOB), DEFAULT_MODEL)
    no_dob = score_pair(base, person("e3", "John", "Smith"), DEFAULT_MODEL)
    other = score_pair(base, person("e4", "Zak", "Jones", DOB), DEFAULT_MODEL)
    stranger = score_pair(base, person("e5", "Zak", "Jones", date(1970, 1, 1)), DEFAULT_MODEL)
    assert same.weight > typo.weight > no_dob.weight > other.weight > stranger.weight
    assert same.probability > 0.99 and typo.probability > 0.9 and other.probability < 0.01
    explained = DEFAULT_MODEL.explain(same.gamma)
    assert math.isclose(sum(explained.values()), same.weight)
    assert explained["prior"] == pytest.approx(math.log2(1e-4 / (1 - 1e-4)))


def test_probability_is_the_logistic_of_log2_odds() -> None:
    assert probability(0) == 0.5
    assert probability(1) == pytest.approx(2 / 3)
    assert probability(-1) == pytest.approx(1 / 3)
    assert probability(5000) == 1.0 and probability(-5000) == 0.0


def test_model_round_trips_through_json() -> None:
    model = DEFAULT_MODEL.with_m({"dob": (0.8, 0.05, 0.05, 0.05, 0.05)})
    assert model.comparisons[2].m == (0.8, 0.05, 0.05, 0.05, 0.05)
    assert MatchModel.from_dict(json.loads(json.dumps(model.to_dict()))) == model


def test_parameters_are_validated() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        Comparison("dob", LEVELS["dob"], (0.5, 0.1, 0.1, 0.1, 0.1), DEFAULT_MODEL.comparisons[2].u)
    with pytest.raises(ValueError, match="one m and one u"):
        Comparison("dob", LEVELS["dob"], (1.0,), (1.0,))
    with pytest.raises(ValueError, match="comparisons must be"):
        MatchModel(DEFAULT_MODEL.comparisons[::-1])
    with pytest.raises(ValueError, match="prior"):
        MatchModel(prior=1.0)


def test_blocking_finds_typos_transpositions_and_swaps(person: Callable[..., PersonRecord]) -> None:
    base = person("e0", "John", "Smith", DOB)
    records = [base,
               person("e1", "John", "Smyth", date(1990, 4, 3)),  # dob transposed (and surname typo)
               person("e2", "Smith", "John"),  # swapped, no dob
               person("e3", "Jon", "Smith"),  # nickname, no dob
               person("e4", "Zak", "Jones", date(1970, 1, 1))]  # someone else
    found = candidate_pairs(records)
    # e1 and e3 sound alike in both names (John/Jon, Smyth/Smith); e2 is within one edit of both
    # crosswise (the name neighbourhoods block order-free): all four are candidates, never e4.
    four = [r.key for r in records[:4]]
    assert found.pairs == {(a, b) for a in four for b in four if a < b}
    assert found.by_rule["dob"] == 1 and found.by_rule["name_pair"] == 1
    assert found.by_rule["forename_canonical+surname"] == 1
    assert found.oversized_blocks == 0


def test_oversized_blocks_stop_taking_members(person: Callable[..., PersonRecord]) -> None:
    records = [person(f"e{i}", "John", "Smith", DOB) for i in range(5)]
    rules = [BlockingRule("dob", (("dob",),))]
    found = candidate_pairs(records, rules, max_block=2)
    assert found.oversized_blocks == 1
    assert len(found.pairs) == 1 + 2  # e1 meets e0; e2 meets both, then the block is full
    assert len(candidate_pairs(records, rules).pairs) == 10


def test_rotation_overlap_links_across_keys(ring_factory: Callable[..., KeyRing]) -> None:
    ring = ring_factory()
    before = Tokeniser(ring)
    ring.rotate("k2", overlap_days=30, now=datetime.now(UTC))
    during = Tokeniser(ring)
    later = KeyRing(keys=dict(ring.keys), active="k2", event_key="k1",
                    overlap={"k1": datetime.now(UTC) - timedelta(days=1)})
    after = Tokeniser(later)
    old, mid, new = (PersonRecord(record_key(ev, "victim"), "police_incident", "victim",
                                  tokens(tok, "John", "Smith", DOB))
                     for ev, tok in (("e0", before), ("e1", during), ("e2", after)))
    assert "surname@k1" in mid.tokens and not any("@" in name for name in new.tokens)
    pairs = candidate_pairs([old, mid, new]).pairs
    assert pairs == {(old.key, mid.key), (mid.key, new.key)}  # old and new share no key
    assert compare(old, mid)[:3] == compare(mid, new)[:3] == (F["exact"], S["exact"], D["exact"])
    assert compare(old, new)[:3] == (F["else"], S["else"], D["else"])
    persons = link([old, mid, new], DEFAULT_MODEL, term_frequencies=False).persons
    assert len(set(persons.values())) == 1  # the overlap record bridges the rotation


def test_term_frequencies_weigh_common_names_less(person: Callable[..., PersonRecord]) -> None:
    records = [person(f"s{i}", "John", "Smith", date(1980, 1, 1 + i)) for i in range(20)]
    records += [person("r0", "John", "Featherstonehaugh", DOB), person("r1", "John", "Featherstonehaugh", DOB)]
    records += [person(f"o{i}", "Zak", f"Other{chr(65 + i)}", DOB) for i in range(18)]
    tf = TermFrequencies.from_records(records)
    smith = score_pair(records[0], records[1], DEFAULT_MODEL, tf)
    rare = score_pair(records[20], records[21], DEFAULT_MODEL, tf)
    plain = score_pair(records[20], records[21], DEFAULT_MODEL)
    surname = DEFAULT_MODEL.comparisons[1]
    assert tf.adjustment(surname, records[0], records[1]) == pytest.approx(math.log2(0.005 / 0.5))
    assert tf.adjustment(surname, records[20], records[21]) == pytest.approx(math.log2(0.005 / 0.05))
    assert rare.weight < plain.weight  # 2 of 40 is commoner than the default u of 0.5%
    assert smith.gamma[1] == rare.gamma[1] == S["exact"]
    assert tf.adjustment(surname, records[0], records[22]) == 0.0  # no shared surname: no adjustment


def _sample(model: MatchModel, share: float, n: int, seed: int) -> list[Gamma]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        probs = "m" if rng.random() < share else "u"
        out.append(tuple(rng.choices(range(len(c.levels)), getattr(c, probs))[0] for c in model.comparisons))
    return out


def test_em_recovers_m_and_the_match_share() -> None:
    truth = DEFAULT_MODEL
    gammas = _sample(truth, 0.3, 20_000, seed=5)
    start = truth.with_m({c.name: [1 / len(c.levels)] * len(c.levels) for c in truth.comparisons})
    result = estimate_m(gammas, start)
    assert result.match_share == pytest.approx(0.3, abs=0.02)
    for fitted, real in zip(result.model.comparisons, truth.comparisons, strict=True):
        assert fitted.m == pytest.approx(real.m, abs=0.02)
        assert fitted.u == real.u  # u is held fixed
    fixed = estimate_m(gammas, start, fixed=["dob"])
    assert fixed.model.comparisons[2].m == start.comparisons[2].m


def test_estimate_u_on_distinct_people(person: Callable[..., PersonRecord]) -> None:
    rng = random.Random(3)
    forenames = ["Adam", "Brian", "Carl", "David", "Evan", "Frank", "George", "Harry", "Ivan", "Jack"]
    records = [person(f"e{i}", rng.choice(forenames), "".join(rng.choices(string.ascii_uppercase, k=8)),
                      date(1950, 1, 1) + timedelta(days=rng.randrange(20000))) for i in range(200)]
    model = estimate_u(records, DEFAULT_MODEL, pairs=5000, seed=1)
    forename, surname, dob, _, _ = model.comparisons
    assert forename.u[F["exact"]] == pytest.approx(0.1, abs=0.02)
    assert surname.u[S["else"]] > 0.99 and dob.u[D["else"]] > 0.9
    assert all(c.m == d.m for c, d in zip(model.comparisons, DEFAULT_MODEL.comparisons, strict=True))
