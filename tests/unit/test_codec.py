"""The compiled Avro codec (``hub.schemas.codec``) against fastavro, its referee, on every shipped schema.

Whatever the compiled path encodes must be fastavro's bytes; whatever it decodes must be fastavro's values;
whatever it does not take (a value of another type, a corrupt body) must reach fastavro and end as before.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastavro import schemaless_reader, schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.schemas import SHARED_EVENT, SchemaError, SchemaRepository, default_repository
from hub.schemas.codec import Fallback, Unsupported, compile_codec, compile_decoder, compile_encoder
from hub.schemas.repository import HEADER_LENGTH

REPO = default_repository()
COMPILED = [name for name in REPO.names() if REPO.get(name).fast_encode is not None]

text = st.text(max_size=40) | st.sampled_from(["", "é", "x" * 70, "y" * 1100, "\u2603 snow"])
longs = st.integers(-(1 << 63), (1 << 63) - 1) | st.integers(-200, 200)
ints = st.integers(-(1 << 31), (1 << 31) - 1) | st.integers(-200, 200)
days = st.dates(date(1, 1, 1), date(9999, 12, 31))
moments = st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31))


def values(t: Any) -> st.SearchStrategy[Any]:
    """Plain values of a declared Avro type (what the compiled path takes)."""
    if isinstance(t, list):
        return st.one_of(*(values(b) for b in t))
    if isinstance(t, str):
        return {"null": st.none(), "string": text, "boolean": st.booleans(), "int": ints, "long": longs,
                "double": st.floats(allow_nan=False)}[t]
    logical = t.get("logicalType")
    if logical == "date":
        return days | st.integers(-700000, 2900000)
    if logical == "local-timestamp-millis":
        return moments.map(lambda m: m.replace(microsecond=m.microsecond // 1000 * 1000)) | longs.filter(
            lambda n: -62135596800000 <= n <= 253402300799999)
    if t["type"] == "map":
        return st.dictionaries(text, values(t["values"]), max_size=6)
    if t["type"] == "array":
        return st.lists(values(t["items"]), max_size=4)
    if t["type"] == "record":
        return st.fixed_dictionaries({f["name"]: values(f["type"]) for f in t["fields"]})
    return values(t["type"])


def fastavro_bytes(name: str, record: Any) -> bytes:
    schema = REPO.get(name)
    buf = io.BytesIO()
    buf.write(b"\xc3\x01" + schema.fingerprint)
    schemaless_writer(buf, schema.parsed, record)
    return buf.getvalue()


def fastavro_record(name: str, payload: bytes) -> Any:
    body = io.BytesIO(payload)
    body.seek(HEADER_LENGTH)
    return schemaless_reader(body, REPO.get(name).parsed, None)


def test_every_shipped_schema_but_the_aware_timestamp_is_compiled() -> None:
    assert set(REPO.names()) - set(COMPILED) == {"svh.alerts.Alert"}  # timestamp-millis: fastavro only
    assert SHARED_EVENT in COMPILED and "svh.raw.PoliceIncident" in COMPILED


@pytest.mark.parametrize("name", COMPILED)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compiled_bytes_and_values_are_fastavros(name: str, data: st.DataObject) -> None:
    schema = REPO.get(name)
    record = data.draw(values(dict(schema.declared)))
    assert schema.fast_encode is not None and schema.fast_decode is not None
    payload = schema.fast_encode(record)
    assert payload == fastavro_bytes(name, record)
    decoded = schema.fast_decode(payload, HEADER_LENGTH)
    expected = fastavro_record(name, payload)
    assert decoded == expected
    assert [type(v) for v in decoded.values()] == [type(v) for v in expected.values()]
    assert REPO.decode(payload) == (name, expected)


@pytest.mark.parametrize("name", COMPILED)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_corrupt_body_decodes_as_fastavro_decodes_it_or_not_at_all(name: str, data: st.DataObject) -> None:
    schema = REPO.get(name)
    payload = bytearray(fastavro_bytes(name, data.draw(values(dict(schema.declared)))))
    cut = data.draw(st.integers(HEADER_LENGTH, len(payload)))
    flips = data.draw(st.lists(st.tuples(st.integers(HEADER_LENGTH, len(payload) - 1), st.integers(0, 255)),
                               max_size=3))
    for at, byte in flips:
        payload[at] = byte
    mangled = bytes(payload[:cut])
    try:
        expected: Any = fastavro_record(name, mangled)
    except Exception:  # noqa: BLE001 - whatever fastavro raises, the repository says SchemaError
        expected = SchemaError
    assert schema.fast_decode is not None
    try:
        fast: Any = schema.fast_decode(mangled, HEADER_LENGTH)
    except Exception:  # noqa: BLE001 - the compiled path declines: fastavro reads it
        fast = None
    if fast is not None:
        assert fast == expected
    if expected is SchemaError:
        with pytest.raises(SchemaError):
            REPO.decode(mangled)
    else:
        assert REPO.decode(mangled) == (name, expected)


@pytest.mark.parametrize("bad", [
    {"event_id": 7}, {"occurred_hour": True}, {"occurred_hour": 1 << 40}, {"flags": {"knife": 1}},
    {"occurred_date": datetime(2025, 1, 2, 3, 4)}, {"persons": ({"role": "victim"},)}, {"withheld_fields": "a"},
])
def test_a_value_that_is_not_plain_goes_to_fastavro(bad: dict[str, Any]) -> None:
    event = {"event_id": "ev-1", "source": "s", "agreement_id": "a", "agreement_version": "1", "key_id": "k",
             "occurred_date": date(2025, 1, 2), **bad}
    schema = REPO.get(SHARED_EVENT)
    assert schema.fast_encode is not None
    with pytest.raises(Exception):  # noqa: B017, PT011 - Fallback or a TypeError on the way: never bytes
        schema.fast_encode(event)
    try:
        expected: Any = REPO.encode_with_fastavro(SHARED_EVENT, event)
    except SchemaError:
        expected = SchemaError
    if expected is SchemaError:
        with pytest.raises(SchemaError):
            REPO.encode(SHARED_EVENT, event)
    else:
        assert REPO.encode(SHARED_EVENT, event) == expected


def test_missing_fields_take_their_defaults_like_fastavro() -> None:
    event = {"event_id": "ev-1", "source": "s", "agreement_id": "a", "agreement_version": "1", "key_id": "k"}
    schema = REPO.get(SHARED_EVENT)
    assert schema.fast_encode is not None
    assert schema.fast_encode(event) == REPO.encode_with_fastavro(SHARED_EVENT, event)
    with pytest.raises(KeyError):  # no default: fastavro decides (and refuses)
        schema.fast_encode({"source": "s"})
    with pytest.raises(SchemaError):
        REPO.encode(SHARED_EVENT, {"source": "s"})


def test_dates_and_times_read_back_as_fastavro_reads_them() -> None:
    declared = {"type": "record", "name": "T", "fields": [
        {"name": "d", "type": {"type": "int", "logicalType": "date"}},
        {"name": "t", "type": ["null", {"type": "long", "logicalType": "local-timestamp-millis"}]}]}
    encode, decode = compile_encoder(declared), compile_decoder(declared)
    when = datetime(1969, 12, 31, 23, 59, 59, 999000)
    body = encode({"d": date(1900, 3, 1), "t": when})
    assert decode(body, 0) == {"d": date(1900, 3, 1), "t": when}
    epoch = datetime(1970, 1, 1)
    assert decode(encode({"d": 0, "t": 1}), 0) == {"d": epoch.date(), "t": epoch + timedelta(milliseconds=1)}


def test_shapes_it_does_not_know_get_no_codec() -> None:
    for t in ("bytes", "float", {"type": "enum", "name": "E", "symbols": ["A"]}, ["null", "string", "int"],
              {"type": "long", "logicalType": "timestamp-millis"}, "svh.Other"):
        assert compile_codec({"type": "record", "name": "R", "fields": [{"name": "x", "type": t}]}) is None
    with pytest.raises(Unsupported):
        compile_encoder({"type": "record", "name": "R", "fields": [{"name": "x", "type": "bytes"}]})


def test_a_schema_python_cannot_compile_gets_no_codec() -> None:
    """Twelve nested arrays are more blocks than Python nests: no codec, fastavro does it all (not a crash)."""
    t: Any = "string"
    for _ in range(12):
        t = {"type": "array", "items": t}
    assert compile_codec({"type": "record", "name": "R", "fields": [{"name": "x", "type": t}]}) is None


def test_a_long_varint_is_left_to_fastavro() -> None:
    from fastavro import parse_schema
    declared = {"type": "record", "name": "R", "fields": [{"name": "x", "type": "long"}]}
    decode = compile_decoder(declared)
    with pytest.raises(Fallback):
        decode(b"\xff" * 9 + b"\x01", 0)
    nine = b"\xfe" * 8 + b"\x7f"  # 63 bits: the longest the compiled path reads
    assert decode(nine, 0) == schemaless_reader(io.BytesIO(nine), parse_schema(declared), None)


def test_repository_without_compiled_codec_still_works() -> None:
    repo = SchemaRepository([REPO.get("svh.alerts.Alert")])
    assert repo.get("svh.alerts.Alert").fast_encode is None


_token_maps = st.dictionaries(st.text(max_size=12), st.text(max_size=50) | st.sampled_from(["y" * 5000]),
                              max_size=8)


def _link_tokens(tokens: dict[str, str]) -> dict[str, Any]:
    return {"event_id": "ev-1", "source": "police_incident", "key_id": "k1", "occurred_date": None,
            "persons": [{"role": "victim", "sex": None, "tokens": tokens}]}


@settings(max_examples=150, deadline=None, derandomize=True)
@given(maps=st.lists(_token_maps, max_size=4))
def test_a_map_carrying_its_encoding_encodes_as_the_plain_map(maps: list[dict[str, str]]) -> None:
    """``EncodedMap.avro`` (``map_entries``), and ``joined`` of several: the bytes fastavro writes for the union."""
    from hub.schemas.codec import EncodedMap, joined, map_entries
    blocks = []
    for m in maps:
        block = EncodedMap(m)
        block.avro = map_entries(block)
        blocks.append(block)
    union = joined(blocks)
    plain: dict[str, str] = {}
    for m in maps:
        plain.update(m)
    assert list(union.items()) == list(plain.items())
    if len(plain) != sum(len(m) for m in maps):
        assert union.avro is None  # a repeated key: the entries are not the maps' entries one after another
    expected = REPO.encode_with_fastavro("svh.link.LinkTokens", _link_tokens(plain))
    assert REPO.encode("svh.link.LinkTokens", _link_tokens(union)) == expected
    assert REPO.encode("svh.link.LinkTokens", _link_tokens(union.copy())) == expected


@pytest.mark.parametrize("change", ["set", "del", "ior", "clear", "pop", "popitem", "setdefault", "update"])
def test_a_changed_encoded_map_forgets_its_encoding(change: str) -> None:
    from hub.schemas.codec import EncodedMap, map_entries
    m = EncodedMap({"a": "1", "b": "2"})
    m.avro = map_entries(m)
    {"set": lambda: m.__setitem__("a", "SMITH"), "del": lambda: m.__delitem__("a"),
     "ior": lambda: m.__ior__({"c": "3"}), "clear": m.clear, "pop": lambda: m.pop("a"), "popitem": m.popitem,
     "setdefault": lambda: m.setdefault("c", "3"), "update": lambda: m.update(c="3")}[change]()
    assert m.avro is None
    assert REPO.encode("svh.link.LinkTokens", _link_tokens(m)) == REPO.encode_with_fastavro(
        "svh.link.LinkTokens", _link_tokens(dict(m)))
