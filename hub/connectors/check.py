"""``hub connector check CONFIG [SAMPLE]``: what a connector WOULD do, without touching Kafka.

Validates the config and the mapping, the mode's own settings (folders, the database and its
columns, the tokens file), then shows, for the first rows of a sample (SAMPLE, or the first file in
the inbox, or the next page of the table), what would be published and which rows would be
dead-lettered and why. For a source pseudonymised at source it shows the shared event that would
leave the agency instead of the raw record. Nothing is published and no checkpoint moves.
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from hub import logs
from hub.config import SettingsError
from hub.connectors.base import RecordSink, SourceRecord
from hub.connectors.config import ConnectorConfig, load_config
from hub.connectors.csv_file import CsvFileConnector, inspect_csv
from hub.connectors.json_records import json_record
from hub.connectors.mapping import FieldMapping
from hub.connectors.registry import make_mode, mode_class
from hub.connectors.runtime import Runtime, open_publisher
from hub.connectors.testing import RecordingProducer, Sent
from hub.dead_letters import headers_dict
from hub.yamlsource import ConfigError

MAX_DEAD_LISTED = 50
Update = Callable[[int, int], None]  # (records read, bytes read)
ProgressFactory = Callable[[str, "int | None"], AbstractContextManager[Update]]
"""``progress(description, total bytes or None)``: a context yielding ``update(records, bytes)``."""


@contextmanager
def _no_progress(what: str, total: int | None) -> Iterator[Update]:
    yield lambda records, done: None


class _ByteCount:
    """Fed every line the CSV reader reads (its ``digest`` hook), so progress can be shown in bytes."""

    def __init__(self) -> None:
        self.done = 0

    def update(self, data: bytes) -> None:
        self.done += len(data)




def _no_kafka() -> RecordSink:
    raise RuntimeError("hub connector check never publishes")


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else str(value)


@dataclass
class Sample:
    """Where the sample's records come from, and how far reading has got (for progress)."""

    name: str
    records: Iterator[SourceRecord]
    total_bytes: int | None = None
    read: _ByteCount = field(default_factory=_ByteCount)


def sample_records(runtime: Runtime, sample: Path | None, lines: list[str]) -> Sample:
    """The records of SAMPLE (CSV, or JSON as the HTTP mode takes it), else of the mode's next input."""
    mapping = runtime.mapping
    if sample is None:
        return Sample("the mode's next input", _mode_sample(runtime))
    if sample.suffix.lower() == ".json":
        return Sample(sample.name, _json_sample(sample, mapping))
    if not sample.is_file():
        raise ConfigError(f"{sample}: " + ("is a folder, not a file" if sample.is_dir() else "no such file"))
    inspection = inspect_csv(sample, mapping)
    if inspection.problem:
        lines.append(f"FILE WOULD BE REJECTED (moved to rejected/, nothing published): {inspection.problem}")
        return Sample(sample.name, iter(()))
    counter = _ByteCount()
    return Sample(sample.name, CsvFileConnector(sample, mapping, digest=counter).records(), sample.stat().st_size,
                  counter)


def _mode_sample(runtime: Runtime) -> Iterator[SourceRecord]:
    mode = make_mode(runtime)
    try:
        yield from mode.sample(10_000)
    finally:
        mode.close()


