"""The hostile differencing test: every release the CLI can make, attacked together.

A synthetic mart of all six sources; every release ``hub mart counts|export`` can make (each purpose x
profile x geography x period, every measure and breakdown, each filter), then late records arrive and
the releases are made again. For every protected cell (a true count of 1 to threshold-1) the attacker
of ``tests/integration/attack.py`` computes the tightest integer bounds all releases allow together.
With the cell key method no protected cell is pinned to its true count. With exact counts and
suppression alone (the previous release's method) the same attacker pins cells, which is the test
showing the attack works (and that the old code fails it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import Engine

from hub.mart import cellkey
from hub.mart.areas import AreaIndex
from hub.mart.audit import ReleaseContext
from hub.mart.measures import MEASURES, Fact
from hub.mart.release import Filters, Members, build_release, load_facts, release
from hub.mart.release import area_index as load_area_index
from hub.mart.store import connect, init
from hub.policy import Agreement, example_agreement_path, load_agreement
from hub.pseudonymisation import KeyRing
from hub.synth.mart import SIZE_ARG, build_synthetic_mart
from tests.integration.attack import Knowledge, attack

START, DAYS = date(2025, 1, 6), 63
PURPOSES = ("sna", "hotspot_tasking")
PROFILES = ("partnership", "public")
GEOGRAPHIES = ("lsoa", "msoa", "lad")
PERIODS = ("week", "month")


@dataclass
class Mart:
    engine: Engine
    agreement: Agreement
    round1: list[Fact]
    round2: list[Fact]
    idx: AreaIndex


@pytest.fixture(scope="module")
def mart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mart]:
    base = tmp_path_factory.mktemp("differencing")
    agreement = load_agreement(example_agreement_path())
    engine = connect(f"sqlite:///{base / 'mart.db'}")
    init(engine)
    ring = KeyRing.generate()
    build_synthetic_mart(engine, agreement, base / "first", per_source=120, seed=5, start=START, days=DAYS, ring=ring)
    sources = ["police_incident", *SIZE_ARG]  # the six sources of the needs assessment
    with engine.connect() as conn:
        round1, idx = load_facts(conn, sources), load_area_index(conn)
    # late records: more of every source, in the periods already released
    build_synthetic_mart(engine, agreement, base / "late", per_source=25, seed=6, start=START, days=DAYS, ring=ring)
    with engine.connect() as conn:
        round2 = load_facts(conn, sources)
    assert len(round2) > len(round1) and {f.source for f in round1} == set(sources)
    yield Mart(engine, agreement, round1, round2, idx)
    engine.dispose()


def filters_to_try(facts: list[Fact]) -> list[Filters]:
    """One of each filter the CLI offers (besides none): source, category, flag, age band, date range."""
    out = [Filters()]
    out += [Filters(sources=(s,)) for s in sorted({f.source for f in facts})]
    out += [Filters(categories=(c,)) for c in ("violence_with_injury", "knife_or_sharp", "SUSP")]
    out += [Filters(flags=(f,)) for f in ("knife", "domestic_abuse", "alcohol", "firearm")]
    out += [Filters(age_bands=(b,)) for b in ("10-14", "15-17", "18-24")]
    out += [Filters(date_from=date(2025, 1, 20), date_to=date(2025, 2, 16)), Filters(date_from=date(2025, 2, 1))]
    return out


def every_release(mart: Mart, facts: list[Fact], with_filters: bool) -> Iterator[tuple[ReleaseContext, dict]]:
    for purpose in PURPOSES:
        for profile in PROFILES:
            ctx = ReleaseContext.create(mart.agreement, purpose, profile, "attacker", environ={})
            for geography in GEOGRAPHIES:
                for period in PERIODS:
                    for filt in (filters_to_try(facts) if with_filters else [Filters()]):
                        yield ctx, {"geography": geography, "period": period, "filters": filt}
                    for m in MEASURES.values():  # every measure on its own, with each of its breakdowns
                        if m.source not in ctx.sources or period not in m.periods_allowed:
                            continue
                        for b in m.breakdowns:
                            yield ctx, {"measure": m.name, "breakdown": b, "geography": geography, "period": period}


def learn(k: Knowledge, mart: Mart, facts: list[Fact], legacy: bool = False, with_filters: bool = True) -> None:
    for ctx, kw in every_release(mart, facts, with_filters):
        members: Members = []
        built = build_release(facts, mart.idx, ctx, members=members, **kw)
        k.releases += 1
        for i, ids, threshold, rounding in members:
            n = len(ids)
            if legacy:  # exact counts, 1..threshold-1 hidden (and zeros never emitted: hidden means >= 1)
                interval = (1, 10_000) if n < threshold else (
                    (n, n) if rounding <= 1 else (cellkey.round_to(n, rounding) - rounding // 2,
                                                  cellkey.round_to(n, rounding) + (rounding - 1) // 2))
            else:
                interval = cellkey.preimage(built.rows[i].value, threshold, rounding)
            k.add(ids, interval, protected=0 < n < threshold)


def test_no_protected_cell_is_pinned_by_all_releases_together(mart: Mart) -> None:
    k = Knowledge()
    learn(k, mart, mart.round1)
    learn(k, mart, mart.round2)  # the same releases again after late records arrived
    verdict = attack(k)
    print(f"\n{k.releases} releases, {k.released_cells} non-empty cells ({len(k.cells)} distinct record sets), "
          f"{verdict.atoms} atoms, {verdict.checked} protected cells, {verdict.solves} integer programs solved")
    assert verdict.checked > 500 and k.releases > 1000
    assert verdict.pinned == [], f"{len(verdict.pinned)} protected cells pinned to their true count"


def test_the_same_attack_pins_cells_when_counts_are_exact_and_small_ones_suppressed(mart: Mart) -> None:
    """The previous method (exact counts, 1..threshold-1 suppressed): the attacker recovers cells."""
    k = Knowledge()
    learn(k, mart, mart.round1, legacy=True, with_filters=False)
    verdict = attack(k, stop_at_first_pin=True, limit=400)
    assert verdict.pinned, "the attacker found nothing: it would not catch a leak either"
    recs, true = verdict.pinned[0]
    assert 0 < true < 10 and len(recs) == true


def test_the_cli_path_releases_what_the_builder_builds(mart: Mart) -> None:
    """``release`` (what the CLI calls) gives exactly the cells ``build_release`` gives the attacker."""
    ctx = ReleaseContext.create(mart.agreement, "sna", "partnership", "attacker", environ={})
    table = release(mart.engine, ctx, geography="lsoa", period="week", filters=Filters(flags=("knife",)))
    built = build_release(mart.round2, mart.idx, ctx, geography="lsoa", period="week",
                          filters=Filters(flags=("knife",)))
    assert table.rows == built.rows and table.sources == built.sources
