"""The ops toolkit against a real Prometheus (Debian's package): promtool checks and unit-tests every alert
rule; Prometheus scrapes a running worker and a running connector; every query of the Grafana dashboard
evaluates against it and names metrics the hub really exports."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.demo import SOURCE
from hub.synth import generate_police_extract
from tests.integration.pipeline import drain, start_worker, with_pipeline_files
from tests.integration.prometheus import REPO, RULES, Prometheus, ensure_installed
from tests.integration.test_connector_service import archived, drop, file_drop_connector, wait_for
from tests.plugins.services import free_port

pytestmark = pytest.mark.integration

PROM_DIR = REPO / "deploy" / "prometheus"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "svh-hub.json"
# Metrics another process family exports; checked as soon as hub/metrics.py registers them.
EXPORTED_ELSEWHERE = {"svh_homicide_review_alerts_total"}


@pytest.fixture(scope="module")
def promtool() -> str:
    ensure_installed()
    return "promtool"


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text("utf-8"))
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def dashboard_queries() -> list[tuple[str, str]]:
    doc = json.loads(DASHBOARD.read_text("utf-8"))
    return [(p["title"], t["expr"]) for p in doc["panels"] for t in p.get("targets", [])]


def test_promtool_checks_the_config_and_the_rules(promtool: str) -> None:
    for args in (["check", "config", str(PROM_DIR / "prometheus.yml")],
                 ["check", "config", str(PROM_DIR / "prometheus.compose.yml")],
                 ["check", "rules", str(RULES)]):
        done = subprocess.run([promtool, *args], capture_output=True, text=True, cwd=PROM_DIR)
        assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests_pass_and_make_every_alert_fire(promtool: str) -> None:
    done = subprocess.run([promtool, "test", "rules", "alerts.test.yml"], capture_output=True, text=True,
                          cwd=PROM_DIR)
    assert done.returncode == 0, done.stdout + done.stderr
    tests = yaml.safe_load((PROM_DIR / "alerts.test.yml").read_text("utf-8"))["tests"]
    fired = {case["alertname"] for t in tests for case in t.get("alert_rule_test", []) if case.get("exp_alerts")}
    names = {r["alert"] for r in alert_rules()}
    assert names - fired == set(), "alerts with no promtool case where they fire"
    required = {"SvhWorkerDown", "SvhConsumerLagGrowing", "SvhDeadLetterRateHigh", "SvhMartWriteFailing",
                "SvhConnectorKafkaUnreachable", "SvhSourceSilent", "SvhHomicideReviewRaised"}
    assert required <= names


def test_every_alert_has_a_runbook_line_in_the_rules_and_in_docs() -> None:
    ops = (REPO / "docs" / "ops.md").read_text("utf-8")
    for rule in alert_rules():
        assert rule["annotations"].get("runbook"), f"{rule['alert']} has no runbook annotation"
        assert re.search(rf"^\| `{rule['alert']}` \|", ops, re.M), f"{rule['alert']} has no row in docs/ops.md"


@pytest.fixture(scope="module")
def scraped(promtool: str, tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Any]:
    """A worker and a file-drop connector, both running, both scraped by Prometheus every second."""
    from hub.config import load_settings
    from tests.plugins.services import unique

    tmp = tmp_path_factory.mktemp("prom")
    prefix = unique("prom")
    settings = load_settings({}, data_dir=tmp / "run", kafka_bootstrap=kafka_bootstrap, topic_prefix=prefix,
                             app_id=f"{prefix}-worker", metrics_port=free_port(), topic_partitions=2)
    manifest = generate_police_extract(tmp / "data", seed=3, incidents=400)
    settings = with_pipeline_files(settings, manifest)
    root = tmp / "conn"
    connector = file_drop_connector(settings, root, manifest).start()
    worker = None
    prom = Prometheus(tmp / "prometheus", free_port(), {
        "svh-worker": [f"127.0.0.1:{settings.metrics_port}"],
        "svh-connector": [f"127.0.0.1:{connector.health_port}"]})
    try:
        connector.wait_healthy()
        worker = start_worker(settings)
        prom.start()
        started = time.time()
        drop(root, manifest)
        wait_for(lambda: archived(root), 120, "the connector never archived the file", 0.2)
        drain(settings)
        yield prom, settings, manifest
        out = os.environ.get("HUB_TEST_DASHBOARD_PNG")  # regenerate docs/img/dashboard.png
        if out:  # a second, bigger load a little later, so the picture shows the pipeline at work
            import runpy
            import shutil
            more = generate_police_extract(tmp / "data2", seed=4, incidents=3000)
            time.sleep(20)
            shutil.copyfile(more.extract_csv, root / "inbox" / "crimes-2.csv")
            os.utime(root / "inbox" / "crimes-2.csv", (time.time() - 60, time.time() - 60))
            wait_for(lambda: (root / "inbox" / "archive" / "crimes-2.csv").exists(), 300, "second file", 0.5)
            drain(settings)
            time.sleep(20)
            render = runpy.run_path(str(REPO / "deploy" / "grafana" / "render_panels.py"))["render"]
            render(prom.url, Path(out), start=started - 5)
    finally:
        prom.stop()
        connector.kill()
        if worker is not None:
            worker.stop()


def test_prometheus_scrapes_the_worker_and_the_connector(scraped: Any) -> None:
    prom, settings, manifest = scraped
    prom.wait_for('up{job="svh-worker"} == 1', what="worker scraped")
    prom.wait_for('up{job="svh-connector"} == 1', what="connector scraped")
    read = prom.wait_for(f'svh_records_read_total{{job="svh-connector", source="{SOURCE}"}} == {manifest.rows_total}',
                         what="the connector's count of the whole file")
    assert len(read) == 1
    # The lag metric: per stage and partition, and zero once the pipeline has drained.
    lag = prom.wait_for('svh_consumer_lag_messages{job="svh-worker"}', what="lag exported")
    assert {(s["metric"]["stage"], s["metric"]["partition"]) for s in lag} >= {
        ("pseudonymise", "0"), ("pseudonymise", "1"), ("sink", "0"), ("sink", "1")}
    prom.wait_for('max(svh_consumer_lag_messages{job="svh-worker"}) == 0', what="lag back to zero after the drain")
    emitted = prom.wait_for(
        f'sum(svh_stage_processed_total{{job="svh-worker", stage="sink", outcome="emitted"}}) == {manifest.rows_valid}',
        what="every valid row reached the mart")
    assert emitted
    # The rules are loaded and evaluate without error against the real series.
    groups = prom.api("rules")["groups"]
    loaded = {r["name"]: r for g in groups for r in g["rules"]}
    assert {r["alert"] for r in alert_rules()} <= set(loaded)
    bad = {name: r.get("lastError") for name, r in loaded.items() if r.get("health") == "err"}
    assert bad == {}


def test_every_dashboard_query_runs_against_prometheus_and_names_exported_metrics(scraped: Any) -> None:
    from hub import metrics

    prom, _, _ = scraped
    prom.wait_for('up{job="svh-connector"} == 1', what="connector scraped")
    exported = set(prom.api("label/__name__/values")) | {
        m for target in prom.api("targets/metadata", match_target='{job=~"svh-.*"}') for m in [target["metric"]]}
    families = list(metrics.REGISTRY.collect())
    registered = {f.name for f in families} | {f"{f.name}_total" for f in families if f.type == "counter"}
    queries = dashboard_queries()
    assert len(queries) >= 10
    for title, expr in queries:
        prom.query(expr)  # raises with Prometheus's parse or evaluation error
        for name in re.findall(r"\bsvh_[a-z0-9_]+", expr):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if name in EXPORTED_ELSEWHERE and name not in registered:
                continue
            assert name in exported or base in exported, f"panel {title!r}: {name} is not exported by the hub"
    # Panels that must show data after a run with malformed rows.
    for expr in ('sum by (stage) (rate(svh_stage_processed_total{outcome="emitted"}[5m]))',
                 'sum by (source, stage, error) (increase(svh_records_dead_lettered_total[1h]))',
                 'max by (stage, topic, partition) (svh_consumer_lag_messages)'):
        assert expr in {e for _, e in queries}
        prom.wait_for(expr, what=f"dashboard query {expr}")


def test_the_dashboard_is_provisioned_with_the_data_source_it_names() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text("utf-8"))
    grafana = compose["services"]["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"] if v.startswith("./")}
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    provider = yaml.safe_load((REPO / "deploy/grafana/provisioning/dashboards/svh.yml").read_text("utf-8"))
    path = provider["providers"][0]["options"]["path"]
    assert mounts[path] == "./deploy/grafana/dashboards" and DASHBOARD.parent == REPO / "deploy/grafana/dashboards"
    source = yaml.safe_load((REPO / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text("utf-8"))
    uid = source["datasources"][0]["uid"]
    doc = json.loads(DASHBOARD.read_text("utf-8"))
    assert {p["datasource"]["uid"] for p in doc["panels"]} == {uid}
    assert Path(REPO / "deploy/prometheus/prometheus.compose.yml").exists()
