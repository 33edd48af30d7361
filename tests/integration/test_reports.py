"""The SNA and assurance reports from a demo-like mart (every source, a synthetic year), on SQLite and
PostgreSQL: charts and map present, nothing below the release threshold shown, every build audited,
and each page rendered without errors in headless Chromium (Debian's package; installed if missing)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from hub.mart import connect, models
from hub.mart.audit import ReleaseContext
from hub.policy import example_agreement_path, load_agreement
from hub.reports.assurance import build_assurance
from hub.reports.browser import render_check
from hub.reports.sna import build_sna
from hub.synth.sample_mart import fill

pytestmark = pytest.mark.postgres


@dataclass
class Mart:
    engine: Engine
    workdir: Path


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def mart(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mart]:
    workdir = tmp_path_factory.mktemp(f"reports-{request.param}")
    if request.param == "sqlite":
        engine = connect(f"sqlite:///{workdir / 'mart.db'}")
        fill(engine, workdir / "extracts", incidents=1500, scale=0.6)
        yield Mart(engine, workdir)
        return
    from tests.plugins.services import postgres_schema
    url = request.getfixturevalue("postgres_url")
    with postgres_schema(url) as schema_url:
        engine = connect(schema_url)
        fill(engine, workdir / "extracts", incidents=1500, scale=0.6)
        yield Mart(engine, workdir)
        engine.dispose()


def context() -> ReleaseContext:
    return ReleaseContext.create(load_agreement(example_agreement_path()), "sna", "partnership", user="report-test")


def audit_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(models.audit_release)).scalar_one())


def shown_counts(page: str) -> list[str]:
    return re.findall(r'<td class="count">([^<]*)</td>', page)


def assert_nothing_below_threshold(page: str, threshold: int) -> None:
    values = shown_counts(page)
    assert values, "the report shows no counts"
    small = [v for v in values if v not in ("*", "0") and int(v.replace(",", "")) < threshold]
    assert not small, small
    assert "*" in values  # disclosure control did suppress something in a year of county data


def test_sna_has_its_charts_and_map_shows_nothing_small_and_is_audited(mart: Mart) -> None:
    out = mart.workdir / "sna.html"
    before = audit_rows(mart.engine)
    ctx = context()
    build = build_sna(mart.engine, ctx, date(2025, 1, 1), date(2025, 12, 31), out)
    page = out.read_text("utf-8")
    assert audit_rows(mart.engine) - before == len(build.release_ids) >= 10
    assert 'alt="choropleth map of violence rates"' in page
    assert page.count("<img ") >= 8 and page.count("data:image/png;base64,") == page.count("<img ")
    for section in ("where", "what", "when", "who", "why", "hidden", "risk", "response", "alerts"):
        assert f'<section id="{section}">' in page
    assert "Not available until" in page  # linkage-based sections are labelled, not silently empty
    # hidden violence from the stored ED-police matches: the sample county's ED has a known police overlap
    # (40% of attendances are police assaults), so the share unknown to the police is neither 0 nor 100%
    share = re.search(r"Over the period, (\d+)% of released ED assault attendances had no matching police", page)
    assert share is not None and 45 <= int(share.group(1)) <= 75, share
    assert_nothing_below_threshold(page, ctx.profile.standard.threshold)
    assert "http://" not in page and "https://" not in page  # self-contained


def test_assurance_has_its_evidence_shows_nothing_small_and_is_audited(mart: Mart) -> None:
    build_sna(mart.engine, context(), date(2025, 1, 1), date(2025, 3, 31), mart.workdir / "q1.html")
    out = mart.workdir / "assurance.html"
    before = audit_rows(mart.engine)
    ctx = context()
    build = build_assurance(mart.engine, ctx, date.today().year, out)
    page = out.read_text("utf-8")
    assert audit_rows(mart.engine) - before == len(build.release_ids) == 2
    assert page.count("<img ") >= 2
    for section in ("shared", "timeliness", "quality", "releases", "purges", "keys"):
        assert f'<section id="{section}">' in page
    assert "report-test" in page  # who released, from the audit trail
    values = shown_counts(page)
    assert all(v in ("*", "0") or int(v.replace(",", "")) >= ctx.profile.standard.threshold for v in values)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed when missing (CI runs as root)."""
    found = shutil.which("chromium")
    if not found:
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, capture_output=True)
        found = shutil.which("chromium")
    assert found, "chromium could not be installed"
    return found


def test_both_reports_render_in_headless_chromium(mart: Mart, chromium: str) -> None:
    sna, assurance = mart.workdir / "sna-render.html", mart.workdir / "assurance-render.html"
    build_sna(mart.engine, context(), date(2025, 1, 1), date(2025, 12, 31), sna)
    build_assurance(mart.engine, context(), 2025, assurance)
    for path in (sna, assurance):
        check = render_check(path)
        assert check.status == "ok", (path.name, check)
        assert check.errors == ""
        assert check.images == path.read_text("utf-8").count("<img ") > 0


@pytest.mark.integration
def test_assurance_shows_dead_letters_read_from_kafka(mart: Mart, settings) -> None:  # type: ignore[no-untyped-def]
    """A malformed row dead-lettered by a connector appears in the assurance report by source, stage and reason."""
    from hub import kafka_admin
    from hub.connectors import default_mapping_path, load_mapping
    from hub.connectors.load import publish_file
    from hub.evidence import gather_kafka_evidence
    extract = mart.workdir / "bad.csv"
    extract.write_text("ReferralRef,ReferredAt,ReferrerAgency,ReasonCode,Forename,Surname,DOB,Sex,Postcode,Notes\n"
                       "REF-1,11/03/2025 10:15,SCH,NOT-A-REASON,A,B,01/01/2009,M,,\n", encoding="utf-8")
    kafka_admin.ensure_topics(settings, ["referral"])
    report = publish_file(settings, load_mapping(default_mapping_path("referral")), extract)
    assert report.dead_lettered == 1
    evidence = gather_kafka_evidence(settings)
    assert evidence.problem is None and evidence.dead_letters == {("referral", "validate", "unknown_code"): 1}
    out = mart.workdir / "assurance-dlq.html"
    build_assurance(mart.engine, context(), 2025, out, settings, evidence)
    quality = out.read_text("utf-8").split('<section id="quality">', 1)[1].split("</section>", 1)[0]
    assert "referral" in quality and "unknown_code" in quality and "Not available" not in quality
