"""The governance commands as a user runs them: policy check, released counts/export/report, purge, audit list."""

from __future__ import annotations

import csv
import json
import re
from datetime import date
from pathlib import Path

import pytest

from hub.cli import main
from hub.mart import audit, connect, init, upsert_events
from hub.policy import example_agreement_path

LSOA, MSOA, LAD = "E01999021", "E02999002", "E06000099"


@pytest.fixture
def mart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'mart.db'}"
    for name in ("HUB_CONFIG", "HUB_AGREEMENT_PATH", "HUB_AUDIT_USER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUB_MART_URL", url)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "run"))
    engine = connect(url)
    init(engine)
    events = []
    for i in range(12):
        events.append({"event_id": f"ev-{i}", "source": "police_incident", "agreement_id": "example-county-svd",
                       "agreement_version": "1.1", "key_id": "k1", "occurred_date": date(2025, 3, 4),
                       "occurred_week": "2025-W10", "occurred_month": "2025-03", "lsoa_code": LSOA,
                       "msoa_code": MSOA, "lad_code": LAD, "offence_category": "violence_with_injury",
                       "persons": []})
    upsert_events(engine, events)
    return url


# --- hub policy check -------------------------------------------------------------------------------

def test_policy_check_prints_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", str(example_agreement_path())]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Agreement example-county-svd version 1.1: Example County Serious Violence Partnership")
    assert "Source police_incident, shared by Example County Police" in out
    assert "narrative: dropped" in out
    assert "Release profiles (what analysts and the public may see; every count perturbed" in out


