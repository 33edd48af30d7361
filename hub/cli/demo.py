"""``hub demo``: the pipeline end to end on synthetic data, checked against the ground truth."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli.common import exit_with, settings


def demo(incidents: Annotated[int, typer.Option()] = 3000, seed: Annotated[int, typer.Option()] = 2026) -> None:
    from hub.demo import run_demo
    exit_with(run_demo(settings(), incidents=incidents, seed=seed))


def register(app: typer.Typer) -> None:
    app.command("demo", help="run the pipeline end to end on synthetic data and check it")(demo)
