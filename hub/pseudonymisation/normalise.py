"""Normalisation of UK identifiers before tokenising, so the same person gives the same token.

Every function is idempotent (normalising twice changes nothing) and returns ``None`` for a value
that carries no usable identity (empty, placeholder, failed check digit).

Text is folded before anything else: format characters (zero-width spaces, soft hyphens, joiners,
bidi marks) are deleted, apostrophe look-alikes become one apostrophe, and every letter is
transliterated to ASCII with anyascii (``Ł`` -> ``L``, ``ø`` -> ``o``, ``Дмитрий`` -> ``Dmitriy``), so a
letter that does not decompose is never deleted and a non-Latin name gets tokens. A Cyrillic or Greek
letter that looks like a Latin one, inside a word with Latin letters, is read as that Latin letter.
"""

from __future__ import annotations

import re
import time
import unicodedata
from datetime import date, datetime, timedelta

from anyascii import anyascii

TITLES = frozenset({"MR", "MRS", "MS", "MISS", "MX", "DR", "PROF", "REV", "SIR", "DAME", "LORD", "LADY", "MASTER"})
PLACEHOLDERS = frozenset({
    "UNKNOWN", "NK", "NOTKNOWN", "NONE", "NULL", "NA", "NIL", "ZZZ", "XXX", "UNK", "UNIDENTIFIED", "UNNAMED",
    "ANON", "ANONYMOUS", "MALE", "FEMALE", "BABY", "BABYOF", "INFANT", "NEWBORN", "TWIN", "REFUSED",
    "WITHHELD", "DECLINED", "NOTGIVEN", "NOTSTATED", "NOTRECORDED", "NOTPROVIDED", "NOFORENAME", "NOSURNAME",
    "TEST", "TESTPATIENT", "DUMMY", "PATIENT", "PERSON", "VICTIM", "SUSPECT", "OFFENDER", "REDACTED", "OF",
})
"""Words records systems put where a name is not known (or kept back): never identity, so never tokenised."""
SENTINEL_DOBS = frozenset({date(1970, 1, 1), date(1900, 1, 1), date(1901, 1, 1), date(1899, 12, 31),
                           date(1800, 1, 1), date(1111, 11, 11)})
"""Dates systems write when a date of birth is not known (epoch, the 1900 default and the like)."""
OLDEST_AGE = 120
_NOT_NAMES = TITLES | PLACEHOLDERS
_LOOK_ALIKES = str.maketrans(
    "АВЕКМНОРСТХУаеорсухіјѕІЈЅ" "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧοκρχ",
    "ABEKMHOPCTXYaeopcyxijsIJS" "ABEZHIKMNOPTYXokpx")
"""Cyrillic and Greek letters that look like Latin ones, for words that mix them with Latin letters."""
_LATIN = re.compile(r"[A-Za-z]")
_APOSTROPHES = "'\u2018\u2019\u201b\u2032\u00b4\u0060\u02b9\u02bb\u02bc\u02bd\u02c8\u055a\uff07"
_APOSTROPHE = re.compile(f"[{re.escape(_APOSTROPHES)}]")
_NON_ALPHA = re.compile(r"[^A-Z ]+")
_NON_ALNUM = re.compile(r"[^A-Z0-9]")
_NON_DIGIT = re.compile(r"[^0-9]")
_SPACES = re.compile(r"\s+")
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
_PNC = re.compile(r"^([0-9]{2}|[0-9]{4})/?([0-9]{1,7})([A-Z])$")


def fold(value: str) -> str:
    """ASCII text of ``value``: format characters deleted, apostrophes unified, letters transliterated."""
    if value.isascii():  # most values: no format character, look-alike or letter to transliterate (same result)
        return value.replace("`", "'") if "`" in value else value
    return _fold(value)


def _fold(value: str) -> str:
    """``fold`` of any text (the ASCII shortcut aside)."""
    text = "".join(c for c in unicodedata.normalize("NFC", value) if unicodedata.category(c) != "Cf")
    # A look-alike letter inside a Latin word is a typing slip or a spoof, not a Cyrillic name: read it as the
    # Latin letter it looks like (anyascii alone would read Cyrillic С as S, so Cоx would not be Cox).
    words = [w.translate(_LOOK_ALIKES) if _LATIN.search(w) else w for w in text.split(" ")]
    return anyascii(_APOSTROPHE.sub("'", " ".join(words)))


