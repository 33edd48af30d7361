"""Areas and populations: names beside codes, the LSOA -> MSOA -> LAD hierarchy, rates per 1,000.

``ref_area`` and ``ref_population`` (restricted-layer tables, but public data) are filled from the
fictional county's table shipped with the hub (``hub/reference/population_example_county.csv``) when a
mart is initialised empty, and from the real ONS file by ``hub reference load population FILE``.

The ONS file: *Lower layer Super Output Area population estimates* (mid-year, LSOA 2021 boundaries),
sheet saved as CSV. Columns are found by name, case and spacing ignored:

- LSOA code (``LSOA 2021 Code`` / ``lsoa21cd``), required; LSOA name (``LSOA 2021 Name``), optional;
- ``Total`` (or ``All Ages`` / ``population``): all-ages population, required;
- LAD code and name (``LAD 2021 Code``, ``LAD 2021 Name``), optional;
- MSOA code and name (``msoa21cd``, ``msoa21nm``), optional: the ONS estimates file has none, so pass
  the postcode lookup (``--lookup``, NSPL/ONSPD style) to place each LSOA in its MSOA;
- ``year`` column, or ``--year``.

Rows for LSOAs outside England and Wales or with a non-numeric total are refused with their line.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, func, select

from hub.mart import models

LEVELS = ("lsoa", "msoa", "lad")
SHIPPED = "population_example_county.csv"


class PopulationFileError(ValueError):
    """The population file cannot be used (the message names the file and line)."""


@dataclass(frozen=True)
class AreaRow:
    lsoa: str
    lsoa_name: str | None
    msoa: str | None
    msoa_name: str | None
    lad: str | None
    lad_name: str | None
    population: int
    year: int


def _norm(h: str) -> str:
    return re.sub(r"[^a-z0-9]", "", h.lower())


def _find(header: list[str], *patterns: str) -> str | None:
    for pattern in patterns:
        for h in header:
            if re.fullmatch(pattern, _norm(h)):
                return h
    return None


def read_population(text: str, origin: str, year: int | None = None,
                    lsoa_to_msoa: Mapping[str, str] | None = None) -> list[AreaRow]:
    """Parse an ONS mid-year LSOA population CSV (or the hub's shipped table)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = list(reader.fieldnames or [])
    lsoa = _find(header, r"lsoa\d*(code|cd)", r"lsoa\d*")
    total = _find(header, r"total", r"allages", r"population", r"totalpopulation")
    if not lsoa or not total:
        raise PopulationFileError(f"{origin}: needs an LSOA code column and a Total (all ages) column; "
                                  f"found {', '.join(header)}")
    cols = {k: _find(header, p) for k, p in (("lsoa_name", r"lsoa\d*(name|nm)"), ("msoa", r"msoa\d*(code|cd)"),
                                                ("msoa_name", r"msoa\d*(name|nm)"), ("lad", r"(lad|la)\d*(code|cd)"),
                                                ("lad_name", r"(lad|la)\d*(name|nm)"), ("year", r"(mid)?year"))}
    out: list[AreaRow] = []
    for line, row in enumerate(reader, start=2):
        code = (row.get(lsoa) or "").strip().upper()
        if not re.fullmatch(r"[EW]01\d{6}", code):
            raise PopulationFileError(f"{origin}, line {line}: {code or '(empty)'} is not an LSOA code")
        raw_total = (row.get(total) or "").replace(",", "").strip()
        if not raw_total.isdigit():
            raise PopulationFileError(f"{origin}, line {line}: the population is not a whole number")
        raw_year = (row.get(cols["year"]) or "").strip() if cols["year"] else ""
        when = int(raw_year[-4:]) if raw_year[-4:].isdigit() else year
        if when is None:
            raise PopulationFileError(f"{origin}: no year column; give the mid-year of the estimates (--year)")

        def get(key: str, r: Mapping[str, str | None] = row) -> str | None:
            col = cols[key]
            value = (r.get(col) or "").strip() if col else ""
            return value or None
        msoa = get("msoa") or (lsoa_to_msoa or {}).get(code)
        out.append(AreaRow(code, get("lsoa_name"), msoa, get("msoa_name"), get("lad"), get("lad_name"),
                           int(raw_total), when))
    if not out:
        raise PopulationFileError(f"{origin}: no rows")
    return out


def lsoa_to_msoa_from_lookup(path: Path) -> dict[str, str]:
    """LSOA -> MSOA from an NSPL/ONSPD-style postcode lookup (columns lsoa21cd.., msoa21cd..)."""
    if not path.exists():
        raise PopulationFileError(f"postcode lookup {path} does not exist")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        lsoa, msoa = _find(header, r"lsoa\d*(cd)?"), _find(header, r"msoa\d*(cd)?")
        if not lsoa or not msoa:
            raise PopulationFileError(f"{path}: needs LSOA and MSOA code columns")
        return {r[lsoa].strip().upper(): r[msoa].strip().upper() for r in reader if r.get(lsoa) and r.get(msoa)}


def shipped_rows() -> list[AreaRow]:
    text = resources.files("hub.reference").joinpath(SHIPPED).read_text("utf-8")
    return read_population(text, SHIPPED)


def store_rows(conn: Connection, rows: Iterable[AreaRow], source: str) -> int:
    """Replace the mart's areas and populations with ``rows``."""
    items = list(rows)
    areas: dict[str, dict[str, str | None]] = {}
    for r in items:
        areas[r.lsoa] = {"area_code": r.lsoa, "level": "lsoa", "name": r.lsoa_name or r.lsoa, "parent_code": r.msoa}
        if r.msoa:
            areas.setdefault(r.msoa, {"area_code": r.msoa, "level": "msoa", "name": r.msoa_name or r.msoa,
                                      "parent_code": r.lad})
        if r.lad:
            areas.setdefault(r.lad, {"area_code": r.lad, "level": "lad", "name": r.lad_name or r.lad,
                                     "parent_code": None})
    conn.execute(delete(models.ref_population))
    conn.execute(delete(models.ref_area))
    conn.execute(models.ref_area.insert(), list(areas.values()))
    conn.execute(models.ref_population.insert(), [
        {"lsoa_code": r.lsoa, "population": r.population, "year": r.year, "source": source[:256]} for r in items])
    return len(items)


def load_population(engine: Engine, path: Path, year: int | None = None, lookup: Path | None = None) -> int:
    """``hub reference load population FILE``: replace the areas and populations with the ONS file's."""
    if not path.exists():
        raise PopulationFileError(f"{path} does not exist")
    rows = read_population(path.read_text("utf-8-sig"), str(path), year,
                           lsoa_to_msoa_from_lookup(lookup) if lookup else None)
    with engine.begin() as conn:
        return store_rows(conn, rows, path.name)


def ensure_shipped(engine: Engine) -> None:
    """Give an empty mart the fictional county's areas and populations (the demo's geography)."""
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(models.ref_area)).scalar_one() == 0:
            store_rows(conn, shipped_rows(), SHIPPED)


