"""Shared events this worker process made, so its own sink need not decode and re-check them.

Why: with the pseudonymise stage and the sink in one process (the default), every event was decoded
and checked against the agreement twice: by the boundary, which checks its output (the plan's
conformance check) and encodes it, and again by the sink after the round trip through ``svh.shared``
(~10% of the worker's time). The sink still consumes every event from ``svh.shared`` and writes
nothing else (the privacy boundary and at-least-once delivery are unchanged); when a message's value
is byte for byte one this process encoded, the event those bytes were encoded from is written instead
of decoding them again. Anything else (another worker's event, one made before a restart, a forged
one, one evicted from here) is decoded and checked as before.

The event written is the dict the bytes were encoded from, not their decoding: they differ only in
optional fields the dict leaves out and a decoding fills with None, which the mart reads with ``get``
(a unit test compares the mart rows of both for every source's synthetic extract).

Bounded: the oldest entries go first once ``limit`` is reached, so a sink that falls behind (or
partitions that moved to another worker) cost only the saving, never memory.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

MADE_HERE_MAX = 12000
"""Events kept (~1.9 kB each with their bytes: ~23 MiB when full). While a backlog drains, the sink runs up
to Faust's buffers and the fetched-but-undelivered records behind the pseudonymise stage (4,000 was too few:
the bench's first 16,000 events were decoded again; 12,000 let all 20,000 be taken from here)."""


class MadeHere:
    """Shared-event bytes -> the event they encode, for the events this process made (bounded, oldest out)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._events: OrderedDict[bytes, dict[str, Any]] = OrderedDict()

    def add(self, value: bytes | None, event: dict[str, Any] | None) -> None:
        """Remember that ``value`` encodes ``event`` exactly (None: it may not; the sink decodes it)."""
        if self.limit and value is not None and event is not None:
            self._events[value] = event

    def trim(self) -> None:
        """Drop the oldest entries beyond the limit (once per batch, not per event)."""
        events = self._events
        while len(events) > self.limit:
            events.popitem(last=False)

    def take(self, value: bytes | None) -> dict[str, Any] | None:
        """The event ``value`` encodes if this process made it (forgotten once taken), else None."""
        if not self._events or value is None:
            return None
        return self._events.pop(value, None)

    def __len__(self) -> int:
        return len(self._events)
