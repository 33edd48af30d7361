"""``hub reference load boundaries FILE``: reference data the reports need."""

from __future__ import annotations

from pathlib import Path

import typer

from hub.cli.common import fail, settings

app = typer.Typer(name="reference", help="reference data", no_args_is_help=True, add_completion=False)
load = typer.Typer(name="load", help="load reference data into the mart", no_args_is_help=True,
                   add_completion=False)
app.add_typer(load)


@load.command(help="an ONS boundary file (GeoJSON, GeoPackage, shapefile; BNG or WGS84), for the reports' maps")
def boundaries(file: Path) -> None:
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
