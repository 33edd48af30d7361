"""Avro schemas (one per source, one harmonised shared event) and their wire encoding."""

from hub.schemas.repository import (
    AvroSchema,
    SchemaError,
    SchemaRepository,
    default_repository,
    load_schema,
)

RAW_SCHEMAS: dict[str, str] = {
    "police_incident": "svh.raw.PoliceIncident",
    "ed_attendance": "svh.raw.EdAttendance",
    "ambulance_callout": "svh.raw.AmbulanceCallout",
    "probation_event": "svh.raw.ProbationEvent",
    "youth_justice_event": "svh.raw.YouthJusticeEvent",
    "school_exclusion": "svh.raw.SchoolExclusion",
    "referral": "svh.raw.Referral",
    "intervention_activity": "svh.raw.InterventionActivity",
}
"""Source name -> full name of its raw Avro schema. Whether a source's records ever reach a raw topic is
the agreement's ``pseudonymise_at``: health bodies' (ED, ambulance) are pseudonymised at the source."""

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
