"""Information-sharing agreements: loading, validation errors (file:line: key), questions, summary."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.policy import Agreement, ConfigError, NoAgreementError, load_agreement
from hub.policy.summary import summarise

FILE = "county-agreement.yaml"
SRC = "sources.police_incident"


def edit(text: str, old: str, new: str) -> str:
    """Edit the first occurrence: the police_incident section comes first, and other sources repeat its lines."""
    assert old in text, f"fixture text not found: {old!r}"
    return text.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    """The first line holding ``needle`` (in the police_incident section when other sources repeat it)."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert hits, f"{needle!r} not found"
    return hits[0]


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as err:
        load_agreement(FILE, text=text)
    return str(err.value)


def assert_names(message: str, line: int, key: str) -> None:
    assert message.startswith(f"{FILE}:{line}: {key}: "), message


# --- the example --------------------------------------------------------------------------------

def test_example_agreement_loads(agreement: Agreement) -> None:
    assert agreement.id == "example-county-svd" and agreement.version == "1.0"
    src = agreement.source("police_incident")
    assert src.pseudonymise_at == "hub"
    assert set(src.purposes) == {"sna", "hotspot_tasking", "linkage"}
    assert src.record_id == "record_id" and src.event_time == "occurred_from"
    assert not src.granted("narrative") and not src.granted("record_id")
    assert src.granted("victim_forename") and src.granted("knife")
    assert not src.granted("no_such_field")  # anything not mentioned is not granted
    assert [o.treatment for o in src.fields["victim_dob"]] == ["generalise", "token"]
    profile = agreement.release_profile("partnership")
    assert (profile.standard.threshold, profile.sensitive.threshold) == (5, 10)
    assert profile.for_rows(True).finest_geography == "msoa"
    assert profile.for_rows(False).finest_geography == "lsoa"
    assert agreement.release_profile("public").standard.rounding == 5


def test_sensitive_profile_inherits_unset_values(agreement: Agreement) -> None:
    p = agreement.release_profile("partnership")
    assert p.sensitive.secondary_suppression is True
    assert p.sensitive.rounding == p.standard.rounding == 0


def test_source_without_agreement_is_refused(agreement: Agreement) -> None:
    with pytest.raises(NoAgreementError, match="gp_records"):
        agreement.source("gp_records")


def test_unknown_release_profile_is_refused(agreement: Agreement) -> None:
    with pytest.raises(LookupError, match="partnership"):
        agreement.release_profile("press")


def test_agreement_without_sources_refuses_every_source(example_text: str) -> None:
    start = example_text.index("sources:")
    end = example_text.index("release_profiles:")
    text = example_text[:start] + "sources: {}\n\n" + example_text[end:]
    agr = load_agreement(FILE, text=text)
    with pytest.raises(NoAgreementError):
        agr.source("police_incident")


def test_loading_from_disk_and_from_text_agree(example_path: Path, example_text: str) -> None:
    assert load_agreement(example_path) == load_agreement(example_path, text=example_text)


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_agreement(tmp_path / "missing.yaml")


def test_invalid_yaml_names_file_and_line() -> None:
    message = refused("agreement:\n  id: [unclosed\nparties: x\n")
    assert re.match(rf"{FILE}:\d+: not valid YAML", message), message


# --- every validation error names file:line and the dotted key ------------------------------------

def test_keep_on_direct_identifier_is_refused(example_text: str) -> None:
    old = "victim_surname: {token: surname, person: victim}"
    message = refused(edit(example_text, old, "victim_surname: {keep: attributes.surname}"))
    assert_names(message, line_of(example_text, old), f"{SRC}.fields.victim_surname")
    assert "direct identifier" in message


def test_identifier_generalised_to_a_date_is_refused(example_text: str) -> None:
    old = "- generalise: age_band\n          into: person.victim.age_band"
    text = edit(example_text, old, "- generalise: month\n          into: attributes.dob_month")
    message = refused(text)
    assert_names(message, line_of(example_text, "victim_dob:"), f"{SRC}.fields.victim_dob")
    assert "direct identifier" in message


