"""A plan's generated code gives exactly the events its reference walk gives, and what it leaves out of the
agreement's per-event check could never have refused its output.

Every source of the example agreement, pseudonymised at the hub and at the source, with and without a key
rotation overlap, on its synthetic extract and on hostile variants of its records (names in coded fields,
long and non-Latin names, impossible dates, missing values, other key orders, values of other types).
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.connectors import CsvFileConnector, default_mapping_path, load_mapping
from hub.policy import Agreement
from hub.policy.conformance import EventRules
from hub.pseudonymisation import KeyRing, PostcodeLookup, Pseudonymiser
from hub.pseudonymisation.ops import PseudonymisationError
from hub.pseudonymisation.plan import SourcePlan
from hub.schemas import RAW_SCHEMAS, SchemaRepository
from hub.synth import SOURCE_GENERATORS, generate_police_extract

_LONG = "".join(string.ascii_uppercase[i % 26] + string.ascii_uppercase[(i * 7) % 26] for i in range(150))
HOSTILE_TEXT = ["", "   ", "Zoë O'Brien-Smith", "Дмитрий", "SMITH", "Zebedee Quillfeather", _LONG, "Mrs. Jane",
                "8N", "E01000001", "ZZ1 0FW", "zz10fw", "X" * 70, "1985-13-42", "12345", "\u200bBob", "Unknown",
                "x", "CV0048812", "  AB 12 ", "true"]
HOSTILE_DATES = [date(1850, 1, 1), date(2100, 12, 31), date(1970, 1, 1), date(2000, 2, 29)]
HOSTILE_TIMES = [datetime(1850, 1, 1), datetime(2100, 12, 31, 23, 59), datetime(2025, 3, 4, 0, 0, 0, 1000)]
OTHER_TYPES: list[Any] = [5, 3.5, True, b"x", date(2001, 1, 1), "s", datetime(2025, 1, 1, 12)]


def _rings() -> dict[str, KeyRing]:
    return {"plain": KeyRing(keys={"k1": b"n" * 32, "k0": b"o" * 32}, active="k1", event_key="k0"),
            "overlap": KeyRing(keys={"k0": b"o" * 32, "k1": b"n" * 32}, active="k1", event_key="k0",
                               overlap={"k0": datetime(2099, 1, 1, tzinfo=UTC)})}


def _kind(field: dict[str, Any]) -> str:
    t = field["type"]
    t = next(x for x in t if x != "null") if isinstance(t, list) else t
    return str(t.get("logicalType", t.get("type"))) if isinstance(t, dict) else str(t)


def _hostile(records: list[dict[str, Any]], fields: list[dict[str, Any]], rng: random.Random,
             n: int) -> Iterator[dict[str, Any]]:
    """Records with one or two values replaced by something a careless or hostile source might send."""
    for i in range(n):
        rec = dict(rng.choice(records))
        for field in rng.sample(fields, 2 if i % 3 == 0 else 1):
            kind = _kind(field)
            pool: list[Any] = (HOSTILE_TEXT if kind == "string" else HOSTILE_DATES if kind == "date"
                               else HOSTILE_TIMES if kind == "local-timestamp-millis" else [True, False, 7])
            rec[field["name"]] = rng.choice([*pool, None])
        yield rec


def _other_layouts(records: list[dict[str, Any]], rng: random.Random, n: int) -> Iterator[dict[str, Any]]:
    """Keys in another order, a key missing or added, a value of another type: only a direct caller sends these."""
    for i in range(n):
        rec = dict(rng.choice(records))
        keys = list(rec)
        rng.shuffle(keys)
        rec = {k: rec[k] for k in keys}
        if i % 2:
            rec[rng.choice(keys)] = rng.choice(OTHER_TYPES)
        if i % 5 == 0:
            rec["not_a_field"] = "Quillfeather"
        if i % 7 == 0:
            rec.pop(rng.choice(keys))
        yield rec


@pytest.fixture(scope="module")
def extracts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list[dict[str, Any]], PostcodeLookup]]:
    tmp = tmp_path_factory.mktemp("extracts")
    manifests: dict[str, Any] = {"police_incident": generate_police_extract(tmp / "police", seed=1, incidents=120)}
    for source, generator in sorted(SOURCE_GENERATORS.items()):
        manifests[source] = generator(Path(tmp / source), seed=3, rows=60)
    out = {}
    for source, manifest in manifests.items():
        lookup = PostcodeLookup.from_csv(manifest.lookup_csv)
        mapping = load_mapping(default_mapping_path(source), lookup)
        out[source] = ([r.record for r in CsvFileConnector(manifest.extract_csv, mapping).records() if r.record],
                       lookup)
    return out


def _outcome(apply: Any, record: dict[str, Any]) -> tuple[str, ...]:
    try:
        shared, withheld = apply(record)
    except PseudonymisationError as exc:
        return ("refused", str(exc))
    except Exception as exc:  # noqa: BLE001 - whatever the reference raises, the generated code must raise too
        return ("raised", type(exc).__name__, str(exc))
    return ("event", repr(shared), repr(withheld))  # repr: values, their types and every dict's key order


def _schema_layout(plan: SourcePlan, repo: SchemaRepository) -> tuple[str, ...]:
    return tuple(repo.get(RAW_SCHEMAS[plan.source]).field_names)


@pytest.mark.parametrize("at", ["hub", "source"])
@pytest.mark.parametrize("ring_name", ["plain", "overlap"])
def test_generated_code_gives_the_reference_event_on_every_source(
        agreement: Agreement, repo: SchemaRepository, extracts: dict[str, Any], at: str, ring_name: str) -> None:
    ring = _rings()[ring_name]
    rng = random.Random(11)
    compared = generated_events = 0
    for source, (records, lookup) in extracts.items():
        fields = [dict(f) for f in repo.get(RAW_SCHEMAS[source]).declared["fields"]]
        layout = tuple(f["name"] for f in fields)
        schema_order = [{name: rec.get(name) for name in layout} for rec in records]  # as a decoded record
        cases = [*records, *schema_order, *_hostile(schema_order, fields, rng, 120),
                 *_other_layouts(records, rng, 30)]
        generated = Pseudonymiser(agreement, ring, lookup, at=at).plan(source)
        reference = Pseudonymiser(agreement, ring, lookup, at=at).plan(source)
        for _ in range(2):  # cold, then with every value's tokens remembered
            for record in cases:
                expected = _outcome(reference.apply_reference, record)
                assert _outcome(generated.apply, record) == expected, (source, record)
                compared += 1
                generated_events += expected[0] == "event"
        if generated.refusal is None:  # the source is pseudonymised here: its schema's layout ran generated code
            assert generated._generated.get(layout) is not None, source
    assert compared > 4000 and generated_events > 500


@pytest.mark.parametrize("at", ["hub", "source"])
def test_what_the_generated_code_does_not_check_per_event_never_refuses_its_output(
        agreement: Agreement, repo: SchemaRepository, extracts: dict[str, Any], at: str) -> None:
    """Every event the generated code lets through (its value tests passed, the full check never asked) is one
    the agreement's full check accepts: the checks left to compile time could not have fired."""
    rules = EventRules(agreement)
    rng = random.Random(12)
    for source, (records, lookup) in extracts.items():
        plan = Pseudonymiser(agreement, _rings()["overlap"], lookup, at=at).plan(source)
        if plan.refusal is not None:
            continue
        fields = [dict(f) for f in repo.get(RAW_SCHEMAS[source]).declared["fields"]]
        layout = tuple(f["name"] for f in fields)
        schema_order = [{name: rec.get(name) for name in layout} for rec in records]
        full_checks: list[int] = []
        assert plan.conformance is not None
        applier = _regenerate(plan, layout, _counting(plan.conformance, full_checks))
        for record in [*schema_order, *_hostile(schema_order, fields, rng, 150)]:
            before = len(full_checks)
            try:
                shared, _ = applier(record)
            except PseudonymisationError:
                continue
            if len(full_checks) == before:  # accepted on the value tests alone
                assert rules.problems(shared, at=at) == [], (source, record)


