"""Geocoding a free-text assault location against the partnership's gazetteer, inside the trust.

ISTV's assault location is typed by receptionists ("outside the Red Lion", "on Mill Road"). The
partnership supplies a gazetteer (street, venue and school names, each with its LSOA); the connector at
the trust looks the text up and sends only the LSOA. Text it cannot place is counted, never sent. The
longest gazetteer name found as whole words in the text wins ("Station Road" before "Station").
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

_WORDS = re.compile(r"[A-Z0-9]+")
MAX_WORDS = 6


def _words(text: str) -> list[str]:
    return _WORDS.findall(text.upper().replace("'", ""))


@dataclass
class Gazetteer:
    """Place name (normalised words) -> LSOA code; counts the texts it could and could not place."""

    places: dict[tuple[str, ...], str] = field(default_factory=dict)
    placed: int = 0
    unplaced: int = 0

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Gazetteer:
        out = cls()
        for name, lsoa in pairs:
            words = tuple(_words(name))
            if words and len(words) <= MAX_WORDS:
                out.places[words] = lsoa
        return out

    @classmethod
    def from_csv(cls, path: Path) -> Gazetteer:
        """A CSV with columns ``name`` and ``lsoa21cd``."""
        with path.open(encoding="utf-8", newline="") as handle:
            return cls.from_pairs((row["name"], row["lsoa21cd"]) for row in csv.DictReader(handle))

    def place(self, text: str | None) -> str | None:
        """The LSOA of the longest gazetteer name in ``text``, or None (counted) if none is there."""
        words = _words(text or "")
        for n in range(min(MAX_WORDS, len(words)), 0, -1):
            for i in range(len(words) - n + 1):
                lsoa = self.places.get(tuple(words[i:i + n]))
                if lsoa is not None:
                    self.placed += 1
                    return lsoa
        self.unplaced += 1
        return None