def test_policy_check_names_file_line_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = example_agreement_path().read_text("utf-8")
    old = "victim_surname: {token: surname, person: victim}"
    line = next(i for i, t in enumerate(text.splitlines(), start=1) if old in t)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(old, "victim_surname: {keep: attributes.surname}"), "utf-8")
    assert main(["policy", "check", str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == (f"error: {bad}:{line}: sources.police_incident.fields.victim_surname: is a "
                                    "direct identifier: it may be dropped, tokenised or generalised, never kept")


def test_policy_check_of_invalid_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("agreement:\n  id: [unclosed\n", "utf-8")
    assert main(["policy", "check", str(bad)]) == 2
    assert re.match(rf"error: {re.escape(str(bad))}:\d+: the agreement: not valid YAML", capsys.readouterr().err)


# --- releases ------------------------------------------------------------------------------------------

def test_counts_without_purpose_is_refused_and_not_recorded(mart: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mart", "counts"]) == 2
    err = capsys.readouterr().err
    assert "release refused: a purpose is required" in err and "sna, hotspot_tasking, linkage" in err
    assert main(["mart", "counts", "--purpose", "marketing"]) == 2
    assert "'marketing' is not declared" in capsys.readouterr().err
    assert audit.releases(connect(mart)) == []


def test_counts_export_report_each_leave_one_audit_row(mart: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_AUDIT_USER", "env.user")
    assert main(["mart", "counts", "--purpose", "sna"]) == 0  # default: every measure, MSOA x month
    assert re.search(rf"police_incidents +{MSOA} .* 2025-03 +all +1[0-4] ", capsys.readouterr().out)
    out = tmp_path / "public.csv"
    assert main(["mart", "export", "--profile", "public", "--purpose", "sna", "--out", str(out),
                 "--user", "cli.user"]) == 0
    assert "sources police_incident;" in capsys.readouterr().out
    with out.open(newline="") as fh:
        (row,) = [r for r in csv.DictReader(fh) if r["area_code"] == MSOA]
    assert (row["measure"], row["period"], row["category"], row["value"] in ("10", "15")) == (
        "police_incidents", "2025-03", "all", True)
    assert main(["mart", "report", "--purpose", "hotspot_tasking", "--geography", "lad"]) == 0
    assert LAD in capsys.readouterr().out
    trail = list(reversed(audit.releases(connect(mart))))
    me = audit.os_user()  # the identity is the OS account (SQLite has no roles), never a stated name
    assert [(r["kind"], r["user_name"], r["profile"], r["purpose"]) for r in trail] == [
        ("query", me, "partnership", "sna"), ("export", me, "public", "sna"),
        ("report", me, "partnership", "hotspot_tasking")]
    assert [json.loads(r["parameters_json"])["stated_user"] for r in trail] == ["env.user", "cli.user", "env.user"]
    assert trail[1]["destination"] == str(out.resolve())
    assert main(["audit", "list"]) == 0
    listing = capsys.readouterr().out
    assert "export:counts" in listing and me in listing and "example-county-svd v1.1" in listing


def test_purge_and_audit_list(mart: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mart", "purge", "--dry-run", "--today", "2030-01-01", "--user", "ops"]) == 0
    assert "would purge 12 events" in capsys.readouterr().out
    assert main(["mart", "purge", "--today", "2030-01-01", "--user", "ops"]) == 0
    assert "purged 12 events" in capsys.readouterr().out
    assert main(["mart", "purge", "--today", "2030-01-01", "--user", "ops"]) == 0
    assert "purged 0 events" in capsys.readouterr().out
    assert main(["audit", "list", "--purges"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "police_incident" in ln]
    assert len(lines) == 3
    assert "dry run" in lines[-1] and "purged" in lines[0]


def test_release_from_a_mart_made_before_the_audit_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from tests.unit.previous_release import create_previous_mart
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = connect(url)
    create_previous_mart(engine, with_audit=False)
    monkeypatch.setenv("HUB_MART_URL", url)
    monkeypatch.delenv("HUB_AGREEMENT_PATH", raising=False)
    assert main(["mart", "counts", "--purpose", "sna", "--user", "u"]) == 2
    err = capsys.readouterr().err
    assert "hub mart init" in err and len(err.strip().splitlines()) == 1
    assert main(["mart", "init"]) == 0
    assert main(["mart", "counts", "--purpose", "sna", "--user", "u"]) == 0
    assert "recorded as release 1" in capsys.readouterr().out
    assert [r["user_name"] for r in audit.releases(engine)] == [audit.os_user()]


def test_connector_load_refuses_a_source_pseudonymised_at_the_source(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """'connector load' sends raw rows to the hub: for a health body's source it must stop before Kafka.

    The bootstrap points at a closed port, so reaching Kafka would fail differently (not with exit 2)."""
    extract = tmp_path / "ed.csv"
    extract.write_text("AttendanceNo\nA1\n", encoding="utf-8")
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    assert main(["connector", "load", "ed_attendance", str(extract)]) == 2
    err = capsys.readouterr().err
    assert "pseudonymised at the source" in err and "hub connector run" in err


def test_never_initialised_mart_gives_one_line_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nowhere" / "mart.db"
    monkeypatch.setenv("HUB_MART_URL", f"sqlite:///{path}")
    monkeypatch.delenv("HUB_AGREEMENT_PATH", raising=False)
    for argv in (["mart", "counts", "--purpose", "sna"], ["audit", "list"], ["mart", "purge"],
                 ["mart", "export", "--purpose", "sna", "--out", str(tmp_path / "x.csv")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "hub mart init" in err and "HUB_MART_URL" in err, err
    assert not path.exists() and not path.parent.exists()


def test_export_xlsx_with_filters_notes_and_neutralised_text(mart: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from openpyxl import load_workbook
    from sqlalchemy import update

    from hub.mart import models
    engine = connect(mart)
    with engine.begin() as conn:  # an area name a spreadsheet would run as a formula
        conn.execute(models.ref_area.insert().values(area_code=MSOA, level="msoa", name="=HYPERLINK(\"x\")",
                                                     parent_code=LAD))
        conn.execute(update(models.ref_area).where(models.ref_area.c.area_code == "E02990001")
                     .values(name="@SUM(A1)"))
    out = tmp_path / "r.xlsx"
    assert main(["mart", "export", "--purpose", "sna", "--out", str(out), "--measure", "police_incidents",
                 "--category", "violence_with_injury", "--from", "2025-03-01", "--to", "2025-03-31"]) == 0
    assert "(xlsx); sources police_incident;" in capsys.readouterr().out
    wb = load_workbook(out)
    assert wb.sheetnames == ["cells", "notes"]
    rows = list(wb["cells"].iter_rows(values_only=True))
    assert rows[0][:3] == ("measure", "area_level", "area_code")
    body = rows[1:]
    assert {r[4] for r in body} == {"2025-03"} and {r[5] for r in body} == {"violence_with_injury"}
    mine = [r for r in body if r[2] == MSOA]
    assert mine and mine[0][3] == "'=HYPERLINK(\"x\")" and isinstance(mine[0][7], int)
    assert any(r[3] == "'@SUM(A1)" for r in body)
    for row in wb["cells"].iter_rows():
        for cell in row:
            assert cell.data_type != "f"  # no formula anywhere
    notes = " ".join(str(r[0]) for r in wb["notes"].iter_rows(values_only=True))
    assert "cell key method" in notes and "threshold 5" in notes and "police_incident" in notes
    csv_out = tmp_path / "r.csv"
    assert main(["mart", "export", "--purpose", "sna", "--out", str(csv_out), "--flag", "knife"]) == 0
    text = csv_out.read_text("utf-8")
    assert "'@SUM(A1)" in text and ",=" not in text and ",@" not in text


def test_release_options_are_checked(mart: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mart", "counts", "--purpose", "sna", "--measure", "nonsense"]) == 2
    assert "unknown measure 'nonsense'" in capsys.readouterr().err
    assert main(["mart", "counts", "--purpose", "sna", "--measure", "probation_caseload", "--period", "week"]) == 2
    assert "probation_caseload is released by month only" in capsys.readouterr().err
    assert main(["mart", "counts", "--purpose", "sna", "--from", "yesterday"]) == 2
    assert "is not a date" in capsys.readouterr().err
    assert main(["mart", "counts", "--purpose", "hotspot_tasking", "--measure", "probation_new_starts"]) == 2
    assert "may not use" in capsys.readouterr().err


def test_reference_load_population(mart: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ons = tmp_path / "sapelsoasyoa.csv"
    ons.write_text("LAD 2021 Code,LAD 2021 Name,LSOA 2021 Code,LSOA 2021 Name,Total,F0,M0\n"
                   f"{LAD},Testshire,{LSOA},Testshire 002A,\"1,500\",10,12\n", "utf-8")
    lookup = tmp_path / "nspl.csv"
    lookup.write_text(f"pcds,lsoa21cd,msoa21cd\nZZ1 1AA,{LSOA},{MSOA}\n", "utf-8")
    assert main(["reference", "load", "population", str(ons), "--year", "2023", "--lookup", str(lookup)]) == 0
    assert "loaded 1 LSOAs" in capsys.readouterr().out
    assert main(["mart", "counts", "--purpose", "sna", "--measure", "police_incidents", "--geography", "lsoa"]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"{LSOA} +Testshire 002A .* 2025-03 +violence_with_injury +1[0-4] +[0-9.]+", out), out
    bad = tmp_path / "bad.csv"
    bad.write_text("LSOA 2021 Code,Total\nNOTACODE,12\n", "utf-8")
    assert main(["reference", "load", "population", str(bad), "--year", "2023"]) == 2
    assert "line 2: NOTACODE is not an LSOA code" in capsys.readouterr().err
