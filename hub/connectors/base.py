"""The connector contract: a source yields records (or row errors); the publisher does the rest.

A connector only knows how to read its agency's system. Encoding, keys, headers, dead letters,
counting and flushing live in the publisher (``RecordSink``) so every connector behaves the same.
A long-lived connector is a ``Mode`` (``hub.connectors.mode``: file drop, database, HTTP push) run by
``hub.connectors.service``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hub.connectors.mapping import RowError


@dataclass
class SourceRecord:
    """One record read from an agency system: parsed, or the reason it could not be."""

    position: str  # where it came from, e.g. "extract.csv row 57" (no values)
    original: bytes  # the record as read, for the dead-letter topic
    record: dict[str, Any] | None = None
    error: RowError | None = None
    record_id: str | None = None
    header: bytes | None = None  # a CSV record's header line (column names only), so a dead letter can be replayed


Encoded = tuple[bytes, bytes]
"""A row the compiled plan already made into its message: (key, raw event's Avro bytes). Only a ``Publisher``
of raw events takes one (``CsvFileConnector.encoded``)."""


@dataclass
class RunReport:
    source: str
    read: int = 0
    published: int = 0
    dead_lettered: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    locations: dict[str, int] = field(default_factory=dict)
    """Free-text locations geocoded by a ``place`` field: ``placed`` (only the area was sent) and ``unplaced``
    (the area was sent empty; the text never)."""

    @property
    def balanced(self) -> bool:
        return self.read == self.published + self.dead_lettered

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "read": self.read, "published": self.published,
                               "dead_lettered": self.dead_lettered, "errors": dict(sorted(self.errors.items()))}
        if self.locations:
            out["locations"] = dict(sorted(self.locations.items()))
        return out

    def copy(self) -> RunReport:
        return RunReport(self.source, self.read, self.published, self.dead_lettered, dict(self.errors),
                         dict(self.locations))

    def count_locations(self, placements: Mapping[str, int], before: Mapping[str, int] | None = None) -> None:
        """Add a mapping's place-field outcomes (since ``before``, a copy taken earlier) to this report."""
        for outcome, n in placements.items():
            n -= (before or {}).get(outcome, 0)
            if n:
                self.locations[outcome] = self.locations.get(outcome, 0) + n

    def minus(self, earlier: RunReport) -> RunReport:
        """What happened since ``earlier`` (a copy of this report taken before a unit of work)."""
        errors = {k: v - earlier.errors.get(k, 0) for k, v in self.errors.items() if v - earlier.errors.get(k, 0)}
        locations = {k: v - earlier.locations.get(k, 0) for k, v in self.locations.items()
                     if v - earlier.locations.get(k, 0)}
        return RunReport(self.source, self.read - earlier.read, self.published - earlier.published,
                         self.dead_lettered - earlier.dead_lettered, errors, locations)

    def add(self, other: RunReport) -> None:
        self.read += other.read
        self.published += other.published
        self.dead_lettered += other.dead_lettered
        for k, v in other.errors.items():
            self.errors[k] = self.errors.get(k, 0) + v
        self.count_locations(other.locations)


class RecordSink(Protocol):
    """What the runtime needs of a publisher (``Publisher``, or the at-source pseudonymising one).

    ``flush`` returns only when every record handed to ``publish`` so far is acknowledged by Kafka
    (or raises), so a caller may checkpoint after it. ``report`` counts since the sink was opened.
    """

    report: RunReport

    def publish(self, rec: SourceRecord) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> RunReport: ...


class Connector(ABC):
    """An agency source. Subclasses implement ``records``; ``source`` names the raw schema."""

    source: str

    @abstractmethod
    def records(self) -> Iterator[SourceRecord]:
        """Every record of the input, in order, parsed or with its ``RowError``."""
