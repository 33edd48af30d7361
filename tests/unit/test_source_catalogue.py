"""Adding a source is adding its own files: the catalogue finds each part by the source's name, says in a
sentence which part is missing, and the agency IT guide lists the same parts."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from hub import sources
from hub.sources import PARTS, Layout, problems

TOY = "toy_referral"
TOY_SCHEMA = {"type": "record", "name": "ToyReferral", "namespace": "svh.raw",
              "fields": [{"name": "record_id", "type": "string"}]}


def test_every_source_of_the_repository_has_all_its_parts() -> None:
    assert "police_incident" in sources.source_names(Layout().schemas)
    assert problems() == []


def toy_layout(tmp_path: Path) -> Layout:
    """A copy of the repository's schemas, mappings and fixtures, to add a toy source to."""
    layout = Layout(schemas=tmp_path / "schemas", mappings=tmp_path / "mappings", fixtures=tmp_path / "fixtures",
                    check_contents=False)
    real = Layout()
    for src, dst in ((real.schemas, layout.schemas), (real.mappings, layout.mappings),
                     (real.fixtures, layout.fixtures)):
        shutil.copytree(src, dst)
    return layout


def test_a_new_schema_without_its_other_parts_fails_a_clear_check(tmp_path: Path) -> None:
    layout = toy_layout(tmp_path)
    made = sources.source_names(layout.schemas)
    assert problems(layout, generators=made) == []
    (layout.schemas / f"{TOY}.avsc").write_text(json.dumps(TOY_SCHEMA), encoding="utf-8")
    assert problems(layout, generators=made) == [
        f"source {TOY}: hub/schemas/{TOY}.avsc has no standard field mapping: add "
        f"hub/connectors/mappings/{TOY}.yaml",
        f"source {TOY}: no synthetic generator: add a module to hub/synth/ declaring GENERATOR = "
        f"Generator('{TOY}', ...)",
        f"source {TOY}: no conformance fixture: add tests/connectors/fixtures/{TOY}.csv (a header and a few good "
        "rows, in the mapping's columns)",
    ]


def test_the_toy_source_is_complete_with_only_its_own_files(tmp_path: Path) -> None:
    layout = toy_layout(tmp_path)
    before = {p.relative_to(tmp_path) for p in tmp_path.rglob("*")}
    (layout.schemas / f"{TOY}.avsc").write_text(json.dumps(TOY_SCHEMA), encoding="utf-8")
    mapping = f"source: {TOY}\nfields:\n  record_id: {{column: Ref, required: true}}\n"
    (layout.mappings / f"{TOY}.yaml").write_text(mapping, encoding="utf-8")
    (layout.fixtures / f"{TOY}.csv").write_text("Ref\nR1\n", encoding="utf-8")
    assert problems(layout, generators=[*sources.source_names(layout.schemas)]) == []
    added = {p.relative_to(tmp_path) for p in tmp_path.rglob("*")} - before
    assert added == {Path("schemas", f"{TOY}.avsc"), Path("mappings", f"{TOY}.yaml"), Path("fixtures", f"{TOY}.csv")}


def test_the_agency_it_guide_lists_the_parts_the_catalogue_checks() -> None:
    guide = (sources.REPO / "docs" / "agency-it.md").read_text("utf-8")
    section = guide.split("## Adding a source", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\|.*\| `([^`]+)` \|$", section, flags=re.MULTILINE)
    assert listed == [part.where for part in PARTS]
    assert "hub.sources.problems()" in section
