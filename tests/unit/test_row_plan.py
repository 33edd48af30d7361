"""The compiled row plan (``hub.connectors.plan``) and the reading process (``hub.connectors.feed``) publish
exactly what the reference path publishes: the same event bytes and keys, the same dead letters (reason,
column, kind, position, original), the same counts, on every source's synthetic extract and on broken rows."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.connectors import CsvFileConnector, default_mapping_path, load_mapping
from hub.connectors.base import SourceRecord
from hub.connectors.feed import RowBatches, key_hash
from hub.connectors.mapping import FieldMapping, RowError
from hub.connectors.plan import Fallback, field_encoder, split_datetime, split_days, split_millis, varint
from hub.connectors.timeparse import parser
from hub.pseudonymisation import PostcodeLookup
from hub.schemas import RAW_SCHEMAS, default_repository
from hub.synth import SOURCE_GENERATORS, generate_police_extract

SCHEMAS = default_repository()


def _reference(path: Path, mapping: FieldMapping) -> list[tuple[bytes, bytes] | SourceRecord]:
    """What ``Publisher.publish`` sends for each row of the reference path: (key, value) or the dead letter."""
    out: list[tuple[bytes, bytes] | SourceRecord] = []
    for rec in CsvFileConnector(path, mapping).records():
        if rec.record is not None:
            key = str(rec.record.get("record_id") or rec.record_id or "").encode()
            out.append((key, SCHEMAS.encode_with_fastavro(RAW_SCHEMAS[mapping.source], rec.record)))
        else:
            out.append(rec)
    return out


def _same_dead_letter(got: SourceRecord, want: SourceRecord) -> None:
    assert got.error is not None and want.error is not None
    assert (got.position, got.original, got.record_id, got.header) == \
           (want.position, want.original, want.record_id, want.header)
    assert (str(got.error), got.error.column, got.error.kind) == (str(want.error), want.error.column, want.error.kind)


def _compare(path: Path, lookup: Path | None, source: str, child: bool = False) -> tuple[int, int]:
    """Fast items against the reference, row by row; returns (rows the plan encoded, rows dead-lettered)."""
    ref_mapping = load_mapping(default_mapping_path(source), PostcodeLookup.from_csv(lookup) if lookup else None)
    fast_mapping = load_mapping(default_mapping_path(source), PostcodeLookup.from_csv(lookup) if lookup else None)
    want = _reference(path, ref_mapping)
    with RowBatches(path, fast_mapping, child=child) as batches:
        got = [item for batch in batches for item in batch]
    assert len(got) == len(want)
    encoded = dead = 0
    for g, w in zip(got, want, strict=True):
        if isinstance(w, tuple):
            if isinstance(g, tuple):
                assert g == (w[0], w[1], key_hash(w[0]))
                encoded += 1
            else:  # the plan gave up; the reference path it took must give the same record
                assert g.record is not None and SCHEMAS.encode(RAW_SCHEMAS[source], g.record) == w[1]
        else:
            assert isinstance(g, SourceRecord)
            _same_dead_letter(g, w)
            dead += 1
    assert fast_mapping.placements == ref_mapping.placements  # place fields: counted once per row, as before
    return encoded, dead


@pytest.mark.parametrize("source", sorted(SOURCE_GENERATORS))
def test_every_sources_extract_encodes_byte_for_byte(tmp_path: Path, source: str) -> None:
    manifest = SOURCE_GENERATORS[source](tmp_path / source, seed=11, rows=300)
    encoded, dead = _compare(manifest.extract_csv, manifest.lookup_csv, source)
    assert encoded == manifest.rows_valid  # the plan covers every good row of every source
    assert dead == manifest.rows_malformed


def test_the_police_extract_encodes_byte_for_byte_in_a_child_process(tmp_path: Path) -> None:
    manifest = generate_police_extract(tmp_path, seed=5, incidents=600, malformed=40)
    encoded, dead = _compare(manifest.extract_csv, manifest.lookup_csv, "police_incident", child=True)
    assert (encoded, dead) == (manifest.rows_valid, manifest.rows_malformed)


@pytest.mark.parametrize("child", [False, True])
def test_an_extract_without_bad_rows_encodes_byte_for_byte(tmp_path: Path, child: bool) -> None:
    manifest = generate_police_extract(tmp_path, seed=6, incidents=700, malformed=0)
    encoded, dead = _compare(manifest.extract_csv, manifest.lookup_csv, "police_incident", child=child)
    assert encoded + dead == manifest.rows_total and dead == 0


def test_a_row_error_crosses_a_process_boundary_whole() -> None:
    import pickle
    sent = pickle.dumps(RowError("KnifeFlag: flag is not Y or N", "KnifeFlag", "bad_flag"))
    err = pickle.loads(sent)  # noqa: S301 - our own bytes
    assert (str(err), err.column, err.kind) == ("KnifeFlag: flag is not Y or N", "KnifeFlag", "bad_flag")


POLICE_HEADER = ["CrimeRef", "HOOffenceCode", "OffenceDescription", "OccurredFrom", "OccurredTo", "ReportedDate",
                 "LocationPostcode", "LocationLSOA", "VictimForename", "VictimSurname", "VictimDOB", "VictimSex",
                 "SuspectForename", "SuspectSurname", "SuspectDOB", "SuspectSex", "DomesticAbuseFlag", "KnifeFlag",
                 "FirearmFlag", "AlcoholFlag", "OutcomeCode", "Narrative"]
GOOD = ["ZZ/25/1", "8N", "Assault with injury", "06/01/2025 01:30", "", "06/01/2025 02:35", "ZZ1 0FW", "",
        "Ann", "Smith", "14/07/1993", "F", "", "", "", "", "N", "Y", "N", "N", "15", "a narrative"]
CELLS = {  # per column: good values, near misses and junk (whitespace, empty, wrong types, odd characters)
    "CrimeRef": ["ZZ/25/1", " ZZ/25/2 ", "", "  ", "É/1", "x" * 40],
    "HOOffenceCode": ["8N", "008N", "10D", "8n", "ZZ", "", " 8N"],
    "OccurredFrom": ["06/01/2025 01:30", "6/1/2025 1:30", "31/02/2025 01:30", "06/01/2025 24:00",
                     "06/01/2025 01:30:00", "06/01/2025  01:30", "2025-01-06 01:30", "", "06/01/2025 01:60",
                     "06/13/2025 01:30", " 06/01/2025 01:30 ", "29/02/2024 23:59", "06/01/2025"],
    "OccurredTo": ["", "06/01/2025 03:00", "garbage", "00/01/2025 00:00", "06/01/2025 1:5"],
    "LocationPostcode": ["ZZ1 0FW", "zz10fw", "ZZ9 9ZZ", "not a postcode", "", "SW1A 1AA"],
    "LocationLSOA": ["", "E01999001", "e01999001", "E0199", "W01000001"],
    "VictimDOB": ["14/07/1993", "", "1993-07-14", "31/04/1990", "1/1/1900", "14/07/93"],
    "VictimSex": ["F", "m", "Male", "unknown", "NK", "Q", "", " i "],
    "KnifeFlag": ["Y", "n", "yes", "TRUE", "0", "maybe", ""],
    "OutcomeCode": ["15", "", "1A", "x"],
}


@settings(max_examples=150, deadline=None, derandomize=True)
@given(rows=st.lists(st.fixed_dictionaries({c: st.sampled_from(v) for c, v in CELLS.items()}), min_size=1,
                     max_size=12),
       short=st.lists(st.integers(0, 11), max_size=2))
def test_broken_rows_give_the_reference_dead_letters(rows: list[dict[str, str]], short: list[int]) -> None:
    import tempfile
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(POLICE_HEADER)
    for i, values in enumerate(rows):
        row = dict(zip(POLICE_HEADER, GOOD, strict=True)) | values
        cells = [row[c] for c in POLICE_HEADER]
        writer.writerow(cells[:-3] if i in short else cells)  # some rows a column or three short
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.csv"
        path.write_text(buf.getvalue() + "\n\n", encoding="utf-8")  # and two blank rows
        lookup = Path(tmp) / "lookup.csv"
        lookup.write_text("pcds,dointr,doterm,lsoa21cd,msoa21cd,lad25cd\n"
                          "ZZ1 0FW,200207,,E01999001,E02999001,E06000099\n", encoding="utf-8")
        _compare(path, lookup, "police_incident")


def _fastavro(avro_type: Any, value: Any) -> bytes:
    schema = parse_schema({"type": "record", "name": "One", "fields": [{"name": "f", "type": avro_type}]})
    buf = io.BytesIO()
    schemaless_writer(buf, schema, {"f": value})
    return buf.getvalue()


TS = {"type": "long", "logicalType": "local-timestamp-millis"}
DATE = {"type": "int", "logicalType": "date"}


@settings(max_examples=300, deadline=None, derandomize=True)
@given(data=st.data(), avro_type=st.sampled_from(["string", ["null", "string"], "boolean", ["null", "boolean"],
                                                  ["null", "int"], "int", "long", TS, ["null", TS], DATE,
                                                  ["null", DATE], ["string", "null"]]))
def test_each_field_encoder_writes_what_fastavro_writes(data: st.DataObject, avro_type: Any) -> None:
    base = avro_type if not isinstance(avro_type, list) else next(t for t in avro_type if t != "null")
    values = {"string": st.text(), "boolean": st.booleans(), "int": st.integers(-2**31, 2**31 - 1),
              "long": st.integers(-2**63, 2**63 - 1)}
    if base == TS:
        strategy = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31))
    elif base == DATE:
        strategy = st.dates(min_value=date(1, 1, 1))
    else:
        strategy = values[str(base)]
    if isinstance(avro_type, list):
        strategy = st.none() | strategy
    value = data.draw(strategy)
    encoder = field_encoder(avro_type)
    assert encoder is not None
    assert encoder(value) == _fastavro(avro_type, value)


@pytest.mark.parametrize(("avro_type", "value"), [
    ("int", 2**31), ("int", -2**31 - 1), (["null", "int"], 3_000_000_000), ("long", 2**63), ("long", -2**63 - 1),
    ("int", True), ("long", 1.0)])
def test_a_value_avro_cannot_hold_goes_to_the_reference_path(avro_type: Any, value: Any) -> None:
    """Out of range for its Avro type (a mapping integer with no range, say): never published by the plan; the
    reference path dead-letters it as a schema mismatch."""
    encoder = field_encoder(avro_type)
    assert encoder is not None
    with pytest.raises(Fallback):
        encoder(value)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(n=st.integers(-2**63, 2**63 - 1) | st.integers(-2**45, 2**45) | st.integers(-2**22, 2**22))
def test_varint_is_avros_long(n: int) -> None:
    assert varint(n) == _fastavro("long", n)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(text=st.from_regex(r"\A\d{1,3}/\d{1,3}/\d{3,5} \d{1,3}:\d{1,3}(:\d{1,2})?\Z") | st.text(max_size=20),
       fmt=st.sampled_from(["%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M:%S"]))
def test_split_datetime_reads_as_the_whole_format_does(text: str, fmt: str) -> None:
    read, millis = split_datetime(fmt), split_millis(fmt)
    assert read is not None and millis is not None
    got = read(text)
    assert (millis(text) is None) == (got is None)
    if got is None:
        return  # the caller asks the reference converter
    assert got == parser(fmt)(text)
    assert millis(text) == (got - datetime(1970, 1, 1)) // timedelta(milliseconds=1)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(text=st.from_regex(r"\A\d{1,3}[/-]\d{1,3}[/-]\d{1,5}\Z") | st.text(max_size=12),
       fmt=st.sampled_from(["%d/%m/%Y", "%Y-%m-%d", "%m/%d/%Y"]))
def test_split_days_reads_as_the_date_format_does(text: str, fmt: str) -> None:
    read = split_days(fmt)
    assert read is not None
    days = read(text)
    if days is None:
        return
    assert days == (parser(fmt)(text).date() - date(1970, 1, 1)).days


def test_formats_the_split_reader_does_not_take() -> None:
    for fmt in ("%d/%m/%Y", "%Y-%m-%dT%H:%M", "%d %b %Y %H:%M", "%d/%m/%Y %I:%M %p"):
        assert split_datetime(fmt) is None


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(key=st.binary(max_size=40))
def test_the_key_hash_is_kafka_pythons_murmur2(key: bytes) -> None:
    from kafka.partitioner.default import murmur2
    assert key_hash(key) == murmur2(key) & 0x7FFFFFFF


def test_a_reading_process_stopped_early_ends(tmp_path: Path) -> None:
    """The parent stops taking batches (a refused file, a failed send): closing ends the child promptly."""
    import time
    manifest = generate_police_extract(tmp_path, seed=8, incidents=3000)
    mapping = load_mapping(default_mapping_path("police_incident"))
    batches = RowBatches(manifest.extract_csv, mapping, child=True)
    proc = batches._proc
    assert proc is not None
    first = next(iter(batches))
    assert first
    started = time.monotonic()
    batches.close()
    assert not proc.is_alive() and time.monotonic() - started < 5


def test_a_refused_file_publishes_nothing_even_with_a_reading_process(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.config import Settings
    from hub.connectors import feed
    from hub.connectors.load import FileRefused, publish_file
    monkeypatch.setattr(feed, "CHILD_MIN_BYTES", 0)  # a reading process even for a small file
    path = tmp_path / "x.csv"
    path.write_text("CrimeRef,Other\nZZ/1,x\n", encoding="utf-8")  # lacks mapped columns: refused whole
    mapping = load_mapping(default_mapping_path("police_incident"))
    with pytest.raises(FileRefused, match="lacks mapped column"):
        publish_file(Settings(kafka_bootstrap="127.0.0.1:1"), mapping, path)  # never reaches Kafka


def test_a_killed_reading_process_is_one_clear_error_not_a_hang(tmp_path: Path) -> None:
    """SIGKILL of the reading process (the kernel's OOM killer, say): the parent's next batch raises
    ReadingFailed naming the file (hub connector load: one line, exit 75), after the batches it had."""
    import os
    import signal

    from hub.connectors.feed import ReadingFailed
    manifest = generate_police_extract(tmp_path, seed=9, incidents=3000)
    mapping = load_mapping(default_mapping_path("police_incident"))
    with RowBatches(manifest.extract_csv, mapping, child=True) as batches:
        proc = batches._proc
        assert proc is not None
        it = iter(batches)
        assert next(it)
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
        with pytest.raises(ReadingFailed, match=r"^police_extract\.csv: the connector's reading process ended"):
            for _ in it:  # what it had already piped arrives first
                pass


@pytest.mark.parametrize(("raised", "expected", "message"), [
    (PermissionError(13, "Permission denied"), "FileRefused", r"x\.csv: cannot be read \(PermissionError\); nothing"),
    ("config", "ConfigError", "the mapping says so"),
])
def test_a_check_that_fails_in_the_reading_process_is_a_permanent_error_not_try_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raised: object, expected: str, message: str) -> None:
    """An unreadable file, or a mapping that cannot read it, found by the reading process's whole-file check is
    refused (exit 2) as the sending process's own check refuses it, never ReadingFailed (exit 75: try again)."""
    from hub.connectors import feed
    from hub.yamlsource import ConfigError

    def failing_check(*_: object) -> None:
        raise ConfigError("the mapping says so") if raised == "config" else raised  # type: ignore[misc]

    monkeypatch.setattr(feed, "check_file", failing_check)  # the fork inherits it
    path = tmp_path / "x.csv"
    path.write_text("CrimeRef\nZZ/1\n", encoding="utf-8")
    mapping = load_mapping(default_mapping_path("police_incident"))
    with RowBatches(path, mapping, child=True, check=50.0) as batches, \
            pytest.raises(ConfigError, match=message) as caught:
        batches.checked()
    assert type(caught.value).__name__ == expected and not isinstance(caught.value, feed.ReadingFailed)
