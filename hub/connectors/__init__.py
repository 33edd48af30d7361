"""Connectors: read an agency's system, map and validate each record, publish Avro to Kafka.

Connectors import schemas, policy and pseudonymisation (for at-source sources), never streams or mart.
"""

from hub.connectors.base import Connector, RunReport, SourceRecord
from hub.connectors.csv_file import CsvFileConnector
from hub.connectors.mapping import FieldMapping, RowError, default_mapping_path, load_mapping

__all__ = [
    "Connector",
    "CsvFileConnector",
    "FieldMapping",
    "RowError",
    "RunReport",
    "SourceRecord",
    "default_mapping_path",
    "load_mapping",
]
