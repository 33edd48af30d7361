"""Finding 5: hostile HTTP clients against the push connector, on a real listening socket.

Attacks: 50 unauthenticated connections trickling headers (slowloris) and one trickling a body; a
400 kB body of nested brackets; numbers too long for Python and NaN; a non-loopback bind without TLS;
a reply that would echo the server's mapping path; a POST while Kafka is unreachable.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hub.connectors.config import load_config
from hub.connectors.modes.http_push import HttpPush
from hub.connectors.testing import RecordingProducer
from hub.yamlsource import ConfigError
from tests.connectors.harness import make_tokens, recording_runtime, write_config
from tests.hostile.test_coded_fields import POLICE_ROW
from tests.plugins.services import free_port

SOURCE = "police_incident"


@dataclass
class Handle:
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    work: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1))


@dataclass
class Server:
    port: int
    token: str
    mode: HttpPush
    mapping_path: str


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    token = make_tokens(tmp_path)
    port = free_port()
    config = load_config(write_config(tmp_path, "http", SOURCE, port=port, header_timeout_s=1.0,
                                      body_timeout_s=2.0))
    runtime = recording_runtime(config, RecordingProducer())
    runtime.state.open()
    runtime.health.kafka(True)
    mode = HttpPush(runtime)
    loop = asyncio.new_event_loop()
    handle: dict[str, Handle] = {}

    async def main() -> None:
        handle["h"] = Handle()
        await mode.serve(handle["h"])

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not runtime.health.ready:
        assert time.monotonic() < deadline, "the push connector did not start listening"
        time.sleep(0.05)
    try:
        yield Server(port, token, mode, str(runtime.mapping.path))
    finally:
        loop.call_soon_threadsafe(handle["h"].stopping.set)
        thread.join(15)
        mode.close()
        runtime.close()


def post(server: Server, body: bytes, timeout: float = 10.0) -> tuple[int, str]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        s.sendall(b"POST /v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + server.token.encode()
                  + b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
                  + b"\r\nConnection: close\r\n\r\n" + body)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    head, _, payload = reply.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), payload.decode("utf-8", "replace")


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server closes the connection (whatever it said first); False on our own timeout."""
    try:
        while sock.recv(4096):
            pass
        return True
    except TimeoutError:
        return False
    except OSError:  # reset by the server
        return True


def test_slow_headers_and_slow_bodies_are_cut_off(server: Server) -> None:
    sockets = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(50)]
    slow_body = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        for s in sockets:
            s.sendall(b"POST /v1/records HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        slow_body.sendall(b"POST /v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + server.token.encode()
                          + b"\r\nContent-Length: 1000\r\n\r\n{")  # a body that never comes
        started = time.monotonic()
        for s in [*sockets, slow_body]:
            s.settimeout(max(0.1, 15 - (time.monotonic() - started)))
            assert closed_by_server(s)
        assert time.monotonic() - started < 15
    finally:
        for s in [*sockets, slow_body]:
            s.close()
    status, _ = post(server, json.dumps([POLICE_ROW]).encode())  # and it still serves
    assert status == 200


def test_deeply_nested_json_is_a_400_not_a_500(server: Server) -> None:
    status, body = post(server, b"[" * 200_000 + b"]" * 200_000)
    assert status == 400 and "nested" in body


@pytest.mark.parametrize("body", [b'[{"CrimeRef": ' + b"9" * 5000 + b"}]", b'[{"AgeOnArrival": NaN}]',
                                  b'[{"CrimeRef": 1e999999}]'])
def test_huge_numbers_and_nan_are_refused(server: Server, body: bytes) -> None:
    status, _ = post(server, body)
    assert status in (200, 400)
    if status == 200:  # a float that overflows to infinity reaches the record, which must refuse it
        assert json.loads(_)["rejected"] == 1


def test_replies_never_hold_a_server_path(server: Server) -> None:
    status, body = post(server, json.dumps([{**POLICE_ROW, "ShoeSize": "9"}, "x", {"OccurredFrom": 5}]).encode())
    assert status == 200
    assert server.mapping_path not in body and "/" + Path(server.mapping_path).name not in body


def test_kafka_unreachable_gives_503_at_once(server: Server) -> None:
    server.mode.runtime.health.kafka(False)
    started = time.monotonic()
    status, _ = post(server, json.dumps([POLICE_ROW]).encode())
    assert status == 503 and time.monotonic() - started < 2


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])  # noqa: S104 - the attack
def test_a_non_loopback_bind_without_tls_is_refused(tmp_path: Path, host: str) -> None:
    make_tokens(tmp_path)
    with pytest.raises(ConfigError, match="not a loopback address"):
        load_config(write_config(tmp_path, "http", SOURCE, host=host))


def test_loopback_or_an_explicit_proxy_setting_is_accepted(tmp_path: Path) -> None:
    make_tokens(tmp_path)
    assert load_config(write_config(tmp_path, "http", SOURCE, host="::1"))
    assert load_config(write_config(tmp_path, "http", SOURCE, host="0.0.0.0", plaintext_behind_proxy=True))  # noqa: S104


