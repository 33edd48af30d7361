"""Pseudonymisation keys: a key file (or the environment) holding master keys by id.

Each purpose gets its own key derived from the master key, so tokens made for one purpose cannot
be joined with another's. The active key id is written into every token so keys can rotate.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import stat
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

KEY_BYTES = 32


class KeyRingError(Exception):
    """A key file or key setting that cannot be used (the message never contains key material)."""


@dataclass
class KeyRing:
    """Master keys by id; ``active`` makes new tokens, ``event_key`` makes event ids (kept across rotation)."""

    keys: dict[str, bytes]
    active: str
    event_key: str
    created: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kid in (self.active, self.event_key):
            if kid not in self.keys:
                raise KeyRingError(f"key id {kid!r} is named but not present in the key ring")
        for kid, secret in self.keys.items():
            if len(secret) < 16:
                raise KeyRingError(f"key {kid!r} is shorter than 16 bytes")

    def purpose_key(self, purpose: str, key_id: str | None = None) -> bytes:
        kid = key_id or self.active
        master = self.keys[kid]
        return hmac.new(master, b"svh-purpose\x1f" + purpose.encode(), hashlib.sha256).digest()

    @classmethod
    def generate(cls, key_id: str | None = None) -> KeyRing:
        kid = key_id or new_key_id()
        return cls(keys={kid: secrets.token_bytes(KEY_BYTES)}, active=kid, event_key=kid,
                   created={kid: _now()})

    def rotate(self, key_id: str | None = None) -> str:
        """Add a new master key and make it active; old keys stay for reading and re-tokenising."""
        kid = key_id or new_key_id()
        if kid in self.keys:
            raise KeyRingError(f"key id {kid!r} already exists")
        self.keys[kid] = secrets.token_bytes(KEY_BYTES)
        self.created[kid] = _now()
        self.active = kid
        return kid

    def to_json(self) -> str:
        return json.dumps({
            "format": 1,
            "active": self.active,
            "event_key": self.event_key,
            "keys": {kid: {"secret": base64.b64encode(k).decode(), "created": self.created.get(kid, "")}
                     for kid, k in self.keys.items()},
        }, indent=2)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_key_id() -> str:
    return "k" + datetime.now(UTC).strftime("%Y%m%d") + secrets.token_hex(2)


def check_permissions(path: Path) -> None:
    """Refuse a key file that anyone but its owner can read or write."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyRingError(f"key file {path} is readable or writable by group/others "
                        f"(mode {stat.filemode(mode)}); run: chmod 600 {path}")


def load_key_file(path: Path) -> KeyRing:
    if not path.exists():
        raise KeyRingError(f"key file {path} does not exist; create one with: hub keys init --file {path}")
    check_permissions(path)
    try:
        data = json.loads(path.read_text("utf-8"))
        keys = {kid: base64.b64decode(v["secret"], validate=True) for kid, v in data["keys"].items()}
        created = {kid: str(v.get("created", "")) for kid, v in data["keys"].items()}
        return KeyRing(keys=keys, active=data["active"], event_key=data.get("event_key", data["active"]),
                       created=created)
    except KeyRingError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyRingError(f"key file {path} is malformed ({type(exc).__name__})") from None


def save_key_file(ring: KeyRing, path: Path) -> None:
    """Write atomically with mode 600 from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp: a new, unpredictable file created 0600 with O_EXCL, so no leftover or planted file is reused.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(ring.to_json())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load_keyring(path: Path | None, environ: dict[str, str] | None = None) -> KeyRing:
    """From ``HUB_MASTER_KEY`` (base64) and ``HUB_KEY_ID`` in the environment, else from the key file."""
    env = os.environ if environ is None else environ
    secret = env.get("HUB_MASTER_KEY")
    if secret:
        kid = env.get("HUB_KEY_ID", "env")
        try:
            raw = base64.b64decode(secret, validate=True)
        except ValueError:
            raise KeyRingError("HUB_MASTER_KEY is not valid base64") from None
        return KeyRing(keys={kid: raw}, active=kid, event_key=kid)
    if path is None:
        raise KeyRingError("no key configured: set HUB_KEYS_FILE (or keys_file) or HUB_MASTER_KEY")
    return load_key_file(path)
