"""YAML files that remember the line of every key, and their validation: one way for every file.

Agreements, field mappings, connector configs, HTTP tokens files, alert rules and the ``HUB_CONFIG``
settings file are read with ``load_located`` and validated by pydantic models (``load_model``, or
``Problems`` for a file checked part by part). Every problem is one line, ``file:line: key.path: plain
message`` (``file:12: sources.police_incident.provider: 'x' is not one of the parties``), in words an
agency's IT team can act on rather than pydantic's, and every problem in a file is reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """Configuration file problems, each phrased as ``file:line: key: what is wrong`` (one per line)."""

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass
class LocatedYaml:
    """Plain Python data from a YAML file plus ``lines[dotted.key.path] = line number``.

    ``whole`` names the file's content in a problem about all of it ("the mapping: must be a mapping"),
    so no problem is reported under an empty key."""

    path: str
    data: Any
    lines: dict[str, int] = field(default_factory=dict)
    whole: str = "the file"

    def problem(self, key_path: str, message: str) -> str:
        """``file:line: key: message``; a problem with no line of its own (a missing top-level key, the
        whole file) is at line 1."""
        return f"{self.path}:{self.line(key_path) or 1}: {key_path or self.whole}: {message}"

    def error(self, key_path: str, message: str) -> ConfigError:
        return ConfigError(self.problem(key_path, message))

    def errors(self, problems: Iterable[tuple[str, str]]) -> ConfigError:
        """One error for several ``(key, message)`` problems, in the order of their lines in the file."""
        located = sorted(problems, key=lambda p: (self.line(p[0]) or 0, p[0]))
        return ConfigError(*dict.fromkeys(self.problem(k, m) for k, m in located))

    def line(self, key_path: str) -> int | None:
        probe = key_path
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            cut = max(probe.rfind("."), probe.rfind("["))  # up to the parent key or list
            probe = probe[:cut] if cut > 0 else ""
        return None


def _walk(node: yaml.Node, path: str, lines: dict[str, int], loader: yaml.SafeLoader) -> Any:
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(loader.construct_object(key_node))
            child = f"{path}.{key}" if path else key
            lines[child] = key_node.start_mark.line + 1
            out[key] = _walk(value_node, child, lines, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            child = f"{path}[{i}]"
            lines[child] = item.start_mark.line + 1
            items.append(_walk(item, child, lines, loader))
        return items
    return loader.construct_object(node)


def load_located(path: Path | str, text: str | None = None, whole: str = "the file") -> LocatedYaml:
    """The file's data and the line of every key. Errors never quote the file's text (a line may hold a
    secret): PyYAML's own message names only what it found wrong."""
    name = str(path)
    if text is None:
        try:
            text = Path(path).read_text("utf-8")
        except IsADirectoryError:
            raise ConfigError(f"{name}: is a folder, not a file") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{name}: is not UTF-8 text (byte {exc.start} cannot be read)") from None
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read ({exc.strerror})") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"{name}:{mark.line + 1 if mark else 1}: {whole}: not valid YAML "
                          f"({getattr(exc, 'problem', None) or type(exc).__name__})") from None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    try:
        data = _walk(node, "", lines, yaml.SafeLoader("")) if node is not None else None
    except yaml.YAMLError as exc:  # e.g. a tag PyYAML's safe loader will not build
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"{name}:{mark.line + 1 if mark else 1}: {whole}: not valid YAML "
                          f"({getattr(exc, 'problem', None) or type(exc).__name__})") from None
    return LocatedYaml(name, data, lines, whole)


# --- validation with pydantic -------------------------------------------------------------------------

class Problems:
    """Every problem found in one file, collected so that all of them are reported at once.

    The one way agreements, mappings, connector configs, tokens files and alert rules are checked: parts
    of the file are validated by their models (``model``), checks that need more than one part add
    their own (``add``), and ``raise_any`` ends with one ``ConfigError`` listing them in line order."""

    def __init__(self, doc: LocatedYaml) -> None:
        self.doc = doc
        self.found: list[tuple[str, str]] = []

    def add(self, key_path: str, message: str) -> None:
        self.found.append((key_path, message))

    def model(self, model: type[M], data: Any, key_path: str = "", **context: Any) -> M | None:
        """``data`` (at ``key_path`` in the file) as ``model``, or None with its problems noted."""
        try:
            return model.model_validate(data, context=context)
        except ValidationError as exc:
            self.found.extend(located_problems(exc, data, key_path))
            return None

    def raise_any(self) -> None:
        if self.found:
            raise self.doc.errors(self.found)


