"""What every synthetic agency extract shares: the county's people, when violence happens, identifiers in
each agency's format, a few broken rows and a ground-truth file.

The people pool is rebuilt exactly as the police generator builds it (same seed, same size), so a
probation, youth justice or school extract meets the same people as the police extract: the repeat
structure linkage has to find across agencies.
"""

from __future__ import annotations

import bisect
import csv
import random
import zlib
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from hub.synth.geography import County, build_county, write_lookup
from hub.synth.people import Person, PersonPool, PlantedPerson, age_on, cumulative
from hub.synth.variants import recorded_dob, recorded_name

_WEEKDAY = (0.8, 0.8, 0.9, 1.0, 1.3, 1.6, 1.3)  # Monday first
_HOURS = (7, 6, 5, 3, 2, 1, 1, 1.5, 2, 2.5, 3, 3, 3.5, 3.5, 4, 4.5, 5, 5, 5.5, 6, 6.5, 7, 8, 8)
_CRN_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
WRONG_COLUMN_COUNT = "wrong_column_count"


@dataclass(frozen=True)
class TruthRow:
    """One data row of an extract, valid or malformed, as the generator meant it."""

    row_number: int
    record_id: str
    valid: bool
    error_kind: str = ""
    error_field: str = ""
    person_id: str = ""  # the true person (justice and council sources): linkage ground truth
    occurred_date: str = ""
    lsoa21cd: str = ""  # where it happened (ambulance) or where the person lives (the others)
    flags: str = ""  # ";"-joined names of the flags that are true
    police_ref: str = ""  # ED: the police incident (crime reference) of the same assault, if the police know it
    assault_lsoa21cd: str = ""  # ED: where the assault happened, if its free-text location can be placed


@dataclass(frozen=True)
class ExtractManifest:
    """Where a generated extract and its truth are, and how many rows of each kind it holds."""

    source: str
    extract_csv: Path
    lookup_csv: Path
    truth_csv: Path
    rows_total: int
    rows_valid: int
    rows_malformed: int
    planted: tuple[str, ...] = field(default=())  # canary strings written into the extract

    def truth(self) -> list[dict[str, str]]:
        with self.truth_csv.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))


@dataclass(frozen=True)
class Generator:
    """A source's synthetic extract generator, called the same way for every source.

    Every generator module declares ``GENERATOR = Generator(SOURCE, generate_..., rows_option=...)``;
    ``hub.synth`` finds them by that name, so a new source's generator is one module. ``rows`` is the
    number of valid rows, whatever the generator calls it (attendances, call-outs, events...)."""

    source: str
    make: Callable[..., ExtractManifest]
    rows_option: str

    def __call__(self, out_dir: Path, **options: Any) -> ExtractManifest:
        """``options`` as the generator takes them; ``rows=N`` means N valid rows (None: its default)."""
        rows = options.pop("rows", None)
        if rows is not None:
            options[self.rows_option] = rows
        return self.make(out_dir, **options)


Row = dict[str, str]
Breaker = tuple[str, str, str]  # (error kind, column, bad cell); WRONG_COLUMN_COUNT truncates the row


def population(seed: int, incidents: int, start: date) -> tuple[random.Random, County, PersonPool]:
    """The county and the people of the police extract made with ``(seed, incidents, start)``; the random
    stream it returns is the pool's own, for the caller to re-seed."""
    rng = random.Random(seed)
    county = build_county()
    return rng, county, PersonPool(rng, county, max(50, 2 * incidents), start)


@cache
def _calendar(start: date, days: int) -> tuple[list[date], list[float]]:
    dates = [start + timedelta(days=i) for i in range(days)]
    return dates, cumulative([_WEEKDAY[d.weekday()] for d in dates])


_HOUR_CUM = cumulative(list(_HOURS))


def violent_time(rng: random.Random, start: date, days: int) -> datetime:
    """A moment weighted to evenings, nights and weekends, as recorded violence is."""
    dates, cum = _calendar(start, days)
    day = dates[bisect.bisect(cum, rng.random() * cum[-1])]
    hour = bisect.bisect(_HOUR_CUM, rng.random() * _HOUR_CUM[-1])
    return datetime(day.year, day.month, day.day, hour, rng.randrange(60))


def stable(person_id: str, salt: str) -> int:
    """A number fixed for a person and a purpose, so their CRN or UPN is the same in every extract."""
    return zlib.crc32(f"{salt}:{person_id}".encode())


def home_postcode(county: County, person: Person) -> str:
    codes = county.lsoa(person.home_lsoa).postcodes if person.home_lsoa else ()
    return codes[stable(person.person_id, "home") % len(codes)] if codes else ""


def pnc_id(person: Person) -> str:
    """``YYYY/NNNNNNNL``: the year the PNC record was created (a first arrest at 10-23) and a serial."""
    n = stable(person.person_id, "pnc")
    year = max(person.dob.year + 10, min(2024, person.dob.year + 10 + n % 14))
    return f"{year}/{n % 10_000_000:07d}{_CRN_LETTERS[n % len(_CRN_LETTERS)]}"


def crn(person: Person) -> str:
    n = stable(person.person_id, "crn")
    return f"{_CRN_LETTERS[n % len(_CRN_LETTERS)]}{n % 1_000_000:06d}"


