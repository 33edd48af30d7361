"""A fictional county: LSOAs, MSOAs, districts and an NSPL-style postcode lookup.

Codes sit in the 99xxxx ranges (E01990001.., E02990001.., E07990001..) and postcodes in the "ZZ" area,
which no real geography uses, so synthetic data can never be mistaken for, or joined to, real places.
The county is built from its own fixed seed: every extract, whatever its seed, shares one lookup.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

COUNTY_SEED = 1990
POSTCODE_AREA = "ZZ"
LOOKUP_HEADER: tuple[str, ...] = ("pcds", "dointr", "doterm", "lsoa21cd", "msoa21cd", "lad25cd")
# Letters the Royal Mail never uses in the inward code's last two places.
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

DISTRICT_NAMES: tuple[str, ...] = ("Ashmoor", "Brackendale", "Corrington")
_MSOAS_PER_DISTRICT = 4
_LSOAS_PER_MSOA = 5


@dataclass(frozen=True)
class Lsoa:
    """One LSOA and how attractive it is for each kind of incident location."""

    code: str
    name: str
    msoa: str
    district: str
    postcodes: tuple[str, ...]
    nte_weight: float  # night-time economy / street violence: the town-centre hot spots dominate
    resident_weight: float  # where people live (home addresses, residential streets)


@dataclass(frozen=True)
class County:
    """The whole fictional geography, with lookups the generator needs."""

    lsoas: tuple[Lsoa, ...]
    district_names: dict[str, str]
    hot_spots: tuple[str, ...]  # LSOA codes of the town-centre night-time economy, busiest first

    def lsoa(self, code: str) -> Lsoa:
        """The LSOA with this code (KeyError if it is not in the county)."""
        for item in self.lsoas:
            if item.code == code:
                return item
        raise KeyError(code)

    def postcode_index(self) -> dict[str, Lsoa]:
        """Postcode (single-space form) -> LSOA."""
        return {pc: item for item in self.lsoas for pc in item.postcodes}


def _inward_codes(rng: random.Random, count: int) -> list[str]:
    """`count` distinct inward codes like "4AB", in random order."""
    chosen: dict[str, None] = {}
    while len(chosen) < count:
        chosen[f"{rng.randrange(10)}{rng.choice(_INWARD_LETTERS)}{rng.choice(_INWARD_LETTERS)}"] = None
    return list(chosen)


def build_county(seed: int = COUNTY_SEED) -> County:
    """Build the county: 3 districts x 4 MSOAs x 5 LSOAs, each LSOA with 5-15 postcodes.

    The first MSOA of the first district is Ashmoor town centre: its first three LSOAs are the
    night-time-economy hot spots; Brackendale's first MSOA is a smaller secondary centre.
    """
    rng = random.Random(seed)
    lsoas: list[Lsoa] = []
    district_names: dict[str, str] = {}
    lsoa_no = 0
    for d_index, d_name in enumerate(DISTRICT_NAMES):
        district = f"E0799{d_index + 1:04d}"
        district_names[district] = d_name
        for m_local in range(_MSOAS_PER_DISTRICT):
            msoa_no = d_index * _MSOAS_PER_DISTRICT + m_local + 1
            msoa = f"E0299{msoa_no:04d}"
            outward = f"{POSTCODE_AREA}{msoa_no}"
            sizes = [rng.randint(5, 15) for _ in range(_LSOAS_PER_MSOA)]
            inwards = _inward_codes(rng, sum(sizes))
            for l_local, size in enumerate(sizes):
                lsoa_no += 1
                postcodes = tuple(sorted(f"{outward} {inward}" for inward in inwards[:size]))
                del inwards[:size]
                nte, resident = _weights(rng, d_index, m_local, l_local)
                lsoas.append(
                    Lsoa(
                        code=f"E0199{lsoa_no:04d}",
                        name=f"{d_name} {msoa_no:03d}{chr(ord('A') + l_local)}",
                        msoa=msoa,
                        district=district,
                        postcodes=postcodes,
                        nte_weight=nte,
                        resident_weight=resident,
                    )
                )
    hot = tuple(item.code for item in sorted(lsoas, key=lambda x: -x.nte_weight)[:3])
    return County(lsoas=tuple(lsoas), district_names=district_names, hot_spots=hot)


def _weights(rng: random.Random, d_index: int, m_local: int, l_local: int) -> tuple[float, float]:
    """(nte_weight, resident_weight) for one LSOA; town-centre cores draw many times the base rate."""
    base = rng.uniform(0.6, 1.6)
    if d_index == 0 and m_local == 0 and l_local < 3:
        return (14.0, 11.0, 9.0)[l_local], 0.5  # Ashmoor town centre: pubs and clubs, few residents
    if d_index == 1 and m_local == 0 and l_local < 2:
        return 6.0 - l_local, 0.8  # Brackendale centre: secondary hot spot
    return base, rng.uniform(0.7, 1.5)


def write_lookup(county: County, path: Path) -> None:
    """Write the postcode lookup in NSPL style (pcds with a single space, dointr YYYYMM, empty doterm)."""
    rng = random.Random(COUNTY_SEED + 1)
    rows = []
    for item in county.lsoas:
        for pc in item.postcodes:
            dointr = f"{rng.randint(1980, 2019)}{rng.randint(1, 12):02d}"
            rows.append((pc, dointr, "", item.code, item.msoa, item.district))
    rows.sort()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(LOOKUP_HEADER)
        writer.writerows(rows)


def normalise_postcode(value: str) -> str:
    """Upper-case, single-space form ("zz14ab" -> "ZZ1 4AB"); what a connector should do before lookup."""
    compact = "".join(value.split()).upper()
    return f"{compact[:-3]} {compact[-3:]}" if len(compact) > 3 else compact
