"""One declaration per dataset: an SDMX dataset with quarterly periods and a fixed area, an SDMX dataset with
ISO3 area codes, one with subnational codes through an existing mapping file, one with composite series codes, a
breakdown with a total and names from its labels, and a PXWeb table with monthly periods each reach
marts.fct_observation and dim_indicator from their registry entry alone, in a real
`lgstats run --mode live` against local servers."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from werkzeug import Response

from lgstats.core.settings import PROJECT_DIR
from lgstats.pipeline import registry

pytestmark = pytest.mark.e2e

# Invented values: this test checks plumbing, not statistics (nothing of it reaches a replay or a mart).
ENTRIES = {
    "qtr": """
name: qtr
title: Test quarterly SDMX source
connector: sdmx
owner: data-eng
base_url: https://sdmx.example.org/rest
licence: "test entry"
expected_refresh_days: 100
datasets:
  - name: quarterly
    agency: TST
    flow: DF_Q
    version: "1.0"
    dimensions: [FREQ, INDICATOR]
    measure_dimension: INDICATOR
    area: "036"
    series:
      - {code: GDPQ, name: "Test quarterly output", unit: NUMBER}
    suite: sdmx__observations
    raw_table: qtr__quarterly
""",
    "iso": """
name: iso
title: Test SDMX source with ISO3 areas
connector: sdmx
owner: data-eng
base_url: https://sdmx.example.org/rest
licence: "test entry"
expected_refresh_days: 100
datasets:
  - name: by_country
    agency: TST
    flow: DF_C
    version: "1.0"
    dimensions: [REF_AREA, MEASURE]
    area_dimension: REF_AREA
    area_scheme: iso3
    measure_dimension: MEASURE
    series:
      - {code: SHARE, name: "Test share by country", unit: PERCENT}
    suite: sdmx__observations
    raw_table: iso__by_country
""",
    "lga": """
name: lga
title: Test SDMX source with subnational codes and a mapping file
connector: sdmx
owner: data-eng
base_url: https://sdmx.example.org/rest
licence: "test entry"
expected_refresh_days: 100
datasets:
  - name: by_lga
    agency: TST
    flow: DF_L
    version: "1.0"
    dimensions: [REGION, MEASURE]
    area_dimension: REGION
    area_map: map_abs__lga2025
    measure_dimension: MEASURE
    series:
      - {code: POP, name: "Test population by LGA", unit: PERSONS}
    suite: sdmx__observations
    raw_table: lga__by_lga
""",
    "pxw": """
name: pxw
title: Test PXWeb source
connector: pxweb
owner: data-eng
base_url: https://px.example.org/api/v1/en
licence: "test entry"
expected_refresh_days: 100
datasets:
  - name: arrivals
    table: TST/arrivals.px
    selection: {Measure: "*", Month: "*"}
    measure_variable: Measure
    time_variable: Month
    area: "554"
    series:
      - {code: "0", name: "Test monthly arrivals", unit: PERSONS}
    suite: pxweb__table
    raw_table: pxw__arrivals
""",
    # issue 24: an SDMX entry with an area dimension and no `series:` once compiled to `case r.measure else …
    # end`, a syntax error that failed every mart; the unit then comes from UNIT_MEASURE
    "nos": """
name: nos
title: Test SDMX source without series
connector: sdmx
owner: data-eng
base_url: https://sdmx.example.org/rest
licence: "test entry"
expected_refresh_days: 100
datasets:
  - name: no_series
    agency: TST
    flow: DF_N
    version: "1.0"
    dimensions: [REF_AREA, MEASURE]
    area_dimension: REF_AREA
    area_scheme: iso3
    measure_dimension: MEASURE
    suite: sdmx__observations
    raw_table: nos__no_series
""",
    # issue 26: a composite series code (measure and unit), the name from the data's labels and a breakdown
    # with a total, all stated in the entry (OECD's SNG-WOFI takes the same route)
    "cmp": """
