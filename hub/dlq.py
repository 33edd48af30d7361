"""Dead letters for operators (``hub dlq list|show|replay``): what was rejected, by source, stage and reason;
one dead letter without its values; and replay after a fix, counted and never doubled.

Why replay keeps a ledger in the dead-letter topic itself: after a record is replayed, a marker message
(headers only, no value) naming the dead letter's partition and offset is appended to the same topic. The
topic then says, for every machine and every operator, which dead letters are settled: a second replay skips
them, ``list`` counts them apart, and nothing needs a database of its own. A crash between the replayed send
and its marker replays that record once more, which the mart absorbs (event ids derive from source and
record id; writes are upserts), so the mart never holds a record twice.

What a replay does depends on where the record was rejected:

- by a connector (``validate``, ``encode``; the value is the original CSV row and the header names its
  columns): the row is mapped again with the given (fixed) mapping and published to the raw topic; a row the
  mapping still rejects stays outstanding;
- by the worker (the headers name the topic it was read from): the original bytes go back to that topic, for
  example after the agreement was fixed;
- a notice without a value (a health body's source, pseudonymised at the source): not replayable here; the
  agency re-sends.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hub import logs
from hub.config import Settings
from hub.connectors.csv_rows import FAULT_KINDS
from hub.connectors.mapping import FieldMapping, RowError
from hub.connectors.publisher import make_producer
from hub.dead_letters import CSV_HEADER, REPLAYED, REPLAYED_TO, headers_dict
from hub.kafka_read import Message, read_topic
from hub.schemas import RAW_SCHEMAS, SchemaError, SchemaRepository
from hub.topics import Topics

log = logs.get(__name__)

# Rows the connector could not even split into the file's columns: what the dead letter keeps (the mapped
# columns, padded or cut) no longer lines up with the header, so no mapping fix can make them right.
DAMAGED_ROW = frozenset({"wrong_column_count", *FAULT_KINDS})


class DeadLetterError(ValueError):
    """A reference that names no dead letter, or a request the tool refuses; the message says which."""


@dataclass(frozen=True)
class DeadLetter:
    message: Message
    info: dict[str, str]

    @property
    def ref(self) -> str:
        """``topic:partition:offset``, what ``hub dlq show`` takes."""
        return f"{self.message.topic}:{self.message.partition}:{self.message.offset}"

    @property
    def source(self) -> str:
        return self.info.get("source", "?")

    @property
    def stage(self) -> str:
        return self.info.get("stage", "?")

    @property
    def kind(self) -> str:
        return self.info.get("kind", "?")

    def header(self, name: str) -> bytes | None:
        return next((v for k, v in self.message.headers if k == name), None)


@dataclass
class Ledger:
    """Every dead letter read, and which of them a replay has settled."""

    letters: list[DeadLetter] = field(default_factory=list)
    replayed: set[tuple[str, int, int]] = field(default_factory=set)

    def is_replayed(self, letter: DeadLetter) -> bool:
        m = letter.message
        return (m.topic, m.partition, m.offset) in self.replayed

    def outstanding(self) -> list[DeadLetter]:
        return [d for d in self.letters if not self.is_replayed(d)]


def dlq_topics(settings: Settings, source: str | None = None) -> list[str]:
    t = Topics(settings.topic_prefix)
    if source == "shared":
        return [t.shared_dlq]
    if source is not None:
        if source not in RAW_SCHEMAS:
            raise DeadLetterError(f"unknown source {source!r} (one of: {', '.join(sorted(RAW_SCHEMAS))}, shared)")
        return [t.dlq(source)]
    return [t.dlq(s) for s in sorted(RAW_SCHEMAS)] + [t.shared_dlq]


def is_restricted(settings: Settings, topic: str) -> bool:
    """Dead letters from before the privacy boundary hold identifiers; only ``<prefix>.dlq.shared`` does not."""
    return topic != Topics(settings.topic_prefix).shared_dlq


def read_ledger(settings: Settings, source: str | None = None) -> Ledger:
    ledger = Ledger()
    for topic in dlq_topics(settings, source):
        for msg in read_topic(settings, topic):
            marker = next((v for k, v in msg.headers if k == REPLAYED), None)
            if marker is not None:
                partition, _, offset = marker.decode().partition(":")
                ledger.replayed.add((topic, int(partition), int(offset)))
            else:
                ledger.letters.append(DeadLetter(msg, headers_dict(msg.headers)))
    return ledger


def summary(ledger: Ledger) -> list[dict[str, Any]]:
    """One row per source, stage and reason: how many dead letters, how many replayed, how many outstanding."""
    total: Counter[tuple[str, str, str]] = Counter()
    replayed: Counter[tuple[str, str, str]] = Counter()
    for d in ledger.letters:
        key = (d.source, d.stage, d.kind)
        total[key] += 1
        if ledger.is_replayed(d):
            replayed[key] += 1
    return [{"source": s, "stage": st, "reason": k, "dead_letters": n, "replayed": replayed[(s, st, k)],
             "outstanding": n - replayed[(s, st, k)]} for (s, st, k), n in sorted(total.items())]


def find(settings: Settings, ref: str) -> tuple[DeadLetter, Ledger]:
    topic, _, rest = ref.rpartition(":")
    topic, _, partition = topic.rpartition(":")
    if not topic or not partition.isdigit() or not rest.isdigit():
        raise DeadLetterError(f"{ref!r}: give TOPIC:PARTITION:OFFSET as `hub dlq list --refs` prints it")
    if topic not in dlq_topics(settings):
        raise DeadLetterError(f"{topic!r} is not one of the hub's dead-letter topics")
    ledger = Ledger()
    for msg in read_topic(settings, topic):
        marker = next((v for k, v in msg.headers if k == REPLAYED), None)
        if marker is not None:
            p, _, o = marker.decode().partition(":")
            ledger.replayed.add((topic, int(p), int(o)))
        elif msg.partition == int(partition) and msg.offset == int(rest):
            ledger.letters.append(DeadLetter(msg, headers_dict(msg.headers)))
    if not ledger.letters:
        raise DeadLetterError(f"no dead letter at {ref}")
    return ledger.letters[0], ledger


def describe(settings: Settings, letter: DeadLetter, schemas: SchemaRepository, *,
             reveal: bool = False) -> dict[str, Any]:
    """What ``hub dlq show`` prints. Without ``reveal``: the headers (which never quote values) and the value's
    shape (field or column names, sizes). ``reveal`` prints the values, and only on a restricted topic: the
    operator who repairs an agency's rows may see them, nobody else, and the request is logged."""
    m = letter.message
    restricted = is_restricted(settings, m.topic)
    if reveal and not restricted:
        raise DeadLetterError(f"--reveal is for the restricted dead-letter topics only, not {m.topic}")
    out: dict[str, Any] = {"ref": letter.ref, "restricted": restricted, **letter.info}
    value = m.value
    if value is None:
        out["value"] = "none (a notice: the record stayed with the agency)"
        return out
    columns = _columns(letter)
    decoded: dict[str, Any] | None = None
    try:
        _, decoded = schemas.decode(value)
    except (SchemaError, ValueError, KeyError, EOFError, IndexError):
        decoded = None
    if decoded is not None:
        out["value_format"] = "avro"
        out["fields"] = sorted(decoded)
    else:
        out["value_format"] = "csv row" if columns else "bytes"
        if columns:
            out["columns"] = columns
    out["value_bytes"] = len(value)
    if reveal:
        log.warning("dead letter revealed", extra={"topic": m.topic, "partition": m.partition, "offset": m.offset})
        if decoded is not None:
            out["value"] = json.loads(json.dumps(decoded, default=str))
        elif columns:
            cells = _cells(letter, value)
            out["value"] = dict(zip(columns, cells, strict=False)) if cells is not None else value.decode("latin-1")
        else:
            out["value"] = value.decode("latin-1")
    else:
        out["value"] = "withheld (--reveal prints it, on a restricted topic)"
    return out


