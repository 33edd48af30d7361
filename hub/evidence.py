"""Evidence the assurance report needs from Kafka: dead letters by source, stage and reason.

Kept out of ``hub.reports`` (which, like the mart, never imports Kafka): the command gathers this and
passes plain counts in. Only the ``svh.errors.*`` headers are read; the dead letters' bytes (which may
hold identifiers before the boundary) are never kept, printed or written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.config import Settings
from hub.dead_letters import headers_dict
from hub.schemas import RAW_SCHEMAS
from hub.topics import Topics


@dataclass
class KafkaEvidence:
    dead_letters: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (source, stage, kind) -> n
    retention_hours: int = 0
    problem: str | None = None  # why the evidence is missing, if it is


def gather_kafka_evidence(settings: Settings, timeout_s: float = 30.0) -> KafkaEvidence:
    """Count the dead letters now held on every dead-letter topic; a Kafka problem is reported, not raised."""
    from kafka.errors import KafkaError

    from hub.kafka_read import read_topic

    topics = Topics(settings.topic_prefix)
    evidence = KafkaEvidence(retention_hours=settings.raw_retention_hours)
    names = [topics.dlq(s) for s in sorted(RAW_SCHEMAS)] + [topics.shared_dlq]
    try:
        for name in names:
            for msg in read_topic(settings, name, timeout_s):
                h = headers_dict(msg.headers)
                key = (h.get("source", "?"), h.get("stage", "?"), h.get("kind", "?"))
                evidence.dead_letters[key] = evidence.dead_letters.get(key, 0) + 1
    except (KafkaError, TimeoutError, OSError) as exc:
        evidence.problem = f"Kafka at {settings.kafka_bootstrap} could not be read ({type(exc).__name__})"
    return evidence
