"""The link stage's speed on one core and its person index's memory, beside an anchor from the same run.

Mentions are made from the synthetic name lists (one in three a repeat of an earlier person, with a typo,
a nickname or a transposed date half the time), tokenised with a bench key, then added one at a time to a
:class:`PersonIndex` as the stream does (blocking, scoring, clustering; no Kafka). Memory is what
``tracemalloc`` sees the index hold, per mention, scaled to a million persons. The anchor is a fixed
pure-Python workload timed in the same process, so a loaded machine shows in both figures.
"""

from __future__ import annotations

import random
import time
import tracemalloc
from datetime import date, timedelta
from typing import Any

from hub.linkage import PersonRecord, record_key
from hub.linkage.index import PersonIndex
from hub.linkage.scoring import DEFAULT_MODEL, MatchModel
from hub.pseudonymisation import KeyRing, Tokeniser
from hub.synth.names import FEMALE_FORENAMES, MALE_FORENAMES, SURNAMES


def _typo(rng: random.Random, name: str) -> str:
    i = rng.randrange(len(name))
    return name[:i] + name[i + 1:] if len(name) > 3 else name


def mentions(n: int, seed: int = 5) -> list[PersonRecord]:
    """``n`` tokenised person mentions: two in three new people, one in three repeats with some errors."""
    rng = random.Random(seed)
    tok = Tokeniser(KeyRing.generate("kbench"))
    forenames = [*MALE_FORENAMES, *FEMALE_FORENAMES]
    people: list[tuple[str, str, date, str]] = []
    out = []
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
        out.append(PersonRecord(record_key(f"ev-{i:012d}", "victim"), "police_incident", "victim", tokens, sex))
    return out


def anchor_ops_per_s(seconds: float = 0.5) -> float:
    """A fixed pure-Python workload (dict and set operations on short strings), per second."""
    keys = [f"k{i}" for i in range(1000)]
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        table: dict[str, set[str]] = {}
        for k in keys:
            table.setdefault(k[:3], set()).add(k)
        done += 1
    return done * len(keys) / (time.perf_counter() - started)


def run(n: int = 20_000, model: MatchModel = DEFAULT_MODEL, seed: int = 5) -> dict[str, Any]:
    records = mentions(n, seed)
    anchor_before = anchor_ops_per_s()
    index = PersonIndex(model)
    started = time.perf_counter()
    for record in records:
        index.add(record)
    seconds = time.perf_counter() - started
    anchor = (anchor_before + anchor_ops_per_s()) / 2
    rate = n / seconds
    # Memory: a fresh index over the same mentions (their token maps included: the index keeps them).
    records = mentions(n, seed)
    tracemalloc.start()
    held = PersonIndex(model)
    for record in records:
        held.add(record)
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    persons = len({held.person_of(r.key) for r in records})
    per_mention = current / n
    return {
        "link_stage_mentions": n, "link_stage_persons": persons,
        "link_stage_records_per_s_one_core": rate, "anchor_dict_ops_per_s": anchor,
        "link_stage_records_per_million_anchor_ops": rate / anchor * 1e6,
        "person_index_bytes_per_mention": per_mention,
        "person_index_gib_for_1m_persons": per_mention * n / persons * 1e6 / 2**30,
    }
