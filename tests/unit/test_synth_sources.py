"""The other agencies' synthetic extracts: deterministic, readable by their standard mappings exactly as
their ground truth says, and sharing people with the police extract."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from hub.connectors import CsvFileConnector, default_mapping_path, load_mapping
from hub.pseudonymisation import PostcodeLookup
from hub.synth import SOURCE_GENERATORS, ExtractManifest, PlantedPerson, generate_police_extract

PLANTED = [PlantedPerson("Zebedee", "Quillfeather", date(1961, 3, 14), "ZZ3 7QX"),
           PlantedPerson("Ottoline", "Vandersnoot", date(1988, 11, 2), "ZZ9 1AB")]
SIZES = {"ed_attendance": "attendances", "ambulance_callout": "callouts", "probation_event": "events",
         "youth_justice_event": "outcomes", "school_exclusion": "exclusions", "referral": "referrals",
         "intervention_activity": "activities"}
POLICE = {"police_seed": 7, "police_incidents": 200}


def generate(source: str, out: Path, seed: int = 3) -> ExtractManifest:
    extra = POLICE if source in ("probation_event", "youth_justice_event", "school_exclusion", "referral") else {}
    return SOURCE_GENERATORS[source](out, seed=seed, planted=PLANTED, **{SIZES[source]: 40}, **extra)


@pytest.fixture(scope="module", params=sorted(SOURCE_GENERATORS))
def manifest(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> ExtractManifest:
    return generate(request.param, tmp_path_factory.mktemp(request.param))


def test_every_source_but_police_has_a_generator() -> None:
    assert set(SOURCE_GENERATORS) == set(SIZES)


def test_same_arguments_give_the_same_files(manifest: ExtractManifest, tmp_path: Path) -> None:
    again = generate(manifest.source, tmp_path)
    assert again.extract_csv.read_bytes() == manifest.extract_csv.read_bytes()
    assert again.truth_csv.read_bytes() == manifest.truth_csv.read_bytes()
    other = generate(manifest.source, tmp_path / "other", seed=4)
    assert other.extract_csv.read_bytes() != manifest.extract_csv.read_bytes()


def test_the_mapping_reads_the_extract_exactly_as_the_truth_says(manifest: ExtractManifest) -> None:
    mapping = load_mapping(default_mapping_path(manifest.source), PostcodeLookup.from_csv(manifest.lookup_csv))
    truth = manifest.truth()
    records = list(CsvFileConnector(manifest.extract_csv, mapping).records())
    assert len(records) == len(truth) == manifest.rows_total == manifest.rows_valid + manifest.rows_malformed
    assert manifest.rows_malformed >= 4
    for rec, fact in zip(records, truth, strict=True):
        if fact["valid"] == "true":
            assert rec.error is None and rec.record is not None, (fact, rec.error)
            assert rec.record["record_id"] == fact["record_id"]
        else:
            assert rec.error is not None, fact
            assert (rec.error.kind, rec.error.column or "") == (fact["error_kind"], fact["error_field"])
    ids = [f["record_id"] for f in truth if f["valid"] == "true"]
    assert len(ids) == len(set(ids))


def test_planted_identifiers_are_in_the_extract(manifest: ExtractManifest) -> None:
    text = manifest.extract_csv.read_text("utf-8")
    if manifest.source == "intervention_activity":  # anonymous by design: nowhere to plant a name
        assert manifest.planted == () and "Quillfeather" not in text
        return
    assert manifest.planted and "Quillfeather" in manifest.planted
    for needle in manifest.planted:
        assert needle in text or needle.replace(" ", "").isdigit(), needle  # NHS numbers: spaced in the text


def test_truth_flags_match_what_the_mapping_derives(manifest: ExtractManifest) -> None:
    mapping = load_mapping(default_mapping_path(manifest.source), PostcodeLookup.from_csv(manifest.lookup_csv))
    flagged = {"ed_attendance": "knife", "ambulance_callout": "knife", "school_exclusion": "weapon",
               "youth_justice_event": "first_time_entrant"}.get(manifest.source)
    if flagged is None:
        return
    truth = {f["record_id"]: f for f in manifest.truth() if f["valid"] == "true"}
    for rec in CsvFileConnector(manifest.extract_csv, mapping).records():
        if rec.record is not None:
            assert bool(rec.record[flagged]) == (flagged in truth[rec.record["record_id"]]["flags"].split(";"))


def test_justice_and_school_extracts_meet_the_police_extract_s_people(tmp_path: Path) -> None:
    police = generate_police_extract(tmp_path / "police", seed=POLICE["police_seed"],
                                     incidents=POLICE["police_incidents"])
    with police.truth_persons_csv.open(newline="", encoding="utf-8") as fh:
        known = {row["person_id"] for row in csv.DictReader(fh)}
    people = {}
    for source in ("probation_event", "youth_justice_event", "school_exclusion"):
        people[source] = {f["person_id"] for f in generate(source, tmp_path / source).truth()}
        assert len(people[source] & known) >= 3, source
    assert people["youth_justice_event"] & people["school_exclusion"]  # children known to both
