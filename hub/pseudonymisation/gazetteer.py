"""Geocoding a free-text assault location against the partnership's gazetteer, inside the trust.

ISTV's assault location is typed by receptionists ("outside the Red Lion", "on Mill Road"). The
partnership supplies a gazetteer (street, venue and school names, each with its LSOA); the connector at
the trust looks the text up and sends only the LSOA. Text it cannot place is counted, never sent. The
longest gazetteer name found as whole words in the text wins ("Station Road" before "Station"); a
leading "The" is optional ("outside Red Lion" finds "The Red Lion").

The gazetteer never keeps the text it was asked about, and ``place`` raises nothing: a description it
cannot place is only counted, so the text cannot reach a log or a dead letter from here.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

_WORDS = re.compile(r"[A-Z0-9]+")
MAX_WORDS = 6
LSOA = re.compile(r"[EW]01[0-9]{6}")
EXAMPLE = "gazetteer_example_county.csv"
"""The synthetic gazetteer of the fictional county, shipped in ``hub/reference`` (venues, streets, schools)."""


class GazetteerError(ValueError):
    """A gazetteer file that cannot be used; the message names the file and the row, never a place name."""


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
                if words[0] == "THE" and len(words) > 1:
                    out.places.setdefault(words[1:], lsoa)
        return out

    @classmethod
    def from_csv(cls, path: Path) -> Gazetteer:
        """A CSV with columns ``name`` and ``lsoa21cd`` (others, such as ``kind``, are ignored)."""
        try:
            with Path(path).open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.DictReader(handle)
                if not {"name", "lsoa21cd"} <= set(reader.fieldnames or ()):
                    raise GazetteerError(f"gazetteer {path}: needs the columns name and lsoa21cd")
                pairs = []
                for n, row in enumerate(reader, start=2):
                    lsoa = (row["lsoa21cd"] or "").strip().upper()
                    if not LSOA.fullmatch(lsoa):
                        raise GazetteerError(f"gazetteer {path} row {n}: lsoa21cd is not an LSOA code")
                    pairs.append(((row["name"] or ""), lsoa))
        except OSError as exc:
            raise GazetteerError(f"gazetteer {path} cannot be read ({exc.strerror or type(exc).__name__})") from None
        except UnicodeDecodeError:
            raise GazetteerError(f"gazetteer {path} is not UTF-8 text") from None
        out = cls.from_pairs(pairs)
        if not out.places:
            raise GazetteerError(f"gazetteer {path} has no places")
        return out

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


def example_path() -> Path:
    """The shipped synthetic gazetteer of the fictional county (the default, for the demo and tests)."""
    return Path(str(resources.files("hub.reference").joinpath(EXAMPLE)))


@cache
def example_rows() -> tuple[tuple[str, str, str], ...]:
    """(name, kind, LSOA) of every place in the shipped synthetic gazetteer."""
    with example_path().open(encoding="utf-8", newline="") as handle:
        return tuple((r["name"], r["kind"], r["lsoa21cd"]) for r in csv.DictReader(handle))
