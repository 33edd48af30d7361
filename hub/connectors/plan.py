"""A mapping compiled once per file into a row plan: CSV cells straight to the raw event's Avro bytes.

``FieldMapping.parse`` followed by ``SchemaRepository.encode`` builds a dict per row, converts every
cell through the general code (typed values, per-type dispatch), then lets fastavro find each union's
branch by validating the value against each branch. That is most of a connector's time. A ``RowPlan``
does the same work with what the mapping, the header and the schema fix once:

- each schema field in schema order is a step: a constant (a field the mapping does not read: its
  default's bytes) or a mapped column with its converter and the Avro encoder of its own type;
- each mapped field keeps a bounded memo of cell text -> (value, bytes), so a code, a flag, a date or a
  postcode seen before costs one dict look-up (most of an extract's cells repeat);
- the record's checks (``require_one_of``, the postcode lookup) run on the values, without a dict.

The plan never decides a row is bad. Whatever it is not sure of (an empty required cell, a value that
does not convert, a failed check, a value of a type its encoders do not cover) makes it give up on the
row (``Fallback``), and the caller takes the reference path (``FieldMapping.parse`` and
``SchemaRepository.encode``), so a dead letter's reason, column and kind are the reference's own. The
plan has no side effects until it succeeds (a ``place`` field's outcome is counted only then), so the
reference path after a fallback counts exactly what it always did. Tests compare the bytes and the
dead letters with the reference path on every source's synthetic extract and on malformed rows.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from fastavro import parse_schema, schemaless_writer

from hub import metrics
from hub.connectors.mapping import FieldMap, FieldMapping, RowError, load_gazetteer
from hub.schemas import RAW_SCHEMAS, SchemaRepository
from hub.schemas.repository import SINGLE_OBJECT_MAGIC

MEMO_LIMIT = 4096
"""Cell texts remembered per field (value and bytes); a field whose texts never repeat stops adding at this."""
DATE_MEMO_LIMIT = 50_000
"""Dates (a century of days fits) and the date and time parts of date-times are remembered up to this many."""

_EPOCH = datetime(1970, 1, 1)
_EPOCH_DAY = _EPOCH.toordinal()
_MS = timedelta(milliseconds=1)


class Fallback(Exception):  # noqa: N818 - a signal, not an error: the row takes the reference path
    """The plan cannot vouch for this row; the reference path decides it."""


def varint(n: int) -> bytes:
    """Avro's zig-zag variable-length encoding of ``n`` (int and long alike)."""
    z = n << 1 if n >= 0 else (-n << 1) - 1
    if z < 0x80:
        return _SMALL[z]
    if z < 0x4000:
        return bytes((z & 0x7F | 0x80, z >> 7))
    if z < 0x200000:  # three bytes: dates in days (a date of birth)
        return bytes((z & 0x7F | 0x80, z >> 7 & 0x7F | 0x80, z >> 14))
    if z < 0x40000000000 and z >= 0x800000000:  # five-byte-plus longs: today's timestamps in milliseconds
        return bytes((z & 0x7F | 0x80, z >> 7 & 0x7F | 0x80, z >> 14 & 0x7F | 0x80, z >> 21 & 0x7F | 0x80,
                      z >> 28 & 0x7F | 0x80, z >> 35))
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


_SMALL = [bytes([z]) for z in range(0x80)]
_FALSE, _TRUE = b"\x00", b"\x01"

Encoder = Callable[[Any], bytes]


def _string(v: Any) -> bytes:
    if type(v) is not str:
        raise Fallback
    try:
        b = v.encode()
    except UnicodeEncodeError:  # a lone surrogate: fastavro refuses it too; the reference path says so
        raise Fallback from None
    return varint(len(b)) + b


def _boolean(v: Any) -> bytes:
    if v is True:
        return _TRUE
    if v is False:
        return _FALSE
    raise Fallback


def _int(v: Any) -> bytes:
    """Avro int: 32 bits (anything else goes to the reference path, which dead-letters it)."""
    if type(v) is not int or not -(1 << 31) <= v < (1 << 31):
        raise Fallback
    return varint(v)


