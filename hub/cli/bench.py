"""``hub bench core|pipeline|connector|linkage``: benchmark figures, printed, never asserted."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from sqlalchemy.exc import OperationalError

from hub.cli.common import SERVICE_UNAVAILABLE, group, settings

app = group("bench", "benchmarks: print figures (never asserted)")

IncidentsOpt = Annotated[int | None, typer.Option(min=1, help="size of the synthetic extract")]


def show(figures: dict[str, float]) -> None:
    for name, value in figures.items():
        if 0 < abs(value) < 0.01:
            shown = f"{value:.3g}"
        elif abs(value) >= 10 or value == 0:
            shown = f"{value:,.1f}"
        else:
            shown = f"{value:.4f}"
        print(f"{name:>44}: {shown}", flush=True)


@app.command(help="the pseudonymisation boundary per event, in process")
def core(incidents: IncidentsOpt = None, repeats: Annotated[int, typer.Option()] = 5,
         novel_incidents: Annotated[int, typer.Option(
             min=0, help="a second, pipeline-sized extract whose values are mostly new (0 skips it)")] = 20000,
         novel_repeats: Annotated[int, typer.Option(min=1)] = 2) -> None:
    from hub.bench import core as bench_core
    show(bench_core.run(incidents or 3000, repeats, novel_incidents, novel_repeats))


@app.command(help="the pipeline via Kafka: connector, worker, mart")
def pipeline(
    incidents: IncidentsOpt = None,
    workers: Annotated[str, typer.Option(help="worker process counts to measure, e.g. 1,2")] = "1,2",
    partitions: Annotated[int, typer.Option(help="partitions of the bench topics")] = 4,
    latency_rate: Annotated[float, typer.Option(help="steady publish rate for the latency run (events/s)")] = 1000.0,
    latency_seconds: Annotated[float, typer.Option(help="length of the latency run; 0 skips it")] = 60.0,
    latency_workers: Annotated[int, typer.Option(help="worker processes during the latency run")] = 2,
    stages: Annotated[str | None, typer.Option(help="worker stages (default: the worker's own)")] = None,
    long_run: Annotated[int, typer.Option(help="only publish this many events through one worker and print "
                                               "its RSS at 100k and at the end")] = 0,
    mart_url: Annotated[str | None, typer.Option(
        help="the workers' mart for the drain runs: a PostgreSQL URL gets a fresh schema per run, dropped "
             "after (default: a SQLite file per run)")] = None,
) -> None:
    from hub.bench import pipeline as bench_pipeline
    counts = tuple(int(n) for n in workers.split(",") if n.strip())  # "" measures latency only
    if mart_url and not mart_url.startswith("postgresql"):
        raise typer.BadParameter("a PostgreSQL URL (postgresql+psycopg://...)", param_hint="--mart-url")
    if mart_url and latency_seconds > 0:
        raise typer.BadParameter("the latency run needs the SQLite mart: add --latency-seconds 0",
                                 param_hint="--mart-url")
    try:
        bench_pipeline.run(settings(), incidents or 20000, counts, partitions, latency_rate, latency_seconds,
                           long_run, latency_workers, emit=show, stages=stages, mart_url=mart_url,
                           say=lambda line: print(line, flush=True))
    except bench_pipeline.EventsMissing as exc:  # lost (or stuck) events: worse than any figure, and said plainly
        print(f"hub bench pipeline: EVENTS MISSING: {exc}", flush=True)
        raise typer.Exit(1) from None
    except OperationalError as exc:  # --mart-url's PostgreSQL down or refusing: one line, no URL (it holds a password)
        print(f"error: the PostgreSQL of --mart-url did not answer ({type(exc.orig).__name__}); is it running, and "
              "are the host, port and credentials right?", file=sys.stderr)
        raise typer.Exit(SERVICE_UNAVAILABLE) from None


@app.command(help="the connector's publish rate beside a raw kafka-python producer's (same payloads, same settings)")
def connector(incidents: IncidentsOpt = None,
              partitions: Annotated[int, typer.Option(min=1, help="partitions of the bench topics")] = 4,
              repeats: Annotated[int, typer.Option(min=1, help="rounds on fresh topics; the median ratio's is "
                                                               "shown")] = 1,
              ) -> None:
    from hub.bench import connector as bench_connector
    show(bench_connector.run(settings(), incidents or 20000, partitions, repeats))


@app.command(help="person linkage against ground truth: police (one synthetic extract), febrl4 (the hub on "
                  "tokens vs Splink on clear text; needs the bench extra), synthetic (police, probation, youth "
                  "justice, schools, with the link stage's speed and memory), incidents (ED-police matching)")
def linkage(incidents: IncidentsOpt = None,
            dataset: Annotated[str, typer.Option(help="police, febrl4, synthetic or incidents")] = "police",
            seeds: Annotated[str | None, typer.Option(
                help="incidents: the synthetic counties, e.g. 3-7 (the default) or 10-19 (where the default "
                     "weights were fitted)")] = None,
            pooled: Annotated[bool, typer.Option(help="incidents: also fit one set of weights on all the seeds "
                                                      "together (how the default weights were made)")] = False) -> None:
    if dataset == "febrl4":
        from hub.bench import febrl
        show(febrl.run())
    elif dataset == "synthetic":
        from hub.bench import agencies
        show(agencies.run(incidents or 2000))
    elif dataset == "incidents":
        from hub.bench import incidents as bench_incidents
        show(bench_incidents.run(incidents or 3000, _seeds(seeds) if seeds else bench_incidents.SEEDS,
                                 pooled=pooled))
    elif dataset == "police":
        from hub.bench import linkage as bench_linkage
        show(bench_linkage.run(incidents or 3000))
    else:
        raise typer.BadParameter("police, febrl4, synthetic or incidents", param_hint="--dataset")


def _seeds(text: str) -> tuple[int, ...]:
    """``3-7`` or ``10,11,12``: the seeds, or a clear BadParameter."""
    try:
        if "-" in text:
            lo, hi = (int(x) for x in text.split("-", 1))
            found = tuple(range(lo, hi + 1))
        else:
            found = tuple(int(x) for x in text.split(","))
    except ValueError:
        found = ()
    if not found:
        raise typer.BadParameter(f"{text!r}: seeds as FROM-TO or a comma-separated list", param_hint="--seeds")
    return found


@app.command(help="false alarms per year of the hot-spot rule on spike-free synthetic years, against a Poisson year")
def hotspots(incidents: IncidentsOpt = None, years: Annotated[int, typer.Option(help="synthetic years")] = 5) -> None:
    from hub.bench import hotspots as bench_hotspots
    show(bench_hotspots.run(incidents or 3000, years=years))


def register(root: typer.Typer) -> None:
    root.add_typer(app)
