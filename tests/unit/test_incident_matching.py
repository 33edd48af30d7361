"""ED-police incident matching and the gazetteer that places ED's free-text locations at the trust."""

from __future__ import annotations

import random
from datetime import datetime

from hub.linkage.incidents import (
    DEFAULT_WEIGHTS,
    FIELDS,
    LEVELS,
    Incident,
    Weights,
    compare,
    fit,
    fit_levels,
    incident_from_event,
    match_incidents,
    score,
    unmatched_share,
)
from hub.pseudonymisation.gazetteer import Gazetteer
from hub.synth.ed_police import generate

WHEN = datetime(2025, 6, 7, 23)


def test_gazetteer_places_the_longest_name_and_counts_the_rest() -> None:
    g = Gazetteer.from_pairs([("Station Road", "E01000001"), ("Station", "E01000002"), ("The Red Lion", "E01000003")])
    assert g.place("assaulted outside the red lion, high st") == "E01000003"
    assert g.place("on STATION ROAD near the taxis") == "E01000001"
    assert g.place("at a friend's house") is None
    assert (g.placed, g.unplaced) == (2, 1)


def test_the_same_assault_outscores_a_coincidence() -> None:
    ed = Incident("ed1", WHEN, "E01000001", "E02000001", "18-24", "M", "knife")
    same = Incident("p1", WHEN, "E01000001", "E02000001", "18-24", "M", "knife")
    elsewhere = Incident("p2", WHEN, "E01000009", "E02000009", "18-24", "M", "knife")
    other_victim = Incident("p3", WHEN, "E01000001", "E02000001", "45-54", "F", "body")
    assert score(ed, same) > score(ed, elsewhere) + 5 and score(ed, same) > score(ed, other_victim) + 5
    assert score(ed, other_victim) < 0
    matches = match_incidents([ed], [elsewhere, same, other_victim])
    assert [(m.ed_event_id, m.police_event_id) for m in matches] == [("ed1", "p1")]
    assert unmatched_share([ed], matches) == {("E02000001", "2025-06"): (1, 0)}


def test_one_police_incident_matches_one_attendance() -> None:
    a = Incident("ed1", WHEN, "E01000001", None, "18-24", "M", None)
    b = Incident("ed2", WHEN, "E01000001", None, "18-24", "M", None)
    p = Incident("p1", WHEN, "E01000001", None, "18-24", "M", None)
    assert len(match_incidents([a, b], [p])) == 1


def test_shared_events_give_incidents() -> None:
    event = {"event_id": "ev-1", "occurred_date": "2025-06-07", "occurred_hour": 23, "lsoa_code": "E01000001",
             "msoa_code": "E02000001", "flags": {"knife": True}, "attributes": {},
             "persons": [{"role": "patient", "age_band": "18-24", "sex": "M"}]}
    incident = incident_from_event(event)
    assert incident == Incident("ev-1", WHEN, "E01000001", "E02000001", "18-24", "M", "knife")
    assert incident_from_event({"event_id": "x"}) is None


def test_matching_on_synthetic_truth_floors() -> None:
    data = generate(seed=5, police_incidents=1500, ed_attendances=600)
    matches = match_incidents(data.ed, data.police)
    correct = sum(data.truth.get(m.ed_event_id) == m.police_event_id for m in matches)
    assert correct / len(matches) >= 0.93 and correct / len(data.truth) >= 0.88
    assert 0 < data.unplaced < len(data.ed) // 4
    assert all(m.score >= DEFAULT_WEIGHTS.threshold and m.probability >= 2 / 3 - 1e-9 for m in matches)


def test_the_comparison_levels() -> None:
    ed = Incident("ed1", WHEN, "E01000001", "E02000001", "18-24", "M", "other")
    police = Incident("p1", WHEN.replace(hour=19), "E01000002", "E02000001", "25-34", "F", "knife")
    assert compare(ed, police) == (4, 1, 1, 1, 1)  # 4 h: the 4-6 h level; same MSOA; adjacent band; "other"
    assert compare(Incident("ed2", WHEN, None, None, None, None, "body"), police)[1:] == (None, None, None, 2)
    bits = DEFAULT_WEIGHTS.bits
    assert all(list(row) == sorted(row, reverse=True) for row in bits)  # closer agreement never weighs less


