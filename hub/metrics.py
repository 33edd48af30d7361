"""Prometheus metrics: the only module that imports prometheus_client.

Names start ``svh_``, counters end ``_total``, durations are histograms in seconds. Labels hold
only source names, stage names, error classes and field names: never a value from a record.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from hub import __version__

REGISTRY = CollectorRegistry(auto_describe=True)

# Buckets in seconds: a stage handles one event in ~50 us to a few ms; a mart batch takes up to ~1 s.
STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

BUILD_INFO = Gauge("svh_build_info", "Hub version running in this process", ["version"], registry=REGISTRY)
BUILD_INFO.labels(__version__).set(1)

RECORDS_READ = Counter("svh_records_read", "Records a connector read from its agency source",
                       ["source"], registry=REGISTRY)
RECORDS_PUBLISHED = Counter("svh_records_published", "Records a connector published to Kafka",
                            ["source"], registry=REGISTRY)
RECORDS_DEAD_LETTERED = Counter("svh_records_dead_lettered", "Records sent to a dead-letter topic",
                                ["source", "stage", "error"], registry=REGISTRY)
STAGE_CONSUMED = Counter("svh_stage_consumed", "Messages a stream stage consumed", ["stage", "source"],
                         registry=REGISTRY)
STAGE_PROCESSED = Counter("svh_stage_processed",
                          "Messages a stream stage finished, by outcome (emitted, dead_lettered, withheld)",
                          ["stage", "source", "outcome"], registry=REGISTRY)
FIELDS_WITHHELD = Counter("svh_fields_withheld", "Source fields withheld by the agreement at the boundary",
                          ["source", "field"], registry=REGISTRY)
STAGE_SECONDS = Histogram("svh_stage_seconds", "Processing time per batch in seconds",
                          ["stage"], buckets=STAGE_BUCKETS, registry=REGISTRY)
MART_ROWS = Counter("svh_mart_rows_upserted", "Rows upserted into the mart", ["table"], registry=REGISTRY)
LAST_EVENT = Gauge("svh_last_event_timestamp_seconds", "Unix time the stage last handled an event", ["stage"],
                   registry=REGISTRY)


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Serve ``/metrics`` from a background thread (no-op for port 0)."""
    if port:
        start_http_server(port, addr=host, registry=REGISTRY)


def dead_lettered(source: str, stage: str, error: str) -> None:
    RECORDS_DEAD_LETTERED.labels(source, stage, error).inc()

# Long-lived connectors (hub connector run): units of work (files, pages, HTTP requests) by outcome, and
# what /health reports, so an alert can fire on a connector that stopped succeeding or lost Kafka.
CONNECTOR_UNITS = Counter("svh_connector_units", "Units of work a connector finished (file, page, request), "
                          "by outcome (published, rejected, skipped, failed)", ["source", "mode", "outcome"],
                          registry=REGISTRY)
CONNECTOR_LAST_SUCCESS = Gauge("svh_connector_last_success_timestamp_seconds",
                               "Unix time a connector last finished a unit of work with Kafka's acknowledgement",
                               ["source"], registry=REGISTRY)
CONNECTOR_KAFKA_UP = Gauge("svh_connector_kafka_up", "1 if the connector's last Kafka probe succeeded, else 0",
                           ["source"], registry=REGISTRY)
HTTP_REQUESTS = Counter("svh_connector_http_requests", "Requests to a push connector, by HTTP status",
                        ["source", "status"], registry=REGISTRY)
LOCATION_TEXTS = Counter("svh_location_texts", "Free-text locations a connector geocoded against the gazetteer, "
                         "by outcome (placed: only the area is sent; unplaced: the field is sent empty)",
                         ["source", "field", "outcome"], registry=REGISTRY)


def exposition() -> tuple[bytes, str]:
    """The registry in Prometheus text format and its content type (for servers other than ``serve``)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST

# Operations (docs/ops.md): how far each worker stage is behind, per partition, and mart writes that failed
# and are being retried. The lag is computed from the group's committed offsets (hub.streams.lag_metrics), so
# it counts what is durably done, the same number the drain checks and the lag alert use.
CONSUMER_LAG = Gauge("svh_consumer_lag_messages", "Messages in a stage's input partition not yet committed by "
                     "the worker group", ["stage", "topic", "partition"], registry=REGISTRY)
LAG_LAST_CHECK = Gauge("svh_consumer_lag_last_check_timestamp_seconds",
                       "Unix time the consumer lag was last read from Kafka", registry=REGISTRY)
INCIDENT_MATCH_REFRESHES = Counter("svh_incident_match_refreshes", "Refreshes of the ED <-> police incident "
                                   "matches by the sink's timer, by outcome (done; idle: nothing new to match; failed)",
                                   ["outcome"], registry=REGISTRY)
INCIDENT_MATCH_LAST = Gauge("svh_incident_match_last_refresh_timestamp_seconds",
                            "Unix time the sink last refreshed the ED <-> police incident matches", registry=REGISTRY)
MART_WRITE_FAILURES = Counter("svh_mart_write_failures", "Mart writes that failed and are retried (an outage, "
                              "not a rejected row)", ["table"], registry=REGISTRY)
MART_LOCK_HANDOFFS = Counter("svh_mart_lock_handoffs", "SQLite mart writes handed from the event loop's thread to a "
                             "thread because another connection held the write lock too long (hub.streams.mart_write)",
                             ["table"], registry=REGISTRY)

# Alerts (hub/streams/alerts.py): counted when Kafka acknowledged the alert on svh.alerts, once per case or
# area-week; the ops alert rules watch these names.
HOMICIDE_REVIEW_ALERTS = Counter("svh_homicide_review_alerts",
                                 "Offensive Weapons Homicide Review triggers raised (one per case)", registry=REGISTRY)
HOTSPOT_ALERTS = Counter("svh_hotspot_alerts", "Emerging hot-spot alerts raised (one per area and week)",
                         ["area_level"], registry=REGISTRY)
ALERT_NOTIFY_FAILURES = Counter("svh_alert_notify_failures", "Notify hook deliveries that failed, by alert kind",
                                ["kind"], registry=REGISTRY)
