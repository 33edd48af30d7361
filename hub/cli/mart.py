"""``hub mart init|counts|export|report|purge``: the data mart and its disclosure-controlled releases."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from hub.cli.common import fail, group, settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from hub.mart.audit import ReleaseContext
    from hub.mart.release import Filters, ReleasedTable

app = group("mart", "the data mart")

RELEASED = "every release is recorded in the audit trail (hub audit list)"
Geography = Literal["lsoa", "msoa", "lad"]
Period = Literal["week", "month"]

ProfileOpt = Annotated[str, typer.Option(help="release profile of the agreement")]
PurposeOpt = Annotated[str | None, typer.Option(
    help="the purpose of this release; must be one the agreement declares")]
UserOpt = Annotated[str | None, typer.Option(
    help="a name to note beside your identity (recorded as stated_user; the audit trail's user is your database "
         "role and OS account, never this)")]
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


@app.command(help="create or upgrade the mart (Alembic), its released layer and, on PostgreSQL, its roles")
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


MeasureOpt = Annotated[str | None, typer.Option(
    help="one measure (police_incidents, ed_assault_attendances, ambulance_assault_callouts, probation_new_starts, "
         "probation_caseload, youth_justice_new_starts, school_exclusions); default: every measure the purpose "
         "allows")]
BreakdownOpt = Annotated[str | None, typer.Option(help="the measure's breakdown (default: its first)")]
ListOpt = list[str] | None
SourceOpt = Annotated[ListOpt, typer.Option("--source", help="only these sources (repeat or comma-separate)")]
CategoryOpt = Annotated[ListOpt, typer.Option("--category", help="only these categories of the breakdown")]
FlagOpt = Annotated[ListOpt, typer.Option("--flag", help="only records with this flag (knife, firearm, "
                                                       "domestic_abuse, alcohol, ...)")]
AgeOpt = Annotated[ListOpt, typer.Option("--age-band", help="only records with a person in this band (e.g. 15-17)")]
FromOpt = Annotated[str | None, typer.Option("--from", help="first date, YYYY-MM-DD (whole periods)")]
ToOpt = Annotated[str | None, typer.Option("--to", help="last date, YYYY-MM-DD (whole periods)")]
ReleaseGeographyOpt = Annotated[Geography, typer.Option(
    help="area level (never finer than the profile allows; sensitive records may be coarser)")]


def _filters(source: ListOpt, category: ListOpt, flag: ListOpt, age_band: ListOpt, date_from: str | None,
             date_to: str | None) -> Filters:
    from hub.cli.common import fail
    from hub.mart.output import parse_list
    from hub.mart.release import Filters

    def day(text: str | None, name: str) -> date | None:
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            fail(f"{name} {text!r} is not a date (YYYY-MM-DD)")
    return Filters(sources=parse_list(source), categories=parse_list(category), flags=parse_list(flag),
                   age_bands=parse_list(age_band), date_from=day(date_from, "--from"), date_to=day(date_to, "--to"))


def _release(engine: Engine, ctx: ReleaseContext, **kw: Any) -> ReleasedTable:
    from hub.cli.common import fail
    from hub.mart.release import ReleaseError, release
    try:
        return release(engine, ctx, **kw)
    except ReleaseError as exc:
        fail(str(exc))


@app.command(help=f"released counts by area x period x category, every source, cell-key protected; {RELEASED}")
def counts(profile: ProfileOpt = "partnership", purpose: PurposeOpt = None, user: UserOpt = None,
           measure: MeasureOpt = None, breakdown: BreakdownOpt = None, geography: ReleaseGeographyOpt = "msoa",
           period: Annotated[Period, typer.Option()] = "month", source: SourceOpt = None,
           category: CategoryOpt = None, flag: FlagOpt = None, age_band: AgeOpt = None,
           date_from: FromOpt = None, date_to: ToOpt = None, limit: LimitOpt = 25) -> None:
    from hub.mart.output import format_table
    filters = _filters(source, category, flag, age_band, date_from, date_to)
    engine, ctx = release_context(profile, purpose, user)
    table = _release(engine, ctx, measure=measure, geography=geography, period=period, filters=filters,
                     breakdown=breakdown)
    print(format_table(table, limit=limit))


@app.command(help=f"write a released table as CSV or Excel (xlsx, with a notes sheet); {RELEASED}")
def export(out: Annotated[Path, typer.Option(help="file to write: .csv or .xlsx")],
           profile: ProfileOpt = "partnership", purpose: PurposeOpt = None, user: UserOpt = None,
           measure: MeasureOpt = None, breakdown: BreakdownOpt = None, geography: ReleaseGeographyOpt = "msoa",
           period: Annotated[Period, typer.Option()] = "month", source: SourceOpt = None,
           category: CategoryOpt = None, flag: FlagOpt = None, age_band: AgeOpt = None,
           date_from: FromOpt = None, date_to: ToOpt = None,
           fmt: Annotated[Literal["csv", "xlsx"] | None, typer.Option(
               "--format", help="default: from the file's suffix")] = None) -> None:
    from hub.cli.common import fail
    from hub.mart.output import export as write
    kind = fmt or (out.suffix.lstrip(".").lower() or "csv")
    if kind not in ("csv", "xlsx"):
        fail(f"cannot tell the format of {out}: use a .csv or .xlsx file, or --format")
    filters = _filters(source, category, flag, age_band, date_from, date_to)
    engine, ctx = release_context(profile, purpose, user)
    table = _release(engine, ctx, measure=measure, geography=geography, period=period, filters=filters,
                     breakdown=breakdown, kind="export", destination=str(out.resolve()))
    write(table, out, kind)
    print(f"wrote {len(table.rows)} cells ({table.cells_suppressed} suppressed) to {out} ({kind}); sources "
          f"{', '.join(table.sources) or 'none'}; recorded as release {table.release_id}")


@app.command(help=f"a plain-text report of a release, with an optional chart; {RELEASED}")
def report(profile: ProfileOpt = "partnership", purpose: PurposeOpt = None, user: UserOpt = None,
           measure: MeasureOpt = None, geography: ReleaseGeographyOpt = "msoa",
           period: Annotated[Period, typer.Option()] = "month", source: SourceOpt = None,
           flag: FlagOpt = None, age_band: AgeOpt = None, date_from: FromOpt = None, date_to: ToOpt = None,
           limit: LimitOpt = 25,
           chart: Annotated[Path | None, typer.Option(
               help="also draw the trend and hot spots into this PNG file")] = None) -> None:
    from hub.cli.common import fail
    from hub.mart.release import ReleaseError
    from hub.mart.report import incident_report
    filters = _filters(source, None, flag, age_band, date_from, date_to)
    engine, ctx = release_context(profile, purpose, user)
    try:
        print(incident_report(engine, ctx, geography, period, limit, chart, measure=measure, filters=filters))
    except ReleaseError as exc:
        fail(str(exc))


@app.command(help="print the data dictionary of the released layer (docs/data-dictionary.md)")
def dictionary() -> None:
    from hub.mart.dictionary import render
    print(render(), end="")


@app.command(help="delete events older than each source's retention_days (audited)")
def purge(dry_run: Annotated[bool, typer.Option("--dry-run", help="count and audit, delete nothing")] = False,
          user: Annotated[str | None, typer.Option(
              help="a name to state (the audit trail records your database role and OS account)")] = None,
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


@app.command("match-incidents", help="re-match ED assault attendances to police incidents now (the worker's "
                                     "sink does it on a timer, HUB_INCIDENT_MATCH_INTERVAL_S); restricted layer")
def match_incidents(month: Annotated[list[str] | None, typer.Option(
        "--month", help="only these months' attendances, YYYY-MM (repeat); default every month")] = None,
        fit: Annotated[bool, typer.Option(
            "--fit", help="first fit the weights by EM on every ED attendance in the mart (no truth needed) and "
                          "store them: every refresh, the worker's too, uses them from then on")] = False,
        defaults: Annotated[bool, typer.Option(
            "--default-weights", help="first forget the stored fits: the built-in weights are used again")] = False,
) -> None:
    import re

    from sqlalchemy import delete

    from hub.linkage.incidents import DEFAULT_WEIGHTS
    from hub.mart.incident_matches import TooFewToFit, fit_and_store, incident_match_model, refresh
    from hub.mart.store import open_mart
    bad = [m for m in month or () if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", m)]
    if bad:
        fail(f"--month {bad[0]!r}: not a month (YYYY-MM)")
    if fit and defaults:
        fail("--fit and --default-weights: choose one")
    engine = open_mart(settings().mart)
    if defaults:
        with engine.begin() as conn:
            conn.execute(delete(incident_match_model))
        print("incident_match_model: stored fits forgotten; the built-in weights are used")
    if fit:
        try:
            result = fit_and_store(engine)
        except TooFewToFit as e:
            fail(str(e))
        print(f"incident_match_model: fitted by EM on {result.attendances} ED attendances and {result.pairs} "
              f"candidate pairs ({result.iterations} iterations{'' if result.converged else ', not converged'})")
        built_in = DEFAULT_WEIGHTS.table()
        for name, value in result.weights.table().items():
            print(f"  {name:>36}: {value:8.3f}  (built-in {built_in[name]:8.3f})")
    stored = refresh(engine, months=set(month) if month else None)
    print(f"incident_match: {stored} ED attendances matched to a police incident"
          + (f" in {', '.join(sorted(month))}" if month else ""))


def register(root: typer.Typer) -> None:
    root.add_typer(app)
