"""Which deployment modes and which sources a connector can run.

Modes are discovered, not listed: every module in ``hub/connectors/modes/`` is imported, and each
``Mode`` subclass it declares registers itself (``hub.connectors.mode``). The config's mode names and
sections, ``hub connector check`` and the service all ask this registry, so a new mode is one file.
Sources are discovered too: every raw schema with a standard mapping under
``hub/connectors/mappings/`` is a standard source, so new sources join the conformance suite.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib import resources

from hub.connectors import modes as modes_package
from hub.connectors.mode import MODES, Mode
from hub.connectors.runtime import Runtime
from hub.schemas import RAW_SCHEMAS

_discovered = False


def _discover() -> None:
    global _discovered
    if not _discovered:
        for info in pkgutil.iter_modules(modes_package.__path__, modes_package.__name__ + "."):
            importlib.import_module(info.name)
        _discovered = True


def mode_class(name: str) -> type[Mode]:
    _discover()
    try:
        return MODES[name]
    except KeyError:
        raise ValueError(f"unknown mode {name!r}; known: {', '.join(mode_names())}") from None


def mode_names() -> list[str]:
    _discover()
    return sorted(MODES)


def make_mode(runtime: Runtime) -> Mode:
    """The configured mode, ready to poll or serve."""
    return mode_class(runtime.config.mode)(runtime)


def standard_sources() -> list[str]:
    """Sources with a raw schema and a standard mapping shipped with the hub."""
    folder = resources.files("hub.connectors").joinpath("mappings")
    mapped = {p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")}
    return sorted(s for s in RAW_SCHEMAS if s in mapped)


__all__ = ["MODES", "make_mode", "mode_class", "mode_names", "standard_sources"]