def _long(v: Any) -> bytes:
    if type(v) is not int or not -(1 << 63) <= v < (1 << 63):
        raise Fallback
    return varint(v)


def _timestamp_millis(v: Any) -> bytes:
    if type(v) is not datetime or v.tzinfo is not None:
        raise Fallback
    return varint((v - _EPOCH) // _MS)


def _date(v: Any) -> bytes:
    if type(v) is not date:
        raise Fallback
    return varint(v.toordinal() - _EPOCH_DAY)


def _base_encoder(avro_type: Any) -> Encoder | None:
    if isinstance(avro_type, dict):
        logical, base = avro_type.get("logicalType"), avro_type.get("type")
        if logical == "local-timestamp-millis" and base == "long":
            return _timestamp_millis
        if logical == "date" and base == "int":
            return _date
        return None if logical else _base_encoder(base)
    return {"string": _string, "boolean": _boolean, "int": _int, "long": _long}.get(str(avro_type))


def field_encoder(avro_type: Any) -> Encoder | None:
    """The encoder of one field's Avro type, or None if the plan does not cover the type."""
    if not isinstance(avro_type, list):
        return _base_encoder(avro_type)
    if len(avro_type) != 2 or "null" not in avro_type:
        return None
    null_index = avro_type.index("null")
    inner = _base_encoder(avro_type[1 - null_index])
    if inner is None:
        return None
    null_bytes, some = varint(null_index), varint(1 - null_index)

    def union(v: Any) -> bytes:
        return null_bytes if v is None else some + inner(v)

    return union


def null_bytes(avro_type: Any) -> bytes | None:
    """What a None of this field type is written as (None if the type does not take None)."""
    return varint(avro_type.index("null")) if isinstance(avro_type, list) and "null" in avro_type else None


def default_bytes(field_decl: dict[str, Any]) -> bytes:
    """What fastavro writes for a field the record does not hold (its default), asked of fastavro itself."""
    schema = parse_schema({"type": "record", "name": "One", "fields": [dict(field_decl)]})
    buf = io.BytesIO()
    schemaless_writer(buf, schema, {})
    return buf.getvalue()


_DATE_PARTS = {"%d": r"(\d{1,2})", "%m": r"(\d{1,2})", "%Y": r"(\d{4})"}
_TIME_PARTS = {"%H": r"(\d{1,2})", "%M": r"(\d{1,2})", "%S": r"(\d{1,2})"}
_TOKEN = re.compile(r"%.|[^%]+")
_UNSEEN = (-1, -1, -1)  # a part not read yet (None: read, and not one split_datetime takes)


def _pattern(fmt: str, parts: dict[str, str], needed: set[str]) -> tuple[re.Pattern[str], list[str]] | None:
    tokens = _TOKEN.findall(fmt)
    codes = [t for t in tokens if t.startswith("%")]
    if not needed <= set(codes) or any(c not in parts for c in codes) or len(set(codes)) != len(codes):
        return None
    return re.compile("".join(parts[t] if t.startswith("%") else re.escape(t) for t in tokens) + r"\Z"), codes


def split_datetime(fmt: str) -> Callable[[str], datetime | None] | None:
    """See ``split_parts``: the date-time itself."""
    parts = split_parts(fmt)
    if parts is None:
        return None

    def read(text: str) -> datetime | None:
        got = parts(text)
        return None if got is None else datetime(*got[0], *got[1])

    return read


def split_millis(fmt: str) -> Callable[[str], int | None] | None:
    """See ``split_parts``: milliseconds since the epoch, as Avro stores a ``local-timestamp-millis``. The date
    part's milliseconds and the time part's are remembered apart (an extract's date-times rarely repeat, their
    dates and times do), so a new date-time costs two look-ups and an addition."""
    readers = _part_readers(fmt)
    if readers is None:
        return None
    read_date, read_time = readers
    days: dict[str, int | None] = {}
    times: dict[str, int | None] = {}

    def read(text: str) -> int | None:
        d, _, t = text.partition(" ")
        day = days.get(d, _NOT_READ)
        if day == _NOT_READ:
            ymd = read_date(d)
            day = None if ymd is None else (date(*ymd).toordinal() - _EPOCH_DAY) * 86_400_000
            if len(days) < DATE_MEMO_LIMIT:
                days[d] = day
        tod = times.get(t, _NOT_READ)
        if tod == _NOT_READ:
            hms = read_time(t)
            tod = None if hms is None else ((hms[0] * 60 + hms[1]) * 60 + hms[2]) * 1000
            if len(times) < DATE_MEMO_LIMIT:
                times[t] = tod
        if day is None or tod is None:
            return None
        return day + tod

    return read


_NOT_READ = -(1 << 62)  # not a number of milliseconds any date-time has (year 1 is about -6.2e13)


def split_days(fmt: str) -> Callable[[str], int | None] | None:
    """For a date format of ``%d %m %Y`` and literals only: days since the epoch, as Avro stores a ``date``,
    when the text matches the format's pattern and is a real date (``timeparse.parser(fmt)``'s answer then),
    else None (the caller asks the reference converter)."""
    pattern = _pattern(fmt, _DATE_PARTS, {"%d", "%m", "%Y"})
    if pattern is None:
        return None
    date_re, codes = pattern
    at = [codes.index(c) for c in ("%Y", "%m", "%d")]

    def read(text: str) -> int | None:
        m = date_re.match(text)
        if m is None:
            return None
        g = m.groups()
        try:
            return date(int(g[at[0]]), int(g[at[1]]), int(g[at[2]])).toordinal() - _EPOCH_DAY
        except ValueError:
            return None

    return read


def _part_readers(fmt: str) -> tuple[Callable[[str], tuple[int, int, int] | None],
                                     Callable[[str], tuple[int, int, int] | None]] | None:
    """For a date-time format "<date> <time>" (``%d %m %Y``, then ``%H %M`` and maybe ``%S``; no other space),
    a reader of the date part ((year, month, day) of a real date, else None) and one of the time part
    ((hour, minute, second), else None); None for any other format."""
    date_fmt, space, time_fmt = fmt.partition(" ")
    if not space or " " in time_fmt or " " in date_fmt:
        return None
    date_p = _pattern(date_fmt, _DATE_PARTS, {"%d", "%m", "%Y"})
    time_p = _pattern(time_fmt, _TIME_PARTS, {"%H", "%M"})
    if date_p is None or time_p is None:
        return None
    (date_re, date_codes), (time_re, time_codes) = date_p, time_p
    date_at = [date_codes.index(c) for c in ("%Y", "%m", "%d")]
    time_at = [time_codes.index(c) if c in time_codes else -1 for c in ("%H", "%M", "%S")]

    def read_date(d: str) -> tuple[int, int, int] | None:
        if (m := date_re.match(d)) is None:
            return None
        g = m.groups()
        ymd = int(g[date_at[0]]), int(g[date_at[1]]), int(g[date_at[2]])
        try:
            date(*ymd)
        except ValueError:
            return None
        return ymd

    def read_time(t: str) -> tuple[int, int, int] | None:
        if (m := time_re.match(t)) is None:
            return None
        g = m.groups()
        h, mi, sec = (int(g[i]) if i >= 0 else 0 for i in time_at)
        return (h, mi, sec) if h < 24 and mi < 60 and sec < 60 else None

    return read_date, read_time


def split_parts(fmt: str) -> Callable[[str], tuple[tuple[int, int, int], tuple[int, int, int]] | None] | None:
    """For a date-time format "<date> <time>" (``%d %m %Y``, then ``%H %M`` and maybe ``%S``; no other space),
    a reader remembering the date part and the time part apart (an extract's dates and times repeat, their
    pairs rarely). It gives ``timeparse.parser(fmt)``'s answer when both parts match, else None (the caller
    asks the reference converter). Equal because the whole format's pattern is the two parts' patterns
    joined by the space, and neither part can hold a space."""
    readers = _part_readers(fmt)
    if readers is None:
        return None
    read_date, read_time = readers
    dates: dict[str, tuple[int, int, int] | None] = {}
    times: dict[str, tuple[int, int, int] | None] = {}

    def read(text: str) -> tuple[tuple[int, int, int], tuple[int, int, int]] | None:
        d, _, t = text.partition(" ")
        ymd = dates.get(d, _UNSEEN)
        if ymd is _UNSEEN:
            ymd = read_date(d)
            if len(dates) < DATE_MEMO_LIMIT:
                dates[d] = ymd
        hms = times.get(t, _UNSEEN)
        if hms is _UNSEEN:
            hms = read_time(t)
            if len(times) < DATE_MEMO_LIMIT:
                times[t] = hms
        if ymd is None or hms is None:
            return None
        return ymd, hms

    return read


class _Mapped:
    """One mapped field: its converter (the mapping's own), encoder and memo. Only a field whose value the
    record's checks or the key need (``keep``) remembers (value, bytes); the others remember the bytes."""

    __slots__ = ("encode", "field", "index", "keep", "limit", "mapping", "memo", "more", "null", "number",
                 "number_prefix", "place", "required", "text")

    def __init__(self, mapping: FieldMapping, field: FieldMap, index: int, more: tuple[int, ...],
                 avro_type: Any, keep: bool) -> None:
        self.mapping = mapping
        self.field = field
        self.index = index
        self.more = more  # a field derived from several columns: their indexes after the first
        encode = field_encoder(avro_type)
        assert encode is not None
        self.encode = encode
        self.null = null_bytes(avro_type)
        self.keep = keep
        self.required = field.required
        self.place = field.type == "place"
        self.memo: dict[Any, Any] = {}
        self.limit = DATE_MEMO_LIMIT if field.type == "date" else MEMO_LIMIT
        self.text = field.type == "string"  # FieldMapping._convert gives the text itself
        # a date or date-time read straight to the number Avro stores (no date made), when its value is not needed
        self.number = None if keep else split_millis(mapping.datetime_format) if field.type == "datetime" else \
            split_days(mapping.date_format) if field.type == "date" else None
        self.number_prefix = b"" if not isinstance(avro_type, list) else varint(1 - avro_type.index("null"))

    def _value(self, cell: str) -> Any:
        """The cell's value as ``FieldMapping.parse`` gives it."""
        text = cell.strip()
        if not text:
            if self.required:
                raise Fallback
            return None
        if self.text:
            return text
        try:
            return self.mapping._convert(self.field, text)
        except RowError:
            raise Fallback from None

    def miss(self, cell: str) -> bytes:
        """The bytes of a cell not in the memo (a field not kept)."""
        out = None
        if self.number is not None and (text := cell.strip()):
            number = self.number(text)
            if number is not None:
                out = self.number_prefix + varint(number)
        if out is None:
            out = self.encode(self._value(cell))
        if len(self.memo) < self.limit:
            self.memo[cell] = out
        return out

    def getter(self) -> Callable[[str], bytes | None]:
        """What ``encode_many`` looks a cell up with: the memo's ``get`` (None: ``miss`` decides), or for a
        date-time (they rarely repeat; their date and time parts are remembered by ``split_millis``) its bytes
        read directly, as ``miss`` would write them, and the memo only for a cell that reads as no number (an
        empty one, say)."""
        if self.number is None or self.field.type != "datetime":
            return self.memo.get
        read, prefix, remembered = self.number, self.number_prefix, self.memo.get

        def direct(cell: str) -> bytes | None:
            text = cell.strip()
            if text and (number := read(text)) is not None:
                return prefix + varint(number)
            return remembered(cell)

        return direct

    def kept(self, cell: str) -> tuple[Any, bytes]:
        """Value and bytes of a cell (a kept field)."""
        hit = self.memo.get(cell)
        if hit is None:
            value = self._value(cell)
            hit = value, self.encode(value)
            if len(self.memo) < self.limit:
                self.memo[cell] = hit
        return hit

    def derived(self, cells: Sequence[str]) -> bytes:
        key = (cells[self.index], *(cells[i] for i in self.more))
        hit = self.memo.get(key)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        columns = (self.field.column, *self.field.more_columns)
        try:
            value = self.mapping._derive_many(self.field, dict(zip(columns, key, strict=True)))
        except RowError:
            raise Fallback from None
        out = self.encode(value)
        if len(self.memo) < MEMO_LIMIT:
            self.memo[key] = out
        return out


class RowPlan:
    """``encode(cells)`` -> (message key, raw event bytes) for one row of a file with ``header``."""

    def __init__(self, mapping: FieldMapping, header: Sequence[str], schemas: SchemaRepository,
                 steps: list[bytes | _Mapped], by_name: dict[str, int], nulls: list[bytes | None]) -> None:
        self.mapping = mapping
        schema = schemas.get(RAW_SCHEMAS[mapping.source])
        self.prefix = SINGLE_OBJECT_MAGIC + schema.fingerprint
        self.steps = steps
        self._plain = [(i, s.index, s.getter(), s.miss) for i, s in enumerate(steps)
                       if isinstance(s, _Mapped) and not (s.more or s.place or s.keep)]
        self._other = [(i, s) for i, s in enumerate(steps) if isinstance(s, _Mapped) and (s.more or s.place)]
        self._kept = [(i, s) for i, s in enumerate(steps) if isinstance(s, _Mapped) and s.keep]
        self._id = by_name["record_id"]
        self._id_column = header.index(mapping.record_id_column())
        # a value is None exactly when the field is written as its union's null
        self._groups = [[(by_name[n], nulls[by_name[n]]) for n in group] for group in mapping.require_one_of]
        self._postcode = by_name.get("location_postcode")
        self._lsoa = by_name.get("location_lsoa")
        self._lsoa_null = nulls[self._lsoa] if self._lsoa is not None else None
        self._known_postcodes: dict[str, bool] = {}
        self.counts: Counter[tuple[str, str]] = Counter()  # (place field, outcome) of rows encoded, not yet taken
        if any(isinstance(s, _Mapped) and s.place for s in steps) and mapping.gazetteer is None:
            mapping.gazetteer = load_gazetteer(None)  # as FieldMapping._place would on its first row

    def encode(self, cells: Sequence[str]) -> tuple[bytes, bytes]:
        """The row's key and Avro single-object bytes; ``Fallback`` if the reference path must decide."""
        got = self.encode_many([cells])[0]
        if got is None:
            raise Fallback
        return got

    def encode_many(self, rows: Sequence[Sequence[str]]) -> list[tuple[bytes, bytes] | None]:
        """``encode`` for many rows (each with the header's number of cells), column by column: a field's cells
        are looked up in its memo in one pass. None for a row the reference path must decide."""
        n = len(rows)
        if not n:
            return []
        columns = list(zip(*rows, strict=True))
        failed: set[int] = set()
        parts: list[Any] = [[s] * n if isinstance(s, bytes) else None for s in self.steps]
        for i, index, get, miss in self._plain:
            column = columns[index]
            out = list(map(get, column))
            if None in out:
                for r, b in enumerate(out):
                    if b is None:
                        try:
                            out[r] = miss(column[r])
                        except Fallback:
                            failed.add(r)
                            out[r] = b""
            parts[i] = out
        values: dict[int, list[Any]] = {}
        for i, step in self._kept:
            kept: list[Any] = []
            for r, cell in enumerate(columns[step.index]):
                try:
                    kept.append(step.kept(cell))
                except Fallback:
                    failed.add(r)
                    kept.append((None, b""))
            values[i] = [v for v, _ in kept]
            parts[i] = [b for _, b in kept]
        placed: list[tuple[str, list[str | None]]] = []
        for i, step in self._other:
            out = []
            outcomes: list[str | None] = []
            for r, cells in enumerate(rows):
                try:
                    b, outcome = self._one_other(step, cells)
                except Fallback:
                    failed.add(r)
                    b, outcome = b"", None
                out.append(b)
                outcomes.append(outcome)
            parts[i] = out
            if step.place:
                placed.append((step.field.name, outcomes))
        for group in self._groups:  # a value is None exactly when it is written as its union's null
            (first, null), *rest = group
            for r, b in enumerate(parts[first]):
                if b == null and all(parts[j][r] == nj for j, nj in rest):
                    failed.add(r)
        if self._postcode in values and self.mapping.lookup is not None:
            lsoas = parts[self._lsoa] if self._lsoa is not None else [None] * n
            for r, (pc, lsoa) in enumerate(zip(values[self._postcode], lsoas, strict=True)):
                if pc is not None and (lsoa is None or lsoa == self._lsoa_null) and not self._known(pc):
                    failed.add(r)
        ids = values[self._id]
        prefix = self.prefix
        out_rows: list[tuple[bytes, bytes] | None] = [
            (str(ids[r] or rows[r][self._id_column].strip() or "").encode(), prefix + body)
            for r, body in enumerate(map(b"".join, zip(*parts, strict=True)))]
        for r in failed:
            out_rows[r] = None
        for name, outcomes in placed:  # counted only for rows certain to be sent (``take_counts``)
            for r, outcome in enumerate(outcomes):
                if outcome is not None and r not in failed:
                    self.counts[(name, outcome)] += 1
        return out_rows

    def _one_other(self, step: _Mapped, cells: Sequence[str]) -> tuple[bytes, str | None]:
        """A place field's bytes and outcome, or a field derived from several columns."""
        if not step.place:
            return step.derived(cells), None
        text = cells[step.index].strip()
        if not text:
            if step.required:
                raise Fallback
            return step.encode(None), None
        assert self.mapping.gazetteer is not None
        value = self.mapping.gazetteer.place(text)
        return step.encode(value), "placed" if value is not None else "unplaced"

    def take_counts(self) -> Counter[tuple[str, str]]:
        """The place outcomes counted since the last call (see ``count_places``)."""
        out, self.counts = self.counts, Counter()
        return out

    def _known(self, postcode: str) -> bool:
        """Is ``postcode`` in the postcode lookup (as ``FieldMapping._check_location`` asks)?"""
        known = self._known_postcodes.get(postcode)
        if known is None:
            assert self.mapping.lookup is not None
            known = self.mapping.lookup.by_postcode(postcode) is not None
            if len(self._known_postcodes) < MEMO_LIMIT:
                self._known_postcodes[postcode] = known
        return known


def count_places(mapping: FieldMapping, counts: Counter[tuple[str, str]]) -> None:
    """Add a plan's place outcomes to the mapping's ``placements`` and the metric, as ``FieldMapping._place``
    does per row (here per batch, possibly counted in another process)."""
    for (name, outcome), n in counts.items():
        mapping.placements[outcome] += n
        metrics.LOCATION_TEXTS.labels(mapping.source, name, outcome).inc(n)


def compile_plan(mapping: FieldMapping, header: Sequence[str], schemas: SchemaRepository) -> RowPlan | None:
    """The plan for files with ``header`` (stripped column names, every mapped one present), or None if the
    raw schema has a field type the plan does not cover (then every row takes the reference path)."""
    schema = schemas.get(RAW_SCHEMAS[mapping.source])
    fields = {f.name: f for f in mapping.fields}
    steps: list[bytes | _Mapped] = []
    nulls: list[bytes | None] = []
    by_name: dict[str, int] = {}
    keep = {"record_id", "location_postcode"}  # the key, and the postcode the lookup is asked about
    for decl in schema.declared["fields"]:
        name = decl["name"]
        by_name[name] = len(steps)
        nulls.append(null_bytes(decl["type"]))
        f = fields.get(name)
        if f is None:
            if "default" not in decl:
                return None  # the mapping must map it (checked at load); not a case the plan takes on
            steps.append(default_bytes(decl))
            continue
        if field_encoder(decl["type"]) is None:
            return None
        more = tuple(header.index(c) for c in f.more_columns)
        if name in keep and (more or f.type == "place"):
            return None  # a key or postcode derived from several columns, or placed: left to the reference path
        steps.append(_Mapped(mapping, f, header.index(f.column), more, decl["type"], name in keep))
    if "record_id" not in by_name or any(n not in by_name for g in mapping.require_one_of for n in g):
        return None
    return RowPlan(mapping, header, schemas, steps, by_name, nulls)
