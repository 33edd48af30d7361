"""Field mappings: how an agency's extract columns become a raw-schema record, with validation.

A mapping is YAML an agency IT team edits. Each schema field names its column and type; a row
that fails gives a ``RowError`` naming the row and the column, never echoing the value.

Coded fields (``type: code``) are checked against a hub code list (``hub/reference/<list>.csv``); the
mapping's ``codes:`` section translates the agency's local codes into the list's, and ``derive:`` fills a
field from a column of the list (e.g. the knife flag an ISTV assault method implies), from one column or,
with ``columns:``, from several (a flag is true if any of them implies it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from hub.pseudonymisation import PostcodeLookup, normalise
from hub.pseudonymisation.geography import LSOA_CODE
from hub.reference import CodeListError, code_list, normalise_offence_code, offence_codes
from hub.schemas import RAW_SCHEMAS, default_repository
from hub.yamlsource import ConfigError, LocatedYaml, load_located

FIELD_TYPES = ("string", "datetime", "date", "flag", "offence_code", "postcode", "lsoa", "sex", "integer", "code")
TRUE_FLAGS = {"Y", "YES", "TRUE", "1", "T"}
FALSE_FLAGS = {"N", "NO", "FALSE", "0", "F"}
SEX_VALUES = {"M", "F", "U", "X", "MALE", "FEMALE", "UNKNOWN", "NK", "I"}


class RowError(ValueError):
    """A row that cannot become a record: ``field`` is the extract's column name (or None for the row)."""

    def __init__(self, message: str, column: str | None = None, kind: str = "invalid") -> None:
        super().__init__(message)
        self.column = column
        self.kind = kind


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
        try:
            if f.type == "code":
                return self._code(f, text)
            if f.type == "integer":
                return _integer(text if typed is None else typed, f.bounds)
            return _CONVERTERS[f.type](self, text)
        except RowError as exc:
            raise RowError(f"{column}: {exc}", column, exc.kind) from None

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
        return datetime.strptime(text, m.datetime_format)
    except ValueError:
        raise RowError(f"not a date-time in the format {m.datetime_format}", kind="bad_datetime") from None


def _date(m: FieldMapping, text: str) -> date:
    try:
        return datetime.strptime(text, m.date_format).date()
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


MAPPING_KEYS = frozenset({"source", "format", "fields", "require_one_of", "codes"})
FORMAT_KEYS = frozenset({"delimiter", "encoding", "datetime_format", "date_format"})
FIELD_KEYS = frozenset({"column", "columns", "type", "required", "code_list", "derive", "range"})


def _refuse_unknown(doc: LocatedYaml, spec: dict[str, Any], allowed: frozenset[str], key: str) -> None:
    """A misspelt key (``typ:``) must stop the load, not silently change how a column is read."""
    for k in spec:
        if k not in allowed:
            raise doc.error(f"{key}.{k}" if key else str(k),
                            f"unknown key; expected one of {', '.join(sorted(allowed))}")


def default_mapping_path(source: str) -> Path:
    return Path(str(resources.files("hub.connectors").joinpath(f"mappings/{source}.yaml")))


def load_mapping(path: Path | str, lookup: PostcodeLookup | None = None) -> FieldMapping:
    """Load and check a mapping against the source's raw schema; errors name file, line and key."""
    doc = load_located(path)
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error("", "must be a mapping")
    _refuse_unknown(doc, data, MAPPING_KEYS, "")
    source = data.get("source")
    if source not in RAW_SCHEMAS:
        raise doc.error("source", f"unknown source {source!r}; known: {', '.join(sorted(RAW_SCHEMAS))}")
    schema = default_repository().get(RAW_SCHEMAS[source])
    fmt = data.get("format") or {}
    if not isinstance(fmt, dict):
        raise doc.error("format", "must be a mapping")
    _refuse_unknown(doc, fmt, FORMAT_KEYS, "format")
    fields_raw = data.get("fields")
    if not isinstance(fields_raw, dict) or not fields_raw:
        raise doc.error("fields", "must map schema fields to columns")
    fields: list[FieldMap] = []
    for name, spec in fields_raw.items():
        key = f"fields.{name}"
        if name not in schema.field_names:
            raise doc.error(key, f"not a field of {schema.name}")
        columns = spec.get("columns") if isinstance(spec, dict) and "column" not in spec else None
        if columns is not None and (not isinstance(columns, list) or not columns
                                    or not all(isinstance(c, str) for c in columns)):
            raise doc.error(f"{key}.columns", "must be a list of extract headers")
        if not isinstance(spec, dict) or not (isinstance(spec.get("column"), str) or columns):
            raise doc.error(key, "needs a column: <extract header>")
        _refuse_unknown(doc, spec, FIELD_KEYS, key)
        ftype = spec.get("type", "string")
        if ftype not in FIELD_TYPES:
            raise doc.error(f"{key}.type", f"unknown type {ftype!r}; expected one of {', '.join(FIELD_TYPES)}")
        required = bool(spec.get("required", False))
        cols = columns or [spec["column"]]
        fmap = FieldMap(name, cols[0], ftype, required, more_columns=tuple(cols[1:]))
        fields.append(_typed_field(doc, key, spec, fmap, schema.field(name)))
    if "record_id" not in fields_raw:
        raise doc.error("fields", "must map record_id (the extract's unique record reference)")
    for f in schema.declared["fields"]:
        nullable = isinstance(f["type"], list) and "null" in f["type"]
        if not nullable and f["name"] not in fields_raw:
            raise doc.error("fields", f"must map {f['name']!r}: the schema requires it")
        if not nullable and f["name"] in fields_raw and not fields_raw[f["name"]].get("required"):
            raise doc.error(f"fields.{f['name']}", "must be required: true (the schema requires it)")
    groups = data.get("require_one_of") or []
    if not isinstance(groups, list) or any(not isinstance(g, Sequence) or isinstance(g, str) for g in groups):
        raise doc.error("require_one_of", "must be a list of lists of field names")
    for g in groups:
        for name in g:
            if name not in fields_raw:
                raise doc.error("require_one_of", f"{name!r} is not a mapped field")
    codes = _local_codes(doc, data.get("codes"))
    delimiter = str(fmt.get("delimiter", ","))
    if len(delimiter) != 1:
        raise doc.error("format.delimiter", "must be a single character")
    return FieldMapping(source=source, path=str(path), fields=fields, delimiter=delimiter,
                    encoding=str(fmt.get("encoding", "utf-8")),
                    datetime_format=str(fmt.get("datetime_format", "%d/%m/%Y %H:%M")),
                    date_format=str(fmt.get("date_format", "%d/%m/%Y")),
                    require_one_of=[list(g) for g in groups], lookup=lookup, codes=codes)


