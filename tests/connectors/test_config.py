"""The connector config file: validation with file, line and key; secrets only from env or file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from hub.config import load_settings
from hub.connectors.config import load_config
from hub.connectors.modes.file_drop import FileDropConfig
from hub.connectors.publisher import producer_kwargs
from hub.policy import ConfigError

GOOD = """\
name: police-drop
source: police_incident
mode: file_drop
mapping: maps/police.yaml
state_dir: state
file_drop:
  inbox: inbox
  settle_seconds: 3
health: {port: 9555}
kafka:
  bootstrap: hub.example.org:9093
  security_protocol: SASL_SSL
  sasl_mechanism: SCRAM-SHA-512
  sasl_username: police-connector
  sasl_password_env: SVH_TEST_KAFKA_PASSWORD
  ssl_cafile: ca.pem
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "etc" / "connector.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    (path.parent / "ca.pem").touch()  # settings check at start-up that TLS files exist
    return path


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def error(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path, environ=environ or {})
    return str(err.value)


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), environ={})
    etc = (tmp_path / "etc").resolve()
    assert config.mapping == etc / "maps" / "police.yaml"
    assert config.state_dir == etc / "state"
    drop = config.section(FileDropConfig)
    assert drop.inbox == etc / "inbox" and drop.archive_dir == etc / "inbox" / "archive"
    assert config.kafka.ssl_cafile == etc / "ca.pem"


def test_environment_variables_expand_in_paths_and_unset_ones_are_errors(tmp_path: Path) -> None:
    text = GOOD.replace("state_dir: state", "state_dir: ${SVH_HOME}/state")
    config = load_config(write(tmp_path, text), environ={"SVH_HOME": "/srv/svh"})
    assert config.state_dir == Path("/srv/svh/state")
    message = error(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'etc' / 'connector.yaml'}:{line_of(text, 'state_dir')}: state_dir: ")
    assert "SVH_HOME is not set" in message


@pytest.mark.parametrize("old,new,key", [
    ("mode: file_drop", "mode: ftp", "mode"),
    ("  settle_seconds: 3", "  settle_seconds: -1", "file_drop.settle_seconds"),
    ("  settle_seconds: 3", "  settle_secs: 3", "file_drop.settle_secs"),
    ("source: police_incident", "source: gp_records", "source"),
    ("name: police-drop", "name: Police Drop!", "name"),
    ("health: {port: 9555}", "health: {port: 99999}", "health.port"),
    ("  security_protocol: SASL_SSL", "  security_protocol: TLS", "kafka.security_protocol"),
], ids=["mode", "negative", "typo", "source", "name", "port", "protocol"])
def test_errors_name_file_line_and_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    text = GOOD.replace(old, new)
    assert text != GOOD
    message = error(tmp_path, text)
    path = tmp_path / "etc" / "connector.yaml"
    assert message.startswith(f"{path}:{line_of(text, new.strip().split(':')[0])}: {key}: "), message


def test_mode_section_must_match_the_mode(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD.replace("mode: file_drop", "mode: database"))
    assert ": mode: mode database needs a 'database:' section" in message
    text = GOOD + "http: {tokens_file: t.yaml}\n"
    assert ": http: settings for mode http, but mode is file_drop" in error(tmp_path, text)


@pytest.mark.parametrize("snippet,key", [
    ("  sasl_password: hunter2\n", "kafka.sasl_password"),
    ("  password: hunter2\n", "kafka.password"),
    ("api_key: abc\n", "api_key"),
])
def test_inline_secrets_are_refused(tmp_path: Path, snippet: str, key: str) -> None:
    text = GOOD + snippet if not snippet.startswith("  ") else GOOD.replace("kafka:\n", "kafka:\n" + snippet)
    message = error(tmp_path, text)
    assert f": {key}: never write a secret in this file" in message
    assert "hunter2" not in message and "abc" not in message.split(key)[-1].split("(")[0]


