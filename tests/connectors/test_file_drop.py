"""File drop without a broker: what is picked up, checked, rejected, archived, checkpointed and resumed."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from hub.connectors.config import load_config
from hub.connectors.modes.file_drop import FileChanged, FileDrop
from hub.connectors.runtime import Runtime
from hub.connectors.service import run_once
from hub.connectors.testing import FlakyProducer, RecordingProducer
from tests.connectors.harness import (
    Fixture,
    csv_bytes,
    drop_file,
    recording_runtime,
    write_config,
)

SOURCE = "police_incident"



def runtime(tmp_path: Path, producer: RecordingProducer, **mode: object) -> Runtime:
    config = load_config(write_config(tmp_path, "file_drop", SOURCE, **mode), environ={})
    return recording_runtime(config, producer)


def inbox(tmp_path: Path) -> Path:
    return tmp_path / "inbox"


def raw(producer: RecordingProducer) -> list[bytes]:
    return [s.key or b"" for s in producer.on(f"svh.raw.{SOURCE}")]


def test_a_good_file_is_published_checkpointed_and_archived(tmp_path: Path, fixture: Fixture) -> None:
    producer = RecordingProducer()
    drop_file(inbox(tmp_path), "crimes.csv", csv_bytes(fixture.header, fixture.rows))
    totals = run_once(runtime(tmp_path, producer))
    assert totals.read == totals.published == len(fixture.rows)
    assert producer.acked == len(producer.sent) == len(fixture.rows)
    assert not (inbox(tmp_path) / "crimes.csv").exists()
    assert (inbox(tmp_path) / "archive" / "crimes.csv").exists()
    state = json.loads((tmp_path / "state" / "file_drop.json").read_text())
    [(sha, done)] = state["done"].items()
    assert len(sha) == 64 and done["name"] == "crimes.csv" and done["report"]["published"] == len(fixture.rows)
    assert "in_progress" not in state
    assert (tmp_path / "state").stat().st_mode & 0o077 == 0  # checkpoints can hold references: owner only


def test_the_same_file_dropped_again_is_skipped(tmp_path: Path, fixture: Fixture) -> None:
    producer = RecordingProducer()
    payload = csv_bytes(fixture.header, fixture.rows)
    drop_file(inbox(tmp_path), "crimes.csv", payload)
    run_once(runtime(tmp_path, producer))
    drop_file(inbox(tmp_path), "crimes.csv", payload)
    drop_file(inbox(tmp_path), "renamed.csv", payload)
    totals = run_once(runtime(tmp_path, producer))
    assert totals.read == 0 and len(producer.sent) == len(fixture.rows)
    archived = sorted(p.name for p in (inbox(tmp_path) / "archive").iterdir())
    assert len(archived) == 3 and "renamed.csv" in archived  # never overwritten


@pytest.mark.parametrize("payload,reason", [
    (b"\xff\xfe\x00garbage\x00", "the header line cannot be read"),
    (b"", "the file is empty"),
    (b'CrimeRef,HOOffenceCode\nZZ/1,"8N\n', "the header lacks mapped column"),
], ids=["undecodable", "empty", "wrong-header"])
def test_a_bad_file_is_rejected_with_a_reason_and_nothing_published(tmp_path: Path, payload: bytes,
                                                                    reason: str) -> None:
    producer = RecordingProducer()
    drop_file(inbox(tmp_path), "bad.csv", payload)
    run_once(runtime(tmp_path, producer))
    assert producer.sent == []
    rejected = inbox(tmp_path) / "rejected"
    assert (rejected / "bad.csv").read_bytes() == payload
    text = (rejected / "bad.csv.reason").read_text()
    assert reason in text and "nothing from it was published" in text


def test_an_unbalanced_quote_or_a_nul_costs_its_row_not_the_file(tmp_path: Path, fixture: Fixture) -> None:
    producer = RecordingProducer()
    good = csv_bytes(fixture.header, fixture.rows)
    drop_file(inbox(tmp_path), "quote.csv", good + b'ZZ/9,"unterminated\n')
    run_once(runtime(tmp_path, producer))
    assert len(producer.on(f"svh.raw.{SOURCE}")) == len(fixture.rows)
    [dead] = producer.on(f"svh.dlq.{SOURCE}")
    assert dict(dead.headers)["svh.errors.kind"] == b"unbalanced_quote"
    producer = RecordingProducer()
    drop_file(inbox(tmp_path), "nul.csv", good.replace(b"Assault", b"Ass\x00ault", 1))
    run_once(runtime(tmp_path, producer))
    assert len(producer.on(f"svh.raw.{SOURCE}")) == len(fixture.rows) - 1
    [dead] = producer.on(f"svh.dlq.{SOURCE}")
    assert dict(dead.headers)["svh.errors.kind"] == b"nul_byte"
    assert not list((inbox(tmp_path) / "rejected").glob("*.reason"))


def test_bad_rows_are_dead_lettered_and_the_file_still_archived(tmp_path: Path, fixture: Fixture) -> None:
    producer = RecordingProducer()
    rows = [*fixture.rows, fixture.rows[0][:5]]
    drop_file(inbox(tmp_path), "x.csv", csv_bytes(fixture.header, rows))
    totals = run_once(runtime(tmp_path, producer))
    assert (totals.read, totals.published, totals.dead_lettered) == (len(rows), len(rows) - 1, 1)
    [dead] = producer.on(f"svh.dlq.{SOURCE}")
    headers = dict(dead.headers)
    assert headers["svh.errors.kind"] == b"wrong_column_count"
    assert headers["svh.errors.position"] == f"x.csv row {len(rows)}".encode()


def test_files_still_being_written_wait(tmp_path: Path, fixture: Fixture) -> None:
    producer = RecordingProducer()
    payload = csv_bytes(fixture.header, fixture.rows)
    drop_file(inbox(tmp_path), "a.csv.part", payload)
    drop_file(inbox(tmp_path), "b.tmp", payload)
    drop_file(inbox(tmp_path), ".c.csv", payload)
    drop_file(inbox(tmp_path), "fresh.csv", payload, age_s=0)
    drop_file(inbox(tmp_path), "notes.txt", payload)
    rt = runtime(tmp_path, producer, settle_seconds=30)
    mode = FileDrop(rt)
    assert mode.ready_files() == []
    assert [p.name for p in mode.ready_files(now=time.time() + 31)] == ["fresh.csv"]


def test_oldest_file_first(tmp_path: Path, fixture: Fixture) -> None:
    producer = RecordingProducer()
    first = [fixture.rows[0]]
    second = [fixture.rows[1]]
    drop_file(inbox(tmp_path), "z-older.csv", csv_bytes(fixture.header, first), age_s=120)
    drop_file(inbox(tmp_path), "a-newer.csv", csv_bytes(fixture.header, second), age_s=60)
    run_once(runtime(tmp_path, producer))
    assert raw(producer) == [first[0][0].encode(), second[0][0].encode()]


def test_unacknowledged_records_are_never_checkpointed(tmp_path: Path, fixture: Fixture) -> None:
    rows = fixture.rows * 3  # 24 records, checkpoints every 5
    drop_file(inbox(tmp_path), "x.csv", csv_bytes(fixture.header, rows))
    flaky = FlakyProducer(fail_at={12})
    rt = recording_runtime(load_config(write_config(tmp_path, "file_drop", SOURCE,
                                                    extra={"checkpoint_every": 5}), environ={}), flaky)
    with pytest.raises(Exception, match="not acknowledged"):
        run_once(rt)
    state = json.loads((tmp_path / "state" / "file_drop.json").read_text())
    assert state["in_progress"]["records"] == 10  # the last batch fully acknowledged, not 12 or 15
    assert (inbox(tmp_path) / "x.csv").exists()  # still in the inbox
    producer = RecordingProducer()
    rt2 = recording_runtime(rt.config, producer)
    totals = run_once(rt2)
    assert totals.read == len(rows) - 10  # resumed after the checkpoint
    assert [s.key for s in producer.sent] == [r[0].encode() for r in rows[10:]]
    done = json.loads((tmp_path / "state" / "file_drop.json").read_text())["done"]
    [entry] = done.values()
    assert entry["report"]["read"] == len(rows)  # the file's totals span both runs


def test_stop_request_ends_at_a_checkpoint_and_the_file_resumes(tmp_path: Path, fixture: Fixture) -> None:
    rows = fixture.rows * 3
    drop_file(inbox(tmp_path), "x.csv", csv_bytes(fixture.header, rows))
    config = load_config(write_config(tmp_path, "file_drop", SOURCE, extra={"checkpoint_every": 5}), environ={})
    producer = RecordingProducer()
    rt = recording_runtime(config, producer)
    rt.stop.set()  # as SIGTERM would: finish the current batch, checkpoint, stop
    rt.state.open()
    FileDrop(rt).poll()
    rt.close()
    assert len(producer.sent) == 5 and (inbox(tmp_path) / "x.csv").exists()
    rest = RecordingProducer()
    run_once(recording_runtime(config, rest))
    assert len(producer.sent) + len(rest.sent) == len(rows)  # nothing lost, nothing twice


def test_a_file_changed_while_publishing_is_not_recorded_as_done(tmp_path: Path, fixture: Fixture) -> None:
    path = drop_file(inbox(tmp_path), "x.csv", csv_bytes(fixture.header, fixture.rows))
    producer = RecordingProducer()
    rt = runtime(tmp_path, producer)
    rt.state.open()
    mode = FileDrop(rt)
    original = mode.runtime.publish_unit

    def append_then_publish(*args: object, **kw: object) -> object:
        with path.open("ab") as fh:
            fh.write(b"\n")
        return original(*args, **kw)  # type: ignore[arg-type]
    mode.runtime.publish_unit = append_then_publish  # type: ignore[method-assign]
    with pytest.raises(FileChanged):
        mode.poll()
    rt.close()
    assert path.exists()
    assert json.loads((tmp_path / "state" / "file_drop.json").read_text()).get("done", {}) == {}


def test_two_instances_cannot_share_a_state_folder(tmp_path: Path) -> None:
    from hub.connectors.checkpoints import StateDir, StateLocked
    first = StateDir(tmp_path / "state").open()
    try:
        with pytest.raises(StateLocked):
            StateDir(tmp_path / "state").open()
    finally:
        first.close()
    StateDir(tmp_path / "state").open().close()


def test_archive_on_another_folder(tmp_path: Path, fixture: Fixture) -> None:
    producer = RecordingProducer()
    drop_file(inbox(tmp_path), "x.csv", csv_bytes(fixture.header, fixture.rows))
    run_once(runtime(tmp_path, producer, archive=str(tmp_path / "done"), rejected=str(tmp_path / "bad")))
    assert (tmp_path / "done" / "x.csv").exists() and os.listdir(tmp_path / "bad") == []
