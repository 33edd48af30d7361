"""``hub synth police``: synthetic extracts with ground truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import group

app = group("synth", "synthetic data")


@app.command(help="generate a synthetic police extract with ground truth")
def police(out: Annotated[Path, typer.Option(help="folder to write the extract, lookup and truth into")],
           seed: Annotated[int, typer.Option()] = 2026,
           incidents: Annotated[int, typer.Option()] = 3000) -> None:
    from hub.synth import generate_police_extract
    manifest = generate_police_extract(out, seed=seed, incidents=incidents)
    print(json.dumps({k: str(v) for k, v in manifest.__dict__.items()}, indent=2))


def register(root: typer.Typer) -> None:
    root.add_typer(app)