def test_a_common_value_agreeing_says_less_than_a_rare_one() -> None:
    from hub.linkage.incidents import TermFrequencies

    police = [Incident(f"p{i}", WHEN, "E01000001", None, "18-24" if i % 10 else "55-64", "M", None)
              for i in range(100)]
    tf = TermFrequencies(police)
    young, old = (Incident("ed", WHEN, "E01000001", None, band, "M", None) for band in ("18-24", "55-64"))
    assert score(old, police[0], tf=tf) > score(young, police[1], tf=tf) + 2  # 10% of victims against 90%


def _draw(rng: random.Random, probabilities: tuple[float, ...]) -> int:
    return rng.choices(range(len(probabilities)), probabilities)[0]


def test_em_recovers_known_m_u_and_share_from_generated_pairs() -> None:
    """Candidate pairs drawn from known m and u (an attendance's assault among its 5-30 candidates with chance
    0.35; a tenth of the areas missing): EM, started from flat guesses, finds them again."""
    rng = random.Random(7)
    m = ((0.5, 0.4, 0.05, 0.02, 0.02, 0.01), (0.9, 0.05, 0.05), (0.85, 0.1, 0.05), (0.95, 0.05), (0.8, 0.15, 0.05))
    u = ((0.03, 0.05, 0.05, 0.05, 0.12, 0.7), (0.05, 0.15, 0.8), (0.25, 0.35, 0.4), (0.55, 0.45), (0.45, 0.15, 0.4))
    attendances = []
    for _ in range(2000):
        k = rng.randint(5, 30)
        true = rng.randrange(k) if rng.random() < 0.35 else -1
        pairs = []
        for j in range(k):
            source = m if j == true else u
            gamma = [_draw(rng, source[f]) for f in range(len(FIELDS))]
            if rng.random() < 0.1:
                gamma[1] = None  # type: ignore[call-overload]
            pairs.append(tuple(gamma))
        attendances.append(pairs)
    sizes = [len(LEVELS[f]) for f in FIELDS]  # a guess: agreement half the matches' levels, the rest even
    flat = Weights(tuple((0.5,) + (0.5 / (n - 1),) * (n - 1) for n in sizes), tuple((1 / n,) * n for n in sizes), 0.2)
    result = fit_levels(attendances, start=flat)
    assert result.converged and abs(result.weights.share - 0.35) < 0.03
    for f in range(len(FIELDS)):
        for level in range(len(LEVELS[FIELDS[f]])):
            assert abs(result.weights.m[f][level] - m[f][level]) < 0.03, (FIELDS[f], level)
            assert abs(result.weights.u[f][level] - u[f][level]) < 0.01, (FIELDS[f], level)


def test_the_default_weights_are_em_fitted_on_training_counties_not_the_benchmarks() -> None:
    """The defaults are EM's fixed point on seeds 10-19 (a fit started from them hardly moves), and EM on a
    single county's own pairs lands near them."""
    data = generate(seed=12, police_incidents=1500, ed_attendances=600)
    own = fit([(data.ed, data.police)]).weights
    for f in range(len(FIELDS)):
        assert abs(own.bits[f][0] - DEFAULT_WEIGHTS.bits[f][0]) < 0.5, FIELDS[f]  # agreement weights
    assert abs(own.share - DEFAULT_WEIGHTS.share) < 0.05