def _counting(conformance: Any, calls: list[int]) -> Any:
    def counted(shared: dict[str, Any]) -> list[str]:
        calls.append(1)
        return conformance(shared)  # type: ignore[no-any-return]
    return counted


def _regenerate(plan: SourcePlan, layout: tuple[str, ...], conformance: Any) -> Any:
    plan.conformance = conformance
    plan._generated.clear()
    applier = plan._generate(layout)
    assert applier is not None
    return applier


_PLANS: dict[int, tuple[SourcePlan, SourcePlan, EventRules]] = {}


def _police_plans(agreement: Agreement) -> tuple[SourcePlan, SourcePlan, EventRules]:
    """Built once (hypothesis calls the test many times with the one session agreement)."""
    if id(agreement) not in _PLANS:
        ring = _rings()["plain"]
        _PLANS[id(agreement)] = (Pseudonymiser(agreement, ring).plan("police_incident"),
                                 Pseudonymiser(agreement, ring).plan("police_incident"), EventRules(agreement))
    return _PLANS[id(agreement)]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(values=st.lists(st.one_of(st.none(), st.text(max_size=30), st.sampled_from(HOSTILE_TEXT)),
                       min_size=12, max_size=12))
def test_random_text_in_every_police_field_gives_the_reference_outcome(agreement: Agreement,
                                                                       values: list[str | None]) -> None:
    generated, reference, rules = _police_plans(agreement)
    text_fields = ["offence_code", "location_postcode", "location_lsoa", "victim_forename", "victim_surname",
                   "victim_sex", "suspect_forename", "suspect_surname", "suspect_sex", "outcome_code",
                   "offence_description", "narrative"]
    record: dict[str, Any] = {"record_id": "R1", "occurred_from": datetime(2025, 3, 4, 22), "victim_dob": None}
    record.update(zip(text_fields, values, strict=True))
    assert _outcome(generated.apply, record) == _outcome(reference.apply_reference, record)
    outcome = _outcome(generated.apply, record)
    if outcome[0] == "event":
        assert rules.problems(generated.apply(record)[0], at="hub") == []


