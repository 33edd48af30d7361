"""Settings: environment and YAML file, validation naming the setting, secrets never printed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.config import Settings, SettingsError, load_settings

PASSWORD = "hunter2-Sekr1t-pw"


def test_defaults() -> None:
    s = load_settings({})
    assert s.metrics_port == 9101 and s.topic_prefix == "svh" and s.sasl_password is None
    assert s.mart.startswith("sqlite:///") and s.mart.endswith("mart.db")
    assert s.keys_path == Path(".run") / "keys.json"


def test_environment_values_are_read_and_typed() -> None:
    s = load_settings({"HUB_METRICS_PORT": "9200", "HUB_TOPIC_PREFIX": "county", "HUB_LOG_LEVEL": "debug",
                       "HUB_DATA_DIR": "/tmp/hubdata", "HUB_METRICS_HOST": ""})
    assert s.metrics_port == 9200 and s.topic_prefix == "county" and s.log_level == "DEBUG"
    assert s.data_dir == Path("/tmp/hubdata") and s.metrics_host == "127.0.0.1"  # empty means unset


@pytest.mark.parametrize("value", ["abc", "70000", "-1"])
def test_bad_metrics_port_names_the_variable(value: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({"HUB_METRICS_PORT": value})
    assert "HUB_METRICS_PORT" in str(err.value)


def test_bad_log_level_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="HUB_LOG_LEVEL"):
        load_settings({"HUB_LOG_LEVEL": "chatty"})


def test_config_file_then_environment_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text("topic_prefix: fromfile\nmetrics_port: 9300\napp_id: file-app\n", encoding="utf-8")
    env = {"HUB_CONFIG": str(path), "HUB_METRICS_PORT": "9400"}
    s = load_settings(env, app_id="override-app")
    assert (s.topic_prefix, s.metrics_port, s.app_id) == ("fromfile", 9400, "override-app")


def test_unknown_key_in_config_file_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text("topic_prefix: x\nmetrics_prot: 9300\n", encoding="utf-8")
    with pytest.raises(SettingsError) as err:
        load_settings({"HUB_CONFIG": str(path)})
    assert str(err.value) == f"{path}:2: metrics_prot: unknown key (misspelt?)"


def test_bad_value_in_config_file_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text("topic_partitions: 0\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=f"{path}:1: topic_partitions: must be at least 1"):
        load_settings({"HUB_CONFIG": str(path)})


def test_config_file_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="mapping"):
        load_settings({"HUB_CONFIG": str(path)})
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings({"HUB_CONFIG": str(tmp_path / "missing.yaml")})


def test_sasl_password_never_printed(tmp_path: Path) -> None:
    s = load_settings({"HUB_SASL_PASSWORD": PASSWORD, "HUB_SASL_MECHANISM": "PLAIN", "HUB_SASL_USERNAME": "hub",
                       "HUB_SECURITY_PROTOCOL": "sasl_ssl"})
    assert PASSWORD not in repr(s)
    assert PASSWORD not in str(s)
    assert PASSWORD not in s.model_dump_json()
    assert s.kafka_python_kwargs()["sasl_plain_password"] == PASSWORD  # the one place it is unwrapped
    assert s.security_protocol == "SASL_SSL"


def test_sasl_password_not_in_validation_errors() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({"HUB_SASL_PASSWORD": PASSWORD, "HUB_METRICS_PORT": "x"})
    assert PASSWORD not in str(err.value)


def test_settings_are_frozen_and_strict() -> None:
    s = load_settings({})
    with pytest.raises(ValueError):
        s.metrics_port = 1
    with pytest.raises(ValueError):
        Settings(no_such_setting=1)  # type: ignore[call-arg]


def test_unparsable_config_file_does_not_echo_its_content(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(f'sasl_username: hub\nsasl_password: "{PASSWORD}\nmetrics_port: [\n', encoding="utf-8")
    with pytest.raises(SettingsError) as err:
        load_settings({"HUB_CONFIG": str(path)})
    assert str(path) in str(err.value)
    assert PASSWORD not in str(err.value)


@pytest.mark.parametrize(("env", "named"), [
    ({"HUB_MART_URL": "nonsense"}, "HUB_MART_URL"),
    ({"HUB_KAFKA_BOOTSTRAP": "localhost"}, "HUB_KAFKA_BOOTSTRAP"),
    ({"HUB_TOPIC_PREFIX": "has space"}, "HUB_TOPIC_PREFIX"),
    ({"HUB_SASL_MECHANISM": "GSSAPI"}, "HUB_SASL_MECHANISM"),
    ({"HUB_SECURITY_PROTOCOL": "SASL_SSL"}, "sasl_mechanism, sasl_username and sasl_password"),
    ({"HUB_POSTCODE_LOOKUP": "/nonexistent/nspl.csv"}, "HUB_POSTCODE_LOOKUP: /nonexistent/nspl.csv is not a file"),
])
def test_bad_settings_stop_start_up_naming_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(named)):
        load_settings(env)


def test_mart_url_password_never_printed() -> None:
    s = load_settings({"HUB_MART_URL": f"postgresql+psycopg://svh:{PASSWORD}@db.local:5432/svh"})
    assert PASSWORD not in repr(s) and PASSWORD not in s.model_dump_json()
    assert s.mart == f"postgresql+psycopg://svh:{PASSWORD}@db.local:5432/svh"  # unwrapped only for connecting


def test_key_and_audit_variables_are_settings(tmp_path: Path) -> None:
    """HUB_MASTER_KEY & co. are validated with the rest, hidden in reprs, handed to load_keyring as variables."""
    import base64

    from hub.pseudonymisation import load_keyring
    key = base64.b64encode(bytes(range(32))).decode()
    path = tmp_path / "hub.yaml"
    path.write_text("audit_user: analyst.from.file\n", encoding="utf-8")
    s = load_settings({"HUB_MASTER_KEY": key, "HUB_KEY_ID": "k9", "HUB_CONFIG": str(path)})
    assert key not in repr(s) and s.audit_user == "analyst.from.file"
    assert s.key_environment() == {"HUB_MASTER_KEY": key, "HUB_KEY_ID": "k9"}
    assert load_keyring(None, s.key_environment()).active == "k9"
    with pytest.raises(SettingsError, match="HUB_PREVIOUS_KEY_UNTIL"):
        load_settings({"HUB_PREVIOUS_KEY_UNTIL": "next tuesday"})


def test_replace_validates_and_wraps_secrets() -> None:
    s = load_settings({}).replace(mart_url=f"postgresql+psycopg://svh:{PASSWORD}@db/svh", topic_prefix="other")
    assert s.topic_prefix == "other" and PASSWORD not in repr(s)
    with pytest.raises(SettingsError, match="metrics_port"):
        s.replace(metrics_port=-1)


def test_config_imports_no_domain_code() -> None:
    import ast

    import hub.config
    tree = ast.parse(Path(hub.config.__file__).read_text("utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    # hub.yamlsource only reads YAML with line numbers and words pydantic's errors: no domain code either
    assert not {m for m in imported if (m == "hub" or m.startswith("hub.")) and m != "hub.yamlsource"}


def test_connector_child_is_a_checked_switch() -> None:
    """`hub connector load`'s reading process: on by default, off with HUB_CONNECTOR_CHILD=0, a typo refused."""
    assert load_settings({}).connector_child is True
    assert load_settings({"HUB_CONNECTOR_CHILD": "0"}).connector_child is False
    assert load_settings({"HUB_CONNECTOR_CHILD": "false"}).connector_child is False
    with pytest.raises(SettingsError, match=r"^HUB_CONNECTOR_CHILD: ") as err:
        load_settings({"HUB_CONNECTOR_CHILD": "sometimes"})
    assert "sometimes" not in str(err.value) and "pydantic" not in str(err.value)
