"""One extract file published once (``hub connector load``, the demo, benchmarks): no service, no checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hub.config import Settings
from hub.connectors.base import RunReport
from hub.connectors.csv_file import CsvFileConnector
from hub.connectors.mapping import FieldMapping
from hub.connectors.publisher import Publisher
from hub.schemas import default_repository


def publish_file(settings: Settings, mapping: FieldMapping, path: Path,
                 on_progress: Callable[[int], None] | None = None, every: int = 1000) -> RunReport:
    """Validate every row of ``path`` and publish it raw to the hub (or dead-letter it); returns the counts.

    Only for sources pseudonymised at the hub: a health body's source goes through ``hub connector run``,
    which pseudonymises inside the agency.
    """
    publisher = Publisher(settings, mapping.source, default_repository())
    for n, rec in enumerate(CsvFileConnector(path, mapping).records(), start=1):
        publisher.publish(rec)
        if on_progress is not None and n % every == 0:
            on_progress(n)
    return publisher.close()
