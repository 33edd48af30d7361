"""Avro schemas (one per source, one harmonised shared event) and their wire encoding."""

import json
from importlib import resources

from hub.schemas.repository import (
    AvroSchema,
    SchemaError,
    SchemaRepository,
    default_repository,
    load_schema,
    shipped_schemas,
)

RAW_NAMESPACE = "svh.raw"


def _raw_schemas() -> dict[str, str]:
    found: dict[str, str] = {}
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".avsc"):
            declared = json.loads(entry.read_text("utf-8"))
            if declared.get("namespace") == RAW_NAMESPACE:
                found[entry.name.removesuffix(".avsc")] = f"{RAW_NAMESPACE}.{declared['name']}"
    return found


RAW_SCHEMAS: dict[str, str] = _raw_schemas()
"""Source name -> full name of its raw Avro schema, found from the files: ``hub/schemas/<source>.avsc`` in
the namespace ``svh.raw`` is the source ``<source>`` (see ``hub.sources``). Whether a source's records ever
reach a raw topic is the agreement's ``pseudonymise_at``: health bodies' (ED, ambulance) are pseudonymised
at the source."""

SHARED_EVENT = "svh.shared.SharedEvent"

__all__ = [
    "RAW_SCHEMAS",
    "SHARED_EVENT",
    "AvroSchema",
    "SchemaError",
    "SchemaRepository",
    "default_repository",
    "shipped_schemas",
    "load_schema",
]
