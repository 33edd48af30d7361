"""The link stage's speed on one core and its person index's memory, beside an anchor from the same run.

Mentions are made from the synthetic name lists (one in three a repeat of an earlier person, with a typo,
a nickname or a transposed date half the time), tokenised with a bench key, then linked one at a time as
the stream does. Two figures, each in records per CPU second of this process (``time.process_time``: one
core, whatever else the machine runs; wall-clock rates are printed too), repeat by repeat interleaved
with an anchor (a fixed pure-Python workload of dict and set operations), medians reported:

- ``PersonIndex.add``: blocking, scoring, clustering (the mention's tokens already a record);
- the whole stage per message: Avro decode of the token message, the records, ``add``, the linked event
  and its Avro encode (what the worker's link agent does between Kafka's fetch and its send).

Memory is what ``tracemalloc`` sees the index keep after the encoded token messages are decoded and
linked one at a time (so the tokens and keys it keeps are counted, and nothing the bench holds), per
mention, scaled to a million persons.
"""

from __future__ import annotations

import random
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

from hub.linkage import PersonRecord, record_key
from hub.linkage.index import PersonIndex
from hub.linkage.messages import LINK_TOKENS, LINKED_EVENT, linked_event, records_of
from hub.linkage.scoring import DEFAULT_MODEL, DEFAULT_THRESHOLD, MatchModel
from hub.pseudonymisation import KeyRing, Tokeniser
from hub.schemas import default_repository
from hub.synth.names import FEMALE_FORENAMES, MALE_FORENAMES, SURNAMES

TARGET_PER_S = 5000.0
"""Issue #7's goal for the link stage on one core."""


def _typo(rng: random.Random, name: str) -> str:
    i = rng.randrange(len(name))
    return name[:i] + name[i + 1:] if len(name) > 3 else name


def iter_mentions(n: int, seed: int = 5) -> Iterator[PersonRecord]:
    """``n`` tokenised person mentions: two in three new people, one in three repeats with some errors."""
    rng = random.Random(seed)
    tok = Tokeniser(KeyRing.generate("kbench"))
    forenames = [*MALE_FORENAMES, *FEMALE_FORENAMES]
    people: list[tuple[str, str, date, str]] = []
    for i in range(n):
        if people and rng.random() < 1 / 3:
            forename, surname, dob, sex = rng.choice(people)
            if rng.random() < 0.25:
                forename = _typo(rng, forename)
            if rng.random() < 0.25:
                surname = _typo(rng, surname)
            if rng.random() < 0.1 and dob.day <= 12:
                dob = date(dob.year, dob.day, dob.month)
        else:
            sex = rng.choice("MF")
            forename = rng.choice(forenames)
            surname = rng.choice(SURNAMES)
            dob = date(1950, 1, 1) + timedelta(days=rng.randrange(60 * 365))
            people.append((forename, surname, dob, sex))
        tokens: dict[str, str] = {}
        tokens.update(tok.match_keys("forename", forename))
        tokens.update(tok.match_keys("surname", surname))
        tokens.update(tok.match_keys("dob", dob if rng.random() > 0.05 else None))
        tokens.update(tok.name_pair(forename, surname))
        yield PersonRecord(record_key(f"ev-{i:012d}", "victim"), "police_incident", "victim", tokens, sex)


def mentions(n: int, seed: int = 5) -> list[PersonRecord]:
    return list(iter_mentions(n, seed))


def token_messages(records: list[PersonRecord]) -> list[bytes]:
    """Each mention as the link-tokens message the stream carries (one person per event)."""
    schemas = default_repository()
    return [schemas.encode(LINK_TOKENS, {
        "event_id": r.event_id, "source": r.source, "key_id": "kbench", "occurred_date": None,
        "persons": [{"role": r.role, "sex": r.sex, "tokens": dict(r.tokens)}]}) for r in records]


def _timed(loop: Callable[[], None], count: int) -> tuple[float, float]:
    """(per CPU second, per wall second) of one run of ``loop`` doing ``count`` things."""
    cpu, wall = time.process_time(), time.perf_counter()
    loop()
    return count / (time.process_time() - cpu), count / (time.perf_counter() - wall)


def _anchor(ops: int = 1_000_000) -> Callable[[], None]:
    keys = [f"k{i}" for i in range(1000)]

    def loop() -> None:
        for _ in range(ops // len(keys)):
            table: dict[str, set[str]] = {}
            for k in keys:
                table.setdefault(k[:3], set()).add(k)
    return loop


def run(n: int = 20_000, model: MatchModel = DEFAULT_MODEL, seed: int = 5, repeats: int = 3,
        threshold: float = DEFAULT_THRESHOLD, memory_n: int | None = None) -> dict[str, Any]:
    records = mentions(n, seed)
    payloads = token_messages(records)
    schemas = default_repository()

    def index_only() -> None:
        index = PersonIndex(model, threshold=threshold)
        for record in records:
            index.add(record)

    def stage() -> None:  # what the link agent does per message, Kafka aside
        index = PersonIndex(model, threshold=threshold)
        for payload in payloads:
            _, message = schemas.decode(payload, expect=LINK_TOKENS)
            assignments = {r.role: index.add(r) for r in records_of(message)}
            schemas.encode(LINKED_EVENT, linked_event(message, assignments, "bench"))

    anchor = _anchor()
    anchor_runs, index_runs, stage_runs = [], [], []
    for _ in range(repeats):  # interleaved, so all three see the same machine
        anchor_runs.append(_timed(anchor, 1_000_000))
        index_runs.append(_timed(index_only, n))
        stage_runs.append(_timed(stage, n))
    anchor_cpu = statistics.median(r[0] for r in anchor_runs)
    index_cpu = statistics.median(r[0] for r in index_runs)
    stage_cpu = statistics.median(r[0] for r in stage_runs)
    out: dict[str, Any] = {
        "link_stage_mentions": n,
        "link_stage_records_per_cpu_s": stage_cpu,
        "link_stage_records_per_wall_s": statistics.median(r[1] for r in stage_runs),
        "link_index_add_records_per_cpu_s": index_cpu,
        "link_index_add_records_per_wall_s": statistics.median(r[1] for r in index_runs),
        "anchor_dict_ops_per_cpu_s": anchor_cpu,
        "anchor_dict_ops_per_wall_s": statistics.median(r[1] for r in anchor_runs),
        "link_stage_records_per_million_anchor_ops": stage_cpu / anchor_cpu * 1e6,
        "link_index_add_records_per_million_anchor_ops": index_cpu / anchor_cpu * 1e6,
        "link_stage_target_per_s": TARGET_PER_S,
        "link_stage_vs_target": stage_cpu / TARGET_PER_S,
    }
    out.update(memory(memory_n or n, model, seed, threshold))
    return out


def memory(n: int, model: MatchModel = DEFAULT_MODEL, seed: int = 5,
           threshold: float = DEFAULT_THRESHOLD) -> dict[str, Any]:
    """What the person index keeps for ``n`` mentions fed as encoded token messages, scaled to 1M persons."""
    schemas = default_repository()
    payloads = token_messages(mentions(n, seed))
    tracemalloc.start()
    index = PersonIndex(model, threshold=threshold)
    for payload in payloads:
        _, message = schemas.decode(payload, expect=LINK_TOKENS)
        for record in records_of(message):
            index.add(record)
    del message, record
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    persons = len(set(index.persons().values()))
    per_mention = current / n
    return {
        "person_index_mentions": n, "person_index_persons": persons,
        "person_index_bytes_per_mention": per_mention,
        "person_index_gib_for_1m_persons": per_mention * n / persons * 1e6 / 2**30,
    }
