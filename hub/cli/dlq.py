"""``hub dlq list|show|replay``: dead letters by source, stage and reason; one without its values; replay after a
fix, counted and never doubled (the logic and its reasons are in ``hub.dlq``; docs/ops.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import fail, group, settings

app = group("dlq", "dead letters: list, show, replay")


@app.command("list", help="dead letters by source, stage and reason (with --refs: each outstanding one)")
def list_(source: Annotated[str | None, typer.Option(help="a source, or 'shared'")] = None,
          refs: Annotated[bool, typer.Option("--refs", help="one line per outstanding dead letter")] = False) -> None:
    from hub import dlq
    try:
        ledger = dlq.read_ledger(settings(), source)
    except dlq.DeadLetterError as exc:
        fail(str(exc))
    if refs:
        for d in ledger.outstanding():
            print(f"{d.ref}\t{d.source}\t{d.stage}\t{d.kind}\t{d.info.get('position', '')}")
        return
    rows = dlq.summary(ledger)
    print(f"{'source':<22} {'stage':<13} {'reason':<26} {'dead letters':>12} {'replayed':>9} {'outstanding':>11}")
    for r in rows:
        print(f"{r['source']:<22} {r['stage']:<13} {r['reason']:<26} {r['dead_letters']:>12} {r['replayed']:>9} "
              f"{r['outstanding']:>11}")
    total = sum(r["dead_letters"] for r in rows)
    outstanding = sum(r["outstanding"] for r in rows)
    print(f"{total} dead letter(s), {total - outstanding} replayed, {outstanding} outstanding")


@app.command("show", help="one dead letter (TOPIC:PARTITION:OFFSET from `hub dlq list --refs`), values withheld")
def show(ref: str,
         reveal: Annotated[bool, typer.Option("--reveal", help="print the values (restricted topics only; "
                                                              "logged)")] = False) -> None:
    from hub import dlq
    from hub.schemas import default_repository
    s = settings()
    try:
        letter, ledger = dlq.find(s, ref)
        shown = dlq.describe(s, letter, default_repository(), reveal=reveal)
    except dlq.DeadLetterError as exc:
        fail(str(exc))
    shown["replayed"] = ledger.is_replayed(letter)
    print(json.dumps(shown, indent=2, ensure_ascii=False, default=str))


@app.command("replay", help="replay SOURCE's outstanding dead letters after a fix (counted, never twice)")
def replay(source: str,
           mapping: Annotated[Path | None, typer.Option(help="the fixed field mapping (connector rejects)")] = None,
           lookup: Annotated[Path | None, typer.Option(help="postcode lookup CSV for the mapping")] = None,
           kind: Annotated[list[str] | None, typer.Option(help="only this reason (repeatable)")] = None,
           stage: Annotated[list[str] | None, typer.Option(help="only this stage (repeatable)")] = None,
           dry_run: Annotated[bool, typer.Option("--dry-run", help="count, send nothing")] = False) -> None:
    from hub import dlq
    from hub.connectors.mapping import default_mapping_path, load_mapping
    from hub.pseudonymisation import PostcodeLookup
    from hub.schemas import RAW_SCHEMAS, default_repository
    s = settings()
    fields = None
    if source in RAW_SCHEMAS:
        lookup_path = lookup or s.postcode_lookup
        lookup_table = PostcodeLookup.from_csv(lookup_path) if lookup_path else None
        fields = load_mapping(mapping or default_mapping_path(source), lookup_table)
    elif source != "shared":
        fail(f"unknown source {source!r} (one of: {', '.join(sorted(RAW_SCHEMAS))}, shared)")
    try:
        report = dlq.replay(s, source, default_repository(), fields, kinds=kind or (), stages=stage or (),
                            dry_run=dry_run)
    except dlq.DeadLetterError as exc:
        fail(str(exc))
    verb = "would replay" if dry_run else "replayed"
    print(f"{source}: {report.outstanding} outstanding: {verb} {report.replayed}, still failing "
          f"{report.still_failing}, not replayable {report.not_replayable}, left out {report.skipped}; "
          f"{report.already_replayed} replayed earlier")
    for reason, n in sorted(report.reasons.items()):
        print(f"  {n:>6}  {reason}")


def register(root: typer.Typer) -> None:
    root.add_typer(app)
