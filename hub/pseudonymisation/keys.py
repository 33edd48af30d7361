"""Pseudonymisation keys: a key file (or the environment) holding master keys by id.

Each purpose gets its own key derived from the master key, so tokens made for one purpose cannot
be joined with another's. The active key id is written into every token so keys can rotate.
After a rotation the previous key may stay in an *overlap* until a given time: while it lasts the
tokeniser also emits every match key under that key, so records tokenised before and after the
rotation still share tokens (see docs/governance.md, "Rotating keys").
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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

KEY_BYTES = 32
HUB_HOLDER = "hub"
AGENCY_PREFIX = "agency:"


class KeyRingError(Exception):
    """A key file or key setting that cannot be used (the message never contains key material)."""


class KeyCustodyError(KeyRingError):
    """Key material in the wrong hands: the hub's key at an agency, or an agency's key at the hub."""


def require_holder(ring: KeyRing, *, agency: bool) -> None:
    """Refuse a ring held by the wrong side (see docs/governance.md, "Key custody")."""
    if agency and not ring.for_agency:
        raise KeyCustodyError("this key file is the hub's (holder 'hub'): an at-source connector must use its "
                              "agency's own key, created with: hub keys init --agency <party id>")
    if not agency and ring.for_agency:
        raise KeyCustodyError(f"this key file belongs to {ring.holder}: the hub's worker needs the hub's own key")


@dataclass
class KeyRing:
    """Master keys by id; ``active`` makes new tokens, ``event_key`` makes event ids (kept across rotation)."""

    keys: dict[str, bytes] = field(repr=False)  # key material: never in a repr, log line or traceback
    active: str
    event_key: str
    created: dict[str, str] = field(default_factory=dict)
    overlap: dict[str, datetime] = field(default_factory=dict)
    """Previous key id -> until when (UTC) tokens are also made with it, so linkage survives rotation."""
    holder: str = HUB_HOLDER
    """Who holds this ring: ``hub``, or ``agency:<party id>`` for an at-source connector's own key. An agency
    must never hold the hub's key (it could reverse any token by dictionary), nor the hub an agency's."""

    def __post_init__(self) -> None:
        for kid in (self.active, self.event_key, *self.overlap):
            if kid not in self.keys:
                raise KeyRingError(f"key id {kid!r} is named but not present in the key ring")
        for kid, until in self.overlap.items():
            if until.tzinfo is None:
                raise KeyRingError(f"overlap end of key {kid!r} must be a UTC date-time")
        for kid, secret in self.keys.items():
            if len(secret) < 16:
                raise KeyRingError(f"key {kid!r} is shorter than 16 bytes")
        if self.holder != HUB_HOLDER and not (self.holder.startswith(AGENCY_PREFIX) and
                                              len(self.holder) > len(AGENCY_PREFIX)):
            raise KeyRingError(f"key holder must be {HUB_HOLDER!r} or '{AGENCY_PREFIX}<party id>'")

    def purpose_key(self, purpose: str, key_id: str | None = None) -> bytes:
        kid = key_id or self.active
        master = self.keys[kid]
        return hmac.new(master, b"svh-purpose\x1f" + purpose.encode(), hashlib.sha256).digest()

    @property
    def for_agency(self) -> bool:
        return self.holder.startswith(AGENCY_PREFIX)

    @classmethod
    def generate(cls, key_id: str | None = None, holder: str = HUB_HOLDER) -> KeyRing:
        kid = key_id or new_key_id()
        return cls(keys={kid: secrets.token_bytes(KEY_BYTES)}, active=kid, event_key=kid,
                   created={kid: _now()}, holder=holder)

    def rotate(self, key_id: str | None = None, overlap_days: float = 0,
               now: datetime | None = None) -> str:
        """Add a new master key and make it active; old keys stay for reading and re-tokenising.

        With ``overlap_days`` > 0 the key that was active keeps making tokens alongside the new one
        until ``now + overlap_days`` (an earlier overlap is replaced: one previous key at a time).
        """
        if overlap_days < 0:
            raise KeyRingError("overlap_days must not be negative")
        kid = key_id or new_key_id()
        if kid in self.keys:
            raise KeyRingError(f"key id {kid!r} already exists")
        previous = self.active
        self.keys[kid] = secrets.token_bytes(KEY_BYTES)
        self.created[kid] = _now()
        self.active = kid
        self.overlap = {}
        if overlap_days:
            self.overlap[previous] = (now or datetime.now(UTC)) + timedelta(days=overlap_days)
        return kid

    def overlap_keys(self, now: datetime | None = None) -> list[str]:
        """Previous key ids still in their overlap at ``now``: tokens are made with these too."""
        at = now or datetime.now(UTC)
        return sorted(kid for kid, until in self.overlap.items() if kid != self.active and at < until)

    def end_overlap(self) -> None:
        """Stop making tokens with any previous key (the overlap is over, or was a mistake)."""
        self.overlap = {}

    def to_json(self) -> str:
        return json.dumps({
            "format": 1,
            "holder": self.holder,
            "active": self.active,
            "event_key": self.event_key,
            "keys": {kid: {"secret": base64.b64encode(k).decode(), "created": self.created.get(kid, "")}
                     for kid, k in self.keys.items()},
            "overlap": {kid: until.astimezone(UTC).isoformat(timespec="seconds")
                        for kid, until in self.overlap.items()},
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
        overlap = {kid: datetime.fromisoformat(until) for kid, until in (data.get("overlap") or {}).items()}
        return KeyRing(keys=keys, active=data["active"], event_key=data.get("event_key", data["active"]),
                       created=created, overlap=overlap, holder=str(data.get("holder", HUB_HOLDER)))
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


def _env_secret(env: Mapping[str, str], name: str) -> bytes:
    try:
        return base64.b64decode(env[name], validate=True)
    except ValueError:
        raise KeyRingError(f"{name} is not valid base64") from None


def load_keyring(path: Path | None, environ: Mapping[str, str] | None = None) -> KeyRing:
    """From ``HUB_MASTER_KEY`` (base64) and ``HUB_KEY_ID`` in the environment, else from the key file.

    ``HUB_KEY_HOLDER`` says whose key an environment key is (``hub``, the default, or ``agency:<party>``).

    After a rotation, a secret store supplies the previous key as ``HUB_PREVIOUS_MASTER_KEY`` and
    ``HUB_PREVIOUS_KEY_ID``, with ``HUB_PREVIOUS_KEY_UNTIL`` (ISO UTC date-time) for the overlap and
    ``HUB_EVENT_KEY_ID`` naming the key that keeps making event ids (default: the active key).
    """
    env = os.environ if environ is None else environ
    if env.get("HUB_MASTER_KEY"):
        kid = env.get("HUB_KEY_ID", "env")
        keys = {kid: _env_secret(env, "HUB_MASTER_KEY")}
        overlap: dict[str, datetime] = {}
        if env.get("HUB_PREVIOUS_MASTER_KEY"):
            prev = env.get("HUB_PREVIOUS_KEY_ID", "")
            if not prev or prev == kid:
                raise KeyRingError("HUB_PREVIOUS_KEY_ID must name the previous key (and differ from HUB_KEY_ID)")
            keys[prev] = _env_secret(env, "HUB_PREVIOUS_MASTER_KEY")
            if env.get("HUB_PREVIOUS_KEY_UNTIL"):
                try:
                    overlap[prev] = datetime.fromisoformat(env["HUB_PREVIOUS_KEY_UNTIL"])
                except ValueError:
                    raise KeyRingError("HUB_PREVIOUS_KEY_UNTIL is not an ISO date-time") from None
        return KeyRing(keys=keys, active=kid, event_key=env.get("HUB_EVENT_KEY_ID") or kid, overlap=overlap,
                       holder=env.get("HUB_KEY_HOLDER") or HUB_HOLDER)
    if path is None:
        raise KeyRingError("no key configured: set HUB_KEYS_FILE (or keys_file) or HUB_MASTER_KEY")
    return load_key_file(path)
