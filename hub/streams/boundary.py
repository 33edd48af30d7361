"""The pseudonymise stage's work on one raw message, apart from Kafka and Faust: decode, apply, split, encode.

The worker's stage (``hub.streams.app``) and ``hub bench core`` both call these three steps, so the
benchmark measures exactly the path the worker runs; the stage adds only the dead-letter handling
around each step and the batch's delivery.
"""

from __future__ import annotations

from typing import Any

from hub.linkage.messages import LINK_TOKENS, split_tokens
from hub.pseudonymisation import Pseudonymiser
from hub.schemas import RAW_SCHEMAS, SHARED_EVENT, SchemaRepository


class Boundary:
    """Raw payload -> (shared event bytes, link-tokens bytes or None) for one source at a time."""

    def __init__(self, schemas: SchemaRepository, pseudonymiser: Pseudonymiser) -> None:
        self.schemas = schemas
        self.pseudonymiser = pseudonymiser

    def decode(self, source: str, payload: bytes) -> dict[str, Any]:
        """The raw record (raises ``SchemaError``)."""
        return self.schemas.decode(payload, expect=RAW_SCHEMAS.get(source, source))[1]

    def apply(self, source: str, record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """(shared event with tokens, withheld field names); raises ``NoAgreementError`` or
        ``PseudonymisationError``."""
        return self.pseudonymiser.plan(source).apply(record)

    def encode(self, shared: dict[str, Any]) -> tuple[bytes, bytes | None]:
        """The shared event without tokens, and the persons' tokens for the link stage (raises ``SchemaError``):
        tokens never travel beside analysts' attributes."""
        return self.encode_event(shared)[1:]

    def encode_event(self, shared: dict[str, Any]) -> tuple[dict[str, Any] | None, bytes, bytes | None]:
        """``encode``, also returning the event (tokens emptied) that the first bytes encode: the worker's
        sink, in the same process, then need not decode those bytes again (``hub.streams.app``). None instead
        of the event when fastavro encoded it: it may have coerced a value, so only a decoding is exact."""
        event, tokens = split_tokens(shared, copy=False)  # encoded here and dropped: the maps need no copy
        value, exact = self.schemas.encode_exact(SHARED_EVENT, event)
        return (event if exact else None), value, (self.schemas.encode(LINK_TOKENS, tokens)
                                                   if tokens is not None else None)