def test_matches_are_stored_restricted_and_released_only_protected(tmp_path: object, agreement: object) -> None:
    from datetime import date
    from pathlib import Path

    from hub.mart import store
    from hub.mart.audit import ReleaseContext
    from hub.mart.incident_matches import incident_match, refresh
    from hub.mart.release import release

    assert isinstance(tmp_path, Path)
    engine = store.connect(f"sqlite:///{tmp_path / 'mart.db'}")
    store.init(engine)

    def event(eid: str, source: str, role: str, hour: int) -> dict[str, object]:
        return {"event_id": eid, "source": source, "agreement_id": "a", "agreement_version": "1", "key_id": "k",
                "occurred_date": date(2025, 6, 7), "occurred_hour": hour, "occurred_month": "2025-06",
                "lsoa_code": "E01990001", "msoa_code": "E02990001", "flags": {}, "attributes": {},
                "persons": [{"role": role, "age_band": "18-24", "sex": "M"}]}
    store.upsert_events(engine, [event("ed1", "ed_attendance", "patient", 23),
                                 event("ed2", "ed_attendance", "patient", 3),
                                 event("p1", "police_incident", "victim", 23)])
    assert refresh(engine) == 1
    with engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(incident_match.select())][0][:2] == ("ed1", "p1")
    ctx = ReleaseContext.create(agreement, "sna", "partnership", "t", environ={})  # type: ignore[arg-type]
    table = release(engine, ctx, "ed_assaults_without_police", "lsoa", "month", breakdown="total")
    assert table.rows and all(r.value is None for r in table.rows)  # one attendance: suppressed


# --- the gazetteer at the trust, the mapping's place fields, the scheduled refresh ----------------------------

def test_a_leading_the_is_optional_and_a_bad_gazetteer_is_one_clear_line(tmp_path: object) -> None:
    from pathlib import Path

    import pytest

    from hub.pseudonymisation.gazetteer import GazetteerError

    assert isinstance(tmp_path, Path)
    g = Gazetteer.from_pairs([("The Red Lion", "E01000003")])
    assert g.place("outside Red Lion") == g.place("at THE RED LION") == "E01000003"
    bad = tmp_path / "g.csv"
    bad.write_text("name,lsoa21cd\nThe Pride of Qzx Smith,not-an-lsoa\n", encoding="utf-8")
    with pytest.raises(GazetteerError, match=r"row 2: lsoa21cd is not an LSOA code") as caught:
        Gazetteer.from_csv(bad)
    assert "Smith" not in str(caught.value)  # names no place
    bad.write_text("place,lsoa\n", encoding="utf-8")
    with pytest.raises(GazetteerError, match="needs the columns name and lsoa21cd"):
        Gazetteer.from_csv(bad)


def test_the_shipped_gazetteer_covers_the_county_and_places_the_synthetic_texts() -> None:
    import random

    from hub.pseudonymisation.gazetteer import example_path, example_rows
    from hub.synth.geography import build_county
    from hub.synth.places import location_text

    rows = example_rows()
    county = {item.code for item in build_county().lsoas}
    assert {lsoa for _, _, lsoa in rows} == county and len({n for n, _, _ in rows}) == len(rows)
    assert {kind for _, kind, _ in rows} == {"venue", "street", "school"}
    g = Gazetteer.from_csv(example_path())
    rng = random.Random(1)
    for lsoa in sorted(county):
        for location in ("LP", "PS", "ED", "HO"):
            text, placed = location_text(rng, lsoa, location, placeable=1.0)
            assert placed == lsoa and g.place(text) == lsoa, text
    text, placed = location_text(rng, "E01990001", "PS", placeable=0.0)
    assert placed == "" and g.place(text) is None


def test_a_place_field_sends_only_the_area_and_counts_what_it_cannot_place() -> None:
    from hub.connectors import default_mapping_path, load_mapping
    from hub.metrics import LOCATION_TEXTS
    from tests.unit.source_rows import GOOD_ROWS

    mapping = load_mapping(default_mapping_path("ed_attendance"))
    assert mapping.places and "AssaultLocDesc" in mapping.columns
    unplaced = LOCATION_TEXTS.labels("ed_attendance", "assault_lsoa", "unplaced")
    before = unplaced._value.get()
    placed = mapping.parse({**GOOD_ROWS["ed_attendance"], "AssaultLocDesc": "outside the Star Lamb Tavern with Qzx"})
    lost = mapping.parse({**GOOD_ROWS["ed_attendance"], "AssaultLocDesc": "at Qzx Smith's flat"})
    assert placed["assault_lsoa"] == "E01990001" and lost["assault_lsoa"] is None
    assert not [v for r in (placed, lost) for v in r.values() if isinstance(v, str) and "Qzx" in v]
    assert "location_description" not in placed  # the text is in no record at all
    assert mapping.placements == {"placed": 1, "unplaced": 1} and unplaced._value.get() == before + 1


