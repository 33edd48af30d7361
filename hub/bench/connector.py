"""``hub bench connector``: the connector's publish rate beside a raw kafka-python producer's, same run.

On fresh topics (the bench's own prefix, ``--partitions`` each) the police connector publishes a
synthetic extract exactly as ``hub connector load`` does (the whole file checked first, then read,
parsed, mapped, Avro-encoded, sent, every send acknowledged). Its anchor is a bare kafka-python
producer built with the connector's own producer settings (``publisher.producer_kwargs``: acks,
idempotence, linger, batch size, compression) sending the same keys and the same encoded payloads to a
topic with the same partitions, once just before and once just after the connector (their mean), so
both see the same minutes of a shared machine. ``hub bench pipeline`` calls ``compare`` for its
connector figures.
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from pathlib import Path

from hub import kafka_admin, logs
from hub.bench import anchors
from hub.config import Settings
from hub.connectors import CsvFileConnector, default_mapping_path, load_mapping
from hub.demo import SOURCE, demo_settings, publish_extract
from hub.pseudonymisation import PostcodeLookup
from hub.schemas import RAW_SCHEMAS, default_repository
from hub.synth import generate_police_extract


def payloads(extract: Path, lookup_csv: Path) -> list[tuple[bytes, bytes]]:
    """The (key, value) pairs the connector sends for ``extract``'s good rows, encoded beforehand."""
    schemas = default_repository()
    mapping = load_mapping(default_mapping_path(SOURCE), PostcodeLookup.from_csv(lookup_csv))
    name = RAW_SCHEMAS[SOURCE]
    return [(str(r.record_id or "").encode(), schemas.encode(name, r.record))
            for r in CsvFileConnector(extract, mapping).records() if r.record is not None]


def compare(settings: Settings, extract: Path, lookup_csv: Path, anchor_topic: str) -> dict[str, float]:
    """The connector over ``extract`` (to ``settings``' raw topic, which must exist) between two runs of the raw
    producer over the same payloads to ``anchor_topic``: rates per second and their ratio (connector / mean)."""
    messages = payloads(extract, lookup_csv)
    raw_before = anchors.raw_producer_rate(settings, anchor_topic, messages)
    started = time.perf_counter()
    report = publish_extract(settings, extract, lookup_csv)
    connector = report.read / (time.perf_counter() - started)
    raw_after = anchors.raw_producer_rate(settings, anchor_topic, messages)
    raw = (raw_before + raw_after) / 2
    return {"connector_rows": float(report.read), "connector_published": float(report.published),
            "connector_per_s": connector, "raw_producer_per_s": raw, "raw_producer_before_per_s": raw_before,
            "raw_producer_after_per_s": raw_after, "connector_vs_raw_producer": connector / raw}


def run(base: Settings, incidents: int = 20000, partitions: int = 4, repeats: int = 1) -> dict[str, float]:
    """``repeats`` rounds, each on fresh topics; the figures of the round with the median ratio, and the load."""
    logs.setup("ERROR")
    root = (base.data_dir / "bench" / "connector").resolve()
    shutil.rmtree(root, ignore_errors=True)
    manifest = generate_police_extract(root / "data", seed=3, incidents=incidents)
    rounds = []
    for i in range(repeats):
        prefix = f"bench-{time.strftime('%Y%m%d%H%M%S')}-conn{i}"
        settings = demo_settings(base, root, manifest, prefix).replace(topic_partitions=partitions, metrics_port=0)
        anchor_topic = f"{prefix}.bench.producer"
        kafka_admin.ensure_topics(settings, [SOURCE])
        anchors.create_topics(settings, [anchor_topic])
        try:
            rounds.append(compare(settings, manifest.extract_csv, manifest.lookup_csv, anchor_topic))
        finally:
            kafka_admin.delete_topics(settings, [SOURCE])
            anchors.delete_topics(settings, [anchor_topic])
    ratios = [r["connector_vs_raw_producer"] for r in rounds]
    median = statistics.median_low(ratios)
    out = dict(rounds[ratios.index(median)])
    if repeats > 1:
        out["ratio_min"], out["ratio_max"] = min(ratios), max(ratios)
    out["partitions"] = float(partitions)
    out["load_average_1m"] = os.getloadavg()[0]
    return out
