"""One test per agreement rule, end to end: real broker, the worker as a real process, the mart.

(a) a source without an agreement is refused: every record dead-lettered at stage ``policy``;
(b) a field not granted is absent from every shared event and from the mart, and counted;
(c) changing the agreement file changes what flows, with no code change.
Each test writes a variant of the example agreement to a file and points the worker at it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text

from hub.config import Settings
from hub.dead_letters import headers_dict
from hub.demo import SOURCE
from hub.kafka_read import Message, read_topic
from hub.linkage.messages import LINK_TOKENS
from hub.mart import connect
from hub.policy import example_agreement_path, load_agreement
from hub.schemas import SHARED_EVENT, default_repository
from hub.synth import SynthManifest, generate_police_extract
from hub.topics import Topics
from tests.integration.pipeline import (
    drain,
    metric_value,
    metrics_text,
    publish,
    start_worker,
    with_pipeline_files,
)
from tests.plugins.services import free_port, unique

pytestmark = pytest.mark.integration

INCIDENTS = 150


def agreement_variant(path: Path, edit: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """The example agreement with ``edit`` applied, written to ``path`` (and checked to load)."""
    data = yaml.safe_load(example_agreement_path().read_text("utf-8"))
    if edit:
        edit(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    load_agreement(path)
    return path


def police_fields(data: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = data["sources"][SOURCE]["fields"]
    return fields


@dataclass
class Outcome:
    settings: Settings
    manifest: SynthManifest
    shared: list[dict[str, Any]]
    metrics: str
    link_tokens: list[dict[str, Any]] = dataclass_field(default_factory=list)  # the restricted token topic

    def mart(self, sql: str) -> list[tuple[Any, ...]]:
        with connect(self.settings.mart).connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]


def run_pipeline(settings: Settings, base: Path, agreement: Path, seed: int = 5) -> Outcome:
    """Publish a synthetic extract, run the worker under ``agreement`` until drained, collect what flowed."""
    manifest = generate_police_extract(base / "data", seed=seed, incidents=INCIDENTS)
    settings = with_pipeline_files(settings, manifest, agreement_path=agreement)
    publish(settings, manifest.extract_csv, manifest.lookup_csv)
    worker = start_worker(settings)
    try:
        drain(settings)
        metrics = metrics_text(settings)
    finally:
        worker.stop()
    repo = default_repository()
    shared = [repo.decode(m.value or b"", expect=SHARED_EVENT)[1]
              for m in read_topic(settings, Topics(settings.topic_prefix).shared)]
    tokens = [repo.decode(m.value or b"", expect=LINK_TOKENS)[1]
              for m in read_topic(settings, Topics(settings.topic_prefix).link_tokens)]
    return Outcome(settings, manifest, shared, metrics, tokens)


def second_settings(settings: Settings, tmp_path: Path, name: str) -> Settings:
    """Another isolated pipeline in the same test (own prefix, group, data dir and metrics port)."""
    prefix = unique(name)
    return settings.model_copy(update={"topic_prefix": prefix, "app_id": f"{prefix}-worker",
                                       "data_dir": tmp_path / name / "run", "metrics_port": free_port()})


def wait_for(settings: Settings, topic: str, predicate: Callable[[list[Message]], bool],
             timeout_s: float = 60.0) -> list[Message]:
    deadline = time.monotonic() + timeout_s
    while True:
        msgs = read_topic(settings, topic)
        if predicate(msgs) or time.monotonic() > deadline:
            return msgs
        time.sleep(0.5)


# --- (a) no agreement, no flow ---------------------------------------------------------------------

def test_source_without_an_agreement_is_refused(settings: Settings, tmp_path: Path) -> None:
    agreement = agreement_variant(tmp_path / "no-police.yaml", lambda d: d["sources"].pop(SOURCE))
    out = run_pipeline(settings, tmp_path, agreement)
    valid = out.manifest.rows_valid

    def policy_letters(msgs: list[Message]) -> list[Message]:
        return [m for m in msgs if headers_dict(m.headers).get("stage") == "policy"]

    dlq = Topics(out.settings.topic_prefix).dlq(SOURCE)
    refused = policy_letters(wait_for(out.settings, dlq, lambda ms: len(policy_letters(ms)) >= valid))
    assert len(refused) == valid
    for msg in refused:
        h = headers_dict(msg.headers)
        assert h["source"] == SOURCE and h["kind"] == "no_agreement"
        assert "no information-sharing agreement covers source 'police_incident'" in h["exception.message"]
        assert msg.value  # the original record, kept on the restricted topic for replay once agreed
    assert out.shared == []
    assert out.mart("SELECT COUNT(*) FROM event") == [(0,)]
    assert out.mart("SELECT COUNT(*) FROM event_person") == [(0,)]
    assert metric_value(out.metrics, "svh_records_dead_lettered_total", source=SOURCE, stage="policy",
                        error="no_agreement") == valid
    assert metric_value(out.metrics, "svh_stage_processed_total", stage="pseudonymise",
                        outcome="dead_lettered") == valid
    assert metric_value(out.metrics, "svh_stage_processed_total", stage="pseudonymise", outcome="emitted") == 0


# --- (b) a field not granted never leaves pseudonymisation -----------------------------------------

def test_field_not_granted_is_absent_downstream_and_counted(settings: Settings, tmp_path: Path) -> None:
    agreement = agreement_variant(tmp_path / "no-knife.yaml", lambda d: police_fields(d).pop("knife"))
    out = run_pipeline(settings, tmp_path, agreement)
    assert len(out.shared) == out.manifest.rows_valid
    assert all("knife" not in ev["flags"] for ev in out.shared)
    assert all("firearm" in ev["flags"] for ev in out.shared)  # the rest of the flags still flow
    withheld = sum(1 for ev in out.shared if "knife" in ev["withheld_fields"])
    assert withheld == out.manifest.rows_valid  # every record carried a knife value; every one withheld
    assert out.mart("SELECT COUNT(*) FROM event WHERE knife IS NOT NULL") == [(0,)]
    assert out.mart("SELECT COUNT(*) FROM event WHERE firearm IS NOT NULL") == [(out.manifest.rows_valid,)]
    assert metric_value(out.metrics, "svh_fields_withheld_total", source=SOURCE, field="knife") == withheld


# --- (c) the file decides, not the code --------------------------------------------------------------

def test_changing_the_agreement_changes_what_flows(settings: Settings, tmp_path: Path) -> None:
    baseline = run_pipeline(settings, tmp_path / "base", agreement_variant(tmp_path / "base.yaml"))

    def narrower(d: dict[str, Any]) -> None:
        police_fields(d)["victim_dob"] = "drop"
        police_fields(d)["offence_code"] = "drop"

    changed = run_pipeline(second_settings(settings, tmp_path, "changed"), tmp_path / "changed",
                           agreement_variant(tmp_path / "narrower.yaml", narrower))
    n = baseline.manifest.rows_valid
    assert len(baseline.shared) == len(changed.shared) == n  # same records, same event ids ...
    assert {e["event_id"] for e in baseline.shared} != set() and len({e["event_id"] for e in changed.shared}) == n

    def victims(out: Outcome) -> list[dict[str, Any]]:
        return [p for ev in out.shared for p in ev["persons"] if p["role"] == "victim"]

    def victim_tokens(out: Outcome) -> list[str]:  # tokens travel only on the restricted token topic
        return [k for ev in out.link_tokens for p in ev["persons"] if p["role"] == "victim" for k in p["tokens"]]

    # ... but victims' age bands and date-of-birth tokens flowed before and do not now,
    assert any(p["age_band"] for p in victims(baseline))
    assert any(k.startswith("dob") for k in victim_tokens(baseline))
    assert not [p for p in victims(changed) if p["age_band"]]
    assert not [k for k in victim_tokens(changed) if k.startswith("dob")]
    assert [k for k in victim_tokens(changed) if k.startswith("surname")]  # names still tokenised
    assert not [p for out in (baseline, changed) for ev in out.shared for p in ev["persons"] if p["tokens"]]
    # suspects' are untouched (the rule changed for victim_dob only),
    assert any(p["age_band"] for ev in changed.shared for p in ev["persons"] if p["role"] == "suspect")
    # and the offence columns are empty in the changed mart only.
    assert baseline.mart("SELECT COUNT(*) FROM event WHERE offence_code IS NOT NULL") == [(n,)]
    assert changed.mart("SELECT COUNT(*) FROM event WHERE offence_code IS NOT NULL OR offence_category IS NOT NULL"
                        ) == [(0,)]
    assert changed.mart("SELECT COUNT(*) FROM event_person WHERE role = 'victim' AND age_band IS NOT NULL") == [(0,)]
    assert baseline.mart("SELECT COUNT(*) FROM event_person WHERE role = 'victim' AND age_band IS NOT NULL")[0][0] > 0
    for field in ("victim_dob", "offence_code"):
        assert metric_value(changed.metrics, "svh_fields_withheld_total", source=SOURCE, field=field) > 0
        assert metric_value(baseline.metrics, "svh_fields_withheld_total", source=SOURCE, field=field) == 0
    assert all(ev["agreement_version"] == baseline.shared[0]["agreement_version"] for ev in changed.shared)
