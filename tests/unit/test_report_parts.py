"""Report building blocks (pure or SQLite-only): risk shrinkage, full months, boundary loading."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from hub.mart import connect, init
from hub.reports.boundaries import BoundaryError, areas_frame, load_boundaries
from hub.reports.releases import Period
from hub.reports.risk import profile
from hub.reports.sna import full_months
from hub.synth.boundaries import build_boundaries, shipped_path


def test_shrinkage_keeps_a_tiny_area_with_a_few_events_off_the_top() -> None:
    populations = {f"A{i:02d}": 1500 for i in range(30)} | {"TINY": 40, "BUSY": 1500}
    counts: dict[str, int | None] = {f"A{i:02d}": 15 + i % 7 for i in range(30)}
    counts |= {"TINY": 3, "BUSY": 60}  # TINY: raw rate 75/1000; BUSY: 40/1000 on far more evidence
    ranked = profile({"violence": counts}, populations, threshold=5)
    assert ranked[0].code == "BUSY"
    tiny = next(r for r in ranked if r.code == "TINY")
    assert tiny.raw["violence"] > ranked[0].raw["violence"]  # it would top a raw-rate list
    assert tiny.rank > 1 and tiny.rank_high - tiny.rank_low > ranked[0].rank_high - ranked[0].rank_low
    assert all(r.rank_low <= r.rank <= r.rank_high for r in ranked)


def test_a_suppressed_count_is_imputed_and_marked() -> None:
    ranked = profile({"violence": {"A": None, "B": 10, "C": 0}}, {"A": 1000, "B": 1000, "C": 1000}, threshold=5)
    assert next(r for r in ranked if r.code == "A").imputed == ("violence",)


def test_only_full_months_are_trended() -> None:
    period = Period(date(2025, 1, 15), date(2025, 6, 30))
    assert full_months(period, date(2025, 5, 20)) == ["2025-02", "2025-03", "2025-04"]
    assert full_months(Period(date(2025, 1, 1), date(2025, 3, 31)), None) == ["2025-01", "2025-02", "2025-03"]


def test_the_shipped_boundaries_are_the_generated_ones() -> None:
    shipped = json.loads(shipped_path().read_text("utf-8"))
    built = build_boundaries()
    assert [f["properties"] for f in shipped["features"]] == [f["properties"] for f in built["features"]]
    assert len(shipped["features"]) == 60


def test_boundaries_load_and_dissolve_to_msoa(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'mart.db'}")
    init(engine)
    loaded = load_boundaries(engine, shipped_path())
    assert (loaded.level, loaded.areas, loaded.with_population) == ("lsoa", 60, 60)
    msoa = areas_frame(engine, "msoa")
    assert len(msoa) == 12 and msoa["population"].sum() == areas_frame(engine, "lsoa")["population"].sum()
    with engine.connect() as conn:  # the mart's own area and population reference follow the file
        assert conn.execute(text("SELECT COUNT(*) FROM ref_area WHERE level = 'lsoa'")).scalar_one() == 60
        assert conn.execute(text("SELECT COUNT(*) FROM ref_population")).scalar_one() == 60


def test_a_boundary_file_without_area_codes_is_refused_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
        "name": "x"}, "geometry": {"type": "Point", "coordinates": [0, 0]}}]}))
    engine = connect(f"sqlite:///{tmp_path / 'mart.db'}")
    init(engine)
    with pytest.raises(BoundaryError, match="no ONS area code column"):
        load_boundaries(engine, bad)
    with pytest.raises(BoundaryError, match="no such file"):
        load_boundaries(engine, tmp_path / "missing.geojson")


def test_every_referral_route_is_a_party_of_the_agreement() -> None:
    import csv
    import io
    from importlib import resources

    from hub.policy import example_agreement_path, load_agreement
    parties = load_agreement(example_agreement_path()).parties
    text = resources.files("hub.reference").joinpath("referral_reason.csv").read_text("utf-8")
    routes = {row["code"]: row["route_to"] for row in csv.DictReader(io.StringIO(text))}
    assert routes and all(party in parties for party in routes.values()), routes


def _linked_mart(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A tiny mart with the link stage's person tables (as the link stage writes them)."""
    from hub.mart import store
    engine = connect(f"sqlite:///{tmp_path / 'mart.db'}")
    init(engine)

    def ev(eid: str, source: str, day: str, role: str, **flags: bool) -> dict[str, object]:
        return {"event_id": eid, "source": source, "agreement_id": "a", "agreement_version": "1", "key_id": "k",
                "occurred_date": date.fromisoformat(day), "occurred_month": day[:7], "flags": flags,
                "persons": [{"role": role}]}
    events = [ev("e1", "police_incident", "2025-02-01", "victim"),
              ev("e2", "police_incident", "2025-05-01", "suspect", domestic_abuse=True),
              ev("e3", "youth_justice_event", "2025-06-01", "offender", concern_substance_misuse=True),
              ev("e4", "police_incident", "2025-03-01", "victim"),
              ev("e5", "school_exclusion", "2025-04-01", "pupil")]
    store.upsert_events(engine, events)
    with engine.begin() as conn:
        if not inspect(conn).has_table("person_mention"):
            conn.execute(text("CREATE TABLE person_mention (event_id VARCHAR(64), role VARCHAR(32), person_id "
                              "VARCHAR(64), source VARCHAR(64), occurred_date DATE, model_version VARCHAR(32))"))
            conn.execute(text("CREATE TABLE person_merge (person_id VARCHAR(64), into_person_id VARCHAR(64), "
                              "event_id VARCHAR(64))"))
        for eid, role, pid, source in (("e1", "victim", "P1", "police_incident"),
                                       ("e2", "suspect", "P1", "police_incident"),
                                       ("e3", "offender", "P9", "youth_justice_event"),
                                       ("e4", "victim", "P2", "police_incident"),
                                       ("e5", "pupil", "P2", "school_exclusion")):
            conn.execute(text("INSERT INTO person_mention VALUES (:e, :r, :p, :s, NULL, 'm1')"),
                         {"e": eid, "r": role, "p": pid, "s": source})
        conn.execute(text("INSERT INTO person_merge VALUES ('P9', 'P1', 'e3')"))  # P9 turned out to be P1
    return engine


