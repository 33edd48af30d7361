"""Every agency source: schemas, code lists, standard mappings and the agreement's sections for it.

The health sources (ED, ambulance) carry no identity at all; the justice and council sources carry
identifiers that the agreement may only tokenise, generalise or drop.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.connectors import FieldMapping, RowError, default_mapping_path, load_mapping
from hub.policy import Agreement, ConfigError
from hub.pseudonymisation import KeyRing, PostcodeLookup, PseudonymisationError, Pseudonymiser
from hub.reference import CodeListError, code_list, code_list_names
from hub.schemas import RAW_SCHEMAS, SHARED_EVENT, SchemaRepository
from tests.unit.source_rows import AREA, GOOD_ROWS, IDENTIFIERS

NEW_SOURCES = sorted(GOOD_ROWS)
HEALTH = ("ambulance_callout", "ed_attendance")


def mapping_for(source: str, lookup: PostcodeLookup | None = None) -> FieldMapping:
    return load_mapping(default_mapping_path(source), lookup)


def parsed(source: str, **changes: str) -> dict[str, object]:
    return mapping_for(source).parse({**GOOD_ROWS[source], **changes})


# --- schemas --------------------------------------------------------------------------------------

def test_every_source_is_registered_with_a_schema_and_a_mapping(repo: SchemaRepository) -> None:
    assert set(NEW_SOURCES) | {"police_incident"} == set(RAW_SCHEMAS)
    for source, name in RAW_SCHEMAS.items():
        schema = repo.get(name)
        assert name.startswith("svh.raw.") and "record_id" in schema.field_names
        assert default_mapping_path(source).exists()


@pytest.mark.parametrize("source", NEW_SOURCES)
def test_schema_documents_itself_and_every_optional_field_defaults_to_null(repo: SchemaRepository,
                                                                          source: str) -> None:
    declared = repo.get(RAW_SCHEMAS[source]).declared
    assert declared["namespace"] == "svh.raw" and len(declared["doc"]) > 80
    for f in declared["fields"]:
        if isinstance(f["type"], list):
            assert f["type"][0] == "null" and "default" in f and f["default"] is None, f["name"]


@pytest.mark.parametrize("source", NEW_SOURCES)
def test_a_parsed_row_round_trips_through_the_raw_schema(repo: SchemaRepository, source: str) -> None:
    record = parsed(source)
    name, back = repo.decode(repo.encode(RAW_SCHEMAS[source], record))
    assert name == RAW_SCHEMAS[source] and back == record


@pytest.mark.parametrize("source", NEW_SOURCES)
def test_a_minimal_record_round_trips(repo: SchemaRepository, source: str) -> None:
    schema = repo.get(RAW_SCHEMAS[source])
    samples = {"string": "X1", "int": 1, "long": datetime(2025, 3, 7, 23, 55), "boolean": True}
    record: dict[str, object] = {}
    for f in schema.declared["fields"]:
        if isinstance(f["type"], list):
            continue
        t = f["type"]
        record[f["name"]] = (date(2025, 3, 7) if isinstance(t, dict) and t.get("logicalType") == "date"
                             else samples[t["type"] if isinstance(t, dict) else t])
    _, back = repo.decode(repo.encode(schema.name, record))
    assert {k: v for k, v in back.items() if v is not None} == record


def test_health_schemas_cannot_hold_a_patient_identity(repo: SchemaRepository) -> None:
    forbidden = re.compile(r"nhs|name|dob|birth|address|phone")
    for source in HEALTH:
        names = repo.get(RAW_SCHEMAS[source]).field_names
        assert not [n for n in names if forbidden.search(n)], source


@pytest.mark.parametrize(("source", "expected"), [
    ("ed_attendance", {"assault_method_other", "residence_postcode"}),
    ("ambulance_callout", {"location_postcode", "call_notes"}),
    ("probation_event", {"crn", "pnc_id", "forename", "surname", "dob", "home_postcode"}),
    ("youth_justice_event", {"yj_id", "pnc_id", "forename", "surname", "dob", "home_postcode"}),
    ("school_exclusion", {"upn", "forename", "surname", "dob", "home_postcode"}),
])
def test_direct_identifiers_are_marked(repo: SchemaRepository, source: str, expected: set[str]) -> None:
    assert repo.get(RAW_SCHEMAS[source]).identifier_fields() == expected


# --- code lists -----------------------------------------------------------------------------------

def test_every_code_list_loads_with_unique_codes_and_typed_columns() -> None:
    names = code_list_names()
    assert {"istv_assault_method", "istv_location_type", "ambulance_callout_category", "delius_offence_group",
            "yjb_outcome_type", "dfe_exclusion_reason", "rosh_level", "mappa_level"} <= set(names)
    assert "offence_codes" not in names  # a different table (code,description,...), read by offence_codes()
    for name in names:
        codes = code_list(name)
        assert codes.columns[:2] == ("code", "label") and codes.rows, name
        for code, row in codes.rows.items():
            assert code == code.upper() and row["label"], (name, code)
            assert codes.resolve(row["label"].lower()) == code  # labels resolve too


def test_code_list_resolves_codes_and_labels_and_derives_columns() -> None:
    methods = code_list("istv_assault_method")
    assert methods.resolve(" kn ") == "KN" and methods.resolve("glass  or bottle") == "GL"
    assert methods.resolve("spoon") is None
    assert methods.derived("KN", "knife") is True and methods.derived("BP", "knife") is False
    assert methods.derived("NK", "knife") is None  # not known is not "no knife"
    assert code_list("delius_offence_group").derived("008", "category") == "violence_with_injury"
    with pytest.raises(CodeListError, match="no code list 'gp_codes'"):
        code_list("gp_codes")


def test_delius_violence_groups_of_the_tiering_service_are_all_listed() -> None:
    groups = code_list("delius_offence_group")
    tiering = [f"{n:03d}" for n in (*range(0, 9), *range(11, 16), 29, 31, 32, 35, 36, 59, 66, 79, 81,
                                    *range(103, 106), 109, 111, 113, 115, 145, 155, 196, 997, 56)]
    for code in tiering:
        assert groups.derived(code, "violence") is True, code
    assert groups.derived("034", "violence") is False


# --- mappings -------------------------------------------------------------------------------------

@pytest.mark.parametrize("source", NEW_SOURCES)
def test_standard_mapping_loads_and_reads_every_column_of_the_sample(source: str) -> None:
    mapping = mapping_for(source)
    assert mapping.source == source
    assert set(mapping.columns) == set(GOOD_ROWS[source])
    assert len(mapping.columns) == len(set(mapping.columns))  # a column read twice is listed once
    assert "record_id" in {f.name for f in mapping.fields if f.required}


def test_ed_row_is_coded_derived_and_never_holds_an_identity() -> None:
    rec = parsed("ed_attendance")
    assert rec["assault_method"] == "KN" and rec["knife"] is True and rec["firearm"] is False
    assert rec["location_type"] == "LP"  # matched on the label
    assert rec["assailant_relationship"] == "ST" and rec["domestic_abuse"] is False
    assert rec["patient_age"] == 23 and rec["assault_at"] == datetime(2025, 3, 7, 23, 55)
    assert parsed("ed_attendance", AssailantRelationship="NK")["domestic_abuse"] is None
    assert parsed("ed_attendance", AssaultMethod="bottle")["assault_method"] == "GL"  # the trust's local code


def test_ambulance_category_gives_the_weapon_flags() -> None:
    assert parsed("ambulance_callout")["knife"] is True
    gun = parsed("ambulance_callout", IncidentCategory="Gunshot wound")
    assert gun["category"] == "GUNSHOT" and gun["firearm"] is True and gun["knife"] is False
    vague = parsed("ambulance_callout", IncidentCategory="stab/gunshot")  # a CAD's combined chief complaint
    assert vague["category"] == "PENETRATING" and vague["knife"] is None


def test_probation_row_translates_delius_codes() -> None:
    rec = parsed("probation_event")
    assert rec["event_type"] == "SENTENCE_START" and rec["rosh_level"] == "HIGH"  # register code RHRH
    assert rec["offence_group"] == "008" and rec["offence_category"] == "violence_with_injury"
    assert rec["ogrs_band"] == "MEDIUM" and rec["rsr_band"] == "H" and rec["mappa_level"] is None
    assert rec["dob"] == date(1961, 4, 17)


def test_youth_justice_row_reads_offence_gravity_and_outcome() -> None:
    rec = parsed("youth_justice_event")
    assert rec["offence_code"] == "8N" and rec["gravity_score"] == 5 and rec["outcome_type"] == "RO"
    assert rec["first_time_entrant"] is True and rec["concern_exploitation"] is True


def test_school_flags_come_from_any_of_the_three_reasons() -> None:
    rec = parsed("school_exclusion")
    assert rec["exclusion_type"] == "SUSP"  # FIXD, the older census code
    assert (rec["reason_1"], rec["reason_2"], rec["reason_3"]) == ("DB", "OW", None)
    assert rec["weapon"] is True and rec["violence"] is False and rec["sexual_misconduct"] is False
    third = parsed("school_exclusion", ExclusionReason1="PA", ExclusionReason2="", ExclusionReason3="sm")
    assert third["violence"] is True and third["sexual_misconduct"] is True and third["weapon"] is False


@pytest.mark.parametrize(("source", "column", "value", "kind"), [
    ("ed_attendance", "AssaultMethod", "spoon", "unknown_code"),
    ("ed_attendance", "AgeOnArrival", "twenty", "bad_integer"),
    ("ed_attendance", "AgeOnArrival", "130", "out_of_range"),
    ("ambulance_callout", "IncidentCategory", "fall", "unknown_code"),
    ("probation_event", "MAIN_OFFENCE_GROUP", "8", "unknown_code"),
    ("youth_justice_event", "GravityScore", "9", "out_of_range"),
    ("school_exclusion", "ExclusionReason3", "ZZ", "unknown_code"),
    ("school_exclusion", "ExclusionReason1", "", "missing_value"),
])
def test_bad_cells_name_the_column_and_kind_never_the_value(source: str, column: str, value: str,
                                                            kind: str) -> None:
    with pytest.raises(RowError) as err:
        parsed(source, **{column: value})
    assert err.value.column == column and err.value.kind == kind
    if value:
        assert value not in str(err.value)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "trust-mapping.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path) -> str:
    with pytest.raises(ConfigError) as err:
        load_mapping(path)
    return str(err.value)


def ed_text() -> str:
    return default_mapping_path("ed_attendance").read_text("utf-8")


def test_ed_mapping_that_sends_an_nhs_number_is_refused_with_file_and_line(tmp_path: Path) -> None:
    text = ed_text().replace("fields:\n", "fields:\n  nhs_number: {column: NHSNumber}\n", 1)
    path = write(tmp_path, text)
    line = text.splitlines().index("  nhs_number: {column: NHSNumber}") + 1
    message = refused(path)
    assert message.startswith(f"{path}:{line}: fields.nhs_number: not a field of svh.raw.EdAttendance")


@pytest.mark.parametrize(("old", "new", "key", "says"), [
    ("code_list: istv_location_type,", "code_list: istv_places,", "fields.location_type.code_list",
     "no code list 'istv_places'"),
    ("derive: knife}", "derive: blade}", "fields.knife.derive", "has no column 'blade'"),
    ("derive: firearm}", "derive: label}", "fields.firearm.derive", "has no column 'label'"),
    ("patient_age: {column: AgeOnArrival, type: integer, range: [0, 120]}",
     "patient_age: {column: AgeOnArrival, type: integer, range: [120, 0]}", "fields.patient_age.range",
     "[lowest, highest]"),
    ("site_code: {column: SiteCode, required: true}", "site_code: {column: SiteCode, derive: knife}",
     "fields.site_code.derive", "only applies to type code"),
    ("{FIST: BP,", "{FIST: SPOON,", "codes.istv_assault_method.FIST", "'SPOON' is not a code"),
])
def test_mapping_mistakes_in_codes_are_refused_with_file_and_line(tmp_path: Path, old: str, new: str, key: str,
                                                                   says: str) -> None:
    text = ed_text()
    assert old in text
    text = text.replace(old, new, 1)
    path = write(tmp_path, text)
    message = refused(path)
    assert re.match(rf"{re.escape(str(path))}:\d+: {re.escape(key)}: ", message), message
    assert says in message


def test_a_derived_flag_cannot_fill_a_text_field(tmp_path: Path) -> None:
    text = ed_text().replace("site_code: {column: SiteCode, required: true}",
                             "site_code: {column: SiteCode, type: code, code_list: istv_assault_method, "
                             "derive: knife, required: true}", 1)
    assert "gives a boolean, but the schema field is string" in refused(write(tmp_path, text))


# --- the agreement's sections -----------------------------------------------------------------------

@pytest.mark.parametrize("source", NEW_SOURCES)
def test_agreement_treats_every_identifier_and_drops_free_text(agreement: Agreement, repo: SchemaRepository,
                                                               source: str) -> None:
    policy = agreement.source(source)
    schema = repo.get(RAW_SCHEMAS[source])
    assert policy.record_id == "record_id" and policy.event_time in schema.field_names
    for name in schema.identifier_fields():
        treatments = {o.treatment for o in policy.fields.get(name, ())}
        assert treatments and "keep" not in treatments, name
    for name in ("assault_method_other", "location_description", "call_notes"):
        if name in schema.field_names:
            assert not policy.granted(name), name


def test_health_bodies_pseudonymise_at_source_and_share_no_token(agreement: Agreement) -> None:
    for source in NEW_SOURCES:
        policy = agreement.source(source)
        outputs = [o for outs in policy.fields.values() for o in outs]
        if source in HEALTH:
            assert policy.pseudonymise_at == "source" and "linkage" not in policy.purposes
            assert not [o for o in outputs if o.treatment == "token"]
            assert agreement.parties[policy.provider].role == "health_body"
        elif source == "intervention_activity":  # anonymous by design: nothing to link
            assert policy.pseudonymise_at == "hub" and "linkage" not in policy.purposes
            assert not [o for o in outputs if o.treatment == "token"]
        else:
            assert policy.pseudonymise_at == "hub"
            wanted = {"forename", "surname", "dob", "postcode"} | ({"reference"} if source != "referral" else set())
            assert {o.kind for o in outputs if o.treatment == "token"} >= wanted


# --- through the boundary -------------------------------------------------------------------------

@pytest.mark.parametrize("source", NEW_SOURCES)
def test_each_source_pseudonymises_to_a_shared_event_without_its_identifiers(
        agreement: Agreement, ring: KeyRing, repo: SchemaRepository, lookup: PostcodeLookup, source: str) -> None:
    at = "source" if source in HEALTH else "hub"
    result = Pseudonymiser(agreement, ring, lookup, at=at).apply(source, parsed(source))
    payload = repo.encode(SHARED_EVENT, result.shared).decode("latin-1").lower()
    for value in IDENTIFIERS[source]:
        assert value.lower() not in payload, value
    shared = result.shared
    assert shared["occurred_date"] is not None and shared["occurred_week"]
    if source in HEALTH or source == "intervention_activity":
        assert [p["tokens"] for p in shared["persons"]] == [{}]  # age band and sex, no identity
    elif source == "referral":
        assert shared["persons"][0]["tokens"]["postcode"].startswith("k1:")
        assert shared["attributes"]["routed_to"] == "example-yjs"  # the routing the reason's code names
        assert shared["attributes"]["residence_lsoa"] == AREA.lsoa
    else:
        assert shared["persons"][0]["tokens"]["reference"].startswith("k1:")
        assert shared["attributes"]["residence_lsoa"] == AREA.lsoa


def test_shared_events_carry_the_granted_flags_and_attributes(agreement: Agreement, ring: KeyRing,
                                                               lookup: PostcodeLookup) -> None:
    def shared(source: str, at: str) -> dict[str, Any]:
        return Pseudonymiser(agreement, ring, lookup, at=at).apply(source, parsed(source)).shared

    ed = shared("ed_attendance", "source")
    assert ed["flags"] == {"knife": True, "firearm": False, "domestic_abuse": False}
    assert ed["attributes"] == {"site_code": "RZZ01", "assault_method": "KN", "location_type": "LP",
                                "assailant_relationship": "ST", "residence_lsoa": AREA.lsoa}
    assert ed["occurred_hour"] == 23 and ed.get("lsoa_code") is None  # residence is not where it happened
    amb = shared("ambulance_callout", "source")
    assert amb["lsoa_code"] == AREA.lsoa and amb["flags"]["conveyed_to_hospital"] is True
    prob = shared("probation_event", "hub")
    assert prob["offence_category"] == "violence_with_injury" and prob["attributes"]["rosh_level"] == "HIGH"
    assert prob["attributes"]["order_end_month"] == "2026-03"
    yj = shared("youth_justice_event", "hub")
    assert yj["offence_code"] == "8N" and yj["attributes"]["gravity_score"] == "5"
    assert yj["persons"][0]["age_band"] == "15-17"
    school = shared("school_exclusion", "hub")
    assert school["flags"]["weapon"] is True and school["attributes"]["reason_2"] == "OW"


def test_the_hub_refuses_to_pseudonymise_a_health_body_s_raw_records(agreement: Agreement, ring: KeyRing) -> None:
    with pytest.raises(PseudonymisationError, match="pseudonymised at the source, not at the hub"):
        Pseudonymiser(agreement, ring).apply("ed_attendance", parsed("ed_attendance"))
    with pytest.raises(PseudonymisationError, match="pseudonymised at the hub, not at the source"):
        Pseudonymiser(agreement, ring, at="source").apply("probation_event", parsed("probation_event"))
