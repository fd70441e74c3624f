"""SDMX-CSV and JSON-stat 2.0 parsing on the recorded samples: layouts, suppressed cells, drift refused."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest

from lgstats.pipeline.connectors import pxweb, sdmx
from lgstats.pipeline.http import ResponseError
from lgstats.pipeline.registry import Dataset
from lgstats.pipeline.snapshots import Snapshot
from tests.conftest import FIXTURES

SAMPLES = FIXTURES / "samples"
ABS = dict(agency="ABS", flow="ERP_LGA2025", version="1.0.0", dimensions=["MEASURE", "REGION_TYPE", "REGION", "FREQ"],
           area_dimension="REGION", measure_dimension="MEASURE")
STATS_NZ = dict(agency="STATSNZ", flow="AGR_AGR_001", version="1.0", dimensions=["FORESTRY", "AREA"],
                time_dimension="YEAR", area_dimension="AREA", measure_dimension="FORESTRY")
OECD = dict(agency="OECD.CFE.EDS", flow="DSD_FUA_TERR@DF_DENSITY", version="1.1", format="csvfilewithlabels",
            dimensions=["REF_AREA", "FREQ", "MEASURE", "UNIT_MEASURE", "TERRITORIAL_LEVEL"], area_dimension="REF_AREA")


def dataset(**extra) -> Dataset:
    return Dataset(name="t", suite="sdmx__observations", raw_table="t", **extra)


def snapshot_of(tmp_path, name: str, body: bytes, **record) -> Snapshot:
    (tmp_path / name).write_bytes(body)
    return Snapshot(tmp_path, {"snapshot_id": "s", "files": [{"file": name, **record}]})


def parse_sample(tmp_path, sample: str, extra: dict) -> list[dict]:
    snap = snapshot_of(tmp_path, "data.csv", (SAMPLES / sample).read_bytes())
    return list(sdmx.parse(snap, dataset(**extra)))


def test_abs_sdmx_csv_10_rows_with_the_empty_value_kept_as_null(tmp_path):
    rows = parse_sample(tmp_path, "abs_sdmx_csv_erp_lga2025_testfixture.csv", ABS)
    assert [(r["area_source_code"], r["time_period"], r["value"]) for r in rows] == [
        ("31000", "2024", Decimal("1353837")), ("31000", "2025", Decimal("1375301")),
        ("15750", "2025", Decimal("12797")), ("15750", "2026", None)]
    assert rows[0]["series_key"] == "ERP.LGA2025.31000.A" and rows[0]["unit_measure"] == "PSNS"
    assert json.loads(rows[0]["attributes"])["REPYEAREND"] == "30-6"


def test_stats_nz_suffixes_are_stripped_and_confidential_cells_are_null_not_zero(tmp_path):
    rows = parse_sample(tmp_path, "statsnz_sdmx_csv_AGR_AGR_001_excerpt.csv", STATS_NZ)
    assert len(rows) == 25
    suppressed = [r for r in rows if r["obs_status"] in ("c", "s")]
    assert suppressed and all(r["value"] is None and r["obs_value"] is None for r in suppressed)
    assert json.loads(rows[0]["dimensions"]) == {"FORESTRY": "6050", "AREA": "1"} and rows[0]["year"] == 2006


def test_oecd_csvfilewithlabels_keeps_codes_and_labels_apart(tmp_path):
    [row] = parse_sample(tmp_path, "oecd_csvfilewithlabels_FUA_DENSITY_testfixture.csv", OECD)
    assert row["dataflow"] == "OECD.CFE.EDS:DSD_FUA_TERR@DF_DENSITY(1.1)"
    assert row["area_source_code"] == "AUS01C" and json.loads(row["labels"])["REF_AREA"] == "Greater Sydney"
    assert row["value"] == Decimal("2376") and row["unit_mult"] == 0 and row["obs_status"] == "A"


def test_unit_mult_scales_the_value_and_keeps_the_published_figure(tmp_path):
    body = (b"DATAFLOW,MEASURE,REGION_TYPE,REGION,FREQ,TIME_PERIOD,OBS_VALUE,UNIT_MULT\n"
            b"ABS:ERP_LGA2025(1.0.0),ERP,LGA2025,31000,A,2024,1.5,3\n")
    [row] = sdmx.parse(snapshot_of(tmp_path, "data.csv", body), dataset(**ABS))
    assert row["obs_value"] == Decimal("1.5") and row["value"] == Decimal("1500")


@pytest.mark.parametrize("header,line,match", [
    ("DATAFLOW,MEASURE,REGION_TYPE,REGION,FREQ,SEX,TIME_PERIOD,OBS_VALUE",
     "ABS:ERP_LGA2025(1.0.0),ERP,LGA2025,31000,A,1,2024,5", r"new column\(s\) \['SEX'\]"),
    ("DATAFLOW,MEASURE,REGION_TYPE,LGA,FREQ,TIME_PERIOD,OBS_VALUE",
     "ABS:ERP_LGA2025(1.0.0),ERP,LGA2025,31000,A,2024,5", r"\['REGION'\] missing"),
    ("DATAFLOW,MEASURE,REGION_TYPE,REGION,FREQ,TIME_PERIOD,OBS_VALUE",
     "ABS:ERP_LGA2025(1.1.0),ERP,LGA2025,31000,A,2024,5", r"ABS:ERP_LGA2025\(1.1.0\).*pins 'ABS:ERP_LGA2025\(1.0.0\)'"),
])
def test_schema_drift_is_refused_naming_the_change(tmp_path, header, line, match):
    snap = snapshot_of(tmp_path, "data.csv", f"{header}\n{line}\n".encode())
    with pytest.raises(sdmx.SchemaDrift, match=match):
        list(sdmx.parse(snap, dataset(**ABS)))


def test_a_cut_line_an_html_page_and_a_non_number_are_named(tmp_path):
    sp = sdmx.spec(dataset(**ABS))
    good = (SAMPLES / "abs_sdmx_csv_erp_lga2025_testfixture.csv").read_bytes()
    with pytest.raises(ResponseError, match="line 3 has 4 fields"):
        sdmx.check_body(good[: good.index(b"\n", 200) - 30], "text/csv", sp, "u")
    with pytest.raises(ResponseError, match="content type 'text/html'.*An error has occurred"):
        sdmx.check_body(b"<html>An error has occurred.</html>", "text/html; charset=utf-8", sp, "u")
    bad = good.replace(b",1353837,", b",n/a,")
    with pytest.raises(ValueError, match=r"line 2: column OBS_VALUE holds 'n/a'"):
        list(sdmx.parse(snapshot_of(tmp_path, "data.csv", bad), dataset(**ABS)))


@pytest.mark.parametrize("label,clean,depth", [
    ("....Cebu /a", "Cebu", 4), ("....Sulu r1, 1/", "Sulu", 4), ("..Region VII - Central Visayas",
                                                                  "Region VII - Central Visayas", 2),
    ("PHILIPPINES", "PHILIPPINES", 0), ("....Davao del Sur b/", "Davao del Sur", 4),
    ("....Davao de Oro/Compostela Valley", "Davao de Oro/Compostela Valley", 4),
])
def test_psa_labels_lose_dots_and_footnote_marks(label, clean, depth):
    assert pxweb.clean_label(label) == (clean, depth)


def test_json_stat_2_cells_are_read_row_major_with_status(tmp_path):
    body = (SAMPLES / "pxweb_ssb_05300_data_POST_jsonstat2.json").read_bytes()
    payload = json.loads(body)
    query = {"query": [{"code": d, "selection": {"filter": "item",
                                                 "values": list(payload["dimension"][d]["category"]["index"])}}
                       for d in payload["id"]]}
    snap = snapshot_of(tmp_path, "data.json", body, kind="data", query=query)
    ds = Dataset(name="t", suite="pxweb__table", raw_table="t", table="05300.px", selection={"Avstand1": "*"},
                 area_variable="Kulturtilbud", time_variable="Tid", measure_variable="ContentsCode")
    rows = list(pxweb.parse(snap, ds))
    assert len(rows) == math.prod(payload["size"]) == 432
    last = rows[-1]
    assert last["cell_key"] == "06.08.Avstand.2021" and last["year"] == 2021 and last["unit"] == "prosent"
    assert str(last["value"]) == str(payload["value"][-1])
    # cell 71 is flagged '.' by the source; its value is kept as published (None or number)
    assert rows[71]["status"] == "." and rows[71]["cell_key"] == "01.08.Avstand.2021"  # 0·72 + 7·9 + 8


def test_json_stat_with_fewer_values_than_cells_is_refused():
    payload = json.loads((SAMPLES / "pxweb_ssb_05300_data_POST_jsonstat2.json").read_bytes())
    wanted = {d: list(payload["dimension"][d]["category"]["index"]) for d in payload["id"]}
    payload["value"] = payload["value"][:1]  # PSA once answered one value for 288 cells
    with pytest.raises(ResponseError, match="1 value\\(s\\) for 432 cells"):
        pxweb.check_dataset(payload, wanted, "u")
