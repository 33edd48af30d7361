"""``hub synth police|extract``: synthetic extracts with ground truth (``python -m hub.synth`` is ``extract``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import fail, group

app = group("synth", "synthetic data")


@app.command(help="generate a synthetic police extract with ground truth")
def police(out: Annotated[Path, typer.Option(help="folder to write the extract, lookup and truth into")],
           seed: Annotated[int, typer.Option()] = 2026,
           incidents: Annotated[int, typer.Option()] = 3000) -> None:
    from hub.synth import generate_police_extract
    manifest = generate_police_extract(out, seed=seed, incidents=incidents)
    print(json.dumps({k: str(v) for k, v in manifest.__dict__.items()}, indent=2))


@app.command(help="write a synthetic extract of any source, with its ground truth")
def extract(out_dir: Annotated[Path, typer.Argument(help="folder to write the extract, lookup and truth into")],
            source: Annotated[str, typer.Option(help="the source (default police_incident)")] = "police_incident",
            seed: Annotated[int, typer.Option()] = 2026,
            rows: Annotated[int | None, typer.Option("--rows", "--incidents", help=(
                "valid rows (default 3000 incidents, or the generator's own default)"))] = None,
            malformed: Annotated[int | None, typer.Option(help="broken rows (default: the generator's)")] = None
            ) -> None:
    from hub.synth import SOURCE_GENERATORS
    from hub.synth.police import SOURCE as POLICE
    from hub.synth.police import generate_police_extract
    if source == POLICE:
        police_manifest = generate_police_extract(out_dir, seed=seed, incidents=rows or 3000,
                                                  malformed=12 if malformed is None else malformed)
        path, total, valid = police_manifest.extract_csv, police_manifest.rows_total, police_manifest.rows_valid
        bad = police_manifest.rows_malformed
    elif source in SOURCE_GENERATORS:
        extra = {} if malformed is None else {"malformed": malformed}
        made = SOURCE_GENERATORS[source](out_dir, seed=seed, rows=rows, **extra)
        path, total, valid, bad = made.extract_csv, made.rows_total, made.rows_valid, made.rows_malformed
    else:
        fail(f"no synthetic generator for source {source!r}; known: {', '.join([POLICE, *SOURCE_GENERATORS])}")
    print(f"{path}: {total} rows ({valid} valid, {bad} malformed)")


def register(root: typer.Typer) -> None:
    root.add_typer(app)
