"""The design's import rules, checked on the source: the pure core stays pure, the edges stay apart."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HUB = Path(__file__).resolve().parents[2] / "hub"
TRANSPORT_AND_STORAGE = ("kafka", "aiokafka", "faust", "mode", "sqlalchemy", "psycopg", "prometheus_client")
RULES = {
    # package: prefixes it must never import
    "schemas": TRANSPORT_AND_STORAGE + ("hub.connectors", "hub.streams", "hub.mart", "hub.policy"),
    "policy": TRANSPORT_AND_STORAGE + ("hub.connectors", "hub.streams", "hub.mart", "hub.pseudonymisation"),
    "pseudonymisation": TRANSPORT_AND_STORAGE + ("hub.connectors", "hub.streams", "hub.mart"),
    "linkage": TRANSPORT_AND_STORAGE + ("hub.connectors", "hub.streams", "hub.mart"),
    "connectors": ("hub.streams", "hub.mart", "faust"),
    "mart": ("hub.connectors", "hub.streams", "kafka", "faust"),
    "reports": ("hub.connectors", "hub.streams", "kafka", "faust"),
    "alerts": TRANSPORT_AND_STORAGE + ("hub.connectors", "hub.streams", "hub.mart"),
}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(RULES))
def test_package_respects_the_design_import_rules(package: str) -> None:
    files = sorted((HUB / package).rglob("*.py"))
    assert files
    broken = [f"{f.relative_to(HUB)} imports {name}" for f in files for name in sorted(imports_of(f))
              if any(name == bad or name.startswith(bad + ".") for bad in RULES[package])]
    assert not broken, broken
