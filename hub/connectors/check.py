"""``hub connector check CONFIG [SAMPLE]``: what a connector WOULD do, without touching Kafka.

Validates the config and the mapping, the mode's own settings (folders, the database and its
columns, the tokens file), then shows, for the first rows of a sample (SAMPLE, or the first file in
the inbox, or the next page of the table), what would be published and which rows would be
dead-lettered and why. For a source pseudonymised at source it shows the shared event that would
leave the agency instead of the raw record. Nothing is published and no checkpoint moves.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from hub.connectors.base import RecordSink, SourceRecord
from hub.connectors.config import ConnectorConfig, load_config
from hub.connectors.csv_file import CsvFileConnector, inspect_csv
from hub.connectors.json_records import json_record
from hub.connectors.registry import make_mode, mode_class
from hub.connectors.runtime import Runtime, open_publisher
from hub.connectors.testing import RecordingProducer, Sent
from hub.dead_letters import headers_dict

MAX_DEAD_LISTED = 50


def _no_kafka() -> RecordSink:
    raise RuntimeError("hub connector check never publishes")


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else str(value)


def sample_records(runtime: Runtime, sample: Path | None, lines: list[str]) -> Iterator[SourceRecord]:
    """The records of SAMPLE (CSV, or JSON as the HTTP mode takes it), else of the mode's next input."""
    mapping = runtime.mapping
    if sample is None:
        mode = make_mode(runtime)
        try:
            yield from mode.sample(10_000)
        finally:
            mode.close()
        return
    if sample.suffix.lower() == ".json":
        data = json.loads(sample.read_text("utf-8"))
        items = data.get("records") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ValueError(f"{sample}: must hold a JSON list of records, or {{\"records\": [...]}}")
        for i, obj in enumerate(items):
            yield json_record(obj, mapping, f"{sample.name} record {i}")
        return
    inspection = inspect_csv(sample, mapping)
    if inspection.problem:
        lines.append(f"FILE WOULD BE REJECTED (moved to rejected/, nothing published): {inspection.problem}")
        return
    yield from CsvFileConnector(sample, mapping).records()


def check(config_path: Path, sample: Path | None = None, rows: int = 5) -> tuple[int, list[str]]:
    """(exit code, lines to print). Raises ``ConfigError`` for a bad config or mapping.

    Each sample record goes through the connector's real publisher (``make_publisher``: raw, or
    pseudonymised at source) with a ``RecordingProducer`` in place of Kafka, so what is shown is exactly
    what would be sent."""
    config: ConnectorConfig = load_config(config_path)
    lines = [f"config {config.path}: OK (connector {config.name}, source {config.source}, mode {config.mode})"]
    try:
        settings = config.settings()
        lines.append(f"kafka: {settings.kafka_bootstrap} ({settings.security_protocol}), topic prefix "
                     f"{settings.topic_prefix}; not contacted by check")
    except Exception as exc:  # noqa: BLE001 - report and go on: check must work off the deployment host too
        lines.append(f"WARNING kafka settings: {exc}")
        settings = None
    runtime = Runtime(config, settings, sink_factory=_no_kafka)
    mapping = runtime.mapping
    lines.append(f"mapping {mapping.path}: OK ({len(mapping.fields)} fields from {len(mapping.columns)} columns)")
    where = "at the source (only the shared event leaves)" if runtime.at_source else "at the hub"
    lines.append(f"agreement {runtime.settings.agreement_file()}: {config.source} is pseudonymised {where}")
    lines.extend(_mode_lines(runtime))
    producer = RecordingProducer()
    counts: Counter[str] = Counter()
    dead: list[str] = []
    shown = 0
    source_lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="svh-check-") as scratch:
        runtime.quarantine_dir = Path(scratch)  # check leaves nothing in the agency's quarantine
        publisher = open_publisher(runtime, producer=producer)
        for rec in sample_records(runtime, sample, source_lines):
            before = len(producer.sent)
            publisher.publish(rec)
            counts["read"] += 1
            for sent in producer.sent[before:]:
                if sent.topic == runtime.output_topic:
                    counts["published"] += 1
                    if shown < rows:
                        shown += 1
                        lines.append(_published_line(runtime, rec, sent))
                    continue
                h = headers_dict(sent.headers)
                counts["dead_lettered"] += 1
                counts[f"error:{h.get('kind')}"] += 1
                field = f" field {h['field']}" if h.get("field") else ""
                entry = (f"{rec.position}: WOULD BE DEAD-LETTERED to {sent.topic} ({h.get('kind')}{field}, stage "
                         f"{h.get('stage')}): {h.get('exception.message')}")
                if shown < rows:
                    shown += 1
                    lines.append(entry)
                elif len(dead) < MAX_DEAD_LISTED:
                    dead.append(entry)
        publisher.close()
    lines.extend(source_lines)
    if not counts["read"] and not source_lines:
        lines.append("no sample: give SAMPLE (a CSV extract, or a .json list of records)"
                     + mode_class(config.mode).sample_hint)
    elif counts["read"]:
        errors = {k.removeprefix("error:"): v for k, v in sorted(counts.items()) if k.startswith("error:")}
        kinds = ", ".join(f"{n} {kind}" for kind, n in errors.items())
        lines.append(f"sample: {counts['read']} records read: {counts['published']} would be published, "
                     f"{counts['dead_lettered']} would be dead-lettered" + (f" ({kinds})" if kinds else "")
                     + "; nothing was sent")
        if mapping.places:
            placed, unplaced = mapping.placements["placed"], mapping.placements["unplaced"]
            lines.append(f"free-text locations: {placed} placed in an area by the gazetteer (only the area would "
                         f"be sent), {unplaced} not placed (the area would be sent empty; the text never)")
        if dead:
            lines.append("dead-lettered rows beyond those shown:")
            lines.extend(f"  {d}" for d in dead)
    return (1 if source_lines else 0), lines


def _published_line(runtime: Runtime, rec: SourceRecord, sent: Sent) -> str:
    _, value = runtime.schemas.decode(sent.value)
    body = json.dumps(value, default=_json, ensure_ascii=False)
    what = "the pseudonymised shared event" if runtime.at_source else "the raw record"
    return (f"{rec.position}: WOULD PUBLISH {what} to {sent.topic} (key {(sent.key or b'').decode()}): {body}")


def _mode_lines(runtime: Runtime) -> list[str]:
    """What the mode says about its settings (it may check them: a database's columns, a tokens file)."""
    return mode_class(runtime.config.mode).describe(runtime)
