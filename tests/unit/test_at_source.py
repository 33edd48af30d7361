"""At-source pseudonymisation with a recording stand-in for the Kafka producer (pure logic, no broker):
what a health body's connector sends is only shared events and empty notices; the rows stay inside."""

from __future__ import annotations

import csv
import io
import json
import logging
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hub.config import Settings, load_settings
from hub.connectors import RowError, SourceRecord, default_mapping_path, load_mapping
from hub.connectors.at_source import AtSourceError, AtSourcePublisher, Quarantine, make_publisher
from hub.connectors.publisher import Publisher
from hub.dead_letters import headers_dict
from hub.policy import Agreement, load_agreement
from hub.pseudonymisation import KeyRing, PostcodeLookup
from hub.schemas import SHARED_EVENT, SchemaRepository
from hub.topics import Topics
from tests.unit.source_rows import AREA, GOOD_ROWS, IDENTIFIERS

SOURCE = "ed_attendance"


@dataclass
class Sent:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    def text(self) -> str:
        blob = (self.key or b"") + (self.value or b"") + b"".join(k.encode() + v for k, v in self.headers)
        return blob.decode("latin-1").lower()


class _Ack:
    def get(self, timeout: float | None = None) -> None:
        return None


class RecordingProducer:
    """Keeps what would have gone to Kafka."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.closed = False

    def send(self, topic: str, key: bytes | None = None, value: bytes | None = None,
             headers: list[tuple[str, bytes]] | None = None) -> _Ack:
        self.sent.append(Sent(topic, key, value, list(headers or [])))
        return _Ack()

    def flush(self, timeout: float | None = None) -> None:
        return None

    def close(self, timeout: float | None = None) -> None:
        self.closed = True


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({}, data_dir=tmp_path / "run", topic_prefix="t1")


def original(row: dict[str, str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(row.values())
    return buf.getvalue().encode()


def records(source: str, rows: list[dict[str, str]]) -> list[SourceRecord]:
    """What a connector yields for ``rows``: parsed, or with the row error."""
    mapping = load_mapping(default_mapping_path(source))
    out = []
    for n, row in enumerate(rows, start=1):
        rec = SourceRecord(position=f"istv_2025-03.csv row {n}", original=original(row),
                           record_id=row.get(mapping.record_id_column()) or None)
        try:
            rec.record = mapping.parse(row)
        except RowError as exc:
            rec.error = exc
        out.append(rec)
    return out


def good(**changes: str) -> dict[str, str]:
    return {**GOOD_ROWS[SOURCE], **changes}


Make = Callable[..., tuple[AtSourcePublisher, RecordingProducer]]


@pytest.fixture
def ring() -> KeyRing:
    """The trust's own key (holder agency:...): the hub's key never leaves the hub."""
    return KeyRing(keys={"a1": bytes(range(32))}, active="a1", event_key="a1", holder="agency:example-hospitals")


@pytest.fixture
def make(settings: Settings, agreement: Agreement, ring: KeyRing, repo: SchemaRepository,
         lookup: PostcodeLookup, tmp_path: Path) -> Make:
    def build(source: str = SOURCE, agr: Agreement = agreement) -> tuple[AtSourcePublisher, RecordingProducer]:
        producer = RecordingProducer()
        pub = AtSourcePublisher(settings, source, repo, agr, ring, lookup, tmp_path / "quarantine",
                                producer=producer)  # type: ignore[arg-type]
        return pub, producer
    return build


def test_good_rows_leave_only_as_shared_events_keyed_by_event_id(make: Make, repo: SchemaRepository) -> None:
    pub, producer = make()
    for n, rec in enumerate(records(SOURCE, [good(), good(AttendanceNo="ED25-000102", AssaultMethod="BP")])):
        assert rec.error is None, n
        pub.publish(rec)
    report = pub.close()
    assert report.as_dict() == {"source": SOURCE, "read": 2, "published": 2, "dead_lettered": 0, "errors": {}}
    assert {s.topic for s in producer.sent} == {"t1.atsource.ed_attendance"} and producer.closed
    for sent in producer.sent:
        name, shared = repo.decode(sent.value or b"")
        assert name == SHARED_EVENT and sent.key == shared["event_id"].encode()
        assert shared["source"] == SOURCE and shared["persons"][0]["role"] == "patient"
        assert shared["persons"][0]["tokens"] == {}
        assert shared["attributes"]["residence_lsoa"] == AREA.lsoa
        assert headers_dict(sent.headers) == {}  # not a dead letter
        for needle in IDENTIFIERS[SOURCE] + ["ED25-000101", "the quillfeather arms"]:
            assert needle.lower() not in sent.text(), needle
    assert not pub.quarantine.path.read_text()


def test_bad_rows_stay_in_a_mode_600_quarantine_and_the_hub_gets_an_empty_notice(
        make: Make, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pub, producer = make()
    bad = good(AttendanceNo="ED25-000666", AssaultDateTime="31/02/2025 25:61")
    caplog.set_level(logging.DEBUG)
    for rec in records(SOURCE, [good(), bad, good(AttendanceNo="ED25-000667", AssaultMethod="spoon")]):
        pub.publish(rec)
    report = pub.close()
    assert (report.read, report.published, report.dead_lettered) == (3, 1, 2)
    assert report.errors == {"bad_datetime": 1, "unknown_code": 1}

    notices = [s for s in producer.sent if s.topic == "t1.dlq.ed_attendance"]
    assert len(notices) == 2 and all(s.value == b"" and s.key is None for s in notices)
    first = headers_dict(notices[0].headers)
    assert first["stage"] == "validate" and first["kind"] == "bad_datetime"
    assert first["field"] == "AssaultDateTime" and first["position"] == "istv_2025-03.csv row 2"
    assert "quarantined at the source" in first["exception.message"]
    everything_sent = " ".join(s.text() for s in producer.sent)
    for needle in [*IDENTIFIERS[SOURCE], "ED25-000666", "ED25-000667", "31/02/2025", "spoon"]:
        assert needle.lower() not in everything_sent, needle
        assert needle.lower() not in caplog.text.lower(), needle

    path = tmp_path / "quarantine" / "ed_attendance.quarantine.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert [(q["record_id"], q["stage"], q["kind"], q["field"]) for q in lines] == [
        ("ED25-000666", "validate", "bad_datetime", "AssaultDateTime"),
        ("ED25-000667", "validate", "unknown_code", "AssaultMethod")]
    assert "943 476 5919" in lines[0]["original"] and "31/02/2025 25:61" in lines[0]["original"]


def test_a_record_the_boundary_cannot_pseudonymise_is_quarantined_too(make: Make) -> None:
    pub, producer = make()
    rec = records(SOURCE, [good()])[0]
    assert rec.record is not None
    rec.record["assault_at"] = None  # e.g. a connector that reads a database column that may be null
    pub.publish(rec)
    report = pub.close()
    assert report.errors == {"unpseudonymisable": 1} and report.balanced
    (notice,) = producer.sent
    assert headers_dict(notice.headers)["stage"] == "pseudonymise" and notice.value == b""
    assert "Quillfeather" in pub.quarantine.path.read_text("utf-8")


def test_an_existing_quarantine_file_is_tightened_to_600(tmp_path: Path) -> None:
    directory = tmp_path / "q"
    directory.mkdir()
    path = directory / "ed_attendance.quarantine.jsonl"
    path.write_text("", encoding="utf-8")
    path.chmod(0o644)
    Quarantine(directory, "ed_attendance").close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_at_source_section_that_grants_a_token_is_refused(make: Make, example_text: str) -> None:
    text = example_text.replace("      patient_sex: {generalise: sex, into: person.patient.sex}\n",
                                "      patient_sex: {generalise: sex, into: person.patient.sex}\n"
                                "      residence_postcode: {token: postcode, person: patient}\n", 1)
    text = text.replace("      residence_postcode: {generalise: lsoa, into: attributes.residence_lsoa}"
                        "   # never leaves the trust\n", "", 1)
    agr = load_agreement("tokens.yaml", text=text)
    with pytest.raises(AtSourceError, match=r"linkage tokens for ed_attendance field\(s\) residence_postcode"):
        make(agr=agr)


def test_a_hub_source_is_not_pseudonymised_at_the_source(make: Make) -> None:
    with pytest.raises(AtSourceError, match="probation_event pseudonymised at the hub"):
        make(source="probation_event")


def test_make_publisher_follows_the_agreement(settings: Settings, agreement: Agreement, ring: KeyRing,
                                              repo: SchemaRepository, tmp_path: Path) -> None:
    args: dict[str, Any] = {"producer": RecordingProducer()}
    hub_side = make_publisher(settings, "probation_event", repo, agreement, None, None, None, **args)
    assert isinstance(hub_side, Publisher) and hub_side.raw_topic == Topics("t1").raw("probation_event")
    at_source = make_publisher(settings, "ambulance_callout", repo, agreement, ring, None, tmp_path / "q", **args)
    assert isinstance(at_source, AtSourcePublisher) and at_source.shared_topic == "t1.atsource.ambulance_callout"
    with pytest.raises(AtSourceError, match="quarantine directory"):
        make_publisher(settings, "ed_attendance", repo, agreement, ring, None, None, **args)
    with pytest.raises(AtSourceError, match="key file"):
        make_publisher(settings, "ed_attendance", repo, agreement, None, None, tmp_path / "q", **args)
