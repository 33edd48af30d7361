"""The agents' per-event handling, without a broker: the batch sender is replaced by a recorder."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hub.config import load_settings
from hub.dead_letters import headers_dict
from hub.policy import Agreement
from hub.pseudonymisation import KeyRing, Pseudonymiser
from hub.schemas import SchemaRepository
from hub.streams.app import StreamWorker
from hub.streams.batch import Outgoing
from hub.topics import Topics


class Recorder:
    """Stands in for the BatchSender: records each batch's messages; Kafka acknowledges them at once."""

    def __init__(self) -> None:
        self.batches: list[list[Outgoing]] = []

    async def send(self, messages: list[Outgoing]) -> list[Any]:
        self.batches.append(list(messages))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return [done]

    def to(self, topic: str) -> list[Outgoing]:
        return [m for batch in self.batches for m in batch if m.topic == topic]


class OneBatch:
    def __init__(self, messages: list[Any]) -> None:
        self.messages = messages

    async def take_events(self, n: int, within: float) -> AsyncIterator[list[Any]]:
        yield [SimpleNamespace(message=m) for m in self.messages]


@pytest.fixture
def worker(tmp_path: Path, agreement: Agreement, ring: KeyRing, repo: SchemaRepository) -> StreamWorker:
    settings = load_settings({}, data_dir=tmp_path, topic_prefix="unit")
    w = StreamWorker(settings, agreement, Pseudonymiser(agreement, ring), repo, stages=("pseudonymise",))
    w.sender = Recorder()  # type: ignore[assignment]
    return w


