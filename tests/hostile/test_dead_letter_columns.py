"""Finding 4: a dead letter carries only the columns the mapping reads, never one nobody agreed to share.

Attack: an extract with an extra ``MentalHealthNotes`` column holding a canary, in rows that are rejected
(a bad date, a wrong column count), through the file, database and HTTP readers.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hub.connectors import CsvFileConnector, default_mapping_path, load_mapping
from hub.connectors.json_records import json_record
from hub.connectors.modes.database import row_record
from tests.hostile.test_coded_fields import POLICE_ROW

CANARY = "Zebedee Quillfeather self-harm history"
MAPPING = load_mapping(default_mapping_path("police_incident"))


def write_csv(path: Path, rows: list[dict[str, str]], extra_cells: int = 0) -> None:
    buf = io.StringIO()
    header = [*POLICE_ROW, "MentalHealthNotes"]
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow([*(row.get(h, "") for h in header), *([CANARY] * extra_cells)])
    path.write_text(buf.getvalue(), encoding="utf-8")


def test_a_rejected_csv_row_keeps_only_mapped_columns(tmp_path: Path) -> None:
    path = tmp_path / "extract.csv"
    bad_date = {**POLICE_ROW, "OccurredFrom": "31/02/2025 25:61", "MentalHealthNotes": CANARY}
    write_csv(path, [bad_date, {**POLICE_ROW, "CrimeRef": "ZZ/25/000778", "MentalHealthNotes": CANARY}])
    records = list(CsvFileConnector(path, MAPPING).records())
    assert records[0].error is not None and records[1].error is None
    for rec in records:
        assert b"Zebedee" not in rec.original
    assert b"ZZ/25/000777" in records[0].original  # the mapped columns are kept, for repair


def test_a_row_with_too_many_cells_keeps_only_mapped_columns(tmp_path: Path) -> None:
    path = tmp_path / "extract.csv"
    write_csv(path, [{**POLICE_ROW, "MentalHealthNotes": CANARY}], extra_cells=2)
    [rec] = list(CsvFileConnector(path, MAPPING).records())
    assert rec.error is not None and rec.error.kind == "wrong_column_count"
    assert b"Zebedee" not in rec.original


def test_a_rejected_database_row_keeps_only_mapped_columns() -> None:
    row = {**POLICE_ROW, "OccurredFrom": "not a date", "MentalHealthNotes": CANARY}
    rec = row_record(row, MAPPING, "incidents row 1")
    assert rec.error is not None
    assert b"Zebedee" not in rec.original and b"ZZ/25/000777" in rec.original


def test_a_rejected_http_record_keeps_only_mapped_keys() -> None:
    rec = json_record({**POLICE_ROW, "MentalHealthNotes": CANARY}, MAPPING, "POST 1 record 1")
    assert rec.error is not None and rec.error.kind == "unknown_column"
    assert b"Zebedee" not in rec.original
    rec = json_record([CANARY], MAPPING, "POST 1 record 2")
    assert rec.error is not None and b"Zebedee" not in rec.original
