"""Avro schemas by name and fingerprint, with single-object encoding on the wire.

Every Kafka message carries the writer schema's CRC-64-AVRO fingerprint (Avro single-object
encoding: ``C3 01`` + 8 bytes little-endian), so any consumer can find the writer's schema and
read old data with the current schema (resolution fills defaults). Schemas are parsed once.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form

from hub.schemas.codec import Decoder, Encoder, compile_codec

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
HEADER_LENGTH = 10


class SchemaError(ValueError):
    """A payload or schema the repository cannot handle (message never echoes field values)."""


@dataclass(frozen=True)
class AvroSchema:
    """One parsed schema version, its declared JSON and its wire fingerprint."""

    name: str  # full name, e.g. svh.raw.PoliceIncident
    declared: Mapping[str, Any]
    parsed: Any
    fingerprint: bytes  # 8 bytes, little-endian CRC-64-AVRO of the canonical form
    temporal: tuple[tuple[str, str], ...] = ()
    """Top-level fields holding a ``date`` or ``local-timestamp-millis`` (alone or in a union), with the kind."""
    fast_encode: Encoder | None = dataclasses.field(default=None, compare=False, repr=False)
    """The schema compiled to Python (``hub.schemas.codec``): header and body of a plain record, or ``Fallback``."""
    fast_decode: Decoder | None = dataclasses.field(default=None, compare=False, repr=False)
    """The schema compiled to Python: the record of a well-formed body, or an exception (then fastavro reads)."""

    @property
    def field_names(self) -> list[str]:
        return [f["name"] for f in self.declared["fields"]]

    def field(self, name: str) -> Mapping[str, Any]:
        for f in self.declared["fields"]:
            if f["name"] == name:
                return dict(f)
        raise KeyError(name)

    def identifier_fields(self) -> set[str]:
        """Fields the schema marks as direct identifiers (``"identifier": true``)."""
        return {f["name"] for f in self.declared["fields"] if f.get("identifier")}


def _temporal_fields(declared: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    out = []
    for f in declared.get("fields", ()):
        branches = f["type"] if isinstance(f["type"], list) else [f["type"]]
        for b in branches:
            if isinstance(b, dict) and b.get("logicalType") in (_DATE, _LOCAL_MILLIS):
                out.append((f["name"], b["logicalType"]))
    return tuple(out)


_DATE, _LOCAL_MILLIS = "date", "local-timestamp-millis"
_EPOCH = datetime(1970, 1, 1)
_EPOCH_DAY = _EPOCH.toordinal()
_MS = timedelta(milliseconds=1)


def _as_avro_numbers(schema: AvroSchema, record: Mapping[str, Any]) -> dict[str, Any]:
    """Dates and naive date-times as the numbers Avro stores (days, milliseconds since the epoch).

    fastavro converts them itself, but inside a union it costs tens of microseconds per value (more than
    the rest of a record); the numbers are the same (a test compares the bytes). Anything else, such as
    an aware date-time, is left for fastavro.
    """
    out = dict(record)
    for name, kind in schema.temporal:
        value = out.get(name)
        if value is None:
            continue
        if kind == _DATE and type(value) is date:
            out[name] = value.toordinal() - _EPOCH_DAY
        elif kind == _LOCAL_MILLIS and type(value) is datetime and value.tzinfo is None:
            out[name] = (value - _EPOCH) // _MS
    return out


def load_schema(declared: Mapping[str, Any]) -> AvroSchema:
    parsed = parse_schema(dict(declared))
    canonical = to_parsing_canonical_form(parsed)
    fp = bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
    name = f"{declared.get('namespace', '')}.{declared['name']}".lstrip(".")
    codec = compile_codec(declared, SINGLE_OBJECT_MAGIC + fp)
    return AvroSchema(name=name, declared=declared, parsed=parsed, fingerprint=fp,
                      temporal=_temporal_fields(declared), fast_encode=codec[0] if codec else None,
                      fast_decode=codec[1] if codec else None)


class SchemaRepository:
    """Schemas known to this process: the current version of each name, plus older writers."""

    def __init__(self, schemas: Iterable[AvroSchema] = ()) -> None:
        self._by_fp: dict[bytes, AvroSchema] = {}
        self._current: dict[str, AvroSchema] = {}
        self._short: dict[str, str] = {}
        for s in schemas:
            self.add(s)

    def add(self, schema: AvroSchema, *, current: bool = True) -> None:
        self._by_fp[schema.fingerprint] = schema
        if current:
            self._current[schema.name] = schema
            self._short[schema.name.rsplit(".", 1)[-1]] = schema.name

    def add_history(self, schema: AvroSchema) -> None:
        """Register an older writer schema: readable, never written."""
        self.add(schema, current=False)

    def get(self, name: str) -> AvroSchema:
        full = self._short.get(name, name)
        try:
            return self._current[full]
        except KeyError:
            raise SchemaError(f"unknown schema {name!r}") from None

    def names(self) -> list[str]:
        return sorted(self._current)

    def encode(self, name: str, record: Mapping[str, Any]) -> bytes:
        """Header and body: the schema's compiled encoder for a plain record, else fastavro (same bytes)."""
        return self.encode_exact(name, record)[0]

    def encode_exact(self, name: str, record: Mapping[str, Any]) -> tuple[bytes, bool]:
        """``encode``, and whether the bytes hold exactly the record's values: true when the compiled encoder
        took it (plain values only), false when fastavro did, which may coerce (a string for a date...)."""
        schema = self.get(name)
        if schema.fast_encode is not None:
            try:
                return schema.fast_encode(record), True
            except Exception:  # noqa: BLE001, S110 - not plain (or not valid): fastavro decides, as before
                pass
        return self.encode_with_fastavro(name, record), False

    def encode_with_fastavro(self, name: str, record: Mapping[str, Any]) -> bytes:
        """``encode`` by fastavro alone: the referee of the compiled path, and ``hub bench core``'s anchor."""
        schema = self.get(name)
        buf = io.BytesIO()
        buf.write(SINGLE_OBJECT_MAGIC)
        buf.write(schema.fingerprint)
        try:
            schemaless_writer(buf, schema.parsed, _as_avro_numbers(schema, record) if schema.temporal
                              else record if isinstance(record, dict) else dict(record))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise SchemaError(f"record does not fit schema {schema.name}: {type(exc).__name__}") from None
        return buf.getvalue()

    def writer_of(self, payload: bytes) -> AvroSchema:
        if len(payload) < HEADER_LENGTH or payload[:2] != SINGLE_OBJECT_MAGIC:
            raise SchemaError("payload is not Avro single-object encoded (bad magic bytes)")
        fp = payload[2:HEADER_LENGTH]
        try:
            return self._by_fp[fp]
        except KeyError:
            raise SchemaError(f"unknown writer schema fingerprint {fp.hex()}") from None

    def decode(self, payload: bytes, expect: str | None = None) -> tuple[str, dict[str, Any]]:
        """Decode with the writer's schema, resolved to the current schema of the same name."""
        writer = self.writer_of(payload)
        reader = self._current.get(writer.name, writer)
        if expect is not None and reader.name != self.get(expect).name:
            raise SchemaError(f"expected {expect}, got {writer.name}")
        # Same schema on both sides (the common case): no resolution pass. The body is read in place.
        if reader is writer and writer.fast_decode is not None:
            try:
                return reader.name, writer.fast_decode(payload, HEADER_LENGTH)  # fastavro's values, compiled
            except Exception:  # noqa: BLE001, S110 - not well formed: fastavro reads it and says what is wrong
                pass
        resolve = None if reader is writer else reader.parsed
        body = io.BytesIO(payload)
        body.seek(HEADER_LENGTH)
        try:
            record = schemaless_reader(body, writer.parsed, resolve)
        except Exception as exc:  # fastavro raises many types on truncated or corrupt bodies
            raise SchemaError(f"corrupt Avro body for {writer.name}: {type(exc).__name__}") from None
        if not isinstance(record, dict):
            raise SchemaError(f"{writer.name} did not decode to a record")
        return reader.name, record


