"""Finding 2: free text must not travel through coded fields, and no agreement may share it.

Attacks: a name typed into OutcomeCode, SiteCode and SchoolURN; agreements that keep the crime reference
or the offence description. Every kept field of every source must have a code list or a strict pattern.
"""

from __future__ import annotations

from typing import Any

import pytest

from hub.connectors import default_mapping_path, load_mapping
from hub.policy import Agreement, ConfigError, example_agreement_path, load_agreement
from hub.policy.agreement import _avro_kind
from hub.policy.coded import kept_rule
from hub.pseudonymisation import KeyRing, PseudonymisationError, Pseudonymiser
from hub.schemas import RAW_SCHEMAS, default_repository
from tests.unit.source_rows import GOOD_ROWS

NAME = "Zebedee Quillfeather"
POLICE_ROW = {
    "CrimeRef": "ZZ/25/000777", "HOOffenceCode": "8N", "OffenceDescription": "Assault with injury",
    "OccurredFrom": "04/03/2025 21:30", "OccurredTo": "", "ReportedDate": "", "LocationPostcode": "",
    "LocationLSOA": "E01999001", "VictimForename": "Canary", "VictimSurname": "Smythe", "VictimDOB": "07/04/1991",
    "VictimSex": "F", "SuspectForename": "", "SuspectSurname": "", "SuspectDOB": "", "SuspectSex": "",
    "DomesticAbuseFlag": "N", "KnifeFlag": "Y", "FirearmFlag": "", "AlcoholFlag": "", "OutcomeCode": "15",
    "Narrative": "",
}
ROWS: dict[str, dict[str, str]] = {"police_incident": POLICE_ROW, **GOOD_ROWS}


def pseudonymise(agreement: Agreement, ring: KeyRing, source: str, **changes: str) -> dict[str, Any]:
    record = load_mapping(default_mapping_path(source)).parse({**ROWS[source], **changes})
    at = agreement.source(source).pseudonymise_at
    return Pseudonymiser(agreement, ring, at=at).apply(source, record).shared


@pytest.mark.parametrize("source,column", [("police_incident", "OutcomeCode"), ("ed_attendance", "SiteCode"),
                                           ("school_exclusion", "SchoolURN")])
def test_a_name_in_a_coded_field_never_crosses_the_boundary(agreement: Agreement, ring: KeyRing, source: str,
                                                           column: str) -> None:
    assert pseudonymise(agreement, ring, source)  # the good row flows
    with pytest.raises(PseudonymisationError) as caught:
        shared = pseudonymise(agreement, ring, source, **{column: NAME})
        assert NAME not in repr(shared)  # reached only on the old code: show what leaked
    assert "Zebedee" not in str(caught.value)  # the reason names the field, never the value


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://x\")", "15 Zebedee", "1" * 80, "15\u200b"])
def test_outcome_code_accepts_only_outcome_codes(agreement: Agreement, ring: KeyRing, value: str) -> None:
    with pytest.raises(PseudonymisationError):
        pseudonymise(agreement, ring, "police_incident", OutcomeCode=value)


@pytest.mark.parametrize("field,rule", [
    ("record_id", "{keep: attributes.crime_ref}"),
    ("record_id", "{token: reference, person: victim}"),
    ("offence_description", "{keep: attributes.offence}"),
    ("narrative", "{keep: attributes.note}"),
])
def test_an_agreement_that_shares_free_text_or_a_record_id_is_refused_with_file_and_line(field: str,
                                                                                        rule: str) -> None:
    text = example_agreement_path().read_text("utf-8")
    lines = text.splitlines()
    old = next(line for line in lines if line.strip().startswith(f"{field}: drop"))
    number = lines.index(old) + 1
    indent = old[: len(old) - len(old.lstrip())]
    with pytest.raises(ConfigError) as caught:
        load_agreement("hostile.yaml", text=text.replace(old, f"{indent}{field}: {rule}", 1))
    assert str(caught.value).startswith(f"hostile.yaml:{number}:"), str(caught.value)
    assert field in str(caught.value)


def test_every_kept_field_of_every_source_has_a_code_list_or_a_pattern(agreement: Agreement) -> None:
    repo = default_repository()
    free = []
    for name, policy in agreement.sources.items():
        schema = repo.get(RAW_SCHEMAS[name])
        for fname, outputs in policy.fields.items():
            if any(o.treatment == "keep" for o in outputs):
                raw = schema.field(fname)
                if kept_rule(raw, _avro_kind(raw["type"])) is None:
                    free.append(f"{name}.{fname}")
    assert free == []
