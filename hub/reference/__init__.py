"""Reference lookup tables shipped with the hub (offence codes, code lists)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Offence:
    code: str
    description: str
    category: str
    serious_violence: bool
    sensitive: bool


@cache
def offence_codes() -> dict[str, Offence]:
    """Home Office offence code -> classification (``offence_codes.csv``)."""
    text = resources.files("hub.reference").joinpath("offence_codes.csv").read_text("utf-8")
    out: dict[str, Offence] = {}
    for row in csv.DictReader(io.StringIO(text)):
        out[row["code"]] = Offence(row["code"], row["description"], row["category"],
                                   row["serious_violence"] == "true", row["sensitive"] == "true")
    return out


def normalise_offence_code(value: str) -> str:
    """``"008N"``/``" 8n"`` -> ``"8N"``: forces pad and case codes differently."""
    code = value.strip().upper()
    if "." not in code:
        code = code.lstrip("0") or "0"
    return code


class CodeListError(LookupError):
    """A code list the hub does not ship, or a column it does not have."""


@dataclass(frozen=True)
class CodeList:
    """A lookup table ``<name>.csv`` (columns ``code,label`` and optional derived columns).

    Coded fields are validated against a list rather than an Avro enum because several national code
    values are unconfirmed (ISTV method and location, see README.md): a partnership can correct a list
    without a schema change. Derived columns hold ``true``/``false`` (a flag the code implies), text
    (e.g. a category) or nothing (not known).
    """

    name: str
    columns: tuple[str, ...]
    rows: dict[str, dict[str, str]]  # code -> row
    _by_label: dict[str, str]  # upper-case label -> code

    def resolve(self, value: str) -> str | None:
        """The list's code for ``value``, matched on code or label, ignoring case and outer spaces."""
        key = " ".join(value.split()).upper()
        if key in self.rows:
            return key
        return self._by_label.get(key)

    def derived(self, code: str, column: str) -> bool | str | None:
        """The value of a derived column for ``code``: a bool for true/false columns, else text, or None."""
        cell = self.rows[code].get(column, "").strip()
        if not cell:
            return None
        if self.is_flag(column):
            return cell == "true"
        return cell

    def is_flag(self, column: str) -> bool:
        """True if every non-empty cell of ``column`` is ``true`` or ``false``."""
        cells = {r.get(column, "").strip() for r in self.rows.values()} - {""}
        return bool(cells) and cells <= {"true", "false"}


@cache
def code_list(name: str) -> CodeList:
    """The shipped code list ``hub/reference/<name>.csv``; raises ``CodeListError`` if there is none."""
    if name not in code_list_names():
        raise CodeListError(f"no code list {name!r}; the hub ships {', '.join(code_list_names())}")
    text = resources.files("hub.reference").joinpath(f"{name}.csv").read_text("utf-8")
    reader = csv.DictReader(io.StringIO(text))
    columns = tuple(reader.fieldnames or ())
    rows: dict[str, dict[str, str]] = {}
    by_label: dict[str, str] = {}
    for row in reader:
        code = row["code"].strip().upper()
        rows[code] = {k: (v or "").strip() for k, v in row.items()}
        by_label[" ".join(row["label"].split()).upper()] = code
    return CodeList(name, columns, rows, by_label)


@cache
def code_list_names() -> tuple[str, ...]:
    """Names of the shipped code lists: every CSV whose header starts ``code,label``."""
    names = []
    for entry in resources.files("hub.reference").iterdir():
        if entry.name.endswith(".csv"):
            header = entry.read_text("utf-8").split("\n", 1)[0].strip().split(",")
            if header[:2] == ["code", "label"]:
                names.append(entry.name[: -len(".csv")])
    return tuple(sorted(names))
