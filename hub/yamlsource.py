"""YAML files that remember the line of every key, and their validation: one way for every file.

Agreements, field mappings, connector configs and HTTP tokens files are read with ``load_located``
and validated by pydantic models (``validate``). Every problem is reported as a sentence naming the
file, the line and the dotted key (``file:12: sources.police_incident.provider: 'x' is not one of the
parties``), and every problem in a file is reported at once, one per line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """Configuration file problems, each phrased as ``file:line: key: what is wrong`` (one per line)."""

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass
class LocatedYaml:
    """Plain Python data from a YAML file plus ``lines[dotted.key.path] = line number``."""

    path: str
    data: Any
    lines: dict[str, int] = field(default_factory=dict)

    def problem(self, key_path: str, message: str) -> str:
        """``file:line: key: message`` (without the key when the problem is the whole file's)."""
        line = self.line(key_path)
        where = f"{self.path}:{line}" if line else self.path
        return f"{where}: {key_path}: {message}" if key_path else f"{where}: {message}"

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


def load_located(path: Path | str, text: str | None = None) -> LocatedYaml:
    name = str(path)
    if text is None:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read ({exc.strerror})") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        raise ConfigError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    data = _walk(node, "", lines, yaml.SafeLoader("")) if node is not None else None
    return LocatedYaml(name, data, lines)


# --- validation with pydantic -------------------------------------------------------------------------

def validate(doc: LocatedYaml, model: type[M], data: Any = None, *, prefix: str = "",
             context: dict[str, Any] | None = None, whole: str = "the file") -> M:
    """``data`` (default: the whole file) as ``model``; raises one ``ConfigError`` listing every problem.

    ``prefix`` is the dotted key ``data`` sits under in the file; ``whole`` names it in a problem that is
    about all of it (so no message has an empty key)."""
    value = doc.data if data is None else data
    try:
        return model.model_validate(value, context=context)
    except ValidationError as exc:
        raise doc.errors(located_problems(exc, value, prefix, whole)) from None


def invalid(title: str, problems: Iterable[tuple[tuple[str | int, ...], str]]) -> ValidationError:
    """Raise this from a model validator to report problems at keys below the model (pydantic adds the
    model's own place in the file): ``raise invalid("FieldSpec", [(("derive",), "has no column 'x'")])``."""
    return ValidationError.from_exception_data(title, [
        InitErrorDetails(type=PydanticCustomError("hub_problem", "{problem}", {"problem": message}), loc=loc,
                         input=None) for loc, message in problems])


def located_problems(exc: ValidationError, data: Any, prefix: str = "", whole: str = "the file"
                     ) -> list[tuple[str, str]]:
    """(dotted key, sentence) for each pydantic error, keys following the data (not pydantic's internals)."""
    out = []
    for err in exc.errors():
        key = _key(err["loc"], data, prefix)
        message = sentence(err)
        if not key:
            key, message = "", f"{whole}: {message}" if whole else message
        out.append((key, message))
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


def sentence(err: Mapping[str, Any]) -> str:
    """A pydantic error as a short sentence an agency's IT team can act on."""
    kind, msg = str(err["type"]), str(err["msg"])
    ctx = err.get("ctx") or {}
    if kind == "hub_problem":
        return str(ctx.get("problem", msg))
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown key (misspelt?)"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", msg)).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be a whole number"
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be a mapping"
    if kind == "list_type":
        return "must be a list"
    if kind == "string_type":
        return "must be text"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}".replace("'", "").rstrip()
    return msg.replace("Input should be", "must be").replace("String should", "must")