def _schema_files(directory: Path | None) -> list[tuple[str, str]]:
    if directory is not None:
        return [(p.name, p.read_text("utf-8")) for p in sorted(directory.glob("*.avsc"))]
    root = resources.files("hub.schemas")
    out = [(p.name, p.read_text("utf-8")) for p in sorted(root.iterdir(), key=lambda p: p.name)
           if p.name.endswith(".avsc")]
    history = root / "history"
    if history.is_dir():
        out += [(f"history/{p.name}", p.read_text("utf-8"))
                for p in sorted(history.iterdir(), key=lambda p: p.name) if p.name.endswith(".avsc")]
    return out


def default_repository(directory: Path | None = None) -> SchemaRepository:
    """The schemas shipped in ``hub/schemas`` (current) and ``hub/schemas/history`` (older writers)."""
    repo = SchemaRepository()
    for fname, text in _schema_files(directory):
        schema = load_schema(json.loads(text))
        if fname.startswith("history/"):
            repo.add_history(schema)
        else:
            repo.add(schema)
    return repo


@functools.cache
def shipped_schemas() -> SchemaRepository:
    """``default_repository()``, loaded once per process, for callers that only read it: loading compiles every
    schema's codec (about 40 ms on a busy two-core machine), and ``hub connector load`` needs the schemas three
    times (the mapping's check, the publisher, the reading process). Never change the repository it returns; a
    forked process inherits it."""
    return default_repository()
