"""Alerts on a real broker with the worker as a real process: homicide-review triggers exactly once."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from hub import kafka_admin
from hub.alerts.rules import default_rules_path
from hub.connectors import default_mapping_path, load_mapping
from hub.connectors.load import publish_file
from hub.mart import connect, reviews
from hub.pseudonymisation import KeyRing, PostcodeLookup, save_key_file
from hub.schemas import default_repository
from hub.streams.alerts import by_area_topic
from hub.streams.lag import wait_until_drained
from hub.streams.process import WorkerProcess
from hub.synth.geography import build_county, write_lookup
from hub.topics import Topics
from tests.integration.pipeline import metric_value, metrics_text

pytestmark = pytest.mark.integration

STAGES = "pseudonymise,sink,alerts"
HEADER = ["CrimeRef", "HOOffenceCode", "OffenceDescription", "OccurredFrom", "OccurredTo", "ReportedDate",
          "LocationPostcode", "LocationLSOA", "VictimForename", "VictimSurname", "VictimDOB", "VictimSex",
          "SuspectForename", "SuspectSurname", "SuspectDOB", "SuspectSex", "DomesticAbuseFlag", "KnifeFlag",
          "FirearmFlag", "AlcoholFlag", "OutcomeCode", "Narrative"]


def homicide(ref: str, victim_dob: str, knife: str, firearm: str = "N", code: str = "1") -> dict[str, str]:
    return {"CrimeRef": ref, "HOOffenceCode": code, "OccurredFrom": "14/06/2025 23:10",
            "LocationLSOA": build_county().lsoas[0].code, "VictimForename": "Alan", "VictimSurname": "Testcase",
            "VictimDOB": victim_dob, "VictimSex": "M", "KnifeFlag": knife, "FirearmFlag": firearm,
            "DomesticAbuseFlag": "N"}


def write_extract(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=HEADER, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def run_worker_until_drained(settings, name: str) -> WorkerProcess:  # type: ignore[no-untyped-def]
    worker = WorkerProcess(settings, settings.data_dir / f"{name}.log", stages=STAGES).start()
    worker.wait_started(120)
    t = Topics(settings.topic_prefix)
    wait_until_drained(settings, settings.app_id, [t.raw("police_incident"), t.shared, by_area_topic(settings)], 180)
    return worker


def test_a_qualifying_homicide_raises_one_alert_and_one_register_entry(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lookup = tmp_path / "lookup.csv"
    write_lookup(build_county(), lookup)
    keys = tmp_path / "keys.json"
    save_key_file(KeyRing.generate(), keys)
    hooked = tmp_path / "notified.jsonl"
    rules = yaml.safe_load(default_rules_path().read_text("utf-8"))
    rules["owhr"]["notify"]["command"] = [sys.executable, "-c", "import sys; open(sys.argv[1], 'a').write("
                                          "sys.stdin.read() + chr(10))", str(hooked)]
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump(rules), encoding="utf-8")
    settings = settings.model_copy(update={"keys_file": keys, "postcode_lookup": lookup, "alert_rules": rules_file})
    extract = write_extract(tmp_path / "homicides.csv", [
        homicide("CR-OWHR-1", "01/02/1990", knife="Y"),   # adult, knife: qualifies
        homicide("CR-OWHR-2", "01/09/2007", knife="Y"),   # victim 17 on the day: a child death review instead
        homicide("CR-OWHR-3", "01/02/1990", knife="N"),   # adult, no offensive weapon recorded
    ])
    kafka_admin.ensure_topics(settings, ["police_incident"])
    mapping = load_mapping(default_mapping_path("police_incident"), PostcodeLookup.from_csv(lookup))
    first = publish_file(settings, mapping, extract)
    again = publish_file(settings, mapping, extract)  # the connector re-run: the qualifying case arrives twice
    assert first.published == again.published == 3

    worker = run_worker_until_drained(settings, "worker")
    try:
        assert metric_value(metrics_text(settings), "svh_homicide_review_alerts_total") == 1
    finally:
        worker.stop()
    # A second stream run over everything (a new consumer group replays svh.shared from the start).
    rerun = settings.model_copy(update={"app_id": settings.app_id + "-rerun"})
    worker = run_worker_until_drained(rerun, "rerun")
    try:
        assert metric_value(metrics_text(rerun), "svh_homicide_review_alerts_total") == 0
    finally:
        worker.stop()

    from hub.kafka_read import read_topic
    alerts = read_topic(settings, Topics(settings.topic_prefix).alerts)
    schemas = default_repository()
    decoded = [schemas.decode(m.value or b"")[1] for m in alerts]
    owhr = [a for a in decoded if a["kind"] == "owhr"]
    assert len(owhr) == 1
    cases = reviews.list_cases(connect(settings.mart))
    assert len(cases) == 1
    case = cases[0]
    assert case["case_ref"] == owhr[0]["case_ref"]
    assert case["status"] == "to_consider" and case["weapons"] == "knife" and case["victim_age_band"] == "35-44"
    assert case["alert_sent_at"] is not None
    assert "CR-OWHR" not in repr(case) + repr(owhr)  # the case reference is a token, never the crime ref
    notified = [json.loads(line) for line in hooked.read_text("utf-8").splitlines()]
    assert [n["alert_id"] for n in notified] == [owhr[0]["alert_id"]]  # the hook ran once, with the alert
    assert case["notified_at"] is not None


def assault(ref: str, day: date, lsoa: str) -> dict[str, str]:
    return {"CrimeRef": ref, "HOOffenceCode": "8N", "OccurredFrom": f"{day:%d/%m/%Y} 22:30", "LocationLSOA": lsoa,
            "VictimDOB": "01/02/1990", "VictimSex": "M", "KnifeFlag": "N", "FirearmFlag": "N",
            "DomesticAbuseFlag": "N"}


def test_a_planted_spike_is_detected_within_its_week(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    county = build_county()
    spot, steady = county.lsoas[10].code, county.lsoas[20].code
    lookup = tmp_path / "lookup.csv"
    write_lookup(county, lookup)
    keys = tmp_path / "keys.json"
    save_key_file(KeyRing.generate(), keys)
    settings = settings.model_copy(update={"keys_file": keys, "postcode_lookup": lookup})
    monday = date(2025, 1, 6)  # ISO week 2025-W02
    background = [assault(f"BG-{w}", monday + timedelta(weeks=w, days=w % 5), spot) for w in range(8)]
    background += [assault(f"ST-{w}-{i}", monday + timedelta(weeks=w, days=i * 2), steady)
                   for w in range(9) for i in range(2)]
    spike = [assault(f"SP-{i}", monday + timedelta(weeks=8, days=i % 7), spot) for i in range(8)]  # 2025-W10
    kafka_admin.ensure_topics(settings, ["police_incident"])
    mapping = load_mapping(default_mapping_path("police_incident"), PostcodeLookup.from_csv(lookup))
    publish_file(settings, mapping, write_extract(tmp_path / "background.csv", background))
    worker = run_worker_until_drained(settings, "worker")
    try:
        t = Topics(settings.topic_prefix)
        publish_file(settings, mapping, write_extract(tmp_path / "spike.csv", spike))
        wait_until_drained(settings, settings.app_id, [t.raw("police_incident"), t.shared, by_area_topic(settings)],
                           180)
        assert metric_value(metrics_text(settings), "svh_hotspot_alerts_total", area_level="lsoa") == 1
    finally:
        worker.stop()
    from hub.kafka_read import read_topic
    schemas = default_repository()
    alerts = [schemas.decode(m.value or b"")[1] for m in read_topic(settings, Topics(settings.topic_prefix).alerts)]
    spots = [a for a in alerts if a["kind"] == "hotspot"]
    assert [(a["area_code"], a["iso_week"]) for a in spots] == [(spot, "2025-W10")]
    assert spots[0]["count"] >= 5 and spots[0]["baseline"] <= 1.5
    logged = reviews.hotspots_between(connect(settings.mart), date(2025, 1, 1), date(2025, 12, 31))
    assert [(r["area_code"], r["iso_week"]) for r in logged] == [(spot, "2025-W10")]
