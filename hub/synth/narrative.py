"""Free-text incident summaries in the terse style of police crime reports.

Narratives often name the victim or suspect ("V1 JOHN SMITH"): free text is a direct identifier that
must never pass the privacy boundary, and the privacy tests rely on finding those names here. Some
narratives contain quotes, commas and line breaks, to check that every reader parses CSV properly.
"""

from __future__ import annotations

import random

PLACES: dict[str, tuple[str, ...]] = {
    "licensed_premises": (
        "outside The Red Lion, High Street",
        "inside Vibe nightclub, Market Street",
        "in the smoking area of The Crown",
        "outside Revolution bar, Bridge Street",
        "at The Plough public house",
    ),
    "street": (
        "on Market Square",
        "near the taxi rank on Station Road",
        "on Church Lane",
        "at the junction of Mill Road and King Street",
        "outside the kebab shop on High Street",
    ),
    "home": (
        "at the home address",
        "at a flat on the Westfield estate",
        "at a house on Orchard Close",
        "at the victim's home address",
    ),
    "shop": (
        "inside the Co-op on Park Road",
        "at the petrol station on the bypass",
        "outside Greggs, Bridge Street",
    ),
    "park": ("in Victoria Park", "on the playing fields off Moor Lane", "by the skate park"),
    "transport": ("at Ashmoor bus station", "on the platform at Brackendale station", "on the number 12 bus"),
    "school": ("outside Corrington Academy", "near the school gates on Hill Rise"),
}

_ACTS: dict[str, tuple[str, ...]] = {
    "homicide": (
        "{v} found with fatal injuries {where}. Major incident team informed.",
        "{v} died after an assault {where}. {s} arrested at scene.",
    ),
    "violence_with_injury": (
        "{v} reports being punched and kicked {where}, sustaining a cut to the head.",
        "{v} struck with a glass bottle {where}. Taken to A&E by ambulance.",
        "{v} reports {s} headbutted them {where}, causing a broken nose.",
        "{v} assaulted {where} by {s}; bruising to face and arms.",
    ),
    "violence_without_injury": (
        "{v} reports being pushed and slapped {where}. No visible injuries.",
        "{v} reports {s} spat at them {where}.",
        "{v} states {s} grabbed them by the throat {where}. No injury seen.",
        '{v} reports {s} said "I\'ll kill you, I know where you live" {where}.',
    ),
    "stalking_and_harassment": (
        "{v} reports repeated unwanted calls and messages from {s}.",
        "{v} reports {s} keeps turning up {where} despite being told to stop.",
        "{v} receiving abusive messages on social media, believed from {s}.",
    ),
    "robbery": (
        "{v} reports mobile phone and wallet taken by force {where}.",
        "{v} reports {s} demanded cash {where} and pushed them to the ground.",
        "Till staff member {v} threatened {where}; cash taken.",
    ),
    "possession_of_weapons": (
        "{s} found in possession of a lock knife {where} during stop search.",
        "{s} seen brandishing a blade {where}; detained by officers.",
        "Knuckleduster recovered from {s} {where} after a search.",
    ),
    "sexual_offences": (
        "{v} reports a sexual assault {where}. Details restricted.",
        "{v} disclosed a sexual offence by {s}. ABE interview arranged.",
    ),
}

# Offence classes whose story differs from their category's.
_CODE_ACTS: dict[str, tuple[str, ...]] = {
    "3B": (
        "{v} reports {s} threatened to stab them {where}.",
        "{v} reports {s} said \"you're dead, I'll kill you\" {where}.",
    ),
    "104": ("PC {v} pushed and kicked by {s} {where} while making an arrest.",),
    "8S": ("PC {v} punched by {s} {where} during an arrest; injury to the mouth.",),
    "8P": ("{v} racially abused and punched by {s} {where}.",),
    "105B": ("{v} racially abused and pushed by {s} {where}.",),
    "8M": ("{v} reports repeated racist abuse from {s}, a neighbour.",),
    "11A": ("Concerns for child {v}; {s} alleged to have hit and neglected them.",),
    "36": ("{v} reports being forced into a car by {s} {where} and held for several hours.",),
}

_SUFFIXES: tuple[str, ...] = (
    " Suspect produced a knife.",
    " Both parties had been drinking.",
    " CCTV requested.",
    " Body-worn video captured.",
    " Victim declined to provide a statement, for now.",
    "\nUpdate: officers conducted house-to-house enquiries, no witnesses.",
)


def person_text(label: str, forename: str, surname: str, *, named: bool) -> str:
    """How a narrative refers to a person: "V1 JOHN SMITH" when named, else just the label."""
    return f"{label} {forename.strip().upper()} {surname.strip().upper()}" if named else label


def narrative(
    rng: random.Random,
    code: str,
    category: str,
    location_type: str,
    *,
    victim: str,
    suspect: str,
    knife: bool,
    alcohol: bool,
    domestic: bool,
) -> str:
    """One incident summary; `victim`/`suspect` are the references to use (see person_text)."""
    template = rng.choice(_CODE_ACTS.get(code) or _ACTS[category])
    text = template.format(v=victim, s=suspect, where=rng.choice(PLACES[location_type]))
    if knife and category != "possession_of_weapons" and rng.random() < 0.7:
        text += _SUFFIXES[0]
    if alcohol and rng.random() < 0.6:
        text += _SUFFIXES[1]
    if domestic:
        text += " Parties are in a relationship, DASH completed."
    if rng.random() < 0.3:
        text += rng.choice(_SUFFIXES[2:])
    return text
