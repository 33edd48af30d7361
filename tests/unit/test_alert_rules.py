"""The alert rules (pure): homicide-review criteria, Poisson exceedance, rules-file errors, the notify hook."""

from __future__ import annotations

import json
import math
import sys
from datetime import date
from pathlib import Path

import pytest

from hub.alerts.notify import notify
from hub.alerts.rules import (
    NotifyConfig,
    RulesError,
    alert_id,
    counts_towards_hotspots,
    exceedance,
    load_rules,
    owhr_case,
    poisson_sf,
)

RULES = load_rules()


def event(code: str = "1", band: str | None = "25-34", knife: bool = True, firearm: bool = False,
          domestic: bool = False, source: str = "police_incident") -> dict[str, object]:
    return {"event_id": "tok123", "source": source, "offence_code": code, "occurred_date": date(2025, 6, 14),
            "lsoa_code": "E01990001", "lad_code": "E07990001",
            "flags": {"knife": knife, "firearm": firearm, "domestic_abuse": domestic},
            "persons": [{"role": "victim", "age_band": band}, {"role": "suspect", "age_band": "15-17"}]}


def test_an_adult_killed_with_a_knife_or_firearm_is_a_review_case() -> None:
    case = owhr_case(RULES.owhr, event())
    assert case is not None and case.case_ref == "tok123" and case.weapons == ("knife",)
    assert case.status == "to_consider" and case.victim_age_band == "25-34"
    gun = owhr_case(RULES.owhr, event(code="4.1", knife=False, firearm=True))
    assert gun is not None and gun.weapons == ("firearm",)


@pytest.mark.parametrize("ev", [event(band="15-17"), event(knife=False), event(code="8N"),
                                event(source="ed_attendance")], ids=["victim-17", "no-weapon", "not-homicide",
                                                                     "other-source"])
def test_what_is_not_a_review_case(ev: dict[str, object]) -> None:
    assert owhr_case(RULES.owhr, ev) is None


def test_unknown_age_and_domestic_abuse_are_registered_with_a_note() -> None:
    unknown = owhr_case(RULES.owhr, event(band=None))
    assert unknown is not None and unknown.victim_age_band is None and "age unknown" in unknown.notes[0]
    dhr = owhr_case(RULES.owhr, event(domestic=True))
    assert dhr is not None and dhr.status == "dhr_precedence"


def test_alert_ids_are_deterministic_per_case() -> None:
    assert alert_id("owhr", "a") == alert_id("owhr", "a") != alert_id("owhr", "b")


def test_poisson_tail_matches_the_formula() -> None:
    mean = 1.7
    exact = 1 - sum(math.exp(-mean) * mean**k / math.factorial(k) for k in range(6))
    assert poisson_sf(6, mean) == pytest.approx(exact)
    assert poisson_sf(0, mean) == 1.0


def test_exceedance_needs_history_a_minimum_count_and_a_small_tail() -> None:
    rule = RULES.hotspots
    quiet = [1, 0, 1, 2, 1, 0, 1, 1]
    assert exceedance(rule, 9, quiet).alert
    assert not exceedance(rule, 3, quiet).alert            # below min_count
    assert not exceedance(rule, 9, [1, 0]).alert            # not enough history yet
    assert not exceedance(rule, 9, [8, 9, 10, 9, 8, 9, 10, 9]).alert  # a busy area's ordinary week


def test_hotspots_count_violence_of_the_configured_sources() -> None:
    rule = RULES.hotspots
    assert counts_towards_hotspots(rule, {"source": "police_incident", "offence_category": "robbery"})
    assert counts_towards_hotspots(rule, {"source": "ed_attendance", "offence_category": None})
    assert not counts_towards_hotspots(rule, {"source": "police_incident", "offence_category": "sexual_offences"})
    assert not counts_towards_hotspots(rule, {"source": "probation_event", "offence_category": None})


def test_a_bad_rules_file_is_named_with_the_setting(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("version: '1'\nowhr: {offence_codes: ['1'], adult_age_bands: ['18-24'], weapon_flags: []}\n"
                   "hotspots: {sources: [police_incident]}\n")
    with pytest.raises(RulesError, match=r"rules.yaml:2: owhr.weapon_flags: must not be empty"):
        load_rules(bad)


def test_notify_command_gets_the_alert_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "got.json"
    script = f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"
    assert notify(NotifyConfig(command=[sys.executable, "-c", script], webhook=None, timeout_s=10),
                  {"alert_id": "x", "occurred_date": date(2025, 6, 14)}) == []
    assert json.loads(out.read_text()) == {"alert_id": "x", "occurred_date": "2025-06-14"}
    failing = NotifyConfig(command=[sys.executable, "-c", "raise SystemExit(3)"], webhook=None, timeout_s=10)
    assert notify(failing, {"alert_id": "x"}) == ["command exited 3"]
