"""docker-compose.yml must describe the same services, ports and settings as the local scripts."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from hub.config import ENV_PREFIX, Settings

REPO = Path(__file__).resolve().parents[2]
# Host-specific: compose adds a HOST listener so both containers and the host reach the broker.
TEMPLATED = {"controller.quorum.voters", "listeners", "advertised.listeners", "log.dirs",
             "listener.security.protocol.map"}


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((REPO / "docker-compose.yml").read_text("utf-8"))


def broker_properties() -> dict[str, str]:
    props = {}
    for line in (REPO / "deploy/kafka/server.properties.in").read_text("utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            props[key.strip()] = value.strip()
    return props


def script_default(script: str, var: str) -> str:
    text = (REPO / "deploy" / script).read_text("utf-8")
    m = re.search(rf"{var}=\"\$\{{{var}:-(\d+)\}}\"", text) or re.search(r"^DEFAULT_PORT=\"?(\d+)", text, re.M)
    assert m, f"no default for {var} in deploy/{script}"
    return m.group(1)


def test_every_broker_setting_of_the_local_script_is_in_compose() -> None:
    env = {str(k): str(v) for k, v in compose()["services"]["kafka"]["environment"].items()}
    for key, value in broker_properties().items():
        if key in TEMPLATED:
            continue
        name = "KAFKA_" + key.upper().replace(".", "_")
        assert name in env, f"{key} is set in server.properties.in but not in docker-compose.yml"
        assert env[name].lower() == value.lower(), f"{key}: local {value!r}, compose {env[name]!r}"


def test_host_ports_match_the_scripts() -> None:
    services = compose()["services"]
    kafka_port = script_default("kafka.sh", "KAFKA_PORT")
    pg_port = script_default("postgres.sh", "PG_PORT")
    assert any(p.startswith(f"127.0.0.1:{kafka_port}:") for p in services["kafka"]["ports"])
    assert any(p.startswith(f"127.0.0.1:{pg_port}:") for p in services["postgres"]["ports"])


def test_hub_services_only_use_settings_that_exist() -> None:
    fields = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    hub_services = [s for s in compose()["services"].values() if s.get("image", "").startswith("svh-hub")]
    assert hub_services
    for service in hub_services:
        for name in service.get("environment", {}):
            if name.startswith(ENV_PREFIX) and name not in ("HUB_MASTER_KEY", "HUB_KEY_ID", "HUB_CONFIG"):
                assert name in fields, f"docker-compose.yml sets {name}, which hub/config.py does not know"


def test_compose_connector_config_is_valid_and_matches_its_published_port() -> None:
    from hub.connectors.config import load_config

    service = compose()["services"]["connector-police"]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in service["volumes"] if v.startswith("./deploy/")}
    config_path = mounted[service["command"][-1]]
    config = load_config(REPO / config_path, environ={})
    assert config.source == "police_incident"
    assert any(p.endswith(f":{config.health.port}") for p in service["ports"])
