"""A CSV extract read row by row from its bytes, so a fault in one row costs that row, never the file.

Python's csv module over a decoding text stream fails the whole file at the first invalid byte, NUL,
oversized field or unbalanced quote, and only after publishing the rows before it. Here the bytes are
split into records first (physical lines, joined while a quote is open), and each record is decoded and
parsed on its own: a record that fails becomes a *faulty row* with a kind and a message (never a value),
and reading goes on with the next one. An opening quote that is still open after ``MAX_RECORD_BYTES``
(or at the end of the file) is a fault of its first line alone; the lines after it are read again as rows
of their own, so one stray quote cannot swallow the rest of the file.

Works for ASCII-compatible encodings (UTF-8, Windows-1252, Latin-1: what agencies' systems write), in
which a quote and a line feed are single bytes that never occur inside another character.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import itertools
import operator
import re
from collections.abc import Iterator
from typing import IO, Any, NamedTuple

MAX_RECORD_BYTES = 1024 * 1024
"""A quoted field may span lines; a record still open after this many bytes has an unbalanced quote."""
MAX_FIELD_CHARS = csv.field_size_limit()
"""Python's csv limit (128 Ki characters): a longer field is a faulty row (``field_too_large``)."""
FAULT_KINDS = ("blank_row", "nul_byte", "undecodable", "unbalanced_quote", "field_too_large", "malformed_csv")


class Row(NamedTuple):
    """One record of the file: ``number`` 0 is the header; ``line`` is its first physical line (1-based).

    ``cells`` is None only when not even a lenient reading can split the record (then nothing of it is
    kept). For a faulty row they come from a lenient reading (undecodable bytes kept as surrogates) and
    serve only to keep the mapped columns for the dead letter."""

    number: int
    line: int
    cells: list[str] | None
    fault: str | None = None  # one of FAULT_KINDS
    message: str = ""


class _Lines:
    """Physical lines (with their line feed) and their numbers, with push-back; feeds ``digest``."""

    def __init__(self, raw: IO[bytes], digest: Any = None) -> None:
        self._raw = raw
        self._digest = digest
        self._number = 0
        self._back: list[tuple[int, bytes]] = []

    def next(self) -> tuple[int, bytes] | None:
        if self._back:
            return self._back.pop()
        line = self._raw.readline()
        if not line:
            return None
        if self._digest is not None:
            self._digest.update(line)
        self._number += 1
        return self._number, line

    def push_back(self, lines: list[tuple[int, bytes]]) -> None:
        self._back.extend(reversed(lines))


def rows(raw: IO[bytes], encoding: str, delimiter: str, digest: Any = None, bulk: bool = True) -> Iterator[Row]:
    """Every record of the file in order, the header first; faulty records included, with their fault.

    ``bulk``: where the file allows (``_bulk``), read runs of good records in one csv pass each, with the
    same result; after a run that is not all good, record by record until past it."""
    return _records(raw, encoding, delimiter, digest, bulk, True)  # type: ignore[return-value]


def counted(raw: IO[bytes], encoding: str, delimiter: str, digest: Any = None) -> Iterator[Row | int]:
    """``rows`` for a caller that only counts (the whole-file check): the header's ``Row`` first, then each
    faulty record's ``Row`` as ``rows`` gives it, but a run of good records as their number (an int), their cells
    never made. The runs, counts, faults and the bytes fed to ``digest`` (whole runs at a time, so only its
    end state is the same) are those of ``rows``: a run is counted without the csv module where that is
    certain (``_count_run``), else read as ``rows`` reads it."""
    return _records(raw, encoding, delimiter, digest, True, False)


