"""Which deployment modes and which sources a connector can run.

Modes register themselves by subclassing ``Mode`` with ``mode="..."``; importing this module imports
every mode module, so ``MODES`` is complete (a test checks it against the config's mode names).
Sources are discovered, not listed: every raw schema with a standard mapping under
``hub/connectors/mappings/`` is a standard source, so new sources join the conformance suite.
"""

from __future__ import annotations

from importlib import resources

import hub.connectors.database
import hub.connectors.file_drop
import hub.connectors.http_push  # noqa: F401 - imported to register their modes
from hub.connectors.base import MODES, Mode
from hub.connectors.config import MODE_NAMES
from hub.schemas import RAW_SCHEMAS


def mode_class(name: str) -> type[Mode]:
    try:
        return MODES[name]
    except KeyError:
        raise ValueError(f"unknown mode {name!r}; known: {', '.join(sorted(MODES))}") from None


def mode_names() -> list[str]:
    return sorted(MODES)


def standard_sources() -> list[str]:
    """Sources with a raw schema and a standard mapping shipped with the hub."""
    folder = resources.files("hub.connectors").joinpath("mappings")
    mapped = {p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")}
    return sorted(s for s in RAW_SCHEMAS if s in mapped)


__all__ = ["MODES", "MODE_NAMES", "mode_class", "mode_names", "standard_sources"]
