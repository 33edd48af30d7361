"""``hub connector load``'s ``publish_file`` on the real broker: the producer connects while the file is
checked (``load._Opening``), and still nothing is sent before the check passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub import kafka_admin
from hub.config import Settings
from hub.connectors import default_mapping_path, feed, load_mapping
from hub.connectors.load import FileRefused, publish_file
from hub.kafka_read import read_topic
from hub.schemas import RAW_SCHEMAS, default_repository
from hub.synth import generate_police_extract
from hub.topics import Topics

SOURCE = "police_incident"


@pytest.mark.parametrize("child", [True, False])
def test_a_file_refused_by_the_check_sends_nothing_though_the_producer_connected(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, child: bool) -> None:
    """The check reads the whole file (most rows unreadable: refused by the threshold) while the producer
    connects and learns the partitions; the refusal leaves the raw and dead-letter topics empty."""
    monkeypatch.setattr(feed, "CHILD_MIN_BYTES", 0)
    kafka_admin.ensure_topics(settings, [SOURCE])
    manifest = generate_police_extract(tmp_path / "data", seed=4, incidents=400)
    lines = manifest.extract_csv.read_bytes().splitlines(keepends=True)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(lines[0] + b"".join(b"\x00" + line if i % 3 else line for i, line in enumerate(lines[1:])))
    mapping = load_mapping(default_mapping_path(SOURCE))
    s = settings.replace(connector_child=child)
    with pytest.raises(FileRefused, match="cannot be read as CSV"):
        publish_file(s, mapping, bad)
    topics = Topics(settings.topic_prefix)
    assert read_topic(settings, topics.raw(SOURCE)) == []
    assert read_topic(settings, topics.dlq(SOURCE)) == []


def test_a_checked_file_is_sent_whole_with_its_headers(settings: Settings, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feed, "CHILD_MIN_BYTES", 0)
    kafka_admin.ensure_topics(settings, [SOURCE])
    manifest = generate_police_extract(tmp_path / "data", seed=5, incidents=600)
    report = publish_file(settings, load_mapping(default_mapping_path(SOURCE)), manifest.extract_csv)
    assert report.read == report.published + report.dead_lettered and report.published > 500
    topics = Topics(settings.topic_prefix)
    got = read_topic(settings, topics.raw(SOURCE))
    assert len(got) == report.published
    schemas = default_repository()
    for msg in got:
        assert dict(msg.headers) == {"svh.source": SOURCE.encode(), "svh.schema": RAW_SCHEMAS[SOURCE].encode()}
        name, record = schemas.decode(msg.value)
        assert name == RAW_SCHEMAS[SOURCE] and record["record_id"].encode() == msg.key
    assert len(read_topic(settings, topics.dlq(SOURCE))) == report.dead_lettered