def test_an_unexpected_error_dead_letters_that_message_and_the_batch_goes_on(
        worker: StreamWorker, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = Topics("unit").raw("police_incident")
    calls = {"n": 0}

    class Plan:
        def apply(self, record: Any) -> Any:
            calls["n"] += 1
            raise ValueError("Zebedee Quillfeather born 14/03/1987")

    monkeypatch.setattr(worker.pseudonymiser, "plan", lambda source: Plan())
    monkeypatch.setattr(worker.schemas, "decode", lambda payload, expect=None: ("x", {}))
    msgs = [SimpleNamespace(topic=raw, partition=0, offset=i, key=b"k", value=b"raw bytes") for i in range(3)]
    asyncio.run(worker._pseudonymise(OneBatch(msgs)))
    assert calls["n"] == 3  # the first failure did not end the batch
    sent = worker.sender
    assert isinstance(sent, Recorder) and len(sent.batches) == 1  # one batch in, one bulk send out
    dlq = sent.to(Topics("unit").dlq("police_incident"))
    assert len(dlq) == 3 and len(sent.batches[0]) == 3  # nothing to the shared topic or its dead letters
    h = headers_dict(dlq[0].headers)
    assert h["kind"] == "unexpected" and h["class.name"] == "ValueError"
    assert "Zebedee" not in h["exception.message"] and "1987" not in h["exception.message"]


def test_sink_counts_an_undecodable_message_as_consumed_and_dead_lettered(
        tmp_path: Path, agreement: Agreement, ring: KeyRing, repo: SchemaRepository,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from hub import metrics
    from hub.mart import store
    settings = load_settings({}, data_dir=tmp_path, topic_prefix="unit", mart_url=f"sqlite:///{tmp_path}/m.db")
    w = StreamWorker(settings, agreement, Pseudonymiser(agreement, ring), repo, stages=("sink",))
    w.sender = Recorder()  # type: ignore[assignment]
    monkeypatch.setattr(store, "upsert_events", lambda engine, events: len(events))
    labels = {"stage": "sink", "source": "unknown"}

    def value(name: str, **more: str) -> float:
        return metrics.REGISTRY.get_sample_value(name, {**labels, **more}) or 0.0

    before = (value("svh_stage_consumed_total"), value("svh_stage_processed_total", outcome="dead_lettered"))
    msg = SimpleNamespace(topic="unit.shared", partition=0, offset=7, key=b"k", value=b"not avro")
    asyncio.run(w._sink(OneBatch([msg])))
    assert value("svh_stage_consumed_total") == before[0] + 1
    assert value("svh_stage_processed_total", outcome="dead_lettered") == before[1] + 1
    assert len(w.sender.to(Topics("unit").shared_dlq)) == 1


def test_a_batch_goes_to_kafka_in_one_bulk_send_and_is_counted_once(
        worker: StreamWorker, repo: SchemaRepository) -> None:
    """Every event of a batch is handed over in one send whose acknowledgement the batch waits for; the
    metrics are counted per batch, after the acknowledgement."""
    from datetime import datetime

    from hub import metrics
    from hub.schemas import RAW_SCHEMAS

    raw = Topics("unit").raw("police_incident")
    msgs = [SimpleNamespace(topic=raw, partition=i % 3, offset=i, key=b"k", value=repo.encode(
        RAW_SCHEMAS["police_incident"], {"record_id": f"ZZ/25/{i:06d}", "offence_code": "8N",
                                         "occurred_from": datetime(2025, 3, 4, 21, 30), "knife": True}))
        for i in range(5)]
    labels = {"stage": "pseudonymise", "source": "police_incident", "outcome": "emitted"}
    before = metrics.REGISTRY.get_sample_value("svh_stage_processed_total", labels) or 0.0
    asyncio.run(worker._pseudonymise(OneBatch(msgs)))
    sent = worker.sender
    assert isinstance(sent, Recorder) and len(sent.batches) == 1
    shared = sent.to(Topics("unit").shared)
    assert len(shared) == 5
    assert [m.partition for m in shared] == [0, 1, 2, 0, 1]  # each event follows its raw message's partition
    assert metrics.REGISTRY.get_sample_value("svh_stage_processed_total", labels) == before + 5


def test_sink_dead_letters_a_row_the_database_refuses_and_writes_the_rest(
        tmp_path: Path, agreement: Agreement, ring: KeyRing, repo: SchemaRepository,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One poison event (a constraint the database enforces) must not stall the pipeline or lose the batch."""
    from sqlalchemy.exc import DataError

    from hub.mart import store
    settings = load_settings({}, data_dir=tmp_path, topic_prefix="unit", mart_url=f"sqlite:///{tmp_path}/m.db")
    w = StreamWorker(settings, agreement, Pseudonymiser(agreement, ring), repo, stages=("sink",))
    writes: list[list[str]] = []

    def upsert(engine: Any, events: list[dict[str, Any]]) -> int:
        ids = [e["event_id"] for e in events]
        if "ev-poison" in ids:
            raise DataError("INSERT ...", {}, Exception("value too long"))
        writes.append(ids)
        return len(ids)

    monkeypatch.setattr(store, "upsert_events", upsert)
    good = [({"event_id": f"ev-{i}", "source": "police_incident"},
             SimpleNamespace(topic="unit.shared", partition=0, offset=i, key=b"k", value=b"v")) for i in range(3)]
    poison = ({"event_id": "ev-poison", "source": "police_incident"},
              SimpleNamespace(topic="unit.shared", partition=0, offset=9, key=b"p", value=b"v"))
    out: list[Outgoing] = []

    async def write() -> list[dict[str, Any]]:
        return await w._write_with_retry([*good, poison], out)

    written = asyncio.run(write())
    assert [e["event_id"] for e in written] == ["ev-0", "ev-1", "ev-2"]
    assert writes == [["ev-0"], ["ev-1"], ["ev-2"]]
    assert len(out) == 1 and out[0].key == b"p" and out[0].topic == Topics("unit").shared_dlq
    h = headers_dict(out[0].headers)
    assert h["kind"] == "rejected_by_mart" and "too long" not in h["exception.message"]


def test_a_send_kafka_does_not_acknowledge_ends_the_process_without_committing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Raising would let take_events ack the batch; the worker must exit instead, so Kafka redelivers it."""
    from hub.streams import app

    exits: list[int] = []

    def fake_exit(code: int) -> None:
        exits.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(app.os, "_exit", fake_exit)

    async def batch() -> None:
        ok = asyncio.get_running_loop().create_future()
        ok.set_result(None)
        failed = asyncio.get_running_loop().create_future()
        failed.set_exception(OSError("broker gone"))
        await app.confirm_delivery([ok, failed], "pseudonymise")

    with pytest.raises(SystemExit):
        asyncio.run(batch())
    assert exits == [app.EXIT_REDELIVER]


def test_acknowledged_sends_let_the_batch_complete() -> None:
    from hub.streams import app

    async def batch() -> None:
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        await app.confirm_delivery([done], "sink")

    asyncio.run(batch())  # returns normally: nothing to redeliver


def test_a_batch_kafka_will_not_take_ends_the_process_without_committing(
        worker: StreamWorker, repo: SchemaRepository, monkeypatch: pytest.MonkeyPatch) -> None:
    """Handing the batch over can fail too (producer closed, buffer timeout): exit, never ack the batch."""
    from hub.streams import app

    exits: list[int] = []

    def fake_exit(code: int) -> None:
        exits.append(code)
        raise SystemExit(code)

    class Refusing:
        async def send(self, messages: list[Outgoing]) -> list[Any]:
            raise OSError("producer closed")

    monkeypatch.setattr(app.os, "_exit", fake_exit)
    worker.sender = Refusing()  # type: ignore[assignment]
    raw = Topics("unit").raw("police_incident")
    msg = SimpleNamespace(topic=raw, partition=0, offset=0, key=b"k", value=b"not avro")
    with pytest.raises(SystemExit):
        asyncio.run(worker._pseudonymise(OneBatch([msg])))
    assert exits == [app.EXIT_REDELIVER]
