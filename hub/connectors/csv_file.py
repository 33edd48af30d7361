"""CSV extracts: the commonest way agencies hand data over today."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from hub.connectors.base import Connector, SourceRecord
from hub.connectors.mapping import FieldMapping, RowError
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


def missing_columns(header: list[str], mapping: FieldMapping) -> list[str]:
    return [c for c in mapping.columns if c not in header]


@dataclass(frozen=True)
class Inspection:
    """The result of reading a whole file before publishing any of it."""

    sha256: str
    rows: int
    problem: str | None = None  # why the file must be refused; names lines and columns, never values


def inspect_csv(path: Path, mapping: FieldMapping) -> Inspection:
    """Read ``path`` completely: decodable in the mapping's encoding, well-formed CSV, a header with every
    mapped column and no duplicates, no NUL characters. Nothing is published from a file that fails."""
    digest = hashlib.sha256()
    rows = 0
    line = 0

    def refuse(problem: str) -> Inspection:
        return Inspection(_file_sha256(path), rows, problem)  # the whole file's hash, for the log

    try:
        with open_text(path, mapping, digest) as fh:
            reader = csv.reader(fh, delimiter=mapping.delimiter, strict=True)
            try:
                header = [h.strip() for h in next(reader)]
            except StopIteration:
                return refuse("the file is empty: it has no header line")
            line = reader.line_num
            missing = missing_columns(header, mapping)
            if missing:
                return refuse(f"the header lacks mapped column(s) {', '.join(missing)} (mapping {mapping.path})")
            duplicated = sorted({h for h in header if header.count(h) > 1 and h in mapping.columns})
            if duplicated:
                return refuse(f"the header names column(s) {', '.join(duplicated)} more than once")
            for cells in reader:
                line = reader.line_num
                if any("\x00" in c for c in cells):
                    return refuse(f"line {line} holds a NUL character: not a text CSV file")
                if any(c.strip() for c in cells):
                    rows += 1
    except UnicodeDecodeError as exc:
        return refuse(f"not readable as {mapping.encoding} (byte {exc.start} of a chunk after line {line}); "
                      "check the mapping's format.encoding")
    except csv.Error as exc:
        return refuse(f"not well-formed CSV at line {line + 1}: {exc}")
    return Inspection(digest.hexdigest(), rows)


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
        buf = io.StringIO()
        csv.writer(buf, delimiter=self.mapping.delimiter, lineterminator="\n").writerow(cells)
        return buf.getvalue().encode(self.mapping.encoding)

    def check_header(self, header: list[str]) -> None:
        missing = missing_columns(header, self.mapping)
        if missing:
            raise ConfigError(f"{self.path}: header lacks mapped column(s) {', '.join(missing)} "
                              f"(mapping {self.mapping.path}); nothing was published")

    def records(self) -> Iterator[SourceRecord]:
        with open_text(self.path, self.mapping, self.digest) as fh:
            reader = csv.reader(fh, delimiter=self.mapping.delimiter)
            try:
                header = [h.strip() for h in next(reader)]
            except StopIteration:
                return
            self.check_header(header)
            id_col = header.index(self.mapping.record_id_column())
            header_line = _header_line(header)  # one bytes object shared by every record of the file
            for number, cells in enumerate(reader, start=1):
                if not any(c.strip() for c in cells):
                    continue  # blank line, not a record
                position = f"{self.path.name} row {number}"
                record_id = cells[id_col].strip() if len(cells) > id_col and cells[id_col].strip() else None
                rec = SourceRecord(position=position, original=self._original(cells), record_id=record_id,
                                   header=header_line)
                if len(cells) != len(header):
                    rec.error = RowError(f"row has {len(cells)} columns, the header has {len(header)}",
                                         None, "wrong_column_count")
                else:
                    try:
                        rec.record = self.mapping.parse(dict(zip(header, cells, strict=True)))
                    except RowError as exc:
                        rec.error = exc
                yield rec
