"""Postcode lookup from NSPL/ONSPD-style CSVs whose column names change between editions."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.pseudonymisation import Area, GeographyError, PostcodeLookup

NSPL_2021 = ("pcd,pcd2,pcds,dointr,doterm,usertype,oseast1m,osnrth1m,osgrdind,oa21,cty,ced,laua,ward,"
             "lsoa11,msoa11,lsoa21,msoa21,imd")
NSPL_2025 = "pcd7,pcd8,pcds,dointr,doterm,usrtypind,east1m,north1m,gridind,oa21cd,cty25cd,lsoa21cd,msoa21cd,lad25cd"


def write(tmp_path: Path, header: str, rows: list[dict[str, str]], name: str = "lookup.csv") -> Path:
    cols = header.split(",")
    lines = [header] + [",".join(row.get(c, "") for c in cols) for row in rows]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_nspl_2021_header(tmp_path: Path) -> None:
    path = write(tmp_path, NSPL_2021, [
        {"pcd": "ZZ1  0FW", "pcds": "ZZ1 0FW", "laua": "E06000099", "lsoa11": "E01999998", "msoa11": "E02999998",
         "lsoa21": "E01999001", "msoa21": "E02999001"},
        {"pcds": "ZZ2 1AB", "laua": "E06000099", "lsoa21": "E01999002", "msoa21": "E02999002"},
    ])
    lookup = PostcodeLookup.from_csv(path)
    assert len(lookup) == 2
    assert lookup.by_postcode("zz10fw") == Area("E01999001", "E02999001", "E06000099")  # 2021, not 2011
    assert lookup.by_postcode("ZZ2 1AB") == Area("E01999002", "E02999002", "E06000099")
    assert lookup.by_postcode("ZZ9 9ZZ") is None
    assert lookup.by_postcode(None) is None
    assert lookup.by_postcode("not a postcode") is None


def test_nspl_2025_header(tmp_path: Path) -> None:
    path = write(tmp_path, NSPL_2025, [
        {"pcd7": "ZZ1 0FW", "pcd8": "ZZ1  0FW", "pcds": "ZZ1 0FW", "lsoa21cd": "E01999001", "msoa21cd": "E02999001",
         "lad25cd": "E06000099"},
    ])
    lookup = PostcodeLookup.from_csv(path)
    assert lookup.by_postcode("ZZ1 0FW") == Area("E01999001", "E02999001", "E06000099")
    assert lookup.by_lsoa("e01999001 ") == Area("E01999001", "E02999001", "E06000099")


@pytest.mark.parametrize("lad_cols", [("lad25cd", "lad26cd"), ("lad26cd", "lad25cd")])
def test_newest_lad_column_wins(tmp_path: Path, lad_cols: tuple[str, str]) -> None:
    header = "pcds,lsoa21cd,msoa21cd," + ",".join(lad_cols)
    path = write(tmp_path, header, [{"pcds": "ZZ1 0FW", "lsoa21cd": "E01999001", "msoa21cd": "E02999001",
                                     "lad25cd": "E06000025", "lad26cd": "E06000026"}])
    assert PostcodeLookup.from_csv(path).by_postcode("ZZ1 0FW") == Area("E01999001", "E02999001", "E06000026")


def test_postcode_column_falls_back_to_pcd(tmp_path: Path) -> None:
    path = write(tmp_path, "pcd7,pcd8,lsoa21cd", [{"pcd7": "ZZ1 0FW", "pcd8": "ZZ1  0FW", "lsoa21cd": "E01999001"}])
    assert PostcodeLookup.from_csv(path).by_postcode("ZZ10FW") == Area("E01999001", None, None)


def test_live_postcode_wins_over_terminated(tmp_path: Path) -> None:
    header = "pcds,doterm,lsoa21cd"
    for rows in ([{"pcds": "ZZ1 0FW", "doterm": "", "lsoa21cd": "E01999001"},
                  {"pcds": "ZZ1 0FW", "doterm": "202301", "lsoa21cd": "E01999009"}],
                 [{"pcds": "ZZ1 0FW", "doterm": "202301", "lsoa21cd": "E01999009"},
                  {"pcds": "ZZ1 0FW", "doterm": "", "lsoa21cd": "E01999001"}]):
        lookup = PostcodeLookup.from_csv(write(tmp_path, header, rows))
        area = lookup.by_postcode("ZZ1 0FW")
        assert area is not None and area.lsoa == "E01999001"


def test_terminated_postcode_still_resolves(tmp_path: Path) -> None:
    path = write(tmp_path, "pcds,doterm,lsoa21cd", [
        {"pcds": "ZZ1 0FW", "doterm": "201901", "lsoa21cd": "E01999009"},
        {"pcds": "ZZ2 1AB", "doterm": "", "lsoa21cd": "E01999001"}])
    area = PostcodeLookup.from_csv(path).by_postcode("ZZ1 0FW")
    assert area is not None and area.lsoa == "E01999009"


def test_rows_without_a_valid_lsoa_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "pcds,lsoa21cd", [
        {"pcds": "ZZ1 0FW", "lsoa21cd": "S01000001"},  # Scottish data zone: not an LSOA
        {"pcds": "ZZ2 1AB", "lsoa21cd": "E01999001"}])
    lookup = PostcodeLookup.from_csv(path)
    assert lookup.by_postcode("ZZ1 0FW") is None and len(lookup) == 1


def test_by_lsoa_accepts_unknown_but_valid_codes(tmp_path: Path) -> None:
    lookup = PostcodeLookup.from_csv(write(tmp_path, "pcds,lsoa21cd", [{"pcds": "ZZ2 1AB", "lsoa21cd": "E01999001"}]))
    assert lookup.by_lsoa("W01000123") == Area("W01000123", None, None)
    assert lookup.by_lsoa("nonsense") is None
    assert lookup.by_lsoa(None) is None


def test_excel_bom_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_text("\ufeffpcds,lsoa21cd\nZZ1 0FW,E01999001\n", encoding="utf-8")
    assert PostcodeLookup.from_csv(path).by_postcode("ZZ1 0FW") == Area("E01999001", None, None)


@pytest.mark.parametrize("header,rows,match", [
    ("pcds,oa21cd", [{"pcds": "ZZ1 0FW", "oa21cd": "E00000001"}], "LSOA column"),
    ("postcode,lsoa21cd", [{"postcode": "ZZ1 0FW", "lsoa21cd": "E01999001"}], "postcode column"),
    ("pcds,lsoa21cd", [], "no usable rows"),
])
def test_unusable_lookup_is_refused(tmp_path: Path, header: str, rows: list[dict[str, str]], match: str) -> None:
    with pytest.raises(GeographyError, match=match):
        PostcodeLookup.from_csv(write(tmp_path, header, rows))


def test_missing_lookup_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GeographyError, match="does not exist"):
        PostcodeLookup.from_csv(tmp_path / "nope.csv")
