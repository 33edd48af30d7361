"""The configured notify hook: run a command with the alert as JSON on stdin, and/or POST it to a webhook.

No shell is involved (argv only), the payload holds no identifier (the case reference is a token), and
a failure is reported by class only: a hook that fails must never take the worker down, so the result
is returned for the caller to count and log.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from hub.alerts.rules import NotifyConfig


def payload(alert: Mapping[str, Any]) -> bytes:
    def default(value: Any) -> str:
        if isinstance(value, datetime | date):
            return value.isoformat()
        return str(value)
    return json.dumps(dict(alert), sort_keys=True, default=default).encode()


def notify(config: NotifyConfig, alert: Mapping[str, Any]) -> list[str]:
    """Send the alert through every configured hook; returns the failures (empty: all delivered)."""
    body = payload(alert)
    failures: list[str] = []
    if config.command:
        try:
            done = subprocess.run(config.command, input=body, capture_output=True, timeout=config.timeout_s,
                                  check=False)
            if done.returncode != 0:
                failures.append(f"command exited {done.returncode}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            failures.append(f"command failed ({type(exc).__name__})")
    if config.webhook:
        request = urllib.request.Request(config.webhook, data=body, method="POST",  # noqa: S310 - validated http(s)
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=config.timeout_s) as resp:  # noqa: S310 - https/http only
                if not 200 <= resp.status < 300:
                    failures.append(f"webhook answered {resp.status}")
        except OSError as exc:  # URLError, HTTPError and timeouts are OSErrors
            failures.append(f"webhook failed ({type(exc).__name__})")
    return failures


def configured(config: NotifyConfig) -> bool:
    return bool(config.command or config.webhook)
