"""CSV extracts: the commonest way agencies hand data over today."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import operator
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from hub.connectors import csv_rows
from hub.connectors.base import Connector, SourceRecord
from hub.connectors.mapping import FieldMapping, RowError
from hub.connectors.plan import compile_plan, count_places
from hub.schemas import SchemaRepository
from hub.yamlsource import ConfigError


def text_encoding(mapping: FieldMapping) -> str:
    """The codec to read with: Excel writes a byte-order mark before the header, and utf-8-sig reads files
    with or without one."""
    return "utf-8-sig" if mapping.encoding.lower().replace("_", "-") in ("utf-8", "utf8") else mapping.encoding


class _HashingReader(io.RawIOBase):
    """Passes bytes through while hashing them, so the bytes published are the bytes checked."""

    def __init__(self, raw: IO[bytes], digest: Any) -> None:
        self.raw = raw
        self.digest = digest

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        chunk = self.raw.read(len(b))
        n = len(chunk)
        b[:n] = chunk
        self.digest.update(chunk)
        return n


def open_text(path: Path, mapping: FieldMapping, digest: Any = None) -> IO[str]:
    """``path`` as text in the mapping's encoding (strict: undecodable bytes raise), hashing if asked."""
    raw: IO[bytes] = path.open("rb")
    if digest is not None:
        raw = io.BufferedReader(_HashingReader(raw, digest))
    return io.TextIOWrapper(raw, encoding=text_encoding(mapping), errors="strict", newline="")


PLAN_BATCH = 256
"""Rows the compiled plan encodes at a time (column by column)."""


def missing_columns(header: list[str], mapping: FieldMapping) -> list[str]:
    return [c for c in mapping.columns if c not in header]


@dataclass(frozen=True)
class Inspection:
    """The result of reading a whole file before publishing any of it."""

    sha256: str
    rows: int  # records after the header, blank ones included
    problem: str | None = None  # why the file must be refused; names lines and columns, never values
    faulty: int = 0  # rows that cannot be read as CSV (bytes, quotes, sizes): each becomes a dead letter
    blank: int = 0  # blank or whitespace-only rows: counted (and dead-lettered), never silently skipped


DEFAULT_MAX_FAULTY_PERCENT = 50.0
"""Like Kafka Connect's ``errors.tolerance``: a file with more unreadable rows than this share is refused
whole (it is most likely the wrong file or the wrong encoding), else each faulty row is dead-lettered."""


def inspect_csv(path: Path, mapping: FieldMapping,
                max_faulty_percent: float = DEFAULT_MAX_FAULTY_PERCENT) -> Inspection:
    """Read ``path`` completely before anything is published: a readable header with every mapped column and
    no duplicates; the rows that cannot be read as CSV are counted, and the file is refused only if they
    are more than ``max_faulty_percent`` of its rows. Never raises on bad bytes."""
    digest = hashlib.sha256()
    count = faulty = blank = 0
    with path.open("rb") as raw:
        # Counted, not read into cells: runs of good records come as their number (``csv_rows.counted``).
        it = csv_rows.counted(raw, text_encoding(mapping), mapping.delimiter, digest)
        head = next(it, None)
        if head is None:
            return Inspection(digest.hexdigest(), 0, "the file is empty: it has no header line")
        assert isinstance(head, csv_rows.Row)
        if head.fault or not head.cells:
            return Inspection(_file_sha256(path), 0, f"the header line cannot be read: {head.message}")
        problem = _header_problem([h.strip() for h in head.cells], mapping)
        if problem:
            return Inspection(_file_sha256(path), 0, problem)
        for row in it:
            if isinstance(row, int):
                count += row
                continue
            count += 1
            if row.fault == "blank_row":
                blank += 1
            elif row.fault:
                faulty += 1
    problem = None
    if faulty and faulty * 100 > max_faulty_percent * count:
        problem = (f"{faulty} of {count} rows cannot be read as CSV in {mapping.encoding} (more than "
                   f"{max_faulty_percent:g}%): check the mapping's format.encoding and delimiter")
    return Inspection(digest.hexdigest(), count, problem, faulty, blank)


def _header_problem(header: list[str], mapping: FieldMapping) -> str | None:
    missing = missing_columns(header, mapping)
    if missing:
        return f"the header lacks mapped column(s) {', '.join(missing)} (mapping {mapping.path})"
    duplicated = sorted({h for h in header if header.count(h) > 1 and h in mapping.columns})
    if duplicated:
        return f"the header names column(s) {', '.join(duplicated)} more than once"
    return None


