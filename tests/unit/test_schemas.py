"""Avro schemas: shipped files parse, single-object encoding, round trips, errors, evolution."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime
from importlib import resources
from typing import Any

import pytest
from fastavro.schema import to_parsing_canonical_form
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.schemas import RAW_SCHEMAS, SHARED_EVENT, SchemaError, SchemaRepository, default_repository, load_schema
from hub.schemas.repository import HEADER_LENGTH, SINGLE_OBJECT_MAGIC

SECRET = "Zebedee-O'Quill-4471"
REQUIRED_SHARED = ["event_id", "source", "agreement_id", "agreement_version", "key_id"]


def shipped_schema_files() -> list[str]:
    root = resources.files("hub.schemas")
    names = [p.name for p in root.iterdir() if p.name.endswith(".avsc")]
    history = root / "history"
    if history.is_dir():
        names += [f"history/{p.name}" for p in history.iterdir() if p.name.endswith(".avsc")]
    return sorted(names)


def read_shipped(name: str) -> dict[str, Any]:
    return json.loads(resources.files("hub.schemas").joinpath(name).read_text("utf-8"))


# --- CRC-64-AVRO computed independently, straight from the Avro specification ---------------------
_EMPTY = 0xC15D213AA4D7A795
_MASK = (1 << 64) - 1


def _table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = ((fp >> 1) ^ (_EMPTY & -(fp & 1))) & _MASK
        table.append(fp)
    return table


_TABLE = _table()


def crc64_avro(data: bytes) -> bytes:
    fp = _EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp.to_bytes(8, "little")


def minimal_shared(**extra: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"event_id": "ev-1", "source": "police_incident", "agreement_id": "a",
                           "agreement_version": "1", "key_id": "k1"}
    rec.update(extra)
    return rec


# --- shipped schemas ------------------------------------------------------------------------------

def test_schema_files_are_shipped() -> None:
    names = shipped_schema_files()
    assert "shared_event.avsc" in names
    assert "police_incident.avsc" in names


@pytest.mark.parametrize("name", shipped_schema_files())
def test_every_shipped_schema_parses(name: str) -> None:
    declared = read_shipped(name)
    schema = load_schema(declared)
    assert len(schema.fingerprint) == 8
    assert schema.name == f"{declared['namespace']}.{declared['name']}"
    assert schema.field_names == [f["name"] for f in declared["fields"]]


def test_default_repository_knows_every_source_and_the_shared_event(repo: SchemaRepository) -> None:
    for full_name in [*RAW_SCHEMAS.values(), SHARED_EVENT]:
        assert repo.get(full_name).name == full_name
        assert repo.get(full_name.rsplit(".", 1)[-1]).name == full_name  # short name works too
    with pytest.raises(SchemaError):
        repo.get("NoSuchSchema")


def test_raw_schema_marks_direct_identifiers(repo: SchemaRepository) -> None:
    ids = repo.get(RAW_SCHEMAS["police_incident"]).identifier_fields()
    assert {"victim_forename", "victim_surname", "victim_dob", "suspect_forename", "suspect_surname",
            "suspect_dob", "location_postcode", "narrative"} <= ids
    assert "offence_code" not in ids and "knife" not in ids


# --- single-object encoding -----------------------------------------------------------------------

def test_header_is_magic_plus_crc64_fingerprint(repo: SchemaRepository) -> None:
    schema = repo.get(SHARED_EVENT)
    payload = repo.encode(SHARED_EVENT, minimal_shared())
    assert payload[:2] == b"\xc3\x01" == SINGLE_OBJECT_MAGIC
    assert payload[2:HEADER_LENGTH] == schema.fingerprint
    canonical = to_parsing_canonical_form(schema.parsed).encode()
    assert schema.fingerprint == crc64_avro(canonical)


def test_crc64_reference_vector() -> None:
    # Guard for the independent implementation above: Avro's published fingerprint of "int".
    assert crc64_avro(b'"int"').hex() == "8f5c393f1ad57572"


def test_fingerprints_differ_between_schemas(repo: SchemaRepository) -> None:
    assert repo.get(SHARED_EVENT).fingerprint != repo.get(RAW_SCHEMAS["police_incident"]).fingerprint


def test_round_trip_fills_defaults(repo: SchemaRepository) -> None:
    name, decoded = repo.decode(repo.encode(SHARED_EVENT, minimal_shared()), expect="SharedEvent")
    assert name == SHARED_EVENT
    assert decoded["flags"] == {} and decoded["persons"] == [] and decoded["withheld_fields"] == []
    assert decoded["occurred_date"] is None and decoded["event_id"] == "ev-1"


def test_raw_round_trip_with_logical_types(repo: SchemaRepository) -> None:
    from datetime import datetime
    rec = {"record_id": "ZZ/25/000001", "offence_code": "8N", "occurred_from": datetime(2025, 3, 4, 21, 30),
           "victim_dob": date(1991, 4, 17), "knife": True}
    _, decoded = repo.decode(repo.encode("PoliceIncident", rec))
    assert decoded["occurred_from"] == datetime(2025, 3, 4, 21, 30)
    assert decoded["victim_dob"] == date(1991, 4, 17)
    assert decoded["knife"] is True and decoded["narrative"] is None


_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=20)
_opt_text = st.none() | _text
_person = st.fixed_dictionaries({
    "role": _text, "age_band": _opt_text, "sex": _opt_text,
    "tokens": st.dictionaries(_text, _text, max_size=4),
})
shared_events = st.fixed_dictionaries({
    "event_id": _text, "source": _text, "agreement_id": _text, "agreement_version": _text, "key_id": _text,
    "occurred_date": st.none() | st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)),
    "occurred_week": _opt_text, "occurred_month": _opt_text,
    "occurred_hour": st.none() | st.integers(min_value=-(2**31), max_value=2**31 - 1),
    "lsoa_code": _opt_text, "msoa_code": _opt_text, "lad_code": _opt_text,
    "offence_code": _opt_text, "offence_category": _opt_text,
    "flags": st.dictionaries(_text, st.booleans(), max_size=4),
    "attributes": st.dictionaries(_text, _text, max_size=4),
    "persons": st.lists(_person, max_size=3),
    "withheld_fields": st.lists(_text, max_size=4),
})


@settings(max_examples=60, deadline=None)
@given(record=shared_events)
def test_shared_event_round_trip_property(repo: SchemaRepository, record: dict[str, Any]) -> None:
    payload = repo.encode(SHARED_EVENT, record)
    name, decoded = repo.decode(payload, expect=SHARED_EVENT)
    assert name == SHARED_EVENT
    assert decoded == record


# --- errors never echo values ---------------------------------------------------------------------

def test_unknown_fingerprint_is_refused_without_values(repo: SchemaRepository) -> None:
    payload = repo.encode(SHARED_EVENT, minimal_shared(attributes={"note": SECRET}))
    forged = payload[:2] + bytes(8) + payload[HEADER_LENGTH:]
    with pytest.raises(SchemaError, match="fingerprint") as err:
        repo.decode(forged)
    assert SECRET not in str(err.value)


@pytest.mark.parametrize("mangle", [
    lambda p: b"\x00\x01" + p[2:],  # wrong magic
    lambda p: p[2:],  # no header at all
    lambda p: b"\xc3",  # too short
])
def test_bad_magic_is_refused_without_values(repo: SchemaRepository, mangle: Any) -> None:
    payload = repo.encode(SHARED_EVENT, minimal_shared(attributes={"note": SECRET}))
    with pytest.raises(SchemaError) as err:
        repo.decode(mangle(payload))
    assert SECRET not in str(err.value)
    assert "magic" in str(err.value)


def test_corrupt_body_is_refused_without_values(repo: SchemaRepository) -> None:
    payload = repo.encode(SHARED_EVENT, minimal_shared(attributes={"note": SECRET}))
    truncated = payload[:-(len(SECRET) // 2)]
    with pytest.raises(SchemaError) as err:
        repo.decode(truncated)
    assert SECRET not in str(err.value)
    assert SECRET[:6] not in str(err.value)


def test_record_that_does_not_fit_is_refused_without_values(repo: SchemaRepository) -> None:
    bad = minimal_shared(attributes={"note": SECRET}, occurred_hour="not-an-int-" + SECRET)
    with pytest.raises(SchemaError) as err:
        repo.encode(SHARED_EVENT, bad)
    assert SECRET not in str(err.value)
    missing = {"source": SECRET}  # required fields absent
    with pytest.raises(SchemaError) as err2:
        repo.encode(SHARED_EVENT, missing)
    assert SECRET not in str(err2.value)


def test_decode_with_wrong_expectation_is_refused(repo: SchemaRepository) -> None:
    payload = repo.encode(SHARED_EVENT, minimal_shared())
    with pytest.raises(SchemaError, match="expected"):
        repo.decode(payload, expect="PoliceIncident")


# --- evolution (FULL compatibility) ---------------------------------------------------------------

def test_shared_event_optional_fields_all_have_defaults(repo: SchemaRepository) -> None:
    fields = repo.get(SHARED_EVENT).declared["fields"]
    assert [f["name"] for f in fields[:5]] == REQUIRED_SHARED
    assert all("default" not in f for f in fields[:5])
    without = [f["name"] for f in fields[5:] if "default" not in f]
    assert without == [], f"fields without a default break FULL compatibility: {without}"
    person = next(f for f in fields if f["name"] == "persons")["type"]["items"]
    assert [f["name"] for f in person["fields"] if "default" not in f] == ["role"]


def shared_without(repo: SchemaRepository, field_name: str) -> dict[str, Any]:
    declared = copy.deepcopy(dict(repo.get(SHARED_EVENT).declared))
    declared["fields"] = [f for f in declared["fields"] if f["name"] != field_name]
    return declared


@pytest.mark.parametrize("dropped,default", [("withheld_fields", []), ("occurred_week", None), ("flags", {})])
def test_reader_resolves_data_from_an_older_writer(repo: SchemaRepository, dropped: str, default: Any) -> None:
    v0 = load_schema(shared_without(repo, dropped))
    assert v0.name == SHARED_EVENT and v0.fingerprint != repo.get(SHARED_EVENT).fingerprint
    old_writer = SchemaRepository([v0])
    payload = old_writer.encode(SHARED_EVENT, minimal_shared(offence_code="8N"))
    assert payload[2:HEADER_LENGTH] == v0.fingerprint

    reader = default_repository()
    with pytest.raises(SchemaError, match="fingerprint"):  # not registered yet
        reader.decode(payload)
    reader.add_history(v0)
    name, decoded = reader.decode(payload, expect=SHARED_EVENT)
    assert name == SHARED_EVENT
    assert decoded[dropped] == default
    assert decoded["offence_code"] == "8N"
    # History is readable, never written: encoding still uses the current schema.
    assert reader.encode(SHARED_EVENT, minimal_shared())[2:HEADER_LENGTH] == repo.get(SHARED_EVENT).fingerprint


def test_older_reader_reads_newer_writer(repo: SchemaRepository) -> None:
    v0 = load_schema(shared_without(repo, "withheld_fields"))
    old_reader = SchemaRepository([v0])
    old_reader.add_history(repo.get(SHARED_EVENT))
    payload = repo.encode(SHARED_EVENT, minimal_shared(withheld_fields=["narrative"], offence_code="8N"))
    _, decoded = old_reader.decode(payload)
    assert "withheld_fields" not in decoded
    assert decoded["offence_code"] == "8N"


@settings(max_examples=150, deadline=None, derandomize=True)
@given(when=st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
       day=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)))
def test_dates_written_as_numbers_give_fastavros_own_bytes(repo: SchemaRepository, when: datetime, day: date) -> None:
    """The encoder hands fastavro dates and naive date-times as Avro's numbers (fast); the bytes must be the
    ones fastavro writes from the objects themselves, pre-1970 and sub-millisecond values included."""
    import io

    from fastavro import schemaless_writer

    schema = repo.get("svh.raw.PoliceIncident")
    record = {"record_id": "A1", "offence_code": "8N", "occurred_from": when, "occurred_to": when,
              "victim_dob": day, "suspect_dob": None}
    own = io.BytesIO()
    schemaless_writer(own, schema.parsed, dict(record))
    assert repo.encode(schema.name, record)[10:] == own.getvalue()
    assert repo.decode(repo.encode(schema.name, record))[1]["occurred_from"] == when.replace(
        microsecond=when.microsecond // 1000 * 1000)
