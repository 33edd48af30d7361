"""``hub report sna|assurance|screenshot|sample-mart``: reports built from released tables, each release audited."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import fail, settings

app = typer.Typer(name="report", help="reports built from released tables (each release audited)",
                  no_args_is_help=True, add_completion=False)

ProfileOpt = Annotated[str, typer.Option(help="release profile of the agreement")]
PurposeOpt = Annotated[str, typer.Option(help="purpose of the release")]
UserOpt = Annotated[str | None, typer.Option(help="who is releasing (default: HUB_AUDIT_USER, else the OS user)")]
OutOpt = Annotated[Path, typer.Option(help="HTML file to write")]


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{name} must be a date YYYY-MM-DD, not {value!r}")


@app.command(help="the strategic needs assessment: one self-contained HTML file")
def sna(date_from: Annotated[str, typer.Option("--from", help="first day, YYYY-MM-DD")],
        date_to: Annotated[str, typer.Option("--to", help="last day, YYYY-MM-DD")],
        out: OutOpt, profile: ProfileOpt = "partnership", purpose: PurposeOpt = "sna", user: UserOpt = None) -> None:
    from hub.cli.mart import release_context
    from hub.reports.sna import build_sna
    start, end = _day(date_from, "--from"), _day(date_to, "--to")
    if end < start:
        fail("--to is before --from")
    engine, ctx = release_context(profile, purpose, user)
    build = build_sna(engine, ctx, start, end, out)
    print(f"wrote {out} from {len(build.release_ids)} released tables (audit rows "
          f"{min(build.release_ids)}-{max(build.release_ids)})")


@app.command(help="the evidence for the annual assurance statement: one self-contained HTML file")
def assurance(year: Annotated[int, typer.Option(help="calendar year")], out: OutOpt,
              profile: ProfileOpt = "partnership", purpose: PurposeOpt = "sna", user: UserOpt = None,
              no_kafka: Annotated[bool, typer.Option("--no-kafka", help="leave out the dead-letter evidence")] = False
              ) -> None:
    from hub.cli.mart import release_context
    from hub.evidence import gather_kafka_evidence
    from hub.reports.assurance import build_assurance
    engine, ctx = release_context(profile, purpose, user)
    s = settings()
    build = build_assurance(engine, ctx, year, out, s, None if no_kafka else gather_kafka_evidence(s))
    print(f"wrote {out} from {len(build.release_ids)} released tables (audit rows "
          f"{min(build.release_ids)}-{max(build.release_ids)})")


@app.command(help="a full-page PNG of a report, taken with headless Chromium")
def screenshot(html: Path, png: Path, width: Annotated[int, typer.Option()] = 1280) -> None:
    from hub.reports.browser import BrowserError
    from hub.reports.browser import screenshot as take
    try:
        print(f"wrote {take(html, png, width=width)}")
    except BrowserError as exc:
        fail(str(exc))


@app.command("sample-mart", help="fill the mart with a synthetic year of every source (no Kafka)")
def sample_mart(workdir: Annotated[Path, typer.Option(help="where the synthetic extracts are written")] = Path(
                    ".run/sample"),
                incidents: Annotated[int, typer.Option()] = 3000, seed: Annotated[int, typer.Option()] = 2026,
                start: Annotated[str, typer.Option(help="first day of the synthetic year")] = "2025-01-06") -> None:
    from hub.mart import connect
    from hub.synth.sample_mart import fill
    got = fill(connect(settings().mart), workdir, incidents=incidents, seed=seed, start=_day(start, "--start"))
    print(f"mart filled: {got.events}; {got.hotspot_alerts} hot-spot alerts; {got.review_cases} review cases; "
          "boundaries loaded")


def register(root: typer.Typer) -> None:
    root.add_typer(app)