def _header_line(header: list[str]) -> bytes:
    """The column names as one comma-separated UTF-8 line, whatever the file's own delimiter and encoding."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(header)
    return buf.getvalue().encode("utf-8")


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class CsvFileConnector(Connector):
    """Reads one CSV file with a field mapping. A header that lacks a mapped column refuses the whole
    file before anything is published, so a wrong extract is never half-published.

    ``digest`` (a hashlib object), if given, is fed every byte read, so a caller can tell whether the
    file it published is the file it checked."""

    def __init__(self, path: Path, mapping: FieldMapping, digest: Any = None) -> None:
        self.path = path
        self.mapping = mapping
        self.source = mapping.source
        self.digest = digest

    def _original(self, cells: list[str]) -> bytes:
        delim = self.mapping.delimiter
        line = delim.join(cells)
        if (len(cells) > 1 or line) and line.count(delim) == len(cells) - 1 and '"' not in line \
                and "\r" not in line and "\n" not in line:
            # nothing to quote: what csv.writer would write (most rows; a test compares them)
            return (line + "\n").encode(self.mapping.encoding, "surrogateescape")
        buf = io.StringIO()
        csv.writer(buf, delimiter=self.mapping.delimiter, lineterminator="\n").writerow(cells)
        return buf.getvalue().encode(self.mapping.encoding, "surrogateescape")  # undecodable bytes kept as read

    def check_header(self, header: list[str]) -> None:
        missing = missing_columns(header, self.mapping)
        if missing:
            raise ConfigError(f"{self.path}: header lacks mapped column(s) {', '.join(missing)} "
                              f"(mapping {self.mapping.path}); nothing was published")

    def _open(self, raw: IO[bytes]) -> tuple[Iterator[csv_rows.Row], list[str] | None]:
        """The rows after the header, and the header (stripped; None for an empty file); refuses a bad header."""
        it = csv_rows.rows(raw, text_encoding(self.mapping), self.mapping.delimiter, self.digest)
        head = next(it, None)
        if head is None:
            return it, None
        if head.fault or not head.cells:
            raise ConfigError(f"{self.path}: the header line cannot be read ({head.message}); "
                              "nothing was published")
        header = [h.strip() for h in head.cells]
        self.check_header(header)
        return it, header

    def records(self) -> Iterator[SourceRecord]:
        """Every row after the header as a record; a row that cannot be read (bad bytes, a NUL, an unbalanced
        quote, an oversized field, a blank row) is a record with its error, and reading goes on."""
        with self.path.open("rb") as raw:
            it, header = self._open(raw)
            if header is None:
                return
            reference = _Reference(self, header)
            for row in it:
                yield reference.record(row)

    def encoded(self, schemas: SchemaRepository, skip: int = 0) -> Iterator[tuple[bytes, bytes] | SourceRecord]:
        """The rows after the ``skip`` first, for a publisher of raw events: a row the compiled plan
        (``hub.connectors.plan``) encodes is its (key, Avro bytes), exactly what ``Publisher.publish``
        would send for its record; any other row is the ``SourceRecord`` ``records`` gives (with its error,
        or parsed, if the plan gave up on it), so dead letters are the reference path's own."""
        with self.path.open("rb") as raw:
            it, header = self._open(raw)
            if header is None:
                return
            yield from self._encoded(header, it, schemas, skip)

    def _encoded(self, header: list[str], rows: Iterator[csv_rows.Row], schemas: SchemaRepository,
                 skip: int) -> Iterator[tuple[bytes, bytes] | SourceRecord]:
        reference = _Reference(self, header)
        plan = compile_plan(self.mapping, header, schemas)
        width = len(header)
        if skip:
            rows = itertools.islice(rows, skip, None)
        while chunk := list(itertools.islice(rows, PLAN_BATCH)):
            if plan is None:
                yield from map(reference.record, chunk)
                continue
            if not any(map(_fault, chunk)) and set(map(len, cells := list(map(_cells, chunk)))) == {width}:
                encoded_all = plan.encode_many(cells)  # every row whole (most chunks): no per-row tests
                if None not in encoded_all:
                    yield from encoded_all  # type: ignore[misc]
                    if plan.counts:
                        count_places(self.mapping, plan.take_counts())
                    continue
                encoded = iter(encoded_all)  # some row was given up on: it takes the reference path below
            else:
                whole = [r for r in chunk if r.fault is None and r.cells is not None and len(r.cells) == width]
                encoded = iter(plan.encode_many([r.cells for r in whole]))  # type: ignore[misc]
            for row in chunk:
                got = next(encoded) if row.fault is None and row.cells is not None and len(row.cells) == width \
                    else None
                yield got if got is not None else reference.record(row)
            if plan.counts:
                count_places(self.mapping, plan.take_counts())


_fault = operator.attrgetter("fault")
_cells = operator.attrgetter("cells")


class _Reference:
    """The reference path for one file: a row to its ``SourceRecord`` (parsed, or with its ``RowError``)."""

    def __init__(self, connector: CsvFileConnector, header: list[str]) -> None:
        mapping = connector.mapping
        self.connector = connector
        self.name = connector.path.name
        self.header = header
        self.id_col = header.index(mapping.record_id_column())
        # A dead letter keeps only what the agreement's mapping reads: an unmapped column (notes, say) was
        # never agreed to be shared, so it is not copied anywhere, not even to the restricted topic.
        self.mapped = [header.index(c) for c in mapping.columns]
        self.header_line = _header_line([header[i] for i in self.mapped])  # shared by every record of the file

    def record(self, row: csv_rows.Row) -> SourceRecord:
        header, id_col = self.header, self.id_col
        cells = row.cells or []
        record_id = cells[id_col].strip() if len(cells) > id_col and cells[id_col].strip() else None
        original = self.connector._original([cells[i] if i < len(cells) else "" for i in self.mapped]) \
            if cells else b""
        rec = SourceRecord(position=f"{self.name} row {row.number}", original=original, record_id=record_id,
                           header=self.header_line)
        if row.fault:
            rec.error = RowError(f"line {row.line}: {row.message}", None, row.fault)
        elif len(cells) != len(header):
            rec.error = RowError(f"row has {len(cells)} columns, the header has {len(header)}",
                                 None, "wrong_column_count")
        else:
            try:
                rec.record = self.connector.mapping.parse(dict(zip(header, cells, strict=True)))
            except RowError as exc:
                rec.error = exc
        return rec
