"""``hub worker``: the stream worker (pseudonymise, link, sink)."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli.common import settings


def worker(stages: Annotated[str, typer.Option(
        help="comma-separated: pseudonymise, link, sink, alerts (homicide-review triggers, hot spots)")]
           = "pseudonymise,link,sink,alerts") -> None:
    """Run the stream worker (pseudonymise, link, sink and alerts)."""
    from hub.streams import worker as stream_worker
    stream_worker.run(settings(), [s.strip() for s in stages.split(",") if s.strip()])


def register(app: typer.Typer) -> None:
    app.command("worker", help="run the stream worker (pseudonymise, link, sink and alerts)")(worker)
