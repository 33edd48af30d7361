"""``hub report assurance``: the evidence behind the partnership's annual assurance statement.

Which agencies shared, what and how much, data quality (dead letters), agreement enforcement (what the
boundary withheld, what was refused), releases made and to whom (the audit trail), purges, key rotations.
Volumes of events come through disclosure control like any release; the governance trail (releases,
purges, keys) is about the hub's own operation and is shown as recorded, under one audit row of its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select

from hub.mart import models
from hub.mart.audit import ReleaseContext, ReleaseRecord, record_release
from hub.reports import figures
from hub.reports.html import Page, audit_note, count_cell, figure, not_available, para, table, td
from hub.reports.releases import Period, grouped, release
from hub.reports.sna import Build

if TYPE_CHECKING:
    from hub.config import Settings
    from hub.evidence import KafkaEvidence

REPORT = "assurance"
MONTHS = [f"{m:02d}" for m in range(1, 13)]


def _in_year(value: Any, year: int) -> bool:
    if isinstance(value, datetime):
        return value.year == year
    if isinstance(value, date):
        return value.year == year
    return False


def key_history(settings: Settings | None) -> list[tuple[str, str, str]]:
    """(key id, created, state) from the key file, never key material; empty when it cannot be read."""
    if settings is None:
        return []
    from hub.pseudonymisation.keys import KeyRingError, load_key_file
    try:
        ring = load_key_file(settings.keys_path)
    except (KeyRingError, OSError):
        return []
    out = []
    for kid in ring.keys:
        state = "active" if kid == ring.active else ("overlap" if kid in ring.overlap else "retired (kept)")
        if kid == ring.event_key:
            state += ", event ids"
        out.append((kid, ring.created.get(kid) or "?", state))
    return sorted(out, key=lambda r: r[1])


def build_assurance(engine: Engine, ctx: ReleaseContext, year: int, out: Path, settings: Settings | None = None,
                    evidence: KafkaEvidence | None = None) -> Build:
    period = Period(date(year, 1, 1), date(year, 12, 31))
    build = Build()
    agreement = ctx.agreement
    params = {"year": year}
    page = Page(f"Data sharing assurance evidence: {year}",
                [f"{agreement.partnership}. Agreement {agreement.id} v{agreement.version}. Prepared by {ctx.user} "
                 f"on {datetime.now(UTC):%Y-%m-%d}; volumes released under profile '{ctx.profile.name}' "
                 f"(counts below {ctx.profile.standard.threshold} suppressed as *)."])
    ev = models.event
    audit_rows = _rows(engine, models.audit_release, year, "released_at")
    purge_rows = _rows(engine, models.audit_purge, year, "run_at")
    keys = key_history(settings)
    with engine.begin() as conn:
        counts = grouped(conn, ctx, period, ev.c.source, ev.c.occurred_month)
        full = {(s, f"{year}-{m}"): counts.get((s, f"{year}-{m}"), 0) for s in ctx.sources for m in MONTHS}
        vol = build.add(release(conn, ctx, REPORT, "volume_source_month", ("source", "month"), full, params,
                                destination=str(out)))
        gov = record_release(conn, ctx, ReleaseRecord(
            kind="report", name=f"{REPORT}:governance_trail", parameters={**params, "releases": len(audit_rows),
                                                                         "purges": len(purge_rows)},
            rows_released=len(audit_rows) + len(purge_rows) + len(keys), cells_suppressed=0, sources=ctx.sources,
            destination=str(out)))
        build.release_ids.append(gov)

    # --- who shared, what and how much ---------------------------------------------------------------
    by_source: dict[str, list[int | None]] = {s: [vol.cells.get((s, f"{year}-{m}")) for m in MONTHS]
                                              for s in ctx.sources}
    rows = []
    for name, src in sorted(agreement.sources.items()):
        provider = agreement.parties[src.provider].name if src.provider in agreement.parties else src.provider
        treat: dict[str, int] = defaultdict(int)
        for outputs in src.fields.values():
            for o in outputs:
                treat[o.treatment] += 1
        total = vol.total_shown() and sum(v or 0 for v in by_source.get(name, []))
        shown = by_source.get(name)
        rows.append([td(name), td(provider), td("at the source" if src.pseudonymise_at == "source" else "at the hub"),
                     td(", ".join(src.purposes)), td(src.retention_days, "rate"), td(treat["keep"], "rate"),
                     td(treat["generalise"], "rate"), td(treat["token"], "rate"), td(treat["drop"], "rate"),
                     count_cell(total) if shown is not None else td("not in this purpose")])
    page.section("shared", "Who shared, what and how much",
                 para("Each agency's source under the agreement: where it was pseudonymised, what its fields became "
                      "(kept, generalised, tokenised for linkage, dropped at the boundary) and how many events "
                      f"reached the mart for {year} (events dated in the year)."),
                 table(["source", "provider", "pseudonymised", "purposes", "retention days", "kept", "generalised",
                        "tokenised", "dropped", f"events {year}"], rows),
                 figure(figures.grouped_bars([f"{year}-{m}" for m in MONTHS], by_source,
                                             f"Events received by source and month, {year}", "events"),
                        "events by source and month", "Suppressed months are gaps."),
                 table(["source", *MONTHS], [[td(s), *[count_cell(v) for v in vals]] for s, vals in by_source.items()]),
                 audit_note([vol.release_id]))

    page.section("timeliness", "Timeliness: event to hub",
                 not_available("The delay from an event to its arrival needs the time each event reached the hub.",
                               "the mart records each event's arrival time (ingest log, issue #8)"))

    # --- data quality and enforcement ------------------------------------------------------------------
    dq: list[str] = []
    if evidence is None:
        dq.append(not_available("Dead letters are read from Kafka.", "the report is run with Kafka reachable "
                                "(without --no-kafka)"))
    elif evidence.problem:
        dq.append(not_available(evidence.problem + ".", "Kafka is reachable"))
    else:
        dl = evidence.dead_letters
        dq.append(para(f"Dead letters now held on the dead-letter topics (restricted topics keep them "
                       f"{evidence.retention_hours} hours; a durable yearly count awaits the mart's ingest log)."))
        dq.append(table(["source", "stage", "reason", "dead letters"],
                        [[td(s), td(st), td(k), td(f"{n:,}", "rate")] for (s, st, k), n in sorted(dl.items())])
                  if dl else para("No dead letters held."))
        refused = {k: n for k, n in dl.items() if k[1] == "policy"}
        dq.append("<h3>Records refused by the agreement</h3>")
        dq.append(table(["source", "reason", "records"], [[td(s), td(k), td(f"{n:,}", "rate")]
                                                         for (s, _, k), n in sorted(refused.items())])
                  if refused else para("No records were refused for want of an agreement."))
    withheld = [[td(name), td(", ".join(sorted(f for f, outs in src.fields.items()
                                                 if all(o.treatment == "drop" for o in outs))))]
                for name, src in sorted(agreement.sources.items())]
    page.section("quality", "Data quality and agreement enforcement", *dq,
                 "<h3>Fields withheld at the boundary</h3>",
                 para("Dropped by the agreement before anything is shared (and any field the agreement does not "
                      "name):"), table(["source", "fields dropped"], withheld))

    # --- releases, purges, keys -----------------------------------------------------------------------
    by_kind: dict[tuple[str, str, str, str], int] = defaultdict(int)
    by_month: dict[str, int] = defaultdict(int)
    for r in audit_rows:
        by_kind[(r["purpose"], r["profile"], r["audience"], r["kind"])] += 1
        by_month[f"{r['released_at']:%m}"] += 1
    rel_parts = [para(f"{len(audit_rows)} releases recorded in the audit trail in {year} (append-only; "
                      "'hub audit list' shows each with who, what, parameters and destination).")]
    if audit_rows:
        rel_parts.append(figure(figures.grouped_bars(MONTHS, {"releases": [by_month.get(m, 0) for m in MONTHS]},
                                                     f"Releases by month, {year}", "releases"),
                                "releases by month", "Every query, export and report build."))
        rel_parts.append(table(["purpose", "profile", "audience", "kind", "releases"],
                               [[td(p), td(pr), td(a), td(k), td(n, "rate")]
                                for (p, pr, a, k), n in sorted(by_kind.items())]))
        users: dict[str, int] = defaultdict(int)
        for r in audit_rows:
            users[r["user_name"]] += 1
        rel_parts.append(table(["released by", "releases"], [[td(u), td(n, "rate")] for u, n in sorted(users.items())]))
    page.section("releases", "Releases made and to whom", *rel_parts)
    runs: dict[str, dict[str, Any]] = {}
    for r in purge_rows:
        run = runs.setdefault(r["run_id"], {"at": r["run_at"], "user": r["user_name"], "events": 0,
                                            "dry": r["dry_run"], "sources": 0})
        run["events"] += int(r["events_deleted"])
        run["sources"] += 1
    page.section("purges", "Retention purges",
                 table(["run", "when", "by", "sources", "events deleted", "mode"],
                       [[td(k), td(f"{v['at']:%Y-%m-%d %H:%M}"), td(v["user"]), td(v["sources"], "rate"),
                         td(v["events"], "rate"), td("dry run" if v["dry"] else "purged")]
                        for k, v in sorted(runs.items(), key=lambda kv: kv[1]["at"])])
                 if runs else para(f"No retention purge was run in {year}: run 'hub mart purge' on a schedule."))
    rotated = [k for k in keys if str(k[1]).startswith(str(year))]
    page.section("keys", "Pseudonymisation keys and rotations",
                 table(["key id", "created", "state"], [[td(k), td(c), td(s)] for k, c, s in keys])
                 if keys else not_available("Key history comes from the hub's key file.", "the key file is readable "
                                            "by the process building the report"),
                 para(f"{len(rotated)} key(s) created in {year}. Key material is never shown.", "method"),
                 audit_note([gov]))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page.render(), encoding="utf-8")
    return build


def _rows(engine: Engine, tbl: Any, year: int, column: str) -> list[Mapping[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(tbl)) if _in_year(r._mapping[column], year)]