name: cmp
title: Test SDMX source with composite series codes
connector: sdmx
owner: data-eng
base_url: https://sdmx.example.org/rest
licence: "test entry"
expected_refresh_days: 100
datasets:
  - name: finance
    agency: TST
    flow: DF_M
    version: "1.0"
    format: csvfilewithlabels
    dimensions: [REF_AREA, MEASURE, SECTOR, UNIT_MEASURE]
    area_dimension: REF_AREA
    area_scheme: iso3
    measure_dimension: MEASURE
    series_prefix: CMP.
    series_dimensions: [MEASURE, UNIT_MEASURE]
    series_label: "Test: {MEASURE} ({UNIT_MEASURE})"
    disaggregation: {dimension: SECTOR, total: ALL}
    suite: sdmx__observations
    raw_table: cmp__finance
""",
    "tab": """
name: tab
title: Test tabular source
connector: tabular
owner: data-eng
base_url: https://files.example.org
licence: "test entry"
expected_refresh_days: 100
datasets:
  - name: scores
    file: data/scores.csv
    shape: long
    columns: [iso3, year, score]
    measure: SCORE
    area_columns: [iso3]
    area_scheme: iso3
    time_column: year
    value_column: score
    unit: INDEX
    suite: tabular__observations
    raw_table: tab__scores
