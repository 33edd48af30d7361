"""The worker's lean Faust monitor keeps the one statistic Faust itself reads (its stall detector's input)."""

from __future__ import annotations

from time import monotonic

from faust.types import TP

from hub.streams.drain import LeanMonitor


def test_a_stream_event_still_tells_faust_when_its_partition_last_fed_a_stream() -> None:
    monitor = LeanMonitor()
    tp = TP("svh.raw.police_incident", 3)
    before = monotonic()
    monitor.on_stream_event_in(tp, 41, None, None)
    assert before <= monitor.stream_inbound_time[tp] <= monotonic()


def test_the_per_message_statistics_nothing_reads_are_not_kept() -> None:
    monitor = LeanMonitor()
    tp = TP("svh.raw.police_incident", 3)
    monitor.on_message_in(tp, 41, None)
    monitor.on_message_out(tp, 41, None)
    assert not monitor.tp_read_offsets and not monitor.messages_received_by_topic
