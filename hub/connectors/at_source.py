"""At-source pseudonymisation: a health body's connector pseudonymises inside the agency.

PCSC Act 2022 s.16(4) gives a health body no power to disclose patient or personal information, so for a
source whose agreement says ``pseudonymise_at: source`` the connector applies the hub's own
``Pseudonymiser`` before anything leaves and publishes shared events to its own topic
``<prefix>.atsource.<source>``: no raw topic exists for the source, and the hub's worker checks every
event there against the agreement before it joins ``<prefix>.shared`` (a producer's word is never
trusted). A row that fails a check never leaves either: it is written with its reason to a local
quarantine file (JSON lines, mode 600) inside the agency, and the hub gets only a
notice on ``<prefix>.dlq.<source>`` (empty value; headers say stage, kind, field and position) so that
read = published + dead-lettered still adds up at the hub.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from hub import logs, metrics
from hub.config import Settings
from hub.connectors.base import SourceRecord
from hub.connectors.publisher import KafkaPublisher, Publisher
from hub.dead_letters import dead_letter_headers
from hub.policy import Agreement, SourcePolicy
from hub.pseudonymisation import KeyRing, PostcodeLookup, PseudonymisationError, Pseudonymiser
from hub.pseudonymisation.keys import KeyCustodyError, require_holder
from hub.schemas import SHARED_EVENT, SchemaError, SchemaRepository
from hub.topics import Topics

log = logs.get(__name__)


class AtSourceError(ValueError):
    """A configuration that would let personal data leave a health body; the connector refuses to start."""


def check_at_source(policy: SourcePolicy) -> None:
    """Refuse an at-source section that grants linkage tokens: keyed tokens are still personal data
    (pseudonymous), which s.16(4) does not let a health body disclose."""
    if policy.pseudonymise_at != "source":
        raise AtSourceError(f"the agreement has {policy.name} pseudonymised at the {policy.pseudonymise_at}, "
                            "not at the source")
    tokens = sorted(name for name, outs in policy.fields.items() if any(o.treatment == "token" for o in outs))
    if tokens:
        raise AtSourceError(f"the agreement grants linkage tokens for {policy.name} field(s) {', '.join(tokens)}; "
                            "a source pseudonymised at the source may share no token (PCSC Act 2022 s.16(4)): "
                            "drop or generalise them")


class Quarantine:
    """Rows that failed at the source, kept inside the agency for repair: one JSON object per line.

    The file is created (and kept) mode 600 in a directory created mode 700; it holds patient data, so
    it stays under the agency's own retention and access control and is never sent anywhere.
    """

    def __init__(self, directory: Path, source: str) -> None:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = directory / f"{source}.quarantine.jsonl"
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.path, flags, 0o600)
        os.fchmod(fd, 0o600)  # an existing file never keeps a wider mode
        self._fh = os.fdopen(fd, "a", encoding="utf-8")
        self.count = 0

    def add(self, rec: SourceRecord, *, source: str, stage: str, kind: str, column: str | None,
            reason: str) -> None:
        entry: dict[str, Any] = {
            "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"), "source": source,
            "position": rec.position, "record_id": rec.record_id, "stage": stage, "kind": kind, "field": column,
            "reason": reason,
        }
        try:
            entry["original"] = rec.original.decode("utf-8")
        except UnicodeDecodeError:
            entry["original_base64"] = base64.b64encode(rec.original).decode()
        self._fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self.count += 1

    def flush(self) -> None:
        """Durable on disk, so a caller may checkpoint after it."""
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if not self._fh.closed:
            self.flush()
            self._fh.close()


class AtSourcePublisher(KafkaPublisher):
    """Same contract as ``Publisher`` (``publish``, ``flush``, ``close`` -> ``RunReport``), but what it
    publishes is the pseudonymised shared event; nothing identifying reaches Kafka, not even in a dead letter.
    """

    def __init__(self, settings: Settings, source: str, schemas: SchemaRepository, agreement: Agreement,
                 keyring: KeyRing, lookup: PostcodeLookup | None, quarantine_dir: Path,
                 producer: KafkaProducer | None = None) -> None:
        check_at_source(agreement.source(source))
        try:
            require_holder(keyring, agency=True)  # the hub's key never leaves the hub
        except KeyCustodyError as exc:
            raise AtSourceError(str(exc)) from None
        super().__init__(settings, source, producer)
        self.schemas = schemas
        self.pseudonymiser = Pseudonymiser(agreement, keyring, lookup, at="source")
        self.shared_topic = Topics(settings.topic_prefix).at_source(source)
        self.quarantine = Quarantine(quarantine_dir, source)
        log.info("pseudonymising at the source", extra={"source": source, "path": str(self.quarantine.path)})

    def publish(self, rec: SourceRecord) -> None:
        self._read()
        if rec.error is not None or rec.record is None:
            kind = rec.error.kind if rec.error else "invalid"
            self._reject(rec, "validate", kind, rec.error.column if rec.error else None,
                         str(rec.error) if rec.error else "no record")
        else:
            try:
                result = self.pseudonymiser.apply(self.source, rec.record)
                value = self.schemas.encode(SHARED_EVENT, result.shared)
            except PseudonymisationError as exc:
                self._reject(rec, "pseudonymise", "unpseudonymisable", None, str(exc))
            except SchemaError as exc:
                self._reject(rec, "encode", "schema_mismatch", None, str(exc))
            else:
                headers = [("svh.source", self.source.encode()), ("svh.schema", SHARED_EVENT.encode())]
                self._send(self.shared_topic, result.shared["event_id"].encode(), value, headers)
                self._published()
                for name in result.withheld:
                    metrics.FIELDS_WITHHELD.labels(self.source, name).inc()
        self._settle_if_many()

    def _reject(self, rec: SourceRecord, stage: str, kind: str, column: str | None, reason: str) -> None:
        """Quarantine the row here; tell the hub only that (and where, and why) a row was rejected."""
        self.quarantine.add(rec, source=self.source, stage=stage, kind=kind, column=column, reason=reason)
        notice = f"{rec.position}: {kind}" + (f" in {column}" if column else "") + "; quarantined at the source"
        headers = dead_letter_headers(source=self.source, stage=stage, error_class="QuarantinedAtSource",
                                      message=notice, position=rec.position, error_kind=kind, column=column)
        self._send(self.dlq_topic, None, b"", headers)
        self._dead(stage, kind)
        log.warning("quarantined a record at the source", extra={"source": self.source, "stage": stage,
                                                                  "error": kind, "row": rec.position,
                                                                  "field": column})

    def _before_flush(self) -> None:
        self.quarantine.flush()  # every quarantined row on disk before a checkpoint

    def _release(self) -> None:
        self.quarantine.close()


def make_publisher(settings: Settings, source: str, schemas: SchemaRepository, agreement: Agreement,
                   keyring: KeyRing | None, lookup: PostcodeLookup | None, quarantine_dir: Path | None,
                   producer: KafkaProducer | None = None) -> Publisher | AtSourcePublisher:
    """The publisher the agreement calls for: raw records to the hub, or shared events from inside the agency.

    ``keyring`` (the agency's own key file: the hub's key never leaves the hub) and ``quarantine_dir`` are
    needed only for a source pseudonymised at the source. Raises ``NoAgreementError`` for a source the
    agreement does not cover, ``AtSourceError`` for an at-source configuration that is incomplete or unsafe.
    """
    policy = agreement.source(source)
    if policy.pseudonymise_at == "hub":
        return Publisher(settings, source, schemas, producer=producer)
    if keyring is None:
        raise AtSourceError(f"{source} is pseudonymised at the source: the connector needs the agency's key file")
    if quarantine_dir is None:
        raise AtSourceError(f"{source} is pseudonymised at the source: the connector needs a quarantine "
                            "directory inside the agency for rows that fail")
    return AtSourcePublisher(settings, source, schemas, agreement, keyring, lookup, quarantine_dir, producer)