""",
}
QUARTERLY = ("DATAFLOW,FREQ,INDICATOR,TIME_PERIOD,OBS_VALUE\n"
             "TST:DF_Q(1.0),Q,GDPQ,2023-Q1,10\nTST:DF_Q(1.0),Q,GDPQ,2023-Q2,11\nTST:DF_Q(1.0),Q,GDPQ,2024-Q1,12\n")
BY_COUNTRY = ("DATAFLOW,REF_AREA,MEASURE,TIME_PERIOD,OBS_VALUE\n"
              "TST:DF_C(1.0),PHL,SHARE,2022,40.5\nTST:DF_C(1.0),JPN,SHARE,2022,30.25\nTST:DF_C(1.0),USA,SHARE,2022,1\n")
BY_LGA = ("DATAFLOW,REGION,MEASURE,TIME_PERIOD,OBS_VALUE\n"
          "TST:DF_L(1.0),31000,POP,2024,100\nTST:DF_L(1.0),15750,POP,2024,5\n")
NO_SERIES = "DATAFLOW,REF_AREA,MEASURE,TIME_PERIOD,OBS_VALUE,UNIT_MEASURE\nTST:DF_N(1.0),FJI,RATE,2021,7.5,PERCENT\n"
SCORES = "iso3,year,score\nNPL,2020,3.25\n"
COMPOSITE = ("STRUCTURE,STRUCTURE_ID,STRUCTURE_NAME,ACTION,REF_AREA,Reference area,MEASURE,Measure,SECTOR,Sector,"
             "UNIT_MEASURE,Unit of measure,TIME_PERIOD,Time period,OBS_VALUE,Observation value\n"
             "dataflow,TST:DF_M(1.0),Test finance,I,PHL,Philippines,EXP,Expenditure,ALL,All levels,PERCENT,Percent,"
             "2022,2022,5.5,5.5\n"
             "dataflow,TST:DF_M(1.0),Test finance,I,PHL,Philippines,EXP,Expenditure,LOC,Local,PERCENT,Percent,"
             "2022,2022,2.25,2.25\n"
             "dataflow,TST:DF_M(1.0),Test finance,I,PHL,Philippines,EXP,Expenditure,ALL,All levels,NUMBER,Number,"
             "2022,2022,100,100\n")
SERVED = {"quarterly": QUARTERLY}  # what the local SDMX server answers for DF_Q (the second run gets a revision)
MONTHS = ["2023M01", "2023M02", "2023M03"]
META = {"title": "Arrivals", "variables": [
    {"code": "Measure", "text": "Measure", "values": ["0"], "valueTexts": ["Arrivals"]},
    {"code": "Month", "text": "Month", "values": ["0", "1", "2"], "valueTexts": MONTHS, "time": True}]}


def jsonstat(query: dict) -> dict:
    wanted = {q["code"]: q["selection"]["values"] for q in query["query"]}
    dims = {code: {"label": code, "category": {"index": {c: i for i, c in enumerate(codes)},
                                               "label": {c: META["variables"][k]["valueTexts"][int(c)] for c in codes}}}
            for k, (code, codes) in enumerate(wanted.items())}
    return {"class": "dataset", "version": "2.0", "id": list(wanted), "size": [len(v) for v in wanted.values()],
            "dimension": dims, "value": [100, 120, 90][: len(wanted["Month"])]}


def sdmx(request) -> Response:
    body = (SERVED["quarterly"] if "DF_Q" in request.path else BY_LGA if "DF_L" in request.path
            else NO_SERIES if "DF_N" in request.path else COMPOSITE if "DF_M" in request.path else BY_COUNTRY)
    return Response(body, content_type="application/vnd.sdmx.data+csv; charset=utf-8")


def pxweb(request) -> Response:
    if request.method == "GET":
        return Response(json.dumps(META), content_type="application/json")
    return Response(json.dumps(jsonstat(json.loads(request.get_data()))), content_type="application/json")


def test_new_datasets_reach_the_marts_from_their_registry_entry_alone(tmp_path, fresh_database, httpserver):
    folder = tmp_path / "sources"
    shutil.copytree(registry.REGISTRY_DIR, folder)
    for name, text in ENTRIES.items():
        (folder / f"{name}.yml").write_text(text, encoding="utf-8")
    httpserver.expect_request(re.compile(r"/rest/data/.*")).respond_with_handler(sdmx)
    httpserver.expect_request(re.compile(r"/px/.*")).respond_with_handler(pxweb)
    httpserver.expect_request("/files/data/scores.csv").respond_with_data(SCORES, content_type="text/csv")
    before = subprocess.run(["git", "status", "--porcelain"], cwd=PROJECT_DIR, capture_output=True, text=True).stdout
    url = fresh_database()
    env = {**os.environ, "LGSTATS_HOME": str(tmp_path / "home"), "LGSTATS_WAREHOUSE_URL": url,
           "LGSTATS_REGISTRY_DIR": str(folder), "LGSTATS_QTR_BASE_URL": httpserver.url_for("/rest"),
           "LGSTATS_ISO_BASE_URL": httpserver.url_for("/rest"), "LGSTATS_LGA_BASE_URL": httpserver.url_for("/rest"),
           "LGSTATS_PXW_BASE_URL": httpserver.url_for("/px"), "LGSTATS_NOS_BASE_URL": httpserver.url_for("/rest"),
           "LGSTATS_TAB_BASE_URL": httpserver.url_for("/files"), "LGSTATS_CMP_BASE_URL": httpserver.url_for("/rest")}
    proc = subprocess.run([str(Path(sys.executable).with_name("lgstats")), "run", "--mode", "live",
                           "--source", "qtr", "--source", "iso", "--source", "lga", "--source", "pxw",
                           "--source", "nos", "--source", "tab", "--source", "cmp"], env=env,
                          cwd=PROJECT_DIR,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    with psycopg.connect(url) as conn:
        q = lambda sql: conn.execute(sql).fetchall()  # noqa: E731
        rows = q("select source_dataset, series_code, area_code, year, period, value::text, unit "
                 "from marts.fct_observation where source_dataset in ('qtr/quarterly', 'iso/by_country', "
                 "'lga/by_lga', 'pxw/arrivals', 'nos/no_series', 'tab/scores') order by 1, 3, 4, 5")
        indicators = dict((c, (n, u)) for c, n, u in q(
            "select series_code, series_name, unit from marts.dim_indicator where series_code like any "
            "(array['qtr.%', 'iso.%', 'lga.%', 'pxw.%', 'nos.%', 'tab.%'])"))
        composite = q("select series_code, area_code, year, disaggregation, value::text, unit "
                      "from marts.fct_observation where source_dataset = 'cmp/finance' order by 1, 4")
        composite_names = q("select series_code, series_name, unit from marts.dim_indicator "
                            "where series_code like 'CMP.%' order by 1")
        unmapped = q("select source_dataset, source_area from intermediate.int_areas_unmapped "
                     "where source_dataset in ('iso/by_country', 'lga/by_lga') order by 1")
    assert rows == [
        ("iso/by_country", "iso.SHARE", "392", 2022, None, "30.25", "PERCENT"),
        ("iso/by_country", "iso.SHARE", "608", 2022, None, "40.5", "PERCENT"),
        ("lga/by_lga", "lga.POP", "AU-LGA2025-31000", 2024, None, "100", "PERSONS"),
        ("nos/no_series", "nos.RATE", "242", 2021, None, "7.5", "PERCENT"),
        ("pxw/arrivals", "pxw.0", "554", 2023, "2023M01", "100", "PERSONS"),
        ("pxw/arrivals", "pxw.0", "554", 2023, "2023M02", "120", "PERSONS"),
        ("pxw/arrivals", "pxw.0", "554", 2023, "2023M03", "90", "PERSONS"),
        ("qtr/quarterly", "qtr.GDPQ", "036", 2023, "2023-Q1", "10", "NUMBER"),
        ("qtr/quarterly", "qtr.GDPQ", "036", 2023, "2023-Q2", "11", "NUMBER"),
        ("qtr/quarterly", "qtr.GDPQ", "036", 2024, "2024-Q1", "12", "NUMBER"),
        ("tab/scores", "tab.SCORE", "524", 2020, None, "3.25", "INDEX"),
    ]
    assert indicators == {"qtr.GDPQ": ("Test quarterly output", "NUMBER"),
                          "iso.SHARE": ("Test share by country", "PERCENT"),
                          "lga.POP": ("Test population by LGA", "PERSONS"),
                          "pxw.0": ("Test monthly arrivals", "PERSONS"),
                          "nos.RATE": ("nos.RATE", "PERCENT"),   # no declared name: the code, never invented
                          "tab.SCORE": ("tab.SCORE", "INDEX")}
    assert composite == [("CMP.EXP.NUMBER", "608", 2022, "_T", "100", "NUMBER"),
                         ("CMP.EXP.PERCENT", "608", 2022, "SECTOR=LOC", "2.25", "PERCENT"),
                         ("CMP.EXP.PERCENT", "608", 2022, "_T", "5.5", "PERCENT")]
    assert composite_names == [("CMP.EXP.NUMBER", "Test: Expenditure (Number)", "NUMBER"),
                               ("CMP.EXP.PERCENT", "Test: Expenditure (Percent)", "PERCENT")]
    # outside the area list or the mapping file: kept and listed, not dropped
    assert unmapped == [("iso/by_country", "USA"), ("lga/by_lga", "15750")]
    after = subprocess.run(["git", "status", "--porcelain"], cwd=PROJECT_DIR, capture_output=True, text=True).stdout
    assert after == before  # no file of the project was written: the registry entries were enough

    # Issue 24: a valid entry whose SELECT cannot build (an SDMX dataset pointed at a PXWeb label map: no
    # source_code column) is left out and named; every other dataset's marts still publish
    (folder / "bad.yml").write_text(BAD, encoding="utf-8")
    env = {**env, "LGSTATS_BAD_BASE_URL": httpserver.url_for("/rest")}
    SERVED["quarterly"] = QUARTERLY.replace("2024-Q1,12", "2024-Q1,13")  # a revision the same build must publish
    proc = subprocess.run([str(Path(sys.executable).with_name("lgstats")), "run", "--mode", "live",
                           "--source", "bad", "--source", "qtr"], env=env, cwd=PROJECT_DIR, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode != 0
    assert "bad/mislabelled" in proc.stdout and "source_code" in proc.stdout, proc.stdout[-4000:]
    assert "Every other dataset's marts were published" in proc.stdout
    with psycopg.connect(url) as conn:
        again = conn.execute("select source_dataset, series_code, area_code, year, period, value::text, unit "
                             "from marts.fct_observation where source_dataset in ('qtr/quarterly', "
                             "'iso/by_country', 'lga/by_lga', 'pxw/arrivals', 'nos/no_series', 'tab/scores') "
                             "order by 1, 3, 4, 5").fetchall()
        loaded = conn.execute("select count(*) from raw.bad__mislabelled").fetchone()[0]
        published = conn.execute("select count(*) from marts.fct_observation "
                                 "where source_dataset = 'bad/mislabelled'").fetchone()[0]
    revised = [r[:5] + ("13",) + r[6:] if r[0] == "qtr/quarterly" and r[4] == "2024-Q1" else r for r in rows]
    assert again == revised  # qtr's revision published by the build that left bad out; the rest kept
    assert loaded == 2 and published == 0


# the `lga` entry under another name, its area map swapped for a PXWeb label map and its series dropped
BAD = (ENTRIES["lga"].replace("name: lga", "name: bad", 1).replace("by_lga", "mislabelled")
       .replace("map_abs__lga2025", "map_psa__geolocation").replace("lga__", "bad__")
       .split("    series:")[0] + "    suite: sdmx__observations\n    raw_table: bad__mislabelled\n")
