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


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(text=st.text(CHARS, max_size=30) | st.lists(st.text(CHARS, max_size=6).map(lambda t: f'"{t}"') |
                                                    st.text(CHARS, max_size=6), max_size=5).map(",".join),
       delimiter=st.sampled_from([",", ";", "\t"]), ending=st.sampled_from(["", "\n", "\r\n"]))
def test_a_quoted_row_splits_as_the_csv_module_reads_it(text: str, delimiter: str, ending: str) -> None:
    record = text.replace(",", delimiter) + ending
    if not record.encode().strip():
        return
    fast = csv_rows._quoted_cells(record, delimiter)
    if fast is None:
        return
    assert [fast] == list(csv.reader(io.StringIO(record, newline=""), delimiter=delimiter, strict=True))


def test_the_quoted_split_takes_the_common_shapes() -> None:
    assert csv_rows._quoted_cells('1,"Smith, J","say ""hi""",,""\r\n', ",") == ["1", "Smith, J", 'say "hi"', "", ""]
    assert csv_rows._quoted_cells('"a"b,c\n', ",") is None  # text after a closing quote: the csv module refuses it
    assert csv_rows._quoted_cells('a"b,c\n', ",") is None  # a quote inside an unquoted field
    assert csv_rows._quoted_cells('"a\n', ",") is None


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


LINE_PIECES = st.sampled_from(['a', 'b', ' ', 'É', ',', '"', '""', '\r', '\r\n', '\n', '\x00', '\ufeff', '\u00a0',
                               '\x0b', 'x' * 30])


@settings(max_examples=800, deadline=None, derandomize=True)
@given(lines=st.lists(st.lists(LINE_PIECES, max_size=8).map("".join), min_size=1, max_size=30),
       width=st.integers(1, 3),
       bad_bytes=st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from([b"\xff", b"\x00"])), max_size=2),
       chunk=st.sampled_from([16, 64, 300]), ending=st.sampled_from(["\n", "\r\n", ""]))
def test_reading_in_bulk_gives_what_record_by_record_gives(lines: list[str], width: int,
                                                           bad_bytes: list[tuple[int, bytes]], chunk: int,
                                                           ending: str) -> None:
    """Runs of good records read in one csv pass (``_bulk``) against the record-by-record reading, on files with
    stray quotes, blank rows, NULs, undecodable bytes, byte-order marks, bare carriage returns, rows spanning
    lines and rows of the wrong width: the same rows, faults, line numbers and messages, the same digest."""
    import hashlib
    from unittest import mock
    header = ",".join(f"c{i}" for i in range(width))
    good = [",".join(f"v{n}{i}" for i in range(width)) for n in range(5)]
    text = "\n".join([header, *good, *lines, *good]) + ending
    data = bytearray(text.encode("utf-8"))
    for at, bad in bad_bytes:
        data[at % len(data):at % len(data)] = bad
    for encoding in ("utf-8-sig", "cp1252"):
        with mock.patch.object(csv_rows, "BULK_BYTES", chunk):
            d1, d2 = Fed(), Fed()
            fast = [(row, d1.total) for row in csv_rows.rows(io.BytesIO(bytes(data)), encoding, ",", d1, bulk=True)]
            slow = [(row, d2.total) for row in csv_rows.rows(io.BytesIO(bytes(data)), encoding, ",", d2, bulk=False)]
        assert fast == slow  # the same rows, and as many bytes fed to the digest when each is given
        assert d1.hexdigest() == d2.hexdigest() == hashlib.sha256(bytes(data)).hexdigest()


class Fed:
    """A sha256 that also counts the bytes fed to it so far (``hub connector check``'s progress is that count)."""

    def __init__(self) -> None:
        import hashlib
        self.sha = hashlib.sha256()
        self.total = 0

    def update(self, data: bytes) -> None:
        self.sha.update(data)
        self.total += len(data)

    def hexdigest(self) -> str:
        return self.sha.hexdigest()


def test_good_runs_are_read_in_bulk() -> None:
    from unittest import mock
    data = b"a,b\n" + b'1,"x\r\ny"\r\n' * 50 + b"2,3\n"
    with mock.patch.object(csv_rows, "_row", side_effect=csv_rows._row) as per_record:
        got = list(csv_rows.rows(io.BytesIO(data), "utf-8", ","))
    assert per_record.call_count == 1  # the header; the rest in one csv pass
    assert [r.line for r in got[:3]] == [1, 2, 4] and got[-1] == csv_rows.Row(51, 102, ["2", "3"])
    assert got[1].cells == ["1", "x\r\ny"]


