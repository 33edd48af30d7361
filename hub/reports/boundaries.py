"""Area boundaries for maps: load an ONS boundary file (GeoJSON, or anything GDAL reads) into the mart.

ONS boundary files name their areas in columns like ``LSOA21CD``/``LSOA21NM`` (or ``MSOA21CD``,
``LAD24CD``); the finest level present is the level of the file. Geometries are reprojected to WGS84
(ONS also publishes British National Grid) and stored as GeoJSON text, so the mart needs no spatial
extension. A ``population`` column, where the file has one, gives the rates' denominators.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, select

from hub.mart import models

LEVELS = ("lsoa", "msoa", "lad")
_CODE = re.compile(r"^(LSOA|MSOA|LAD)\d\dCD$", re.IGNORECASE)


class BoundaryError(ValueError):
    """A boundary file that cannot be loaded; the message names the file and the problem."""


@dataclass(frozen=True)
class BoundaryLoad:
    level: str
    areas: int
    with_population: int
    path: Path


def _columns(columns: list[str]) -> dict[str, str]:
    """level -> code column, and 'name' -> the finest level's name column, from ONS-style headers."""
    found: dict[str, str] = {}
    for col in columns:
        m = _CODE.match(col)
        if m:
            found.setdefault(m.group(1).lower(), col)
    return found


def load_boundaries(engine: Engine, path: Path) -> BoundaryLoad:
    """Replace the boundaries of the file's level with the file's areas."""
    import geopandas as gpd

    if not path.is_file():
        raise BoundaryError(f"{path}: no such file")
    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - GDAL raises many kinds; one line is enough
        raise BoundaryError(f"{path}: not a readable boundary file ({type(exc).__name__})") from None
    codes = _columns(list(frame.columns))
    level = next((lv for lv in LEVELS if lv in codes), None)
    if level is None:
        raise BoundaryError(f"{path}: no ONS area code column (LSOA21CD, MSOA21CD, LAD24CD...)")
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    code_col = codes[level]
    name_col = code_col[:-2] + code_col[-2:].replace("CD", "NM").replace("cd", "nm")
    pop_col = next((c for c in frame.columns if c.lower() in ("population", "pop", "usual_residents")), None)
    now = datetime.now(UTC).replace(microsecond=0)
    rows: list[dict[str, Any]] = []
    for _, rec in frame.iterrows():
        if rec.geometry is None or not rec[code_col]:
            continue
        population = rec[pop_col] if pop_col else None
        rows.append({
            "level": level, "code": str(rec[code_col]),
            "name": str(rec[name_col]) if name_col in frame.columns and rec[name_col] else None,
            "msoa_code": str(rec[codes["msoa"]]) if level == "lsoa" and "msoa" in codes else None,
            "lad_code": str(rec[codes["lad"]]) if level != "lad" and "lad" in codes else None,
            "population": int(population) if population is not None and population == population else None,
            "geometry_json": json.dumps(rec.geometry.__geo_interface__, separators=(",", ":")),
            "source_file": str(path)[:256], "loaded_at": now})
    if not rows:
        raise BoundaryError(f"{path}: no areas with a code and a geometry")
    with engine.begin() as conn:
        conn.execute(delete(models.ref_boundary).where(models.ref_boundary.c.level == level))
        conn.execute(models.ref_boundary.insert(), rows)
        _reference_areas(conn, rows, path)
    return BoundaryLoad(level, len(rows), sum(1 for r in rows if r["population"] is not None), path)


def _reference_areas(conn: Any, rows: list[dict[str, Any]], path: Path) -> None:
    """Keep the mart's area and population reference (``ref_area``, ``ref_population``) in step."""
    from sqlalchemy import delete as sa_delete
    codes = [r["code"] for r in rows]
    conn.execute(sa_delete(models.ref_area).where(models.ref_area.c.area_code.in_(codes)))
    conn.execute(models.ref_area.insert(), [
        {"area_code": r["code"], "level": r["level"], "name": r["name"] or r["code"],
         "parent_code": r["msoa_code"] or r["lad_code"]} for r in rows])
    with_pop = [r for r in rows if r["level"] == "lsoa" and r["population"] is not None]
    if with_pop:
        conn.execute(sa_delete(models.ref_population).where(
            models.ref_population.c.lsoa_code.in_([r["code"] for r in with_pop])))
        conn.execute(models.ref_population.insert(), [
            {"lsoa_code": r["code"], "population": r["population"], "year": r["loaded_at"].year,
             "source": f"boundary file {path.name}"[:256]} for r in with_pop])


def boundary_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(models.ref_boundary))]


def areas_frame(engine: Engine, level: str) -> Any:
    """A GeoDataFrame of the areas at ``level`` (code, name, population, geometry), or None if none loaded.

    MSOA and LAD areas are built by dissolving loaded LSOAs when no file of that level was loaded.
    """
    import geopandas as gpd
    from shapely.geometry import shape

    rows = boundary_rows(engine)
    # Residents: the boundary file's own column, else the mart's ONS estimates (hub reference load population).
    with engine.connect() as conn:
        ons = {str(c): int(p) for c, p in conn.execute(select(models.ref_population.c.lsoa_code,
                                                              models.ref_population.c.population))}
    for r in rows:
        if r["population"] is None and r["level"] == "lsoa":
            r["population"] = ons.get(r["code"])
    direct = [r for r in rows if r["level"] == level]
    if direct:
        return gpd.GeoDataFrame(
            [{"code": r["code"], "name": r["name"] or r["code"], "population": r["population"],
              "geometry": shape(json.loads(r["geometry_json"]))} for r in direct], crs=4326)
    parent = {"msoa": "msoa_code", "lad": "lad_code"}.get(level)
    lsoas = [r for r in rows if r["level"] == "lsoa" and parent and r[parent]]
    if not lsoas or parent is None:
        return None
    frame = gpd.GeoDataFrame([{"code": r[parent], "population": r["population"],
                               "geometry": shape(json.loads(r["geometry_json"]))} for r in lsoas], crs=4326)
    merged = frame.dissolve(by="code", aggfunc={"population": "sum"}).reset_index()
    names = {r["code"]: r["name"] for r in rows if r["level"] == level}
    merged["name"] = [names.get(c) or c for c in merged["code"]]
    return merged


def area_names(engine: Engine) -> dict[str, str]:
    return {r["code"]: r["name"] for r in boundary_rows(engine) if r["name"]}
