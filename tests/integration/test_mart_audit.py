"""Releases from the mart and retention purges, audited, on SQLite and on a real PostgreSQL (fresh schema).

Every release path records exactly one audit row naming who, what, when, purpose, profile, agreement
version and the sources in it, and stores its cells in the released layer; releases apply the cell
key method with the profile's finest geography, thresholds and rounding; the
audit tables refuse UPDATE and DELETE; the purge removes what retention no longer allows, is
idempotent, and is audited with counts per source.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from hub.mart import audit, cellkey, connect, count_events, init, models, released, store, upsert_events
from hub.mart import release as release_mod
from hub.mart.audit import ReleaseContext
from hub.mart.output import export
from hub.mart.release import release
from hub.mart.report import incident_report
from hub.mart.retention import purge
from hub.policy import Agreement, ReleaseRefused, example_agreement_path, load_agreement

LAD = "E06000099"
MSOA_1, MSOA_2 = "E02999001", "E02999002"
LSOA_1A, LSOA_1B, LSOA_2A = "E01999011", "E01999012", "E01999021"
PARENT = {LSOA_1A: MSOA_1, LSOA_1B: MSOA_1, LSOA_2A: MSOA_2}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = connect(f"sqlite:///{tmp_path / 'mart.db'}")
        init(eng)
        yield eng
        eng.dispose()
        return
    from tests.plugins.services import postgres_schema
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        eng = connect(url)
        init(eng)
        yield eng
        eng.dispose()


@pytest.fixture(scope="module")
def agreement() -> Agreement:
    return load_agreement(example_agreement_path())


def event(n: int, lsoa: str | None, category: str, day: date, source: str = "police_incident",
          people: int = 1) -> dict[str, Any]:
    iso = day.isocalendar()
    return {"event_id": f"ev-{source[:3]}-{n:06d}", "source": source, "agreement_id": "example-county-svd",
            "agreement_version": "1.1", "key_id": "k1", "occurred_date": day,
            "occurred_week": f"{iso[0]}-W{iso[1]:02d}", "occurred_month": f"{day.year}-{day.month:02d}",
            "occurred_hour": 12, "lsoa_code": lsoa, "msoa_code": PARENT.get(lsoa or ""), "lad_code": LAD,
            "offence_code": "8N", "offence_category": category, "flags": {}, "attributes": {},
            "persons": [{"role": "victim", "age_band": "18-24", "sex": "F", "tokens": {}}] * people}


WEEK_DAY = date(2025, 3, 4)  # ISO week 2025-W10


def load_counts(engine: Engine, spec: dict[tuple[str, str], int], source: str = "police_incident",
                start: int = 0) -> int:
    """``spec[(lsoa, category)] = n`` incidents, all in week 2025-W10."""
    events, i = [], start
    for (lsoa, category), n in spec.items():
        for _ in range(n):
            events.append(event(i, lsoa, category, WEEK_DAY, source))
            i += 1
    upsert_events(engine, events)
    return i


def audit_rows(engine: Engine) -> list[dict[str, Any]]:
    return list(reversed(audit.releases(engine)))


def ctx(agreement: Agreement, purpose: str | None = "sna", profile: str = "partnership",
        user: str | None = "analyst.one") -> ReleaseContext:
    return ReleaseContext.create(agreement, purpose, profile, user, environ={})


# --- refusals ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("purpose,profile,match", [
    (None, "partnership", "a purpose is required"),
    ("marketing", "partnership", "'marketing' is not declared"),
    ("sna", "press", "no release profile 'press'"),
])
def test_release_without_a_declared_purpose_or_profile_is_refused(
        engine: Engine, agreement: Agreement, purpose: str | None, profile: str, match: str) -> None:
    with pytest.raises(ReleaseRefused, match=match):
        ctx(agreement, purpose, profile)
    assert audit_rows(engine) == []


def test_purpose_no_source_grants_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(example_agreement_path().read_text("utf-8"))
    for spec in data["sources"].values():  # linkage stays declared, but no source grants it
        spec["purposes"] = [p for p in spec["purposes"] if p != "linkage"]
    narrowed = load_agreement(tmp_path / "a.yaml", text=yaml.safe_dump(data))
    assert "linkage" in narrowed.purposes and narrowed.sources_for("linkage") == ()
    with pytest.raises(ReleaseRefused, match="may be used for 'linkage'"):
        ctx(narrowed, "linkage")


# --- one audit row per release, with who, what, when, purpose, profile, agreement ----------------------

def keys_of(spec: dict[tuple[str, str], int], start: int = 0, source: str = "police_incident") -> dict[
        tuple[str, str], list[int]]:
    """The record keys load_counts gives each (lsoa, category), in the same order."""
    out, i = {}, start
    for k, n in spec.items():
        out[k] = [cellkey.record_key(f"ev-{source[:3]}-{j:06d}") for j in range(i, i + n)]
        i += n
    return out


def expected(keys: list[int], threshold: int, rounding: int = 0) -> int | None:
    return cellkey.protect_cell(len(keys), cellkey.cell_key(keys), threshold, rounding).value


def mine(table: release_mod.ReleasedTable) -> dict[tuple[str, str, str, bool], int | None]:
    """The test's own areas (the mart also holds the shipped county's, all empty here)."""
    ours = {LAD, MSOA_1, MSOA_2, LSOA_1A, LSOA_1B, LSOA_2A}
    return {(r.area_level, r.area_code, r.category, r.sensitive): r.value for r in table.rows if r.area_code in ours}


SPEC = {(LSOA_1A, "violence_with_injury"): 7, (LSOA_1B, "violence_with_injury"): 2,
        (LSOA_2A, "violence_with_injury"): 12, (LSOA_2A, "sexual_offences"): 11}


def test_query_records_one_audit_row_and_stores_the_cells(engine: Engine, agreement: Agreement) -> None:
    load_counts(engine, SPEC)
    table = release(engine, ctx(agreement), "police_incidents", "lsoa", "week")
    rows = audit_rows(engine)
    assert len(rows) == 1
    row = rows[0]
    assert row["release_id"] == table.release_id
    assert (row["user_name"], row["kind"], row["name"], row["purpose"], row["profile"]) == (
        who(engine), "query", "police_incidents", "sna", "partnership")
    assert json.loads(row["parameters_json"])["stated_user"] == "analyst.one"  # a claim, beside the identity
    assert (row["agreement_id"], row["agreement_version"]) == (agreement.id, agreement.version)
    assert row["audience"] == agreement.release_profile("partnership").audience
    assert row["rows_released"] == len(table.rows)
    assert row["cells_suppressed"] == table.cells_suppressed
    assert row["sources"] == "police_incident" == ",".join(table.sources)  # the sources actually in it
    assert row["destination"] == "stdout"
    assert row["released_at"] is not None
    # ...and the same cells are in the released layer, what analysts read
    rel = released.engine_for(engine.url.render_as_string(hide_password=False),
                              store.layout_of(engine).released_schema)
    with rel.connect() as conn:
        stored = conn.execute(select(released.released_cell.c.area_code, released.released_cell.c.category,
                                     released.released_cell.c.value)
                              .where(released.released_cell.c.release_id == table.release_id)).all()
        (meta,) = conn.execute(select(released.released_table)).all()
    rel.dispose()
    assert sorted((a, c, v) for a, c, v in stored) == sorted((r.area_code, r.category, r.value) for r in table.rows)
    assert meta.sources == "police_incident" and "cell key" in meta.method
    # A second release is a second row; nothing is overwritten.
    release(engine, ctx(agreement, "hotspot_tasking", user="analyst.two"), "police_incidents", period="month")
    assert [(r["user_name"], json.loads(r["parameters_json"])["stated_user"], r["purpose"])
            for r in audit_rows(engine)] == [(who(engine), "analyst.one", "sna"),
                                             (who(engine), "analyst.two", "hotspot_tasking")]
    assert '"period": "month"' in audit_rows(engine)[1]["parameters_json"]


def test_partnership_profile_perturbs_suppresses_and_coarsens_sensitive(engine: Engine,
                                                                       agreement: Agreement) -> None:
    load_counts(engine, SPEC)
    keys = keys_of(SPEC)
    got = mine(release(engine, ctx(agreement), "police_incidents", "lsoa", "week"))
    vwi = "violence_with_injury"
    assert got[("lsoa", LSOA_1A, vwi, False)] == expected(keys[(LSOA_1A, vwi)], 5)
    assert got[("lsoa", LSOA_1B, vwi, False)] is None  # 2: below the threshold whatever the noise
    assert abs((got[("lsoa", LSOA_2A, vwi, False)] or 0) - 12) <= cellkey.SVH_PTABLE.max_noise
    assert got[("lsoa", LSOA_2A, vwi, False)] == expected(keys[(LSOA_2A, vwi)], 5)
    # sexual offences: the sensitive rules allow MSOA at the finest, threshold 10; never at LSOA
    assert got[("msoa", MSOA_2, "sexual_offences", True)] == expected(keys[(LSOA_2A, "sexual_offences")], 10)
    assert not [k for k in got if k[0] == "lsoa" and k[3]]


def test_public_profile_aggregates_to_msoa_and_rounds(engine: Engine, agreement: Agreement) -> None:
    spec = {(LSOA_1A, "violence_with_injury"): 7, (LSOA_1B, "violence_with_injury"): 6,
            (LSOA_2A, "violence_with_injury"): 4, (LSOA_2A, "sexual_offences"): 11}
    load_counts(engine, spec)
    keys = keys_of(spec)
    public = ctx(agreement, profile="public")
    for geography in ("lsoa", "msoa"):  # asking for LSOA never gives finer than the profile allows
        table = release(engine, public, "police_incidents", geography, "week")
        got = mine(table)
        assert {k[0] for k in got if not k[3]} == {"msoa"} and {k[0] for k in got if k[3]} == {"lad"}
        msoa_1 = keys[(LSOA_1A, "violence_with_injury")] + keys[(LSOA_1B, "violence_with_injury")]
        assert got[("msoa", MSOA_1, "violence_with_injury", False)] == expected(msoa_1, 10, 5)
        assert got[("msoa", MSOA_2, "violence_with_injury", False)] is None  # 4 < 10
        assert got[("lad", LAD, "sexual_offences", True)] == expected(keys[(LSOA_2A, "sexual_offences")], 10, 5)
        assert all(r.value is None or r.value % 5 == 0 for r in table.rows)
    assert len(audit_rows(engine)) == 2
    assert json.loads(audit_rows(engine)[0]["parameters_json"])["geography"] == "lsoa"


def test_same_records_same_value_in_every_release(engine: Engine, agreement: Agreement) -> None:
    """The cell key is fixed by the records: another purpose, filter or format cannot re-draw the noise."""
    load_counts(engine, SPEC)
    cell = ("lsoa", LSOA_2A, "violence_with_injury", False)
    values = {mine(release(engine, ctx(agreement, p), "police_incidents", "lsoa", "week", f))[cell]
              for p in ("sna", "hotspot_tasking")
              for f in (None, release_mod.Filters(age_bands=("18-24",)),
                        release_mod.Filters(date_from=WEEK_DAY, date_to=WEEK_DAY))}
    assert len(values) == 1


def test_only_sources_granted_for_the_purpose_are_released(engine: Engine, agreement: Agreement) -> None:
    end = load_counts(engine, {(LSOA_2A, "violence_with_injury"): 12})
    # Rows of a source the agreement does not cover (or not for this purpose) never contribute.
    load_counts(engine, {(LSOA_2A, "violence_with_injury"): 30}, source="not_in_agreement", start=end)
    table = release(engine, ctx(agreement), geography="lsoa", period="week")
    assert [(r.area_code, r.measure) for r in table.rows if r.value is not None] == [
        (LSOA_2A, "police_incidents")]
    assert audit_rows(engine)[0]["sources"] == "police_incident"


def test_export_writes_csv_and_records_it(engine: Engine, agreement: Agreement, tmp_path: Path) -> None:
    load_counts(engine, {(LSOA_1A, "violence_with_injury"): 3, (LSOA_2A, "violence_with_injury"): 12})
    out = tmp_path / "out" / "released.csv"
    table = release(engine, ctx(agreement), "police_incidents", "lsoa", "week", kind="export",
                    destination=str(out))
    export(table, out)
    with out.open(newline="", encoding="utf-8") as fh:
        got = {r["area_code"]: r["value"] for r in csv.DictReader(fh)}
    assert got[LSOA_1A] == "*" and abs(int(got[LSOA_2A]) - 12) <= 2
    (row,) = audit_rows(engine)
    assert (row["kind"], row["destination"], row["rows_released"], row["cells_suppressed"]) == (
        "export", str(out), len(table.rows), table.cells_suppressed)


def test_report_is_audited(engine: Engine, agreement: Agreement) -> None:
    load_counts(engine, {(LSOA_2A, "violence_with_injury"): 12})
    text_ = incident_report(engine, ctx(agreement, "hotspot_tasking"), "lsoa")
    assert LSOA_2A in text_ and "2025-03" in text_
    (row,) = audit_rows(engine)
    assert (row["kind"], row["purpose"], row["destination"]) == ("report", "hotspot_tasking", "report")


def test_audit_tables_are_append_only(engine: Engine, agreement: Agreement) -> None:
    release(engine, ctx(agreement))
    purge(engine, agreement, "ops", dry_run=True)
    for table in models.AUDIT_TABLES:
        for statement in (f"UPDATE {table} SET user_name = 'someone else'", f"DELETE FROM {table}"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
    assert [r["user_name"] for r in audit_rows(engine)] == [who(engine)]
    init(engine)  # re-initialising keeps the trail and the triggers
    assert len(audit_rows(engine)) == 1 and len({r["run_id"] for r in audit.purges(engine)}) == 1
    with pytest.raises(DBAPIError), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_release"))


def test_who_is_recorded() -> None:
    assert audit.resolve_user("  alice ", {"HUB_AUDIT_USER": "bob"}) == "alice"  # a stated name, noted only
    assert audit.resolve_user(None, {"HUB_AUDIT_USER": "bob"}) == "bob"
    assert audit.resolve_user(None, {}) == audit.resolve_user("", {"HUB_AUDIT_USER": " "}) == audit.os_user()


def who(engine: Engine) -> str:
    """The identity the audit trail must record: the database role and OS account, not a stated name."""
    with engine.connect() as conn:
        return audit.identity(conn)


# --- retention --------------------------------------------------------------------------------------

TODAY = date(2026, 6, 30)


def test_purge_deletes_expired_events_and_people_and_is_idempotent(engine: Engine, agreement: Agreement) -> None:
    keep_days = agreement.source("police_incident").retention_days
    cutoff = TODAY - timedelta(days=keep_days)
    upsert_events(engine, [
        event(1, LSOA_1A, "violence_with_injury", cutoff - timedelta(days=400), people=2),
        event(2, LSOA_1A, "violence_with_injury", cutoff - timedelta(days=1), people=1),
        event(3, LSOA_1A, "violence_with_injury", cutoff, people=2),  # exactly retention_days old: kept
        event(4, LSOA_1A, "violence_with_injury", TODAY, people=1),
        dict(event(5, LSOA_1A, "violence_with_injury", TODAY), occurred_date=None),  # undated: kept, counted
        event(6, LSOA_1A, "violence_with_injury", date(2001, 1, 1), source="not_in_agreement"),
    ])
    dry = purge(engine, agreement, "ops.one", TODAY, dry_run=True)
    assert count_events(engine) == 6
    run = purge(engine, agreement, "ops.one", TODAY)
    assert dry.rows == run.rows
    police = next(r for r in run.rows if r.source == "police_incident")
    assert (police.events_deleted, police.persons_deleted, police.events_undated) == (2, 3, 1)
    assert police.cutoff_date == cutoff and police.retention_days == keep_days
    orphan = next(r for r in run.rows if r.source == "not_in_agreement")
    assert (orphan.retention_days, orphan.events_deleted) == (None, 0)  # no agreement: reported, not guessed
    with engine.connect() as conn:
        left = sorted(conn.execute(select(models.event.c.event_id)).scalars())
        people = conn.execute(select(func.count()).select_from(models.event_person)).scalar_one()
    assert left == ["ev-not-000006", "ev-pol-000003", "ev-pol-000004", "ev-pol-000005"]
    assert people == 2 + 1 + 1 + 1
    again = purge(engine, agreement, "ops.two", TODAY)
    assert again.events_deleted == 0 and count_events(engine) == 4
    trail = list(reversed(audit.purges(engine)))
    runs = [r["run_id"] for r in trail]
    assert len(set(runs)) == 3 and runs == sorted(runs, key=runs.index)
    first = [r for r in trail if r["run_id"] == dry.run_id]
    assert all(r["dry_run"] for r in first) and {r["source"] for r in first} >= {"police_incident",
                                                                                "not_in_agreement"}
    applied = next(r for r in trail if r["run_id"] == run.run_id and r["source"] == "police_incident")
    assert (applied["events_deleted"], applied["persons_deleted"], applied["user_name"], applied["dry_run"]) == (
        2, 3, who(engine), False)
    assert str(applied["cutoff_date"]) == cutoff.isoformat()
    assert "police_incident: keep" in run.summary() and "would purge 2 events" in dry.summary()


def test_purge_of_an_empty_mart_is_still_audited(engine: Engine, agreement: Agreement) -> None:
    run = purge(engine, agreement, "ops", TODAY)
    assert run.events_deleted == 0
    assert {r["run_id"] for r in audit.purges(engine)} == {run.run_id}
