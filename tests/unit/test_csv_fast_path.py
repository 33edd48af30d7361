"""The CSV reader's fast paths give exactly what the csv module gives, so publishing faster changes no byte."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.connectors import csv_rows
from hub.connectors.csv_file import CsvFileConnector
from hub.connectors.mapping import FieldMapping

CHARS = st.sampled_from(list("ab ZÉ9,;\t\"\r\n\x0b\u2028") + ["\u00a0"])


@settings(max_examples=400, deadline=None, derandomize=True)
@given(text=st.text(CHARS, max_size=30), delimiter=st.sampled_from([",", ";", "\t"]),
       ending=st.sampled_from(["", "\n", "\r\n"]))
def test_a_plain_row_splits_as_the_csv_module_reads_it(text: str, delimiter: str, ending: str) -> None:
    record = text + ending
    if not record.encode().strip():
        return  # a blank row is told apart before any parsing
    fast = csv_rows._plain_cells(record, delimiter)
    if fast is None:
        return
    assert [fast] == list(csv.reader(io.StringIO(record, newline=""), delimiter=delimiter, strict=True))


@settings(max_examples=400, deadline=None, derandomize=True)
@given(cells=st.lists(st.text(CHARS, max_size=8), min_size=1, max_size=5),
       delimiter=st.sampled_from([",", ";", "\t"]))
def test_a_dead_letters_original_is_what_csv_writer_writes(cells: list[str], delimiter: str) -> None:
    mapping = FieldMapping(source="police_incident", path="m.yaml", fields=[], delimiter=delimiter)
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerow(cells)
    assert CsvFileConnector(Path("x.csv"), mapping)._original(cells) == buf.getvalue().encode("utf-8")


def test_rows_with_and_without_quotes_read_the_same(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b'id,name\r\n1,Ann\r\n2,"Smith, J"\n3,\n,\n')
    with path.open("rb") as raw:
        got = [(r.cells, r.fault) for r in csv_rows.rows(raw, "utf-8", ",")]
    assert got == [(["id", "name"], None), (["1", "Ann"], None), (["2", "Smith, J"], None), (["3", ""], None),
                   ([], "blank_row")]