def _records(raw: IO[bytes], encoding: str, delimiter: str, digest: Any, bulk: bool,
             make_cells: bool) -> Iterator[Row | int]:
    lines = _Lines(raw, digest)
    delim = delimiter.encode("ascii")
    number, width = -1, 0  # width: the header's number of cells
    try:
        bulk = bulk and raw.seekable() and codecs.lookup(encoding).name in _STATELESS
    except LookupError:
        bulk = False
    retry_at = 0  # after a run that was not all good: the file position past it
    while True:
        if bulk and width and not lines._back and raw.tell() >= retry_at:
            start = raw.tell()
            run = _bulk(raw, encoding, delimiter, width, make_cells)
            if run is None:
                retry_at = start + BULK_BYTES + 1
            else:
                chunk, records = run
                first_line = lines._number + 1
                count = chunk.count(b"\n") + (0 if chunk.endswith(b"\n") else 1)
                lines._number += count
                digest = lines._digest
                if isinstance(records, int):  # counted only
                    if digest is not None:
                        digest.update(chunk)
                    number += records
                    yield records
                    continue
                if digest is not None:  # fed record by record, as reading record by record feeds it
                    starts = _line_starts(chunk)
                    ends = [line for line, _ in records[1:]] + [count]
                for k, (line, cells) in enumerate(records):
                    if digest is not None:
                        digest.update(chunk[starts[line]:starts[ends[k]]])
                    number += 1
                    yield Row(number, first_line + line, cells)
                continue
        if (first := lines.next()) is None:
            break
        taken = [first]
        size, open_quote = len(first[1]), _open_after(first[1], False, delim)
        while open_quote and size <= MAX_RECORD_BYTES and (more := lines.next()) is not None:
            taken.append(more)
            size += len(more[1])
            open_quote = _open_after(more[1], True, delim)
        number += 1
        row = None if open_quote else _row(number, first[0], b"".join(line for _, line in taken), encoding,
                                           delimiter)
        if len(taken) > 1 and (row is None or row.fault or (width and len(row.cells or ()) != width)):
            # A quote opened on this line and what it swallowed does not make one good row: a stray quote, not a
            # field spanning lines. Only this line is refused; the lines after it are read again as rows.
            lines.push_back(taken[1:])
            row = Row(number, first[0], _lenient(first[1], encoding, delimiter), "unbalanced_quote",
                      "an opening quote is not closed on its line, and the lines it would take in do not make one "
                      "well-formed row (only this line is refused; the next lines are read again)")
        elif row is None:  # one line, still open at the end of the file
            row = Row(number, first[0], _lenient(first[1], encoding, delimiter), "unbalanced_quote",
                      "an opening quote is not closed by the end of the file")
        if number == 0 and row.cells:
            width = len(row.cells)
        yield row


BULK_BYTES = 16 * 1024
"""How much of the file is tried in one csv pass at a time (``_bulk``)."""
_STATELESS = {"utf-8", "utf-8-sig", "ascii", "cp1252", "latin-1", "iso8859-1", "iso8859-15"}
_BOM = b"\xef\xbb\xbf"


def _bulk(raw: IO[bytes], encoding: str, delimiter: str, width: int,
          cells: bool = True) -> tuple[bytes, list[tuple[int, list[str]]] | int] | None:
    """The next ``BULK_BYTES`` or so of the file (whole lines), read in one csv pass, if they hold only records
    ``rows`` would read without a fault, each with the header's ``width`` cells and none blank; else None and
    the file is where it was. Returns the bytes and each record's (first line within them, cells), or with
    ``cells`` False only their number (``_count_run`` if it can tell, else the csv pass's).

    ``rows`` splits records itself so one bad row costs only that row; a run of lines with no bad row in it,
    starting where a record starts, is exactly the csv module's rows over their text (a test compares the
    two readings on files with bad rows of every kind). Certain means: a stateless ASCII-compatible
    encoding that decodes the run, no NUL, no byte-order mark, no carriage return outside a CRLF, strict csv
    reads it to the end (a quote still open at the end fails), every record has ``width`` cells, none is
    blank, none is near ``MAX_RECORD_BYTES``."""
    start = raw.tell()
    chunk = raw.read(BULK_BYTES)
    if chunk and not chunk.endswith(b"\n"):
        chunk += raw.readline()
    odd = chunk.count(b'"') & 1  # most likely a quoted field goes on past the last line: take in the lines it spans
    limit = len(chunk) + BULK_BYTES
    while odd and len(chunk) < limit and (line := raw.readline()):
        chunk += line
        odd ^= line.count(b'"') & 1
    if (not chunk or b"\x00" in chunk or _BOM in chunk or chunk.count(b"\r") != chunk.count(b"\r\n")):
        raw.seek(start)
        return None
    try:
        text = chunk.decode(encoding)
    except UnicodeDecodeError:
        raw.seek(start)
        return None
    if not cells and (n := _count_run(text, delimiter, width)) is not None:
        return chunk, n
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except (ValueError, csv.Error):
        raw.seek(start)
        return None
    joined = list(map("".join, records))
    if (not records or set(map(len, records)) != {width} or not all(map(str.strip, joined))
            or 4 * max(map(len, joined)) + 3 * width + 2 > MAX_RECORD_BYTES):
        raw.seek(start)
        return None
    if not cells:
        return chunk, len(records)
    # A record's lines: one, and one more per line feed inside its (quoted) cells; no bare CR in the run.
    firsts = [0, *itertools.accumulate(text.count("\n") + 1 for text in joined)]
    return chunk, list(zip(firsts[:-1], records, strict=True))


