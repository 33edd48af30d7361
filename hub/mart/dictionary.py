"""The data dictionary of what analysts can read, generated from the models (``docs/data-dictionary.md``).

``hub mart dictionary > docs/data-dictionary.md`` regenerates it; ``tests/unit/test_dictionary.py`` fails
when the shipped copy is out of date, so the document cannot drift from the tables.
"""

from __future__ import annotations

from sqlalchemy import Table

from hub.mart import released
from hub.mart.cellkey import SVH_PTABLE
from hub.mart.measures import MEASURES
from hub.policy import example_agreement_path, load_agreement

RULES = {
    "value": "Cell key method: true count + p-table noise for the cell's key; suppressed (NULL) below the "
             "profile's threshold; rounded if the profile rounds",
    "status": "`suppressed` wherever `value` is NULL",
    "rate_per_1000": "Computed from the perturbed `value`, never from the true count",
    "area_level": "Never finer than the profile's finest geography (sensitive rows: the sensitive one)",
    "sensitive": "Records classed sensitive by offence code, category or flag take the sensitive rules",
}


def _type(column: object) -> str:
    try:
        return str(column.type).lower()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a type without a plain SQL name
        return "?"


def _table(t: Table, rules: dict[str, str]) -> list[str]:
    out = [f"### `{t.name}`", "", t.comment or "", "",
           "| column | type | meaning | disclosure rule |", "| --- | --- | --- | --- |"]
    for c in t.columns:
        out.append(f"| `{c.name}` | {_type(c)} | {c.comment or ''} | {rules.get(c.name, '')} |")
    return out + [""]


def render() -> str:
    d = SVH_PTABLE.max_noise
    shares = ", ".join(f"{p:+d}: {n}/256" for p, n in SVH_PTABLE.noise)
    sens = load_agreement(example_agreement_path()).sensitive
    lines = [
        "# Data dictionary",
        "",
        "Generated from the models by `hub mart dictionary`; a test fails if this file is out of date.",
        "",
        "## Released layer (what analysts and BI tools read)",
        "",
        "On PostgreSQL: schema `released` (or `<mart schema>_released`), readable by the analyst role. "
        "On SQLite: the file `<mart>-released.db` beside the mart.",
        "",
        f"Disclosure control: cell key method, p-table `{SVH_PTABLE.name}` (noise {shares}; at most {d} either "
        "way; zero never perturbed); the agreement's thresholds, rounding and finest geography per profile.",
        "",
    ]
    for t in released.metadata.sorted_tables:
        lines += _table(t, RULES)
    lines += ["## Measures", "", "| measure | source | what is counted | breakdowns | periods |",
              "| --- | --- | --- | --- | --- |"]
    for m in MEASURES.values():
        lines.append(f"| `{m.name}` | {m.source} | {m.title} | {', '.join(m.breakdowns)} | "
                     f"{', '.join(m.periods_allowed)} |")
    lines += ["", "Sensitive records (the example agreement's `sensitive` section; each agreement lists its own): "
              "categories "
              f"{', '.join(sens.categories)}; offence codes {', '.join(sens.offence_codes)} and every code marked "
              f"sensitive in `offence_codes.csv`; flags {', '.join(sens.flags)}.", "",
              "The restricted layer (row-level events, people, audit trail, reference data) is not for analysts: "
              "its tables are listed in `hub/mart/restricted.py` and described in docs/governance.md."]
    return "\n".join(lines) + "\n"