def test_output_tests_refuse_to_vouch_for_what_the_agreement_does_not_grant(agreement: Agreement) -> None:
    """Any fixed part of the plan's output that would fail the full check means no shortcut: None."""
    rules = EventRules(agreement)
    ok: dict[str, Any] = {"agreement_id": agreement.id, "agreement_version": agreement.version, "key_id": "k1",
                          "tops": ["occurred_week"], "flags": ["knife"], "attributes": ["outcome_code"],
                          "roles": ["victim"], "token_roles": ["victim"], "withheld": ["narrative"]}
    assert rules.output_tests("police_incident", "hub", **ok) is not None
    for change in ({"agreement_version": "0.0"}, {"key_id": "k1 SMITH"}, {"tops": ["narrative"]},
                   {"flags": ["smith"]}, {"attributes": ["surname"]}, {"roles": ["witness"]},
                   {"token_roles": ["witness"]}, {"withheld": ["Bad Name"]}):
        assert rules.output_tests("police_incident", "hub", **{**ok, **change}) is None, change
    assert rules.output_tests("police_incident", "source", **ok) is None  # police is pseudonymised at the hub
    assert rules.output_tests("gp_records", "hub", **ok) is None


def test_the_boundary_writes_fastavros_bytes_for_the_generated_events(
        agreement: Agreement, repo: SchemaRepository, extracts: dict[str, Any]) -> None:
    """Token maps carry their Avro bytes from minting to the link-tokens message: the bytes are fastavro's
    for the same event, for every source pseudonymised at the hub, cold and with every value remembered."""
    from hub.linkage.messages import LINK_TOKENS, split_tokens
    from hub.schemas import SHARED_EVENT
    from hub.streams.boundary import Boundary
    tokens_seen = 0
    for source, (records, lookup) in extracts.items():
        boundary = Boundary(repo, Pseudonymiser(agreement, _rings()["overlap"], lookup))
        if boundary.pseudonymiser.plan(source).refusal is not None:
            continue
        for _ in range(2):
            for record in records:
                payload = repo.encode(RAW_SCHEMAS[source], record)
                try:
                    shared, _ = boundary.apply(source, boundary.decode(source, payload))
                except PseudonymisationError:
                    continue
                event, tokens = split_tokens(shared)
                value, token_value = boundary.encode(shared)
                assert value == repo.encode_with_fastavro(SHARED_EVENT, event)
                assert token_value == (repo.encode_with_fastavro(LINK_TOKENS, tokens) if tokens else None)
                tokens_seen += tokens is not None
    assert tokens_seen > 500


