"""A file's rows, encoded, in batches: read, parsed and encoded in a child process while the parent sends.

kafka-python's ``send`` is pure Python and holds the interpreter, so reading, parsing and encoding a
row in the same process adds to every send instead of overlapping with it. ``rows_in_batches`` forks a
child (before the producer exists: no producer thread is copied) that runs ``CsvFileConnector.encoded``
and hands the parent lists of items through a pipe: ``(key, value, key_hash)`` for a row the compiled
plan encoded (``key_hash`` is kafka-python's murmur2 of the key, masked as its default partitioner
masks it, so the parent can name the partition the partitioner would choose without hashing again), or
the ``SourceRecord`` of any other row (faulty, or decided by the reference path). Rows stay in file
order. Asked to (``check``), the child first checks the whole file (``check_file``) and hands over the
verdict before any row, so that check costs the sending process nothing; the child may then run ``AHEAD``
batches ahead of the parent, so it reads while the parent's producer still connects.

The child never logs, counts metrics or writes anything but the pipe. If the parent dies, the child's
next write fails and it exits; if the child dies, the parent's next read fails and the publish raises
(nothing unacknowledged is checkpointed). A mapping with a ``place`` field counts its outcomes as it
goes, so it is read in the parent (the same items, no child).
"""

from __future__ import annotations

import itertools
import multiprocessing
import queue
import struct
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from hub.connectors.base import SourceRecord
from hub.connectors.csv_file import CsvFileConnector, FileRefused, check_file
from hub.connectors.mapping import FieldMapping
from hub.schemas import SchemaRepository, shipped_schemas
from hub.yamlsource import ConfigError

BATCH = 500
"""Rows per hand-over: large enough that the pipe costs nothing per row, small enough to start sending at once."""
AHEAD = 64
"""Batches the reading process may hold that the parent has not taken yet (about 32,000 rows)."""
CHILD_MIN_BYTES = 256 * 1024
"""Smaller files are read in the parent: forking costs more than it saves."""

Item = tuple[bytes, bytes, int] | SourceRecord


_M = 0x5BD1E995
_M32 = 0xFFFFFFFF
_WORDS = [struct.Struct(f"<{n}I").unpack_from for n in range(33)]  # a key's 4-byte words, for keys up to 131 bytes


def key_hash(key: bytes, _m: int = _M, _m32: int = _M32) -> int:
    """What kafka-python's default partitioner computes of a key before taking it modulo the partition count:
    its ``murmur2`` (Kafka's Java client's), masked to 31 bits. The same arithmetic, read four bytes at a time
    (a test compares it with kafka-python's own)."""
    length = len(key)
    h = 0x9747B28C ^ length
    words = length >> 2
    if words:
        for k in (_WORDS[words] if words < len(_WORDS) else struct.Struct(f"<{words}I").unpack_from)(key):
            k = (k * _m) & _m32
            h = ((h * _m) & _m32) ^ (((k ^ (k >> 24)) * _m) & _m32)
    tail = length & 3
    if tail:
        at = length - tail
        if tail == 3:
            h ^= key[at + 2] << 16
        if tail >= 2:
            h ^= key[at + 1] << 8
        h = ((h ^ key[at]) * _m) & _m32
    h ^= h >> 13
    h = (h * _m) & _m32
    return (h ^ (h >> 15)) & 0x7FFFFFFF


def _items(path: Path, mapping: FieldMapping, schemas: SchemaRepository, skip: int) -> Iterator[list[Item]]:
    it = CsvFileConnector(path, mapping).encoded(schemas, skip)
    while batch := list(itertools.islice(it, BATCH)):
        yield [(x[0], x[1], key_hash(x[0])) if type(x) is tuple else x for x in batch]  # type: ignore[misc]


