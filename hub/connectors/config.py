"""A connector's configuration file: the YAML an agency IT team edits to deploy one connector.

Validated at start-up; every error names the file, the line and the key. Relative paths resolve
against the configuration file's folder, so a config and its mapping can move together. Secrets
are never written here: a password or token given inline is refused, and read instead from an
environment variable (``*_env``) or a file (``*_file``) at start-up. The mode names and each mode's
section come from the registry (``hub.connectors.registry``), not from a list kept here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from hub.connectors import registry
from hub.connectors.sections import ConnectorConfig, ModeSettings, path_keys, read_secret
from hub.yamlsource import LocatedYaml, Problems, load_located

SECRET_WORDS = ("password", "secret", "token", "passphrase", "api_key")
SECRET_SUFFIXES = ("_env", "_file", "tokens_file")


def _find_inline_secret(data: Any, path: str = "") -> str | None:
    """The dotted key of a value that looks like an inline secret (a password, token or secret key)."""
    if isinstance(data, dict):
        for key, value in data.items():
            child = f"{path}.{key}" if path else str(key)
            lowered = str(key).lower()
            if any(w in lowered for w in SECRET_WORDS) and not lowered.endswith(SECRET_SUFFIXES) \
                    and value not in (None, ""):
                return child
            found = _find_inline_secret(value, child)
            if found:
                return found
    return None


def _expand(doc: LocatedYaml, key: str, value: str, environ: dict[str, str]) -> str:
    """``~`` and ``$VAR``/``${VAR}`` in a path, so one config serves several hosts; an unset variable is an
    error, not a literal ``$`` in a folder name."""
    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in environ:
            raise doc.error(key, f"environment variable {name} is not set")
        return environ[name]
    return os.path.expanduser(_VAR.sub(sub, value))


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def _resolve(doc: LocatedYaml, data: dict[str, Any], base: Path, environ: dict[str, str], paths: list[str],
             expanded: list[str]) -> None:
    """Expand variables in ``paths`` and ``expanded`` keys, and make the paths absolute against ``base``."""
    for key in (*paths, *expanded):
        *parents, leaf = key.split(".")
        node: Any = data
        for p in parents:
            node = node.get(p) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(leaf), str):
            value = _expand(doc, key, node[leaf], environ)
            if key in paths:
                given = Path(value)
                value = str(given if given.is_absolute() else (base / given).resolve())
            node[leaf] = value


def load_config(path: Path | str, text: str | None = None, environ: dict[str, str] | None = None
                ) -> ConnectorConfig:
    """Read and validate a connector config; raises ``ConfigError`` as ``file:line: key: what is wrong``."""
    doc: LocatedYaml = load_located(path, text, whole="the connector config")
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error("", ("is empty" if data is None else "must be a mapping")
                        + ": name, source, mode, state_dir and the mode's section")
    secret = _find_inline_secret(data)
    if secret:
        raise doc.error(secret, "never write a secret in this file: give the name of an environment variable "
                                f"({secret}_env: VARIABLE) or a file readable only by the connector "
                                f"({secret}_file: /path)")
    env = dict(os.environ if environ is None else environ)
    modes = {name: registry.mode_class(name).settings_model for name in registry.mode_names()}
    mode = data.get("mode")
    if mode is None:
        raise doc.error("mode", f"is required: one of {', '.join(modes)}")
    if not isinstance(mode, str):
        raise doc.error("mode", f"must be one of {', '.join(modes)}")
    if mode not in modes:
        raise doc.error("mode", f"unknown mode {mode!r}; known: {', '.join(modes)}")
    if "mode_settings" in data:
        raise doc.error("mode_settings", "unknown key (misspelt?)")
    section = data.pop(mode, None)
    if not isinstance(section, dict):
        raise doc.error("mode", f"mode {mode} needs a '{mode}:' section with its settings")
    others = [m for m in modes if m != mode and m in data]
    if others:
        raise doc.error(others[0], f"settings for mode {others[0]}, but mode is {mode}")
    kind = modes[mode]
    base = Path(path).resolve().parent
    _resolve(doc, data, base, env, path_keys(ConnectorConfig), [])
    _resolve(doc, {mode: section}, base, env, path_keys(kind, f"{mode}."), [f"{mode}.{k}" for k in kind.EXPANDED])
    problems = Problems(doc)
    settings = problems.model(kind, section, mode)
    data["path"] = str(Path(path).resolve())
    data["mode_settings"] = settings or ModeSettings()  # a stand-in, so the rest is checked too
    config = problems.model(ConnectorConfig, data)
    problems.raise_any()
    assert config is not None
    return config


__all__ = ["ConnectorConfig", "load_config", "read_secret"]
