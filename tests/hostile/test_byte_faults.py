"""Finding 11: byte-level faults cost their own row, never the file, and never end in a traceback.

Attacks on a 3,000-row extract: one invalid UTF-8 byte, one NUL, one field over 128 KiB, one unbalanced
quote, blank and whitespace-only rows; a file that is mostly garbage (refused whole, by the configurable
threshold); and ``hub connector load`` given such files.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from hub.cli import main
from hub.connectors import default_mapping_path, load_mapping
from hub.connectors.csv_file import CsvFileConnector, inspect_csv
from hub.connectors.service import run_once
from hub.connectors.testing import RecordingProducer
from hub.dead_letters import headers_dict
from tests.connectors.harness import csv_bytes, drop_file
from tests.connectors.test_file_drop import runtime
from tests.hostile.test_coded_fields import POLICE_ROW

SOURCE = "police_incident"
GOOD = 3000


def good_rows(n: int = GOOD) -> list[list[str]]:
    return [[f"ZZ/25/{i:06d}" if h == "CrimeRef" else v for h, v in POLICE_ROW.items()] for i in range(n)]


def hostile_file() -> bytes:
    header = list(POLICE_ROW)
    body = csv_bytes(header, good_rows())
    lines = body.split(b"\n")
    faults = [
        b"ZZ/99/000001,8N,Assault \xff with injury" + b"," * (len(header) - 3),  # invalid UTF-8
        b"ZZ/99/000002,8N,Ass\x00ault" + b"," * (len(header) - 3),  # NUL
        b'ZZ/99/000003,8N,"' + b"x" * (130 * 1024) + b'"' + b"," * (len(header) - 3),  # field > 128 KiB
        b'ZZ/99/000004,8N,"unterminated' + b"," * (len(header) - 3),  # unbalanced quote
        b"",  # blank
        b"   \t ",  # whitespace only
    ]
    # spread through the file: before, among and after the good rows
    out = [lines[0], *faults[:2], *lines[1:1500], *faults[2:4], *lines[1500:-1], *faults[4:]]
    return b"\n".join(out) + b"\n"


def test_row_faults_are_dead_lettered_and_every_good_row_flows(tmp_path: Path) -> None:
    producer = RecordingProducer()
    drop_file(tmp_path / "inbox", "hostile.csv", hostile_file())
    totals = run_once(runtime(tmp_path, producer))
    assert (totals.read, totals.published, totals.dead_lettered) == (GOOD + 6, GOOD, 6)
    dead = producer.on(f"svh.dlq.{SOURCE}")
    kinds = Counter(headers_dict(d.headers)["kind"] for d in dead)
    assert kinds == {"undecodable": 1, "nul_byte": 1, "field_too_large": 1, "unbalanced_quote": 1, "blank_row": 2}
    assert (tmp_path / "inbox" / "archive" / "hostile.csv").exists()
    assert not list((tmp_path / "inbox" / "rejected").glob("*"))
    for d in dead:  # reasons name the line and the fault, never a value
        assert b"x" * 100 not in b"".join(v for _, v in d.headers) and b"unterminated" not in b"".join(
            v for _, v in d.headers)


def test_a_mostly_garbage_file_is_refused_whole_by_the_threshold(tmp_path: Path) -> None:
    header = list(POLICE_ROW)
    garbage = b"\n".join([csv_bytes(header, good_rows(3)).rstrip(b"\n"), *[b"\xff\xfe\x00\x01" * 5] * 7]) + b"\n"
    path = tmp_path / "garbage.csv"
    path.write_bytes(garbage)
    m = load_mapping(default_mapping_path(SOURCE))
    refused = inspect_csv(path, m)
    assert refused.problem and "7 of 10 rows" in refused.problem
    assert inspect_csv(path, m, max_faulty_percent=100).problem is None
    producer = RecordingProducer()
    drop_file(tmp_path / "inbox", "garbage.csv", garbage)
    run_once(runtime(tmp_path, producer))
    assert producer.sent == []
    assert (tmp_path / "inbox" / "rejected" / "garbage.csv.reason").exists()
    assert len(list(CsvFileConnector(path, m).records())) == 10  # read row by row, never raising


@pytest.mark.parametrize("payload", [b"", b"\xff\xfe\x00garbage\x00\n", b"CrimeRef\nZZ/1\n"])
def test_connector_load_refuses_a_bad_file_in_one_line_before_kafka(tmp_path: Path, payload: bytes,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", "127.0.0.1:1")  # nothing listens: a refusal must not need Kafka
    path = tmp_path / "bad.csv"
    path.write_bytes(payload)
    assert main(["connector", "load", SOURCE, str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert main(["connector", "load", SOURCE, str(tmp_path / "missing.csv")]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and err.count("\n") == 1
