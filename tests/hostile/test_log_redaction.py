"""Finding 6: a library's log text never reaches the log, quoted or not; its logger and level do.

Attacks: values a library formats into its message unquoted (an f-string, ``%s`` arguments, a repr
without quotes), quoted, and in the exception text.
"""

from __future__ import annotations

import json
import logging

import pytest

from hub.logs import JsonFormatter

CANARY = "Zebedee Quillfeather 14/03/1987 ZZ1 0FW"


def formatted(name: str, level: int, msg: str, args: tuple[object, ...] = (),
              exc: BaseException | None = None) -> dict[str, object]:
    exc_info = (type(exc), exc, None) if exc else None
    record = logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)
    line = JsonFormatter().format(record)
    assert "Zebedee" not in line and "1987" not in line and "0FW" not in line, line
    return dict(json.loads(line))


@pytest.mark.parametrize("msg,args", [
    (f"Failed to send record value={CANARY}", ()),  # an f-string: no quote at all
    ("Error for message %s", (CANARY,)),
    ("Crashed reason=%r", (ValueError(CANARY),)),
    (f"<FutureMessage value=b'{CANARY}'>", ()),
    (f"unquoted then 'quoted' {CANARY}", ()),
])
@pytest.mark.parametrize("logger", ["aiokafka.producer", "faust.topics", "sqlalchemy.engine", "kafka.conn"])
def test_third_party_records_keep_logger_and_level_only(logger: str, msg: str, args: tuple[object, ...]) -> None:
    entry = formatted(logger, logging.WARNING, msg, args)
    assert entry["logger"] == logger and entry["level"] == "warning"


def test_library_exception_text_is_not_written() -> None:
    entry = formatted("aiokafka", logging.ERROR, "Unexpected error", exc=RuntimeError(CANARY))
    assert entry["exception"] == "RuntimeError"


def test_known_value_free_library_events_are_kept() -> None:
    entry = formatted("faust.tables.recovery", logging.INFO, "[^---Recovery]: Worker ready")
    assert entry["msg"] == "Worker ready"
