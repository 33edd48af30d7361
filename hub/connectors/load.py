"""One extract file published once (``hub connector load``, the demo, benchmarks): no service, no checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hub.config import Settings
from hub.connectors.base import RunReport
from hub.connectors.csv_file import DEFAULT_MAX_FAULTY_PERCENT, Inspection, inspect_csv
from hub.connectors.feed import RowBatches
from hub.connectors.mapping import FieldMapping
from hub.connectors.publisher import Publisher
from hub.schemas import default_repository
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
    # The reading process, if any, forks before the producer (and its thread) exists, and starts reading while
    # the file is checked; nothing is sent before the check passes (a refused file stops it unread).
    with RowBatches(path, mapping, child=None if settings.connector_child else False) as batches:
        check_file(path, mapping, max_faulty_percent)
        publisher = Publisher(settings, mapping.source, default_repository())
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
