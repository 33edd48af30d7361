"""Field mappings: how an agency's extract columns become a raw-schema record, with validation.

A mapping is YAML an agency IT team edits. Each schema field names its column and type; a row
that fails gives a ``RowError`` naming the row and the column, never echoing the value.

Coded fields (``type: code``) are checked against a hub code list (``hub/reference/<list>.csv``); the
mapping's ``codes:`` section translates the agency's local codes into the list's, and ``derive:`` fills a
field from a column of the list (e.g. the knife flag an ISTV assault method implies), from one column or,
with ``columns:``, from several (a flag is true if any of them implies it).

A ``place`` field reads a free-text location (ISTV's assault location: "outside the Red Lion") and holds
only the LSOA the partnership's gazetteer places it in; the text itself goes no further than this
function. Text the gazetteer cannot place leaves the field empty and is counted (``placements`` and
``svh_location_texts_total``), never an error: the row is still sent, without an area.
"""

from __future__ import annotations

import codecs
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from hub import metrics
from hub.connectors import timeparse
from hub.pseudonymisation import PostcodeLookup, normalise
from hub.pseudonymisation.gazetteer import Gazetteer, GazetteerError, example_path
from hub.pseudonymisation.geography import LSOA_CODE
from hub.reference import CodeListError, code_list, normalise_offence_code, offence_codes
from hub.schemas import RAW_SCHEMAS, shipped_schemas
from hub.yamlsource import ConfigError, invalid, load_model, one_of, sentence

FIELD_TYPES = ("string", "datetime", "date", "flag", "offence_code", "postcode", "lsoa", "sex", "integer", "code",
               "place")
TRUE_FLAGS = {"Y", "YES", "TRUE", "1", "T"}
FALSE_FLAGS = {"N", "NO", "FALSE", "0", "F"}
SEX_VALUES = {"M", "F", "U", "X", "MALE", "FEMALE", "UNKNOWN", "NK", "I"}


class RowError(ValueError):
    """A row that cannot become a record: ``field`` is the extract's column name (or None for the row)."""

    def __init__(self, message: str, column: str | None = None, kind: str = "invalid") -> None:
        super().__init__(message)
        self.column = column
        self.kind = kind

    def __reduce__(self) -> tuple[type[RowError], tuple[str, str | None, str]]:
        return RowError, (str(self), self.column, self.kind)  # whole across a process boundary (connectors.feed)


@dataclass(frozen=True)
class FieldMap:
    name: str
    column: str
    type: str = "string"
    required: bool = False
    code_list: str | None = None  # type code: the hub code list the value must be in
    derive: str | None = None  # type code: fill the field from this column of the list instead of the code
    more_columns: tuple[str, ...] = ()  # derive: further columns holding codes of the same list
    bounds: tuple[int, int] | None = None  # type integer: inclusive range


