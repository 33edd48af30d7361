"""JSON logs carry only whitelisted context; Prometheus metrics follow the naming rules."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from prometheus_client import generate_latest

from hub import logs, metrics


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("hub.test.capture")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, stream
    logger.handlers[:] = []


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_only_whitelisted_context_is_written(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    logger.info("row dead-lettered", extra={"source": "police_incident", "row": 57, "field": "VictimDOB",
                                            "forename": "Alice", "value": "17/04/1991", "record": {"dob": "x"}})
    [entry] = lines(stream)
    assert entry["msg"] == "row dead-lettered" and entry["level"] == "info" and entry["logger"] == "hub.test.capture"
    assert entry["source"] == "police_incident" and entry["row"] == 57 and entry["field"] == "VictimDOB"
    assert "forename" not in entry and "value" not in entry and "record" not in entry
    raw = stream.getvalue()
    assert "Alice" not in raw and "17/04/1991" not in raw
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", str(entry["ts"]))


def test_exception_class_is_written_not_its_message(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    try:
        raise ValueError("invalid date '17/04/1991' for Alice Smith")
    except ValueError:
        logger.exception("could not parse", extra={"stage": "validate"})
    [entry] = lines(stream)
    assert entry["exception"] == "ValueError" and entry["stage"] == "validate"
    raw = stream.getvalue()
    assert "Alice" not in raw and "17/04/1991" not in raw and "Traceback" not in raw


def test_every_line_is_one_json_object(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    logger.warning("first\nsecond", extra={"count": 3})
    logger.error("third")
    entries = lines(stream)
    assert [e["msg"] for e in entries] == ["first\nsecond", "third"]
    assert entries[0]["count"] == 3


def test_setup_installs_the_json_formatter() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        logs.setup("WARNING")
        assert len(root.handlers) == 1 and isinstance(root.handlers[0].formatter, logs.JsonFormatter)
        assert root.level == logging.WARNING
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


# --- metrics ------------------------------------------------------------------------------------------

def exposition() -> str:
    return generate_latest(metrics.REGISTRY).decode()


def types() -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"^# TYPE (\S+) (\S+)$", exposition(), re.MULTILINE)}


def test_metric_names_follow_the_rules() -> None:
    declared = types()
    assert len(declared) >= 8
    for name, kind in declared.items():
        assert name.startswith("svh_"), name
        if kind == "counter":
            assert name.endswith("_total"), name
        if kind == "histogram":
            assert name.endswith("_seconds"), name
    assert declared["svh_records_read_total"] == "counter"
    assert declared["svh_stage_seconds"] == "histogram"


def test_every_sample_is_named_svh() -> None:
    metrics.dead_lettered("police_incident", "validate", "bad_date")
    metrics.STAGE_SECONDS.labels("pseudonymise").observe(0.001)
    samples = [line for line in exposition().splitlines() if line and not line.startswith("#")]
    assert samples
    assert all(s.startswith("svh_") for s in samples)
    assert any(s.startswith("svh_records_dead_lettered_total{") and 'error="bad_date"' in s for s in samples)


def test_dead_lettered_counts_up() -> None:
    labels = {"source": "police_incident", "stage": "sink", "error": "OperationalError"}
    before = metrics.REGISTRY.get_sample_value("svh_records_dead_lettered_total", labels) or 0.0
    metrics.dead_lettered("police_incident", "sink", "OperationalError")
    assert metrics.REGISTRY.get_sample_value("svh_records_dead_lettered_total", labels) == before + 1


def test_debug_level_never_lets_faust_log_message_values() -> None:
    """faust.topics logs every send's key and value at DEBUG (a raw dead letter holds identifiers)."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved = {name: logging.getLogger(name).level for name in logs.PAYLOAD_LOGGERS}
    try:
        logs.setup("DEBUG")
        assert root.level == logging.DEBUG
        assert not logging.getLogger("faust.topics").isEnabledFor(logging.DEBUG)
        assert logging.getLogger("faust.topics").isEnabledFor(logging.INFO)  # "Worker ready" and the like
        loggers = logs.dict_config("DEBUG")["loggers"]
        assert all(loggers[name]["level"] == "INFO" for name in logs.PAYLOAD_LOGGERS)
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def test_a_library_message_quoting_a_value_is_redacted() -> None:
    """Faust's send-error warning embeds the message repr (its value bytes); it must not reach the log."""
    import logging as _logging

    from hub.logs import JsonFormatter

    record = _logging.LogRecord("faust.topics", _logging.WARNING, __file__, 1,
                                "_on_published error for message topic svh.dlq.police_incident error %s message %r",
                                ("KafkaTimeoutError", b"ZZ/25/000001,8N,Zebedee,Quillfeather,14/03/1987"), None)
    line = JsonFormatter().format(record)
    assert "Zebedee" not in line and "1987" not in line
    assert '"msg": "library message withheld"' in line and '"logger": "faust.topics"' in line


def test_our_own_messages_are_kept_whole() -> None:
    import logging as _logging

    from hub.logs import JsonFormatter

    record = _logging.LogRecord("hub.streams.app", _logging.INFO, __file__, 1, "worker configured 'ok'", (), None)
    assert "worker configured 'ok'" in JsonFormatter().format(record)