def test_keep_narrative_is_refused(example_text: str) -> None:
    old = "narrative: drop"
    message = refused(edit(example_text, old, "narrative: {keep: attributes.narrative}"))
    assert_names(message, line_of(example_text, old), f"{SRC}.fields.narrative")


def test_unknown_field_name_is_refused(example_text: str) -> None:
    old = "      narrative: drop"
    text = edit(example_text, old, old + "\n      victim_nickname: drop")
    message = refused(text)
    assert_names(message, line_of(text, "victim_nickname"), f"{SRC}.fields.victim_nickname")
    assert "not a field of svh.raw.PoliceIncident" in message


def test_unknown_target_is_refused(example_text: str) -> None:
    old = "knife: {keep: flags.knife}"
    message = refused(edit(example_text, old, "knife: {keep: flagz.knife}"))
    assert_names(message, line_of(example_text, old), f"{SRC}.fields.knife.keep")
    assert "not a shared-event target" in message


def test_unknown_token_kind_is_refused(example_text: str) -> None:
    old = "victim_forename: {token: forename, person: victim}"
    message = refused(edit(example_text, old, "victim_forename: {token: nickname, person: victim}"))
    assert_names(message, line_of(example_text, old), f"{SRC}.fields.victim_forename.token")
    assert "unknown token kind" in message


def test_token_without_person_is_refused(example_text: str) -> None:
    old = "victim_forename: {token: forename, person: victim}"
    message = refused(edit(example_text, old, "victim_forename: {token: forename}"))
    assert_names(message, line_of(example_text, old), f"{SRC}.fields.victim_forename.person")


def test_unknown_treatment_key_is_refused(example_text: str) -> None:
    old = "victim_sex: {generalise: sex, into: person.victim.sex}"
    message = refused(edit(example_text, old, "victim_sex: {generalise: sex, into: person.victim.sex, colour: red}"))
    assert_names(message, line_of(example_text, old), f"{SRC}.fields.victim_sex.colour")
    assert "unknown key" in message


def test_two_verbs_in_one_treatment_are_refused(example_text: str) -> None:
    old = "knife: {keep: flags.knife}"
    message = refused(edit(example_text, old, "knife: {keep: flags.knife, token: reference, person: victim}"))
    assert_names(message, line_of(example_text, old), f"{SRC}.fields.knife")
    assert "exactly one of" in message


def test_unknown_generalise_method_is_refused(example_text: str) -> None:
    old = "victim_sex: {generalise: sex, into: person.victim.sex}"
    message = refused(edit(example_text, old, "victim_sex: {generalise: gender, into: person.victim.sex}"))
    assert_names(message, line_of(example_text, old), f"{SRC}.fields.victim_sex.generalise")


def test_generalise_into_a_target_of_another_type_is_refused(example_text: str) -> None:
    old = "- generalise: week\n          into: occurred_week"
    text = edit(example_text, old, "- generalise: week\n          into: occurred_hour")
    message = refused(text)
    assert_names(message, line_of(example_text, "into: occurred_week"), f"{SRC}.fields.occurred_from[1].into")
    assert "occurred_hour holds a int" in message and "week gives a string" in message


def test_sensitive_threshold_lower_than_standard_is_refused(example_text: str) -> None:
    old = "      threshold: 10\n      finest_geography: msoa"
    text = edit(example_text, old, "      threshold: 3\n      finest_geography: msoa")
    message = refused(text)
    assert_names(message, line_of(text, "threshold: 3"), "release_profiles.partnership.sensitive.threshold")
    assert "lower than the standard" in message


