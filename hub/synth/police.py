"""Write a synthetic police crime extract for the fictional county, with its ground truth.

The extract imitates a force records-management-system export (Niche/Athena style): one row per crime,
UK date formats, identifiers in clear, free-text narrative, hand-set flags and a few broken rows.
Valid and malformed rows, their true offence, place and people are written to truth files so tests
can check what the hub publishes, dead-letters and counts.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from hub.synth.geography import County, build_county, normalise_postcode, write_lookup
from hub.synth.incidents import Incident, IncidentFactory, Recorded
from hub.synth.offences import load_reference
from hub.synth.people import Person, PersonPool, PlantedPerson, age_band, age_on
from hub.synth.truth import TruthIncident, TruthPerson, iso_week, write_rows

# fmt: off
EXTRACT_HEADER: tuple[str, ...] = (
    "CrimeRef", "HOOffenceCode", "OffenceDescription", "OccurredFrom", "OccurredTo", "ReportedDate",
    "LocationPostcode", "LocationLSOA", "VictimForename", "VictimSurname", "VictimDOB", "VictimSex",
    "SuspectForename", "SuspectSurname", "SuspectDOB", "SuspectSex", "DomesticAbuseFlag", "KnifeFlag",
    "FirearmFlag", "AlcoholFlag", "OutcomeCode", "Narrative",
)
# fmt: on
# Malformed-row kinds, in the order they cycle, with the field a validator should name.
MALFORMED_KINDS: tuple[tuple[str, str], ...] = (
    ("bad_date", "OccurredFrom"),
    ("unknown_offence_code", "HOOffenceCode"),
    ("missing_id", "CrimeRef"),
    ("wrong_column_count", ""),
    ("bad_postcode_and_lsoa", "LocationPostcode"),
)
SOURCE = "police_incident"  # its generator is generate_police_extract (a richer manifest than Generator's)
PLANTED_ROWS = 3
FORCE_PREFIX = "ZZ"
_BAD_DATES = ("31/02/{y} 25:61", "00/13/{y} 10:00", "32/01/{y} 23:15")
_BAD_CODES = ("ZZ9", "999", "8X")
_BAD_POSTCODE = "ZZ99 9ZZ"  # well-formed, but no such postcode in the lookup
_TIME_FORMAT = "%d/%m/%Y %H:%M"


@dataclass(frozen=True)
class SynthManifest:
    """Where the generated files are and how many rows the extract holds."""

    extract_csv: Path
    lookup_csv: Path
    truth_incidents_csv: Path
    truth_persons_csv: Path
    rows_total: int
    rows_valid: int
    rows_malformed: int


def generate_police_extract(
    out_dir: Path,
    *,
    seed: int = 2026,
    incidents: int = 3000,
    malformed: int = 12,
    start: date = date(2025, 1, 6),
    days: int = 364,
    planted: Sequence[PlantedPerson] = (),
) -> SynthManifest:
    """Generate `incidents` valid rows plus `malformed` broken ones into `out_dir` (created if needed).

    Same arguments give byte-identical files. Files: police_extract.csv, postcode_lookup.csv,
    truth_incidents.csv, truth_persons.csv.
    """
    if incidents < 0 or malformed < 0 or days < 1:
        raise ValueError("incidents and malformed must be >= 0 and days >= 1")
    if len(planted) * PLANTED_ROWS > incidents // 2:
        raise ValueError(
            f"{len(planted)} planted persons need at least {len(planted) * PLANTED_ROWS * 2} incidents"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    county = build_county()
    factory, valid = _valid_incidents(rng, county, incidents, start, days, planted)
    broken = [factory.make() for _ in range(malformed)]

    manifest = SynthManifest(
        extract_csv=out_dir / "police_extract.csv",
        lookup_csv=out_dir / "postcode_lookup.csv",
        truth_incidents_csv=out_dir / "truth_incidents.csv",
        truth_persons_csv=out_dir / "truth_persons.csv",
        rows_total=incidents + malformed,
        rows_valid=incidents,
        rows_malformed=malformed,
    )
    rows: list[list[str]] = []
    truth: list[TruthIncident] = []
    persons: list[TruthPerson] = []
    broken_at = {int((i + 0.5) * manifest.rows_total / malformed): i for i in range(malformed)}
    next_valid = iter(valid)
    for index in range(manifest.rows_total):
        if index in broken_at:
            number = broken_at[index]
            kind, field = MALFORMED_KINDS[number % len(MALFORMED_KINDS)]
            row, fact = _malformed(rng, broken[number], kind, field, index + 1, number, start)
        else:
            incident = next(next_valid)
            row, fact = _row(incident), _fact(incident, index + 1)
            persons.extend(_persons(incident))
        rows.append(row)
        truth.append(fact)

    with manifest.extract_csv.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)  # excel dialect: CRLF line ends, minimal quoting, as exports do
        writer.writerow(EXTRACT_HEADER)
        writer.writerows(rows)
    write_lookup(county, manifest.lookup_csv)
    write_rows(manifest.truth_incidents_csv, TruthIncident, truth)
    write_rows(manifest.truth_persons_csv, TruthPerson, persons)
    return manifest


def _valid_incidents(rng: random.Random, county: County, incidents: int, start: date, days: int,
                     planted: Sequence[PlantedPerson]) -> tuple[IncidentFactory, list[Incident]]:
    """The extract's valid incidents, in reporting order with their crime references."""
    pool = PersonPool(rng, county, max(50, 2 * incidents), start)
    factory = IncidentFactory(rng, county, pool, load_reference(), start, days)
    valid = [factory.make() for _ in range(incidents)]
    _plant(factory, valid, planted)
    valid.sort(key=lambda item: item.reported)
    _assign_refs(rng, valid)
    return factory, valid