def _avro_base(field_decl: Mapping[str, Any]) -> str:
    """The non-null Avro type name of a schema field (``int``, ``string``, ``boolean``...)."""
    types = field_decl["type"] if isinstance(field_decl["type"], list) else [field_decl["type"]]
    base = next(t for t in types if t != "null")
    return str(base["type"] if isinstance(base, dict) else base)


def _typed_field(doc: LocatedYaml, key: str, spec: dict[str, Any], fmap: FieldMap,
                 field_decl: Mapping[str, Any]) -> FieldMap:
    """Check and attach the options of ``code`` and ``integer`` fields (``code_list``, ``derive``, ``range``)."""
    for option, needs in (("code_list", "code"), ("derive", "code"), ("range", "integer")):
        if option in spec and fmap.type != needs:
            raise doc.error(f"{key}.{option}", f"only applies to type {needs}")
    if fmap.more_columns and not spec.get("derive"):
        raise doc.error(f"{key}.columns", "several columns are only for a field derived from a code list")
    if fmap.type == "integer":
        bounds = spec.get("range")
        if bounds is None:
            return fmap
        if (not isinstance(bounds, list) or len(bounds) != 2 or not all(isinstance(b, int) for b in bounds)
                or bounds[0] > bounds[1]):
            raise doc.error(f"{key}.range", "must be [lowest, highest] whole numbers")
        return replace(fmap, bounds=(bounds[0], bounds[1]))
    if fmap.type != "code":
        return fmap
    name = spec.get("code_list")
    try:
        codes = code_list(str(name))
    except CodeListError as exc:
        raise doc.error(f"{key}.code_list", str(exc)) from None
    derive = spec.get("derive")
    base = _avro_base(field_decl)
    if derive is None:
        if base != "string":
            raise doc.error(f"{key}.type", f"a code is text, but the schema field is {base}; derive a column?")
        return replace(fmap, code_list=codes.name)
    if derive not in codes.columns[2:]:
        raise doc.error(f"{key}.derive", f"{name} has no column {derive!r}; it has {', '.join(codes.columns[2:])}")
    wanted = "boolean" if codes.is_flag(str(derive)) else "string"
    if base != wanted:
        raise doc.error(f"{key}.derive", f"{name}.{derive} gives a {wanted}, but the schema field is {base}")
    return replace(fmap, code_list=codes.name, derive=str(derive))


def _local_codes(doc: LocatedYaml, value: Any) -> dict[str, dict[str, str]]:
    """``codes: {<code list>: {<local code>: <list code>}}``: an agency's own codes for a hub code list."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise doc.error("codes", "must map a code list to {local code: list code}")
    out: dict[str, dict[str, str]] = {}
    for name, pairs in value.items():
        try:
            codes = code_list(str(name))
        except CodeListError as exc:
            raise doc.error(f"codes.{name}", str(exc)) from None
        if not isinstance(pairs, dict):
            raise doc.error(f"codes.{name}", "must map local codes to codes of the list")
        out[codes.name] = {}
        for local, target in pairs.items():
            code = codes.resolve(str(target))
            if code is None:
                raise doc.error(f"codes.{name}.{local}", f"{target!r} is not a code of the {name} list")
            out[codes.name][" ".join(str(local).split()).upper()] = code
    return out


__all__ = ["ConfigError", "FieldMap", "FieldMapping", "RowError", "default_mapping_path", "load_mapping"]
