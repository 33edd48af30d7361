"""JSON records (as the HTTP push mode receives them, or a .json sample for ``hub connector check``).

A record is a JSON object keyed by the mapping's column names; its values go to the mapping as they
are (text, numbers, true/false, null), so nothing is printed as text only to be parsed again.
"""

from __future__ import annotations

import json
from typing import Any

from hub.connectors.base import SourceRecord
from hub.connectors.mapping import FieldMapping, RowError


def json_record(obj: Any, mapping: FieldMapping, position: str) -> SourceRecord:
    """One posted object as a ``SourceRecord``: refused if it is not an object of scalars keyed by mapped
    columns; otherwise the mapping applied (a column left out counts as empty)."""
    if not isinstance(obj, dict):  # nothing of it is a mapped column: the dead letter holds none of it
        return SourceRecord(position, b"", error=RowError("record is not a JSON object", None, "not_an_object"))
    original = json.dumps({k: v for k, v in obj.items() if k in mapping.columns}, sort_keys=True,
                          default=str).encode("utf-8")  # mapped columns only: the rest was never agreed
    id_value = obj.get(mapping.record_id_column())
    rec = SourceRecord(position, original, record_id=str(id_value).strip() or None if id_value is not None else None)
    known = set(mapping.columns)
    unknown = [k for k in obj if k not in known]
    if unknown:
        # The key itself is not echoed: a sender's key can be a value (an object keyed by a name), and this
        # message travels in dead-letter headers, even from a health body's connector to the hub.
        rec.error = RowError(f"{len(unknown)} key(s) that are not columns of the mapping", None, "unknown_column")
        return rec
    for key, value in obj.items():
        if value is not None and not isinstance(value, (str, int, float, bool)):
            rec.error = RowError(f"{key}: must be text, a number, true/false or null", key, "wrong_type")
            return rec
    try:
        rec.record = mapping.parse(obj)  # typed: true/false and numbers reach the mapping as they are
    except RowError as exc:
        rec.error = exc
    return rec
