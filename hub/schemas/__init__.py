"""Avro schemas (one per source, one harmonised shared event) and their wire encoding."""

from hub.schemas.repository import (
    AvroSchema,
    SchemaError,
    SchemaRepository,
    default_repository,
    load_schema,
)

RAW_SCHEMAS: dict[str, str] = {"police_incident": "svh.raw.PoliceIncident"}
"""Source name -> full name of its raw Avro schema."""

SHARED_EVENT = "svh.shared.SharedEvent"

__all__ = [
    "RAW_SCHEMAS",
    "SHARED_EVENT",
    "AvroSchema",
    "SchemaError",
    "SchemaRepository",
    "default_repository",
    "load_schema",
]
