"""Alert rules (pure): which shared events trigger a homicide review, and when a week's count is a hot spot.

The rules live in a YAML file (``hub/alerts/rules.yaml`` by default, documented there with the
statutory criteria) validated by pydantic, so an edit with a typo stops the worker with one clear line.
Nothing here touches Kafka, Faust or a database: the stream stage and the benchmark call these functions.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.yamlsource import ConfigError, load_model

RULES_ENV = "HUB_ALERT_RULES"


class RulesError(ConfigError):
    """The alert rules file cannot be used; each line names the file, the line and the setting."""


class NotifyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    command: list[str] = Field(default_factory=list, description="argv run with the alert JSON on stdin")
    webhook: str | None = Field(None, description="URL the alert JSON is POSTed to")
    timeout_s: float = Field(10.0, gt=0, le=120)

    @field_validator("webhook")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v


class OwhrRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    sources: list[str] = Field(default_factory=lambda: ["police_incident"])
    offence_codes: list[str] = Field(min_length=1)
    victim_role: str = "victim"
    adult_age_bands: list[str] = Field(min_length=1)
    raise_when_age_unknown: bool = True
    weapon_flags: list[str] = Field(min_length=1)
    domestic_abuse_flag: str | None = "domestic_abuse"
    notify: NotifyConfig = Field(default_factory=lambda: NotifyConfig(webhook=None, timeout_s=10.0))


class HotspotRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    sources: list[str] = Field(min_length=1)
    offence_categories: list[str] = Field(default_factory=list, description="empty: every category")
    area_level: str = "lsoa"
    baseline_weeks: int = Field(8, ge=2, le=52)
    min_history_weeks: int = Field(4, ge=1, le=52)
    baseline_floor: float = Field(0.5, gt=0)
    min_count: int = Field(5, ge=1)
    alpha: float = Field(0.001, gt=0, lt=0.5)

    @field_validator("area_level")
    @classmethod
    def _level(cls, v: str) -> str:
        if v not in ("lsoa", "msoa", "lad"):
            raise ValueError("must be lsoa, msoa or lad")
        return v


class AlertRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    owhr: OwhrRule
    hotspots: HotspotRule


def default_rules_path() -> Path:
    return Path(str(resources.files("hub.alerts").joinpath("rules.yaml")))


def load_rules(path: Path | None = None) -> AlertRules:
    """Load and validate the rules; ``RulesError`` names the file, line and key of every bad setting."""
    try:
        return load_model(path or default_rules_path(), AlertRules, whole="the alert rules")[0]
    except ConfigError as exc:
        raise RulesError(*exc.problems) from None


# --- Offensive Weapons Homicide Review -----------------------------------------------------------------

@dataclass(frozen=True)
class ReviewCase:
    """A shared event that meets the OWHR criteria: what the register and the alert hold (no identifier)."""

    case_ref: str  # the event's keyed id: a token, never the crime reference
    source: str
    occurred_date: date | None
    lsoa_code: str | None
    lad_code: str | None
    offence_code: str
    weapons: tuple[str, ...]
    victim_age_band: str | None
    status: str  # to_consider, or dhr_precedence when domestic abuse is flagged (s.26)
    notes: tuple[str, ...]


def owhr_case(rule: OwhrRule, event: Mapping[str, Any]) -> ReviewCase | None:
    """The review case this shared event raises, or None when it does not meet the criteria."""
    if not rule.enabled or event.get("source") not in rule.sources:
        return None
    if str(event.get("offence_code") or "") not in rule.offence_codes:
        return None
    flags = event.get("flags") or {}
    weapons = tuple(f for f in rule.weapon_flags if flags.get(f))
    if not weapons:
        return None
    victims = [p for p in event.get("persons") or [] if p.get("role") == rule.victim_role]
    bands = [p.get("age_band") for p in victims]
    notes: list[str] = []
    if any(b in rule.adult_age_bands for b in bands):
        band = next(b for b in bands if b in rule.adult_age_bands)
    elif not bands or all(b is None for b in bands):
        if not rule.raise_when_age_unknown:
            return None
        band = None
        notes.append("victim age unknown: check the victim was 18 or over")
    else:
        return None  # every known victim is under 18: a child death review, not an OWHR
    status = "to_consider"
    if rule.domestic_abuse_flag and flags.get(rule.domestic_abuse_flag):
        status = "dhr_precedence"
        notes.append("domestic abuse flagged: a domestic homicide review takes precedence (s.26)")
    occurred = event.get("occurred_date")
    return ReviewCase(case_ref=str(event["event_id"]), source=str(event["source"]),
                      occurred_date=occurred if isinstance(occurred, date) else None,
                      lsoa_code=event.get("lsoa_code"), lad_code=event.get("lad_code"),
                      offence_code=str(event.get("offence_code")), weapons=weapons, victim_age_band=band,
                      status=status, notes=tuple(notes))


def alert_id(kind: str, *parts: str) -> str:
    """Deterministic alert id: the same case or window always gives the same id (consumers dedupe on it)."""
    return hashlib.sha256("|".join((kind, *parts)).encode()).hexdigest()[:32]


# --- Emerging hot spots -------------------------------------------------------------------------------

def counts_towards_hotspots(rule: HotspotRule, event: Mapping[str, Any]) -> bool:
    """Whether a shared event is violence that the hot-spot watch counts."""
    if not rule.enabled or event.get("source") not in rule.sources:
        return False
    category = event.get("offence_category")
    return not (category and rule.offence_categories and category not in rule.offence_categories)


def poisson_sf(count: int, mean: float) -> float:
    """P(X >= count) for X ~ Poisson(mean), summed exactly (counts here are small)."""
    if count <= 0:
        return 1.0
    term = math.exp(-mean)
    below = term
    for k in range(1, count):
        term *= mean / k
        below += term
    return max(0.0, 1.0 - below)


@dataclass(frozen=True)
class Exceedance:
    count: int
    baseline: float
    p_value: float
    alert: bool


def exceedance(rule: HotspotRule, count: int, history: Sequence[int]) -> Exceedance:
    """Judge one area-week: ``history`` is the area's counts in the previous weeks, most recent first.

    The baseline is the mean of the last ``baseline_weeks`` weeks, floored at ``baseline_floor`` (an area
    with no violence lately must still see a real jump). No alert until ``min_history_weeks`` of history.
    """
    window = list(history[: rule.baseline_weeks])
    baseline = max(rule.baseline_floor, sum(window) / len(window)) if window else rule.baseline_floor
    p = poisson_sf(count, baseline)
    alert = len(window) >= rule.min_history_weeks and count >= rule.min_count and p < rule.alpha
    return Exceedance(count, baseline, p, alert)


def scan(rule: HotspotRule, counts: Mapping[tuple[str, int], int]) -> list[tuple[str, int, Exceedance]]:
    """Run the hot-spot rule over whole weeks, as the stream does: ``counts`` maps (area, week number) to
    the week's count; each area's watch starts at its first week with an event. Returns the alerts
    (area, week, verdict) in week order. Used by the benchmark, and as the stream's reference."""
    by_area: dict[str, dict[int, int]] = {}
    for (area, week), n in counts.items():
        by_area.setdefault(area, {})[week] = n
    out: list[tuple[str, int, Exceedance]] = []
    for area, weeks in by_area.items():
        first = min(w for w, n in weeks.items() if n > 0)
        for week in range(first, max(weeks) + 1):
            n = weeks.get(week, 0)
            if n <= 0:
                continue
            back = min(rule.baseline_weeks, week - first)
            verdict = exceedance(rule, n, [weeks.get(week - k, 0) for k in range(1, back + 1)])
            if verdict.alert:
                out.append((area, week, verdict))
    return sorted(out, key=lambda a: (a[1], a[0]))


def describe(rules: AlertRules) -> str:
    """The rules in plain words (``hub reviews rules``)."""
    o, h = rules.owhr, rules.hotspots
    hooks = " and ".join(n for n, on in (("command", o.notify.command), ("webhook", o.notify.webhook)) if on)
    return "\n".join([
        f"alert rules v{rules.version}",
        f"  homicide review: {'on' if o.enabled else 'off'}; sources {', '.join(o.sources)}; offence codes "
        f"{', '.join(o.offence_codes)}; victim age bands {', '.join(o.adult_age_bands)}"
        f"{' or unknown' if o.raise_when_age_unknown else ''}; weapon flags {', '.join(o.weapon_flags)}; "
        f"notify: {hooks or 'none'}",
        f"  hot spots: {'on' if h.enabled else 'off'}; {h.area_level} x ISO week; sources {', '.join(h.sources)}; "
        f"baseline mean of {h.baseline_weeks} weeks (floor {h.baseline_floor}); alert when count >= "
        f"{h.min_count} and Poisson P(X >= count) < {h.alpha}"])
