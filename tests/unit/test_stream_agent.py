"""The pseudonymise agent's per-event handling, without a broker: Faust's topics are replaced by recorders."""

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
from hub.topics import Topics


class Recorder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[dict[str, Any]] = []

    def send_soon(self, **kw: Any) -> Any:
        self.sent.append(kw)
        done = asyncio.get_running_loop().create_future()  # acknowledged at once, as by a broker
        done.set_result(None)
        return done


class OneBatch:
    def __init__(self, messages: list[Any]) -> None:
        self.messages = messages

    async def take_events(self, n: int, within: float) -> AsyncIterator[list[Any]]:
        yield [SimpleNamespace(message=m) for m in self.messages]


@pytest.fixture
def worker(tmp_path: Path, agreement: Agreement, ring: KeyRing, repo: SchemaRepository) -> StreamWorker:
    settings = load_settings({}, data_dir=tmp_path, topic_prefix="unit")
    w = StreamWorker(settings, agreement, Pseudonymiser(agreement, ring), repo, stages=("pseudonymise",))
    w._shared = Recorder("shared")
    w._shared_dlq = Recorder("shared_dlq")
    w._dlq_topics = {s: Recorder(f"dlq.{s}") for s in w._dlq_topics}
    return w


def test_an_unexpected_error_dead_letters_that_message_and_the_batch_goes_on(
        worker: StreamWorker, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = Topics("unit").raw("police_incident")
    calls = {"n": 0}

    def apply(source: str, record: Any) -> Any:
        calls["n"] += 1
        raise ValueError("Zebedee Quillfeather born 14/03/1987")

    monkeypatch.setattr(worker.pseudonymiser, "apply", apply)
    monkeypatch.setattr(worker.schemas, "decode", lambda payload, expect=None: ("x", {}))
    msgs = [SimpleNamespace(topic=raw, partition=0, offset=i, key=b"k", value=b"raw bytes") for i in range(3)]
    asyncio.run(worker._pseudonymise(OneBatch(msgs)))
    assert calls["n"] == 3  # the first failure did not end the batch
    dlq = worker._dlq_topics["police_incident"]
    assert isinstance(dlq, Recorder) and len(dlq.sent) == 3
    assert not worker._shared.sent and not worker._shared_dlq.sent
    h = headers_dict(dlq.sent[0]["headers"])
    assert h["kind"] == "unexpected" and h["class.name"] == "ValueError"
    assert "Zebedee" not in h["exception.message"] and "1987" not in h["exception.message"]


def test_sink_counts_an_undecodable_message_as_consumed_and_dead_lettered(tmp_path: Path, agreement: Agreement,
                                                                         ring: KeyRing, repo: SchemaRepository) -> None:
    from hub import metrics
    settings = load_settings({}, data_dir=tmp_path, topic_prefix="unit")
    w = StreamWorker(settings, agreement, Pseudonymiser(agreement, ring), repo, stages=("pseudonymise",))

    w._shared_dlq = Recorder("shared_dlq")
    labels = {"stage": "sink", "source": "unknown"}

    def value(name: str, **more: str) -> float:
        return metrics.REGISTRY.get_sample_value(name, {**labels, **more}) or 0.0

    before = (value("svh_stage_consumed_total"), value("svh_stage_processed_total", outcome="dead_lettered"))
    msg = SimpleNamespace(topic="unit.shared", partition=0, offset=7, key=b"k", value=b"not avro")
    async def dead_letter() -> None:
        await w._sink_dead_letter(msg, ValueError("bad"), "undecodable")

    asyncio.run(dead_letter())
    assert value("svh_stage_consumed_total") == before[0] + 1
    assert value("svh_stage_processed_total", outcome="dead_lettered") == before[1] + 1
    assert len(w._shared_dlq.sent) == 1


def test_sink_dead_letters_a_row_the_database_refuses_and_writes_the_rest(
        tmp_path: Path, agreement: Agreement, ring: KeyRing, repo: SchemaRepository,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One poison event (a constraint the database enforces) must not stall the pipeline or lose the batch."""
    from sqlalchemy.exc import DataError

    from hub.mart import store
    settings = load_settings({}, data_dir=tmp_path, topic_prefix="unit", mart_url=f"sqlite:///{tmp_path}/m.db")
    w = StreamWorker(settings, agreement, Pseudonymiser(agreement, ring), repo, stages=("sink",))
    w._shared_dlq = Recorder("shared_dlq")
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
    pending: list[Any] = []

    async def write() -> list[dict[str, Any]]:
        return await w._write_with_retry([*good, poison], pending)

    written = asyncio.run(write())
    assert [e["event_id"] for e in written] == ["ev-0", "ev-1", "ev-2"]
    assert writes == [["ev-0"], ["ev-1"], ["ev-2"]]
    assert len(w._shared_dlq.sent) == 1 and w._shared_dlq.sent[0]["key"] == b"p"
    h = headers_dict(w._shared_dlq.sent[0]["headers"])
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
