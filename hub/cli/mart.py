"""``hub mart init|counts|export|report|purge``: the data mart and its disclosure-controlled releases."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from hub.cli.common import group, settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from hub.mart.audit import ReleaseContext

app = group("mart", "the data mart")

RELEASED = "every release is recorded in the audit trail (hub audit list)"
Geography = Literal["lsoa", "msoa", "lad"]
Period = Literal["week", "month"]

ProfileOpt = Annotated[str, typer.Option(help="release profile of the agreement")]
PurposeOpt = Annotated[str | None, typer.Option(
    help="the purpose of this release; must be one the agreement declares")]
UserOpt = Annotated[str | None, typer.Option(help="who is releasing (default: HUB_AUDIT_USER, else the OS user)")]
GeographyOpt = Annotated[Geography | None, typer.Option(
    help="area level (never finer than the profile allows; default: the profile's finest)")]
PeriodOpt = Annotated[Period, typer.Option()]
LimitOpt = Annotated[int, typer.Option()]


def release_context(profile: str, purpose: str | None, user: str | None) -> tuple[Engine, ReleaseContext]:
    """(engine, ReleaseContext) for a release; refused unless the agreement declares purpose and profile."""
    from hub.mart.audit import ReleaseContext
    from hub.mart.store import open_mart
    from hub.policy import load_agreement
    s = settings()
    ctx = ReleaseContext.create(load_agreement(s.agreement_file()), purpose, profile, user or s.audit_user)
    engine = open_mart(s.mart)  # never creates a mart: one clear line if there is none
    return engine, ctx


@app.command(help="create or upgrade the mart's tables and views")
def init() -> None:
    from sqlalchemy.engine import make_url

    from hub.mart import connect
    from hub.mart import init as init_mart
    url = settings().mart
    report = init_mart(connect(url))
    print(f"mart at {make_url(url).render_as_string(hide_password=True)}: schema "
          f"{report.revision_before or 'new'} -> {report.revision}")
    print(f"released layer (what analysts and BI tools read): "
          f"{make_url(report.released_url).render_as_string(hide_password=True)}; roles: {report.roles}")


@app.command(help=f"incidents by area x period x offence category, disclosure-controlled; {RELEASED}")
def counts(profile: ProfileOpt = "partnership", purpose: PurposeOpt = None, user: UserOpt = None,
           geography: GeographyOpt = None, period: PeriodOpt = "week", limit: LimitOpt = 25) -> None:
    from hub.mart.queries import release_area_counts
    from hub.mart.report import format_area_counts
    engine, ctx = release_context(profile, purpose, user)
    print(format_area_counts(release_area_counts(engine, ctx, geography, period), limit=limit))


@app.command(help=f"write the released incident table as CSV, disclosure-controlled; {RELEASED}")
def export(out: Annotated[Path, typer.Option(help="CSV file to write")],
           profile: ProfileOpt = "partnership", purpose: PurposeOpt = None, user: UserOpt = None,
           geography: GeographyOpt = None, period: PeriodOpt = "week") -> None:
    from hub.mart.queries import export_csv, release_area_counts
    engine, ctx = release_context(profile, purpose, user)
    table = release_area_counts(engine, ctx, geography, period, kind="export", destination=str(out.resolve()))
    export_csv(table, out)
    print(f"wrote {len(table.rows)} cells ({table.cells_suppressed} suppressed) to {out}; "
          f"recorded as release {table.release_id}")


@app.command(help=f"a plain-text incident report, disclosure-controlled; {RELEASED}")
def report(profile: ProfileOpt = "partnership", purpose: PurposeOpt = None, user: UserOpt = None,
           geography: GeographyOpt = None, period: PeriodOpt = "month", limit: LimitOpt = 25,
           chart: Annotated[Path | None, typer.Option(
               help="also draw the trend and hot spots into this PNG file")] = None) -> None:
    from hub.mart.report import incident_report
    engine, ctx = release_context(profile, purpose, user)
    print(incident_report(engine, ctx, geography, period, limit, chart))


@app.command(help="delete events older than each source's retention_days (audited)")
def purge(dry_run: Annotated[bool, typer.Option("--dry-run", help="count and audit, delete nothing")] = False,
          user: Annotated[str | None, typer.Option(
              help="who runs the purge (default: HUB_AUDIT_USER, else the OS user)")] = None,
          today: Annotated[str | None, typer.Option(hidden=True)] = None) -> None:
    from hub.mart.audit import resolve_user
    from hub.mart.retention import purge as purge_events
    from hub.mart.store import open_mart
    from hub.policy import load_agreement
    s = settings()
    engine = open_mart(s.mart)
    on = date.fromisoformat(today) if today else None
    print(purge_events(engine, load_agreement(s.agreement_file()), resolve_user(user or s.audit_user), on,
                       dry_run).summary())


def register(root: typer.Typer) -> None:
    root.add_typer(app)
