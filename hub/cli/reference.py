"""``hub reference load population|boundaries FILE``: reference data in the mart (populations, area boundaries)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import fail, group, settings

app = group("reference", "reference data in the mart (areas, populations, boundaries)")
load = group("load", "load a reference file into the mart")
app.add_typer(load)


@load.command(help="ONS mid-year population estimates by LSOA (CSV; see docs/analyst.md for the format)")
def population(file: Annotated[Path, typer.Argument(help="the ONS LSOA population CSV")],
               year: Annotated[int | None, typer.Option(help="mid-year of the estimates, if the file has no "
                                                             "year column")] = None,
               lookup: Annotated[Path | None, typer.Option(
                   help="postcode lookup (NSPL/ONSPD style) placing each LSOA in its MSOA; default: the "
                        "configured HUB_POSTCODE_LOOKUP")] = None) -> None:
    from hub.mart.areas import PopulationFileError, load_population
    from hub.mart.store import open_mart
    s = settings()
    engine = open_mart(s.mart)
    try:
        n = load_population(engine, file, year, lookup or s.postcode_lookup)
    except PopulationFileError as exc:
        fail(str(exc))
    print(f"loaded {n} LSOAs from {file} into the mart's areas and populations")


@load.command(help="an ONS boundary file (GeoJSON, GeoPackage, shapefile; BNG or WGS84), for the reports' maps")
def boundaries(file: Annotated[Path, typer.Argument(help="the boundary file")]) -> None:
    from hub.mart.store import open_mart
    from hub.reports.boundaries import BoundaryError, load_boundaries
    try:
        loaded = load_boundaries(open_mart(settings().mart), file)
    except BoundaryError as exc:
        fail(str(exc))
    print(f"loaded {loaded.areas} {loaded.level.upper()} boundaries ({loaded.with_population} with a population) "
          f"from {loaded.path}")


def register(root: typer.Typer) -> None:
    root.add_typer(app)