_token_value = st.builds(lambda k, h: f"{k}:{h}", st.sampled_from(["k1", "k0", "k 1", "", "K-_9", "x" * 41]),
                         st.text(alphabet="0123456789abcdef", min_size=31, max_size=33)) | st.text(max_size=40)
_token_name = st.sampled_from(["surname", "forename_del#3", "dob@k0", "Surname", "x" * 45, "a b"]) | st.text(max_size=8)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(tokens=st.dictionaries(_token_name, _token_value | st.builds(lambda a, b: f"{a}\n{b}", _token_value,
                                                                    _token_value), max_size=6))
def test_a_minted_maps_check_is_the_per_token_check(agreement: Agreement, tokens: dict[str, str]) -> None:
    """``keyed_tokens`` matches a map's values as one text; its verdict is each name's and value's pattern."""
    from hub.policy.conformance import TOKEN_NAME, TOKEN_VALUE, _matches
    rules = _police_plans(agreement)[2]
    expected = all(_matches(TOKEN_NAME, k) and _matches(TOKEN_VALUE, v) for k, v in tokens.items())
    assert rules.keyed_tokens(tokens) == expected
    assert rules.keyed_tokens(tokens) == expected  # and again, with the names it accepted remembered


@settings(max_examples=150, deadline=None, derandomize=True)
@given(tokens=st.dictionaries(_token_name, _token_value | st.builds(lambda a, b: f"{a}\n{b}", _token_value,
                                                                    _token_value), max_size=6))
def test_a_maps_check_is_its_entries_checks(agreement: Agreement, tokens: dict[str, str]) -> None:
    """``keyed_token``, asked per entry a plan makes, agrees with ``keyed_tokens`` of the whole map."""
    rules = EventRules(agreement)  # fresh: nothing remembered as accepted yet
    entries = all([rules.keyed_token(k, v) for k, v in tokens.items()])
    assert entries == rules.keyed_tokens(tokens) == EventRules(agreement).keyed_tokens(tokens)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(name=_token_name, key_id=st.sampled_from(["k1", "k0", "k 1", "", "K-_9", "x" * 40, "x" * 41, "ké"]) | st.text(),
       digests=st.lists(st.binary(min_size=16, max_size=16), min_size=1, max_size=4))
def test_a_macs_check_is_its_tokens_check(agreement: Agreement, name: str, key_id: str, digests: list[bytes]) -> None:
    """``keyed_mac_token``, asked once per entry name and key, is ``keyed_token`` of every token a MAC gives."""
    rules = EventRules(agreement)
    verdict = rules.keyed_mac_token(name, key_id)
    assert all(EventRules(agreement).keyed_token(name, f"{key_id}:{d.hex()}") == verdict for d in digests)


_MINT_VALUES: dict[str, Any] = {
    "forename": st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=20)),
    "surname": st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=20)),
    "dob": st.one_of(st.dates(), st.sampled_from(HOSTILE_DATES), st.sampled_from(HOSTILE_TEXT)),
    "name_pair": st.tuples(st.sampled_from(["ANNE", "BOB", "ZOE", "MARY ANN"]), st.sampled_from(["SMITH", "JONES"])),
}


