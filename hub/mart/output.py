"""Released tables on the terminal, as CSV and as Excel (xlsx with a note sheet).

Text cells that a spreadsheet would run as a formula (starting ``=``, ``+``, ``-``, ``@``, or a tab or
carriage return) are written with a leading apostrophe, in CSV and in xlsx alike: an area name or a
category from an agency's code list must never become a formula on an analyst's machine.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from hub.mart.cellkey import SVH_PTABLE
from hub.mart.release import ReleasedCell, ReleasedTable

COLUMNS = ("measure", "area_level", "area_code", "area_name", "period", "category", "sensitive", "value",
           "status", "population", "rate_per_1000")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SUPPRESSED_MARK = "*"


def neutralise(value: object) -> object:
    """Text that a spreadsheet would evaluate gets a leading apostrophe; numbers pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _row(r: ReleasedCell) -> list[object]:
    return [r.measure, r.area_level, r.area_code, r.area_name or "", r.period, r.category,
            "yes" if r.sensitive else "no", SUPPRESSED_MARK if r.value is None else r.value, r.status,
            "" if r.population is None else r.population, "" if r.rate_per_1000 is None else r.rate_per_1000]


def format_table(table: ReleasedTable, limit: int = 25) -> str:
    """The largest released cells, then what was held back, for the terminal."""
    shown = sorted((r for r in table.rows if r.value is not None),
                   key=lambda r: (-(r.value or 0), r.measure, r.area_code, r.period, r.category))
    out = [f"{'measure':<27} {'area':<10} {'name':<16} {'period':<8} {'category':<24} {'value':>5} {'per 1k':>7}"]
    for r in shown[:limit]:
        rate = "" if r.rate_per_1000 is None else f"{r.rate_per_1000:.2f}"
        out.append(f"{r.measure:<27} {r.area_code:<10} {(r.area_name or '')[:16]:<16} {r.period:<8} "
                   f"{r.category[:24]:<24} {r.value:>5} {rate:>7}" + ("  (sensitive)" if r.sensitive else ""))
    levels = ", ".join(sorted({r.area_level for r in table.rows})) or "-"
    out.append(f"({len(table.rows)} cells at {levels}: {len(shown)} released, {table.cells_suppressed} suppressed; "
               f"showing the {min(limit, len(shown))} largest; sources: {', '.join(table.sources) or 'none'}; "
               f"recorded as release {table.release_id})")
    per: dict[str, list[int]] = {}
    for r in table.rows:
        per.setdefault(r.measure, [0, 0])[r.value is None] += 1
    if len(per) > 1:
        out.append("by measure (released / suppressed): " + "; ".join(f"{m} {a}/{b}" for m, (a, b) in per.items()))
    out.append(f"method: {table.method}")
    out.extend(f"note: {n}" for n in table.notes)
    return "\n".join(out)


def export_csv(table: ReleasedTable, path: Path) -> None:
    """CSV: suppressed cells are ``*`` (never a number); text cells neutralised."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for r in table.rows:
            writer.writerow([neutralise(v) for v in _row(r)])


def note_lines(table: ReleasedTable) -> list[str]:
    d = SVH_PTABLE.max_noise
    return [
        f"Release {table.release_id}: {table.name}; sources in it: {', '.join(table.sources) or 'none'}",
        f"Parameters: {table.parameters}",
        f"Disclosure control: {table.method}",
        f"Every value is the true count plus noise between -{d} and +{d} from the cell key method (ONS, Census "
        "2021): the same records always get the same noise, in every table, so subtracting tables does not reveal "
        "a count.",
        "A value is never below the threshold: smaller results are shown as * (suppressed), and a * can hide a "
        "zero as well as a small count.",
        "Sensitive records (sexual offences, domestic abuse, stalking and harassment, child cruelty, modern "
        "slavery; by offence code, category or flag) are counted on rows marked sensitive, at a coarser area and "
        "a higher threshold.",
        "Totals of perturbed cells differ from perturbed totals by a few: use the released total, not a sum.",
        "Rates per 1,000 use ONS mid-year population estimates (all ages) for the area.",
        *[f"Note: {n}" for n in table.notes],
    ]


def export_xlsx(table: ReleasedTable, path: Path) -> None:
    """xlsx: sheet ``cells`` (the released table) and sheet ``notes`` (method, parameters, how to read it)."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import Cell

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "cells"
    ws.append(list(COLUMNS))
    for r in table.rows:
        ws.append([neutralise(v) for v in _row(r)])
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell, Cell) and isinstance(cell.value, str):
                cell.data_type = "s"  # text stays text, never a formula
    ws.freeze_panes = "A2"
    notes = wb.create_sheet("notes")
    for line in note_lines(table):
        notes.append([neutralise(line)])
    for row in notes.iter_rows():
        for cell in row:
            if isinstance(cell, Cell):
                cell.data_type = "s"
    notes.column_dimensions["A"].width = 140
    wb.save(path)


def export(table: ReleasedTable, path: Path, fmt: str | None = None) -> str:
    """Write ``table`` as ``fmt`` (csv or xlsx; default from the file suffix); returns the format used."""
    kind = (fmt or path.suffix.lstrip(".") or "csv").lower()
    if kind not in ("csv", "xlsx"):
        raise ValueError(f"export format must be csv or xlsx, not {kind!r}")
    (export_xlsx if kind == "xlsx" else export_csv)(table, path)
    return kind


def parse_list(values: Sequence[str] | None) -> tuple[str, ...]:
    """Repeated or comma-separated option values -> a tuple."""
    out: list[str] = []
    for v in values or ():
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return tuple(out)
