"""Report charts render from a released table, suppressed cells included in the input."""

from __future__ import annotations

from pathlib import Path

from hub.mart.charts import trend_and_hotspots
from hub.mart.release import ReleasedCell, ReleasedTable


def test_report_chart_is_written_as_png_from_a_table_with_suppressed_cells(tmp_path: Path) -> None:
    rows = [ReleasedCell("police_incidents", "msoa", "E02990001", "Ashmoor 001", "2025-01", "robbery", False, 12),
            ReleasedCell("police_incidents", "msoa", "E02990002", None, "2025-02", "robbery", False, None),
            ReleasedCell("police_incidents", "msoa", "E02990002", None, "2025-03", "violence_with_injury", False, 30)]
    out = trend_and_hotspots(ReleasedTable("t", rows, 1, {}, ("police_incident",), "m"), tmp_path / "c.png",
                             "title")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
