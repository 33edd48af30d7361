"""One settings object for every hub process, from ``HUB_*`` environment variables and an optional YAML file.

Built on pydantic-settings: overrides given in code < ``HUB_*`` variables < the YAML file named by
``HUB_CONFIG`` < defaults (left wins). Validated at start-up: a bad value stops the process with a
message naming the variable or the file and key. Secrets (the Kafka SASL password, the password in
the mart URL, master keys) are ``SecretStr`` and never printed. This module knows no domain code:
it only says where things are, the modules that use them load them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from hub.yamlsource import ConfigError, LocatedYaml, invalid, load_located, matching, sentence

ENV_PREFIX = "HUB_"
CONFIG_ENV = "HUB_CONFIG"
EXAMPLE_AGREEMENT = Path(__file__).resolve().parent / "policy" / "agreements" / "example-county.yaml"
"""The example county agreement shipped with the hub (the default, for the demo and tests)."""

_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("hub_settings_environ", default=None)


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the environment variable or file key."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    data_dir: Path = Field(Path(".run"), description="Where local state lives (mart file, keys, checkpoints).")
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port].")
    topic_prefix: str = Field("svh", description="Prefix of every topic, so one cluster can host several hubs.")
    topic_partitions: int = Field(2, ge=1, le=256, description="Partitions of the hub's topics.")
    topic_replication_factor: int = Field(1, ge=1, le=16, description="Replicas of each hub topic (3 on a "
                                          "three-broker cluster with min.insync.replicas 2).")
    raw_retention_hours: int = Field(168, ge=1, description="Retention of restricted raw and raw dead-letter topics.")
    mart_url: SecretStr | None = Field(None, description="SQLAlchemy URL of the mart (may hold its password); "
                                                         "default SQLite in data_dir.")
    agreement_path: Path = Field(EXAMPLE_AGREEMENT, description="Information-sharing agreement YAML; default the "
                                                                "example county's.")
    keys_file: Path | None = Field(None, description="Pseudonymisation key file; default data_dir/keys.json.")
    postcode_lookup: Path | None = Field(None, description="NSPL/ONSPD-style postcode to LSOA lookup CSV.")
    linkage_model: Path | None = Field(None, description="Linkage model JSON from `hub linkage train`; default "
                                       "data_dir/linkage-model.json if it exists, else the built-in defaults.")
    alert_rules: Path | None = Field(None, description="Alert rules YAML (homicide reviews, hot spots); default "
                                     "the shipped hub/alerts/rules.yaml.")
    incident_match_interval_s: float = Field(
        60.0, ge=0.0, description="Seconds between the sink's refreshes of ED <-> police incident matches for the "
                                  "months its new events touched (0: never; `hub mart match-incidents` by hand).")
    connector_child: bool = Field(
        True, description="`hub connector load` reads, checks and encodes a large file in a second process while "
                          "the first only sends (false: one process, e.g. in a container limited to one CPU).")
    worker_batch_lane: bool = Field(
        True, description="The worker's pseudonymise and sink stages take each fetch's messages straight from "
                          "Faust's consumer as one batch (acks, offsets and commits stay Faust's; docs/ops.md). "
                          "False: through Faust's streams, one Event per message (slower; kept as a fallback).")
    app_id: str = Field("svh-worker", description="Faust application id (consumer group) of the worker.")
    worker_instance: Annotated[str, matching(r"[A-Za-z0-9._-]{1,100}", "must be 1 to 100 letters, digits, '.', "
                                                                      "'_' or '-'")] | None = Field(
        None, description="Static group membership: a stable name per worker process (e.g. host-1). A restarted worker "
                          "with the same name takes its partitions back at once; unset: dynamic membership.")
    consumer_session_timeout_s: float = Field(
        10.0, ge=2.0, le=300.0, description="Seconds without a heartbeat before Kafka hands a worker's partitions on.")
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
    master_key: SecretStr | None = Field(None, description="Base64 master key from a secret store, instead of "
                                                           "the key file.")
    key_id: str | None = Field(None, description="Id of master_key (default 'env').")
    previous_master_key: SecretStr | None = Field(None, description="After a rotation: the previous master key.")
    previous_key_id: str | None = Field(None, description="Id of previous_master_key.")
    previous_key_until: datetime | None = Field(None, description="End of the overlap when the previous key also "
                                                                  "makes tokens (ISO UTC date-time).")
    event_key_id: str | None = Field(None, description="Key that keeps making event ids (default the active key).")
    audit_user: str | None = Field(None, description="Who releases data, when a command is not given --user.")

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        if v.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return v.upper()

    @field_validator("mart_url")
    @classmethod
    def _mart_url(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError
            try:
                make_url(v.get_secret_value())
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
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.security_protocol.startswith("SASL_") and not (self.sasl_mechanism and self.sasl_username
                                                                and self.sasl_password):
            problems.append((("security_protocol",), f"{self.security_protocol} needs sasl_mechanism, "
                                                     "sasl_username and sasl_password (HUB_SASL_*)"))
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "postcode_lookup", "alert_rules"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                problems.append(((name,), f"{path} is not a file"))
        if problems:
            raise invalid("Settings", problems)
        return self

    @field_validator("security_protocol")
    @classmethod
    def _protocol(cls, v: str) -> str:
        if v.upper() not in {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}:
            raise ValueError("must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
        return v.upper()

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Overrides, then ``HUB_*`` variables, then the ``HUB_CONFIG`` file; no .env or secrets folder."""
        environ = _ENVIRON.get()
        if environ is None:
            environ = os.environ
        return init_settings, _Environment(settings_cls, environ), ConfigFile(settings_cls, environ)

    @property
    def mart(self) -> str:
        """The mart's URL, password included (the one place it is unwrapped); default SQLite in data_dir."""
        if self.mart_url is not None:
            return self.mart_url.get_secret_value()
        return f"sqlite:///{(self.data_dir / 'mart.db').resolve()}"

    @property
    def linkage_model_path(self) -> Path:
        return self.linkage_model or self.data_dir / "linkage-model.json"

    @property
    def keys_path(self) -> Path:
        return self.keys_file or self.data_dir / "keys.json"

    def agreement_file(self) -> Path:
        return self.agreement_path

    def key_environment(self) -> dict[str, str]:
        """The ``HUB_*`` key variables for ``hub.pseudonymisation.load_keyring`` (master keys unwrapped here)."""
        values: dict[str, Any] = {"master_key": self.master_key, "key_id": self.key_id,
                                  "previous_master_key": self.previous_master_key,
                                  "previous_key_id": self.previous_key_id,
                                  "previous_key_until": self.previous_key_until, "event_key_id": self.event_key_id}
        out = {}
        for name, value in values.items():
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, datetime):
                value = value.isoformat()
            if value:
                out[ENV_PREFIX + name.upper()] = str(value)
        return out

    def replace(self, **changes: Any) -> Settings:
        """A validated copy with ``changes`` (``model_copy`` would not validate, nor wrap secrets)."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        try:
            return type(self).model_validate({**values, **changes})
        except ValidationError as exc:
            raise SettingsError(settings_problems(exc, lambda name: name or "settings")) from None

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


class _Environment(EnvSettingsSource):
    """``HUB_*`` variables from a given mapping (``os.environ`` unless ``load_settings`` was given one);
    an empty variable counts as unset."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {(k if self.case_sensitive else k.lower()): v for k, v in self._environ.items() if v != ""}


