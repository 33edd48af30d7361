"""Structured (JSON lines) logging. Only whitelisted context keys are written, so a log line
cannot carry a record value by accident: identifiers never reach a log."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

CONTEXT_KEYS = frozenset({
    "source", "stage", "topic", "partition", "offset", "row", "field", "error", "count", "read", "published",
    "dead_lettered", "withheld", "emitted", "seconds", "rate", "path", "file", "table", "port", "key_id",
    "agreement", "version", "events", "cells", "suppressed", "group", "lag", "status",
})


# Libraries (Faust, aiokafka, SQLAlchemy) format values into their own messages, e.g. Faust's
# "_on_published error ... message <FutureMessage ... value=b'...'>", "Crashed reason=ValueError('...')",
# or an unquoted value in an f-string. No redaction of free text can be trusted, so a library's record keeps
# its logger, level and exception class, and its message becomes fixed text: one of the known, value-free
# events below if the record is one of them, else THIRD_PARTY_WITHHELD. Raise the library's own log level
# (or read its source) to diagnose it; the hub's own messages are written whole.
THIRD_PARTY_WITHHELD = "library message withheld"
KNOWN_LIBRARY_EVENTS = ("Worker ready", "Ready", "Starting...", "Stopping...", "Has not committed")
"""Fixed texts that libraries log without values (matched at the start of the message, after mode's
``[^Service]:`` prefix); only the matched fixed text is kept, never what follows it."""


def third_party_message(record: logging.LogRecord) -> str:
    """A library's record as a fixed message: a known event's fixed text, else ``THIRD_PARTY_WITHHELD``."""
    template = record.msg if isinstance(record.msg, str) else ""
    if template.startswith("[^"):
        template = template.partition("]: ")[2]
    for event in KNOWN_LIBRARY_EVENTS:
        if template.startswith(event):
            return event.strip()
    return THIRD_PARTY_WITHHELD


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ours = record.name == "hub" or record.name.startswith("hub.")
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name,
            "msg": record.getMessage() if ours else third_party_message(record),
        }
        for key in CONTEXT_KEYS:
            if key in record.__dict__:
                out[key] = record.__dict__[key]
        if record.exc_info and record.exc_info[0] is not None:
            # The class only: exception messages from libraries may quote values.
            out["exception"] = record.exc_info[0].__name__
        return json.dumps(out, default=str)


# Faust logs every message it sends (key and value, e.g. a raw dead letter) at DEBUG: never below INFO.
PAYLOAD_LOGGERS = ("faust", "mode")


def _payload_level(level: str) -> str:
    return "INFO" if level.upper() == "DEBUG" else level.upper()


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at each record: a handler that kept the stream it was given
    outlives a redirected or closed one (a command run in-process, a test's captured stderr)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


# Libraries that chatter at INFO (alembic reports its context on every revision check): WARNING and up only.
QUIET_LOGGERS = ("kafka", "aiokafka", "alembic")


def setup(level: str = "INFO") -> None:
    handler = _CurrentStderr(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    for name in PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(_payload_level(level))


def dict_config(level: str = "INFO") -> dict[str, Any]:
    """The same JSON logging as ``setup``, as a dictConfig (Faust's worker installs its logging from one)."""
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"json": {"()": "hub.logs.JsonFormatter"}},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["default"]},
        "loggers": {**{name: {"level": "WARNING"} for name in QUIET_LOGGERS},
                    **{name: {"level": _payload_level(level)} for name in PAYLOAD_LOGGERS}},
    }


def get(name: str) -> logging.Logger:
    return logging.getLogger(name)


@contextmanager
def quieted(name: str, level: int = logging.CRITICAL) -> Iterator[None]:
    """Only records at ``level`` or above from logger ``name`` (and its children) while the block runs."""
    logger = logging.getLogger(name)
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)
