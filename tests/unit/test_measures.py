"""What each measure counts, where and when (checked on the records in each cell, before any noise)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hub.mart.areas import AreaIndex
from hub.mart.audit import ReleaseContext
from hub.mart.measures import Fact
from hub.mart.release import Filters, Members, build_release
from hub.policy import Agreement

LSOA_A, LSOA_B, MSOA, LAD = "E01990001", "E01990002", "E02990001", "E07990001"


def idx() -> AreaIndex:
    out = AreaIndex()
    out.learn(LSOA_A, MSOA, LAD)
    out.learn(LSOA_B, MSOA, LAD)
    return out


def fact(eid: str, source: str, **kw: Any) -> Fact:
    base: dict[str, Any] = {"event_id": eid, "record_key": 7, "source": source, "occurred": date(2025, 3, 4),
                            "week": "2025-W10", "month": "2025-03", "lsoa": None, "offence_code": None,
                            "offence_category": None, "flags": {}, "attributes": {}}
    base.update(kw)
    return Fact(**base)


def cells(agreement: Agreement, facts: list[Fact], measure: str, breakdown: str | None = None,
          geography: str = "lsoa", period: str = "month", filters: Filters | None = None) -> dict[tuple, set[str]]:
    ctx = ReleaseContext.create(agreement, "sna", "partnership", "t", environ={})
    members: Members = []
    built = build_release(facts, idx(), ctx, measure, geography, period, filters, breakdown, members)
    return {(built.rows[i].area_code, built.rows[i].period, built.rows[i].category, built.rows[i].sensitive):
            set(ids) for i, ids, _, _ in members}


def test_ed_counts_incident_area_else_residence_with_weapon(agreement: Agreement) -> None:
    facts = [fact("e1", "ed_attendance", lsoa=LSOA_A, attributes={"residence_lsoa": LSOA_B},
                  flags={"knife": True}),
             fact("e2", "ed_attendance", attributes={"residence_lsoa": LSOA_B, "assault_method": "BL"}),
             fact("e3", "ed_attendance", attributes={"residence_lsoa": LSOA_B}, age_bands=("15-17",))]
    got = cells(agreement, facts, "ed_assault_attendances")
    assert got == {(LSOA_A, "2025-03", "knife_or_sharp", False): {"e1"},
                   (LSOA_B, "2025-03", "other_weapon", False): {"e2"},
                   (LSOA_B, "2025-03", "no_weapon_or_not_known", False): {"e3"}}
    by_age = cells(agreement, facts, "ed_assault_attendances", "age_band", filters=Filters(age_bands=("15-17",)))
    assert by_age == {(LSOA_B, "2025-03", "15-17", False): {"e3"}}


def test_probation_caseload_counts_an_order_in_every_month_it_is_live(agreement: Agreement) -> None:
    start = {"event_type": "SENTENCE_START", "residence_lsoa": LSOA_A, "sentence_type": "CO",
             "order_start_month": "2025-01", "order_end_month": "2025-03"}
    facts = [fact("p1", "probation_event", attributes=start),
             fact("p2", "probation_event", attributes={**start, "event_type": "BREACH"})]  # not a new start
    caseload = cells(agreement, facts, "probation_caseload")
    assert caseload == {(LSOA_A, m, "CO", False): {"p1"} for m in ("2025-01", "2025-02", "2025-03")}
    assert cells(agreement, facts, "probation_new_starts") == {(LSOA_A, "2025-03", "CO", False): {"p1"}}


def test_police_flags_and_sensitive_rows(agreement: Agreement) -> None:
    facts = [fact("i1", "police_incident", lsoa=LSOA_A, offence_code="8N", offence_category="violence_with_injury",
                  flags={"knife": True, "alcohol": True}),
             fact("i2", "police_incident", lsoa=LSOA_A, offence_code="8N", offence_category="violence_with_injury",
                  flags={"domestic_abuse": True}),
             fact("i3", "police_incident", lsoa=LSOA_B, offence_code="8Q", offence_category="stalking_and_harassment")]
    got = cells(agreement, facts, "police_incidents", "flag")
    assert got[(LSOA_A, "2025-03", "knife", False)] == got[(LSOA_A, "2025-03", "alcohol", False)] == {"i1"}
    # domestic abuse and stalking: sensitive, so at MSOA (the partnership's sensitive finest), never at LSOA
    assert got[(MSOA, "2025-03", "domestic_abuse", True)] == {"i2"}
    assert got[(MSOA, "2025-03", "none", True)] == {"i3"}
    assert not [k for k in got if k[3] and k[0].startswith("E01")]
    knife_only = cells(agreement, facts, "police_incidents", filters=Filters(flags=("knife",)))
    assert knife_only == {(LSOA_A, "2025-03", "violence_with_injury", False): {"i1"}}


def test_exclusions_by_main_reason_and_youth_justice_by_tier(agreement: Agreement) -> None:
    facts = [fact("x1", "school_exclusion", attributes={"residence_lsoa": LSOA_A, "reason_1": "PP",
                                                        "exclusion_type": "SUSP"}),
             fact("y1", "youth_justice_event", offence_category="robbery",
                  attributes={"residence_lsoa": LSOA_B, "outcome_type": "YRO"}, flags={"first_time_entrant": True})]
    assert cells(agreement, facts, "school_exclusions") == {(LSOA_A, "2025-03", "PP", False): {"x1"}}
    assert cells(agreement, facts, "youth_justice_new_starts") == {(LSOA_B, "2025-03", "community", False): {"y1"}}
    assert cells(agreement, facts, "youth_justice_new_starts", "first_time_entrant") == {
        (LSOA_B, "2025-03", "first_time_entrant", False): {"y1"}}


def test_date_range_keeps_whole_periods_and_the_same_cells(agreement: Agreement) -> None:
    facts = [fact(f"i{m}", "police_incident", lsoa=LSOA_A, offence_category="robbery", month=f"2025-0{m}",
                  week=f"2025-W{m * 4:02d}") for m in (1, 2, 3)]
    narrowed = cells(agreement, facts, "police_incidents", filters=Filters(date_from=date(2025, 2, 20),
                                                                            date_to=date(2025, 3, 1)))
    assert narrowed == {(LSOA_A, "2025-02", "robbery", False): {"i2"}, (LSOA_A, "2025-03", "robbery", False): {"i3"}}
