"""Postcode -> LSOA/MSOA/LAD lookup from an ONS NSPL/ONSPD-style CSV.

ONS renames year-suffixed columns between editions (``lsoa21`` -> ``lsoa21cd``, ``lad25cd`` ->
``lad26cd``), so columns are resolved by prefix and the newest edition's column wins.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from hub.pseudonymisation import normalise

LSOA_CODE = re.compile(r"^[EW]01\d{6}$")


class GeographyError(ValueError):
    """The lookup file cannot be used."""


@dataclass(frozen=True)
class Area:
    lsoa: str
    msoa: str | None
    lad: str | None


def _pick(header: list[str], prefixes: tuple[str, ...]) -> str | None:
    """The column whose name starts with one of ``prefixes`` and has the highest year suffix."""
    candidates = [h for h in header if h.lower().startswith(prefixes)]
    if not candidates:
        return None
    return max(candidates, key=lambda h: (re.findall(r"\d+", h) or ["0"])[0])


class PostcodeLookup:
    """In-memory lookup; a county's subset of the NSPL is a few MB."""

    def __init__(self, by_postcode: dict[str, Area], by_lsoa: dict[str, Area]) -> None:
        self._by_postcode = by_postcode
        self._by_lsoa = by_lsoa

    @classmethod
    def from_csv(cls, path: Path) -> PostcodeLookup:
        if not path.exists():
            raise GeographyError(f"postcode lookup {path} does not exist")
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            pc_col = _pick(header, ("pcds",)) or _pick(header, ("pcd",))
            lsoa_col = _pick(header, ("lsoa21",)) or _pick(header, ("lsoa",))
            msoa_col = _pick(header, ("msoa21",)) or _pick(header, ("msoa",))
            lad_col = _pick(header, ("lad", "laua"))
            if not pc_col or not lsoa_col:
                raise GeographyError(f"postcode lookup {path}: needs a postcode column (pcds/pcd...) and an "
                                     f"LSOA column (lsoa21...); found {', '.join(header)}")
            term_col = _pick(header, ("doterm",))
            by_pc: dict[str, Area] = {}
            by_lsoa: dict[str, Area] = {}
            for row in reader:
                pc = normalise.postcode(row[pc_col])
                lsoa = (row[lsoa_col] or "").strip()
                if not pc or not LSOA_CODE.match(lsoa):
                    continue
                area = Area(lsoa, (row.get(msoa_col or "") or None), (row.get(lad_col or "") or None))
                by_lsoa.setdefault(lsoa, area)
                # Terminated postcodes still resolve (old records use them), live ones take precedence.
                if term_col and row.get(term_col) and pc in by_pc:
                    continue
                by_pc[pc] = area
        if not by_pc:
            raise GeographyError(f"postcode lookup {path} has no usable rows")
        return cls(by_pc, by_lsoa)

    def by_postcode(self, postcode: str | None) -> Area | None:
        pc = normalise.postcode(postcode)
        return self._by_postcode.get(pc) if pc else None

    def by_lsoa(self, lsoa: str | None) -> Area | None:
        if not lsoa:
            return None
        code = lsoa.strip().upper()
        return self._by_lsoa.get(code) or (Area(code, None, None) if LSOA_CODE.match(code) else None)

    def __len__(self) -> int:
        return len(self._by_postcode)
