"""Pseudonymisation keys: key files with owner-only permissions, keys from the environment, rotation."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from hub.pseudonymisation import KeyRing, KeyRingError, Tokeniser, load_keyring, save_key_file
from hub.pseudonymisation.keys import load_key_file


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_saved_key_file_is_owner_only_and_loads_back(tmp_path: Path) -> None:
    ring = KeyRing.generate("k1")
    path = tmp_path / "sub" / "keys.json"
    save_key_file(ring, path)
    assert mode(path) == 0o600
    loaded = load_key_file(path)
    assert loaded.keys == ring.keys and loaded.active == "k1" and loaded.event_key == "k1"
    assert Tokeniser(loaded).token("name", "SMITH") == Tokeniser(ring).token("name", "SMITH")
    assert not list(path.parent.glob("*.tmp"))  # written atomically, nothing left behind


def test_saving_over_an_existing_key_file_keeps_mode_600(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    ring = KeyRing.generate("k1")
    save_key_file(ring, path)
    ring.rotate("k2")
    save_key_file(ring, path)
    assert mode(path) == 0o600
    assert set(load_key_file(path).keys) == {"k1", "k2"}


@pytest.mark.parametrize("bad_mode", [0o644, 0o640, 0o604, 0o660])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, bad_mode: int) -> None:
    ring = KeyRing.generate("k1")
    path = tmp_path / "keys.json"
    save_key_file(ring, path)
    path.chmod(bad_mode)
    with pytest.raises(KeyRingError) as err:
        load_key_file(path)
    message = str(err.value)
    assert f"chmod 600 {path}" in message
    secret_b64 = base64.b64encode(ring.keys["k1"]).decode()
    assert secret_b64 not in message


def test_missing_key_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match="hub keys init"):
        load_key_file(tmp_path / "nope.json")


def test_malformed_key_file_is_refused_without_key_material(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    secret = base64.b64encode(b"s" * 32).decode()
    path.write_text(json.dumps({"keys": {"k1": {"secret": secret}}}))  # no "active"
    path.chmod(0o600)
    with pytest.raises(KeyRingError, match="malformed") as err:
        load_key_file(path)
    assert secret not in str(err.value)


def test_keyring_from_environment() -> None:
    raw = bytes(range(32))
    env = {"HUB_MASTER_KEY": base64.b64encode(raw).decode(), "HUB_KEY_ID": "kenv"}
    ring = load_keyring(None, env)
    assert ring.keys == {"kenv": raw} and ring.active == "kenv" and ring.event_key == "kenv"
    default_id = load_keyring(None, {"HUB_MASTER_KEY": env["HUB_MASTER_KEY"]})
    assert default_id.active == "env"


def test_environment_key_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    save_key_file(KeyRing.generate("kfile"), path)
    env = {"HUB_MASTER_KEY": base64.b64encode(bytes(32)).decode(), "HUB_KEY_ID": "kenv"}
    assert load_keyring(path, env).active == "kenv"
    assert load_keyring(path, {}).active == "kfile"


@pytest.mark.parametrize("env,match", [
    ({"HUB_MASTER_KEY": "***not base64***"}, "base64"),
    ({"HUB_MASTER_KEY": base64.b64encode(b"short").decode()}, "shorter than 16"),
    ({}, "no key configured"),
])
def test_bad_environment_key_is_refused(env: dict[str, str], match: str) -> None:
    with pytest.raises(KeyRingError, match=match) as err:
        load_keyring(None, env)
    if env:
        assert env["HUB_MASTER_KEY"] not in str(err.value)


def test_rotate_keeps_old_keys() -> None:
    ring = KeyRing.generate("k1")
    old_secret = ring.keys["k1"]
    kid = ring.rotate("k2")
    assert kid == "k2" and ring.active == "k2" and ring.event_key == "k1"
    assert ring.keys["k1"] == old_secret and len(ring.keys["k2"]) == 32
    assert ring.keys["k2"] != old_secret
    auto = ring.rotate()
    assert auto.startswith("k") and auto in ring.keys and len(ring.keys) == 3
    with pytest.raises(KeyRingError, match="already exists"):
        ring.rotate("k1")


def test_keyring_refuses_missing_active_and_short_keys() -> None:
    with pytest.raises(KeyRingError):
        KeyRing(keys={"k1": bytes(32)}, active="k2", event_key="k1")
    with pytest.raises(KeyRingError):
        KeyRing(keys={"k1": bytes(8)}, active="k1", event_key="k1")


def test_purpose_keys_differ_by_purpose_and_key() -> None:
    ring = KeyRing(keys={"k1": bytes(32), "k2": bytes(range(32))}, active="k2", event_key="k1")
    assert ring.purpose_key("linkage") == ring.purpose_key("linkage", "k2")
    assert ring.purpose_key("linkage") != ring.purpose_key("other")
    assert ring.purpose_key("linkage", "k1") != ring.purpose_key("linkage", "k2")


def test_json_holds_every_key_and_no_raw_bytes() -> None:
    ring = KeyRing.generate("k1")
    ring.rotate("k2")
    data = json.loads(ring.to_json())
    assert data["active"] == "k2" and data["event_key"] == "k1"
    assert {k: base64.b64decode(v["secret"]) for k, v in data["keys"].items()} == ring.keys


def test_stale_tmp_file_cannot_loosen_key_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    stale = tmp_path / "keys.json.tmp"
    stale.write_text("")
    os.chmod(stale, 0o644)
    save_key_file(KeyRing.generate("k1"), path)
    assert mode(path) == 0o600


def test_repr_of_a_key_ring_holds_no_key_material() -> None:
    ring = KeyRing.generate("k1")
    ring.rotate("k2", overlap_days=1)
    text = repr(ring)
    assert "k1" in text and "k2" in text  # key ids are fine to show
    for secret in ring.keys.values():
        assert repr(secret) not in text and secret.hex() not in text
        assert base64.b64encode(secret).decode() not in text
