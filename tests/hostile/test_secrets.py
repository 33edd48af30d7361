"""Finding 7: no secret in a repr, a log line or a child process's environment.

Attacks: the mart URL's password, the SASL password and a master key in ``repr``/``str`` of the settings
and of their dump; then a real ``hub worker`` child started with them, whose ``/proc/<pid>/environ`` is
read while it runs.
"""

from __future__ import annotations

import base64
import socket
import stat
import time
from pathlib import Path

from hub.config import load_settings
from hub.pseudonymisation import KeyRing, save_key_file
from hub.streams.process import WorkerProcess

DB_PASSWORD = "db-canary-Qx7v"
SASL_PASSWORD = "sasl-canary-Zr9k"
MASTER_KEY = base64.b64encode(b"master-key-canary-0123456789abcd").decode()


def secret_settings(tmp_path: Path):  # noqa: ANN201 - Settings
    keys = tmp_path / "keys.json"
    save_key_file(KeyRing.generate(), keys)
    return load_settings({}, data_dir=tmp_path / "run", kafka_bootstrap="127.0.0.1:1", keys_file=keys,
                         mart_url=f"postgresql+psycopg://svh:{DB_PASSWORD}@127.0.0.1:1/svh",
                         security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512", sasl_username="hub",
                         sasl_password=SASL_PASSWORD, master_key=MASTER_KEY, key_id="kcanary")


def test_settings_never_show_a_secret(tmp_path: Path) -> None:
    settings = secret_settings(tmp_path)
    for text in (repr(settings), str(settings), repr(settings.model_dump()), str(settings.model_dump_json())):
        assert DB_PASSWORD not in text and SASL_PASSWORD not in text and MASTER_KEY not in text, text


def test_a_child_process_environment_holds_no_secret(tmp_path: Path) -> None:
    # A "broker" that accepts connections and never answers keeps the worker waiting (alive) for a minute.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    settings = secret_settings(tmp_path).replace(kafka_bootstrap=f"127.0.0.1:{silent.getsockname()[1]}")
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        assert worker.proc is not None
        # Read once the child has exec'd: between fork and exec /proc shows an empty environment.
        deadline = time.monotonic() + 20
        environ = b""
        while worker.alive() and time.monotonic() < deadline and b"HUB_" not in environ:
            try:
                environ = Path(f"/proc/{worker.proc.pid}/environ").read_bytes()
            except OSError:  # gone meanwhile: the assertion below says so
                break
            time.sleep(0.05)
        assert b"HUB_" in environ, "the child exited before its environment could be read"
        for secret in (DB_PASSWORD, SASL_PASSWORD, MASTER_KEY):
            assert secret.encode() not in environ
        config = dict(item.split(b"=", 1) for item in environ.split(b"\0") if b"=" in item).get(b"HUB_CONFIG")
        assert config, "secrets reach the child through a file named by HUB_CONFIG"
        path = Path(config.decode())
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    finally:
        worker.kill()
        silent.close()
    assert not path.exists() and not path.parent.exists()  # deleted when the worker is gone


def test_the_child_reads_its_secrets_from_the_file(tmp_path: Path) -> None:
    from hub.streams.process import settings_env, write_secrets
    settings = secret_settings(tmp_path)
    path = write_secrets(settings, tmp_path / "run")
    assert path is not None
    child = load_settings({**settings_env(settings), "HUB_CONFIG": str(path)})
    assert child.sasl_password is not None and child.sasl_password.get_secret_value() == SASL_PASSWORD
    assert DB_PASSWORD in child.mart and child.master_key is not None
