"""``hub audit list``: the audit trail of releases and retention purges."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli.common import group, settings

app = group("audit", "the audit trail")


@app.command("list", help="releases of data from the mart (or, with --purges, retention purges)")
def list_(purges: Annotated[bool, typer.Option("--purges")] = False,
          limit: Annotated[int, typer.Option()] = 50) -> None:
    from hub.mart import audit
    from hub.mart.store import open_mart
    engine = open_mart(settings().mart)
    if purges:
        print(audit.format_purges(audit.purges(engine, limit)))
    else:
        print(audit.format_releases(audit.releases(engine, limit)))


def register(root: typer.Typer) -> None:
    root.add_typer(app)
