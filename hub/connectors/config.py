"""A connector's configuration file: the YAML an agency IT team edits to deploy one connector.

Validated at start-up; every error names the file, the line and the key. Relative paths resolve
against the configuration file's folder, so a config and its mapping can move together. Secrets
are never written here: a password or token given inline is refused, and read instead from an
environment variable (``*_env``) or a file (``*_file``) at start-up.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from hub.config import Settings, SettingsError, load_settings
from hub.connectors.mapping import FieldMapping, default_mapping_path, load_mapping
from hub.policy.yamlsource import ConfigError, LocatedYaml, load_located
from hub.schemas import RAW_SCHEMAS

MODE_NAMES = ("file_drop", "database", "http")
"""Deployment modes; ``hub.connectors.registry`` checks every one has an implementation."""

SECRET_WORDS = ("password", "secret", "token", "passphrase", "api_key")
SECRET_SUFFIXES = ("_env", "_file", "tokens_file")

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]
Port = Annotated[int, Field(ge=0, le=65535)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileDropConfig(_Section):
    inbox: Path = Field(description="Folder the agency's system writes extracts into.")
    archive: Path | None = Field(None, description="Where published files go; default <inbox>/archive.")
    rejected: Path | None = Field(None, description="Where refused files go with a .reason file; default "
                                                    "<inbox>/rejected.")
    pattern: str = Field("*.csv", description="Which file names in the inbox are extracts.")
    ignore_suffixes: list[str] = Field([".tmp", ".part", ".partial", ".filepart", ".crdownload", "~"],
                                       description="Names still being written, never picked up.")
    settle_seconds: float = Field(10.0, ge=0, description="A file modified more recently than this is still "
                                                          "being written and waits.")
    poll_seconds: float = Field(5.0, gt=0, description="How often the inbox is looked at when idle.")

    @property
    def archive_dir(self) -> Path:
        return self.archive or self.inbox / "archive"

    @property
    def rejected_dir(self) -> Path:
        return self.rejected or self.inbox / "rejected"


class DatabaseConfig(_Section):
    url: str | None = Field(None, description="SQLAlchemy URL without a password, e.g. "
                                              "postgresql+psycopg://svh_reader@db.force.local/rms")
    url_env: str | None = Field(None, description="Environment variable holding the whole URL (may hold the "
                                                  "password).")
    password_env: str | None = Field(None, description="Environment variable holding the database password.")
    password_file: Path | None = Field(None, description="File holding the database password (mode 600).")
    table: str | None = Field(None, description="Table or view to read (or give query).")
    db_schema: str | None = Field(None, alias="schema", description="Schema of the table.")
    query: str | None = Field(None, description="A SELECT to read instead of a table; must return the "
                                                "watermark and tie-breaker columns.")
    watermark: str = Field(description="Column that grows when a row is added or changed (e.g. LastModified).")
    tie_breaker: str = Field(description="Unique column ordering rows with the same watermark (e.g. CrimeRef).")
    page_size: int = Field(1000, ge=1, le=100_000, description="Rows read, published and checkpointed at a time.")
    poll_seconds: float = Field(30.0, gt=0, description="How often the table is read when caught up.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("url")
    @classmethod
    def _no_inline_password(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError
        try:
            parsed = make_url(v)
        except ArgumentError:
            raise ValueError("not a SQLAlchemy URL (dialect+driver://user@host:port/database)") from None
        if parsed.password:
            raise ValueError("holds a password: never write a secret in this file; give password_env or "
                             "password_file, or the whole URL in url_env")
        return v


class HttpConfig(_Section):
    host: str = Field("127.0.0.1", description="Address to listen on; loopback unless a reverse proxy or TLS.")
    port: Port = Field(8480, description="Port to listen on.")
    path: str = Field("/v1/records", pattern=r"^/[A-Za-z0-9/_.-]*$", description="URL path records are POSTed to.")
    tokens_file: Path = Field(description="YAML list of SHA-256 hashes of the bearer tokens allowed to post.")
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="Bigger requests get 413.")
    max_records: int = Field(5000, ge=1, description="More records in one request get 413.")
    tls_certfile: Path | None = Field(None, description="Serve HTTPS with this certificate (PEM).")
    tls_keyfile: Path | None = Field(None, description="Private key of tls_certfile (PEM).")


class HealthConfig(_Section):
    host: str = Field("127.0.0.1", description="Address /metrics and /health listen on.")
    port: Port = Field(9102, description="Port of /metrics and /health; 0 turns them off.")
    kafka_probe_seconds: float = Field(15.0, gt=0, description="How often Kafka's reachability is checked.")


class KafkaConfig(_Section):
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


class PseudonymisationConfig(_Section):
    """Only for sources the agreement pseudonymises at source (health bodies)."""

    agreement: Path | None = Field(None, description="The signed information-sharing agreement (YAML).")
    keys_file: Path | None = Field(None, description="Key file shared with the hub (mode 600).")
    quarantine: Path | None = Field(None, description="Folder for records that could not be pseudonymised; "
                                                      "default <state_dir>/quarantine.")


class ConnectorConfig(_Section):
    name: Name = Field(description="This connector's name: in logs, /health and the state folder.")
    source: str = Field(description="The hub source this agency feeds, e.g. police_incident.")
    mode: Literal["file_drop", "database", "http"]
    mapping: Path | None = Field(None, description="Field mapping YAML; default the source's standard mapping.")
    postcode_lookup: Path | None = Field(None, description="Postcode lookup CSV to validate postcodes against.")
    state_dir: Path = Field(description="Checkpoints and the lock live here; keep it on local disk.")
    file_drop: FileDropConfig | None = None
    database: DatabaseConfig | None = None
    http: HttpConfig | None = None
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
        if v not in RAW_SCHEMAS:
            raise ValueError(f"unknown source {v!r}; known: {', '.join(sorted(RAW_SCHEMAS))}")
        return v

    @property
    def mode_settings(self) -> FileDropConfig | DatabaseConfig | HttpConfig:
        section = getattr(self, self.mode)
        assert section is not None  # checked by load_config
        return section

    @property
    def mapping_path(self) -> Path:
        return self.mapping or default_mapping_path(self.source)

    def load_mapping(self) -> FieldMapping:
        from hub.pseudonymisation import GeographyError, PostcodeLookup
        try:
            lookup = PostcodeLookup.from_csv(self.postcode_lookup) if self.postcode_lookup else None
        except GeographyError as exc:
            raise self.error("postcode_lookup", str(exc)) from None
        mapping = load_mapping(self.mapping_path, lookup)
        if mapping.source != self.source:
            raise self.error("mapping", f"{mapping.path} is a mapping for {mapping.source}, not {self.source}")
        return mapping

    def error(self, key: str, message: str) -> ConfigError:
        """An error about this file's ``key``, with its line if the file is still readable."""
        try:
            return load_located(self.path).error(key, message)
        except ConfigError:
            return ConfigError(f"{self.path}: {key}: {message}")

    def settings(self, base: Settings | None = None, environ: dict[str, str] | None = None) -> Settings:
        """Hub settings for this connector: ``HUB_*`` variables, then this file's overrides, then secrets
        read from the environment or a file (the only place they are read)."""
        env = dict(os.environ if environ is None else environ)
        base = base or load_settings(env)
        k = self.kafka
        values: dict[str, Any] = {
            "kafka_bootstrap": k.bootstrap, "topic_prefix": k.topic_prefix, "security_protocol": k.security_protocol,
            "sasl_mechanism": k.sasl_mechanism, "sasl_username": k.sasl_username, "ssl_cafile": k.ssl_cafile,
            "ssl_certfile": k.ssl_certfile, "ssl_keyfile": k.ssl_keyfile, "metrics_host": self.health.host,
            "metrics_port": self.health.port, "log_level": self.log_level, "postcode_lookup": self.postcode_lookup,
            "agreement_path": self.pseudonymisation.agreement, "keys_file": self.pseudonymisation.keys_file,
            "data_dir": self.state_dir,
        }
        password = read_secret(self, "kafka.sasl_password", k.sasl_password_env, k.sasl_password_file, env)
        if password is not None:
            values["sasl_password"] = SecretStr(password)
        merged = {**base.model_dump(), **{key: v for key, v in values.items() if v is not None}}
        if merged.get("sasl_mechanism") and not merged.get("sasl_password"):
            raise self.error("kafka.sasl_mechanism", "SASL needs a password: give kafka.sasl_password_env or "
                                                     "kafka.sasl_password_file (or HUB_SASL_PASSWORD)")
        try:
            return Settings.model_validate(merged)
        except ValidationError as exc:
            raise SettingsError(f"{self.path}: " + "; ".join(f"{_dotted(e['loc'])}: {e['msg']}"
                                                             for e in exc.errors())) from None


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


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _find_inline_secret(data: Any, path: str = "") -> str | None:
    """The dotted key of a value that looks like an inline secret (a password, token or secret key)."""
    if isinstance(data, dict):
        for key, value in data.items():
            child = f"{path}.{key}" if path else str(key)
            lowered = str(key).lower()
            if any(w in lowered for w in SECRET_WORDS) and not lowered.endswith(SECRET_SUFFIXES) \
                    and value not in (None, ""):
                return child
            found = _find_inline_secret(value, child)
            if found:
                return found
    return None


