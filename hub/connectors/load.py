"""One extract file published once (``hub connector load``, the demo, benchmarks): no service, no checkpoint."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from hub.config import Settings
from hub.connectors.base import RunReport
from hub.connectors.csv_file import DEFAULT_MAX_FAULTY_PERCENT, Inspection, inspect_csv
from hub.connectors.feed import RowBatches
from hub.connectors.mapping import FieldMapping, shipped_schemas
from hub.connectors.publisher import Publisher
from hub.yamlsource import ConfigError


class FileRefused(ConfigError):
    """The whole file is refused before anything is published (header, or too many unreadable rows)."""


def check_file(path: Path, mapping: FieldMapping,
               max_faulty_percent: float = DEFAULT_MAX_FAULTY_PERCENT) -> Inspection:
    """Read ``path`` completely first; ``FileRefused`` (one clear line) if it must be refused whole."""
    if path.is_dir():
        raise FileRefused(f"{path}: is a folder, not a file")
    if not path.is_file():
        raise FileRefused(f"{path}: no such file")
    inspection = inspect_csv(path, mapping, max_faulty_percent)
    if inspection.problem:
        raise FileRefused(f"{path}: {inspection.problem}; nothing was published")
    return inspection


class _Opening:
    """The publisher made, connected and told the raw topic's partitions in a thread, while the main thread checks
    the file: the producer's bootstrap and its first metadata request (which waits out the client's retry
    backoff, about 0.1 s) cost about as much as the check and need the broker, not this process's CPU. Only
    metadata is asked: nothing is sent before ``publisher`` is called, which the caller does after the check
    passed. ``abandon`` (the check failed) closes the producer whenever it is made; the thread is not waited
    for, so a refused file is reported at once even when Kafka cannot be reached."""

    def __init__(self, settings: Settings, source: str) -> None:
        self._lock = threading.Lock()
        self._made: Publisher | None = None
        self._error: BaseException | None = None
        self._abandoned = False
        self._thread = threading.Thread(target=self._open, args=(settings, source), name="svh-connector-open",
                                        daemon=True)
        self._thread.start()

    def _open(self, settings: Settings, source: str) -> None:
        made: Publisher | None = None
        try:
            made = Publisher(settings, source, shipped_schemas())
            made.partitions()
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread by ``publisher``
            if made is not None:
                made.abandon()
            self._error = exc
            return
        with self._lock:
            if self._abandoned:
                made.abandon()
            else:
                self._made = made

    def publisher(self) -> Publisher:
        """The publisher, once made; raises what making it raised (Kafka unreachable, the topic missing)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._made is not None
        return self._made

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            if self._made is not None:
                self._made.abandon()
                self._made = None


def publish_file(settings: Settings, mapping: FieldMapping, path: Path,
                 on_progress: Callable[[int], None] | None = None, every: int = 1000,
                 max_faulty_percent: float = DEFAULT_MAX_FAULTY_PERCENT) -> RunReport:
    """Validate every row of ``path`` and publish it raw to the hub (or dead-letter it); returns the counts.

    The file is read completely first (``check_file``): a file refused whole publishes nothing, and a row
    that cannot be read is a dead letter, never an exception half-way through. Only for sources
    pseudonymised at the hub: a health body's source goes through ``hub connector run``, which
    pseudonymises inside the agency.
    """
    placed_before = dict(mapping.placements)
    # The reading process, if any, forks before the producer (and its threads) exists, and starts reading while
    # the file is checked; the producer connects meanwhile (``_Opening``); nothing is sent before the check
    # passes (a refused file stops both, nothing sent).
    with RowBatches(path, mapping, child=None if settings.connector_child else False) as batches:
        opening = _Opening(settings, mapping.source)
        try:
            check_file(path, mapping, max_faulty_percent)
            publisher = opening.publisher()
        except BaseException:  # refused, or stopped while waiting: the producer is closed once made
            opening.abandon()
            raise
        n = 0
        try:
            for batch in batches:
                publisher.publish_many(batch)
                if on_progress is not None and (n + len(batch)) // every > n // every:
                    on_progress(n + len(batch))
                n += len(batch)
        except BaseException:
            publisher.abandon()
            raise
    report = publisher.close()
    report.count_locations(mapping.placements, placed_before)
    return report
