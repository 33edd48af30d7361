"""One settings object for every hub process, from ``HUB_*`` environment variables and an optional YAML file.

Validated at start-up: a bad value stops the process with a message naming the setting.
Secrets (the Kafka SASL password) are ``SecretStr`` and never printed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

ENV_PREFIX = "HUB_"


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the environment variable or file key."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = Field(Path(".run"), description="Where local state lives (mart file, keys, checkpoints).")
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port].")
    topic_prefix: str = Field("svh", description="Prefix of every topic, so one cluster can host several hubs.")
    topic_partitions: int = Field(2, ge=1, le=256, description="Partitions of the hub's topics.")
    raw_retention_hours: int = Field(168, ge=1, description="Retention of restricted raw and raw dead-letter topics.")
    mart_url: str | None = Field(None, description="SQLAlchemy URL of the mart; default SQLite in data_dir.")
    agreement_path: Path | None = Field(None, description="Information-sharing agreement YAML; default the example.")
    keys_file: Path | None = Field(None, description="Pseudonymisation key file; default data_dir/keys.json.")
    postcode_lookup: Path | None = Field(None, description="NSPL/ONSPD-style postcode to LSOA lookup CSV.")
    alert_rules: Path | None = Field(None, description="Alert rules YAML (homicide reviews, hot spots); default "
                                     "the shipped hub/alerts/rules.yaml.")
    app_id: str = Field("svh-worker", description="Faust application id (consumer group) of the worker.")
    metrics_host: str = Field("127.0.0.1", description="Address /metrics listens on.")
    metrics_port: int = Field(9101, ge=0, le=65535, description="Port of /metrics; 0 disables it.")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    security_protocol: str = Field("PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.")
    sasl_mechanism: str | None = Field(None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.")
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        if v.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return v.upper()

    @field_validator("mart_url")
    @classmethod
    def _mart_url(cls, v: str | None) -> str | None:
        if v is not None:
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError
            try:
                make_url(v)
            except (ArgumentError, ValueError):
                raise ValueError("not a SQLAlchemy URL (e.g. postgresql+psycopg://user@host:5432/db)") from None
        return v

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap(cls, v: str) -> str:
        for server in v.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError("must be host:port[,host:port]")
        return v

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}", v):
            raise ValueError("letters, digits, '.', '_' and '-' only (a Kafka topic name prefix), at most 100")
        return v

    @field_validator("sasl_mechanism")
    @classmethod
    def _mechanism(cls, v: str | None) -> str | None:
        if v is not None and v.upper() not in {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}:
            raise ValueError("must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
        return v.upper() if v else v

    @model_validator(mode="after")
    def _security(self) -> Settings:
        if self.security_protocol.startswith("SASL_") and not (self.sasl_mechanism and self.sasl_username
                                                                and self.sasl_password):
            raise ValueError(f"security_protocol {self.security_protocol} needs sasl_mechanism, sasl_username "
                             "and sasl_password (HUB_SASL_*)")
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "postcode_lookup", "alert_rules"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{name}: {path} is not a file")
        return self

    @field_validator("security_protocol")
    @classmethod
    def _protocol(cls, v: str) -> str:
        if v.upper() not in {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}:
            raise ValueError("must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
        return v.upper()

    @property
    def mart(self) -> str:
        return self.mart_url or f"sqlite:///{(self.data_dir / 'mart.db').resolve()}"

    @property
    def keys_path(self) -> Path:
        return self.keys_file or self.data_dir / "keys.json"

    def agreement_file(self) -> Path:
        from hub.policy import example_agreement_path
        return self.agreement_path or example_agreement_path()

    def kafka_python_kwargs(self) -> dict[str, Any]:
        """Connection settings for kafka-python clients; the only place the SASL password is unwrapped."""
        kw: dict[str, Any] = {"bootstrap_servers": self.kafka_bootstrap.split(","),
                              "security_protocol": self.security_protocol}
        if self.sasl_mechanism:
            kw.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username,
                      sasl_plain_password=self.sasl_password.get_secret_value() if self.sasl_password else None)
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            value = getattr(self, name)
            if value:
                kw[name] = str(value)
        return kw


def _env_values(environ: dict[str, str]) -> dict[str, str]:
    out = {}
    for name in Settings.model_fields:
        key = ENV_PREFIX + name.upper()
        if key in environ and environ[key] != "":
            out[name] = environ[key]
    return out


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults < YAML file named by ``HUB_CONFIG`` < ``HUB_*`` variables < explicit overrides."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    config_file = env.get("HUB_CONFIG")
    if config_file:
        try:
            loaded = yaml.safe_load(Path(config_file).read_text("utf-8")) or {}
        except OSError as exc:
            raise SettingsError(f"HUB_CONFIG={config_file}: cannot read ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            # Only the problem and line: PyYAML's own text quotes the line, which may hold a secret.
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark else ""
            raise SettingsError(f"HUB_CONFIG={config_file}{where}: not valid YAML "
                                f"({getattr(exc, 'problem', None) or type(exc).__name__})") from None
        if not isinstance(loaded, dict):
            raise SettingsError(f"HUB_CONFIG={config_file}: must be a mapping of setting: value")
        values.update(loaded)
        origin.update({k: f"{config_file}: {k}" for k in loaded})
    env_values = _env_values(env)
    values.update(env_values)
    origin.update({k: ENV_PREFIX + k.upper() for k in env_values})
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = str(err["loc"][0]) if err["loc"] else ""
            where = origin.get(key, key) or "settings"
            problems.append(f"{where}: {err['msg']}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
