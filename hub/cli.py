"""The ``hub`` command: one entry point for connectors, the worker, the mart, keys, policy and the demo."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hub import __version__

if TYPE_CHECKING:
    from hub.config import Settings


def _settings(args: argparse.Namespace) -> Settings:
    from hub.config import load_settings
    return load_settings()


def cmd_worker(args: argparse.Namespace) -> int:
    from hub.streams import worker
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    worker.run(_settings(args), stages)
    return 0


def cmd_connector_load(args: argparse.Namespace) -> int:
    from hub import kafka_admin, logs, metrics
    from hub.connectors import default_mapping_path, load_mapping
    from hub.connectors.load import publish_file
    from hub.policy import load_agreement
    from hub.pseudonymisation import PostcodeLookup

    settings = _settings(args)
    logs.setup(settings.log_level)
    policy = load_agreement(settings.agreement_file()).source(args.source)
    if policy.pseudonymise_at == "source":
        # This command sends raw records to the hub: a health body's data must be pseudonymised inside it.
        print(f"error: {args.source} is pseudonymised at the source; use 'hub connector run CONFIG' inside the "
              "agency, which pseudonymises before anything leaves", file=sys.stderr)
        return 2
    lookup_path = args.lookup or settings.postcode_lookup
    lookup = PostcodeLookup.from_csv(Path(lookup_path)) if lookup_path else None
    mapping = load_mapping(args.mapping or default_mapping_path(args.source), lookup)
    if mapping.source != args.source:
        print(f"error: mapping {mapping.path} is for source {mapping.source}, not {args.source}", file=sys.stderr)
        return 2
    kafka_admin.ensure_topics(settings, [args.source])
    if args.metrics:
        metrics.serve(settings.metrics_port, settings.metrics_host)
    report = publish_file(settings, mapping, Path(args.file),
                          on_progress=lambda n: print(f"  {n} records read", file=sys.stderr))
    print(json.dumps(report.as_dict()))
    return 0


def cmd_mart_init(args: argparse.Namespace) -> int:
    from hub.mart import connect, init
    settings = _settings(args)
    init(connect(settings.mart))
    from sqlalchemy.engine import make_url
    print(f"mart initialised at {make_url(settings.mart).render_as_string(hide_password=True)}")
    return 0


def _release_context(args: argparse.Namespace) -> tuple[object, object]:
    """(engine, ReleaseContext) for a release; refused unless the agreement declares purpose and profile."""
    from hub.mart import connect
    from hub.mart.audit import ReleaseContext
    from hub.mart.store import ensure_audit
    from hub.policy import load_agreement
    settings = _settings(args)
    ctx = ReleaseContext.create(load_agreement(settings.agreement_file()), args.purpose, args.profile, args.user)
    engine = connect(settings.mart)
    ensure_audit(engine)  # the audit trail must exist before anything is released
    return engine, ctx


def cmd_mart_counts(args: argparse.Namespace) -> int:
    from hub.mart.queries import release_area_counts
    from hub.mart.report import format_area_counts
    engine, ctx = _release_context(args)
    table = release_area_counts(engine, ctx, args.geography, args.period)  # type: ignore[arg-type]
    print(format_area_counts(table, limit=args.limit))
    return 0


def cmd_mart_export(args: argparse.Namespace) -> int:
    from hub.mart.queries import export_csv, release_area_counts
    engine, ctx = _release_context(args)
    out = Path(args.out)
    table = release_area_counts(engine, ctx, args.geography, args.period, kind="export",  # type: ignore[arg-type]
                                destination=str(out.resolve()))
    export_csv(table, out)
    print(f"wrote {len(table.rows)} cells ({table.cells_suppressed} suppressed) to {out}; "
          f"recorded as release {table.release_id}")
    return 0


def cmd_mart_report(args: argparse.Namespace) -> int:
    from hub.mart.report import incident_report
    engine, ctx = _release_context(args)
    chart = Path(args.chart) if args.chart else None
    print(incident_report(engine, ctx, args.geography, args.period, args.limit, chart))  # type: ignore[arg-type]
    return 0


def cmd_mart_purge(args: argparse.Namespace) -> int:
    from datetime import date

    from hub.mart import connect, init
    from hub.mart.audit import resolve_user
    from hub.mart.retention import purge
    from hub.policy import load_agreement
    settings = _settings(args)
    engine = connect(settings.mart)
    init(engine)
    today = date.fromisoformat(args.today) if args.today else None
    run = purge(engine, load_agreement(settings.agreement_file()), resolve_user(args.user), today, args.dry_run)
    print(run.summary())
    return 0


def cmd_audit_list(args: argparse.Namespace) -> int:
    from hub.mart import audit, connect, init
    engine = connect(_settings(args).mart)
    init(engine)
    if args.purges:
        print(audit.format_purges(audit.purges(engine, args.limit)))
    else:
        print(audit.format_releases(audit.releases(engine, args.limit)))
    return 0


def cmd_reviews_list(args: argparse.Namespace) -> int:
    from hub.mart import connect
    from hub.mart.reviews import ensure_tables, format_cases, list_cases
    engine = connect(_settings(args).mart)
    ensure_tables(engine)
    print(format_cases(list_cases(engine, args.status)))
    return 0


def cmd_reviews_status(args: argparse.Namespace) -> int:
    from hub.mart import connect
    from hub.mart.reviews import ensure_tables, set_status
    engine = connect(_settings(args).mart)
    ensure_tables(engine)
    if not set_status(engine, args.case, args.status):
        print(f"error: no review case {args.case}", file=sys.stderr)
        return 2
    print(f"case {args.case[:16]}.. is now {args.status}")
    return 0


def cmd_reviews_rules(args: argparse.Namespace) -> int:
    from hub.alerts.rules import describe, load_rules
    print(describe(load_rules(Path(args.file) if args.file else _settings(args).alert_rules)))
    return 0


def cmd_report_sna(args: argparse.Namespace) -> int:
    from datetime import date

    from hub.reports.sna import build_sna
    engine, ctx = _release_context(args)
    out = Path(args.out)
    build = build_sna(engine, ctx, date.fromisoformat(args.date_from), date.fromisoformat(args.date_to),  # type: ignore[arg-type]
                      out)
    print(f"wrote {out} from {len(build.release_ids)} released tables (audit rows "
          f"{min(build.release_ids)}-{max(build.release_ids)})")
    return 0


def cmd_report_assurance(args: argparse.Namespace) -> int:
    from hub.evidence import gather_kafka_evidence
    from hub.reports.assurance import build_assurance
    engine, ctx = _release_context(args)
    settings = _settings(args)
    out = Path(args.out)
    evidence = None if args.no_kafka else gather_kafka_evidence(settings)
    build = build_assurance(engine, ctx, int(args.year), out, settings, evidence)  # type: ignore[arg-type]
    print(f"wrote {out} from {len(build.release_ids)} released tables (audit rows "
          f"{min(build.release_ids)}-{max(build.release_ids)})")
    return 0


def cmd_report_sample_mart(args: argparse.Namespace) -> int:
    from hub.mart import connect
    from hub.synth.sample_mart import fill
    settings = _settings(args)
    engine = connect(settings.mart)
    from datetime import date
    got = fill(engine, Path(args.workdir), incidents=args.incidents, seed=args.seed,
               start=date.fromisoformat(args.start))
    print(f"mart filled: {got.events}; {got.hotspot_alerts} hot-spot alerts; {got.review_cases} review cases; "
          "boundaries loaded")
    return 0


def cmd_report_screenshot(args: argparse.Namespace) -> int:
    from hub.reports.browser import screenshot
    png = screenshot(Path(args.html), Path(args.png), width=args.width)
    print(f"wrote {png}")
    return 0


def cmd_reference_load_boundaries(args: argparse.Namespace) -> int:
    from hub.mart import connect
    from hub.reports.boundaries import load_boundaries
    loaded = load_boundaries(connect(_settings(args).mart), Path(args.file))
    print(f"loaded {loaded.areas} {loaded.level.upper()} boundaries ({loaded.with_population} with a population) "
          f"from {loaded.path}")
    return 0


def cmd_keys_init(args: argparse.Namespace) -> int:
    from hub.pseudonymisation import KeyRing, save_key_file
    settings = _settings(args)
    path = Path(args.file) if args.file else settings.keys_path
    if path.exists() and not args.force:
        print(f"error: {path} exists; keys are never overwritten (use 'hub keys rotate')", file=sys.stderr)
        return 2
    ring = KeyRing.generate()
    save_key_file(ring, path)
    print(f"wrote key file {path} (mode 600) with active key id {ring.active}")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from hub.pseudonymisation.keys import load_key_file, save_key_file
    settings = _settings(args)
    path = Path(args.file) if args.file else settings.keys_path
    ring = load_key_file(path)
    old = ring.active
    new = ring.rotate(overlap_days=args.overlap_days)
    save_key_file(ring, path)
    print(f"rotated {path}: active key {old} -> {new}; event ids stay on key {ring.event_key}")
    for kid, until in ring.overlap.items():
        print(f"overlap: tokens are also made with {kid} until {until.isoformat(timespec='seconds')}; "
              "restart every worker and at-source connector with this key file")
    return 0


def cmd_keys_show(args: argparse.Namespace) -> int:
    from hub.pseudonymisation.keys import load_key_file
    path = Path(args.file) if args.file else _settings(args).keys_path
    ring = load_key_file(path)
    print(f"key file {path}: active {ring.active}; event ids on {ring.event_key}")
    for kid in ring.keys:
        until = ring.overlap.get(kid)
        state = "active" if kid == ring.active else (f"overlap until {until.isoformat(timespec='seconds')}"
                                                     if until else "kept for re-tokenising")
        print(f"  {kid}  created {ring.created.get(kid) or '?'}  {state}")
    return 0


def cmd_policy_check(args: argparse.Namespace) -> int:
    from hub.policy import load_agreement
    from hub.policy.summary import summarise
    agreement = load_agreement(Path(args.file))
    print(summarise(agreement))
    return 0


def cmd_synth_police(args: argparse.Namespace) -> int:
    from hub.synth import generate_police_extract
    manifest = generate_police_extract(Path(args.out), seed=args.seed, incidents=args.incidents)
    print(json.dumps({k: str(v) for k, v in manifest.__dict__.items()}, indent=2))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from hub.demo import run_demo
    return run_demo(_settings(args), incidents=args.incidents, seed=args.seed)


def cmd_bench(args: argparse.Namespace) -> int:
    if args.what == "core":
        from hub.bench import core
        figures = core.run(args.incidents or 3000, args.repeats)
    elif args.what == "hotspots":
        from hub.bench import hotspots
        figures = hotspots.run(args.incidents or 3000)
    elif args.what == "linkage":
        from hub.bench import linkage
        figures = linkage.run(args.incidents or 3000)
    else:
        from hub.bench import pipeline
        figures = pipeline.run(_settings(args), args.incidents or 20000)
    for name, value in figures.items():
        print(f"{name:>28}: {value:,.1f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hub", description="Serious Violence Data Hub")
    p.add_argument("--version", action="version", version=f"hub {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    w = sub.add_parser("worker", help="run the stream worker (pseudonymise and sink)")
    w.add_argument("--stages", default="pseudonymise,sink",
                   help="comma-separated: pseudonymise, sink, alerts (homicide-review triggers, hot spots)")
    w.set_defaults(func=cmd_worker)

    c = sub.add_parser("connector", help="agency connectors").add_subparsers(dest="action", required=True)
    cl = c.add_parser("load", help="publish one extract file to the hub (one shot)")
    cl.add_argument("source", help="source name, e.g. police_incident")
    cl.add_argument("file", help="the extract (CSV)")
    cl.add_argument("--mapping", help="field mapping YAML (default: the source's standard mapping)")
    cl.add_argument("--lookup", help="postcode lookup CSV to validate postcodes against")
    cl.add_argument("--metrics", action="store_true", help="serve /metrics while loading")
    cl.set_defaults(func=cmd_connector_load)
    from hub.connectors.commands import add_commands
    add_commands(c)  # run, check, token

    m = sub.add_parser("mart", help="the data mart").add_subparsers(dest="action", required=True)
    m.add_parser("init", help="create or upgrade the mart's tables and views").set_defaults(func=cmd_mart_init)
    release_help = "every release is recorded in the audit trail (hub audit list)"
    for name, func, what in (("counts", cmd_mart_counts, "incidents by area x period x offence category"),
                             ("export", cmd_mart_export, "write the released incident table as CSV"),
                             ("report", cmd_mart_report, "a plain-text incident report")):
        mr = m.add_parser(name, help=f"{what}, disclosure-controlled; {release_help}")
        mr.add_argument("--profile", default="partnership", help="release profile of the agreement")
        mr.add_argument("--purpose", help="the purpose of this release; must be one the agreement declares")
        mr.add_argument("--user", help="who is releasing (default: HUB_AUDIT_USER, else the OS user)")
        mr.add_argument("--geography", choices=("lsoa", "msoa", "lad"),
                        help="area level (never finer than the profile allows; default: the profile's finest)")
        mr.add_argument("--period", choices=("week", "month"), default="month" if name == "report" else "week")
        if name == "export":
            mr.add_argument("--out", required=True, help="CSV file to write")
        else:
            mr.add_argument("--limit", type=int, default=25)
        if name == "report":
            mr.add_argument("--chart", help="also draw the trend and hot spots into this PNG file")
        mr.set_defaults(func=func)
    mp = m.add_parser("purge", help="delete events older than each source's retention_days (audited)")
    mp.add_argument("--dry-run", action="store_true", help="count and audit, delete nothing")
    mp.add_argument("--user", help="who runs the purge (default: HUB_AUDIT_USER, else the OS user)")
    mp.add_argument("--today", help=argparse.SUPPRESS)
    mp.set_defaults(func=cmd_mart_purge)

    a = sub.add_parser("audit", help="the audit trail").add_subparsers(dest="action", required=True)
    al = a.add_parser("list", help="releases of data from the mart (or, with --purges, retention purges)")
    al.add_argument("--purges", action="store_true")
    al.add_argument("--limit", type=int, default=50)
    al.set_defaults(func=cmd_audit_list)

    rp = sub.add_parser("report", help="reports built from released tables (each release audited)").add_subparsers(
        dest="action", required=True)
    for name, func, what in (("sna", cmd_report_sna, "the strategic needs assessment (HTML)"),
                             ("assurance", cmd_report_assurance, "the annual assurance evidence (HTML)")):
        r = rp.add_parser(name, help=what)
        if name == "sna":
            r.add_argument("--from", dest="date_from", required=True, help="first day, YYYY-MM-DD")
            r.add_argument("--to", dest="date_to", required=True, help="last day, YYYY-MM-DD")
        else:
            r.add_argument("--year", required=True, type=int)
            r.add_argument("--no-kafka", action="store_true", help="leave out the dead-letter evidence from Kafka")
        r.add_argument("--out", required=True, help="HTML file to write")
        r.add_argument("--profile", default="partnership", help="release profile of the agreement")
        r.add_argument("--purpose", default="sna", help="purpose of the release (default sna)")
        r.add_argument("--user", help="who is releasing (default: HUB_AUDIT_USER, else the OS user)")
        r.set_defaults(func=func)
    rs_ = rp.add_parser("sample-mart", help="fill the mart with a synthetic year of every source (no Kafka)")
    rs_.add_argument("--workdir", default=".run/sample", help="where the synthetic extracts are written")
    rs_.add_argument("--incidents", type=int, default=3000)
    rs_.add_argument("--seed", type=int, default=2026)
    rs_.add_argument("--start", default="2025-01-06", help="first day of the synthetic year (YYYY-MM-DD)")
    rs_.set_defaults(func=cmd_report_sample_mart)

    rsh = rp.add_parser("screenshot", help="a full-page PNG of a report, taken with headless Chromium")
    rsh.add_argument("html")
    rsh.add_argument("png")
    rsh.add_argument("--width", type=int, default=1280)
    rsh.set_defaults(func=cmd_report_screenshot)

    ref = sub.add_parser("reference", help="reference data").add_subparsers(dest="action", required=True)
    rl_ = ref.add_parser("load", help="load reference data into the mart").add_subparsers(dest="what", required=True)
    rb = rl_.add_parser("boundaries", help="an ONS boundary file (GeoJSON or any GDAL format), for maps")
    rb.add_argument("file")
    rb.set_defaults(func=cmd_reference_load_boundaries)

    rv = sub.add_parser("reviews", help="Offensive Weapons Homicide Review register").add_subparsers(
        dest="action", required=True)
    rl = rv.add_parser("list", help="cases in the register (case references are keyed tokens)")
    rl.add_argument("--status", help="only cases with this status")
    rl.set_defaults(func=cmd_reviews_list)
    rs = rv.add_parser("status", help="record the review partners' decision on a case")
    rs.add_argument("case", help="the case reference (token) as listed")
    rs.add_argument("status", choices=("to_consider", "dhr_precedence", "review_arranged", "not_required", "closed"))
    rs.set_defaults(func=cmd_reviews_status)
    rr = rv.add_parser("rules", help="validate the alert rules file and print what it does")
    rr.add_argument("--file", help="rules YAML (default: HUB_ALERT_RULES, else the shipped rules)")
    rr.set_defaults(func=cmd_reviews_rules)

    k = sub.add_parser("keys", help="pseudonymisation keys").add_subparsers(dest="action", required=True)
    ki = k.add_parser("init", help="create a key file (mode 600)")
    ki.add_argument("--file")
    ki.add_argument("--force", action="store_true", help=argparse.SUPPRESS)
    ki.set_defaults(func=cmd_keys_init)
    kr = k.add_parser("rotate", help="add a new active key; old keys stay for re-tokenising")
    kr.add_argument("--file")
    kr.add_argument("--overlap-days", type=float, default=90,
                    help="days the previous key also makes tokens, so linkage survives (default 90; 0: none)")
    kr.set_defaults(func=cmd_keys_rotate)
    ks = k.add_parser("show", help="key ids, the active and event keys, overlaps (never key material)")
    ks.add_argument("--file")
    ks.set_defaults(func=cmd_keys_show)

    pol = sub.add_parser("policy", help="information-sharing agreements").add_subparsers(dest="action", required=True)
    pc = pol.add_parser("check", help="validate an agreement and print what flows where")
    pc.add_argument("file")
    pc.set_defaults(func=cmd_policy_check)

    s = sub.add_parser("synth", help="synthetic data").add_subparsers(dest="action", required=True)
    sp = s.add_parser("police", help="generate a synthetic police extract with ground truth")
    sp.add_argument("--out", required=True)
    sp.add_argument("--seed", type=int, default=2026)
    sp.add_argument("--incidents", type=int, default=3000)
    sp.set_defaults(func=cmd_synth_police)

    d = sub.add_parser("demo", help="run the pipeline end to end on synthetic data and check it")
    d.add_argument("--incidents", type=int, default=3000)
    d.add_argument("--seed", type=int, default=2026)
    d.set_defaults(func=cmd_demo)
    b = sub.add_parser("bench", help="benchmarks: print figures (never asserted)")
    b.add_argument("what", choices=["core", "pipeline", "linkage", "hotspots"],
                   help="core: boundary per event; pipeline: via Kafka; linkage: person linkage vs truth; "
                        "hotspots: false alarms per year of the hot-spot rule on a spike-free year")
    b.add_argument("--incidents", type=int, default=None)
    b.add_argument("--repeats", type=int, default=5)
    b.set_defaults(func=cmd_bench)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from hub.alerts.rules import RulesError
    from hub.config import SettingsError
    from hub.policy import ConfigError, ReleaseRefused
    from hub.pseudonymisation import GeographyError, KeyRingError
    from hub.reports.boundaries import BoundaryError
    from hub.reports.browser import BrowserError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ReleaseRefused as exc:
        print(f"error: release refused: {exc}", file=sys.stderr)
        return 2
    except (SettingsError, ConfigError, KeyRingError, GeographyError, RulesError, BoundaryError,
            BrowserError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
