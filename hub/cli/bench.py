"""``hub bench core|pipeline|linkage``: benchmark figures, printed, never asserted."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli.common import group, settings

app = group("bench", "benchmarks: print figures (never asserted)")

IncidentsOpt = Annotated[int | None, typer.Option(help="size of the synthetic extract")]


def show(figures: dict[str, float]) -> None:
    for name, value in figures.items():
        print(f"{name:>28}: {value:,.1f}")


@app.command(help="the pseudonymisation boundary per event, in process")
def core(incidents: IncidentsOpt = None, repeats: Annotated[int, typer.Option()] = 5) -> None:
    from hub.bench import core as bench_core
    show(bench_core.run(incidents or 3000, repeats))


@app.command(help="the pipeline via Kafka: connector, worker, mart")
def pipeline(incidents: IncidentsOpt = None) -> None:
    from hub.bench import pipeline as bench_pipeline
    show(bench_pipeline.run(settings(), incidents or 20000))


@app.command(help="person linkage against the synthetic ground truth")
def linkage(incidents: IncidentsOpt = None) -> None:
    from hub.bench import linkage as bench_linkage
    show(bench_linkage.run(incidents or 3000))


@app.command(help="false alarms per year of the hot-spot rule on spike-free synthetic years, against a Poisson year")
def hotspots(incidents: IncidentsOpt = None, years: Annotated[int, typer.Option(help="synthetic years")] = 5) -> None:
    from hub.bench import hotspots as bench_hotspots
    show(bench_hotspots.run(incidents or 3000, years=years))


def register(root: typer.Typer) -> None:
    root.add_typer(app)