def _count_run(text: str, delimiter: str, width: int) -> int | None:
    """How many records the csv pass of ``_bulk`` would read in ``text`` and accept, told with a few string
    operations instead (no cells made: several times faster), or None when that is not certain (then
    ``_bulk`` asks the csv module). ``_bulk`` has already refused NULs, byte-order marks and bare carriage
    returns, so a carriage return is always the first half of a CRLF.

    Split at the quotes, a text the csv module reads (strict) alternates outside and inside quoted fields:
    every quoted field opens at a field's start (after a delimiter or a line feed, or at the start of the
    text) and closes before a delimiter, a line ending or the end of the text, or before another quote (then
    the two are ``""``, a quote inside the field, and the piece between them is empty). A text that is not
    so (a quote inside an unquoted field, text after a closing quote, an odd number of quotes) is left to the
    csv module. Outside the quotes, each line is then one record, with exactly ``width - 1`` delimiters if it
    has ``width`` cells. A blank record (its cells only whitespace) is refused by ``_bulk``: any line made
    only of whitespace, quotes and delimiters (every line of a blank record is) sends the text to the csv
    pass, as does a text long enough that a record could come near ``MAX_RECORD_BYTES`` or a field near
    the csv module's field size limit. A test compares the counts with the csv pass's."""
    if width < 2 or len(delimiter) != 1 or delimiter in '"\r\n':
        return None
    if 4 * len(text) + 3 * width + 2 > MAX_RECORD_BYTES or len(text) > csv.field_size_limit():
        return None
    pieces = text.split('"')
    quotes = len(pieces) - 1
    if quotes & 1:
        return None
    outside = text
    if quotes:
        opens, closes = (delimiter, "\n"), (delimiter, "\r", "\n")
        if pieces[0] and pieces[0][-1] not in opens or pieces[-1] and pieces[-1][0] not in closes:
            return None
        for piece in itertools.islice(pieces, 2, quotes, 2):
            if piece and (piece[0] not in closes or piece[-1] not in opens):
                return None
        outside = "".join(pieces[::2])
    records = outside.split("\n")
    if text.endswith("\n"):
        records.pop()
    if not records or set(map(operator.methodcaller("count", delimiter), records)) != {width - 1}:
        return None
    if _blank_line(delimiter).search("\n" + text, 0, len(text) if text.endswith("\n") else len(text) + 1):
        return None
    return len(records)


@functools.lru_cache(maxsize=16)
def _blank_line(delimiter: str) -> re.Pattern[str]:
    """A line of only whitespace, quotes and delimiters, after a line feed (``\\s`` is ``str.isspace``, what
    ``str.strip`` strips)."""
    return re.compile(rf'\n[\s"{re.escape(delimiter)}]*(?:\n|\Z)')


def _line_starts(chunk: bytes) -> list[int]:
    """Where each line of ``chunk`` starts, and its length at the end."""
    starts = [0]
    at = chunk.find(b"\n")
    while at >= 0:
        starts.append(at + 1)
        at = chunk.find(b"\n", at + 1)
    if starts[-1] != len(chunk):
        starts.append(len(chunk))
    return starts


