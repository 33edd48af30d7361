"""Test doubles for kafka-python's ``KafkaProducer``, shipped with the package so agencies writing a
mapping or a new mode can test without a broker (the conformance suite uses the real one).

``RecordingProducer`` keeps every send; ``FlakyProducer`` fails acknowledgements on demand, to prove a
checkpoint never covers a record Kafka did not acknowledge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kafka.errors import KafkaTimeoutError


@dataclass(frozen=True)
class Sent:
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


class _Future:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def get(self, timeout: float | None = None) -> None:
        if self.error is not None:
            raise self.error


@dataclass
class RecordingProducer:
    """Acknowledges everything at once and remembers it; ``acked`` are the sends a flush confirmed."""

    sent: list[Sent] = field(default_factory=list)
    acked: int = 0
    closed: bool = False

    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None,
             headers: list[tuple[str, bytes]] | None = None, **_: Any) -> _Future:
        self.sent.append(Sent(topic, key, value or b"", list(headers or [])))
        return _Future()

    def flush(self, timeout: float | None = None) -> None:
        self.acked = len(self.sent)

    def close(self, timeout: float | None = None) -> None:
        self.closed = True

    def on(self, topic: str) -> list[Sent]:
        return [s for s in self.sent if s.topic == topic]


@dataclass
class FlakyProducer(RecordingProducer):
    """Like ``RecordingProducer``, but the sends numbered in ``fail_at`` (0-based) are never acknowledged."""

    fail_at: set[int] = field(default_factory=set)

    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None,
             headers: list[tuple[str, bytes]] | None = None, **kw: Any) -> _Future:
        n = len(self.sent)
        super().send(topic, value, key, headers)
        return _Future(KafkaTimeoutError("not acknowledged (FlakyProducer)") if n in self.fail_at else None)