PATH_KEYS = ("mapping", "postcode_lookup", "state_dir", "file_drop.inbox", "file_drop.archive", "file_drop.rejected",
             "database.password_file", "http.tokens_file", "http.tls_certfile", "http.tls_keyfile",
             "kafka.sasl_password_file", "kafka.ssl_cafile", "kafka.ssl_certfile", "kafka.ssl_keyfile",
             "pseudonymisation.agreement", "pseudonymisation.keys_file", "pseudonymisation.quarantine")


def _expand(doc: LocatedYaml, key: str, value: str, environ: dict[str, str]) -> str:
    """``~`` and ``$VAR``/``${VAR}`` in a path, so one config serves several hosts; an unset variable is an
    error, not a literal ``$`` in a folder name."""
    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in environ:
            raise doc.error(key, f"environment variable {name} is not set")
        return environ[name]
    return os.path.expanduser(_VAR.sub(sub, value))


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def _resolve_paths(doc: LocatedYaml, data: dict[str, Any], base: Path, environ: dict[str, str]) -> None:
    for dotted in (*PATH_KEYS, "database.url"):
        *parents, leaf = dotted.split(".")
        node: Any = data
        for p in parents:
            node = node.get(p) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(leaf), str):
            value = _expand(doc, dotted, node[leaf], environ)
            if dotted in PATH_KEYS:
                given = Path(value)
                value = str(given if given.is_absolute() else (base / given).resolve())
            node[leaf] = value