def test_a_place_only_fills_an_lsoa_field(tmp_path: object) -> None:
    from pathlib import Path

    import pytest

    from hub.connectors import default_mapping_path, load_mapping
    from hub.yamlsource import ConfigError

    assert isinstance(tmp_path, Path)
    text = default_mapping_path("ed_attendance").read_text("utf-8").replace(
        "site_code: {column: SiteCode, required: true}", "site_code: {column: SiteCode, type: place}")
    path = tmp_path / "ed.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"fields\.site_code\.type: a place gives an LSOA code"):
        load_mapping(path)


def _mart(tmp_path: object) -> object:
    from pathlib import Path

    from hub.mart import store
    assert isinstance(tmp_path, Path)
    engine = store.connect(f"sqlite:///{tmp_path / 'mart.db'}")
    store.init(engine)
    return engine


def _cli_mart(tmp_path: object, monkeypatch: object) -> object:
    """A SQLite mart that ``hub`` commands find through HUB_MART_URL."""
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    engine = _mart(tmp_path)
    monkeypatch.setenv("HUB_MART_URL", str(engine.url))  # type: ignore[attr-defined]
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    return engine


def _events(data: object) -> list[dict[str, object]]:
    out = []
    for source, role, items in (("ed_attendance", "patient", data.ed), ("police_incident", "victim", data.police)):  # type: ignore[attr-defined]
        for i in items:
            out.append({"event_id": i.event_id, "source": source, "agreement_id": "a", "agreement_version": "1",
                        "key_id": "k", "occurred_date": i.when.date(), "occurred_hour": i.when.hour,
                        "occurred_month": i.when.strftime("%Y-%m"), "lsoa_code": i.lsoa, "msoa_code": i.msoa,
                        "flags": {"knife": i.weapon == "knife"},
                        "attributes": {"assault_method": {"body": "BP", "blunt": "BL", "other": "OT"}.get(
                            i.weapon or "", "")} if source == "ed_attendance" else {},
                        "persons": [{"role": role, "age_band": i.age_band, "sex": i.sex}]})
    return out


def test_refreshing_the_touched_months_as_events_arrive_equals_one_full_refresh(tmp_path: object) -> None:
    from hub.mart import store
    from hub.mart.incident_matches import MonthsTouched, incident_match, refresh

    data = generate(seed=7, police_incidents=600, ed_attendances=240)
    engine = _mart(tmp_path)
    events = _events(data)
    touched = MonthsTouched()
    assert touched.take() is None  # the first refresh after a start covers every month
    for start in range(0, len(events), 200):  # batches, as the sink writes them, each followed by a refresh
        batch = sorted(events, key=lambda e: str(e["event_id"]))[start:start + 200]
        store.upsert_events(engine, batch)  # type: ignore[arg-type]
        touched.note(batch)
        months = touched.take()
        assert months and refresh(engine, months=months) >= 0  # type: ignore[arg-type]
    assert touched.take() == set()
    with engine.connect() as conn:  # type: ignore[attr-defined]
        incremental = {tuple(r)[:2] for r in conn.execute(incident_match.select())}
    refresh(engine)  # type: ignore[arg-type]
    with engine.connect() as conn:  # type: ignore[attr-defined]
        full = {tuple(r)[:2] for r in conn.execute(incident_match.select())}
    assert len(incremental ^ full) <= len(full) // 50  # equal but for the odd match at a month's edge
    correct = sum(data.truth.get(ed) == police for ed, police in full)
    assert correct / len(full) >= 0.9 and correct / len(data.truth) >= 0.85


