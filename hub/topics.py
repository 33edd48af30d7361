"""Topic names: one raw and one dead-letter topic per source, shared topics after the privacy boundary."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    prefix: str = "svh"

    def raw(self, source: str) -> str:
        """Restricted: holds identifiers; only the pseudonymiser reads it."""
        return f"{self.prefix}.raw.{source}"

    def dlq(self, source: str) -> str:
        """Restricted: dead letters from before the boundary hold the original (identifying) bytes."""
        return f"{self.prefix}.dlq.{source}"

    def at_source(self, source: str) -> str:
        """Events pseudonymised inside an agency, not yet trusted: the worker checks each against the agreement
        before it joins the shared stream, and each at-source connector may write only its own."""
        return f"{self.prefix}.atsource.{source}"

    @property
    def shared(self) -> str:
        return f"{self.prefix}.shared"

    @property
    def shared_dlq(self) -> str:
        """Dead letters from stages after the boundary (link, sink): pseudonymised bytes only."""
        return f"{self.prefix}.dlq.shared"

    @property
    def link_tokens(self) -> str:
        """Restricted: the persons' linkage tokens, split off the shared events; only the link stage reads it.
        One partition, so every candidate match meets on it (see docs/linkage.md, Scale-out)."""
        return f"{self.prefix}.link.tokens"

    @property
    def linked(self) -> str:
        """Person ids per mention and merges, from the link stage (no token)."""
        return f"{self.prefix}.linked"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}.alerts"
