"""Adding a deployment mode is one file: a toy mode declared here is accepted by the config, shown by
``hub connector check`` and run by the service, with no edit anywhere else."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hub.cli import main
from hub.connectors import registry
from hub.connectors.base import SourceRecord
from hub.connectors.config import load_config
from hub.connectors.json_records import json_record
from hub.connectors.mode import MODES, Mode
from hub.connectors.runtime import Runtime
from hub.connectors.sections import ModeSettings
from hub.connectors.service import run_once
from hub.connectors.testing import RecordingProducer
from hub.policy import ConfigError
from tests.connectors.harness import load_fixture, recording_runtime

SOURCE = "police_incident"


class ToyConfig(ModeSettings):
    """The toy mode's section: a JSON file of records, published once."""

    records_file: Path


@pytest.fixture
def toy_mode() -> Iterator[type[Mode]]:
    """Declared inside a fixture so the registry only holds it for these tests."""

    class Toy(Mode, mode="toy", settings=ToyConfig):
        @classmethod
        def describe(cls, runtime: Runtime) -> list[str]:
            return [f"toy: records from {runtime.config.section(ToyConfig).records_file}"]

        def _records(self, limit: int | None = None) -> list[SourceRecord]:
            cfg = self.runtime.config.section(ToyConfig)
            items = json.loads(cfg.records_file.read_text("utf-8"))[:limit]
            return [json_record(obj, self.runtime.mapping, f"toy record {i}") for i, obj in enumerate(items)]

        def poll(self) -> bool:
            if self.runtime.state.read("toy").get("done"):
                return False
            result = self.runtime.publish_unit(self._records(), "toy")
            self.runtime.state.write("toy", {"done": True})
            self.runtime.health.unit("published", result.report)
            return True

        def sample(self, limit: int) -> list[SourceRecord]:
            return self._records(limit)

    try:
        yield Toy
    finally:
        MODES.pop("toy", None)


def toy_config(tmp_path: Path, **section: object) -> Path:
    fixture = load_fixture(SOURCE)
    assert fixture is not None
    (tmp_path / "records.json").write_text(json.dumps(fixture.as_dicts()[:3]), encoding="utf-8")
    data = {"name": "toy", "source": SOURCE, "mode": "toy", "state_dir": "state", "health": {"port": 0},
            "kafka": {"create_topics": False}, "toy": {"records_file": "records.json", **section}}
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_a_mode_in_its_own_file_is_registered_configured_checked_and_run(
        toy_mode: type[Mode], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "toy" in registry.mode_names() and registry.mode_class("toy") is toy_mode
    config = load_config(toy_config(tmp_path), environ={})
    assert config.section(ToyConfig).records_file == tmp_path / "records.json"  # resolved like any path

    assert main(["connector", "check", str(tmp_path / "toy.yaml")]) == 0
    out = capsys.readouterr().out
    assert f"toy: records from {tmp_path / 'records.json'}" in out
    assert re.search(r"^\s+records read\s+3$", out, re.M) and re.search(r"^\s+would be published\s+3$", out, re.M)

    producer = RecordingProducer()
    totals = run_once(recording_runtime(config, producer))
    assert totals.read == totals.published == 3 and len(producer.on(f"svh.raw.{SOURCE}")) == 3


def test_the_toy_section_is_validated_with_file_line_and_key(toy_mode: type[Mode], tmp_path: Path) -> None:
    path = toy_config(tmp_path, colour="blue")
    with pytest.raises(ConfigError, match=rf"{path}:\d+: toy.colour: unknown key"):
        load_config(path, environ={})


def test_an_unregistered_mode_is_refused_naming_the_known_ones(tmp_path: Path) -> None:
    path = toy_config(tmp_path)
    with pytest.raises(ConfigError, match=r"mode: unknown mode 'toy'; known: database, file_drop, http"):
        load_config(path, environ={})
