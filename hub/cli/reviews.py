"""``hub reviews list|status|rules``: the Offensive Weapons Homicide Review register and its rules."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import fail, settings

app = typer.Typer(name="reviews", help="Offensive Weapons Homicide Review register", no_args_is_help=True,
                  add_completion=False)


class Status(StrEnum):
    to_consider = "to_consider"
    dhr_precedence = "dhr_precedence"
    review_arranged = "review_arranged"
    not_required = "not_required"
    closed = "closed"


@app.command("list", help="cases in the register (case references are keyed tokens)")
def list_(status: Annotated[Status | None, typer.Option(help="only cases with this status")] = None) -> None:
    from hub.mart.reviews import ensure_tables, format_cases, list_cases
    from hub.mart.store import open_mart
    engine = open_mart(settings().mart)
    ensure_tables(engine)
    print(format_cases(list_cases(engine, status.value if status else None)))


@app.command(help="record the review partners' decision on a case")
def status(case: Annotated[str, typer.Argument(help="the case reference (token) as listed")],
           new_status: Annotated[Status, typer.Argument(metavar="STATUS")]) -> None:
    from hub.mart.reviews import ensure_tables, set_status
    from hub.mart.store import open_mart
    engine = open_mart(settings().mart)
    ensure_tables(engine)
    if not set_status(engine, case, new_status.value):
        fail(f"no review case {case}")
    print(f"case {case[:16]}.. is now {new_status.value}")


@app.command(help="validate the alert rules file and print what it does")
def rules(file: Annotated[Path | None, typer.Option(
        help="rules YAML (default: HUB_ALERT_RULES, else the shipped rules)")] = None) -> None:
    from hub.alerts.rules import describe, load_rules
    print(describe(load_rules(file or settings().alert_rules)))  # a bad file: one error line a problem, exit 2


def register(root: typer.Typer) -> None:
    root.add_typer(app)