def validate(doc: LocatedYaml, model: type[M], data: Any = None, *, prefix: str = "",
             context: dict[str, Any] | None = None) -> M:
    """``data`` (default: the whole file) as ``model``; raises one ``ConfigError`` listing every problem.
    ``prefix`` is the dotted key ``data`` sits under in the file."""
    problems = Problems(doc)
    value = problems.model(model, doc.data if data is None else data, prefix, **(context or {}))
    problems.raise_any()
    assert value is not None
    return value


def load_model(path: Path | str, model: type[M], *, whole: str, text: str | None = None,
               context: dict[str, Any] | None = None) -> tuple[M, LocatedYaml]:
    """Read a YAML file and validate all of it as ``model``: the parsed model and the located file (whose
    lines later checks may need). ``whole`` names the file's content in messages ("the mapping")."""
    doc = load_located(path, text, whole)
    return validate(doc, model, context=context), doc


def invalid(title: str, problems: Iterable[tuple[tuple[str | int, ...], str]]) -> ValidationError:
    """Raise this from a model validator to report problems at keys below the model (pydantic adds the
    model's own place in the file): ``raise invalid("FieldSpec", [(("derive",), "has no column 'x'")])``."""
    return ValidationError.from_exception_data(title, [
        InitErrorDetails(type=PydanticCustomError("hub_problem", "{problem}", {"problem": message}), loc=loc,
                         input=None) for loc, message in problems])


def one_of(value: Any, allowed: Iterable[Any], what: str = "") -> Any:
    """``value`` if it is one of ``allowed``; else a ``ValueError`` naming them (for field validators)."""
    choices = list(allowed)
    if value not in choices:
        listed = ", ".join(str(c) for c in choices)
        raise ValueError(f"unknown {what} {value!r}; known: {listed}" if what else f"must be one of {listed}")
    return value


def matching(regex: str, plain: str) -> AfterValidator:
    """A text field's form, stated in words: ``Annotated[str, matching(r"[a-z]+", "must be lower-case")]``
    (pydantic's own ``pattern=`` would show the regular expression to the reader)."""
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(plain)
        return value
    return AfterValidator(check)


