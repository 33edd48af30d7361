"""``hub linkage link``: a user's own extracts through the mapping, pseudonymisation and model."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from hub.cli import main
from hub.connectors import default_mapping_path
from hub.linkage import DEFAULT_MODEL
from hub.linkage.model_file import read_model, write_model
from hub.pseudonymisation import KeyRing, save_key_file
from hub.synth import generate_police_extract


@pytest.fixture
def extract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    manifest = generate_police_extract(tmp_path / "data", seed=5, incidents=150)
    save_key_file(KeyRing.generate(), tmp_path / "keys.json")
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("HUB_KEYS_FILE", str(tmp_path / "keys.json"))
    monkeypatch.setenv("HUB_POSTCODE_LOOKUP", str(manifest.lookup_csv))
    write_model(tmp_path / "model.json", DEFAULT_MODEL, method="defaults")
    return manifest.extract_csv


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_two_files_one_to_one_pairs_each_row_with_its_copy(extract: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.csv"
    copy.write_bytes(extract.read_bytes())
    mapping = str(default_mapping_path("police_incident"))
    out = tmp_path / "clusters.csv"
    code = main(["linkage", "link", "--mapping", mapping, str(extract), "--mapping", mapping, str(copy),
                 "--out", str(out), "--one-to-one", "--model", str(tmp_path / "model.json")])
    assert code == 0
    found = rows(out)
    by_row: dict[tuple[str, str], set[str]] = {}
    for r in found:
        by_row.setdefault((r["record_id"], r["role"]), set()).add(r["person_id"])
    # A row and its copy are one person (bar those with a name alone, too little evidence for the model).
    assert sum(len(ids) == 1 for ids in by_row.values()) >= 0.9 * len(by_row)
    sizes = Counter(r["person_id"] for r in found)
    assert max(sizes.values()) == 2  # one-to-one: never a third mention
    assert {r["file"] for r in found} == {extract.name, copy.name}


def test_one_file_is_deduplicated_and_bad_input_is_one_line(extract: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    mapping = str(default_mapping_path("police_incident"))
    out = tmp_path / "one.csv"
    assert main(["linkage", "link", "--mapping", mapping, str(extract), "--out", str(out),
                 "--model", str(tmp_path / "model.json")]) == 0
    found = rows(out)
    assert len({r["person_id"] for r in found}) < len(found)  # repeat victims and suspects linked
    assert main(["linkage", "link", "--mapping", mapping, str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_model_file_round_trips_with_its_version(tmp_path: Path) -> None:
    written = write_model(tmp_path / "m.json", DEFAULT_MODEL, threshold=0.8, trained_on=10)
    read = read_model(tmp_path / "m.json")
    assert read.version == written.version and read.threshold == 0.8 and read.model == DEFAULT_MODEL
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o600
