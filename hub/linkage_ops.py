"""``hub linkage train`` and ``hub linkage link``: the linkage operations that touch files and Kafka.

- ``train`` fits the model with Splink on the restricted token topic (the token store only the link
  stage and this command read) and writes the versioned model file the link stage loads on start.
- ``link`` links a user's own extracts (agreement-approved, one-off linkage, or evaluation) through the
  same connector mapping, pseudonymisation and model as the stream, and writes person ids per row.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hub.config import Settings
from hub.linkage import PersonRecord, link, record_key
from hub.linkage.model_file import ModelFile, load_model, write_model
from hub.linkage.scoring import MatchModel


def _records_from_topic(settings: Settings) -> list[PersonRecord]:
    from hub.kafka_read import read_topic
    from hub.linkage.messages import LINK_TOKENS, records_of
    from hub.schemas import default_repository
    from hub.topics import Topics

    schemas = default_repository()
    out: list[PersonRecord] = []
    for m in read_topic(settings, Topics(settings.topic_prefix).link_tokens, timeout_s=600):
        if m.value:
            out.extend(records_of(schemas.decode(m.value, expect=LINK_TOKENS)[1]))
    return out


def train(settings: Settings, out: Path | None = None, threshold: float | None = None) -> ModelFile:
    """Fit on the token store and write the model file (default: the one the worker loads)."""
    from hub.linkage.splink_train import train_with_splink

    records = _records_from_topic(settings)
    if len(records) < 50:
        raise ValueError(f"the token store holds {len(records)} person mentions: too few to train on (50 at least)")
    fit = train_with_splink(records)
    current = load_model(settings.linkage_model_path)
    return write_model(out or settings.linkage_model_path, fit.model, trained_on=len(records), method="splink",
                       threshold=threshold if threshold is not None else current.threshold)


@dataclass(frozen=True)
class Input:
    mapping: Path
    path: Path


@dataclass(frozen=True)
class LinkResult:
    rows: int
    mentions: int
    persons: int
    model: str


def link_files(settings: Settings, inputs: Sequence[Input], out: Path, *, one_to_one: bool = False,
               dedupe: bool = False, model_path: Path | None = None,
               progress: Callable[[int], None] | None = None) -> LinkResult:
    """Link the persons in ``inputs`` (one file: de-duplicate; two: link across them, and within each too
    with ``dedupe``); write ``file,record_id,role,person_id`` to ``out``."""
    from hub.connectors import CsvFileConnector, load_mapping
    from hub.policy import load_agreement
    from hub.pseudonymisation import PostcodeLookup, Pseudonymiser, load_keyring

    lookup = PostcodeLookup.from_csv(settings.postcode_lookup) if settings.postcode_lookup else None
    pseudonymiser = Pseudonymiser(load_agreement(settings.agreement_file()), load_keyring(settings.keys_path),
                                  lookup)
    records: list[PersonRecord] = []
    origin: dict[str, tuple[str, str]] = {}  # mention key -> (file label, the row's record id)
    rows = 0
    for n, item in enumerate(inputs):
        label = item.path.name if len({i.path.name for i in inputs}) == len(inputs) else f"file{n + 1}"
        mapping = load_mapping(item.mapping, lookup)
        for row in CsvFileConnector(item.path, mapping).records():
            if not row.record:
                continue
            rows += 1
            if progress is not None and rows % 500 == 0:
                progress(rows)
            shared = pseudonymiser.apply(mapping.source, row.record).shared
            for person in shared["persons"]:
                if person.get("tokens"):
                    key = record_key(f"{label}:{shared['event_id']}", person["role"])
                    records.append(PersonRecord(key, label, person["role"], dict(person["tokens"]),
                                                person.get("sex")))
                    origin[key] = (label, str(row.record.get("record_id", "")))
    if progress is not None:
        progress(rows)
    model = _model_for(records, model_path or settings.linkage_model_path)
    mode = "link" if len(inputs) == 2 and not dedupe else "dedupe"
    linked = link(records, model.model, threshold=model.threshold, mode=mode,
                  one_to_one_links=one_to_one and mode == "link")
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "record_id", "role", "person_id"])
        for key in sorted(linked.persons, key=lambda k: origin[k]):
            label, record_id = origin[key]
            writer.writerow([label, record_id, key.rsplit("/", 1)[1], linked.persons[key]])
    return LinkResult(rows, len(records), len(set(linked.persons.values())), model.version)


def _model_for(records: Sequence[PersonRecord], path: Path) -> ModelFile:
    """The trained model file if there is one; else fit one on these records with Splink (if installed)."""
    if path.exists():
        return load_model(path)
    try:
        from hub.linkage.splink_train import train_with_splink
        fitted: MatchModel = train_with_splink(records).model
    except ImportError:
        return load_model(path)  # the built-in defaults
    from hub.linkage.model_file import DEFAULT_FILE, version_of
    return ModelFile(fitted, DEFAULT_FILE.threshold, version_of(fitted, DEFAULT_FILE.threshold), method="splink")
