"""How a person's details get mangled when an officer types them in.

Each appearance of a person may carry the errors real police records show: transposed or dropped
letters, nicknames, case changes, lost accents, stray spaces, forename and surname swapped, a
double-barrelled surname with a space or only one half, and a date of birth with day and month
transposed. The truth file keeps the real person id, so linkage quality can be measured against it.
"""

from __future__ import annotations

import random
import unicodedata
from datetime import date

from hub.synth.names import NICKNAMES
from hub.synth.people import Person

VARIANT_RATE = 0.15  # share of appearances with at least one name error
SECOND_ERROR_RATE = 0.2  # of those, share with a second error
DOB_SWAP_RATE = 0.03  # share of appearances with day and month transposed (where that is a valid date)


def _transpose(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _drop(rng: random.Random, text: str) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text))
    return text[:i] + text[i + 1 :]


def _double(rng: random.Random, text: str) -> str:
    i = rng.randrange(1, len(text))
    return text[:i] + text[i] + text[i:]


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def _barrel(rng: random.Random, surname: str) -> str:
    first, second = surname.split("-", 1)
    return rng.choice((f"{first} {second}", f"{first}{second}", first, second))


def _apply(rng: random.Random, forename: str, surname: str) -> tuple[str, str]:
    """Apply one randomly chosen error to a (forename, surname) pair."""
    ops: list[tuple[str, float]] = [
        ("transpose", 2.0),
        ("drop", 2.0),
        ("double", 1.0),
        ("upper", 2.0),
        ("lower", 1.0),
        ("pad", 0.5),
        ("swap", 0.7),
    ]
    if forename in NICKNAMES:
        ops.append(("nickname", 4.0))
    if "-" in surname:
        ops.append(("barrel", 6.0))
    if _strip_accents(forename + surname) != forename + surname:
        ops.append(("accent", 6.0))
    total = sum(weight for _, weight in ops)
    pick = rng.random() * total
    op = ops[-1][0]
    for name, weight in ops:
        pick -= weight
        if pick < 0:
            op = name
            break
    on_surname = rng.random() < 0.5
    if op in ("transpose", "drop", "double"):
        func = {"transpose": _transpose, "drop": _drop, "double": _double}[op]
        if on_surname:
            return forename, func(rng, surname)
        return func(rng, forename), surname
    if op == "upper":
        return (forename, surname.upper()) if on_surname else (forename.upper(), surname.upper())
    if op == "lower":
        return forename.lower(), surname.lower()
    if op == "pad":
        return f" {forename}", f"{surname} "
    if op == "swap":
        return surname, forename
    if op == "nickname":
        return rng.choice(NICKNAMES[forename]), surname
    if op == "barrel":
        return forename, _barrel(rng, surname)
    return _strip_accents(forename), _strip_accents(surname)


def recorded_name(rng: random.Random, person: Person) -> tuple[str, str]:
    """The (forename, surname) as written on one record about `person`."""
    forename, surname = person.forename, person.surname
    if rng.random() < VARIANT_RATE:
        forename, surname = _apply(rng, forename, surname)
        if rng.random() < SECOND_ERROR_RATE:
            forename, surname = _apply(rng, forename, surname)
    return forename, surname


def recorded_dob(rng: random.Random, dob: date) -> date:
    """The date of birth as written: occasionally day and month transposed."""
    if dob.day <= 12 and dob.day != dob.month and rng.random() < DOB_SWAP_RATE:
        return date(dob.year, dob.day, dob.month)
    return dob
