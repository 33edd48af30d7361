"""Finding 12: every copy is kept only as long as the agreement says, and only its owner can read it.

Attacks: the file drop's archive/ and rejected/ folders under a permissive umask, files older than the
agreement's retention left in them, and the shared topic keeping the broker's default retention.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.config import load_settings
from hub.connectors.modes.file_drop import FileDrop
from hub.connectors.service import run_once
from hub.connectors.testing import RecordingProducer
from hub.kafka_admin import topic_specs
from hub.policy import example_agreement_path, load_agreement
from hub.topics import Topics
from tests.connectors.harness import csv_bytes, drop_file
from tests.connectors.test_file_drop import runtime
from tests.hostile.test_coded_fields import POLICE_ROW

SOURCE = "police_incident"


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o000)  # the worst an agency's service account might run with
    try:
        yield
    finally:
        os.umask(old)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_archived_and_rejected_extracts_are_owner_only(tmp_path: Path, open_umask: None) -> None:
    good = csv_bytes(list(POLICE_ROW), [list(POLICE_ROW.values())])
    drop_file(tmp_path / "inbox", "good.csv", good)
    drop_file(tmp_path / "inbox", "bad.csv", b"")
    os.chmod(tmp_path / "inbox" / "good.csv", 0o666)  # noqa: S103 - the attack
    run_once(runtime(tmp_path, RecordingProducer()))
    archive, rejected = tmp_path / "inbox" / "archive", tmp_path / "inbox" / "rejected"
    assert mode_of(archive) == 0o700 and mode_of(rejected) == 0o700
    assert mode_of(archive / "good.csv") == 0o600
    assert mode_of(rejected / "bad.csv") == 0o600 and mode_of(rejected / "bad.csv.reason") == 0o600


def test_extracts_past_the_agreements_retention_are_deleted(tmp_path: Path) -> None:
    good = csv_bytes(list(POLICE_ROW), [list(POLICE_ROW.values())])
    drop_file(tmp_path / "inbox", "good.csv", good)
    drop_file(tmp_path / "inbox", "bad.csv", b"")
    rt = runtime(tmp_path, RecordingProducer())
    run_once(rt)
    mode = FileDrop(rt)
    days = load_agreement(example_agreement_path()).source(SOURCE).retention_days
    assert mode.keep_days == days
    assert mode.purge_old(now=time.time() + (days - 1) * 86400) == 0  # still within retention
    assert mode.purge_old(now=time.time() + (days + 1) * 86400) == 3  # the extract, the refused one, its reason
    assert not any((tmp_path / "inbox" / "archive").iterdir()) and not any((tmp_path / "inbox" / "rejected").iterdir())


def test_topics_after_the_boundary_keep_the_agreements_retention_not_the_brokers() -> None:
    settings = load_settings({})
    days = max(s.retention_days for s in load_agreement(settings.agreement_file()).sources.values())
    specs = topic_specs(settings, [SOURCE])
    t = Topics(settings.topic_prefix)
    for name in (t.shared, t.shared_dlq, t.linked):
        assert specs[name]["configs"] == {"retention.ms": str(days * 86_400_000)}, name
    assert specs[t.raw(SOURCE)]["configs"] == {"retention.ms": str(settings.raw_retention_hours * 3_600_000)}
