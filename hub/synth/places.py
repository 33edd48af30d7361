"""Free-text assault locations as an ED receptionist types them, for the synthetic county.

Most name a venue, street or school of the partnership's gazetteer (the synthetic one shipped in
``hub/reference/gazetteer_example_county.csv``) in the assault's LSOA, in the words people use
("outside the Star Lamb Tavern", "on bridge north close"); the rest say nothing a gazetteer could place
("at a party", "in town"), as real ISTV data does. The generator knows which are which (the truth).
"""

from __future__ import annotations

import random
from functools import cache

from hub.pseudonymisation.gazetteer import example_rows

PLACEABLE_SHARE = 0.85
# ISTV location type -> the kind of gazetteer place a description of it names.
KIND_OF = {"LP": "venue", "ED": "school"}
PHRASES = {
    "venue": ("outside {p}", "in {p}", "at {p}", "in the smoking area of {p}", "near {p}", "{p}"),
    "street": ("on {p}", "in the street, {p}", "at the bus stop on {p}", "near the shops on {p}",
               "walking down {p}", "at a house on {p}"),
    "school": ("outside {p}", "near the gates of {p}", "at {p}"),
}
UNPLACEABLE = ("at a friends house", "at a party", "outside", "in town", "not known", "at home", "in the street",
               "on the bus", "in a car park", "NK", "town centre", "")
# Police location types (hub.synth.incidents) as ISTV location type codes.
ISTV_TYPE = {"street": "PS", "licensed_premises": "LP", "home": "HO", "shop": "SH", "park": "PK",
             "transport": "TR", "school": "ED"}


@cache
def places_in() -> dict[str, dict[str, tuple[str, ...]]]:
    """LSOA -> kind -> gazetteer place names there."""
    out: dict[str, dict[str, list[str]]] = {}
    for name, kind, lsoa in example_rows():
        out.setdefault(lsoa, {}).setdefault(kind, []).append(name)
    return {lsoa: {k: tuple(v) for k, v in kinds.items()} for lsoa, kinds in out.items()}


def location_text(rng: random.Random, lsoa: str, location_type: str,
                  placeable: float = PLACEABLE_SHARE) -> tuple[str, str]:
    """(free text, the LSOA a gazetteer places it in or ""), for an assault in ``lsoa``."""
    kinds = places_in().get(lsoa)
    if kinds is None or rng.random() >= placeable:
        return rng.choice(UNPLACEABLE), ""
    kind = KIND_OF.get(location_type, "street")
    names = kinds.get(kind) or kinds.get("street") or next(iter(kinds.values()))
    kind = kind if kind in kinds else "street" if "street" in kinds else next(iter(kinds))
    text = rng.choice(PHRASES[kind]).format(p=rng.choice(names))
    return (text.lower() if rng.random() < 0.4 else text), lsoa
