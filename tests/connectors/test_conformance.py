"""Conformance: every deployment mode x every standard source, on the real broker.

Sources are discovered (``registry.standard_sources()``: a raw schema plus a standard mapping), so a
new source joins automatically, and one without a fixture FAILS the completeness test. Each case
feeds the fixture's good rows plus a shared set of bad inputs (bad date, unknown code, missing id,
wrong column count, derived from the mapping) through the same runtime ``hub connector run`` uses,
then checks what reached Kafka:

- every good row's output decodes with the source's raw schema (or SharedEvent when the agreement
  pseudonymises the source at the source), with the required headers and a non-empty key;
- every bad input is dead-lettered with Kafka Connect-style headers naming the kind and the field;
- read = published + dead-lettered, in the run's report and in the Prometheus counters;
- re-reading the same input publishes nothing twice in effect: pull modes publish nothing on a
  re-run, and a run from a lost checkpoint (or an HTTP resend) publishes byte-identical messages.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hub import kafka_admin
from hub.config import Settings, load_settings
from hub.connectors import registry
from hub.connectors.config import load_config
from hub.connectors.runtime import Runtime
from hub.dead_letters import headers_dict
from hub.kafka_read import Message, read_topic
from hub.metrics import REGISTRY
from hub.policy import example_agreement_path, load_agreement
from hub.pseudonymisation import KeyRing, save_key_file
from hub.schemas import RAW_SCHEMAS, SHARED_EVENT, default_repository
from hub.topics import Topics
from tests.connectors.harness import (
    FIXTURES,
    BadInput,
    Fixture,
    bad_inputs,
    csv_bytes,
    drop_file,
    insert_rows,
    load_fixture,
    make_tokens,
    post_all,
    run_pull,
    unique_ids,
    write_config,
)
from tests.plugins.services import unique

SOURCES = registry.standard_sources()
MODES = registry.mode_names()
REQUIRED_DLQ_HEADERS = {"source", "stage", "class.name", "exception.message", "kind", "position"}


def test_every_standard_source_has_a_fixture() -> None:
    """A source the hub can connect must be covered here: no fixture is a failure, not a skip."""
    missing = [s for s in SOURCES if not (FIXTURES / f"{s}.csv").exists()]
    assert not missing, f"add tests/connectors/fixtures/<source>.csv (good rows, standard headers) for {missing}"


def test_every_raw_schema_has_a_standard_mapping() -> None:
    assert sorted(RAW_SCHEMAS) == SOURCES


def test_fixtures_parse_cleanly() -> None:
    """Fixture rows are all good rows: the bad ones are made from them by the suite."""
    from hub.connectors.mapping import default_mapping_path, load_mapping
    for source in SOURCES:
        fixture = load_fixture(source)
        assert fixture is not None and len(fixture.rows) >= 3, source
        mapping = load_mapping(default_mapping_path(source))
        for row in fixture.as_dicts():
            mapping.parse(row)


def _counter(name: str, source: str) -> float:
    return float(REGISTRY.get_sample_value(name, {"source": source}) or 0.0)


def _dead_lettered(source: str) -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            if sample.name == "svh_records_dead_lettered_total" and sample.labels.get("source") == source:
                total += sample.value
    return total


class Case:
    """One mode x source: its settings, folders, inputs and the topics to read."""

    def __init__(self, mode: str, source: str, root: Path, bootstrap: str) -> None:
        fixture = load_fixture(source)
        if fixture is None:
            pytest.fail(f"no fixture for {source}: add tests/connectors/fixtures/{source}.csv")
        self.fixture: Fixture = fixture
        self.mode, self.source, self.root = mode, source, root
        prefix = unique(f"conf-{mode}-{source}")
        self.settings: Settings = load_settings({}, kafka_bootstrap=bootstrap, topic_prefix=prefix)
        self.at_source = load_agreement(example_agreement_path()).source(source).pseudonymise_at == "source"
        keys = root / "keys.json"
        save_key_file(KeyRing.generate(holder="agency:conformance" if self.at_source else "hub"), keys)
        self.extra = {"checkpoint_every": 3, "pseudonymisation": {"keys_file": str(keys)}}
        self.config_path = self.config(root / "a")
        self.mapping = load_config(self.config_path).load_mapping()
        self.bad: list[BadInput] = [b for b in bad_inputs(self.fixture, self.mapping) if mode in b.modes]
        topics = Topics(prefix)
        self.output = topics.at_source(source) if self.at_source else topics.raw(source)
        self.dlq = topics.dlq(source)
        self.token = make_tokens(root / "a") if mode == "http" else ""

    def config(self, where: Path) -> Path:
        return write_config(where, self.mode, self.source, settings=self.settings, extra=self.extra,
                            **({"inbox": str(self.root / "inbox")} if self.mode == "file_drop" else {}),
                            **({"url": f"sqlite:///{self.root / 'agency.db'}"} if self.mode == "database" else {}))

    def rows(self) -> list[list[str]]:
        return [*self.fixture.rows, *unique_ids(self.fixture, self.mapping, [b.row for b in self.bad], "bad")]

    def feed(self) -> None:
        if self.mode == "file_drop":
            drop_file(self.root / "inbox", f"{self.source}.csv", csv_bytes(self.fixture.header, self.rows()))
        elif self.mode == "database":
            insert_rows(self.root / "agency.db", self.fixture.header, self.rows())

    def bodies(self) -> list[Any]:
        objs: list[Any] = self.fixture.as_dicts()
        for bad, row in zip(self.bad, unique_ids(self.fixture, self.mapping, [b.row for b in self.bad], "bad"),
                            strict=True):
            obj: dict[str, Any] = dict(zip(self.fixture.header, row, strict=True))
            if bad.kind == "unknown_column":
                obj["UnexpectedColumn"] = "x"
            objs.append(obj)
        return [{"records": objs}]

    def run(self, config_path: Path) -> dict[str, Any]:
        def runtime(config: Any) -> Runtime:
            return Runtime(config)
        if self.mode == "http":
            token = self.token if config_path == self.config_path else make_tokens(config_path.parent)
            run = post_all(config_path, token, self.bodies(), runtime_factory=runtime)
            [(status, answer)] = run.responses
            assert status == 200, answer
            assert [r["status"] for r in answer["results"]] == \
                ["accepted"] * len(self.fixture.rows) + ["rejected"] * len(self.bad)
            return run.totals
        return run_pull(config_path, runtime).totals

    def read(self) -> tuple[list[Message], list[Message]]:
        return read_topic(self.settings, self.output), read_topic(self.settings, self.dlq)


@pytest.mark.integration
@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("mode", MODES)
def test_conformance(mode: str, source: str, tmp_path: Path, kafka_bootstrap: str) -> None:
    case = Case(mode, source, tmp_path, kafka_bootstrap)
    try:
        _check(case)
    finally:
        kafka_admin.delete_topics(case.settings, [source])


def _check(case: Case) -> None:
    source = case.source
    before = (_counter("svh_records_read_total", source), _counter("svh_records_published_total", source),
              _dead_lettered(source))
    case.feed()
    totals = case.run(case.config_path)
    good, bad = len(case.fixture.rows), len(case.bad)

    # conservation, in the report and in the metrics
    assert (totals["read"], totals["published"], totals["dead_lettered"]) == (good + bad, good, bad), totals
    after = (_counter("svh_records_read_total", source), _counter("svh_records_published_total", source),
             _dead_lettered(source))
    assert [a - b for a, b in zip(after, before, strict=True)] == [good + bad, good, bad]

    out, dlq = case.read()
    repo = default_repository()
    schema = SHARED_EVENT if case.at_source else RAW_SCHEMAS[source]

    # output: decodes with the schema, required headers, non-empty keys
    assert len(out) == good
    for msg in out:
        name, value = repo.decode(msg.value or b"")
        assert name == schema
        headers = dict(msg.headers)
        assert headers["svh.source"] == source.encode() and headers["svh.schema"] == schema.encode()
        assert msg.key
        if case.at_source:
            assert msg.key.decode() == value["event_id"] and value["source"] == source
        else:
            assert msg.key.decode() == value["record_id"]
    if not case.at_source:
        ids = {r[case.fixture.header.index(case.mapping.record_id_column())] for r in case.fixture.rows}
        assert {m.key.decode() for m in out if m.key} == ids

    # dead letters: one per bad input, with the kind and the field named
    assert len(dlq) == bad
    by_kind = {b.kind: b for b in case.bad}
    for msg in dlq:
        h = headers_dict(msg.headers)
        assert set(h) >= REQUIRED_DLQ_HEADERS, h
        expected = by_kind.pop(h["kind"])
        assert h["source"] == source
        assert h.get("field") == expected.column, (expected.name, h)
        if expected.column:
            assert expected.column in h["exception.message"]
        if case.at_source:
            assert msg.value in (b"", None)  # at source the row stays in the agency's quarantine
        else:
            assert msg.value  # the original, for repair
    assert not by_kind, f"not dead-lettered: {sorted(by_kind)}"

    # re-reading the same input publishes nothing twice in effect
    if case.mode == "file_drop":
        drop_file(case.root / "inbox", f"again-{source}.csv", csv_bytes(case.fixture.header, case.rows()))
    if case.mode != "http":
        again = case.run(case.config_path)
        assert again["read"] == 0
        assert [len(m) for m in case.read()] == [good, bad]
    if case.mode == "file_drop":
        drop_file(case.root / "inbox", f"lost-{source}.csv", csv_bytes(case.fixture.header, case.rows()))
    fresh = case.run(case.config(case.root / "b"))  # checkpoint lost (or an HTTP resend): same bytes again
    assert fresh["published"] == good
    out2, dlq2 = case.read()
    assert len(out2) == 2 * good and len(dlq2) == 2 * bad
    first = Counter((m.key, m.value) for m in out)
    assert Counter((m.key, m.value) for m in out2) == Counter({k: 2 * n for k, n in first.items()})