def police_incidents(seed: int = 2026, incidents: int = 3000, start: date = date(2025, 1, 6), days: int = 364,
                     planted: Sequence[PlantedPerson] = ()) -> list[Incident]:
    """The valid incidents of the police extract ``generate_police_extract`` writes with the same arguments
    (same facts, same crime references): for other agencies' extracts that record the same events."""
    return _valid_incidents(random.Random(seed), build_county(), incidents, start, days, planted)[1]


def _plant(factory: IncidentFactory, valid: list[Incident], planted: Sequence[PlantedPerson]) -> None:
    """Make each planted person (person id PLANTEDnnn) the victim of PLANTED_ROWS incidents, exactly as
    given, and name them (and their postcode) in those rows' narratives."""
    rng = factory.rng
    lookup = factory.county.postcode_index()
    candidates = [i for i, item in enumerate(valid) if item.victim is not None]
    chosen = rng.sample(candidates, len(planted) * PLANTED_ROWS)
    for number, canary in enumerate(planted):
        sex = rng.choice("MF")
        person = Person(f"PLANTED{number + 1:03d}", canary.forename, canary.surname, canary.dob, sex, "")
        home = lookup.get(normalise_postcode(canary.postcode))
        for index in chosen[number * PLANTED_ROWS : (number + 1) * PLANTED_ROWS]:
            incident = valid[index]
            incident.victim = person
            incident.victim_rec = Recorded(
                canary.forename, canary.surname, canary.dob.strftime("%d/%m/%Y"), sex
            )
            if home is not None:  # happened at their home postcode, which the lookup knows
                incident.lsoa, incident.location_type = home.code, "home"
                incident.location_postcode, incident.location_lsoa = canary.postcode, ""
            text = f"V1 {canary.forename} {canary.surname} of {canary.postcode}"
            incident.narrative = factory.narrate(incident, name_victim=True, victim_text=text)


def _assign_refs(rng: random.Random, incidents: list[Incident]) -> None:
    """CrimeRef in reporting order, ZZ/YY/NNNNNN; gaps stand for the force's non-violent crimes."""
    step = max(1, min(60, 800_000 // max(1, len(incidents)) - 1))
    counters: dict[int, int] = {}
    for incident in incidents:
        year = incident.reported.year
        counters[year] = counters.get(year, rng.randint(1, 400)) + rng.randint(1, step)
        incident.crime_ref = f"{FORCE_PREFIX}/{year % 100:02d}/{counters[year]:06d}"


def _flag(value: bool) -> str:
    return "Y" if value else "N"


def _row(incident: Incident) -> list[str]:
    """The extract row for an incident."""
    victim = incident.victim_rec or Recorded("", "", "", "")
    suspect = incident.suspect_rec or Recorded("", "", "", "")
    occurred_to = incident.occurred_to.strftime(_TIME_FORMAT) if incident.occurred_to else ""
    return [
        incident.crime_ref,
        incident.offence.code,
        incident.offence.description,
        incident.occurred_from.strftime(_TIME_FORMAT),
        occurred_to,
        incident.reported.strftime(_TIME_FORMAT),
        incident.location_postcode,
        incident.location_lsoa,
        victim.forename,
        victim.surname,
        victim.dob,
        victim.sex,
        suspect.forename,
        suspect.surname,
        suspect.dob,
        suspect.sex,
        _flag(incident.domestic),
        _flag(incident.knife),
        _flag(incident.firearm),
        _flag(incident.alcohol),
        incident.outcome,
        incident.narrative,
    ]


def _fact(incident: Incident, row_number: int, kind: str = "", field: str = "") -> TruthIncident:
    occurred = incident.occurred_from.date()
    return TruthIncident(
        row_number=row_number,
        crime_reference=incident.crime_ref,
        valid=not kind,
        error_kind=kind,
        error_field=field,
        offence_code=incident.offence.code,
        offence_category=incident.offence.category,
        lsoa21cd=incident.lsoa,
        iso_week=iso_week(occurred),
        occurred_date=occurred.isoformat(),
        domestic_abuse=incident.domestic,
        knife=incident.knife,
    )


def _persons(incident: Incident) -> list[TruthPerson]:
    """Truth rows for the victim and suspect of a valid incident."""
    out = []
    for role, person in (("victim", incident.victim), ("suspect", incident.suspect)):
        if person is not None:
            band = age_band(age_on(person.dob, incident.occurred_from.date()))
            out.append(TruthPerson(incident.crime_ref, role, person.person_id, band, person.sex))
    return out


def _malformed(
    rng: random.Random, incident: Incident, kind: str, field: str, row_number: int, number: int, start: date
) -> tuple[list[str], TruthIncident]:
    """Break an incident the way `kind` says; the truth keeps what survives of its real facts."""
    incident.crime_ref = f"{FORCE_PREFIX}/{start.year % 100:02d}/9{number:05d}"
    row = _row(incident)
    fact = _fact(incident, row_number, kind, field)
    variant = number // len(MALFORMED_KINDS)
    if kind == "bad_date":
        row[3] = _BAD_DATES[variant % len(_BAD_DATES)].format(y=incident.occurred_from.year)
        fact = replace(fact, iso_week="", occurred_date="")
    elif kind == "unknown_offence_code":
        row[1] = _BAD_CODES[variant % len(_BAD_CODES)]
        fact = replace(fact, offence_code=row[1], offence_category="")
    elif kind == "missing_id":
        row[0] = ""
        fact = replace(fact, crime_reference="")
    elif kind == "wrong_column_count":
        row = row[: len(row) - rng.randint(3, 10)]
    elif kind == "bad_postcode_and_lsoa":
        row[6], row[7] = _BAD_POSTCODE, ""
    return row, fact
