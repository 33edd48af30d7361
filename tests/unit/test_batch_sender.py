"""BatchSender: a batch's messages go into one aiokafka record batch per topic-partition, in order.

The producer is a stand-in that records what would be sent; the record batches are aiokafka's own."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from aiokafka.producer.message_accumulator import BatchBuilder

from hub.streams.batch import BatchSender, Outgoing


class Client:
    def __init__(self, batch_bytes: int, partitions: dict[str, int]) -> None:
        self.batch_bytes = batch_bytes
        self.partitions = partitions
        self.sent: list[tuple[str, int, BatchBuilder]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.partitions[topic]))

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_bytes, 0)  # 0: no compression

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> Any:
        self.sent.append((topic, partition, batch))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def sender(client: Client) -> BatchSender:
    app = SimpleNamespace(producer=SimpleNamespace(_ensure_producer=lambda: client))
    return BatchSender(app)


def values(batch: BatchBuilder) -> list[bytes]:
    from aiokafka.record.default_records import DefaultRecordBatch
    return [r.value for r in DefaultRecordBatch(bytearray(batch._build()))]


def test_one_record_batch_per_partition_and_the_input_partition_kept() -> None:
    client = Client(512 * 1024, {"shared": 4, "dlq": 2})
    msgs = [Outgoing("shared", i % 4, b"k", f"e{i}".encode(), [("svh.source", b"x")]) for i in range(10)]
    msgs.append(Outgoing("dlq", 3, None, b"d0", []))
    futures = asyncio.run(sender(client).send(msgs))
    assert len(futures) == 5  # four shared partitions and one dead-letter partition: five futures for 11 messages
    by_tp = {(t, p): values(b) for t, p, b in client.sent}
    assert by_tp[("shared", 0)] == [b"e0", b"e4", b"e8"] and by_tp[("shared", 3)] == [b"e3", b"e7"]
    assert by_tp[("dlq", 1)] == [b"d0"]  # partition 3 of a two-partition topic


def test_a_full_record_batch_is_sent_and_the_next_keeps_the_order() -> None:
    client = Client(1024, {"shared": 1})
    msgs = [Outgoing("shared", 0, b"k", bytes([i]) * 300, []) for i in range(8)]
    asyncio.run(sender(client).send(msgs))
    assert len(client.sent) > 1
    sent = [v for _, _, b in client.sent for v in values(b)]
    assert sent == [m.value for m in msgs]


def test_nothing_to_send_sends_nothing() -> None:
    client = Client(1024, {"shared": 1})
    assert asyncio.run(sender(client).send([])) == [] and client.sent == []


def test_a_message_larger_than_a_record_batch_goes_alone() -> None:
    client = Client(256, {"shared": 1})
    asyncio.run(sender(client).send([Outgoing("shared", 0, b"k", b"a" * 100, []),
                                     Outgoing("shared", 0, b"k", b"b" * 5000, [])]))
    assert [values(b) for _, _, b in client.sent] == [[b"a" * 100], [b"b" * 5000]]
