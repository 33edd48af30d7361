"""Synthetic LSOA boundaries (GeoJSON) for the fictional county, shaped like an ONS boundary file.

Each district is a block of 2 x 2 MSOA squares, and each MSOA is cut into its five LSOAs by a Voronoi
diagram of seeded points, so the map looks like a map and not a grid. Coordinates are WGS84 (RFC 7946)
in the open North Sea, where no real LSOA lies. Properties follow ONS naming (LSOA21CD, LSOA21NM,
MSOA21CD, LAD25CD) plus a synthetic ``population`` (mid-year-estimate style; the town-centre
night-time-economy LSOAs have few residents, as real ones do).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from hub.synth.geography import COUNTY_SEED, County, build_county

ORIGIN = (2.0, 55.0)  # lon, lat of the county's south-west corner (open sea)
MSOA_DEG = (0.05, 0.03)  # an MSOA square, about 3.2 km x 3.3 km


def shipped_path() -> Path:
    return Path(__file__).resolve().parents[1] / "reference" / "boundaries" / "example-county-lsoa21.geojson"


def _msoa_square(index: int) -> tuple[float, float, float, float]:
    district, local = divmod(index, 4)
    col = district * 2 + local % 2
    row = local // 2
    x0 = ORIGIN[0] + col * MSOA_DEG[0]
    y0 = ORIGIN[1] + row * MSOA_DEG[1]
    return x0, y0, x0 + MSOA_DEG[0], y0 + MSOA_DEG[1]


def build_boundaries(county: County | None = None, seed: int = COUNTY_SEED) -> dict[str, Any]:
    """The county's LSOA polygons as a GeoJSON FeatureCollection (deterministic)."""
    from shapely.geometry import MultiPoint, box, mapping
    from shapely.ops import voronoi_diagram

    county = county or build_county()
    rng = random.Random(seed + 7)
    msoas = sorted({item.msoa for item in county.lsoas})
    features = []
    for m_index, msoa in enumerate(msoas):
        members = [item for item in county.lsoas if item.msoa == msoa]
        x0, y0, x1, y1 = _msoa_square(m_index)
        square = box(x0, y0, x1, y1)
        points = [(rng.uniform(x0 + 0.1 * (x1 - x0), x1 - 0.1 * (x1 - x0)),
                   rng.uniform(y0 + 0.1 * (y1 - y0), y1 - 0.1 * (y1 - y0))) for _ in members]
        cells = list(voronoi_diagram(MultiPoint(points), envelope=square.buffer(1.0)).geoms)
        for item, point in zip(members, points, strict=True):
            from shapely.geometry import Point
            cell = next(c for c in cells if c.contains(Point(point)))
            shape = cell.intersection(square)
            population = int(rng.uniform(700, 1100) if item.resident_weight < 0.9 and item.nte_weight > 5
                             else rng.uniform(1300, 2400))
            coords = mapping(shape.simplify(0))
            features.append({"type": "Feature", "properties": {
                "LSOA21CD": item.code, "LSOA21NM": item.name, "MSOA21CD": item.msoa, "LAD25CD": item.district,
                "LAD25NM": county.district_names[item.district], "population": population},
                "geometry": json.loads(json.dumps(coords))})
    return {"type": "FeatureCollection", "name": "example_county_lsoa21", "features": features}


def write_boundaries(path: Path | None = None) -> Path:
    """Write the GeoJSON (the shipped copy by default); coordinates rounded to about 1 m."""
    path = path or shipped_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = build_boundaries()

    def rounded(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, 5)
        if isinstance(value, list | tuple):
            return [rounded(v) for v in value]
        if isinstance(value, dict):
            return {k: rounded(v) for k, v in value.items()}
        return value

    path.write_text(json.dumps(rounded(data), separators=(",", ":")) + "\n", encoding="utf-8")
    return path
