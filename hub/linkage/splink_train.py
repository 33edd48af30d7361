# mypy: disallow-untyped-defs, disallow-incomplete-defs, disallow-any-generics, warn-return-any
"""Training the streaming scorer's model with Splink, on the keyed tokens themselves.

Splink (the Ministry of Justice's linkage library, on DuckDB) fits the Fellegi-Sunter model in batch:
``u`` from random pairs, ``m`` by EM sessions on blocked pairs, the prior from deterministic rules with
an assumed recall. It never sees a name: each record is a row of token columns, and each comparison's
levels are SQL conditions on those tokens written to put a pair at exactly the level :func:`compare`
gives it (the bench checks the two agree). The fitted ``m`` and ``u`` per level and the prior are read
back into a :class:`MatchModel`, which the stream scores with (its weights constrained so an exact
level never weighs less than a fuzzy one).

Splink and DuckDB are imported only when training runs: the stream needs only the model file.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hub.linkage.records import PersonRecord
from hub.linkage.scoring import DEFAULT_MODEL, LEVELS, Comparison, MatchModel

SINGLE = ("forename", "name_pair", "forename_canonical", "forename_phonetic", "forename_prefix",
          "surname", "surname_phonetic", "surname_prefix", "dob", "dob_transposed", "dob_year", "dob_month",
          "dob_day", "postcode", "postcode_sector")
MULTI = ("forename_del", "surname_del")


def _one(tokens: frozenset[str]) -> str | None:
    return min(tokens) if tokens else None


def token_rows(records: Sequence[PersonRecord]) -> list[dict[str, Any]]:
    """One row per record: a column per match key (one token; a list for the name neighbourhoods)."""
    rows = []
    for r in records:
        row: dict[str, Any] = {"unique_id": r.key, "source_dataset": r.source}
        for name in SINGLE:
            row[name] = _one(r.get(name))
        for name in MULTI:
            row[name] = sorted(r.get(name)) or None
        row["sex"] = r.sex if r.sex in ("M", "F") else None
        rows.append(row)
    return rows


def _overlaps(a: str, b: str) -> str:
    return f"coalesce(len(list_intersect({a}, {b})), 0) > 0"


def _eq(col: str) -> str:
    return f'coalesce("{col}_l" = "{col}_r", false)'


_CROSS = (f"{_overlaps('forename_del_l', 'surname_del_r')} and {_overlaps('surname_del_l', 'forename_del_r')}"
          ' and coalesce("surname_l" <> "surname_r", false)')
_FORENAME_NOT_CLOSE = (f'not {_eq("forename_canonical")} and not {_overlaps("forename_del_l", "forename_del_r")}'
                       f' and not {_eq("forename_phonetic")} and not {_eq("forename_prefix")}')
_SWAPPED_FUZZY = f"({_FORENAME_NOT_CLOSE} and {_CROSS})"
_DOB_NULL_SIDE = '("dob_year_{s}" is null and "dob_month_{s}" is null and "dob_day_{s}" is null)'


def _level(sql: str, label: str, *, null: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"sql_condition": sql, "label_for_charts": label}
    if null:
        out["is_null_level"] = True
    return out


def comparisons() -> list[dict[str, Any]]:
    """Splink comparisons whose levels mirror :func:`hub.linkage.scoring.compare`, in ``LEVELS`` order."""
    forename = [
        _level('"forename_l" is null or "forename_r" is null', "null", null=True),
        _level(_eq("forename"), "exact"),
        _level(f'{_eq("name_pair")} or ("surname_l" is not null and "surname_r" is not null and {_SWAPPED_FUZZY})',
               "swapped"),
        _level(_eq("forename_canonical"), "canonical"),
        _level(_overlaps("forename_del_l", "forename_del_r"), "one_edit"),
        _level(_eq("forename_phonetic"), "phonetic"),
        _level(_eq("forename_prefix"), "prefix"),
        _level("else", "else"),
    ]
    swapped = (f'"forename_l" is not null and "forename_r" is not null and not {_eq("forename")} and '
               f'"surname_l" is not null and "surname_r" is not null')
    surname = [
        _level('"surname_l" is null or "surname_r" is null', "null", null=True),
        _level(f'{_eq("surname")} or ({swapped} and {_eq("name_pair")})', "exact"),
        _level(f'{_overlaps("surname_del_l", "surname_del_r")} or ({swapped} and {_SWAPPED_FUZZY})', "one_edit"),
        _level(_eq("surname_phonetic"), "phonetic"),
        _level(_eq("surname_prefix"), "prefix"),
        _level("else", "else"),
    ]
    parts = " + ".join(f'cast({_eq(p)} as integer)' for p in ("dob_year", "dob_month", "dob_day"))
    dob = [
        _level(f'{_DOB_NULL_SIDE.format(s="l")} or {_DOB_NULL_SIDE.format(s="r")}', "null", null=True),
        _level(_eq("dob"), "exact"),
        _level('coalesce("dob_transposed_l" = "dob_r", false) or coalesce("dob_l" = "dob_transposed_r", false)',
               "transposed"),
        _level(f"({parts}) >= 2", "two_parts"),
        _level(_eq("dob_year"), "year"),
        _level("else", "else"),
    ]
    postcode = [
        _level('"postcode_l" is null or "postcode_r" is null', "null", null=True),
        _level(_eq("postcode"), "exact"),
        _level(_eq("postcode_sector"), "sector"),
        _level("else", "else"),
    ]
    sex = [
        _level('"sex_l" is null or "sex_r" is null', "null", null=True),
        _level(_eq("sex"), "exact"),
        _level("else", "else"),
    ]
    levels = {"forename": forename, "surname": surname, "dob": dob, "postcode": postcode, "sex": sex}
    return [{"output_column_name": name, "comparison_levels": levels[name]} for name in LEVELS]


TRAINING_BLOCKS = ('l."dob" = r."dob"', 'l."forename" = r."forename" and l."surname" = r."surname"',
                   'l."postcode" = r."postcode" and l."dob_year" = r."dob_year"')
"""EM sessions: each trains the comparisons it does not block on (date of birth trains the names,
postcode and sex; the names train the date of birth; postcode within a birth year trains the rest)."""
TRAINING_COLUMNS = (("dob",), ("forename", "surname"), ("postcode", "dob_year"))
DETERMINISTIC = ('l."forename" = r."forename" and l."surname" = r."surname" and l."dob" = r."dob"',
                 'l."name_pair" = r."name_pair" and l."dob" = r."dob" and l."postcode" = r."postcode"')
DETERMINISTIC_RECALL = 0.7
"""Share of true pairs the deterministic rules are assumed to find, for the prior (Splink's method);
the bench measures it on FEBRL4 and the synthetic data."""


@dataclass(frozen=True)
class SplinkFit:
    """The model read back from Splink and Splink's own settings (for the record)."""

    model: MatchModel
    settings: dict[str, Any]


def train_with_splink(records: Sequence[PersonRecord], *, link_type: str = "dedupe_only",
                      max_pairs: float = 2e6, seed: int = 1, recall: float = DETERMINISTIC_RECALL,
                      fallback: MatchModel = DEFAULT_MODEL) -> SplinkFit:
    """Fit m, u and the prior with Splink on the records' tokens; levels Splink could not estimate keep
    ``fallback``'s values."""
    import duckdb
    import pandas as pd
    from splink import DuckDBAPI, Linker, SettingsCreator

    frame = pd.DataFrame(token_rows(records))
    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")
    db = DuckDBAPI(connection)
    levels: list[Any] = comparisons()
    rules: list[Any] = list(TRAINING_BLOCKS)
    kind: Any = link_type
    settings = SettingsCreator(link_type=kind, comparisons=levels, blocking_rules_to_generate_predictions=rules,
                               retain_intermediate_calculation_columns=False,
                               retain_matching_columns=False)
    if link_type == "dedupe_only":
        inputs: Any = db.register(frame)
    else:
        inputs = [db.register(part.reset_index(drop=True)) for _, part in frame.groupby("source_dataset")]
    linker = Linker(inputs, settings, log_level=logging.ERROR)  # it warns of levels no pair reached
    from splink.internals.exceptions import EMTrainingException

    # ValueError: the rules found more pairs than the recall allows; the fallback prior stays.
    with contextlib.suppress(ValueError):
        linker.training.estimate_probability_two_random_records_match(list(DETERMINISTIC), recall=recall)
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    for rule, columns in zip(TRAINING_BLOCKS, TRAINING_COLUMNS, strict=True):
        # A session with no pair (no postcodes at all) must not start: Splink would raise half-way, with
        # the session's comparisons already taken out of the model.
        if not frame.dropna(subset=list(columns)).duplicated(subset=list(columns)).any():
            continue
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule, record_sample_proportion=1.0)
        except EMTrainingException:
            raise ValueError(f"Splink could not train on pairs agreeing on {' and '.join(columns)}") from None
    data = linker.misc.save_model_to_json()
    return SplinkFit(model_from_splink(data, fallback), data)


def model_from_splink(data: Mapping[str, Any], fallback: MatchModel = DEFAULT_MODEL) -> MatchModel:
    """A :class:`MatchModel` from a Splink settings dict whose comparisons are :func:`comparisons`."""
    by_name = {c["output_column_name"]: c for c in data["comparisons"]}
    out = []
    for default in fallback.comparisons:
        levels = [lv for lv in by_name[default.name]["comparison_levels"] if not lv.get("is_null_level")]
        m = [_prob(lv.get("m_probability"), d) for lv, d in zip(levels, default.m, strict=True)]
        u = [_prob(lv.get("u_probability"), d) for lv, d in zip(levels, default.u, strict=True)]
        out.append(Comparison(default.name, LEVELS[default.name], _normalised(m), _normalised(u)))
    prior = data.get("probability_two_random_records_match")
    return MatchModel(tuple(out), float(prior) if isinstance(prior, int | float) and 0 < prior < 1 else fallback.prior)


def _prob(value: object, default: float) -> float:
    return float(value) if isinstance(value, int | float) and value > 0 else default


def _normalised(probs: Sequence[float]) -> tuple[float, ...]:
    floor = [max(p, 1e-6) for p in probs]
    total = sum(floor)
    return tuple(p / total for p in floor)