def _columns(letter: DeadLetter) -> list[str] | None:
    raw = letter.header(CSV_HEADER)
    if raw is None:
        return None
    return next(csv.reader([raw.decode("utf-8", errors="replace")]), None)


def _cells(letter: DeadLetter, value: bytes, mapping: FieldMapping | None = None) -> list[str] | None:
    delimiter = mapping.delimiter if mapping else ","
    encoding = mapping.encoding if mapping else "utf-8"
    try:
        text = value.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    return next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter), None)


@dataclass
class ReplayReport:
    """outstanding = replayed + still_failing + not_replayable (+ skipped by the filters)."""

    source: str
    outstanding: int = 0
    replayed: int = 0
    still_failing: int = 0
    not_replayable: int = 0
    skipped: int = 0
    already_replayed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return self.outstanding == self.replayed + self.still_failing + self.not_replayable + self.skipped

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "outstanding": self.outstanding, "replayed": self.replayed,
                "still_failing": self.still_failing, "not_replayable": self.not_replayable,
                "skipped": self.skipped, "already_replayed": self.already_replayed, "reasons": self.reasons}


def replay(settings: Settings, source: str, schemas: SchemaRepository, mapping: FieldMapping | None = None, *,
           kinds: Iterable[str] = (), stages: Iterable[str] = (), dry_run: bool = False) -> ReplayReport:
    """Replay ``source``'s outstanding dead letters (optionally only some reasons or stages); see the module doc."""
    if mapping is not None and mapping.source != source:
        raise DeadLetterError(f"the mapping is for {mapping.source}, not {source}")
    ledger = read_ledger(settings, source)
    report = ReplayReport(source, already_replayed=len(ledger.letters) - len(ledger.outstanding()))
    kinds, stages = set(kinds), set(stages)
    topics = Topics(settings.topic_prefix)
    sends: list[tuple[DeadLetter, str, bytes | None, bytes, list[tuple[str, bytes]]]] = []
    for letter in ledger.outstanding():
        report.outstanding += 1
        if (kinds and letter.kind not in kinds) or (stages and letter.stage not in stages):
            report.skipped += 1
            continue
        planned = _plan(letter, topics, schemas, mapping)
        if isinstance(planned, str):
            bucket = "not_replayable" if planned.startswith("not replayable") else "still_failing"
            setattr(report, bucket, getattr(report, bucket) + 1)
            report.reasons[planned] = report.reasons.get(planned, 0) + 1
            continue
        sends.append((letter, *planned))
        report.replayed += 1
    if not report.balanced:  # pragma: no cover - guarded by construction
        raise RuntimeError(f"replay does not add up: {report.as_dict()}")
    if dry_run or not sends:
        return report
    producer = make_producer(settings, client_id="svh-dlq-replay")
    try:
        futures = [producer.send(topic, key=key, value=value, headers=headers)
                   for _, topic, key, value, headers in sends]
        producer.flush(timeout=60)
        for fut in futures:
            fut.get(timeout=60)  # every replayed record acknowledged before any marker is written
        markers = [producer.send(letter.message.topic, key=REPLAYED.encode(), value=None, headers=[
            (REPLAYED, f"{letter.message.partition}:{letter.message.offset}".encode()),
            (REPLAYED_TO, topic.encode())]) for letter, topic, *_ in sends]
        producer.flush(timeout=60)
        for fut in markers:
            fut.get(timeout=60)
    finally:
        producer.close()
    log.info("dead letters replayed", extra={"source": source, "count": report.replayed,
                                              "still_failing": report.still_failing})
    return report