def load_config(path: Path | str, text: str | None = None, environ: dict[str, str] | None = None
                ) -> ConnectorConfig:
    """Read and validate a connector config; raises ``ConfigError`` as ``file:line: key: what is wrong``."""
    doc: LocatedYaml = load_located(path, text)
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error("", "must be a mapping of settings (name, source, mode, ...)")
    secret = _find_inline_secret(data)
    if secret:
        raise doc.error(secret, "never write a secret in this file: give the name of an environment variable "
                                f"({secret}_env: VARIABLE) or a file readable only by the connector "
                                f"({secret}_file: /path)")
    _resolve_paths(doc, data, Path(path).resolve().parent, dict(os.environ if environ is None else environ))
    data["path"] = str(Path(path).resolve())
    try:
        config = ConnectorConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        return _raise(doc, _dotted(err["loc"]), _message(err))
    mode = config.mode
    if getattr(config, mode) is None:
        raise doc.error("mode", f"mode {mode} needs a '{mode}:' section with its settings")
    others = [m for m in MODE_NAMES if m != mode and getattr(config, m) is not None]
    if others:
        raise doc.error(others[0], f"settings for mode {others[0]}, but mode is {mode}")
    if isinstance(config.database, DatabaseConfig):
        db = config.database
        if (db.url is None) == (db.url_env is None):
            raise doc.error("database", "give exactly one of url or url_env")
        if (db.table is None) == (db.query is None):
            raise doc.error("database", "give exactly one of table or query")
    if isinstance(config.http, HttpConfig) and bool(config.http.tls_certfile) != bool(config.http.tls_keyfile):
        raise doc.error("http", "give both tls_certfile and tls_keyfile, or neither")
    return config


def _message(err: Any) -> str:
    msg = str(err["msg"])
    if err["type"] == "extra_forbidden":
        return "unknown key (misspelt?)"
    if err["type"] == "missing":
        return "is required"
    return msg.removeprefix("Value error, ")


def _raise(doc: LocatedYaml, key: str, message: str) -> ConnectorConfig:
    raise doc.error(key, message)
