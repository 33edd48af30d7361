"""The model of a connector's configuration file: ``ConnectorConfig`` and the sections every mode shares.

Each deployment mode declares its own section (``file_drop:``, ``database:``, ``http:``) as a
``ModeSettings`` subclass beside its code in ``hub/connectors/modes/``; ``hub.connectors.config``
reads the file and validates the chosen mode's section with the class the registry names. Secrets
are never written in the file: they are read from an environment variable (``*_env``) or a file
(``*_file``) by ``read_secret``, the only place they are read.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from hub.config import ENV_PREFIX, Settings, SettingsError, load_settings, settings_problems
from hub.connectors.mapping import FieldMapping, GazetteerError, default_mapping_path, load_gazetteer, load_mapping
from hub.schemas import RAW_SCHEMAS
from hub.yamlsource import ConfigError, LocatedYaml, load_located, matching, one_of

Name = Annotated[str, matching(r"[a-z0-9][a-z0-9_.-]{0,62}", "must be 1 to 63 lower-case letters, digits, '_', '.' "
                                                              "or '-', starting with a letter or digit")]
Port = Annotated[int, Field(ge=0, le=65535)]


class Section(BaseModel):
    """A part of the config file: unknown keys are refused (a typo must not silently change behaviour)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ModeSettings(Section):
    """The section of one deployment mode. Fields typed ``Path`` are resolved against the config file's
    folder (with ``~`` and ``$VARIABLES``); ``EXPANDED`` names text fields that get ``$VARIABLES`` too."""

    EXPANDED: ClassVar[tuple[str, ...]] = ()


S = TypeVar("S", bound=ModeSettings)


class HealthConfig(Section):
    host: str = Field("127.0.0.1", description="Address /metrics and /health listen on.")
    port: Port = Field(9102, description="Port of /metrics and /health; 0 turns them off.")
    kafka_probe_seconds: float = Field(15.0, gt=0, description="How often Kafka's reachability is checked.")


class KafkaConfig(Section):
    bootstrap: str | None = Field(None, description="host:port[,host:port] of the hub's brokers.")
    topic_prefix: str | None = Field(None, description="Topic prefix of the hub (default svh).")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] | None = None
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password_env: str | None = Field(None, description="Environment variable holding the SASL password.")
    sasl_password_file: Path | None = Field(None, description="File holding the SASL password (mode 600).")
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    create_topics: bool = Field(True, description="Create the source's topics if missing (turn off when the "
                                                  "hub's operators create them and the connector may not).")


class PseudonymisationConfig(Section):
    """Only for sources the agreement pseudonymises at source (health bodies)."""

    agreement: Path | None = Field(None, description="The signed information-sharing agreement (YAML).")
    keys_file: Path | None = Field(None, description="Key file shared with the hub (mode 600).")
    quarantine: Path | None = Field(None, description="Folder for records that could not be pseudonymised; "
                                                      "default <state_dir>/quarantine.")


SETTING_KEYS = {  # hub setting: the connector config key that sets it
    "kafka_bootstrap": "kafka.bootstrap", "topic_prefix": "kafka.topic_prefix",
    "security_protocol": "kafka.security_protocol", "sasl_mechanism": "kafka.sasl_mechanism",
    "sasl_username": "kafka.sasl_username", "ssl_cafile": "kafka.ssl_cafile", "ssl_certfile": "kafka.ssl_certfile",
    "ssl_keyfile": "kafka.ssl_keyfile", "metrics_host": "health.host", "metrics_port": "health.port",
    "log_level": "log_level", "postcode_lookup": "postcode_lookup", "agreement_path": "pseudonymisation.agreement",
    "keys_file": "pseudonymisation.keys_file", "data_dir": "state_dir",
}


