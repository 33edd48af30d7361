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

def tune_gc() -> None:
    """Keep Python's cyclic garbage collector off the start-up heap.

    Why: a draining worker's full (oldest-generation) collections scanned the whole start-up heap (Faust, aiokafka,
    SQLAlchemy, the schemas and the agreement's plans) every ~1-2 s, ~100-260 ms each, and found nothing to free
    (docs/benchmarks.md, worker section). ``gc.freeze()`` after start-up moves that heap out of every later
    collection (it is live for the process's life anyway; ``gc.collect()`` first, so its garbage is not kept).

    The young generation keeps Python's threshold (700). A threshold of 20,000 (1 Dec 2026, 02:39-03:48 UTC) cut
    a little more CPU but let the worker's memory settle higher: ``hub bench pipeline --long-run`` RSS grew 13.5% from
    100k to 400k events with it, 7.1% with the freeze alone, 2.1% with neither (03:40-03:46 UTC), against the
    issue's "within 10%" from 100k to 1M.
    """
    gc.collect()
    gc.freeze()


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
    tune_gc()  # after everything the process keeps was built
    faust.Worker(worker.app, loglevel=settings.log_level.lower(), quiet=True, redirect_stdouts=False,
                 logging_config=logs.dict_config(settings.log_level)).execute_from_commandline()
