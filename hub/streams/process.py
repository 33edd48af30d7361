"""Running ``hub worker`` as a real child process (the demo and the integration tests use this)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import yaml

from hub.config import CONFIG_ENV, ENV_PREFIX, Settings


def settings_env(settings: Settings) -> dict[str, str]:
    """``HUB_*`` variables reproducing ``settings`` in a child process, secrets excepted: a process's
    environment is readable by its owner (``/proc/<pid>/environ``, ``ps e``) and inherited by its own
    children, so secrets go to the child in a mode-600 file instead (:func:`write_secrets`)."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump(exclude_none=True).items():
        if hasattr(value, "get_secret_value"):
            continue
        env[ENV_PREFIX + name.upper()] = str(value)
    return env


def write_secrets(settings: Settings, directory: Path) -> Path | None:
    """The settings' secrets as a ``HUB_CONFIG`` YAML file, mode 600 in a new mode-700 directory under
    ``directory`` (None if there are none). The caller deletes it once the child has read it."""
    secrets = {name: value.get_secret_value() for name, value in settings.model_dump(exclude_none=True).items()
               if hasattr(value, "get_secret_value")}
    if not secrets:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(prefix=".secrets-", dir=directory))  # created mode 700
    path = private / "settings.yaml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        yaml.safe_dump(secrets, fh)
    return path


class WorkerProcess:
    def __init__(self, settings: Settings, log_path: Path, stages: str = "pseudonymise,link,sink") -> None:
        self.settings = settings
        self.log_path = log_path
        self.stages = stages
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._secrets: Path | None = None

    def start(self) -> WorkerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
        env.update(settings_env(self.settings))
        self._secrets = write_secrets(self.settings, self.settings.data_dir)
        if self._secrets is not None:
            env[CONFIG_ENV] = str(self._secrets)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "hub", "worker", "--stages", self.stages], env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM (Faust's clean shutdown), then SIGKILL after ``timeout_s``."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self._log:
            self._log.close()
        self.forget_secrets()
        return self.proc.returncode

    def forget_secrets(self) -> None:
        """Delete the secrets file (the child has read its settings by the time it is ready)."""
        if self._secrets is not None:
            shutil.rmtree(self._secrets.parent, ignore_errors=True)
            self._secrets = None

    def kill(self) -> None:
        """SIGKILL: an abrupt crash, for fault tests."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.forget_secrets()

    def wait_started(self, timeout_s: float = 60.0) -> None:
        """Until the worker's log shows Faust has started its agents (or it dies)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                code = self.proc.returncode if self.proc else "?"
                raise RuntimeError(f"worker exited with {code}; see {self.log_path}")
            if self.log_path.exists() and b"Worker ready" in self.log_path.read_bytes():
                self.forget_secrets()
                return
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready within {timeout_s:.0f} s; see {self.log_path}")
