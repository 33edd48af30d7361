"""``hub reference load population FILE``: the ONS mid-year LSOA population estimates behind rates per 1,000."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import fail, group, settings

app = group("reference", "reference data in the mart (areas, populations)")
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


def register(root: typer.Typer) -> None:
    root.add_typer(app)