def _child(conn: Connection, parents_end: Connection, path: Path, mapping: FieldMapping, skip: int,
           check: float | None = None) -> None:
    """Check the whole file first if asked (``check``: the most faulty rows in percent; the verdict is the first
    message), then read, parse and encode; a writer thread hands the batches over, so reading may run up to
    ``AHEAD`` batches ahead of the parent (while its producer connects, say)."""
    parents_end.close()  # inherited by the fork: while open here, a write would never learn the parent is gone
    ahead: queue.Queue[tuple[str, Any] | None] = queue.Queue(AHEAD)
    gone = threading.Event()  # the parent closed its end: stop

    def write() -> None:
        try:
            while (message := ahead.get()) is not None:
                conn.send(message)
        except OSError:  # BrokenPipeError, ConnectionResetError: the parent is gone
            gone.set()

    def put(message: tuple[str, Any] | None) -> bool:
        while not gone.is_set():
            try:
                ahead.put(message, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    writer = threading.Thread(target=write, name="svh-connector-handover", daemon=True)
    writer.start()
    try:
        if check is not None:
            try:
                check_file(path, mapping, check)
            except FileRefused as exc:  # one line naming no value, as the parent would have raised it
                put(("refused", str(exc)))
                return
            except OSError as exc:  # unreadable (permissions, gone): permanent, not "try again"
                put(("refused", f"{path}: cannot be read ({type(exc).__name__}); nothing was published"))
                return
            put(("checked", None))
        for batch in _items(path, mapping, shipped_schemas(), skip):
            if not put(("rows", batch)):
                return
        put(("end", None))
    except ConfigError as exc:
        put(("config", str(exc)))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises
        put(("failed", type(exc).__name__))  # the kind only: an exception's text may quote a cell's value
    finally:
        put(None)
        writer.join()
        conn.close()


class ReadingFailed(RuntimeError):
    """The reading process died or failed: ``hub connector load`` stops with exit 75 (try again), one line."""


def use_child(path: Path, mapping: FieldMapping) -> bool:
    """Whether ``rows_in_batches`` reads ``path`` in a child process (see the module's docstring); the
    ``connector_child`` setting (``HUB_CONNECTOR_CHILD``) can say no, checked by the caller."""
    if mapping.places or "fork" not in multiprocessing.get_all_start_methods():
        return False
    try:
        return path.stat().st_size >= CHILD_MIN_BYTES
    except OSError:
        return False


class RowBatches:
    """Iterate to get the batches; ``close`` (or the ``with`` block's end) stops and reaps the child."""

    def __init__(self, path: Path, mapping: FieldMapping, skip: int = 0, child: bool | None = None,
                 check: float | None = None) -> None:
        self.path = path
        self.mapping = mapping
        self.skip = skip
        self.child = use_child(path, mapping) if child is None else child
        self._proc: Any = None
        self._conn: Connection | None = None
        self._unchecked = self.child and check is not None  # the verdict is still to be read (``checked``)
        if self.child:
            ctx = multiprocessing.get_context("fork")
            recv, send = ctx.Pipe(duplex=False)
            self._proc = ctx.Process(target=_child, args=(send, recv, path, mapping, skip, check), daemon=True,
                                     name="svh-connector-reader")
            self._proc.start()
            send.close()
            self._conn = recv

    def __enter__(self) -> RowBatches:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next(self) -> tuple[str, Any]:
        assert self._conn is not None
        try:
            return self._conn.recv()  # type: ignore[no-any-return]
        except EOFError:
            raise ReadingFailed(f"{self.path.name}: the connector's reading process ended unexpectedly (killed?); "
                                "what was sent before was acknowledged; load the file again (event ids are "
                                "keyed: the mart does not double)") from None

    def checked(self) -> None:
        """Wait for the reading process's whole-file check (``check`` was given): returns when it passed, raises
        ``FileRefused`` (its one line) when the file is refused whole, ``ReadingFailed`` if the process died."""
        if not self._unchecked:
            return
        kind, body = self._next()
        self._unchecked = False
        if kind == "refused":
            raise FileRefused(body)
        if kind == "config":  # the mapping cannot read the file (its encoding, say): exit 2 as in one process
            raise ConfigError(body)
        if kind != "checked":
            raise ReadingFailed(f"{self.path.name}: the connector's reading process failed ({body}) before the "
                                "file was checked; nothing was sent")

    def __iter__(self) -> Iterator[list[Item]]:
        if self._conn is None:
            yield from _items(self.path, self.mapping, shipped_schemas(), self.skip)
            return
        self.checked()
        while True:
            kind, body = self._next()
            if kind == "rows":
                yield body
            elif kind == "end":
                return
            elif kind == "config":
                raise ConfigError(body)
            else:
                raise ReadingFailed(f"{self.path.name}: the connector's reading process failed ({body}); what "
                                    "was sent before was acknowledged; load the file again once it is mended")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            self._proc.join(timeout=5)
            if self._proc.is_alive():  # it was stopped half-way (an error, a stop): it may be blocked on the pipe
                self._proc.terminate()
                self._proc.join(timeout=5)
            self._proc = None
