"""Normalisation of UK identifiers before tokenising, so the same person gives the same token.

Every function is idempotent (normalising twice changes nothing) and returns ``None`` for a value
that carries no usable identity (empty, placeholder, failed check digit).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

TITLES = frozenset({"MR", "MRS", "MS", "MISS", "MX", "DR", "PROF", "REV", "SIR", "DAME", "LORD", "LADY", "MASTER"})
PLACEHOLDERS = frozenset({"UNKNOWN", "NK", "NOTKNOWN", "NONE", "NULL", "NA", "ZZZ", "XXX", "UNK", "UNIDENTIFIED",
                          "ANON", "ANONYMOUS", "MALE", "FEMALE"})
"""Words records systems put where a name is not known: never identity, so never tokenised."""
_NOT_NAMES = TITLES | PLACEHOLDERS
_NON_ALPHA = re.compile(r"[^A-Z ]+")
_SPACES = re.compile(r"\s+")
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
_PNC = re.compile(r"^(\d{2}|\d{4})/?(\d{1,7})([A-Z])$")


def _ascii_upper(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def name(value: str | None) -> str | None:
    """Upper-case ASCII words, titles and punctuation removed, hyphens and apostrophes joined.

    ``"  Mrs. Zoë O'Brien-Smith "`` -> ``"ZOE OBRIENSMITH"``.
    """
    if value is None:
        return None
    text = _ascii_upper(value).replace("'", "").replace("\u2019", "").replace("-", "")
    text = _NON_ALPHA.sub(" ", text)
    words = [w for w in _SPACES.split(text.strip()) if w and w not in _NOT_NAMES]
    joined = " ".join(words)
    if not joined or joined.replace(" ", "") in _NOT_NAMES:
        return None
    return joined


def surname(value: str | None) -> str | None:
    """A surname as one token: spaces, hyphens and apostrophes removed (``SMITH JONES`` = ``SMITH-JONES``)."""
    n = name(value)
    joined = n.replace(" ", "") if n else None
    return joined if joined and joined not in _NOT_NAMES else None


def forename(value: str | None) -> str | None:
    """The first given name only: middle names are recorded inconsistently across agencies."""
    n = name(value)
    return n.split(" ")[0] if n else None  # words of name() are never titles or placeholders


def postcode(value: str | None) -> str | None:
    """UK postcode in the single-space form (``pcds``), or ``None`` if it is not postcode-shaped."""
    if value is None:
        return None
    compact = re.sub(r"[^A-Z0-9]", "", value.upper())
    m = _POSTCODE.match(compact)
    return f"{m.group(1)} {m.group(2)}" if m else None


def nhs_number(value: str | None) -> str | None:
    """Ten digits passing the NHS modulus 11 check, else ``None``."""
    if value is None:
        return None
    digits = re.sub(r"\D", "", value)
    if len(digits) != 10 or len(set(digits)) == 1:
        return None
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10 or check != int(digits[9]):
        return None
    return digits


def pnc_id(value: str | None) -> str | None:
    """PNC id as ``YYYY/NNNNNNNL`` (two-digit years widened, serial zero-padded to 7), else ``None``."""
    if value is None:
        return None
    compact = re.sub(r"\s", "", value.upper())
    m = _PNC.match(compact)
    if not m:
        return None
    year, serial, letter = m.groups()
    if len(year) == 2:
        year = ("19" if int(year) > 50 else "20") + year
    return f"{year}/{int(serial):07d}{letter}"


def reference(value: str | None) -> str | None:
    """Any other identifier (CRN, youth-justice id, crime reference): upper case, no spaces."""
    if value is None:
        return None
    compact = re.sub(r"\s", "", value.upper())
    return compact or None


def dob(value: date | None) -> date | None:
    """Dates of birth outside 1900..today are placeholders (01/01/1900 and the like)."""
    if value is None or value.year < 1901 or value > date.today():
        return None
    return value