def test_database_url_with_a_password_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("mode: file_drop", "mode: database").replace(
        "file_drop:\n  inbox: inbox\n  settle_seconds: 3\n",
        "database:\n  url: postgresql+psycopg://reader:s3cret@db/rms\n  table: crimes\n"
        "  watermark: LastModified\n  tie_breaker: CrimeRef\n")
    message = error(tmp_path, text)
    assert f":{line_of(text, 'url:')}: database.url: holds a password" in message
    assert "s3cret" not in message


def test_sasl_password_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), environ={})
    with pytest.raises(ConfigError, match="SVH_TEST_KAFKA_PASSWORD is not set"):
        config.settings(base=load_settings({}), environ={})
    settings = config.settings(base=load_settings({}), environ={"SVH_TEST_KAFKA_PASSWORD": "from-env"})
    assert isinstance(settings.sasl_password, SecretStr)
    assert "from-env" not in repr(settings)  # hidden unless unwrapped for the client
    secret = tmp_path / "etc" / "kafka-password"
    secret.write_text("from-file\n", encoding="utf-8")
    text = GOOD.replace("sasl_password_env: SVH_TEST_KAFKA_PASSWORD", "sasl_password_file: kafka-password")
    settings = load_config(write(tmp_path, text), environ={}).settings(base=load_settings({}), environ={})
    assert settings.sasl_password is not None and settings.sasl_password.get_secret_value() == "from-file"


def test_tls_and_sasl_settings_reach_the_kafka_python_producer(tmp_path: Path) -> None:
    """A unit test on the kwargs: the local broker has no TLS/SASL listener, so this is where it is proved
    that the config's security settings are what kafka-python is given."""
    config = load_config(write(tmp_path, GOOD), environ={})
    settings = config.settings(base=load_settings({}), environ={"SVH_TEST_KAFKA_PASSWORD": "pw-123"})
    kw = producer_kwargs(settings)
    assert kw["bootstrap_servers"] == ["hub.example.org:9093"]
    assert kw["security_protocol"] == "SASL_SSL"
    assert kw["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kw["sasl_plain_username"] == "police-connector"
    assert kw["sasl_plain_password"] == "pw-123"
    assert kw["ssl_cafile"] == str((tmp_path / "etc" / "ca.pem").resolve())
    assert kw["acks"] == "all" and kw["enable_idempotence"] is True
    from kafka import KafkaProducer
    assert set(kw) <= set(KafkaProducer.DEFAULT_CONFIG)  # every key is one kafka-python knows


def test_health_port_and_state_reach_the_settings(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), environ={})
    settings = config.settings(base=load_settings({}), environ={"SVH_TEST_KAFKA_PASSWORD": "x"})
    assert settings.metrics_port == 9555 and settings.data_dir == config.state_dir


def test_examples_load(tmp_path: Path) -> None:
    from importlib import resources

    from hub.synth import generate_police_extract
    generate_police_extract(tmp_path / "data", incidents=20)
    folder = Path(str(resources.files("hub.connectors").joinpath("examples")))
    names = sorted(p.name for p in folder.glob("*.yaml"))
    assert names == ["database.yaml", "file-drop.yaml", "http.yaml"]
    for name in names:
        config = load_config(folder / name, environ={"SVH_DEMO_DIR": str(tmp_path)})
        assert config.source == "police_incident"
        assert config.load_mapping().source == "police_incident"
    with pytest.raises(ConfigError, match=r"file-drop.yaml:\d+: postcode_lookup: "):
        load_config(folder / "file-drop.yaml", environ={"SVH_DEMO_DIR": str(tmp_path / "nowhere")}).load_mapping()


def test_every_problem_in_a_connector_config_is_reported_at_once(tmp_path: Path) -> None:
    text = (GOOD.replace("  settle_seconds: 3", "  settle_seconds: -1\n  colour: red")
            .replace("health: {port: 9555}", "health: {port: 99999}").replace("name: police-drop", "name: Police!"))
    path = tmp_path / "etc" / "connector.yaml"
    keys = [problem.split(": ")[1] for problem in error(tmp_path, text).splitlines()]
    assert keys == ["name", "file_drop.settle_seconds", "file_drop.colour", "health.port"], keys
    assert error(tmp_path, text).startswith(f"{path}:1: name: ")