def test_undeclared_purpose_is_refused(example_text: str) -> None:
    old = "purposes: [sna, hotspot_tasking, linkage]"
    message = refused(edit(example_text, old, "purposes: [sna, hotspot_tasking, linkage, marketing]"))
    assert_names(message, line_of(example_text, old), f"{SRC}.purposes")
    assert "'marketing' is not a declared purpose" in message


def test_unknown_provider_is_refused(example_text: str) -> None:
    old = "provider: example-police"
    message = refused(edit(example_text, old, "provider: someone-else"))
    assert_names(message, line_of(example_text, old), f"{SRC}.provider")


def test_unknown_source_is_refused(example_text: str) -> None:
    old = "  police_incident:\n"
    text = edit(example_text, old, "  gp_records:\n")
    message = refused(text)
    assert_names(message, line_of(text, "gp_records:"), "sources.gp_records")


def test_unknown_source_key_is_refused(example_text: str) -> None:
    old = "    retention_days: 1095\n"
    text = edit(example_text, old, old + "    retention_years: 3\n")
    message = refused(text)
    assert_names(message, line_of(text, "retention_years"), f"{SRC}.retention_years")


@pytest.mark.parametrize("value", ["0", "-5", "forever"])
def test_bad_retention_is_refused(example_text: str, value: str) -> None:
    old = "retention_days: 1095"
    message = refused(edit(example_text, old, f"retention_days: {value}"))
    assert_names(message, line_of(example_text, old), f"{SRC}.retention_days")


def test_bad_finest_geography_is_refused(example_text: str) -> None:
    old = "      finest_geography: lad"
    text = edit(example_text, old, "      finest_geography: street")
    message = refused(text)
    assert_names(message, line_of(text, "finest_geography: street"),
                 "release_profiles.public.sensitive.finest_geography")


def test_unknown_top_level_key_is_refused(example_text: str) -> None:
    text = example_text + "\nextras: true\n"
    message = refused(text)
    assert_names(message, line_of(text, "extras:"), "extras")


# --- summary for sign-off -------------------------------------------------------------------------

def test_summary_mentions_every_field_and_the_thresholds(agreement: Agreement) -> None:
    text = summarise(agreement)
    src = agreement.source("police_incident")
    for field_name in src.fields:
        assert re.search(rf"^\s+{field_name}: ", text, re.MULTILINE), field_name
    assert "narrative: dropped" in text
    assert "victim_forename: keyed forename tokens for linking the victim" in text
    assert "counts below 5 suppressed" in text  # partnership standard
    assert "counts below 10 suppressed" in text  # public standard
    assert "sensitive records: below 10 suppressed, rounding none, finest area msoa" in text  # partnership
    assert "flags domestic_abuse, sexual_assault, sexual_misconduct" in text  # sensitive by flag too
    assert "any other field: dropped" in text
    for party in agreement.parties.values():
        assert party.name in text
    for purpose in agreement.purposes:
        assert purpose in text


def test_summary_follows_the_agreement(example_text: str) -> None:
    text = edit(example_text, "threshold: 5              # counts of 1-4", "threshold: 7              # counts")
    assert "counts below 7 suppressed" in summarise(load_agreement(FILE, text=text))


# --- known bug: target types are only checked for generalise into top-level targets ---------------

@pytest.mark.parametrize("old,new", [
    # a boolean flag kept into a string column
    ("knife: {keep: flags.knife}", "knife: {keep: occurred_week}"),
    # an int (hour) generalised into a person's age band (a string)
    ("- generalise: hour\n          into: occurred_hour", "- generalise: hour\n          into: person.victim.age_band"),
], ids=["keep-flag-into-string-target", "generalise-hour-into-age-band"])
def test_target_type_mismatch_is_refused_for_keep_and_person_targets(example_text: str, old: str, new: str) -> None:
    text = edit(example_text, old, new)
    if "occurred_week" in new:  # free the target so the kept value is the one that lands there
        text = edit(text, "        - generalise: week\n          into: occurred_week\n", "")
    refused(text)
