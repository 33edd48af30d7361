"""Offence mix for the synthetic extract, read from the hub's reference list.

Weights follow the shape of police-recorded violence: common assault, assault with injury and
harassment dominate; weapons, robbery and threats to kill are regular; homicide is rare. Codes in the
reference file but not weighted here are never generated (e.g. driving and corporate offences).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources
from itertools import accumulate

# code -> relative frequency
# fmt: off
OFFENCE_WEIGHTS: dict[str, float] = {
    "8N": 27.0, "105A": 27.0, "8L": 11.0, "5D": 6.0, "34B": 5.5, "10D": 5.0, "3B": 5.0, "8Q": 3.0, "104": 2.0,
    "8S": 1.2, "105B": 1.2, "8P": 0.6, "8M": 0.8, "10C": 1.2, "10A": 0.15, "2": 0.3, "5E": 0.3, "34A": 0.8,
    "11A": 0.5, "36": 0.2, "20A": 1.0, "19C": 0.6, "19D": 0.2, "17A": 0.2, "1": 0.05, "4.1": 0.03,
}
# fmt: on

# Offences with no individual victim (found in possession): victim fields stay empty.
VICTIMLESS: frozenset[str] = frozenset({"10A", "10C", "10D"})

# P(domestic-abuse flag | offence). Unlisted offences use DEFAULT_DA.
# fmt: off
DA_RATE: dict[str, float] = {
    "8N": 0.29, "105A": 0.29, "8L": 0.42, "8Q": 0.7, "3B": 0.4, "5D": 0.15, "2": 0.2, "5E": 0.1, "11A": 0.4,
    "36": 0.15, "19C": 0.4, "20A": 0.1, "1": 0.3, "4.1": 0.2,
}
# fmt: on
NEVER_DA: frozenset[str] = frozenset({"34A", "34B", "10A", "10C", "10D", "104", "8S", "8P", "105B", "8M"})
DEFAULT_DA = 0.05

# P(knife flag | offence); the knife series covers attempted murder, serious assault, robbery, threats.
# fmt: off
KNIFE_RATE: dict[str, float] = {
    "10D": 1.0, "2": 0.6, "5D": 0.4, "34B": 0.28, "34A": 0.2, "3B": 0.18, "1": 0.4, "8N": 0.03, "19C": 0.03,
    "20A": 0.02,
}
# fmt: on
DEFAULT_KNIFE = 0.005


@dataclass(frozen=True)
class Offence:
    """One offence class from the reference list."""

    code: str
    description: str
    category: str


def load_reference() -> dict[str, Offence]:
    """All offence classes in hub/reference/offence_codes.csv, by code."""
    text = resources.files("hub.reference").joinpath("offence_codes.csv").read_text(encoding="utf-8")
    return {
        row["code"]: Offence(row["code"], row["description"], row["category"])
        for row in csv.DictReader(io.StringIO(text))
    }


def weighted_offences(reference: dict[str, Offence]) -> tuple[list[Offence], list[float]]:
    """The offences to generate and their cumulative weights, in a fixed order.

    Raises ValueError if a weighted code has gone from the reference list: silently dropping it
    would change the mix the tests and the demo rely on.
    """
    missing = [code for code in OFFENCE_WEIGHTS if code not in reference]
    if missing:
        raise ValueError(f"offence codes missing from the reference list: {', '.join(missing)}")
    return [reference[code] for code in OFFENCE_WEIGHTS], list(accumulate(OFFENCE_WEIGHTS.values()))


def da_rate(code: str) -> float:
    """Probability that an incident with this offence is flagged domestic abuse."""
    return 0.0 if code in NEVER_DA else DA_RATE.get(code, DEFAULT_DA)


def knife_rate(code: str) -> float:
    """Probability that an incident with this offence carries the knife / sharp instrument flag."""
    return KNIFE_RATE.get(code, DEFAULT_KNIFE)