def test_a_failed_refresh_gives_its_months_back() -> None:
    from datetime import date

    from hub.mart.incident_matches import MonthsTouched

    touched = MonthsTouched()
    touched.take()
    touched.note([{"source": "police_incident", "occurred_date": date(2025, 3, 31)},
                  {"source": "ed_attendance", "occurred_date": "2025-06-07"},
                  {"source": "probation_event", "occurred_date": date(2025, 9, 1)}])
    months = touched.take()
    assert months == {"2025-03", "2025-04", "2025-06"}
    touched.give_back(months)
    assert touched.take() == months


def test_the_ed_extract_holds_a_known_share_of_the_police_extracts_assaults(tmp_path: object) -> None:
    import csv
    from pathlib import Path

    from hub.synth import SOURCE_GENERATORS, generate_police_extract

    assert isinstance(tmp_path, Path)
    police = generate_police_extract(tmp_path / "police", seed=11, incidents=400, malformed=0)
    ed = SOURCE_GENERATORS["ed_attendance"](tmp_path / "ed", seed=3, attendances=100, malformed=0, police_seed=11,
                                            police_incidents=400)
    with police.extract_csv.open(newline="", encoding="utf-8") as fh:
        crimes = {r["CrimeRef"]: r for r in csv.DictReader(fh)}
    truth = ed.truth()
    known = [r for r in truth if r["police_ref"]]
    assert len(known) == 40 and all(r["police_ref"] in crimes for r in known)
    assert len({r["police_ref"] for r in known}) == 40
    placed = sum(1 for r in truth if r["assault_lsoa21cd"])
    assert 0.7 * len(truth) < placed < len(truth)  # most locations can be placed, some cannot


def test_the_boundary_accepts_the_assault_area_as_an_lsoa_and_nothing_else(agreement: object) -> None:
    from hub.connectors import default_mapping_path, load_mapping
    from hub.policy.conformance import EventRules
    from hub.pseudonymisation import KeyRing, Pseudonymiser
    from tests.unit.source_rows import GOOD_ROWS

    rules = EventRules(agreement)  # type: ignore[arg-type]
    record = load_mapping(default_mapping_path("ed_attendance")).parse(
        {**GOOD_ROWS["ed_attendance"], "AssaultLocDesc": "in the smoking area of The Star Lamb Tavern"})
    event = Pseudonymiser(agreement, KeyRing.generate(holder="agency:example-hospitals"),  # type: ignore[arg-type]
                          at="source").apply("ed_attendance", record).shared
    assert event["lsoa_code"] == "E01990001" and rules.problems(event, at="source") == []
    forged = {**event, "lsoa_code": "The Star Lamb Tavern"}  # a connector that sent the text instead
    assert rules.problems(forged, at="source") == ["lsoa_code is not pattern [EW]01[0-9]{6}"]


def test_purging_an_expired_event_drops_its_match(tmp_path: object, agreement: object) -> None:
    from datetime import date

    from sqlalchemy import func, select

    from hub.mart import store
    from hub.mart.incident_matches import incident_match, refresh
    from hub.mart.retention import purge

    engine = _mart(tmp_path)

    def event(eid: str, source: str, role: str, day: date) -> dict[str, object]:
        return {"event_id": eid, "source": source, "agreement_id": "a", "agreement_version": "1", "key_id": "k",
                "occurred_date": day, "occurred_hour": 23, "occurred_month": day.strftime("%Y-%m"),
                "lsoa_code": "E01990001", "msoa_code": "E02990001", "flags": {}, "attributes": {},
                "persons": [{"role": role, "age_band": "18-24", "sex": "M"}]}
    store.upsert_events(engine, [event("ed1", "ed_attendance", "patient", date(2025, 6, 7)),  # type: ignore[arg-type]
                                 event("p1", "police_incident", "victim", date(2025, 6, 7))])
    assert refresh(engine, months={"2025-06"}) == 1  # type: ignore[arg-type]
    purge(engine, agreement, "t", date(2028, 7, 1))  # type: ignore[arg-type]  # both past 1,095 days
    with engine.connect() as conn:  # type: ignore[attr-defined]
        assert conn.execute(select(func.count()).select_from(incident_match)).scalar_one() == 0


