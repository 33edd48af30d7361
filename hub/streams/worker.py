"""``hub worker``: run the Faust worker with the configured agreement, keys and mart."""

from __future__ import annotations

import gc
from collections.abc import Sequence

from hub import kafka_admin, logs, metrics
from hub.config import Settings
from hub.linkage.model_file import load_model
from hub.mart import store
from hub.policy import load_agreement
from hub.pseudonymisation import PostcodeLookup, Pseudonymiser, load_keyring
from hub.pseudonymisation.keys import require_holder
from hub.schemas import RAW_SCHEMAS, default_repository
from hub.streams import lag_metrics
from hub.streams.app import StreamWorker

log = logs.get(__name__)


def build(settings: Settings, stages: Sequence[str]) -> StreamWorker:
    """Everything is loaded and validated before Kafka is touched, so bad config fails fast and clearly."""
    schemas = default_repository()
    agreement = load_agreement(settings.agreement_file(), schemas)
    ring = load_keyring(settings.keys_path, settings.key_environment())
    require_holder(ring, agency=False)  # an agency's key file at the hub is a mix-up: refuse it
    lookup = PostcodeLookup.from_csv(settings.postcode_lookup) if settings.postcode_lookup else None
    pseudonymiser = Pseudonymiser(agreement, ring, lookup)
    model = load_model(settings.linkage_model_path) if "link" in stages else None
    worker = StreamWorker(settings, agreement, pseudonymiser, schemas, stages, model)
    if worker.engine is not None:
        store.init(worker.engine)
    if "alerts" in stages:  # its agents join the app before it starts (the alert stage imports the app, not back)
        from hub.streams.alerts import AlertStage
        worker.alert_stage = AlertStage(worker)
    log.info("worker configured", extra={"agreement": agreement.id, "version": agreement.version,
                                         "key_id": ring.active, "stage": ",".join(stages),
                                         "file": model.version if model else None})
    return worker


STAGES = ("pseudonymise", "link", "sink")
GC_YOUNG_THRESHOLD = 10_000
"""Allocations (less deallocations) of container objects between two young collections (Python's default: 700)."""


def settle_heap() -> None:
    """Tune the garbage collector for a worker once it is built: what exists now is frozen (never traversed again),
    and young collections run every 10,000 net allocations instead of 700.

    Why: the collector's passes were 15-20 us of the boundary's ~170 us per event in a cold pass over the pipeline
    bench's extract (gen 2 alone ~12 us: each full pass over the heap took ~60 ms), and more in the worker, whose
    heap also holds Faust, aiokafka and every module: a batch of 1,000 messages and its events lives across dozens
    of young collections at 700, so all of it was promoted and traversed again by the older generations. Frozen,
    the start-up heap is out of every pass; at 10,000, most of a batch dies before a young collection sees it.
    The collector still runs (reference cycles are still freed); only how often and over what changes.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def run(settings: Settings, stages: Sequence[str] = STAGES) -> None:
    import faust

    logs.setup(settings.log_level)
    worker = build(settings, stages)
    kafka_admin.ensure_topics(settings, RAW_SCHEMAS)
    if "alerts" in stages:
        from hub.streams.alerts import internal_topics
        kafka_admin.ensure_internal_topics(settings, internal_topics(settings, worker.alert_stage.rules))
    metrics.serve(settings.metrics_port, settings.metrics_host)
    lag_metrics.start(settings, worker.app)
    settle_heap()
    faust.Worker(worker.app, loglevel=settings.log_level.lower(), quiet=True, redirect_stdouts=False,
                 logging_config=logs.dict_config(settings.log_level)).execute_from_commandline()