@dataclass
class FieldMapping:
    source: str
    path: str
    fields: list[FieldMap]
    delimiter: str = ","
    encoding: str = "utf-8"
    datetime_format: str = "%d/%m/%Y %H:%M"
    date_format: str = "%d/%m/%Y"
    require_one_of: list[list[str]] = field(default_factory=list)
    lookup: PostcodeLookup | None = None
    codes: dict[str, dict[str, str]] = field(default_factory=dict)  # code list -> local code -> list code
    gazetteer: Gazetteer | None = None  # for place fields: the partnership's gazetteer
    placements: Counter[str] = field(default_factory=Counter)  # place texts: "placed" / "unplaced"

    @property
    def places(self) -> bool:
        """Does the mapping read a free-text location into an area (a ``place`` field)?"""
        return any(f.type == "place" for f in self.fields)

    @property
    def columns(self) -> list[str]:
        """Every column the mapping reads, once each, in mapping order."""
        return list(dict.fromkeys(c for f in self.fields for c in (f.column, *f.more_columns)))

    def column_of(self, field_name: str) -> str:
        return next(f.column for f in self.fields if f.name == field_name)

    def record_id_column(self) -> str:
        return self.column_of("record_id")

    def parse(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Cells by column name -> raw record; raises ``RowError`` for the first bad field.

        A cell is text (a CSV extract) or a typed value as a database or JSON gives it (a date, a
        date-time, true/false, a number): typed values are taken as they are where the field's type
        allows, and read as text otherwise, so one mapping serves every mode."""
        record: dict[str, Any] = {}
        for f in self.fields:
            if f.more_columns:
                record[f.name] = self._derive_many(f, row)
                continue
            cell = _present(row.get(f.column))
            if cell is None:
                if f.required:
                    raise RowError(f"{f.column}: required value is missing", f.column, "missing_value")
                record[f.name] = None
                continue
            record[f.name] = self._convert(f, cell)
        for group in self.require_one_of:
            if all(record.get(name) is None for name in group):
                cols = " or ".join(self.column_of(n) for n in group)
                raise RowError(f"{cols}: one of these is required", self.column_of(group[0]), "missing_value")
        self._check_location(record)
        return record

    def _check_location(self, record: dict[str, Any]) -> None:
        pc = record.get("location_postcode")
        if self.lookup is None or pc is None or record.get("location_lsoa"):
            return
        if self.lookup.by_postcode(pc) is None:
            raise RowError(f"{self.column_of('location_postcode')}: postcode is not in the postcode lookup and "
                           "no LSOA is given", self.column_of("location_postcode"), "unknown_postcode")

    def _convert(self, f: FieldMap, cell: Any, column: str | None = None) -> Any:
        column = column or f.column
        typed = _typed(f.type, cell)
        if typed is not None and f.type != "integer":
            return typed
        text = cell if isinstance(cell, str) else self.as_text(cell, f.type)
        if f.type == "place":
            return self._place(f, text)
        try:
            if f.type == "code":
                return self._code(f, text)
            if f.type == "integer":
                return _integer(text if typed is None else typed, f.bounds)
            return _CONVERTERS[f.type](self, text)
        except RowError as exc:
            raise RowError(f"{column}: {exc}", column, exc.kind) from None

    def _place(self, f: FieldMap, text: str) -> str | None:
        """The LSOA the gazetteer places ``text`` in, or None (counted). Never raises, never logs: the text
        may name a person, so it must not reach a dead letter or a log line."""
        if self.gazetteer is None:
            self.gazetteer = load_gazetteer(None)
        lsoa = self.gazetteer.place(text)
        outcome = "placed" if lsoa is not None else "unplaced"
        self.placements[outcome] += 1
        metrics.LOCATION_TEXTS.labels(self.source, f.name, outcome).inc()
        return lsoa

    def _code(self, f: FieldMap, text: str) -> Any:
        assert f.code_list is not None
        codes = code_list(f.code_list)
        local = self.codes.get(f.code_list, {}).get(" ".join(text.split()).upper())
        code = codes.resolve(local or text)
        if code is None:
            raise RowError(f"not a code of the {f.code_list} list", kind="unknown_code")
        return codes.derived(code, f.derive) if f.derive else code

    def _derive_many(self, f: FieldMap, row: Mapping[str, str | None]) -> Any:
        """A field derived from several coded columns: a flag is true if any code implies it (None if
        none is known); text is the first known value."""
        values = []
        for column in (f.column, *f.more_columns):
            cell = _present(row.get(column))
            if cell is not None:
                values.append(self._convert(f, cell, column))
        known = [v for v in values if v is not None]
        if not known:
            if f.required:
                raise RowError(f"{f.column}: required value is missing", f.column, "missing_value")
            return None
        if all(isinstance(v, bool) for v in known):
            return any(known)
        return known[0]


    def as_text(self, value: Any, field_type: str | None = None) -> str:
        """A typed value as the text this mapping reads (dates in its formats, flags as Y/N): for values a
        field cannot take as they are, and for the original kept with a dead letter."""
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.strftime(self.date_format if field_type == "date" else self.datetime_format)
        if isinstance(value, date):
            return value.strftime(self.datetime_format if field_type == "datetime" else self.date_format)
        if isinstance(value, bool):
            return "Y" if value else "N"
        if isinstance(value, bytes):
            return value.decode(self.encoding)
        return str(value)


def _present(cell: Any) -> Any:
    """The cell, stripped if text; None if it is empty."""
    if isinstance(cell, str):
        return cell.strip() or None
    return cell


def _typed(field_type: str, value: Any) -> Any:
    """``value`` as the field's type when it already is one (None otherwise: read it as text)."""
    if field_type == "datetime" and isinstance(value, datetime):
        return value.replace(tzinfo=None)  # the wall-clock time, as a text extract gives it
    if field_type == "datetime" and isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if field_type == "date" and isinstance(value, datetime):
        return value.date()
    if field_type == "date" and isinstance(value, date):
        return value
    if field_type == "flag" and isinstance(value, bool):
        return value
    if field_type == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return value  # still range-checked
    return None


def _datetime(m: FieldMapping, text: str) -> datetime:
    try:
        return timeparse.parser(m.datetime_format)(text)
    except ValueError:
        raise RowError(f"not a date-time in the format {m.datetime_format}", kind="bad_datetime") from None


def _date(m: FieldMapping, text: str) -> date:
    try:
        return timeparse.parser(m.date_format)(text).date()
    except ValueError:
        raise RowError(f"not a date in the format {m.date_format}", kind="bad_date") from None


def _flag(m: FieldMapping, text: str) -> bool:
    up = text.upper()
    if up in TRUE_FLAGS:
        return True
    if up in FALSE_FLAGS:
        return False
    raise RowError("flag is not Y or N", kind="bad_flag")


def _offence(m: FieldMapping, text: str) -> str:
    code = normalise_offence_code(text)
    if code not in offence_codes():
        raise RowError("unknown Home Office offence code", kind="unknown_offence_code")
    return code


def _postcode(m: FieldMapping, text: str) -> str:
    pc = normalise.postcode(text)
    if pc is None:
        raise RowError("not a UK postcode", kind="bad_postcode")
    return pc


def _lsoa(m: FieldMapping, text: str) -> str:
    code = text.strip().upper()
    if not LSOA_CODE.match(code):
        raise RowError("not an LSOA 2021 code (E01/W01 and six digits)", kind="bad_lsoa")
    return code


def _integer(cell: str | int, bounds: tuple[int, int] | None) -> int:
    try:
        value = int(cell)
    except ValueError:
        raise RowError("not a whole number", kind="bad_integer") from None
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise RowError(f"outside the range {bounds[0]}-{bounds[1]}", kind="out_of_range")
    return value


def _sex(m: FieldMapping, text: str) -> str:
    up = text.strip().upper()
    if up not in SEX_VALUES:
        raise RowError("sex is not one of M, F, X, U", kind="bad_sex")
    return up[0] if up not in ("NK", "UNKNOWN") else "U"


_CONVERTERS: dict[str, Callable[[FieldMapping, str], Any]] = {
    "string": lambda m, t: t, "datetime": _datetime, "date": _date, "flag": _flag, "offence_code": _offence,
    "postcode": _postcode, "lsoa": _lsoa, "sex": _sex,
}


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Text = Annotated[str, BeforeValidator(lambda v: v if v is None or isinstance(v, (dict, list)) else str(v))]


class FormatSpec(_Spec):
    """How the extract is written: its delimiter, encoding and date formats."""

    delimiter: Text = ","
    encoding: Text = "utf-8"
    datetime_format: Text = "%d/%m/%Y %H:%M"
    date_format: Text = "%d/%m/%Y"

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError("must be a single character")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            text = getattr(codecs.lookup(value), "_is_text_encoding", True)  # False for base64, rot13...
        except LookupError:
            text = False
        if not text:
            raise ValueError(f"unknown text encoding {value!r} (e.g. utf-8, cp1252, latin-1)")
        return value


class FieldSpec(_Spec):
    """One schema field: the column(s) it comes from, its type and the type's options."""

    column: str | None = None
    columns: list[str] | None = None
    type: str = "string"
    required: bool = False
    code_list: str | None = None
    derive: str | None = None
    range: list[Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _a_mapping(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError("needs a column: <extract header>")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.column is None and not self.columns:
            problems.append(((), "needs a column: <extract header> (or columns: [...] for a derived flag)"))
        if self.column is not None and self.columns is not None:
            problems.append((("columns",), "give column or columns, not both"))
        if self.type not in FIELD_TYPES:
            problems.append((("type",), f"unknown type {self.type!r}; expected one of {', '.join(FIELD_TYPES)}"))
        for option, needs in (("code_list", "code"), ("derive", "code"), ("range", "integer")):
            if getattr(self, option) is not None and self.type != needs:
                problems.append(((option,), f"only applies to type {needs}"))
        if self.columns is not None and len(self.columns) > 1 and not self.derive:
            problems.append((("columns",), "several columns are only for a field derived from a code list"))
        if self.range is not None and not _bounds(self.range):
            problems.append((("range",), "must be [lowest, highest] whole numbers"))
        if self.type == "code" and self.code_list is None:
            problems.append((("code_list",), "is required for type code"))
        if self.type == "code" and self.code_list is not None:
            try:
                codes = code_list(self.code_list)
            except CodeListError as exc:
                problems.append((("code_list",), str(exc)))
            else:
                if self.derive is not None and self.derive not in codes.columns[2:]:
                    problems.append((("derive",), f"{self.code_list} has no column {self.derive!r}; it has "
                                                  f"{', '.join(codes.columns[2:])}"))
        if problems:
            raise invalid("FieldSpec", problems)
        return self

    def field_map(self, name: str) -> FieldMap:
        cols = self.columns or [str(self.column)]
        codes = code_list(self.code_list) if self.code_list else None
        bounds = (int(self.range[0]), int(self.range[1])) if self.range else None
        return FieldMap(name, cols[0], self.type, self.required, code_list=codes.name if codes else None,
                        derive=self.derive, more_columns=tuple(cols[1:]), bounds=bounds)


def _bounds(value: list[Any]) -> bool:
    return (len(value) == 2 and all(isinstance(b, int) and not isinstance(b, bool) for b in value)
            and value[0] <= value[1])


class MappingFile(_Spec):
    """A field mapping: which source, how the extract is written, where each schema field comes from."""

    source: str
    format: FormatSpec = FormatSpec()
    fields: dict[str, Any]  # each a FieldSpec, validated with the schema in view (``specs``)
    require_one_of: list[list[str]] = []
    codes: dict[str, dict[str, Any]] | None = None
    _specs: dict[str, FieldSpec] = PrivateAttr(default_factory=dict)

    @property
    def specs(self) -> dict[str, FieldSpec]:
        """The fields, validated: schema field name -> its ``FieldSpec``."""
        return self._specs

    @field_validator("source")
    @classmethod
    def _known(cls, value: str) -> str:
        return str(one_of(value, sorted(RAW_SCHEMAS), "source"))

    @field_validator("fields")
    @classmethod
    def _some(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            raise ValueError("must map schema fields to columns")
        return value

    @model_validator(mode="after")
    def _against_the_schema(self) -> MappingFile:
        schema = shipped_schemas().get(RAW_SCHEMAS[self.source])
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for name, raw in self.fields.items():
            if name not in schema.field_names:
                problems.append((("fields", name), f"not a field of {schema.name}"))
                continue
            try:
                spec = self._specs[name] = FieldSpec.model_validate(raw)
            except ValidationError as exc:  # noted with the rest, so every problem is reported at once
                problems.extend((("fields", name, *err["loc"]), sentence(err)) for err in exc.errors())
                continue
            problems.extend((("fields", name, *loc), message)
                            for loc, message in _code_type_problems(spec, schema.field(name)))
        if "record_id" not in self.fields:
            problems.append((("fields",), "must map record_id (the extract's unique record reference)"))
        for f in schema.declared["fields"]:
            nullable = isinstance(f["type"], list) and "null" in f["type"]
            if not nullable and f["name"] not in self.fields:
                problems.append((("fields",), f"must map {f['name']!r}: the schema requires it"))
            elif not nullable and f["name"] in self._specs and not self._specs[f["name"]].required:
                problems.append((("fields", f["name"]), "must be required: true (the schema requires it)"))
        for i, group in enumerate(self.require_one_of):
            problems.extend((("require_one_of", i), f"{name!r} is not a mapped field")
                            for name in group if name not in self.fields)
        for list_name, pairs in (self.codes or {}).items():
            problems.extend((("codes", list_name, *loc), message) for loc, message in _local_code_problems(
                list_name, pairs))
        if problems:
            raise invalid("MappingFile", problems)
        return self


def _code_type_problems(spec: FieldSpec, field_decl: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    """A coded field must give what the schema field holds: text for a code, the derived column's type; a
    place gives an LSOA code, so only into a field whose schema pattern is an LSOA's."""
    if spec.type == "place":
        if "01[0-9]{6}" not in str(field_decl.get("pattern", "")):
            return [(("type",), "a place gives an LSOA code, but the schema field is not an LSOA (pattern "
                                "^[EW]01[0-9]{6}$)")]
        return []
    if spec.type != "code" or spec.code_list is None:
        return []
    try:
        codes = code_list(spec.code_list)
    except CodeListError:
        return []  # reported by the field itself
    base = _avro_base(field_decl)
    if spec.derive is None:
        return [] if base == "string" else [(("type",), f"a code is text, but the schema field is {base}; "
                                                        "derive a column?")]
    if spec.derive not in codes.columns[2:]:
        return []
    wanted = "boolean" if codes.is_flag(spec.derive) else "string"
    if base != wanted:
        return [(("derive",), f"{spec.code_list}.{spec.derive} gives a {wanted}, but the schema field is {base}")]
    return []


def _local_code_problems(name: str, pairs: dict[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    try:
        codes = code_list(name)
    except CodeListError as exc:
        return [((), str(exc))]
    return [((str(local),), f"{target!r} is not a code of the {name} list")
            for local, target in pairs.items() if codes.resolve(str(target)) is None]


def _local_codes(value: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, str]]:
    """``codes: {<code list>: {<local code>: <list code>}}``: an agency's own codes for a hub code list."""
    out: dict[str, dict[str, str]] = {}
    for name, pairs in (value or {}).items():
        codes = code_list(name)
        out[codes.name] = {" ".join(str(local).split()).upper(): str(codes.resolve(str(target)))
                           for local, target in pairs.items()}
    return out


def default_mapping_path(source: str) -> Path:
    return Path(str(resources.files("hub.connectors").joinpath(f"mappings/{source}.yaml")))


def load_gazetteer(path: Path | str | None) -> Gazetteer:
    """The partnership's gazetteer at ``path``; None: the synthetic one of the example county shipped with the
    hub (like the example agreement: a partnership gives its own). Raises ``GazetteerError``."""
    return Gazetteer.from_csv(Path(path) if path is not None else example_path())


def load_mapping(path: Path | str, lookup: PostcodeLookup | None = None,
                 gazetteer: Gazetteer | None = None) -> FieldMapping:
    """Load and check a mapping against the source's raw schema; every problem names file, line and key.
    ``gazetteer`` places the mapping's ``place`` fields (default: loaded on first use, see ``load_gazetteer``)."""
    spec, _ = load_model(path, MappingFile, whole="the mapping")
    fmt = spec.format
    return FieldMapping(source=spec.source, path=str(path), fields=[f.field_map(n) for n, f in spec.specs.items()],
                        delimiter=fmt.delimiter, encoding=fmt.encoding, datetime_format=fmt.datetime_format,
                        date_format=fmt.date_format, require_one_of=[list(g) for g in spec.require_one_of],
                        lookup=lookup, codes=_local_codes(spec.codes), gazetteer=gazetteer)


def _avro_base(field_decl: Mapping[str, Any]) -> str:
    """The non-null Avro type name of a schema field (``int``, ``string``, ``boolean``...)."""
    types = field_decl["type"] if isinstance(field_decl["type"], list) else [field_decl["type"]]
    base = next(t for t in types if t != "null")
    return str(base["type"] if isinstance(base, dict) else base)


__all__ = ["ConfigError", "FieldMap", "FieldMapping", "GazetteerError", "RowError", "default_mapping_path",
           "load_gazetteer", "load_mapping"]