def test_the_linked_cohort_and_its_factors(tmp_path: Path) -> None:
    from hub.reports.cohort import cohort_tallies, people
    engine = _linked_mart(tmp_path)
    with engine.connect() as conn:
        persons = people(conn, Period(date(2025, 1, 1), date(2025, 12, 31)),
                         ("police_incident", "youth_justice_event", "school_exclusion"))
    assert set(persons) == {"P1", "P2"}  # P9 merged into P1
    assert persons["P1"].sources == {"police_incident", "youth_justice_event"}
    assert persons["P1"].factors == {"domestic abuse history", "exposure to violence", "substance misuse"}
    by_agencies, factors, size = cohort_tallies(persons)
    assert size == 2 and by_agencies.counts()[("2 or more (the cohort)",)] == 2
    assert factors.counts() == {("domestic abuse history",): 1, ("exposure to violence",): 1,
                                ("substance misuse",): 1}


def test_the_sna_uses_the_cohort_once_the_person_tables_exist(tmp_path: Path) -> None:
    from hub.mart.audit import ReleaseContext
    from hub.policy import example_agreement_path, load_agreement
    from hub.reports.sna import build_sna
    engine = _linked_mart(tmp_path)
    ctx = ReleaseContext.create(load_agreement(example_agreement_path()), "sna", "partnership", user="t")
    build_sna(engine, ctx, date(2025, 1, 1), date(2025, 12, 31), tmp_path / "sna.html")
    page = (tmp_path / "sna.html").read_text("utf-8")
    why = page.split('<section id="why">', 1)[1].split("</section>", 1)[0]
    assert "Not available" not in why and "exposure to violence" in why
    assert "People known to more than one agency" in page
