"""Finding 14: errors people see are one clear line with a documented exit code, never a traceback.

Attacks on ``hub connector load``: a misspelt source name, a missing file, a file that cannot be read,
and Kafka down (nothing listens at the bootstrap address). On ``hub connector check``: bad rows (it must
not claim to have dead-lettered them, nor repeat their positions, and sums up in a table), a long sample
(progress, also in a log without a terminal) and unusable samples. On every settings variable and every
YAML file the hub reads (agreement, mapping, connector config, tokens, alert rules): wrong types, missing
and unknown keys, empty files, lists for mappings, bad nested items; each problem one line
``file:line: key: plain words``, never pydantic's wording.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.cli import KAFKA_UNAVAILABLE, main
from tests.connectors.harness import csv_bytes, write_config
from tests.hostile.test_coded_fields import POLICE_ROW


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    err = captured.err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err + captured.out
    return err


def test_an_unknown_source_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    assert main(["connector", "load", "police_incidnt", str(tmp_path / "x.csv")]) == 2
    assert "police_incidnt" in one_error_line(capsys)


def test_a_missing_file_is_one_line_before_kafka(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    assert main(["connector", "load", "police_incident", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in one_error_line(capsys)


def test_kafka_down_is_one_line_and_exit_69(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    path = tmp_path / "good.csv"
    path.write_bytes(csv_bytes(list(POLICE_ROW), [list(POLICE_ROW.values())]))
    assert main(["connector", "load", "police_incident", str(path)]) == KAFKA_UNAVAILABLE
    assert "did not answer" in one_error_line(capsys)


# --- the same for every other command and file an agency's IT team or an operator touches ---------------

PYDANTIC_WORDING = re.compile(r"Input should|Field required|value_error|\[type=|pydantic\.dev|Value error|"
                              r"Extra inputs|validation error|String should|Assertion failed|Traceback|\{'")


def error_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    lines = captured.err.splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), captured.err
    assert not [line for line in lines if PYDANTIC_WORDING.search(line)], lines
    return lines


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("HUB_TOPIC_PARTITIONS", "abc", "must be a whole number"),
    ("HUB_TOPIC_PARTITIONS", "0", "must be at least 1"),
    ("HUB_METRICS_PORT", "99999", "must be at most 65535"),
    ("HUB_LOG_LEVEL", "LOUD", "must be DEBUG, INFO, WARNING or ERROR"),
    ("HUB_SECURITY_PROTOCOL", "TLS", "must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
    ("HUB_SECURITY_PROTOCOL", "SASL_SSL", "SASL_SSL needs sasl_mechanism, sasl_username and sasl_password"),
    ("HUB_WORKER_INSTANCE", "a b", "must be 1 to 100 letters, digits"),
    ("HUB_PREVIOUS_KEY_UNTIL", "soon", "must be a date and time"),
    ("HUB_MART_URL", "nonsense", "not a SQLAlchemy URL"),
    ("HUB_POSTCODE_LOOKUP", "/nonexistent/nspl.csv", "/nonexistent/nspl.csv is not a file"),
    ("HUB_RAW_RETENTION_HOURS", "-1", "must be at least 1"),
])
def test_a_bad_setting_is_one_plain_line_naming_its_variable(variable: str, value: str, message: str,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["mart", "counts", "--purpose", "sna"]) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith(f"error: {variable}: {message}"), lines


@pytest.mark.parametrize(("text", "expected"), [
    ("topic_prefix: x\nmetrics_prot: 9300\n", "{path}:2: metrics_prot: unknown key (misspelt?)"),
    ("log_level: INFO\ntopic_partitions: [1]\n", "{path}:2: topic_partitions: must be a whole number"),
    ("- a\n- b\n", "{path}:1: the settings file: must be a mapping of setting: value"),
    ("topic_partitions: [\n", "{path}:2: the settings file: not valid YAML"),
])
def test_a_bad_settings_file_is_file_line_key_message(text: str, expected: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("HUB_CONFIG", str(path))
    assert main(["mart", "counts", "--purpose", "sna"]) == 2
    assert error_lines(capsys)[0].startswith("error: " + expected.format(path=path))


# Broken YAML of every kind the hub reads: (what the file is, a change to the shipped example, a word the
# message must hold). ``None`` as the change: an empty file; a list or text: the whole file replaced.
AGREEMENT = [("empty", None, "is empty"), ("a list", ["a", "b"], "must be a mapping"),
             ("wrong type", ("agreement.version", [1, 2]), "must be text"),
             ("missing key", ("parties", DELETE := object()), "is required"),
             ("unknown key", ("sources.police_incident.surprise", 1), "unknown key"),
             ("bad item", ("parties[0]", "a party"), "must be a mapping"),
             ("bad number", ("sources.police_incident.retention_days", "soon"), "whole number")]
MAPPING = [("empty", None, "is empty"), ("text", "fields", "must be a mapping"),
           ("unknown encoding", ("format.encoding", "klingon"), "unknown text encoding"),
           ("bad item", ("fields.record_id", "CrimeRef"), "column"),
           ("missing key", ("source", DELETE), "is required"),
           ("unknown key", ("format.surprise", 1), "unknown key"),
           ("wrong type", ("require_one_of", "x"), "must be a list")]
CONFIG = [("empty", None, "is empty"), ("a list", [1], "must be a mapping"),
          ("wrong type", ("http.max_records", "many"), "must be a whole number"),
          ("out of range", ("health.port", 99999), "must be at most 65535"),
          ("missing key", ("state_dir", DELETE), "is required"),
          ("unknown key", ("kafka.surprise", 1), "unknown key"),
          ("bad name", ("name", "Bad Name!"), "lower-case letters"),
          ("path of a wrong type", ("state_dir", [1, 2]), "must be a file or folder path"),
          ("mode of a wrong type", ("mode", ["http"]), "must be one of database, file_drop, http")]
TOKENS = [("empty", None, "is empty"), ("a list", ["x"], "must be a mapping"),
          ("wrong type", ("tokens", "x"), "must be a list"),
          ("bad item", ("tokens[0]", "a-plain-token"), "never the token itself"),
          ("bad hash", ("tokens[0].sha256", "abc"), "64 hex digits"),
          ("unknown key", ("surprise", 1), "unknown key")]
RULES = [("empty", None, "is empty"), ("a list", [1], "must be a mapping"),
         ("empty list", ("owhr.weapon_flags", []), "must not be empty"),
         ("out of range", ("hotspots.alpha", 2), "must be less than 0.5"),
         ("missing key", ("version", DELETE), "is required"),
         ("unknown key", ("owhr.surprise", 1), "unknown key"),
         ("wrong type", ("hotspots.baseline_weeks", "eight"), "must be a whole number")]


def changed(original: Any, change: Any) -> str:
    if change is None:
        return ""
    if not isinstance(change, tuple):
        return yaml.safe_dump(change)
    data = copy.deepcopy(original)
    path, value = change
    parts = [int(p) if p.isdigit() else p for p in re.split(r"\.|\[|\]\.?", path) if p]
    node = data
    for part in parts[:-1]:
        node = node[part]
    if value is DELETE:
        del node[parts[-1]]
    else:
        node[parts[-1]] = value
    return yaml.safe_dump(data, sort_keys=False)


def broken_yaml_cases() -> list[Any]:
    return [pytest.param(kind, change, word, id=f"{kind}: {what}") for kind, cases in
            (("agreement", AGREEMENT), ("mapping", MAPPING), ("config", CONFIG), ("tokens", TOKENS),
             ("rules", RULES)) for what, change, word in cases]


@pytest.mark.parametrize(("kind", "change", "word"), broken_yaml_cases())
def test_a_broken_yaml_file_is_one_line_a_problem_with_file_line_and_key(
        kind: str, change: Any, word: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.alerts.rules import default_rules_path
    from hub.connectors import default_mapping_path
    from hub.connectors.modes.http_push import add_token, new_token
    from hub.policy import example_agreement_path

    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", "127.0.0.1:1")  # nothing may reach Kafka: all fail before it
    sample = tmp_path / "sample.csv"
    sample.write_bytes(csv_bytes(list(POLICE_ROW), [list(POLICE_ROW.values())]))
    tokens = tmp_path / "tokens.yaml"
    add_token(tokens, "agency-system", new_token()[1])
    config = write_config(tmp_path, "http", "police_incident", tokens_file=str(tokens))
    original_path, argv = {
        "agreement": (example_agreement_path(), ["policy", "check"]),
        "mapping": (default_mapping_path("police_incident"),
                    ["connector", "load", "police_incident", str(sample), "--mapping"]),
        "config": (config, ["connector", "check", str(sample), "--rows", "1"]),
        "tokens": (tokens, ["connector", "check", str(config), str(sample)]),
        "rules": (default_rules_path(), ["reviews", "rules", "--file"]),
    }[kind]
    path = tmp_path / f"broken-{kind}.yaml"
    path.write_text(changed(yaml.safe_load(Path(original_path).read_text("utf-8")), change), encoding="utf-8")
    if kind == "tokens":
        path.replace(tokens)
        path = tokens
    elif kind == "config":
        argv = ["connector", "check", str(path), *argv[2:]]
    else:
        argv = [*argv, str(path)]
    assert main(argv) == 2
    lines = error_lines(capsys)
    where = re.compile(rf"error: {re.escape(str(path))}:\d+: [^\s:][^:]*: \S")
    assert all(where.match(line) for line in lines), lines
    assert any(word in line for line in lines), lines


def test_connector_check_says_nothing_was_written_and_sums_up_in_a_table(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    bad = {**POLICE_ROW, "HOOffenceCode": "ZZ9"}
    rows = [list(POLICE_ROW.values())] * 3 + [list(bad.values())] * 9 + [["too", "few"]]
    sample = tmp_path / "sample.csv"
    sample.write_bytes(csv_bytes(list(POLICE_ROW), rows))
    assert main(["connector", "check", str(write_config(tmp_path, "file_drop", "police_incident")), str(sample),
                 "--rows", "2"]) == 0
    captured = capsys.readouterr()
    assert "dead-lettered a record" not in captured.err  # check writes no dead letter, so says none
    lines = captured.out.splitlines()
    for line in lines:  # each row's position once, not "sample.csv row 5: ...: sample.csv row 5: ..."
        positions = re.findall(r"\brow \d+\b", line)
        assert len(positions) == len(set(positions)), line
    assert not [line for line in lines if line.startswith(("{", "sample: {")) or "': " in line]  # no Python dict
    assert "sample sample.csv: nothing was sent" in lines
    for outcome, n in (("records read", 13), ("would be published", 3), ("would be dead-lettered", 10),
                       ("unknown_offence_code", 9), ("wrong_column_count", 1)):
        assert any(re.fullmatch(rf"\s+{outcome}\s+{n}", line) for line in lines), (outcome, lines)
    beyond = lines.index("dead-lettered rows beyond those shown:")
    assert re.fullmatch(r"\s+row\s+reason\s+column\s+what is wrong", lines[beyond + 1])
    assert any(re.fullmatch(r"\s+row 6\s+unknown_offence_code\s+HOOffenceCode\s+unknown Home Office offence code",
                            line) for line in lines[beyond:])


def test_connector_check_shows_progress_on_a_long_sample_without_a_terminal(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.cli import progress
    monkeypatch.setattr(progress, "PLAIN_EVERY_S", 0.0)  # a line at each update, not every 10 s
    sample = tmp_path / "long.csv"
    sample.write_bytes(csv_bytes(list(POLICE_ROW), [list(POLICE_ROW.values())] * 2000))
    assert main(["connector", "check", str(write_config(tmp_path, "file_drop", "police_incident")), str(sample),
                 "--rows", "0"]) == 0
    err = capsys.readouterr().err
    assert "checking long.csv: 1,000 records, 50% of the file" in err  # the plain lines a log file gets
    assert re.search(r"checking long.csv .*100%.* 2,000 records", err)  # and rich's bar at the end


@pytest.mark.parametrize(("name", "content", "message"), [
    ("missing.csv", None, "missing.csv: no such file"),
    ("folder.csv", "folder", "folder.csv: is a folder, not a file"),
    ("broken.json", "{not json", "broken.json: not a JSON file of records"),
    ("object.json", '{"rows": []}', "object.json: must hold a JSON list of records"),
])
def test_connector_check_of_an_unusable_sample_is_one_line(name: str, content: str | None, message: str,
                                                           tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    sample = tmp_path / name
    if content == "folder":
        sample.mkdir()
    elif content is not None:
        sample.write_text(content, encoding="utf-8")
    assert main(["connector", "check", str(write_config(tmp_path, "file_drop", "police_incident")),
                 str(sample)]) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith(f"error: {tmp_path}/{message}"), lines


def test_connector_load_of_a_folder_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    assert main(["connector", "load", "police_incident", str(tmp_path)]) == 2
    assert one_error_line(capsys) == f"error: {tmp_path}: is a folder, not a file\n"


def test_connector_check_at_the_source_says_quarantined_not_dead_lettered(tmp_path: Path) -> None:
    from hub.connectors.check import check
    from hub.pseudonymisation import KeyRing, save_key_file
    from tests.connectors.harness import FIXTURES
    save_key_file(KeyRing.generate(holder="agency:example-hospitals"), tmp_path / "keys.json")
    config = write_config(tmp_path, "file_drop", "ed_attendance",
                          extra={"pseudonymisation": {"keys_file": str(tmp_path / "keys.json")}})
    sample = tmp_path / "ed.csv"
    sample.write_bytes((FIXTURES / "ed_attendance.csv").read_bytes() + b"too,few\n")
    code, lines = check(config, sample, rows=100)
    assert code == 0
    assert not [line for line in lines if "dead-letter" in line.lower()]  # a trust's bad rows stay in the trust
    assert any(line.endswith("WOULD BE QUARANTINED AT THE SOURCE (wrong_column_count, stage validate): "
                             "wrong_column_count") for line in lines)
    assert any(re.fullmatch(r"\s+would be quarantined at the source\s+1", line) for line in lines)


def test_the_pipeline_benchs_postgresql_down_is_one_line_and_exit_69(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """``hub bench pipeline --mart-url`` with nothing listening: one line naming no URL (it holds a password)."""
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    assert main(["bench", "pipeline", "--mart-url", "postgresql+psycopg://svh:s3cret@127.0.0.1:1/svh",
                 "--latency-seconds", "0", "--incidents", "50", "--workers", "1"]) == KAFKA_UNAVAILABLE
    line = one_error_line(capsys)
    assert "--mart-url did not answer" in line and "s3cret" not in line
