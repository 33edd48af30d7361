"""HTTP push without a broker: tokens, status codes, per-record results, dead letters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hub.connectors.config import load_config
from hub.connectors.modes.http_push import HttpConfig, Tokens, add_token, new_token, token_hash
from hub.connectors.testing import FlakyProducer, RecordingProducer
from hub.policy import ConfigError
from tests.connectors.harness import Fixture, make_tokens, post_all, recording_runtime, write_config

SOURCE = "police_incident"



def post(tmp_path: Path, producer: RecordingProducer, bodies: list[Any], token: str | None = None,
         **http: Any) -> list[tuple[int, Any]]:
    good = make_tokens(tmp_path)
    path = write_config(tmp_path, "http", SOURCE, **http)
    run = post_all(path, good if token is None else token, bodies,
                   runtime_factory=lambda c: recording_runtime(c, producer))
    return run.responses


def test_records_are_accepted_only_once_acknowledged(tmp_path: Path, fixture: Fixture) -> None:
    producer = RecordingProducer()
    [(status, body)] = post(tmp_path, producer, [fixture.as_dicts()])
    assert status == 200
    assert body["accepted"] == len(fixture.rows) and body["rejected"] == 0
    assert [r["status"] for r in body["results"]] == ["accepted"] * len(fixture.rows)
    assert [r["index"] for r in body["results"]] == list(range(len(fixture.rows)))
    assert producer.acked == len(producer.sent) == len(fixture.rows)


def test_rejected_records_are_listed_with_reasons_and_dead_lettered(tmp_path: Path, fixture: Fixture) -> None:
    producer = RecordingProducer()
    good, bad_date, extra = fixture.as_dicts(fixture.rows[:3])
    bad_date = {**bad_date, "OccurredFrom": "last Tuesday"}
    extra = {**extra, "ShoeSize": "9"}
    body = {"records": [good, bad_date, "not an object", extra, {**good, "KnifeFlag": ["Y"]}]}
    [(status, answer)] = post(tmp_path, producer, [body])
    assert status == 200
    results = answer["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected", "rejected", "rejected"]
    assert results[1]["kind"] == "bad_datetime" and results[1]["reason"].startswith("OccurredFrom:")
    assert "last Tuesday" not in json.dumps(answer)  # reasons name fields, never values
    assert results[2]["kind"] == "not_an_object"
    assert results[3]["kind"] == "unknown_column" and "ShoeSize" in results[3]["reason"]
    assert results[4]["kind"] == "wrong_type"
    dead = producer.on(f"svh.dlq.{SOURCE}")
    assert len(dead) == 4
    assert json.loads(dead[0].value)["OccurredFrom"] == "last Tuesday"  # the original, on the restricted topic
    assert all(dict(d.headers)[b"svh.errors.stage".decode()] == b"validate" for d in dead)


@pytest.mark.parametrize("token", ["", "wrong-token"], ids=["missing", "unknown"])
def test_bad_tokens_get_401_and_publish_nothing(tmp_path: Path, fixture: Fixture, token: str) -> None:
    producer = RecordingProducer()
    [(status, body)] = post(tmp_path, producer, [fixture.as_dicts()], token=token)
    assert status == 401 and producer.sent == []


def test_oversize_and_non_json_bodies(tmp_path: Path, fixture: Fixture) -> None:
    producer = RecordingProducer()
    huge = [fixture.as_dicts()[0]] * 20  # about 10 kB
    answers = post(tmp_path, producer, [huge, b"{not json", b'"a string"', [{}] * 11],
                   max_body_bytes=4096, max_records=10)
    assert [s for s, _ in answers] == [413, 400, 400, 413]
    assert "more than 10 records" in answers[3][1]["error"]
    assert producer.sent == []


def test_kafka_not_acknowledging_gives_503(tmp_path: Path, fixture: Fixture) -> None:
    producer = FlakyProducer(fail_at={0})
    [(status, body)] = post(tmp_path, producer, [fixture.as_dicts()])
    assert status == 503 and "send them again" in body["error"]


def test_tokens_file_holds_hashes_only(tmp_path: Path) -> None:
    token, digest = new_token()
    path = tmp_path / "tokens.yaml"
    add_token(path, "rms", digest)
    text = path.read_text()
    assert token not in text and digest in text
    assert path.stat().st_mode & 0o077 == 0
    tokens = Tokens(path)
    assert tokens.holder(token) == "rms" and tokens.holder(token + "x") is None
    assert token_hash(token) == digest
    other, other_digest = new_token()
    add_token(path, "rms-2", other_digest)
    tokens.reload()
    assert tokens.holder(other) == "rms-2" and len(tokens) == 2


def test_a_token_written_in_clear_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text("tokens:\n  - {name: rms, token: abc123}\n")
    with pytest.raises(ConfigError, match=r"tokens.yaml:2: tokens\[0\]: .*never the token itself"):
        Tokens(path)
    path.write_text("tokens:\n  - {name: rms, sha256: abc}\n")
    with pytest.raises(ConfigError, match="64 hex digits"):
        Tokens(path)


def test_listens_on_loopback_by_default(tmp_path: Path) -> None:
    make_tokens(tmp_path)
    config = load_config(write_config(tmp_path, "http", SOURCE), environ={})
    assert config.section(HttpConfig).host == "127.0.0.1"


def test_every_problem_in_a_tokens_file_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text("tokens:\n  - {name: rms, token: abc123}\n  - {name: x, sha256: abc}\n  - {sha256: " + "a" * 64
                    + "}\n")
    with pytest.raises(ConfigError) as err:
        Tokens(path)
    assert err.value.problems == [
        f"{path}:2: tokens[0]: must be {{name: <who holds it>, sha256: <hash of the token>}}; never the token itself",
        f"{path}:3: tokens[1].sha256: must be 64 hex digits (hub connector token prints one)"]
    assert "abc123" not in str(err.value)
