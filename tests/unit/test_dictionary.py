"""docs/data-dictionary.md is generated from the models and must be current."""

from __future__ import annotations

from pathlib import Path

from hub.mart import released
from hub.mart.dictionary import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-dictionary.md"


def test_shipped_dictionary_is_current() -> None:
    assert DOC.read_text("utf-8") == render(), "regenerate with: hub mart dictionary > docs/data-dictionary.md"


def test_every_released_column_is_documented() -> None:
    text = render()
    for table in released.metadata.sorted_tables:
        for column in table.columns:
            assert column.comment, f"{table.name}.{column.name} has no comment (its meaning in the dictionary)"
            assert f"| `{column.name}` |" in text