def _plan(letter: DeadLetter, topics: Topics, schemas: SchemaRepository,
          mapping: FieldMapping | None) -> tuple[str, bytes | None, bytes, list[tuple[str, bytes]]] | str:
    """Where the record goes and what is sent, or why not (a reason without values)."""
    m = letter.message
    origin = f"{m.topic}[{m.partition}]@{m.offset}".encode()
    if m.value is None:
        return "not replayable: a notice without the record"
    if "topic" in letter.info:  # rejected by the worker: the same bytes, back to the topic it came from
        return letter.info["topic"], m.key, m.value, [("svh.source", letter.source.encode()),
                                                      ("svh.replayed.from", origin)]
    if letter.kind in DAMAGED_ROW:
        return f"not replayable: the row itself is damaged ({letter.kind}); the agency must send it again"
    columns = _columns(letter)
    if columns is None:
        return "not replayable: no column header recorded with the row"
    if mapping is None:
        return "still failing: give the fixed mapping (--mapping)"
    cells = _cells(letter, m.value, mapping)
    if cells is None or len(cells) != len(columns):
        return "still failing: wrong_column_count"
    try:
        record = mapping.parse(dict(zip(columns, cells, strict=True)))
        schema = RAW_SCHEMAS[mapping.source]
        value = schemas.encode(schema, record)
    except RowError as exc:
        return f"still failing: {exc.kind}" + (f" ({exc.column})" if exc.column else "")
    except ValueError:
        return "still failing: schema_mismatch"
    headers = [("svh.source", mapping.source.encode()), ("svh.schema", schema.encode()),
               ("svh.replayed.from", origin)]
    return topics.raw(mapping.source), str(record.get("record_id") or "").encode(), value, headers
