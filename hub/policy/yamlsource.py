"""YAML loading that remembers the line of every key, so errors can name file, line and key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A configuration file problem, already phrased as ``file:line: key: what is wrong``."""


@dataclass
class LocatedYaml:
    """Plain Python data from a YAML file plus ``lines[dotted.key.path] = line number``."""

    path: str
    data: Any
    lines: dict[str, int] = field(default_factory=dict)

    def error(self, key_path: str, message: str) -> ConfigError:
        line = self.line(key_path)
        where = f"{self.path}:{line}" if line else self.path
        return ConfigError(f"{where}: {key_path}: {message}" if key_path else f"{where}: {message}")

    def line(self, key_path: str) -> int | None:
        probe = key_path
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe.rpartition(".")[0]
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