def name(value: str | None) -> str | None:
    """Upper-case ASCII words, titles, placeholders and punctuation removed, hyphens and apostrophes joined.

    ``"  Mrs. Zoë O'Brien-Smith "`` -> ``"ZOE OBRIENSMITH"``; ``"D´Arcy"`` -> ``"DARCY"``.
    """
    if value is None:
        return None
    text = fold(value).upper().replace("'", "").replace("-", "")
    text = _NON_ALPHA.sub(" ", text)
    words = [w for w in _SPACES.split(text.strip()) if w and w not in _NOT_NAMES]
    joined = " ".join(words)
    if not joined or joined.replace(" ", "") in _NOT_NAMES:
        return None
    return joined


def surname(value: str | None) -> str | None:
    """A surname as one token: spaces, hyphens and apostrophes removed (``SMITH JONES`` = ``SMITH-JONES``).

    One letter is an initial, not a surname."""
    n = name(value)
    joined = n.replace(" ", "") if n else None
    return joined if joined and len(joined) > 1 and joined not in _NOT_NAMES else None


def forename(value: str | None) -> str | None:
    """The first given name only (middle names are recorded inconsistently across agencies).

    An initial is not a forename: a one-letter token would join every J. Smith with every other.
    """
    n = name(value)
    first = n.split(" ")[0] if n else None  # words of name() are never titles or placeholders
    return first if first and len(first) > 1 else None


def postcode(value: str | None) -> str | None:
    """UK postcode in the single-space form (``pcds``), or ``None`` if it is not postcode-shaped."""
    if value is None:
        return None
    compact = _NON_ALNUM.sub("", fold(value).upper())
    m = _POSTCODE.match(compact)
    return f"{m.group(1)} {m.group(2)}" if m else None


def nhs_number(value: str | None) -> str | None:
    """Ten digits passing the NHS modulus 11 check, else ``None``."""
    if value is None:
        return None
    digits = _NON_DIGIT.sub("", fold(value))
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
    compact = _SPACES.sub("", fold(value).upper())
    m = _PNC.match(compact)
    if not m:
        return None
    year, serial, letter = m.groups()
    if len(year) == 2:
        year = ("19" if int(year) > 50 else "20") + year
    return f"{year}/{int(serial):07d}{letter}"


def reference(value: str | None) -> str | None:
    """A person's identifier for linkage (CRN, youth-justice id, UPN): upper case, no spaces."""
    if value is None:
        return None
    compact = _SPACES.sub("", fold(value).upper())
    return compact or None


def record_id(value: str | None) -> str | None:
    """A record's own id, for its event id: exact (``ab 12`` and ``AB12`` are two records), outer spaces aside."""
    if value is None:
        return None
    exact = unicodedata.normalize("NFC", value).strip()
    return exact or None


def local_today() -> date:
    """``date.today()``, asked of the clock only once a (local) day: a date of birth met for the first time is
    checked against today, and ``date.today()`` (a system call and a local-time conversion) was a tenth of
    deriving its match keys. The day is re-read at the next local midnight, and at once if the clock is set
    back before the day's start (found by review: a clock corrected backwards, e.g. by NTP after a VM restore,
    kept a day ahead until real time caught up, accepting dates of birth in the future)."""
    global _today, _today_starts, _today_ends
    now = time.time()
    if not _today_starts <= now < _today_ends:
        today = date.today()
        starts = datetime.combine(today, datetime.min.time()).timestamp()
        ends = datetime.combine(today + timedelta(days=1), datetime.min.time()).timestamp()
        _today, _today_starts, _today_ends = today, starts, ends
    return _today


_today, _today_starts, _today_ends = date.min, 0.0, 0.0  # today, and the time.time() span it covers


def dob(value: date | None, today: date | None = None) -> date | None:
    """Dates of birth that are placeholders (1970-01-01, 1900-01-01, ...), in the future, or more than
    120 years back carry no identity."""
    today = today or local_today()
    if value is None or value in SENTINEL_DOBS or value > today or value.year < today.year - OLDEST_AGE:
        return None
    return value