def _open_after(line: bytes, in_quotes: bool, delim: bytes) -> bool:
    """Whether a quoted field is still open at the end of ``line`` (CSV rules: a quote opens a field only at
    its start, ``""`` inside one is a quote; elsewhere a quote is an ordinary character)."""
    pos = 0
    while (q := line.find(b'"', pos)) >= 0:
        if in_quotes:
            if line[q + 1:q + 2] == b'"':
                pos = q + 2
                continue
            in_quotes = False
        elif q == 0 or line[q - 1:q] == delim:
            in_quotes = True
        pos = q + 1
    return in_quotes


def _row(number: int, line: int, data: bytes, encoding: str, delimiter: str) -> Row:
    if not data.strip():
        return Row(number, line, [], "blank_row", "blank or whitespace-only row")
    if b"\x00" in data:
        return Row(number, line, _lenient(data, encoding, delimiter), "nul_byte",
                   "holds a NUL byte (not text)")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        return Row(number, line, _lenient(data, encoding, delimiter), "undecodable",
                   f"not readable as {encoding} (byte {exc.start + 1} of the row); check the mapping's "
                   "format.encoding")
    cells = _plain_cells(text, delimiter)
    if cells is None:
        cells = _quoted_cells(text, delimiter)
    if cells is not None:
        return Row(number, line, cells) if any(c.strip() for c in cells) else \
            Row(number, line, [], "blank_row", "blank or whitespace-only row")
    try:
        parsed = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            return Row(number, line, None, "field_too_large",
                       f"a field is longer than {MAX_FIELD_CHARS // 1024} Ki characters")
        return Row(number, line, _lenient(data, encoding, delimiter), "malformed_csv",
                   f"not well-formed CSV ({exc})")
    if len(parsed) != 1:  # pragma: no cover - a balanced record is one CSV row
        return Row(number, line, None, "malformed_csv", "not one CSV row")
    cells = parsed[0]
    if not any(c.strip() for c in cells):
        return Row(number, line, [], "blank_row", "blank or whitespace-only row")
    return Row(number, line, cells)


def _plain_cells(text: str, delimiter: str) -> list[str] | None:
    """The cells of a record with no quote and no line break inside (most rows), split without the csv module:
    there the csv module's result is exactly this split (a test compares them). None for any other record."""
    body = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
    if '"' in body or "\r" in body or "\n" in body or len(body) > MAX_FIELD_CHARS:
        return None
    return body.split(delimiter)


def _quoted_cells(text: str, delimiter: str) -> list[str] | None:
    """The cells of a one-line record whose quoted fields are all well-formed (most quoted rows: free text with
    a comma), read without the csv module: each field either has no quote or is wholly quoted, ``""`` inside it
    being a quote. That is what the csv module (strict) reads there (a test compares them). None for any other
    record (a quote inside an unquoted field, text after a closing quote, a line break, an unclosed quote,
    a long record): the csv module decides those."""
    body = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
    if "\r" in body or "\n" in body or len(body) > MAX_FIELD_CHARS:
        return None
    cells: list[str] = []
    pos, end = 0, len(body)
    while True:
        if body.startswith('"', pos):
            parts = []
            start = pos + 1
            while True:
                q = body.find('"', start)
                if q < 0:
                    return None
                parts.append(body[start:q])
                if body.startswith('"', q + 1):
                    parts.append('"')
                    start = q + 2
                    continue
                break
            cells.append("".join(parts))
            after = q + 1
            if after == end:
                return cells
            if body[after] != delimiter:
                return None
            pos = after + 1
        else:
            d = body.find(delimiter, pos)
            field = body[pos:] if d < 0 else body[pos:d]
            if '"' in field:
                return None
            cells.append(field)
            if d < 0:
                return cells
            pos = d + 1


def _lenient(data: bytes, encoding: str, delimiter: str) -> list[str] | None:
    """The cells of a faulty record as well as they can be read, or None."""
    text = data.decode(encoding, "surrogateescape").replace("\x00", "")
    try:
        parsed = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error:
        return None
    return parsed[0] if len(parsed) == 1 else None