def _json_sample(sample: Path, mapping: FieldMapping) -> Iterator[SourceRecord]:
    """Read and checked at once (before any progress starts), records made as they are asked for."""
    try:
        data = json.loads(sample.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{sample}: not a JSON file of records ({type(exc).__name__})") from None
    items = data.get("records") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ConfigError(f"{sample}: must hold a JSON list of records, or {{\"records\": [...]}}")
    return (json_record(obj, mapping, f"{sample.name} record {i}") for i, obj in enumerate(items))


def check(config_path: Path, sample: Path | None = None, rows: int = 5,
          progress: ProgressFactory = _no_progress) -> tuple[int, list[str]]:
    """(exit code, lines to print). Raises ``ConfigError`` for a bad config, mapping or sample file.

    Each sample record goes through the connector's real publisher (``make_publisher``: raw, or
    pseudonymised at source) with a ``RecordingProducer`` in place of Kafka, so what is shown is exactly
    what would be sent. Exit code 1 when the sample file would be refused whole."""
    config: ConnectorConfig = load_config(config_path)
    lines = [f"config {config.path}: OK (connector {config.name}, source {config.source}, mode {config.mode})"]
    try:
        settings = config.settings()
        lines.append(f"kafka: {settings.kafka_bootstrap} ({settings.security_protocol}), topic prefix "
                     f"{settings.topic_prefix}; not contacted by check")
    except (ConfigError, SettingsError) as exc:  # report and go on: check must work off the deployment host too
        lines.extend(f"WARNING kafka settings: {line}" for line in str(exc).splitlines())
        settings = None
    runtime = Runtime(config, settings, sink_factory=_no_kafka)
    mapping = runtime.mapping
    lines.append(f"mapping {mapping.path}: OK ({len(mapping.fields)} fields from {len(mapping.columns)} columns)")
    where = "at the source (only the shared event leaves)" if runtime.at_source else "at the hub"
    lines.append(f"agreement {runtime.settings.agreement_file()}: {config.source} is pseudonymised {where}")
    lines.extend(_mode_lines(runtime))
    refused = "quarantined at the source" if runtime.at_source else "dead-lettered"
    producer = RecordingProducer()
    counts: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    dead: list[tuple[str, str, str, str]] = []
    shown = 0
    source_lines: list[str] = []
    # The publishers log each dead letter or quarantined record they write; check writes none: no such lines.
    with tempfile.TemporaryDirectory(prefix="svh-check-") as scratch, logs.quieted("hub.connectors", logging.ERROR):
        runtime.quarantine_dir = Path(scratch)  # check leaves nothing in the agency's quarantine
        publisher = open_publisher(runtime, producer=producer)
        source = sample_records(runtime, sample, source_lines)
        shown_progress = progress if not source_lines else _no_progress  # a refused file: nothing to read
        with shown_progress(f"checking {source.name}", source.total_bytes) as update:
            for rec in source.records:
                if not counts["read"] and sample is None and " row " in rec.position:
                    source.name = rec.position.rsplit(" row ", 1)[0]  # the inbox file the mode picked
                before = len(producer.sent)
                publisher.publish(rec)
                counts["read"] += 1
                if counts["read"] % 500 == 0:
                    update(counts["read"], source.read.done)
                for sent in producer.sent[before:]:
                    if sent.topic == runtime.output_topic:
                        counts["published"] += 1
                        if shown < rows:
                            shown += 1
                            lines.append(_published_line(runtime, rec, sent))
                        continue
                    h = headers_dict(sent.headers)
                    counts["dead_lettered"] += 1
                    kinds[h.get("kind", "")] += 1
                    reason = h.get("exception.message", "").removeprefix(f"{rec.position}: ")
                    if shown < rows:
                        shown += 1
                        field_name = f" field {h['field']}" if h.get("field") else ""
                        where = "QUARANTINED AT THE SOURCE" if runtime.at_source else f"DEAD-LETTERED to {sent.topic}"
                        lines.append(f"{rec.position}: WOULD BE {where} ({h.get('kind')}{field_name}, stage "
                                     f"{h.get('stage')}): {reason.removesuffix('; quarantined at the source')}")
                    elif len(dead) < MAX_DEAD_LISTED:
                        column = h.get("field", "")
                        dead.append((rec.position.removeprefix(f"{source.name} "), h.get("kind", ""), column,
                                     (reason.removeprefix(f"{column}: ") if column else reason).removesuffix(
                                         "; quarantined at the source")))
            update(counts["read"], source.read.done)
        publisher.close()
    lines.extend(source_lines)
    if not counts["read"] and not source_lines:
        lines.append("no sample: give SAMPLE (a CSV extract, or a .json list of records)"
                     + mode_class(config.mode).sample_hint)
    elif counts["read"]:
        lines.extend(_summary(source.name, counts, kinds, refused))
        if mapping.places:
            placed, unplaced = mapping.placements["placed"], mapping.placements["unplaced"]
            lines.append(f"free-text locations: {placed} placed in an area by the gazetteer (only the area would "
                         f"be sent), {unplaced} not placed (the area would be sent empty; the text never)")
        if dead:
            more = counts["dead_lettered"] - len(dead) - sum(1 for line in lines if ": WOULD BE " in line)
            lines.append(f"{refused} rows beyond those shown{f' (the first {len(dead)})' if more else ''}:")
            lines.extend(table(("row", "reason", "column", "what is wrong"), dead))
    return (1 if source_lines else 0), lines


def _summary(name: str, counts: Counter[str], kinds: Counter[str], refused: str) -> list[str]:
    """The sample's outcome as a table: records read, would be published, would be dead-lettered (or
    quarantined at the source) and why."""
    body = [("records read", f"{counts['read']:,}"), ("would be published", f"{counts['published']:,}"),
            (f"would be {refused}", f"{counts['dead_lettered']:,}")]
    body += [(f"  {kind}", f"{n:,}") for kind, n in sorted(kinds.items())]
    return [f"sample {name}: nothing was sent", *table(("outcome", "records"), body, right=(1,))]


def table(header: tuple[str, ...], body: Sequence[tuple[str, ...]], right: tuple[int, ...] = ()) -> list[str]:
    """Rows as a plain-text table (rich, no colour), one string a line."""
    out = Console(file=io.StringIO(), width=160, color_system=None, soft_wrap=False)
    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for i, title in enumerate(header):
        grid.add_column(title, justify="right" if i in right else "left", overflow="fold")
    for row in body:
        grid.add_row(*row)
    out.print(grid)
    text = out.file.getvalue()  # type: ignore[attr-defined]
    return [f"  {line.rstrip()}" for line in text.splitlines() if line.strip()]


def _published_line(runtime: Runtime, rec: SourceRecord, sent: Sent) -> str:
    _, value = runtime.schemas.decode(sent.value)
    body = json.dumps(value, default=_json, ensure_ascii=False)
    what = "the pseudonymised shared event" if runtime.at_source else "the raw record"
    return (f"{rec.position}: WOULD PUBLISH {what} to {sent.topic} (key {(sent.key or b'').decode()}): {body}")


def _mode_lines(runtime: Runtime) -> list[str]:
    """What the mode says about its settings (it may check them: a database's columns, a tokens file)."""
    return mode_class(runtime.config.mode).describe(runtime)
