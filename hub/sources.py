"""Every source the hub knows, and where its parts are: one catalogue, found by the source's name.

A source is named by its raw Avro schema, ``hub/schemas/<source>.avsc`` (namespace ``svh.raw``); every
other part is found by that name, never listed by hand:

- its standard field mapping, ``hub/connectors/mappings/<source>.yaml``;
- the code lists its mapping names (``code_list:``), ``hub/reference/<list>.csv``;
- its synthetic generator, a module of ``hub/synth/`` declaring ``GENERATOR = Generator("<source>", ...)``;
- its conformance fixture, ``tests/connectors/fixtures/<source>.csv``;
- its terms in the example agreement, ``hub/policy/agreements/example-county.yaml``.

``problems()`` says, in sentences, which part of which source is missing; a test runs it on the repository
(docs/agency-it.md, "Adding a source", lists the same parts, and a test keeps the two in step).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hub.connectors.mapping import load_mapping
from hub.policy import load_agreement
from hub.schemas import RAW_NAMESPACE
from hub.synth import SOURCE_GENERATORS
from hub.synth.police import SOURCE as POLICE_SOURCE
from hub.yamlsource import ConfigError

HUB = Path(__file__).resolve().parent
REPO = HUB.parent


@dataclass(frozen=True)
class Part:
    """One part of a source: what it is and where it lives (``{source}`` is the source's name)."""

    what: str
    where: str


PARTS = (
    Part("raw Avro schema", "hub/schemas/{source}.avsc"),
    Part("standard field mapping", "hub/connectors/mappings/{source}.yaml"),
    Part("code lists", "hub/reference/{list}.csv"),
    Part("synthetic generator", "hub/synth/{module}.py"),
    Part("conformance fixture", "tests/connectors/fixtures/{source}.csv"),
    Part("terms in the example agreement", "hub/policy/agreements/example-county.yaml"),
)


@dataclass(frozen=True)
class Layout:
    """Where the parts are looked for: the repository's folders, or a test's copy of some of them."""

    schemas: Path = HUB / "schemas"
    mappings: Path = HUB / "connectors" / "mappings"
    fixtures: Path = REPO / "tests" / "connectors" / "fixtures"
    agreement: Path = HUB / "policy" / "agreements" / "example-county.yaml"
    check_contents: bool = True  # load each mapping and the agreement (only the repository's own can be)


def source_names(schemas: Path) -> list[str]:
    """Sources named by the raw schemas in ``schemas``."""
    names = []
    for path in sorted(schemas.glob("*.avsc")):
        if json.loads(path.read_text("utf-8")).get("namespace") == RAW_NAMESPACE:
            names.append(path.stem)
    return names


def problems(layout: Layout = Layout(), generators: Iterable[str] | None = None) -> list[str]:
    """Every missing or broken part of every source, as a sentence naming the file to add or fix."""
    made = set(SOURCE_GENERATORS) | {POLICE_SOURCE} if generators is None else set(generators)
    names = source_names(layout.schemas)
    covered: set[str] = set()
    out: list[str] = []
    if layout.check_contents:
        try:
            covered = set(load_agreement(layout.agreement).sources)
        except ConfigError as exc:
            out.append(f"the example agreement does not load: {exc}")
    for source in names:
        mapping = layout.mappings / f"{source}.yaml"
        if not mapping.exists():
            out.append(
                f"source {source}: hub/schemas/{source}.avsc has no standard field mapping: add "
                f"hub/connectors/mappings/{source}.yaml"
            )
        elif layout.check_contents:
            try:
                load_mapping(mapping)  # also checks the code lists it names exist
            except ConfigError as exc:
                out.append(f"source {source}: its standard mapping does not load: {exc}")
        if source not in made:
            out.append(
                f"source {source}: no synthetic generator: add a module to hub/synth/ declaring "
                f"GENERATOR = Generator({source!r}, ...)"
            )
        if not (layout.fixtures / f"{source}.csv").exists():
            out.append(
                f"source {source}: no conformance fixture: add tests/connectors/fixtures/{source}.csv "
                "(a header and a few good rows, in the mapping's columns)"
            )
        if layout.check_contents and source not in covered:
            out.append(
                f"source {source}: the example agreement has no terms for it: add sources.{source} to "
                "hub/policy/agreements/example-county.yaml"
            )
    for path in sorted(layout.mappings.glob("*.yaml")):
        if path.stem not in names:
            out.append(f"mapping {path.name}: no raw schema hub/schemas/{path.stem}.avsc for it")
    for path in sorted(layout.fixtures.glob("*.csv")):
        if path.stem not in names:
            out.append(f"fixture {path.name}: no raw schema hub/schemas/{path.stem}.avsc for it")
    return out