class ConnectorConfig(Section):
    name: Name = Field(description="This connector's name: in logs, /health and the state folder.")
    source: str = Field(description="The hub source this agency feeds, e.g. police_incident.")
    mode: str = Field(description="The deployment mode; its settings are in the section of the same name.")
    mode_settings: ModeSettings = Field(exclude=True, description="The mode's section, validated by its class.")
    mapping: Path | None = Field(None, description="Field mapping YAML; default the source's standard mapping.")
    postcode_lookup: Path | None = Field(None, description="Postcode lookup CSV to validate postcodes against.")
    gazetteer: Path | None = Field(None, description="The partnership's gazetteer CSV (name, lsoa21cd) that places "
                                                     "free-text locations; default the example county's.")
    state_dir: Path = Field(description="Checkpoints and the lock live here; keep it on local disk.")
    health: HealthConfig = HealthConfig.model_validate({})
    kafka: KafkaConfig = KafkaConfig.model_validate({})
    pseudonymisation: PseudonymisationConfig = PseudonymisationConfig.model_validate({})
    checkpoint_every: int = Field(1000, ge=1, description="Records between acknowledged checkpoints in a file.")
    progress_every: int = Field(10_000, ge=1, description="Records between progress lines during a backfill.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    path: Path = Field(Path("."), exclude=True)

    @field_validator("source")
    @classmethod
    def _known_source(cls, v: str) -> str:
        return str(one_of(v, sorted(RAW_SCHEMAS), "source"))

    def section(self, kind: type[S]) -> S:
        """The mode's section as the class its mode declared (a mode reads its own settings so)."""
        if not isinstance(self.mode_settings, kind):
            raise TypeError(f"mode {self.mode} has {type(self.mode_settings).__name__}, not {kind.__name__}")
        return self.mode_settings

    @property
    def mapping_path(self) -> Path:
        return self.mapping or default_mapping_path(self.source)

    def load_mapping(self) -> FieldMapping:
        from hub.pseudonymisation import GeographyError, PostcodeLookup
        try:
            lookup = PostcodeLookup.from_csv(self.postcode_lookup) if self.postcode_lookup else None
        except GeographyError as exc:
            raise self.error("postcode_lookup", str(exc)) from None
        try:
            places = load_gazetteer(self.gazetteer) if self.gazetteer else None
        except GazetteerError as exc:
            raise self.error("gazetteer", str(exc)) from None
        mapping = load_mapping(self.mapping_path, lookup, places)
        if mapping.source != self.source:
            raise self.error("mapping", f"{mapping.path} is a mapping for {mapping.source}, not {self.source}")
        return mapping

    def error(self, key: str, message: str) -> ConfigError:
        """An error about this file's ``key``, with its line if the file is still readable."""
        try:
            return load_located(self.path, whole="the connector config").error(key, message)
        except ConfigError:
            return LocatedYaml(str(self.path), None).error(key, message)

    def settings(self, base: Settings | None = None, environ: dict[str, str] | None = None) -> Settings:
        """Hub settings for this connector: ``HUB_*`` variables, then this file's overrides, then secrets
        read from the environment or a file (the only place they are read)."""
        env = dict(os.environ if environ is None else environ)
        base = base or load_settings(env)
        values = {setting: self._value(key) for setting, key in SETTING_KEYS.items()}
        password = read_secret(self, "kafka.sasl_password", self.kafka.sasl_password_env,
                               self.kafka.sasl_password_file, env)
        if password is not None:
            values["sasl_password"] = SecretStr(password)
        merged = {**base.model_dump(), **{key: v for key, v in values.items() if v is not None}}
        if merged.get("sasl_mechanism") and not merged.get("sasl_password"):
            raise self.error("kafka.sasl_mechanism", "SASL needs a password: give kafka.sasl_password_env or "
                                                     "kafka.sasl_password_file (or HUB_SASL_PASSWORD)")
        try:
            return Settings.model_validate(merged)
        except ValidationError as exc:
            raise SettingsError(settings_problems(exc, self._where(values))) from None

    def _value(self, key: str) -> Any:
        node: Any = self
        for part in key.split("."):
            node = getattr(node, part)
        return node

    def _where(self, values: dict[str, Any]) -> Callable[[str], str]:
        """Where a setting's value came from: this file's key (with its line), else its ``HUB_*`` variable."""
        try:
            doc = load_located(self.path, whole="the connector config")
        except ConfigError:
            doc = LocatedYaml(str(self.path), None)

        def where(setting: str) -> str:
            if values.get(setting) is not None and setting in SETTING_KEYS:
                return doc.problem(SETTING_KEYS[setting], "").removesuffix(": ")
            return f"{ENV_PREFIX}{setting.upper()}" if setting else "settings"
        return where


def read_secret(config: ConnectorConfig, key: str, env_name: str | None, file: Path | None,
                environ: dict[str, str]) -> str | None:
    """A secret from the environment variable or the file the config names (never from the config itself)."""
    if env_name:
        value = environ.get(env_name)
        if not value:
            raise config.error(f"{key}_env", f"environment variable {env_name} is not set")
        return value
    if file:
        try:
            return file.read_text("utf-8").strip()
        except OSError as exc:
            raise config.error(f"{key}_file", f"cannot read {file} ({exc.strerror})") from None
    return None


def path_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted keys of the fields typed ``Path`` in ``model`` and its sections (resolved against the file)."""
    out: list[str] = []
    for name, info in model.model_fields.items():
        if name in ("path", "mode_settings"):
            continue
        key = f"{prefix}{name}"
        kinds = typing.get_args(info.annotation) or (info.annotation,)
        if Path in kinds:
            out.append(key)
        for kind in kinds:
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                out.extend(path_keys(kind, key + "."))
    return out
