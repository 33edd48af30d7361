"""A connector's state folder: checkpoints written atomically, and a lock so only one instance runs.

A checkpoint is written only after Kafka acknowledged everything it covers, by write-to-temp,
fsync, rename and fsync of the folder: after a crash the file holds either the old or the new
checkpoint, never half of one. Checkpoints can hold record references (a watermark, a tie-breaker,
file names), so the folder is created mode 700 and files mode 600.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any


class StateLocked(RuntimeError):
    """Another connector process holds this state folder."""


class StateDir:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock: IO[str] | None = None

    def open(self) -> StateDir:
        """Create the folder and take its lock (released by ``close`` or when the process dies)."""
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        fh = (self.path / "lock").open("a+", encoding="utf-8")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise StateLocked(f"{self.path} is in use by another connector process (lock file "
                              f"{self.path / 'lock'}); two instances on one state would race") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._lock = fh
        return self

    def close(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def read(self, name: str) -> dict[str, Any]:
        """The checkpoint ``name`` (empty if none was written yet)."""
        path = self.path / f"{name}.json"
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"checkpoint {path} is unreadable ({type(exc).__name__}); move it aside to "
                               "start over (re-publishing is harmless: event ids are deterministic)") from None
        if not isinstance(data, dict):
            raise RuntimeError(f"checkpoint {path} is not a JSON object")
        return data

    def write(self, name: str, data: dict[str, Any]) -> None:
        """Replace checkpoint ``name`` atomically and durably."""
        write_atomic(self.path / f"{name}.json", json.dumps(data, indent=1, sort_keys=True).encode())


def write_atomic(path: Path, payload: bytes, mode: int = 0o600) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def encode_value(value: Any) -> dict[str, Any]:
    """A watermark or tie-breaker value as JSON that ``decode_value`` turns back into the same type."""
    if value is None:
        return {"type": "null", "value": None}
    if isinstance(value, bool):
        return {"type": "bool", "value": value}
    if isinstance(value, datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, int):
        return {"type": "int", "value": value}
    if isinstance(value, float):
        return {"type": "float", "value": value}
    if isinstance(value, Decimal):
        return {"type": "decimal", "value": str(value)}
    if isinstance(value, bytes):
        return {"type": "bytes", "value": value.hex()}
    return {"type": "str", "value": str(value)}


def decode_value(data: dict[str, Any]) -> Any:
    kind, value = data.get("type"), data.get("value")
    if kind == "null" or value is None:
        return None
    decoders: dict[str, Any] = {"bool": bool, "datetime": datetime.fromisoformat, "date": date.fromisoformat,
                                "int": int, "float": float, "decimal": Decimal, "bytes": bytes.fromhex, "str": str}
    if kind not in decoders:
        raise RuntimeError(f"checkpoint value of unknown type {kind!r}")
    return decoders[kind](value)
