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
