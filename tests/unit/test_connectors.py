"""Field mappings and the CSV connector: parsing, row errors that never echo values, header checks."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path

import pytest

from hub.connectors import CsvFileConnector, FieldMapping, RowError, SourceRecord, default_mapping_path, load_mapping
from hub.policy import ConfigError
from hub.pseudonymisation import PostcodeLookup

HEADER = ["CrimeRef", "HOOffenceCode", "OffenceDescription", "OccurredFrom", "OccurredTo", "ReportedDate",
          "LocationPostcode", "LocationLSOA", "VictimForename", "VictimSurname", "VictimDOB", "VictimSex",
          "SuspectForename", "SuspectSurname", "SuspectDOB", "SuspectSex", "DomesticAbuseFlag", "KnifeFlag",
          "FirearmFlag", "AlcoholFlag", "OutcomeCode", "Narrative"]
GOOD = {"CrimeRef": "ZZ/25/000001", "HOOffenceCode": "008n", "OffenceDescription": "Assault with injury",
        "OccurredFrom": "04/03/2025 21:30", "OccurredTo": "", "ReportedDate": "05/03/2025 09:00",
        "LocationPostcode": "zz1 0fw", "LocationLSOA": "", "VictimForename": "Canary",
        "VictimSurname": "Tweetington-Smythe", "VictimDOB": "17/04/1991", "VictimSex": "female",
        "SuspectForename": "", "SuspectSurname": "", "SuspectDOB": "", "SuspectSex": "NK",
        "DomesticAbuseFlag": "N", "KnifeFlag": "Y", "FirearmFlag": "", "AlcoholFlag": "yes", "OutcomeCode": "",
        "Narrative": "Canary was cut, said she, at the bus stop"}


def row(**changes: str) -> list[str]:
    values = {**GOOD, **changes}
    return [values[h] for h in HEADER]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def mapping() -> FieldMapping:
    return load_mapping(default_mapping_path("police_incident"))


def records(path: Path, mapping: FieldMapping) -> list[SourceRecord]:
    return list(CsvFileConnector(path, mapping).records())


# --- mapping files ----------------------------------------------------------------------------------

def test_default_mapping_loads(mapping: FieldMapping) -> None:
    assert mapping.source == "police_incident"
    assert mapping.columns == HEADER
    assert mapping.record_id_column() == "CrimeRef"
    assert mapping.require_one_of == [["location_postcode", "location_lsoa"]]
    required = {f.name for f in mapping.fields if f.required}
    assert required == {"record_id", "offence_code", "occurred_from"}


def mapping_text() -> str:
    return default_mapping_path("police_incident").read_text("utf-8")


def mapping_error(tmp_path: Path, text: str) -> tuple[str, str]:
    path = tmp_path / "force-mapping.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_mapping(path)
    return str(path), str(err.value)


def line_of(text: str, needle: str) -> int:
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) == 1, hits
    return hits[0]


def test_unknown_field_names_file_line_and_key(tmp_path: Path) -> None:
    text = mapping_text().replace("  narrative: {column: Narrative}", "  narrative: {column: Narrative}\n"
                                  "  victim_shoe_size: {column: ShoeSize}")
    path, message = mapping_error(tmp_path, text)
    assert message.startswith(f"{path}:{line_of(text, 'victim_shoe_size')}: fields.victim_shoe_size: "), message


def test_bad_type_names_file_line_and_key(tmp_path: Path) -> None:
    old = "victim_dob: {column: VictimDOB, type: date}"
    text = mapping_text().replace(old, "victim_dob: {column: VictimDOB, type: birthday}")
    path, message = mapping_error(tmp_path, text)
    assert message.startswith(f"{path}:{line_of(text, 'VictimDOB')}: fields.victim_dob.type: "), message
    assert "birthday" in message  # the mapping's own word, not a record value


def test_missing_record_id_names_file_line_and_key(tmp_path: Path) -> None:
    text = mapping_text().replace("  record_id: {column: CrimeRef, required: true}\n", "")
    path, message = mapping_error(tmp_path, text)
    assert message.startswith(f"{path}:{line_of(text, 'fields:')}: fields: "), message
    assert "record_id" in message


def test_required_schema_field_must_be_required(tmp_path: Path) -> None:
    old = "occurred_from: {column: OccurredFrom, type: datetime, required: true}"
    text = mapping_text().replace(old, "occurred_from: {column: OccurredFrom, type: datetime}")
    path, message = mapping_error(tmp_path, text)
    assert message.startswith(f"{path}:{line_of(text, 'OccurredFrom')}: fields.occurred_from: "), message


def test_unknown_source_and_bad_delimiter(tmp_path: Path) -> None:
    text = mapping_text().replace("source: police_incident", "source: gp_records")
    path, message = mapping_error(tmp_path, text)
    assert message.startswith(f"{path}:{line_of(text, 'source: gp')}: source: "), message
    text = mapping_text().replace('delimiter: ","', 'delimiter: ";;"')
    path, message = mapping_error(tmp_path, text)
    assert message.startswith(f"{path}:{line_of(text, 'delimiter')}: format.delimiter: "), message


def test_require_one_of_must_name_mapped_fields(tmp_path: Path) -> None:
    text = mapping_text().replace("[location_postcode, location_lsoa]", "[location_postcode, location_grid]")
    path, message = mapping_error(tmp_path, text)
    line = line_of(text, "location_grid")
    assert message == f"{path}:{line}: require_one_of[0]: 'location_grid' is not a mapped field"


def test_every_problem_in_a_mapping_is_reported_at_once(tmp_path: Path) -> None:
    text = (mapping_text().replace("victim_dob: {column: VictimDOB, type: date}", "victim_dob: {column: VictimDOB, "
                                   "type: birthday}")
            .replace("knife: {column: KnifeFlag, type: flag}", "knife: {column: KnifeFlag, type: flag, colour: red}")
            .replace("  narrative: {column: Narrative}", "  narrative: {column: Narrative}\n  shoe_size: {column: S}"))
    path, message = mapping_error(tmp_path, text)
    assert message.splitlines() == [
        f"{path}:{line_of(text, 'VictimDOB')}: fields.victim_dob.type: unknown type 'birthday'; expected one of "
        "string, datetime, date, flag, offence_code, postcode, lsoa, sex, integer, code, place",
        f"{path}:{line_of(text, 'KnifeFlag')}: fields.knife.colour: unknown key (misspelt?)",
        f"{path}:{line_of(text, 'shoe_size')}: fields.shoe_size: not a field of svh.raw.PoliceIncident"]


# --- the CSV connector ------------------------------------------------------------------------------

def test_good_row_is_parsed_with_types(tmp_path: Path, mapping: FieldMapping) -> None:
    [rec] = records(write_csv(tmp_path / "x.csv", [row()]), mapping)
    assert rec.error is None and rec.record is not None
    r = rec.record
    assert r["record_id"] == "ZZ/25/000001" and rec.record_id == "ZZ/25/000001"
    assert r["offence_code"] == "8N"
    assert r["occurred_from"] == datetime(2025, 3, 4, 21, 30) and r["occurred_to"] is None
    assert r["reported_at"] == datetime(2025, 3, 5, 9, 0)
    assert r["victim_dob"] == date(1991, 4, 17) and type(r["victim_dob"]) is date
    assert r["location_postcode"] == "ZZ1 0FW" and r["location_lsoa"] is None
    assert r["victim_sex"] == "F" and r["suspect_sex"] == "U"
    assert (r["domestic_abuse"], r["knife"], r["firearm"], r["alcohol"]) == (False, True, None, True)
    assert r["narrative"] == GOOD["Narrative"]  # commas inside quotes survive
    assert rec.position == "x.csv row 1"
    assert b"ZZ/25/000001" in rec.original  # the original bytes, for the restricted dead-letter topic


def test_good_record_fits_the_raw_schema(tmp_path: Path, mapping: FieldMapping) -> None:
    from hub.schemas import default_repository
    repo = default_repository()
    [rec] = records(write_csv(tmp_path / "x.csv", [row()]), mapping)
    assert rec.record is not None
    _, decoded = repo.decode(repo.encode("PoliceIncident", rec.record))
    assert decoded == rec.record


@pytest.mark.parametrize("changes,column,kind,value", [
    ({"VictimDOB": "31/02/2001"}, "VictimDOB", "bad_date", "31/02/2001"),
    ({"OccurredFrom": "32/01/2025 25:61"}, "OccurredFrom", "bad_datetime", "32/01/2025 25:61"),
    ({"HOOffenceCode": "ZZ9"}, "HOOffenceCode", "unknown_offence_code", "ZZ9"),
    ({"CrimeRef": "  "}, "CrimeRef", "missing_value", None),
    ({"KnifeFlag": "maybe"}, "KnifeFlag", "bad_flag", "maybe"),
    ({"VictimSex": "Tweetington"}, "VictimSex", "bad_sex", "Tweetington"),
    ({"LocationPostcode": "Flat 2 Canary Wharf"}, "LocationPostcode", "bad_postcode", "Canary Wharf"),
    ({"LocationLSOA": "E99999999"}, "LocationLSOA", "bad_lsoa", "E99999999"),
    ({"LocationPostcode": "", "LocationLSOA": ""}, "LocationPostcode", "missing_value", None),
])
def test_bad_rows_give_row_errors_naming_the_column(tmp_path: Path, mapping: FieldMapping, changes: dict[str, str],
                                                     column: str, kind: str, value: str | None) -> None:
    recs = records(write_csv(tmp_path / "x.csv", [row(), row(**changes), row(CrimeRef="ZZ/25/000003")]), mapping)
    assert [r.error is None for r in recs] == [True, False, True]  # one bad row does not stop the file
    bad = recs[1]
    assert bad.record is None and isinstance(bad.error, RowError)
    assert bad.error.column == column and bad.error.kind == kind
    assert str(bad.error).startswith(column)
    if value:
        assert value not in str(bad.error)
    for identifying in ("Canary", "Tweetington", "17/04/1991", "ZZ/25/000001"):
        assert identifying not in str(bad.error)


def test_wrong_column_count(tmp_path: Path, mapping: FieldMapping) -> None:
    short = row()[:-3]
    long = [*row(), "Canary's phone 07700 900123"]
    recs = records(write_csv(tmp_path / "x.csv", [short, long]), mapping)
    for rec in recs:
        assert rec.record is None and rec.error is not None
        assert rec.error.kind == "wrong_column_count" and rec.error.column is None
        assert "Canary" not in str(rec.error) and "900123" not in str(rec.error)
        assert rec.record_id == "ZZ/25/000001"  # still known, for the dead letter's key


def test_postcode_not_in_lookup(tmp_path: Path, mapping: FieldMapping, lookup: PostcodeLookup) -> None:
    with_lookup = load_mapping(default_mapping_path("police_incident"), lookup=lookup)
    rows = [row(), row(LocationPostcode="QQ9 9QQ"), row(LocationPostcode="QQ9 9QQ", LocationLSOA="E01999001")]
    recs = records(write_csv(tmp_path / "x.csv", rows), with_lookup)
    assert recs[0].error is None and recs[2].error is None  # an LSOA given makes the postcode optional
    err = recs[1].error
    assert err is not None and err.column == "LocationPostcode" and err.kind == "unknown_postcode"
    assert "QQ9" not in str(err)
    # Without a lookup, the same row is accepted.
    assert records(write_csv(tmp_path / "y.csv", rows), mapping)[1].error is None


def test_header_missing_a_mapped_column_refuses_the_file(tmp_path: Path, mapping: FieldMapping) -> None:
    header = [h for h in HEADER if h != "KnifeFlag"]
    rows = [[v for h, v in zip(HEADER, row(), strict=True) if h != "KnifeFlag"]]
    path = write_csv(tmp_path / "x.csv", rows, header=header)
    it = CsvFileConnector(path, mapping).records()
    with pytest.raises(ConfigError, match="KnifeFlag"):
        next(it)  # nothing yielded before the refusal


def test_blank_lines_are_counted_and_empty_file_yields_nothing(tmp_path: Path, mapping: FieldMapping) -> None:
    path = tmp_path / "x.csv"
    write_csv(path, [row()])
    path.write_text(path.read_text() + "\n,,,\n", encoding="utf-8")
    got = records(path, mapping)
    assert len(got) == 3 and got[0].error is None
    assert [r.error.kind for r in got[1:] if r.error] == ["blank_row", "blank_row"]
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    assert records(empty, mapping) == []


def test_excel_bom_does_not_break_the_header(tmp_path: Path, mapping: FieldMapping) -> None:
    path = write_csv(tmp_path / "x.csv", [row()])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    [rec] = records(path, mapping)
    assert rec.error is None and rec.record is not None and rec.record["record_id"] == "ZZ/25/000001"


@pytest.mark.parametrize("old,new,key", [
    ("victim_dob: {column: VictimDOB, type: date}", "victim_dob: {column: VictimDOB, typ: date}",
     "fields.victim_dob.typ"),
    ("require_one_of:", "require_one_off:", "require_one_off"),
], ids=["field-key-typo", "top-level-key-typo"])
def test_unknown_mapping_keys_are_refused(tmp_path: Path, old: str, new: str, key: str) -> None:
    text = mapping_text()
    assert text.count(old) == 1
    path, message = mapping_error(tmp_path, text.replace(old, new))
    assert f": {key}: " in message