@settings(max_examples=800, deadline=None, derandomize=True)
@given(lines=st.lists(st.lists(LINE_PIECES, max_size=8).map("".join), min_size=1, max_size=30),
       width=st.integers(1, 3),
       bad_bytes=st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from([b"\xff", b"\x00"])), max_size=2),
       chunk=st.sampled_from([16, 64, 300]), ending=st.sampled_from(["\n", "\r\n", ""]))
def test_counting_gives_what_reading_gives(lines: list[str], width: int, bad_bytes: list[tuple[int, bytes]],
                                           chunk: int, ending: str) -> None:
    """The whole-file check counts (``counted``): its runs of good records stand for exactly as many fault-free
    rows of ``rows``, its other rows are ``rows``' own, and the digest ends the same."""
    import hashlib
    from unittest import mock
    header = ",".join(f"c{i}" for i in range(width))
    good = [",".join(f'"v{n},\n{i}"' if n % 2 else f"v{n}{i}" for i in range(width)) for n in range(5)]
    text = "\n".join([header, *good, *lines, *good]) + ending
    data = bytearray(text.encode("utf-8"))
    for at, bad in bad_bytes:
        data[at % len(data):at % len(data)] = bad
    for encoding in ("utf-8-sig", "cp1252"):
        with mock.patch.object(csv_rows, "BULK_BYTES", chunk):
            d1, d2 = Fed(), Fed()
            read = list(csv_rows.rows(io.BytesIO(bytes(data)), encoding, ",", d1, bulk=False))
            got = list(csv_rows.counted(io.BytesIO(bytes(data)), encoding, ",", d2))
        at = 0
        for item in got:
            if isinstance(item, int):
                assert item > 0 and all(r.fault is None and r.cells is not None and len(r.cells) == width
                                        for r in read[at:at + item])
                at += item
            else:
                assert item == read[at]
                at += 1
        assert at == len(read)
        assert d1.hexdigest() == d2.hexdigest() == hashlib.sha256(bytes(data)).hexdigest()


FIELD_PIECES = st.sampled_from(["a", " ", "É", ",", ";", '"', '""', "\r\n", "\n", "\u00a0", "\x0b", "\t"])
PLAIN = st.text(st.sampled_from(list("ab É\u00a0\x0b")), max_size=4)
QUOTED = st.lists(FIELD_PIECES, max_size=4).map("".join).map(lambda f: '"' + f.replace('"', '""') + '"')
NOISE = st.lists(FIELD_PIECES, max_size=5).map("".join)


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(data=st.data(), width=st.integers(2, 4), delimiter=st.sampled_from([",", ";", "\t"]),
       ending=st.sampled_from(["\n", "\r\n"]), last=st.booleans())
def test_a_counted_run_is_what_the_csv_pass_accepts(data: st.DataObject, width: int, delimiter: str,
                                                    ending: str, last: bool) -> None:
    """``_count_run`` never counts a text the csv pass of ``_bulk`` would refuse, and counts what it accepts
    as it does (quoted fields spanning lines, doubled quotes, stray quotes, blank and short records)."""
    field = PLAIN | QUOTED | NOISE if data.draw(st.booleans()) else PLAIN | QUOTED
    records = data.draw(st.lists(st.lists(field, min_size=width, max_size=width) |
                                 st.lists(field, min_size=1, max_size=width + 1), min_size=1, max_size=6))
    text = ending.join(delimiter.join(r) for r in records) + (ending if last else "")
    if "\x00" in text or text.count("\r") != text.count("\r\n") or not text:
        return  # refused by _bulk before either
    counted = csv_rows._count_run(text, delimiter, width)
    try:
        parsed = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error:
        parsed = None
    accepted = parsed is not None and bool(parsed) and {len(r) for r in parsed} == {width} and \
        all("".join(r).strip() for r in parsed)
    assert counted is None or (accepted and counted == len(parsed or ()))


def test_common_runs_are_counted_without_the_csv_module() -> None:
    text = 'a,"Smith, J",1\r\nb,"say ""hi""\nthen go",2\n"",x,""""\n'
    assert csv_rows._count_run(text, ",", 3) == 3
    assert csv_rows._count_run(text.replace(",", ";"), ";", 3) == 3
    assert csv_rows._count_run(text, ";", 3) is None  # the commas are not its delimiter
    assert csv_rows._count_run('a,b"c,d\n', ",", 3) is None  # a quote inside an unquoted field: the csv module's
    assert csv_rows._count_run('a,b\n , \n', ",", 2) is None  # a blank record
    assert csv_rows._count_run('a,"b\n', ",", 2) is None  # still open