class ConfigFile(PydanticBaseSettingsSource):
    """The YAML file named by ``HUB_CONFIG``: a mapping of setting: value. Its errors never quote its
    content (PyYAML's own messages quote the line, which may hold a secret)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.path = environ.get(CONFIG_ENV) or None
        self.values: dict[str, Any] = read_config_file(self.path).data if self.path else {}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


def read_config_file(path: str) -> LocatedYaml:
    """The ``HUB_CONFIG`` file with the line of each key; a ``SettingsError`` if it cannot be used."""
    try:
        doc = load_located(path, whole="the settings file")
    except ConfigError as exc:
        raise SettingsError(f"{exc} (the file named by {CONFIG_ENV})") from None
    if doc.data is None:
        doc.data = {}
    if not isinstance(doc.data, dict):
        raise SettingsError(doc.problem("", "must be a mapping of setting: value"))
    doc.data = {str(k): v for k, v in doc.data.items()}
    return doc


def settings_problems(exc: ValidationError, where: Callable[[str], str]) -> str:
    """One line per problem: where the bad value came from (``where(setting name)``: a variable, a file
    and line, a flag), then what is wrong in plain words; never the value, which may be a secret."""
    lines = [f"{where(str(err['loc'][0]) if err['loc'] else '')}: {sentence(err)}" for err in exc.errors()]
    return "\n".join(dict.fromkeys(lines))


@contextmanager
def _environment(environ: Mapping[str, str]) -> Iterator[None]:
    token = _ENVIRON.set(environ)
    try:
        yield
    finally:
        _ENVIRON.reset(token)


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults < YAML file named by ``HUB_CONFIG`` < ``HUB_*`` variables < explicit overrides (None ignored).

    Raises ``SettingsError`` naming where each bad value came from: the variable, or the file and key.
    """
    env = os.environ if environ is None else environ
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        with _environment(env):
            return Settings(**given)
    except ValidationError as exc:
        config_file = env.get(CONFIG_ENV) or ""
        doc = read_config_file(config_file) if config_file else None

        def where(key: str) -> str:
            variable = ENV_PREFIX + key.upper()
            if key in given:
                return key
            if env.get(variable) or doc is None or key not in doc.data:
                return variable if key else "settings"
            return f"{doc.path}:{doc.line(key) or 1}: {key}"
        raise SettingsError(settings_problems(exc, where)) from None
