"""Tests for the synthetic police extract generator (hub.synth): the ground truth others rely on."""

from __future__ import annotations

import csv
import hashlib
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.synth import PlantedPerson, SynthManifest, expected_counts, generate_police_extract
from hub.synth.geography import LOOKUP_HEADER, build_county, normalise_postcode
from hub.synth.offences import load_reference
from hub.synth.police import EXTRACT_HEADER, MALFORMED_KINDS
from hub.synth.truth import iso_week

REPO = Path(__file__).resolve().parents[2]
POSTCODE_RE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][ABD-HJLNP-UW-Z]{2}$")
CRIME_REF_RE = re.compile(r"^ZZ/\d{2}/\d{6}$")
TIME_FORMAT = "%d/%m/%Y %H:%M"
PLANTED = (
    PlantedPerson("Canary", "Tweetington-Smythe", date(1991, 4, 17), "ZZ1 0FW"),
    PlantedPerson("Zebedee", "O'Quill", date(2004, 11, 2), "QQ9 9QQ"),  # postcode not in the lookup
)
COL = {name: i for i, name in enumerate(EXTRACT_HEADER)}


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def read_dicts(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def digests(manifest: SynthManifest) -> dict[str, str]:
    paths = (
        manifest.extract_csv,
        manifest.lookup_csv,
        manifest.truth_incidents_csv,
        manifest.truth_persons_csv,
    )
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> SynthManifest:
    return generate_police_extract(tmp_path_factory.mktemp("synth"), planted=PLANTED)


@pytest.fixture(scope="module")
def extract(default: SynthManifest) -> tuple[list[str], list[list[str]]]:
    rows = read_csv(default.extract_csv)
    return rows[0], rows[1:]


@pytest.fixture(scope="module")
def truth(default: SynthManifest) -> list[dict[str, str]]:
    return read_dicts(default.truth_incidents_csv)


@pytest.fixture(scope="module")
def persons(default: SynthManifest) -> list[dict[str, str]]:
    return read_dicts(default.truth_persons_csv)


@pytest.fixture(scope="module")
def valid_rows(extract: tuple[list[str], list[list[str]]], truth: list[dict[str, str]]) -> list[list[str]]:
    return [row for row, fact in zip(extract[1], truth, strict=True) if fact["valid"] == "true"]


@pytest.fixture(scope="module")
def lookup(default: SynthManifest) -> dict[str, str]:
    return {row["pcds"]: row["lsoa21cd"] for row in read_dicts(default.lookup_csv)}


# --- determinism and speed ---------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = generate_police_extract(tmp_path / "a", seed=7, incidents=400, planted=PLANTED[:1])
    second = generate_police_extract(tmp_path / "b", seed=7, incidents=400, planted=PLANTED[:1])
    assert digests(first) == digests(second)


def test_different_seed_gives_a_different_extract(tmp_path: Path) -> None:
    first = generate_police_extract(tmp_path / "a", seed=1, incidents=300)
    second = generate_police_extract(tmp_path / "b", seed=2, incidents=300)
    assert first.extract_csv.read_bytes() != second.extract_csv.read_bytes()
    assert first.lookup_csv.read_bytes() == second.lookup_csv.read_bytes()  # one county for every seed


def test_output_does_not_depend_on_string_hash_randomisation(tmp_path: Path) -> None:
    here = generate_police_extract(tmp_path / "here", seed=11, incidents=300)
    code = (
        f"from pathlib import Path; from hub.synth import generate_police_extract; "
        f"generate_police_extract(Path({str(tmp_path / 'there')!r}), seed=11, incidents=300)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=REPO)
    for name, digest in digests(here).items():
        assert hashlib.sha256((tmp_path / "there" / name).read_bytes()).hexdigest() == digest, name


def test_malformed_rows_do_not_change_the_valid_rows(tmp_path: Path) -> None:
    clean = read_csv(generate_police_extract(tmp_path / "a", seed=5, incidents=300, malformed=0).extract_csv)
    noisy_manifest = generate_police_extract(tmp_path / "b", seed=5, incidents=300, malformed=9)
    noisy = read_csv(noisy_manifest.extract_csv)
    facts = read_dicts(noisy_manifest.truth_incidents_csv)
    assert [r for r, f in zip(noisy[1:], facts, strict=True) if f["valid"] == "true"] == clean[1:]


# --- shape of the extract -----------------------------------------------------------------------------


def test_header_and_row_counts(
    default: SynthManifest, extract: tuple[list[str], list[list[str]]], truth: list[dict[str, str]]
) -> None:
    header, rows = extract
    assert header == list(EXTRACT_HEADER)
    assert len(EXTRACT_HEADER) == 22
    assert (default.rows_total, default.rows_valid, default.rows_malformed) == (3012, 3000, 12)
    assert len(rows) == len(truth) == default.rows_total
    assert [int(f["row_number"]) for f in truth] == list(range(1, default.rows_total + 1))
    short = [i for i, row in enumerate(rows) if len(row) != 22]
    assert all(truth[i]["error_kind"] == "wrong_column_count" for i in short)
    assert default.extract_csv.read_bytes().startswith(b"CrimeRef,")  # no BOM


def test_valid_rows_parse(valid_rows: list[list[str]]) -> None:
    reference = load_reference()
    refs = [row[COL["CrimeRef"]] for row in valid_rows]
    assert all(CRIME_REF_RE.match(ref) and ref[6] != "9" for ref in refs)
    assert len(set(refs)) == len(refs)
    for row in valid_rows:
        assert reference[row[COL["HOOffenceCode"]]].description == row[COL["OffenceDescription"]]
        occurred = datetime.strptime(row[COL["OccurredFrom"]], TIME_FORMAT)
        if row[COL["OccurredTo"]]:
            assert (
                0
                < (datetime.strptime(row[COL["OccurredTo"]], TIME_FORMAT) - occurred).total_seconds()
                <= 4 * 3600
            )
        delay = datetime.strptime(row[COL["ReportedDate"]], TIME_FORMAT) - occurred
        assert delay.total_seconds() > 0 and delay.days <= 11
        for column in ("DomesticAbuseFlag", "KnifeFlag", "FirearmFlag", "AlcoholFlag"):
            assert row[COL[column]] in ("Y", "N")
        assert row[COL["OutcomeCode"]] == "" or 1 <= int(row[COL["OutcomeCode"]]) <= 22
        for column in ("VictimSex", "SuspectSex"):
            assert row[COL[column]] in ("M", "F", "")
        for column in ("VictimDOB", "SuspectDOB"):
            if row[COL[column]]:
                datetime.strptime(row[COL[column]], "%d/%m/%Y")


def test_narratives_need_real_csv_quoting(valid_rows: list[list[str]]) -> None:
    narratives = [row[COL["Narrative"]] for row in valid_rows]
    assert any("\n" in text for text in narratives)
    assert any('"' in text for text in narratives)
    assert any("," in text for text in narratives)


def test_truth_matches_the_rows(valid_rows: list[list[str]], truth: list[dict[str, str]]) -> None:
    reference = load_reference()
    facts = [f for f in truth if f["valid"] == "true"]
    for row, fact in zip(valid_rows, facts, strict=True):
        occurred = datetime.strptime(row[COL["OccurredFrom"]], TIME_FORMAT).date()
        assert fact["crime_reference"] == row[COL["CrimeRef"]]
        assert fact["offence_code"] == row[COL["HOOffenceCode"]]
        assert fact["offence_category"] == reference[fact["offence_code"]].category
        assert fact["occurred_date"] == occurred.isoformat()
        assert fact["iso_week"] == iso_week(occurred)
        assert fact["domestic_abuse"] == ("true" if row[COL["DomesticAbuseFlag"]] == "Y" else "false")
        assert fact["knife"] == ("true" if row[COL["KnifeFlag"]] == "Y" else "false")


def test_iso_week_uses_the_iso_year() -> None:
    assert iso_week(date(2025, 12, 29)) == "2026-W01"
    assert iso_week(date(2025, 1, 6)) == "2025-W02"


# --- malformed rows -----------------------------------------------------------------------------------


def test_malformed_rows_match_the_truth(
    extract: tuple[list[str], list[list[str]]], truth: list[dict[str, str]], lookup: dict[str, str]
) -> None:
    rows = extract[1]
    bad = [(rows[int(f["row_number"]) - 1], f) for f in truth if f["valid"] == "false"]
    assert len(bad) == 12
    kinds = [f["error_kind"] for _, f in bad]
    assert kinds == [MALFORMED_KINDS[i % len(MALFORMED_KINDS)][0] for i in range(12)]
    assert {"bad_date", "unknown_offence_code", "missing_id", "wrong_column_count"} <= set(kinds)
    reference = load_reference()
    for row, fact in bad:
        assert fact["error_field"] == dict(MALFORMED_KINDS)[fact["error_kind"]]
        if fact["error_kind"] != "missing_id":
            assert re.match(r"^ZZ/25/9\d{5}$", row[0]) and fact["crime_reference"] == row[0]
        kind = fact["error_kind"]
        if kind == "bad_date":
            with pytest.raises(ValueError):
                datetime.strptime(row[COL["OccurredFrom"]], TIME_FORMAT)
        elif kind == "unknown_offence_code":
            assert row[COL["HOOffenceCode"]] not in reference
        elif kind == "missing_id":
            assert row[0] == "" and fact["crime_reference"] == ""
        elif kind == "wrong_column_count":
            assert len(row) < 22
        elif kind == "bad_postcode_and_lsoa":
            assert normalise_postcode(row[COL["LocationPostcode"]]) not in lookup
            assert row[COL["LocationLSOA"]] == ""
        if kind != "wrong_column_count":
            assert len(row) == 22


def test_malformed_rows_are_spread_through_the_file(truth: list[dict[str, str]]) -> None:
    positions = [int(f["row_number"]) for f in truth if f["valid"] == "false"]
    gaps = [b - a for a, b in zip(positions, positions[1:], strict=False)]
    assert min(gaps) > 100 and positions[0] < 300 and positions[-1] > 2700


def test_fewer_malformed_rows_than_kinds(tmp_path: Path) -> None:
    manifest = generate_police_extract(tmp_path, incidents=50, malformed=3)
    facts = read_dicts(manifest.truth_incidents_csv)
    assert [f["error_kind"] for f in facts if f["valid"] == "false"] == [
        "bad_date",
        "unknown_offence_code",
        "missing_id",
    ]


# --- geography ----------------------------------------------------------------------------------------


def test_lookup_file(default: SynthManifest) -> None:
    rows = read_csv(default.lookup_csv)
    assert rows[0] == list(LOOKUP_HEADER)
    body = rows[1:]
    postcodes = [r[0] for r in body]
    assert len(set(postcodes)) == len(postcodes)
    assert all(POSTCODE_RE.match(pc) for pc in postcodes)
    assert all(r[2] == "" and re.match(r"^(19[89]\d|20[01]\d)(0[1-9]|1[0-2])$", r[1]) for r in body)
    per_lsoa = Counter(r[3] for r in body)
    assert 55 <= len(per_lsoa) <= 65 and all(5 <= n <= 15 for n in per_lsoa.values())
    assert all(re.match(r"^E0199\d{4}$", code) for code in per_lsoa)
    msoas = {r[3]: r[4] for r in body}
    lads = {r[4]: r[5] for r in body}
    assert 10 <= len(set(msoas.values())) <= 14 and len(set(lads.values())) == 3
    assert all(re.match(r"^E0299\d{4}$", m) for m in lads) and all(
        re.match(r"^E0799\d{4}$", d) for d in lads.values()
    )
    outward = defaultdict(set)
    for r in body:
        outward[r[0].split()[0]].add(r[4])
    assert all(len(m) == 1 for m in outward.values())  # one outward code per MSOA


def test_every_valid_row_is_locatable(
    valid_rows: list[list[str]], truth: list[dict[str, str]], lookup: dict[str, str]
) -> None:
    lsoas = set(lookup.values())
    facts = [f for f in truth if f["valid"] == "true"]
    with_postcode = 0
    for row, fact in zip(valid_rows, facts, strict=True):
        postcode, lsoa = row[COL["LocationPostcode"]], row[COL["LocationLSOA"]]
        assert postcode or lsoa
        if postcode:
            with_postcode += 1
            assert lookup[normalise_postcode(postcode)] == fact["lsoa21cd"]
        if lsoa:
            assert lsoa in lsoas and lsoa == fact["lsoa21cd"]
    assert 0.80 <= with_postcode / len(facts) <= 0.90
    assert any(r[COL["LocationPostcode"]] and r[COL["LocationLSOA"]] for r in valid_rows)


def test_hot_spots_get_far_more_incidents(truth: list[dict[str, str]]) -> None:
    counts = Counter(f["lsoa21cd"] for f in truth if f["valid"] == "true")
    hot = build_county().hot_spots
    median = sorted(counts.values())[len(counts) // 2]
    assert all(counts[code] > 4 * median for code in hot)
    assert 0.12 <= sum(counts[code] for code in hot) / sum(counts.values()) <= 0.35


# --- people -------------------------------------------------------------------------------------------


def test_planted_persons_appear_as_specified(
    default: SynthManifest,
    extract: tuple[list[str], list[list[str]]],
    truth: list[dict[str, str]],
    persons: list[dict[str, str]],
    lookup: dict[str, str],
) -> None:
    rows = extract[1]
    for canary in PLANTED:
        name = f"{canary.forename} {canary.surname}"
        mentions = [(row, truth[i]) for i, row in enumerate(rows) if name in ",".join(row)]
        assert len(mentions) == 3
        refs = set()
        for row, fact in mentions:
            assert fact["valid"] == "true"
            assert (row[COL["VictimForename"]], row[COL["VictimSurname"]]) == (
                canary.forename,
                canary.surname,
            )
            assert row[COL["VictimDOB"]] == canary.dob.strftime("%d/%m/%Y")
            assert name in row[COL["Narrative"]] and canary.postcode in row[COL["Narrative"]]
            if canary.postcode in lookup:
                assert row[COL["LocationPostcode"]] == canary.postcode
            refs.add(row[COL["CrimeRef"]])
        ids = {p["person_id"] for p in persons if p["crime_reference"] in refs and p["role"] == "victim"}
        assert len(ids) == 1 and ids.pop().startswith("PLANTED")


def test_too_many_planted_persons_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate_police_extract(tmp_path, incidents=10, planted=PLANTED * 2)


def test_repeat_victims_and_suspects_exist(persons: list[dict[str, str]]) -> None:
    appearances = Counter(p["person_id"] for p in persons)
    assert max(appearances.values()) >= 5
    assert sum(1 for n in appearances.values() if n >= 2) >= 300
    roles = defaultdict(set)
    for p in persons:
        roles[p["person_id"]].add(p["role"])
    assert sum(1 for r in roles.values() if r == {"victim", "suspect"}) >= 50


def test_recorded_names_and_dobs_vary_for_one_person(
    valid_rows: list[list[str]], persons: list[dict[str, str]]
) -> None:
    by_ref = {row[COL["CrimeRef"]]: row for row in valid_rows}
    spellings: dict[str, set[tuple[str, str]]] = defaultdict(set)
    dobs: dict[str, set[str]] = defaultdict(set)
    for p in persons:
        row = by_ref[p["crime_reference"]]
        prefix = "Victim" if p["role"] == "victim" else "Suspect"
        spellings[p["person_id"]].add((row[COL[prefix + "Forename"]], row[COL[prefix + "Surname"]]))
        if row[COL[prefix + "DOB"]]:
            dobs[p["person_id"]].add(row[COL[prefix + "DOB"]])
    assert sum(1 for s in spellings.values() if len(s) > 1) >= 100
    assert sum(1 for d in dobs.values() if len(d) > 1) >= 5  # day/month transpositions


def test_person_truth_is_consistent(valid_rows: list[list[str]], persons: list[dict[str, str]]) -> None:
    bands = {"0-9", "10-14", "15-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"}
    assert all(p["age_band_at_offence"] in bands and p["sex"] in ("M", "F") for p in persons)
    ages = Counter(p["age_band_at_offence"] for p in persons)
    assert ages["18-24"] + ages["25-34"] > 0.35 * len(persons)
    by_role = Counter((p["crime_reference"], p["role"]) for p in persons)
    assert max(by_role.values()) == 1
    suspects_known = sum(1 for row in valid_rows if row[COL["SuspectSurname"]])
    victims_known = sum(1 for row in valid_rows if row[COL["VictimSurname"]])
    assert suspects_known == sum(1 for p in persons if p["role"] == "suspect")
    assert victims_known == sum(1 for p in persons if p["role"] == "victim")


def test_proportions_look_like_police_data(valid_rows: list[list[str]]) -> None:
    n = len(valid_rows)

    def share(column: str, value: str) -> float:
        return sum(1 for row in valid_rows if row[COL[column]] == value) / n

    assert 0.30 <= share("SuspectSurname", "") <= 0.42
    assert 0.20 <= share("DomesticAbuseFlag", "Y") <= 0.31
    assert 0.07 <= share("KnifeFlag", "Y") <= 0.15
    assert share("FirearmFlag", "Y") < 0.02
    assert 0.01 <= share("VictimDOB", "") <= 0.15
    codes = Counter(row[COL["HOOffenceCode"]] for row in valid_rows)
    assert {code for code, _ in codes.most_common(7)} >= {"8N", "105A", "8L", "5D"}
    assert codes["1"] + codes["4.1"] < 0.01 * n
    hours = Counter(int(row[COL["OccurredFrom"]][11:13]) for row in valid_rows)
    assert hours[23] + hours[0] + hours[1] > 3 * (hours[9] + hours[10] + hours[11])
    weekdays = Counter(
        datetime.strptime(row[COL["OccurredFrom"]], TIME_FORMAT).weekday() for row in valid_rows
    )
    assert weekdays[5] > 1.5 * weekdays[1]


def test_some_narratives_name_the_victim(valid_rows: list[list[str]]) -> None:
    named = 0
    for row in valid_rows:
        forename, surname = row[COL["VictimForename"]].strip(), row[COL["VictimSurname"]].strip()
        if surname and f"{forename} {surname}".upper() in row[COL["Narrative"]].upper():
            named += 1
    assert 0.2 * len(valid_rows) <= named <= 0.5 * len(valid_rows)


# --- expected counts ----------------------------------------------------------------------------------


def test_expected_counts_sum_to_valid_rows(default: SynthManifest) -> None:
    counts = expected_counts(default.truth_incidents_csv)
    assert sum(counts.values()) == default.rows_valid
    categories = {o.category for o in load_reference().values()}
    for lsoa, week, category in counts:
        assert (
            re.match(r"^E0199\d{4}$", lsoa) and re.match(r"^\d{4}-W\d{2}$", week) and category in categories
        )


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    incidents=st.integers(0, 120),
    malformed=st.integers(0, 12),
    days=st.integers(1, 400),
)
def test_any_size_is_consistent(seed: int, incidents: int, malformed: int, days: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate_police_extract(
            Path(tmp),
            seed=seed,
            incidents=incidents,
            malformed=malformed,
            start=date(2024, 12, 30),
            days=days,
        )
        rows = read_csv(manifest.extract_csv)[1:]
        facts = read_dicts(manifest.truth_incidents_csv)
        assert len(rows) == len(facts) == manifest.rows_total == incidents + malformed
        assert sum(f["valid"] == "false" for f in facts) == manifest.rows_malformed == malformed
        assert sum(expected_counts(manifest.truth_incidents_csv).values()) == incidents
        occurred = [f["occurred_date"] for f in facts if f["valid"] == "true"]
        assert all(
            "2024-12-30" <= d < date.fromordinal(date(2024, 12, 30).toordinal() + days).isoformat()
            for d in occurred
        )