def test_hub_mart_match_incidents_by_hand(tmp_path: object, monkeypatch: object,
                                          capsys: object) -> None:
    from datetime import date

    import pytest

    from hub.cli import main
    from hub.mart import store

    assert isinstance(monkeypatch, pytest.MonkeyPatch) and isinstance(capsys, pytest.CaptureFixture)
    engine = _cli_mart(tmp_path, monkeypatch)
    day = date(2025, 6, 7)
    store.upsert_events(engine, [  # type: ignore[arg-type]
        {"event_id": eid, "source": source, "agreement_id": "a", "agreement_version": "1", "key_id": "k",
         "occurred_date": day, "occurred_hour": 23, "occurred_month": "2025-06", "lsoa_code": "E01990001",
         "msoa_code": "E02990001", "flags": {}, "attributes": {},
         "persons": [{"role": role, "age_band": "18-24", "sex": "M"}]}
        for eid, source, role in (("ed1", "ed_attendance", "patient"), ("p1", "police_incident", "victim"))])
    assert main(["mart", "match-incidents"]) == 0
    assert "incident_match: 1 ED attendances matched" in capsys.readouterr().out
    assert main(["mart", "match-incidents", "--month", "2025-05"]) == 0
    assert "incident_match: 0 ED attendances matched to a police incident in 2025-05" in capsys.readouterr().out
    assert main(["mart", "match-incidents", "--month", "June"]) == 2
    assert "--month 'June': not a month (YYYY-MM)" in capsys.readouterr().err


def test_weights_fitted_on_the_mart_are_stored_and_used_by_every_refresh(tmp_path: object, monkeypatch: object,
                                                                        capsys: object) -> None:
    import json
    from dataclasses import replace
    from datetime import UTC, datetime

    import pytest
    from sqlalchemy import func, select

    from hub.cli import main
    from hub.mart import store
    from hub.mart.incident_matches import incident_match_model, refresh, stored_weights

    assert isinstance(monkeypatch, pytest.MonkeyPatch) and isinstance(capsys, pytest.CaptureFixture)
    engine = _cli_mart(tmp_path, monkeypatch)
    data = generate(seed=8, police_incidents=1500, ed_attendances=600)
    store.upsert_events(engine, _events(data)[:150])  # type: ignore[arg-type]  # 150 attendances: too few
    assert main(["mart", "match-incidents", "--fit"]) == 2
    assert "150 ED attendances in the mart: at least 200 are needed" in capsys.readouterr().err
    store.upsert_events(engine, _events(data))  # type: ignore[arg-type]
    assert main(["mart", "match-incidents", "--fit"]) == 0
    out = capsys.readouterr().out
    assert "fitted by EM on 600 ED attendances" in out and "weight_area_same_LSOA" in out
    with engine.connect() as conn:  # type: ignore[attr-defined]
        fitted = stored_weights(conn)
    assert fitted is not None and fitted != DEFAULT_WEIGHTS and abs(fitted.share - 0.4) < 0.05
    with engine.begin() as conn:  # type: ignore[attr-defined]  # a later fit that accepts nothing: refresh uses it
        conn.execute(incident_match_model.insert().values(
            fitted_at=datetime.now(UTC), attendances=1, pairs=1,
            weights_json=json.dumps(replace(fitted, threshold=60.0).as_dict())))
    assert refresh(engine, months={"2025-06"}) == 0  # type: ignore[arg-type]  # the worker's call
    assert main(["mart", "match-incidents", "--default-weights"]) == 0
    assert "the built-in weights are used" in capsys.readouterr().out
    with engine.connect() as conn:  # type: ignore[attr-defined]
        assert conn.execute(select(func.count()).select_from(incident_match_model)).scalar_one() == 0
    assert refresh(engine) > 0.85 * len(data.truth)  # type: ignore[arg-type]


