"""``hub report sna``: the strategic needs assessment, one self-contained HTML file.

Sections follow the Serious Violence Duty guidance: where, what, when, who, why, hidden violence, risk,
response, and the alerts raised in the period. Every figure is drawn from a table released through
:func:`hub.reports.releases.release` (disclosure control, one audit row each) under the purpose ``sna``;
a section whose data the hub does not hold yet says so and what it waits for.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, inspect, select, text

from hub.mart import incident_matches, models
from hub.mart.audit import ReleaseContext
from hub.policy.agreement import GEOGRAPHY_LEVELS
from hub.pseudonymisation.generalise import AGE_BANDS
from hub.reports import figures
from hub.reports.html import Page, audit_note, count_cell, figure, not_available, para, table, td
from hub.reports.releases import Period, Released, Tally, grouped, not_sensitive, release, sensitive_only

REPORT = "sna"
LINKED_UNTIL = "the link stage has written person mentions to the mart (hub worker with the link stage)"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
FLAGS = ("knife", "firearm", "alcohol", "domestic_abuse")
VIOLENCE_SOURCE = "police_incident"
RISK_SOURCES = {"police_incident": "violence (police)", "ed_attendance": "ED assault attendances",
                "school_exclusion": "school exclusions", "youth_justice_event": "youth justice outcomes",
                "probation_event": "probation events"}


@dataclass
class Build:
    """What one report build released: the audit ids, so the page can cite them."""

    release_ids: list[int] = field(default_factory=list)
    releases: list[Released] = field(default_factory=list)

    def add(self, rel: Released) -> Released:
        self.release_ids.append(rel.release_id)
        self.releases.append(rel)
        return rel


def full_months(period: Period, data_end: date | None) -> list[str]:
    """Months wholly inside the period and not after the last day the mart holds (no partial month)."""
    out = []
    first = date(period.start.year, period.start.month, 1)
    if first < period.start:
        first = (first + timedelta(days=32)).replace(day=1)
    month = first
    while True:
        nxt = (month + timedelta(days=32)).replace(day=1)
        last = nxt - timedelta(days=1)
        if last > period.end or (data_end is not None and last > data_end):
            break
        out.append(f"{month:%Y-%m}")
        month = nxt
    return out


def _table_exists(conn: Connection, name: str) -> bool:
    return bool(inspect(conn).has_table(name))


class SnaBuilder:
    def __init__(self, engine: Engine, ctx: ReleaseContext, period: Period, out: Path) -> None:
        self.engine, self.ctx, self.period, self.out = engine, ctx, period, out
        self.build = Build()
        self.level = ctx.profile.standard.finest_geography
        self.params: dict[str, Any] = {"from": period.start.isoformat(), "to": period.end.isoformat()}
        self.frames: dict[str, Any] = {}
        self.spots: list[dict[str, Any]] = []
        self.linked = False
        self.cohort: dict[str, Any] = {}
        self.area_names: dict[str, str] = {}
        self.ranked: list[str] = []  # LSOAs by risk, highest first (set by the risk section)
        self.populations: dict[str, int] = {}

    def prepare(self) -> None:
        """Read what needs its own connection (boundaries, alert log) before the release transaction."""
        from hub.mart.reviews import ensure_tables, hotspots_between
        from hub.reports.boundaries import area_names, areas_frame
        ensure_tables(self.engine)
        for level in {self.level, "lsoa"}:
            self.frames[level] = areas_frame(self.engine, level)
        self.spots = hotspots_between(self.engine, self.period.start, self.period.end)
        self.area_names = area_names(self.engine)
        with self.engine.connect() as conn:
            # Linked persons exist once the link stage has written mentions (the table alone is not enough).
            self.linked = _table_exists(conn, "person_mention") and conn.execute(
                text("SELECT 1 FROM person_mention LIMIT 1")).first() is not None

    def _release(self, conn: Connection, name: str, dims: tuple[str, ...], counts: Mapping[Any, Any],
                 sensitive: bool = False, **params: Any) -> Released:
        return self.build.add(release(conn, self.ctx, REPORT, name, dims, counts, {**self.params, **params},
                                      sensitive=sensitive, destination=str(self.out)))

    # --- where ---------------------------------------------------------------------------------------

    def where(self, conn: Connection, page: Page) -> None:
        ev = models.event
        col = ev.c[f"{self.level}_code"]
        counts = grouped(conn, self.ctx, self.period, col, extra=(ev.c.source == VIOLENCE_SOURCE) & col.is_not(None))
        rel = self._release(conn, "where_area", (self.level,), counts, measure="police-recorded violence")
        frame = self.frames.get(self.level)
        parts = [para(f"Police-recorded violence (non-sensitive offences) by {self.level.upper()}, "
                      f"{self.period.start} to {self.period.end}, per 1,000 residents.")]
        rows = []
        if frame is None:
            parts.append(not_available("The map needs area boundaries: load an ONS boundary file with "
                                       "'hub reference load boundaries FILE'.", "boundaries are loaded"))
            for (code,), n in sorted(rel.cells.items(), key=lambda kv: -(kv[1] or 0))[:10]:
                rows.append([td(code), td(code), count_cell(n), td("-", "pop"), td("-", "rate")])
        else:
            values = {k[0]: v for k, v in rel.cells.items()}
            rates = []
            for _, area in frame.iterrows():
                n, popn = values.get(area["code"], 0), area["population"]
                ok = n is not None and popn and popn == popn and popn > 0
                rates.append(1000.0 * n / popn if ok else float("nan"))  # type: ignore[operator]
            frame = frame.assign(rate=rates)
            top = frame.dropna(subset=["rate"]).sort_values("rate", ascending=False).head(10)
            rank = {c: i + 1 for i, c in enumerate(top["code"])}
            frame = frame.assign(label=[str(rank[c]) if c in rank else "" for c in frame["code"]])
            png = figures.choropleth(frame, "rate", f"Violence per 1,000 residents by {self.level.upper()}",
                                     "incidents per 1,000 residents")
            parts.append(figure(png, "choropleth map of violence rates", "Hatched: count suppressed by "
                                "disclosure control. Numbers mark the ten highest rates (table below)."))
            for _, area in top.iterrows():
                n = values.get(area["code"], 0)
                rows.append([td(area["code"]), td(area["name"]), count_cell(n), td(f"{int(area['population']):,}",
                             "pop"), td(f"{area['rate']:.1f}", "rate")])
            parts.append(para("Town-centre areas with few residents but a busy night-time economy have high rates "
                              "per resident: read rates beside counts.", "method"))
        parts.append("<h3>Top areas</h3>" + table(["code", "name", "incidents", "residents", "per 1,000"], rows))
        parts.append(audit_note([rel.release_id]))
        page.section("where", "Where: violence by area", *parts)

    # --- what ----------------------------------------------------------------------------------------

    def what(self, conn: Connection, page: Page) -> None:
        ev = models.event
        counts = grouped(conn, self.ctx, self.period, ev.c.source, ev.c.offence_category)
        counts = Tally({(s, c or "(no offence code)"): v for (s, c), v in counts.items()})
        rel = self._release(conn, "what_category", ("source", "offence_category"), counts)
        sens = self._sensitive_records(conn)
        flag_counts, flag_da = Tally(), Tally()
        rules = self.ctx.agreement.sensitive
        stmt = (select(ev.c.source, ev.c.record_key, ev.c.knife, ev.c.firearm, ev.c.alcohol, ev.c.domestic_abuse,
                       not_sensitive(rules).label("standard"))
                .where(ev.c.source.in_(list(self.ctx.sources)), self.period.where()))
        for src, rkey, *vals, standard in conn.execute(stmt):
            for flag, v in zip(FLAGS, vals, strict=True):
                if v and flag == "domestic_abuse":
                    flag_da.add((src, flag), rkey)
                elif v and standard:  # weapons and alcohol among the records the standard rules cover
                    flag_counts.add((src, flag), rkey)
        flags = self._release(conn, "what_flags", ("source", "flag"), flag_counts)
        da = self._release(conn, "what_domestic_abuse", ("source", "flag"), flag_da, sensitive=True)
        by_cat: dict[str, dict[str, int | None]] = defaultdict(dict)
        for (src, cat), n in rel.cells.items():
            by_cat[str(cat)][str(src)] = n
        sources = sorted({str(k[0]) for k in rel.cells})
        cats = sorted(by_cat, key=lambda c: -sum(v or 0 for v in by_cat[c].values()))
        png = figures.grouped_bars(cats, {s: [by_cat[c].get(s) for c in cats] for s in sources},
                                   "Events by offence category and source", "events")
        rows = [[td(c), *[count_cell(by_cat[c].get(s)) if s in by_cat[c] else td("-") for s in sources]]
                for c in cats]
        by_sens: dict[str, dict[str, int | None]] = defaultdict(dict)
        for (src, cat), n in sens.cells.items():
            by_sens[str(cat)][str(src)] = n
        rows += [[td(f"{c} (sensitive records: county total)"),
                  *[count_cell(by_sens[c][s]) if s in by_sens[c] else td("-") for s in sources]]
                 for c in sorted(by_sens)]
        all_flags = {**flags.cells, **da.cells}
        fsources = sorted({str(k[0]) for k in all_flags})
        fpng = figures.grouped_bars(list(FLAGS), {s: [all_flags.get((s, f)) for f in FLAGS] for s in fsources},
                                    "Weapons, alcohol and domestic abuse flags by source", "events flagged")
        frows = [[td(f.replace("_", " ")), *[count_cell(all_flags[(s, f)]) if (s, f) in all_flags else td("-")
                                             for s in fsources]] for f in FLAGS]
        page.section("what", "What: offences, weapons, domestic abuse, alcohol",
                     figure(png, "bar chart of offence categories by source", "Sources without offence codes "
                            "(health, probation, schools) appear as '(no offence code)'. Records the agreement "
                            "treats as sensitive (sexual offences, stalking, domestic abuse...) are shown only as "
                            "county totals under the stricter rules."),
                     table(["offence category", *[s.replace("_", " ") for s in sources]], rows),
                     figure(fpng, "bar chart of flags by source", "Domestic abuse is released under the "
                            "agreement's sensitive rules."),
                     table(["flag", *[s.replace("_", " ") for s in fsources]], frows),
                     audit_note([rel.release_id, sens.release_id, flags.release_id, da.release_id]))

    def _sensitive_records(self, conn: Connection) -> Released:
        """Records under the agreement's sensitive rules, as county totals by source and category."""
        ev = models.event
        counts = Tally()
        stmt = (select(ev.c.source, ev.c.offence_category, ev.c.record_key).where(
            ev.c.source.in_(list(self.ctx.sources)), self.period.where(), sensitive_only(self.ctx.agreement.sensitive)))
        for src, cat, rkey in conn.execute(stmt):
            counts.add((src, cat or "(no offence code)"), rkey)
        return self._release(conn, "what_sensitive", ("source", "offence_category"), counts, sensitive=True)

    # --- when ----------------------------------------------------------------------------------------

    def when(self, conn: Connection, page: Page) -> None:
        ev = models.event
        data_end = conn.execute(select(ev.c.occurred_date).where(ev.c.source == VIOLENCE_SOURCE)
                                .order_by(ev.c.occurred_date.desc()).limit(1)).scalar()
        data_start = conn.execute(select(ev.c.occurred_date).where(ev.c.source == VIOLENCE_SOURCE,
                                                                   ev.c.occurred_date.is_not(None))
                                  .order_by(ev.c.occurred_date).limit(1)).scalar()
        months = full_months(self.period, data_end)
        before = Period(date(self.period.start.year - 1, self.period.start.month, self.period.start.day),
                        self.period.end.replace(year=self.period.end.year - 1))
        month_counts = grouped(conn, self.ctx, Period(before.start, self.period.end), ev.c.occurred_month,
                               extra=ev.c.source == VIOLENCE_SOURCE)
        # A month a year earlier counts only if the mart holds it whole: before the data starts it is a gap.
        held = f"{data_start:%Y-%m}" if data_start else "9999-99"
        last_year = {f"{int(m[:4]) - 1}{m[4:]}" for m in months if f"{int(m[:4]) - 1}{m[4:]}" > held
                     or (data_start and data_start.day == 1 and f"{int(m[:4]) - 1}{m[4:]}" == held)}
        wanted = {(m,): month_counts.get((m,), 0) for m in sorted(set(months) | last_year)}
        rel = self._release(conn, "when_month", ("month",), wanted, months=months)
        this = [rel.cells.get((m,)) for m in months]
        prior = [rel.cells.get((f"{int(m[:4]) - 1}{m[4:]}",)) for m in months]
        prior_shown = [(f"{int(m[:4]) - 1}{m[4:]}",) in rel.cells for m in months]
        parts = []
        if months:
            series = {"this period": this}
            if any(prior_shown):
                series["same month a year earlier"] = prior
            png = figures.trend(months, series, "Police-recorded violence by month", "incidents")
            parts.append(figure(png, "monthly trend", "Full months only: a month the mart does not yet hold "
                                "to its last day is left out rather than drawn as a fall."))
            parts.append(table(["month", "incidents", "a year earlier"],
                               [[td(m), count_cell(a), count_cell(b) if shown else td("no data")]
                                for m, a, b, shown in zip(months, this, prior, prior_shown, strict=True)]))
        else:
            parts.append(para("No full month of data in the period."))
        cells = Tally()
        stmt = (select(ev.c.occurred_date, ev.c.occurred_hour, ev.c.record_key).where(
            ev.c.source == VIOLENCE_SOURCE, self.period.where(), ev.c.occurred_hour.is_not(None)))
        stmt = stmt.where(not_sensitive(self.ctx.agreement.sensitive))
        for day, hour, rkey in conn.execute(stmt):
            cells.add((WEEKDAYS[day.weekday()], int(hour)), rkey)
        full = {(d, h): cells.get((d, h), 0) for d in WEEKDAYS for h in range(24)}
        hw = self._release(conn, "when_hour_weekday", ("weekday", "hour"), full)
        grid = [[hw.cells.get((d, h)) for h in range(24)] for d in WEEKDAYS]
        parts.append(figure(figures.heatmap(WEEKDAYS, [str(h) for h in range(24)], grid,
                                            "Violence by hour of day and day of week", "incidents"),
                            "heat map of hour by weekday", "Pink cells: suppressed by disclosure control."))
        parts.append(audit_note([rel.release_id, hw.release_id]))
        page.section("when", "When: trends and the week's rhythm", *parts)

    # --- who -----------------------------------------------------------------------------------------

    def who(self, conn: Connection, page: Page) -> None:
        ep = models.event_person
        bands = [b for _, _, b in AGE_BANDS]
        parts = []
        ids = []
        for role in ("victim", "suspect", "patient"):
            counts = grouped(conn, self.ctx, self.period, ep.c.age_band, ep.c.sex, person_role=role,
                             extra=ep.c.age_band.is_not(None) & ep.c.sex.in_(["M", "F"]))
            if not counts:
                continue
            full = {(b, s): counts.get((b, s), 0) for b in bands for s in ("M", "F")}
            rel = self._release(conn, f"who_{role}", ("age_band", "sex"), full, role=role)
            ids.append(rel.release_id)
            male = [rel.cells.get((b, "M")) for b in bands]
            female = [rel.cells.get((b, "F")) for b in bands]
            label = {"patient": "ED patients (assault)"}.get(role, role + "s")
            parts.append(figure(figures.pyramid(bands, male, female, f"{label[0].upper()}{label[1:]} by age band "
                                                "and sex"),
                                f"age and sex of {label}", "Suppressed cells are not drawn."))
            parts.append(table(["age band", "male", "female"], [[td(b), count_cell(m), count_cell(f)]
                                                                for b, m, f in zip(bands, male, female,
                                                                                   strict=True)]))
        if self.linked:
            from hub.reports.cohort import cohort_tallies, people
            self.cohort = people(conn, self.period, self.ctx.sources)
            by_agencies, _, _ = cohort_tallies(self.cohort)
            levels = ["1", "2", "3 or more", "2 or more (the cohort)"]
            rel = self._release(conn, "who_agencies", ("agencies",), {(lv,): by_agencies.get((lv,), 0)
                                                                     for lv in levels})
            ids.append(rel.release_id)
            parts.append("<h3>People known to more than one agency</h3>")
            parts.append(para("Linked pseudonymous persons (the link stage's person index) with an event in the "
                              "period, by the number of agencies whose records mention them."))
            parts.append(table(["agencies", "people"], [[td(lv), count_cell(rel.cells.get((lv,)))] for lv in levels]))
        else:
            parts.append(not_available("The cohort known to two or more agencies comes from person linkage.",
                                       LINKED_UNTIL))
        parts.append(audit_note(ids))
        page.section("who", "Who: victims, suspects and patients", *parts)

    # --- why, hidden violence ------------------------------------------------------------------------

    def why(self, conn: Connection, page: Page) -> None:
        intro = para("The partnership's named factors: domestic abuse history, exposure to violence (a victim "
                     "before a suspect), substance misuse, bereavement or ill-health where a source shares it "
                     "(none shares bereavement yet), prior victimisation.")
        if not self.linked:
            page.section("why", "Why: causal factors in the linked cohort", intro, not_available(
                "Prevalence in the linked cohort needs each person's events across agencies.",
                LINKED_UNTIL))
            return
        from hub.reports.cohort import FACTORS, cohort_tallies
        _, factors, size = cohort_tallies(self.cohort)
        rel = self._release(conn, "why_factors", ("factor",), {(f,): factors.get((f,), 0) for f in FACTORS})
        total = self._release(conn, "why_cohort", ("cohort",), {("cohort",): size})
        n = total.cells.get(("cohort",))
        shares = {str(f): 100.0 * v / n for (f,), v in rel.shown().items() if n}
        parts = [intro]
        if shares:
            parts.append(figure(figures.hbar(shares, "Factors in the cohort known to two or more agencies",
                                             "% of the cohort (released counts)"),
                                "prevalence of factors", "Each factor as a share of the released cohort size; a "
                                "person can have several."))
        parts.append(table(["factor", "people in the cohort", "% of cohort"],
                           [[td(f), count_cell(rel.cells.get((f,))), td(f"{shares[f]:.0f}" if f in shares else "-",
                                                                          "rate")] for f in FACTORS]
                           + [[td("cohort size"), count_cell(n), td("100" if n else "-", "rate")]]))
        parts.append(audit_note([rel.release_id, total.release_id]))
        page.section("why", "Why: causal factors in the linked cohort", *parts)

    def hidden(self, conn: Connection, page: Page) -> None:
        title = "Hidden violence: ED assaults unknown to the police"
        intro = para("The share of emergency-department assault attendances with no matching police incident "
                     "(the Cardiff Model's central measure): violence the police never hear of.")
        if not {"ed_attendance", VIOLENCE_SOURCE} <= set(self.ctx.sources):
            page.section("hidden", title, intro, not_available(
                "It needs ED attendances and police incidents under this purpose.",
                "the agreement grants both sources for the needs assessment"))
            return
        # The matches the worker's sink stores on its timer (or `hub mart match-incidents`): one place decides
        # what matched, and the release API's measure ed_assaults_without_police reads the same table.
        matched = (incident_matches.matched_ed_events(conn) if _table_exists(conn, "incident_match") else set())
        ev = models.event
        ed = [(r.event_id, r.occurred_date, r.record_key) for r in conn.execute(
            select(ev.c.event_id, ev.c.occurred_date, ev.c.record_key)
            .where(ev.c.source == "ed_attendance", ev.c.occurred_date.is_not(None), self.period.where()))]
        attendances, unknown = Tally(), Tally()
        for event_id, day, record_key in ed:
            month = day.strftime("%Y-%m")
            attendances.add((month,), record_key)
            if event_id not in matched:
                unknown.add((month,), record_key)
        months = sorted(str(k[0]) for k in attendances)
        total = self._release(conn, "hidden_ed_attendances", ("month",), attendances)
        hidden = self._release(conn, "hidden_unknown_to_police", ("month",), {(m,): unknown.get((m,), 0)
                                                                              for m in months})
        shares = [None if (t := total.cells.get((m,))) in (None, 0) or (h := hidden.cells.get((m,))) is None
                  else 100.0 * h / t for m in months]
        shown_total = sum(v for v in total.shown().values())
        shown_hidden = sum(v for v in hidden.shown().values())
        parts = [intro]
        if ed and not matched:
            parts.append(para("No ED attendance in the mart is matched to a police incident. If matching has not "
                              "run, run `hub mart match-incidents` (the worker's sink refreshes the matches every "
                              "HUB_INCIDENT_MATCH_INTERVAL_S seconds)."))
        if shown_total:
            parts.append(para(f"Over the period, {100.0 * shown_hidden / shown_total:.0f}% of released ED assault "
                              "attendances had no matching police incident."))
        if months:
            parts.append(figure(figures.trend(months, {"% of ED assault attendances unknown to the police": shares},
                                              "Hidden violence by month", "% unknown to the police"),
                                "hidden violence by month", "Matching compares time, area, age band, sex and "
                                "method (ED data carry no identity); a month with a suppressed count is a gap."))
        parts.append(table(["month", "ED assault attendances", "unknown to the police"],
                           [[td(m), count_cell(total.cells.get((m,))), count_cell(hidden.cells.get((m,)))]
                            for m in months]))
        parts.append(audit_note([total.release_id, hidden.release_id]))
        page.section("hidden", title, *parts)

    # --- risk ----------------------------------------------------------------------------------------

    def risk(self, conn: Connection, page: Page) -> None:
        from hub.reports.risk import profile
        frame = self.frames.get("lsoa")
        if self.level != "lsoa" or frame is None:
            page.section("risk", "Risk: LSOA risk profile", not_available(
                "The LSOA profile needs LSOA boundaries with populations and a profile that releases LSOAs.",
                "LSOA boundaries are loaded and the profile allows LSOA"))
            return
        ev = models.event
        per: dict[str, Tally] = {s: Tally() for s in RISK_SOURCES}
        stmt = (select(ev.c.source, ev.c.lsoa_code, ev.c.attributes_json, ev.c.offence_category, ev.c.record_key)
                .where(ev.c.source.in_([s for s in RISK_SOURCES if s in self.ctx.sources]), self.period.where(),
                       not_sensitive(self.ctx.agreement.sensitive)))
        for src, lsoa, attrs, _, rkey in conn.execute(stmt):
            area = lsoa or json.loads(attrs or "{}").get("residence_lsoa")
            if area:
                per[src].add((area,), rkey)
        populations = {r["code"]: int(r["population"]) for _, r in frame.iterrows()
                       if r["population"] and r["population"] == r["population"]}
        names = dict(zip(frame["code"], frame["name"], strict=True))
        indicators: dict[str, dict[str, int | None]] = {}
        ids = []
        threshold = self.ctx.profile.standard.threshold
        for src, counts in per.items():
            if src not in self.ctx.sources or not counts:
                continue
            full = {(a,): counts.get((a,), 0) for a in populations}
            rel = self._release(conn, f"risk_{src}", ("lsoa",), full, indicator=src)
            ids.append(rel.release_id)
            indicators[RISK_SOURCES[src]] = {str(k[0]): v for k, v in rel.cells.items()}
        ranked = profile(indicators, populations, threshold)
        self.ranked = [r.code for r in ranked]
        self.populations = populations
        top = ranked[:15]
        parts = [para("Indicators per 1,000 residents, by the LSOA where the event happened (police) or where "
                      "the person lives (other sources): " + ", ".join(sorted(indicators)) + ". Deprivation "
                      "joins the profile when an IMD file is loaded (not yet supported).")]
        if top:
            parts.append(figure(figures.intervals(
                [f"{r.code} {names.get(r.code, '')}" for r in top], [float(r.rank) for r in top],
                [float(r.rank_low) for r in top], [float(r.rank_high) for r in top],
                "Highest-risk LSOAs: rank with 90% interval", "rank (1 = highest risk)"),
                "ranked risk profile", "Each dot is an area's rank; the bar its 90% interval over the "
                "uncertainty of every rate."))
            names_i = sorted(indicators)
            parts.append(table(["rank", "90% interval", "LSOA", "name", "score", *[f"{n} (shrunk)" for n in names_i]],
                               [[td(r.rank, "rate"), td(f"{r.rank_low}-{r.rank_high}", "rate"), td(r.code),
                                 td(names.get(r.code, "")), td(f"{r.score:.2f}", "rate"),
                                 *[td(f"{r.rates[n]:.1f}", "rate") for n in names_i]] for r in top]))
        parts.append(para("Method: raw rates (count / residents) are shrunk towards the county rate by "
                          "empirical Bayes (gamma prior fitted to all LSOAs by the method of moments), so an area "
                          "with few residents and a handful of events cannot top the list by chance; each shrunk "
                          "rate is turned into a z-score across LSOAs and the score is their mean. The rank "
                          "interval comes from 2,000 draws of every area's posterior rates. A suppressed count "
                          f"enters as {threshold / 2:g} (half the threshold).", "method"))
        parts.append(audit_note(ids))
        page.section("risk", "Risk: LSOA risk profile", *parts)

    # --- response, alerts ----------------------------------------------------------------------------

    def response(self, conn: Connection, page: Page) -> None:
        ev = models.event
        parts: list[str] = []
        ids: list[int] = []
        if "referral" in self.ctx.sources:
            cells = Tally()
            stmt = select(ev.c.attributes_json, ev.c.record_key).where(ev.c.source == "referral", self.period.where())
            for attrs, rkey in conn.execute(stmt):
                a = json.loads(attrs or "{}")
                cells.add((a.get("reason") or "?", a.get("routed_to") or "?"), rkey)
            rel = self._release(conn, "response_referrals", ("reason", "routed_to"), cells)
            ids.append(rel.release_id)
            parties = self.ctx.agreement.parties
            by_reason: dict[str, int] = defaultdict(int)
            for (reason, _), n in rel.shown().items():
                by_reason[str(reason)] += n
            parts.append("<h3>Referrals of people at risk</h3>")
            if by_reason:
                parts.append(figure(figures.hbar(dict(by_reason), "Referrals by reason", "referrals (released)"),
                                    "referrals by reason", "Each referral is routed to the partner the agreement "
                                    "names for its reason."))
            parts.append(table(["reason", "routed to", "referrals"],
                               [[td(r), td(parties[str(p)].name if str(p) in parties else p), count_cell(n)]
                                for (r, p), n in sorted(rel.cells.items(), key=lambda kv: -(kv[1] or 0))]))
        else:
            parts.append(not_available("Referrals come from the referral source.",
                                       "the agreement shares the referral source for this purpose"))
        if "intervention_activity" in self.ctx.sources and self.ranked:
            quintile = {code: min(5, 1 + i * 5 // len(self.ranked)) for i, code in enumerate(self.ranked)}
            starts, violence = Tally(), Tally()
            stmt = select(ev.c.source, ev.c.lsoa_code, ev.c.attributes_json, ev.c.record_key).where(
                ev.c.source.in_(["intervention_activity", VIOLENCE_SOURCE]), self.period.where(),
                ev.c.lsoa_code.is_not(None), not_sensitive(self.ctx.agreement.sensitive))
            for row in conn.execute(stmt):
                q = quintile.get(str(row.lsoa_code))
                if q is None:
                    continue
                rkey, attrs = row.record_key, row.attributes_json
                if row.source == VIOLENCE_SOURCE:
                    violence.add((f"Q{q}",), rkey)
                else:
                    starts.add((f"Q{q}", json.loads(attrs or "{}").get("programme") or "?"), rkey)
            qs = [f"Q{q}" for q in range(1, 6)]
            rel = self._release(conn, "response_interventions", ("risk_quintile", "programme"),
                                {**{(q, p): 0 for q in qs for p in {k[1] for k in starts}}, **starts})
            vrel = self._release(conn, "response_violence", ("risk_quintile",), {(q,): violence.get((q,), 0)
                                                                                for q in qs})
            ids += [rel.release_id, vrel.release_id]
            pop = {q: sum(self.populations.get(c, 0) for c, qq in quintile.items() if f"Q{qq}" == q) for q in qs}
            reach = {q: sum(v for k, v in rel.shown().items() if k[0] == q) for q in qs}
            per = {q: (1000.0 * reach[q] / pop[q] if pop[q] else None) for q in qs}
            vper = {q: (1000.0 * v / pop[q] if (v := vrel.cells.get((q,))) is not None and pop[q] else None)
                    for q in qs}
            labels = [f"{q} ({'highest' if q == 'Q1' else 'lowest' if q == 'Q5' else ''} risk)".replace(" ( risk)", "")
                      for q in qs]
            parts.append("<h3>Interventions' reach against need</h3>")
            parts.append(figure(figures.grouped_bars(labels, {
                "intervention places started per 1,000 residents": [per[q] for q in qs],
                "violence per 1,000 residents / 10": [None if (v10 := vper[q]) is None else v10 / 10 for q in qs]},
                "Reach against need, by risk quintile of LSOA", "per 1,000 residents"),
                "interventions by risk quintile", "LSOAs in five equal groups by the risk profile above (Q1: "
                "the highest-risk fifth). Reach matches need when the bars fall from Q1 to Q5 together."))
            programmes = sorted({str(k[1]) for k in rel.cells})
            parts.append(table(["risk quintile", "residents", *programmes, "places per 1,000"],
                               [[td(q), td(f"{pop[q]:,}", "pop"),
                                 *[count_cell(rel.cells.get((q, p))) for p in programmes],
                                 td("-" if per[q] is None else f"{per[q]:.1f}", "rate")] for q in qs]))
        elif "intervention_activity" not in self.ctx.sources:
            parts.append(not_available("Reach against need needs the intervention activity source.",
                                       "the agreement shares the intervention source for this purpose"))
        else:
            parts.append(not_available("Reach against need is set against the LSOA risk profile.",
                                       "the risk profile can be built (LSOA boundaries with populations)"))
        parts.append(audit_note(ids))
        page.section("response", "Response: referrals and interventions' reach against need", *parts)

    def alerts(self, conn: Connection, page: Page) -> None:
        spots = self.spots
        counts = {(s["iso_week"], s["area_code"]): int(s["events"]) for s in spots}
        rel = self._release(conn, "alerts_hotspots", ("iso_week", "area"), counts)
        from hub.mart.reviews import homicide_review as hr
        n_reviews = len(conn.execute(select(hr.c.case_ref).where(hr.c.occurred_date >= self.period.start,
                                                                 hr.c.occurred_date <= self.period.end)).all())
        rev = self._release(conn, "alerts_owhr", ("period",), {("period",): n_reviews}, sensitive=True)
        names = self.area_names
        rows = [[td(w), td(a), td(names.get(str(a), "")), count_cell(n)] for (w, a), n in sorted(rel.cells.items())]
        parts = [para("Emerging hot spots: an area's weekly count of violence well above its own recent baseline "
                      "(Poisson exceedance; see docs/analyst.md)."),
                 table(["ISO week", "area", "name", "events that week"], rows) if rows else para("No hot-spot alerts."),
                 "<h3>Offensive Weapons Homicide Review triggers</h3>",
                 table(["period", "cases registered"], [[td(f"{self.period.start} to {self.period.end}"),
                                                         count_cell(rev.cells[("period",)])]]),
                 audit_note([rel.release_id, rev.release_id])]
        page.section("alerts", "Alerts raised in the period", *parts)


def build_sna(engine: Engine, ctx: ReleaseContext, start: date, end: date, out: Path) -> Build:
    """Write the needs assessment to ``out``; returns what was released (each release audited)."""
    if end < start:
        raise ValueError("--to is before --from")
    if ctx.profile.standard.finest_geography not in GEOGRAPHY_LEVELS:
        raise ValueError("the profile's finest geography is unknown")
    period = Period(start, end)
    builder = SnaBuilder(engine, ctx, period, out)
    builder.prepare()
    page = Page(f"Serious violence strategic needs assessment: {start} to {end}",
                [f"{ctx.agreement.partnership}. Agreement {ctx.agreement.id} v{ctx.agreement.version}; purpose "
                 f"{ctx.purpose}; release profile '{ctx.profile.name}' ({ctx.profile.audience}): counts below "
                 f"{ctx.profile.standard.threshold} are suppressed (*), sensitive offences below "
                 f"{ctx.profile.sensitive.threshold}.", f"Prepared by {ctx.user}. Sources: "
                 f"{', '.join(ctx.sources)}."])
    with engine.begin() as conn:
        builder.where(conn, page)
        builder.what(conn, page)
        builder.when(conn, page)
        builder.who(conn, page)
        builder.why(conn, page)
        builder.hidden(conn, page)
        builder.risk(conn, page)
        builder.response(conn, page)
        builder.alerts(conn, page)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page.render(), encoding="utf-8")
    return builder.build