@settings(max_examples=300, deadline=None, derandomize=True)
@given(family=st.sampled_from(sorted(_MINT_VALUES)), data=st.data())
def test_a_map_made_entry_by_entry_is_the_map_made_whole(agreement: Agreement, family: str,
                                                         data: st.DataObject) -> None:
    """A value met for the first time is minted from remembered entries (token, bytes, verdict): the same map,
    Avro bytes, verdict and first and last names as minting it whole, for values new and half-met."""
    from hub.schemas.codec import map_entries
    plan = _police_plans(agreement)[0]
    mint = plan._mints[family]
    for _ in range(3):  # the second and third values meet entries the first made (a year, a month, a name)
        value = data.draw(_MINT_VALUES[family])
        assert mint._entries is not None  # the plan's mints are made entry by entry
        derived = mint._derive(value)
        made = mint._mint(value, ())
        whole = mint._mint_whole(derived, made[1], ()) if derived else ({}, made[1], True, "", "")
        assert made == whole
        assert list(made[0].items()) == list(whole[0].items())
        if made[0]:
            assert made[0].avro == whole[0].avro == map_entries(made[0])  # type: ignore[attr-defined]


def test_today_is_the_clocks_today() -> None:
    from hub.pseudonymisation.normalise import local_today
    assert local_today() in (date.today(), date.today() - timedelta(days=1))  # (a test run across midnight)
    assert local_today() is local_today()  # asked of the clock once a day


def test_today_follows_the_clock_across_midnight_and_when_it_is_set_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by review: a clock set back (NTP after a VM restore) kept the later day until real time caught up,
    so dates of birth in the future were accepted meanwhile."""
    import datetime as dt
    from types import SimpleNamespace

    from hub.pseudonymisation import normalise
    clock = {"day": date(2030, 6, 1), "t": 0.0}

    class ClockDate(dt.date):
        @classmethod
        def today(cls) -> ClockDate:
            d = clock["day"]
            assert isinstance(d, date)
            return cls(d.year, d.month, d.day)

    def at(day: date, hour: int) -> date:
        clock["day"], clock["t"] = day, dt.datetime.combine(day, dt.time(hour)).timestamp()
        return normalise.local_today()

    monkeypatch.setattr(normalise, "date", ClockDate)
    monkeypatch.setattr(normalise, "time", SimpleNamespace(time=lambda: clock["t"]))
    monkeypatch.setattr(normalise, "_today", date.min)  # all three put back afterwards: the real day's cache
    monkeypatch.setattr(normalise, "_today_starts", 0.0)
    monkeypatch.setattr(normalise, "_today_ends", 0.0)
    assert at(date(2030, 6, 1), 12) == date(2030, 6, 1)
    assert at(date(2030, 6, 1), 23) == date(2030, 6, 1)
    assert at(date(2030, 6, 2), 0) == date(2030, 6, 2)  # midnight crossed
    assert at(date(2030, 6, 1), 23) == date(2030, 6, 1)  # set back an hour, across midnight
    assert at(date(2029, 1, 1), 9) == date(2029, 1, 1)  # set back years


@pytest.mark.parametrize("name", ["dob_year", "dob"])  # an entry remembered, and one of a whole value
def test_an_entry_the_agreement_refuses_makes_its_map_refused(agreement: Agreement, name: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry's remembered verdict is what sends an event with a bad token to the full conformance check:
    a map with one refused entry must come out refused (found by review: dropping the verdict went unnoticed)."""
    plan = _police_plans(agreement)[0]
    mint = plan._mints["dob"]
    mint.clear()
    refused = {name}
    monkeypatch.setattr(mint, "_mac_check", lambda name, key_id: name not in refused)  # the check the plan asks
    made = mint._mint(date(1990, 4, 7), ())
    assert made[0] and made[2] is False
    refused.clear()
    mint.clear()
    assert mint._mint(date(1990, 4, 7), ())[2] is True


def test_remembered_entries_stay_within_their_bound_and_clear_forgets_them(agreement: Agreement,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.pseudonymisation import plan as plan_module
    monkeypatch.setattr(plan_module, "ENTRIES_REMEMBERED", 50)
    mint = _police_plans(agreement)[0]._mints["dob"]
    mint.clear()
    assert mint._entries is not None
    for i in range(400):  # 400 new dates of birth: far more entries than the bound
        mint._mint(date(1950, 1, 1) + timedelta(days=37 * i), ())
        assert len(mint._entries) <= 50
    assert mint._entries
    mint.clear()
    assert not mint._entries