def test_a_fit_with_no_police_candidates_is_refused_and_stores_nothing(tmp_path: object, monkeypatch: object,
                                                                      capsys: object) -> None:
    """Fitted before the police data arrived, EM would store a model that matches nothing."""
    import pytest
    from sqlalchemy import func, select

    from hub.cli import main
    from hub.mart import store
    from hub.mart.incident_matches import incident_match_model

    assert isinstance(capsys, pytest.CaptureFixture)
    engine = _cli_mart(tmp_path, monkeypatch)
    data = generate(seed=8, police_incidents=1500, ed_attendances=600)
    store.upsert_events(engine, [e for e in _events(data) if e["source"] == "ed_attendance"])  # type: ignore[arg-type]
    assert main(["mart", "match-incidents", "--fit"]) == 2
    assert "600 ED attendances have 0 candidate police incidents" in capsys.readouterr().err
    with engine.connect() as conn:  # type: ignore[attr-defined]
        assert conn.execute(select(func.count()).select_from(incident_match_model)).scalar_one() == 0


def test_stored_weights_for_other_levels_are_ignored() -> None:
    import pytest

    stored = DEFAULT_WEIGHTS.as_dict()
    assert Weights.from_dict(stored) == DEFAULT_WEIGHTS
    with pytest.raises(ValueError, match="other comparison levels"):
        Weights.from_dict({**stored, "levels": {"hour": ["same hour", "later"]}})


def test_the_benchmark_prints_both_weightings_and_the_fitted_weights(capsys: object) -> None:
    import pytest

    from hub.cli import main

    assert isinstance(capsys, pytest.CaptureFixture)
    assert main(["bench", "linkage", "--dataset", "incidents", "--incidents", "1000", "--seeds", "10-11"]) == 0
    out = capsys.readouterr().out
    figures = {line.split(":")[0].strip(): float(line.split(":")[1].replace(",", "")) for line in out.splitlines()}
    assert {"seed_10_precision", "seed_11_recall", "own_fit_mean_precision", "default_weight_area_same_LSOA",
            "seed_10_fitted_weight_weapon_differs", "ed_without_police_share_em"} <= set(figures)
    assert figures["mean_precision"] > 0.9 and figures["mean_recall"] > 0.85
    assert main(["bench", "linkage", "--dataset", "incidents", "--seeds", "ten"]) == 2
    assert "'ten': seeds as FROM-TO or a comma-separated list" in capsys.readouterr().err


def test_police_incidents_are_not_loaded_when_no_attendance_can_match_them(tmp_path: object,
                                                                          monkeypatch: object) -> None:
    """A mart (or months) of police data alone: a refresh stores nothing and leaves the police incidents unloaded,
    so a worker's memory does not grow with the mart on every refresh (hub bench pipeline --long-run: 0.46 ->
    1.04 GB between 700k and 842k police events, before). Once attendances arrive, they are matched."""
    import pytest

    from hub.mart import incident_matches, store

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    data = generate(seed=7, police_incidents=300, ed_attendances=120)
    engine = _mart(tmp_path)
    events = _events(data)
    police = [e for e in events if e["source"] == "police_incident"]
    store.upsert_events(engine, police)  # type: ignore[arg-type]
    loaded: list[str] = []
    real = incident_matches._incidents

    def recording(conn: object, source: str, months: object = None) -> object:
        loaded.append(source)
        return real(conn, source, months)  # type: ignore[arg-type]

    monkeypatch.setattr(incident_matches, "_incidents", recording)
    months = {str(e["occurred_month"]) for e in police}
    assert incident_matches.refresh(engine, months=months) == 0  # type: ignore[arg-type]
    assert incident_matches.refresh(engine) == 0  # type: ignore[arg-type]
    assert loaded == ["ed_attendance", "ed_attendance"]
    store.upsert_events(engine, [e for e in events if e["source"] == "ed_attendance"])  # type: ignore[arg-type]
    assert incident_matches.refresh(engine, months=months) > 0.8 * len(data.truth)  # type: ignore[arg-type]
    assert "police_incident" in loaded
