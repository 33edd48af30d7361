"""The connector contract: a source yields records (or row errors); the publisher does the rest.

A connector only knows how to read its agency's system. Encoding, keys, headers, dead letters,
counting and flushing live in ``Publisher`` so every connector behaves the same.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hub.connectors.mapping import RowError


@dataclass
class SourceRecord:
    """One record read from an agency system: parsed, or the reason it could not be."""

    position: str  # where it came from, e.g. "extract.csv row 57" (no values)
    original: bytes  # the record as read, for the dead-letter topic
    record: dict[str, Any] | None = None
    error: RowError | None = None
    record_id: str | None = None


@dataclass
class RunReport:
    source: str
    read: int = 0
    published: int = 0
    dead_lettered: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return self.read == self.published + self.dead_lettered

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "read": self.read, "published": self.published,
                "dead_lettered": self.dead_lettered, "errors": dict(sorted(self.errors.items()))}


class Connector(ABC):
    """An agency source. Subclasses implement ``records``; ``source`` names the raw schema."""

    source: str

    @abstractmethod
    def records(self) -> Iterator[SourceRecord]:
        """Every record of the input, in order, parsed or with its ``RowError``."""