def located_problems(exc: ValidationError, data: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted key, sentence) for each pydantic error, keys following the data (not pydantic's internals).
    A problem of all of ``data`` at the top of the file has the key "" (``LocatedYaml.whole`` names it)."""
    out: list[tuple[str, str]] = []
    for err in exc.errors():
        key = _key(err["loc"], data, prefix)
        if data is None and not key and err["type"] in _MAPPING_TYPES:
            out.append((key, "is empty"))
        else:
            out.append((key, sentence(err)))
    return out


def _key(loc: tuple[Any, ...], data: Any, prefix: str) -> str:
    """The dotted key of ``loc`` in ``data``: parts that are not keys or indexes of the data (a union
    member's name, a validator's) are left out, and a missing key is named after its parent."""
    key = prefix.rstrip(".")
    node = data
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            key, node = f"{key}[{part}]", node[part]
        elif isinstance(node, Mapping) and isinstance(part, str):
            key = f"{key}.{part}" if key else part
            node = node.get(part)
        elif isinstance(part, str) and node is None:
            key = f"{key}.{part}" if key else part
    return key


_MAPPING_TYPES = {"dict_type", "model_type", "model_attributes_type", "mapping_type", "dataclass_type"}
_PLAIN = {
    "missing": "is required",
    "extra_forbidden": "unknown key (misspelt?)",
    "int_type": "must be a whole number", "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number", "int_parsing_size": "is too large a number",
    "float_type": "must be a number", "float_parsing": "must be a number", "finite_number": "must be a finite number",
    "decimal_type": "must be a number", "decimal_parsing": "must be a number",
    "bool_type": "must be true or false", "bool_parsing": "must be true or false",
    **{kind: "must be a mapping" for kind in _MAPPING_TYPES},
    "list_type": "must be a list", "tuple_type": "must be a list", "set_type": "must be a list",
    "frozen_set_type": "must be a list", "iterable_type": "must be a list",
    "set_item_not_hashable": "must be a list of names or numbers",
    "string_type": "must be text", "string_unicode": "must be text", "string_not_ascii": "must be ASCII text",
    "bytes_type": "must be text",
    "date_type": "must be a date (YYYY-MM-DD)", "date_parsing": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "must be a date without a time",
    "datetime_type": "must be a date and time (YYYY-MM-DDTHH:MM:SS)",
    "datetime_parsing": "must be a date and time (YYYY-MM-DDTHH:MM:SS)",
    "datetime_from_date_parsing": "must be a date and time (YYYY-MM-DDTHH:MM:SS)",
    "datetime_object_invalid": "must be a date and time (YYYY-MM-DDTHH:MM:SS)",
    "time_type": "must be a time (HH:MM:SS)", "time_parsing": "must be a time (HH:MM:SS)",
    "time_delta_type": "must be a duration", "time_delta_parsing": "must be a duration",
    "timezone_naive": "must have no time zone", "timezone_aware": "must give its time zone",
    "url_type": "must be a URL", "url_parsing": "must be a URL", "url_syntax_violation": "must be a URL",
    "url_scheme": "must be a URL of another kind", "url_too_long": "is too long a URL",
    "uuid_type": "must be a UUID", "uuid_parsing": "must be a UUID",
    "json_invalid": "is not valid JSON", "json_type": "must be JSON text",
    "none_required": "must be left empty", "recursion_loop": "refers to itself",
    "path_type": "must be a file or folder path",
    "is_instance_of": "has the wrong kind of value", "callable_type": "has the wrong kind of value",
    "union_tag_invalid": "is not one of the kinds allowed here", "union_tag_not_found": "needs its kind",
    "frozen_field": "cannot be changed", "frozen_instance": "cannot be changed",
}
_BOUNDS = {"greater_than_equal": ("ge", "must be at least {}"), "greater_than": ("gt", "must be more than {}"),
           "less_than_equal": ("le", "must be at most {}"), "less_than": ("lt", "must be less than {}"),
           "multiple_of": ("multiple_of", "must be a multiple of {}"),
           "string_too_long": ("max_length", "must be at most {} characters long"),
           "too_long": ("max_length", "must have at most {} items"),
           "date_past": ("", "must be in the past"), "date_future": ("", "must be in the future"),
           "datetime_past": ("", "must be in the past"), "datetime_future": ("", "must be in the future")}
_PYDANTIC_PHRASES = (("Input should be", "must be"), ("String should", "must"), ("Value error, ", ""),
                     ("Assertion failed, ", ""), ("Field required", "is required"), ("a valid ", ""))


def sentence(err: Mapping[str, Any]) -> str:
    """A pydantic error as a short sentence an agency's IT team can act on (never pydantic's own wording,
    error codes or links, and never the value: it may be a secret)."""
    kind, msg = str(err["type"]), str(err["msg"])
    ctx = err.get("ctx") or {}
    if kind == "hub_problem":
        return str(ctx.get("problem", msg))
    if kind in ("value_error", "assertion_error"):
        return _plain(str(ctx.get("error", msg)))
    if kind in _PLAIN:
        return _PLAIN[kind]
    if kind in _BOUNDS:
        name, text = _BOUNDS[kind]
        return text.format(ctx.get(name, ""))
    if kind in ("string_too_short", "too_short"):
        least = int(ctx.get("min_length", 1))
        if least <= 1:
            return "must not be empty"
        return f"must be at least {least} characters long" if kind == "string_too_short" else \
            f"must have at least {least} items"
    if kind == "string_pattern_mismatch":
        return f"is not in the allowed form (the pattern {ctx.get('pattern', '')})"
    if kind in ("literal_error", "enum"):
        return f"must be one of {ctx.get('expected', '')}".replace("'", "").rstrip()
    return _plain(msg)


def _plain(text: str) -> str:
    for phrase, plain in _PYDANTIC_PHRASES:
        text = text.replace(phrase, plain)
    return text.split(" [type=")[0].strip() or "is not valid"
