"""CSV extracts: the commonest way agencies hand data over today."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from hub.connectors.base import Connector, SourceRecord
from hub.connectors.mapping import FieldMapping, RowError
from hub.policy.yamlsource import ConfigError


class CsvFileConnector(Connector):
    """Reads one CSV file with a field mapping. A header that lacks a mapped column refuses the whole
    file before anything is published, so a wrong extract is never half-published."""

    def __init__(self, path: Path, mapping: FieldMapping) -> None:
        self.path = path
        self.mapping = mapping
        self.source = mapping.source

    def _original(self, cells: list[str]) -> bytes:
        buf = io.StringIO()
        csv.writer(buf, delimiter=self.mapping.delimiter, lineterminator="\n").writerow(cells)
        return buf.getvalue().encode(self.mapping.encoding)

    def check_header(self, header: list[str]) -> None:
        missing = [c for c in self.mapping.columns if c not in header]
        if missing:
            raise ConfigError(f"{self.path}: header lacks mapped column(s) {', '.join(missing)} "
                              f"(mapping {self.mapping.path}); nothing was published")

    def records(self) -> Iterator[SourceRecord]:
        # Excel writes a byte-order mark before the header; utf-8-sig reads files with or without one.
        encoding = "utf-8-sig" if self.mapping.encoding.lower().replace("_", "-") in ("utf-8", "utf8") \
            else self.mapping.encoding
        with self.path.open(newline="", encoding=encoding) as fh:
            reader = csv.reader(fh, delimiter=self.mapping.delimiter)
            try:
                header = [h.strip() for h in next(reader)]
            except StopIteration:
                return
            self.check_header(header)
            id_col = header.index(self.mapping.record_id_column())
            for number, cells in enumerate(reader, start=1):
                if not any(c.strip() for c in cells):
                    continue  # blank line, not a record
                position = f"{self.path.name} row {number}"
                record_id = cells[id_col].strip() if len(cells) > id_col and cells[id_col].strip() else None
                rec = SourceRecord(position=position, original=self._original(cells), record_id=record_id)
                if len(cells) != len(header):
                    rec.error = RowError(f"row has {len(cells)} columns, the header has {len(header)}",
                                         None, "wrong_column_count")
                else:
                    try:
                        rec.record = self.mapping.parse(dict(zip(header, cells, strict=True)))
                    except RowError as exc:
                        rec.error = exc
                yield rec
