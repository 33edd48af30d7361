# mypy: disallow-untyped-defs, disallow-incomplete-defs, disallow-any-generics, warn-return-any
"""The versioned linkage model file: what `hub linkage train` writes and the link stage loads.

The version is a hash of the parameters (same parameters, same version), so a linked event names the
model that scored it and a retrained model is never mistaken for the old one. The file is restricted
like the tokens it was fitted on (written mode 600): its parameters say how common agreement is.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.linkage.scoring import DEFAULT_MODEL, DEFAULT_THRESHOLD, MatchModel

FORMAT = 1


@dataclass(frozen=True)
class ModelFile:
    model: MatchModel
    threshold: float
    version: str
    trained_at: str = ""
    trained_on: int = 0
    method: str = "defaults"


def version_of(model: MatchModel, threshold: float) -> str:
    text = json.dumps({"model": model.to_dict(), "threshold": threshold}, sort_keys=True)
    return "lm-" + hashlib.sha256(text.encode()).hexdigest()[:12]


DEFAULT_FILE = ModelFile(DEFAULT_MODEL, DEFAULT_THRESHOLD, version_of(DEFAULT_MODEL, DEFAULT_THRESHOLD))


def write_model(path: Path, model: MatchModel, *, threshold: float = DEFAULT_THRESHOLD, trained_on: int = 0,
                method: str = "splink", extra: Mapping[str, Any] | None = None) -> ModelFile:
    """Write the model atomically (mode 600); returns what was written."""
    out = ModelFile(model, threshold, version_of(model, threshold), datetime.now(UTC).isoformat(timespec="seconds"),
                    trained_on, method)
    doc = {"format": FORMAT, "version": out.version, "trained_at": out.trained_at, "trained_on": trained_on,
           "method": method, "threshold": threshold, "model": model.to_dict(), **(extra or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(doc, handle, indent=1, sort_keys=True)
    os.replace(tmp, path)
    return out


class ModelFileError(ValueError):
    """A model file that cannot be used (the message names the file, never a parameter)."""


def read_model(path: Path) -> ModelFile:
    try:
        doc = json.loads(path.read_text("utf-8"))
        model = MatchModel.from_dict(doc["model"])
        threshold = float(doc.get("threshold", DEFAULT_THRESHOLD))
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read the linkage model ({exc.strerror})") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{path}: not a linkage model file ({type(exc).__name__})") from None
    if not 0 < threshold < 1:
        raise ModelFileError(f"{path}: threshold must be in (0, 1)")
    return ModelFile(model, threshold, version_of(model, threshold), str(doc.get("trained_at", "")),
                     int(doc.get("trained_on", 0)), str(doc.get("method", "")))


def load_model(path: Path) -> ModelFile:
    """The model at ``path`` if the file exists, else the built-in defaults."""
    return read_model(path) if path.exists() else DEFAULT_FILE
