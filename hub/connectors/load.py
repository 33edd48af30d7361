"""One extract file published once (``hub connector load``, the demo, benchmarks): no service, no checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kafka.errors import KafkaError

from hub.config import Settings
from hub.connectors.base import RunReport
from hub.connectors.csv_file import DEFAULT_MAX_FAULTY_PERCENT, FileRefused, check_file
from hub.connectors.feed import ReadingFailed, RowBatches
from hub.connectors.mapping import FieldMapping
from hub.connectors.publisher import Publisher
from hub.schemas import shipped_schemas


class NotDelivered(ReadingFailed):
    """Kafka did not acknowledge every record sent: ``hub connector load`` stops with exit 75 (load it again)."""


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
    # The reading process, if any, forks before the producer (and its threads) exists, checks the whole file and
    # then reads on while the producer connects; nothing is sent, and no producer made, before the check passed.
    # Without a reading process this process checks.
    with RowBatches(path, mapping, child=None if settings.connector_child else False,
                    check=max_faulty_percent) as batches:
        if batches.child:
            batches.checked()
        else:
            check_file(path, mapping, max_faulty_percent)
        publisher = Publisher(settings, mapping.source, shipped_schemas())
        n = 0
        try:
            for batch in batches:
                publisher.publish_many(batch)
                if on_progress is not None and (n + len(batch)) // every > n // every:
                    on_progress(n + len(batch))
                n += len(batch)
        except KafkaError as exc:
            publisher.abandon()
            raise _not_delivered(path, exc) from None
        except BaseException:
            publisher.abandon()
            raise
    try:
        report = publisher.close()
    except KafkaError as exc:
        publisher.abandon()
        raise _not_delivered(path, exc) from None
    report.count_locations(mapping.placements, placed_before)
    return report


def _not_delivered(path: Path, exc: KafkaError) -> NotDelivered:
    return NotDelivered(f"{path.name}: Kafka did not acknowledge every record sent ({type(exc).__name__}); load the "
                        "file again (event ids are keyed: the mart does not double)")


__all__ = ["FileRefused", "NotDelivered", "check_file", "publish_file"]
