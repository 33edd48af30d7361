"""``hub policy check``: validate an information-sharing agreement and say what flows where."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import group

app = group("policy", "information-sharing agreements")


@app.command(help="validate an agreement and print what flows where")
def check(file: Annotated[Path, typer.Argument(help="the agreement YAML")]) -> None:
    from hub.policy import load_agreement
    from hub.policy.summary import summarise
    print(summarise(load_agreement(file)))


def register(root: typer.Typer) -> None:
    root.add_typer(app)