def named(rng: random.Random, person: Person, date_format: str) -> tuple[str, str, str]:
    """(forename, surname, date of birth) as one agency's record writes them, typos included."""
    forename, surname = recorded_name(rng, person)
    return forename, surname, recorded_dob(rng, person.dob).strftime(date_format)


def draw_person(rng: random.Random, pool: PersonPool, when: date, ages: tuple[int, int],
                seen: set[str]) -> Person:
    """Someone the police also know (suspects more often) aged within ``ages`` on ``when`` (within a year of
    the pool's reference date) and not in ``seen``; a new person when the pool has nobody left that fits."""
    try:
        person = pool.draw_suspect(when, ok=lambda p: ages[0] <= age_on(p.dob, when) <= ages[1]
                                   and p.person_id not in seen)
    except LookupError:
        person = pool.new_person(sex="M" if rng.random() < 0.7 else "F", ages=(ages[0], max(ages[0], ages[1] - 1)))
        pool.people.append(person)
    seen.add(person.person_id)
    return person


def pick(rng: random.Random, table: dict[str, float]) -> str:
    return rng.choices(list(table), weights=list(table.values()))[0]


def write_extract(out_dir: Path, source: str, header: Sequence[str], valid: list[tuple[Row, TruthRow]],
                  broken: list[tuple[Row, TruthRow]], breakers: Sequence[Breaker], id_column: str,
                  planted: Sequence[str] = ()) -> ExtractManifest:
    """Interleave the malformed rows evenly among the valid ones, break each as ``breakers`` cycle, and write
    ``<source>_extract.csv``, ``<source>_truth.csv`` and the county's ``postcode_lookup.csv``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    total = len(valid) + len(broken)
    at = {int((i + 0.5) * total / len(broken)): i for i in range(len(broken))} if broken else {}
    rows: list[list[str]] = []
    truth: list[TruthRow] = []
    good = iter(valid)
    for index in range(total):
        if index in at:
            number = at[index]
            row, fact = broken[number]
            kind, column, cell = breakers[number % len(breakers)]
            cells = [row[h] for h in header]
            if kind == WRONG_COLUMN_COUNT:
                cells = cells[: len(cells) - 3]
            else:
                cells[list(header).index(column)] = cell
            record_id = "" if column == id_column else row[id_column]
            fact = TruthRow(index + 1, record_id, False, kind, column, fact.person_id, fact.occurred_date,
                            fact.lsoa21cd, fact.flags, fact.police_ref, fact.assault_lsoa21cd)
        else:
            row, fact = next(good)
            cells = [row[h] for h in header]
            fact = TruthRow(index + 1, *astuple(fact)[1:])
        rows.append(cells)
        truth.append(fact)
    manifest = ExtractManifest(source, out_dir / f"{source}_extract.csv", out_dir / "postcode_lookup.csv",
                               out_dir / f"{source}_truth.csv", total, len(valid), len(broken), tuple(planted))
    with manifest.extract_csv.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)  # excel dialect, as agency exports are
        writer.writerow(header)
        writer.writerows(rows)
    write_lookup(build_county(), manifest.lookup_csv)
    with manifest.truth_csv.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([f.name for f in fields(TruthRow)])
        writer.writerows([("true" if v is True else "false" if v is False else v) for v in astuple(t)]
                         for t in truth)
    return manifest


def flags_of(**flags: bool | None) -> str:
    return ";".join(sorted(name for name, on in flags.items() if on))



def planted_people(rng: random.Random, county: County, planted: Sequence[PlantedPerson]) -> list[Person]:
    """The canaries as people (ids PLANTEDnnn), living where their postcode is if the county has it."""
    index = county.postcode_index()
    out = []
    for number, canary in enumerate(planted):
        home = index.get(canary.postcode)
        out.append(Person(f"PLANTED{number + 1:03d}", canary.forename, canary.surname, canary.dob,
                          rng.choice("MF"), home.code if home else ""))
    return out


def split_valid(rng: random.Random, rows: list[tuple[Row, TruthRow]], valid: int,
                order: str) -> tuple[list[tuple[Row, TruthRow]], list[tuple[Row, TruthRow]]]:
    """``valid`` rows to keep, sorted by the ``order`` column, and the rest to break; planted people's rows
    are always kept whole, so the canary search has something to find in the raw topic."""
    planted = [r for r in rows if r[1].person_id.startswith("PLANTED")]
    others = [r for r in rows if not r[1].person_id.startswith("PLANTED")]
    rng.shuffle(others)
    keep = sorted(planted + others[: valid - len(planted)], key=lambda r: r[0][order])
    return keep, others[valid - len(planted):]


def planted_strings(planted: Sequence[PlantedPerson], date_format: str) -> tuple[str, ...]:
    return tuple(s for p in planted for s in (p.forename, p.surname, p.dob.strftime(date_format), p.postcode))


def number_rows(rows: list[tuple[Row, TruthRow]], column: str, template: str) -> list[tuple[Row, TruthRow]]:
    """Give every row a unique record reference (``template.format(n)``), as the agency's system would."""
    out = []
    for n, (row, truth) in enumerate(rows, start=1):
        ref = template.format(n)
        out.append(({**row, column: ref}, replace(truth, record_id=ref)))
    return out
