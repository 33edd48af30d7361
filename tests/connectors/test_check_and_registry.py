"""``hub connector check`` (no Kafka) and the registry of modes and sources."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hub.cli import main
from hub.connectors import registry
from hub.connectors.check import check
from hub.connectors.mode import MODES, Mode
from tests.connectors.harness import Fixture, csv_bytes, drop_file, insert_rows, write_config

SOURCE = "police_incident"



def test_every_mode_module_registers_its_mode() -> None:
    assert registry.mode_names() == ["database", "file_drop", "http"]
    for name, cls in MODES.items():
        assert issubclass(cls, Mode) and cls.name == name
    pull = {n for n, c in MODES.items() if c.pull}
    assert pull == {"file_drop", "database"}


def test_standard_sources_are_discovered_from_schemas_and_mappings() -> None:
    sources = registry.standard_sources()
    assert SOURCE in sources
    from hub.schemas import RAW_SCHEMAS
    assert set(sources) <= set(RAW_SCHEMAS)


def test_check_shows_what_would_be_published_and_dead_lettered(tmp_path: Path, fixture: Fixture,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    bad = list(fixture.rows[1])
    bad[fixture.header.index("HOOffenceCode")] = "ZZ9"
    drop_file(tmp_path / "inbox", "x.csv", csv_bytes(fixture.header, [fixture.rows[0], bad, fixture.rows[2]]))
    path = write_config(tmp_path, "file_drop", SOURCE, extra={"kafka": {"bootstrap": "127.0.0.1:1"}})
    assert main(["connector", "check", str(path), "--rows", "2"]) == 0  # Kafka is never contacted
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(f"config {path}: OK")
    first = next(line for line in lines if line.startswith("x.csv row 1"))
    assert "WOULD PUBLISH the raw record to svh.raw.police_incident" in first
    assert json.loads(first.split("): ", 1)[1])["record_id"] == fixture.rows[0][0]
    second = next(line for line in lines if line.startswith("x.csv row 2"))
    assert "WOULD BE DEAD-LETTERED" in second and "unknown_offence_code field HOOffenceCode" in second
    assert "ZZ9" not in second
    assert "sample x.csv: nothing was sent" in out
    for outcome, n in (("records read", 3), ("would be published", 2), ("would be dead-lettered", 1),
                       ("unknown_offence_code", 1)):
        assert re.search(rf"^\s+{outcome}\s+{n}$", out, re.M), outcome
    assert (tmp_path / "inbox" / "x.csv").exists()  # nothing moved, nothing checkpointed
    assert not (tmp_path / "state" / "file_drop.json").exists()


def test_check_with_a_sample_file_that_would_be_rejected(tmp_path: Path) -> None:
    sample = tmp_path / "sample.csv"
    sample.write_bytes(b"Wrong,Header\n1,2\n")
    code, lines = check(write_config(tmp_path, "file_drop", SOURCE), sample)
    assert code == 1 and any("FILE WOULD BE REJECTED" in line and "lacks mapped column" in line for line in lines)


def test_check_of_a_json_sample_and_of_a_table(tmp_path: Path, fixture: Fixture) -> None:
    sample = tmp_path / "sample.json"
    sample.write_text(json.dumps({"records": fixture.as_dicts()[:2]}))
    code, lines = check(write_config(tmp_path, "file_drop", SOURCE), sample)
    assert code == 0 and sum("WOULD PUBLISH" in line for line in lines) == 2
    insert_rows(tmp_path / "agency.db", fixture.header, fixture.rows)
    code, lines = check(write_config(tmp_path, "database", SOURCE))
    assert code == 0
    assert any(line.startswith("database: extract has the mapped") for line in lines)
    assert any(re.fullmatch(rf"\s+records read\s+{len(fixture.rows)}", line) for line in lines)


def test_check_reports_config_errors_with_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, "file_drop", SOURCE)
    path.write_text(path.read_text().replace("mode: file_drop", "mode: carrier_pigeon"))
    assert main(["connector", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}:") and ": mode: " in err


def test_check_of_a_source_pseudonymised_at_source_shows_the_shared_event(tmp_path: Path) -> None:
    from hub.pseudonymisation import KeyRing, save_key_file
    from tests.connectors.harness import FIXTURES
    save_key_file(KeyRing.generate(holder="agency:example-hospitals"), tmp_path / "keys.json")
    path = write_config(tmp_path, "file_drop", "ed_attendance",
                        extra={"pseudonymisation": {"keys_file": str(tmp_path / "keys.json")}})
    code, lines = check(path, FIXTURES / "ed_attendance.csv", rows=10)
    assert code == 0
    published = [line for line in lines if "WOULD PUBLISH" in line]
    assert published and all("the pseudonymised shared event to svh.atsource.ed_attendance" in line
                             for line in published)
    text = "\n".join(lines)
    assert "Quillfeather" not in text and "943 476 5919" not in text  # identifiers never leave, not even here
    assert any("pseudonymised at the source" in line for line in lines)
    assert not (tmp_path / "state" / "quarantine").exists()  # check leaves nothing behind


def test_check_without_a_sample_says_where_the_mode_finds_one(tmp_path: Path) -> None:
    code, lines = check(write_config(tmp_path, "file_drop", SOURCE))
    assert code == 0
    assert lines[-1] == ("no sample: give SAMPLE (a CSV extract, or a .json list of records) or drop a file into "
                         "the inbox")
