"""Finding 14: errors people see are one clear line with a documented exit code, never a traceback.

Attacks on ``hub connector load``: a misspelt source name, a missing file, a file that cannot be read,
and Kafka down (nothing listens at the bootstrap address).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.cli import KAFKA_UNAVAILABLE, main
from tests.connectors.harness import csv_bytes
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
