"""``hub.bench.cpu``: who used the machine's CPU during a window, read from Linux's /proc (this process itself)."""

from __future__ import annotations

import math
import os
import socket
import time

from hub.bench import cpu


def test_the_process_listening_on_a_port_is_found() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert cpu.listener_pid(s.getsockname()[1]) == os.getpid()


def test_a_port_nobody_listens_on_has_no_process() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound, not listening
        assert cpu.listener_pid(s.getsockname()[1]) is None


def test_a_window_counts_the_cores_a_busy_process_used() -> None:
    window = cpu.CpuWindow([os.getpid()], broker_pid=None, database_pid=os.getpid())
    window.start()
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # burn 0.3 s of this process's CPU
        pass
    share = window.stop()
    used = share.workers * share.wall_s  # CPU seconds, whatever else the machine was doing
    assert 0.28 <= used <= 0.45  # the 0.3 s burnt (clock ticks are 10 ms; the window's own reads add a little)
    assert abs(share.database - share.workers) < 0.05  # the same process, counted with its children
    assert share.broker == 0.0
    assert share.machine * share.wall_s >= used - 0.03 and share.cores == os.cpu_count()
    assert share.others == max(0.0, share.machine - share.workers - share.database)


def test_a_window_that_never_started_reports_nan_not_a_crash() -> None:
    """A drain that ends before the group is seen stable never starts the window (its rate is NaN too)."""
    share = cpu.CpuWindow([os.getpid()], broker_pid=None, database_pid=None).stop()
    assert math.isnan(share.workers) and math.isnan(share.wall_s) and math.isnan(share.others)
