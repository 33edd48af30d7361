"""``hub dlq``: dead letters listed by source, stage and reason, shown without values, and replayed after a
mapping fix with every dead letter accounted for and nothing doubled in the mart."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import pytest

from hub import dlq
from hub.config import Settings
from hub.connectors.mapping import default_mapping_path, load_mapping
from hub.demo import SOURCE
from hub.mart import connect, incident_counts
from hub.pseudonymisation import PostcodeLookup
from hub.schemas import default_repository
from hub.synth import expected_counts, generate_police_extract
from tests.integration.pipeline import drain, events_in_mart, publish, start_worker, with_pipeline_files

pytestmark = pytest.mark.integration
DATETIME_COLUMNS = ("OccurredFrom", "OccurredTo", "ReportedDate")
OLD, NEW = "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M"


def switch_date_format(extract: Path, truth_csv: Path, every: int) -> int:
    """The agency's system changed its date-time format for some rows: every ``every``-th valid row is
    rewritten to ISO date-times, which the standard mapping rejects. Returns how many rows changed."""
    with truth_csv.open(newline="", encoding="utf-8") as fh:
        valid = sorted(int(r["row_number"]) for r in csv.DictReader(fh) if r["valid"] == "true")
    chosen = set(valid[::every])
    with extract.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    for number in chosen:
        row = rows[number]
        for col in DATETIME_COLUMNS:
            i = header.index(col)
            if row[i].strip():
                row[i] = datetime.strptime(row[i].strip(), OLD).strftime(NEW)
    with extract.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return len(chosen)


def fixed_mapping(tmp_path: Path, lookup: Path) -> object:
    text = default_mapping_path(SOURCE).read_text("utf-8").replace(f'datetime_format: "{OLD}"',
                                                                     f'datetime_format: "{NEW}"')
    assert NEW in text
    path = tmp_path / "police_incident.fixed.yaml"
    path.write_text(text, "utf-8")
    return load_mapping(path, PostcodeLookup.from_csv(lookup))


def test_list_show_and_replay_after_a_mapping_fix(settings: Settings, tmp_path: Path) -> None:
    manifest = generate_police_extract(tmp_path / "data", seed=17, incidents=600)
    switched = switch_date_format(manifest.extract_csv, manifest.truth_incidents_csv, every=10)
    settings = with_pipeline_files(settings, manifest)
    report = publish(settings, manifest.extract_csv, manifest.lookup_csv)
    assert report.dead_lettered == manifest.rows_malformed + switched

    # list: by source, stage and reason; everything outstanding
    rows = dlq.summary(dlq.read_ledger(settings, SOURCE))
    assert sum(r["dead_letters"] for r in rows) == report.dead_lettered
    assert {(r["source"], r["stage"]) for r in rows} == {(SOURCE, "validate")}
    by_reason = {r["reason"]: r["dead_letters"] for r in rows}
    assert by_reason.get("bad_datetime", 0) >= switched
    assert all(r["outstanding"] == r["dead_letters"] for r in rows)

    # show: the shape without values; values only when revealed, and only on the restricted topic
    schemas = default_repository()
    letter = dlq.read_ledger(settings, SOURCE).letters[0]
    shown = dlq.describe(settings, letter, schemas)
    cells = [c for c in next(csv.reader([letter.message.value.decode()])) if len(c) > 3]  # type: ignore[union-attr]
    text = json.dumps(shown)
    assert cells and not [c for c in cells if c in text], "show printed a value without --reveal"
    assert "CrimeRef" in shown["columns"] and shown["value_bytes"] > 0
    found, _ = dlq.find(settings, letter.ref)
    assert found.message.offset == letter.message.offset
    revealed = dlq.describe(settings, found, schemas, reveal=True)
    assert set(cells) <= set(revealed["value"].values())
    with pytest.raises(dlq.DeadLetterError):
        dlq.find(settings, f"{settings.topic_prefix}.raw.{SOURCE}:0:0")

    # replay with the fixed mapping: the switched rows go through, the malformed ones stay
    worker = start_worker(settings)
    try:
        mapping = fixed_mapping(tmp_path, manifest.lookup_csv)
        dry = dlq.replay(settings, SOURCE, schemas, mapping, dry_run=True)  # type: ignore[arg-type]
        first = dlq.replay(settings, SOURCE, schemas, mapping)  # type: ignore[arg-type]
        second = dlq.replay(settings, SOURCE, schemas, mapping)  # type: ignore[arg-type]
        drain(settings)
    finally:
        worker.stop()
    assert dry.as_dict() == first.as_dict()
    assert first.outstanding == report.dead_lettered
    assert first.replayed == switched  # damaged rows (wrong column count) are not replayable, the rest still fail
    assert first.still_failing + first.not_replayable == manifest.rows_malformed
    assert first.balanced and sum(first.reasons.values()) == manifest.rows_malformed
    assert (second.outstanding, second.replayed, second.already_replayed) == (manifest.rows_malformed, 0, switched)

    # conserved: the mart holds every valid row once, as if the agency's format had never changed
    assert events_in_mart(settings) == manifest.rows_valid
    assert incident_counts(connect(settings.mart)) == expected_counts(manifest.truth_incidents_csv)
    after = dlq.summary(dlq.read_ledger(settings, SOURCE))
    assert sum(r["dead_letters"] for r in after) == report.dead_lettered  # dead letters are kept ...
    assert sum(r["replayed"] for r in after) == switched  # ... the replayed ones marked ...
    assert sum(r["outstanding"] for r in after) == manifest.rows_malformed  # ... the rest still to do


def test_the_cli_lists_shows_and_replays(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from hub.cli import main
    from hub.streams.process import settings_env

    manifest = generate_police_extract(tmp_path / "data", seed=19, incidents=60)
    settings = with_pipeline_files(settings, manifest)
    report = publish(settings, manifest.extract_csv, manifest.lookup_csv)
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)

    assert main(["dlq", "list", "--source", SOURCE]) == 0
    out = capsys.readouterr().out
    assert f"{report.dead_lettered} dead letter(s), 0 replayed, {report.dead_lettered} outstanding" in out
    assert main(["dlq", "list", "--refs"]) == 0
    refs = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert len(refs) == report.dead_lettered
    assert main(["dlq", "show", refs[0]]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["value"].startswith("withheld") and shown["stage"] == "validate" and shown["replayed"] is False
    assert main(["dlq", "show", "nonsense"]) == 2
    assert main(["dlq", "show", f"{settings.topic_prefix}.dlq.shared:0:0"]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["dlq", "replay", SOURCE, "--dry-run"]) == 0  # the standard mapping: the malformed rows stay
    out = capsys.readouterr().out
    assert f"{report.dead_lettered} outstanding: would replay 0, still failing " in out