@dataclass
class AreaIndex:
    """Names, parents and populations by area code, at every level."""

    names: dict[str, str] = field(default_factory=dict)
    level: dict[str, str] = field(default_factory=dict)
    parent: dict[str, str | None] = field(default_factory=dict)
    population: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: Connection) -> AreaIndex:
        idx = cls()
        for code, level, name, parent in conn.execute(select(models.ref_area)):
            idx.names[code], idx.level[code], idx.parent[code] = name, level, parent
        for code, pop, _year, _src in conn.execute(select(models.ref_population)):
            idx.population[code] = int(pop)
        for code in [c for c, lv in idx.level.items() if lv == "lsoa"]:
            msoa = idx.parent.get(code)
            lad = idx.parent.get(msoa) if msoa else None
            pop = idx.population.get(code)
            for up in (msoa, lad):
                if up and pop is not None:
                    idx.population[up] = idx.population.get(up, 0) + pop
        return idx

    def learn(self, lsoa: str, msoa: str | None, lad: str | None) -> None:
        """Place an LSOA the reference table lacks, from an event that names its MSOA and LAD."""
        if lsoa not in self.level:
            self.level[lsoa], self.parent[lsoa] = "lsoa", msoa
        for code, level, parent in ((msoa, "msoa", lad), (lad, "lad", None)):
            if code and code not in self.level:
                self.level[code], self.parent[code] = level, parent

    def up(self, lsoa: str, level: str) -> str | None:
        """The area at ``level`` that contains ``lsoa`` (None if unknown)."""
        if level == "lsoa":
            return lsoa if self.level.get(lsoa) == "lsoa" else None
        msoa = self.parent.get(lsoa)
        if level == "msoa":
            return msoa
        return self.parent.get(msoa) if msoa else None

    def areas(self, level: str) -> list[str]:
        return sorted(c for c, lv in self.level.items() if lv == level)
