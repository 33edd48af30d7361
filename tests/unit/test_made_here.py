"""The sink's short cut for events its own pseudonymise stage made (hub.streams.made)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hub.connectors import CsvFileConnector, default_mapping_path, load_mapping
from hub.mart.store import event_row
from hub.policy import Agreement
from hub.pseudonymisation import KeyRing, PostcodeLookup, Pseudonymiser
from hub.schemas import RAW_SCHEMAS, SHARED_EVENT, default_repository
from hub.streams.boundary import Boundary
from hub.streams.made import MadeHere
from hub.synth import SOURCE_GENERATORS, generate_police_extract


def test_taken_once_by_exact_bytes_only() -> None:
    made = MadeHere(10)
    event = {"event_id": "ev-1"}
    made.add(b"abc", event)
    assert made.take(b"abd") is None and made.take(None) is None
    assert made.take(bytes(bytearray(b"abc"))) is event  # equal bytes, another object: as consumed from Kafka
    assert made.take(b"abc") is None  # a redelivery decodes again


def test_bounded_oldest_out() -> None:
    made = MadeHere(3)
    for i in range(5):
        made.add(bytes([i]), {"n": i})
    made.trim()
    assert len(made) == 3
    assert made.take(bytes([0])) is None and made.take(bytes([1])) is None
    assert made.take(bytes([4])) == {"n": 4}


def test_off_when_the_sink_runs_elsewhere() -> None:
    made = MadeHere(0)
    made.add(b"abc", {"n": 1})
    assert len(made) == 0 and made.take(b"abc") is None


def _persons(event: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(i, p["role"], p.get("age_band"), p.get("sex")) for i, p in enumerate(event.get("persons") or [])]


def test_the_event_made_writes_the_rows_its_bytes_decode_to(agreement: Agreement) -> None:
    """What the sink writes from MadeHere equals what it would write after decoding the bytes, for every
    source the hub pseudonymises (the mart's event row, its persons, and what the incident refresh reads).
    Sources pseudonymised at the source are left out: the worker decodes their bytes itself, so the event it
    keeps is their decoding exactly."""
    schemas = default_repository()
    sources = [s for s in ("police_incident", *sorted(SOURCE_GENERATORS))
               if agreement.source(s).pseudonymise_at == "hub"]
    assert len(sources) >= 5
    with tempfile.TemporaryDirectory() as tmp:
        police = generate_police_extract(Path(tmp) / "police", seed=2, incidents=200)
        lookup = PostcodeLookup.from_csv(police.lookup_csv)
        boundary = Boundary(schemas, Pseudonymiser(agreement, KeyRing.generate("kt"), lookup))
        for source in sources:
            extract = (police.extract_csv if source == "police_incident"
                       else SOURCE_GENERATORS[source](Path(tmp) / source, seed=2, rows=150).extract_csv)
            mapping = load_mapping(default_mapping_path(source), lookup)
            checked = 0
            for rec in CsvFileConnector(extract, mapping).records():
                if not rec.record:
                    continue
                raw = schemas.encode(RAW_SCHEMAS[source], rec.record)
                shared, _ = boundary.apply(source, boundary.decode(source, raw))
                event, value, _ = boundary.encode_event(shared)
                assert event is not None, source  # the boundary's events are plain: the compiled encoder takes them
                decoded = schemas.decode(value, expect=SHARED_EVENT)[1]
                if checked == 0:  # a value fastavro has to coerce: no event is offered, the sink decodes
                    odd = {**shared, "occurred_date": str(shared["occurred_date"])}
                    coerced, odd_value, _ = boundary.encode_event(odd)
                    assert coerced is None and odd_value == value, source
                assert event_row(event) == event_row(decoded), source
                assert _persons(event) == _persons(decoded), source
                assert (event["source"], event.get("occurred_date")) == (decoded["source"],
                                                                         decoded.get("occurred_date")), source
                checked += 1
            assert checked > 50, source
