"""Dead-letter context headers, after Kafka Connect's ``__connect.errors.*`` conventions.

A dead letter keeps the original bytes; the headers say where it came from (source topic,
partition, offset or file position), at which stage it failed, the error class and a message.
Messages name fields and positions, never record values.
"""

from __future__ import annotations

HEADER_PREFIX = "svh.errors."
CSV_HEADER = "svh.csv.header"  # a CSV dead letter's header line (column names), so it can be re-mapped and replayed
REPLAYED = "svh.dlq.replayed"  # on a marker message: "<partition>:<offset>" of the dead letter it replayed
REPLAYED_TO = "svh.dlq.replayed.to"  # on a marker message: the topic the replayed record went to
STAGES = ("validate", "encode", "deserialise", "policy", "pseudonymise", "link", "sink")


def dead_letter_headers(*, source: str, stage: str, error_class: str, message: str, position: str,
                        error_kind: str, column: str | None = None, topic: str | None = None,
                        partition: int | None = None, offset: int | None = None) -> list[tuple[str, bytes]]:
    """Kafka Connect-style context headers (``svh.errors.*``). The message names fields, never values."""
    items: dict[str, object] = {"source": source, "stage": stage, "class.name": error_class,
                                "exception.message": message, "kind": error_kind, "position": position}
    if column:
        items["field"] = column
    if topic is not None:
        items.update(topic=topic, partition=partition, offset=offset)
    return [(HEADER_PREFIX + k, str(v).encode()) for k, v in items.items()]


def headers_dict(headers: list[tuple[str, bytes]] | None) -> dict[str, str]:
    """``svh.errors.*`` headers as a plain dict without the prefix (for readers and tests)."""
    return {k[len(HEADER_PREFIX):]: (v or b"").decode() for k, v in headers or [] if k.startswith(HEADER_PREFIX)}
