"""Adding an SDMX dataset is configuration: one registry entry (here a whole new source, the Pacific Data
Hub) is fetched over HTTP, validated with the generic suite and loaded, and gets its Airflow DAG."""

from __future__ import annotations

import re
import runpy
import shutil
import textwrap
from pathlib import Path

import psycopg
import pytest

from lgstats.core.settings import PROJECT_DIR
from lgstats.pipeline import registry
from lgstats.pipeline import steps as pipeline

ENTRY = """
name: pdh
title: Pacific Data Hub .Stat (SPC)
connector: sdmx
owner: data-eng
base_url: https://stats-sdmx-disseminate.pacificdata.org/rest
licence: "CC BY 4.0 (test entry)"
expected_refresh_days: 400
datasets:
  - name: population
    agency: SPC
    flow: DF_POP_SUM
    version: "3.0"
    key: A..MIDYEARPOPEST._T._T
    dimensions: [FREQ, GEO_PICT, INDICATOR, SEX, AGE]
    area_dimension: GEO_PICT
    measure_dimension: INDICATOR
    suite: sdmx__observations
    raw_table: pdh__population
"""
BODY = textwrap.dedent("""\
    DATAFLOW,FREQ,GEO_PICT,INDICATOR,SEX,AGE,TIME_PERIOD,OBS_VALUE,UNIT_MEASURE,UNIT_MULT,OBS_STATUS
    SPC:DF_POP_SUM(3.0),A,FJ,MIDYEARPOPEST,_T,_T,2023,1,PERSONS,3,
    SPC:DF_POP_SUM(3.0),A,FJ,MIDYEARPOPEST,_T,_T,2024,2,PERSONS,3,
    SPC:DF_POP_SUM(3.0),A,TO,MIDYEARPOPEST,_T,_T,2024,,PERSONS,3,M
    """)  # invented values: this test checks plumbing, not statistics


@pytest.fixture
def extended_registry(tmp_path, monkeypatch, httpserver):
    folder = tmp_path / "sources"
    shutil.copytree(registry.REGISTRY_DIR, folder)
    (folder / "pdh.yml").write_text(ENTRY, encoding="utf-8")
    monkeypatch.setenv("LGSTATS_REGISTRY_DIR", str(folder))
    monkeypatch.setenv("LGSTATS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LGSTATS_PDH_BASE_URL", httpserver.url_for("/rest"))
    httpserver.expect_request(re.compile(r"/rest/data/SPC,DF_POP_SUM,3.0/.*")).respond_with_data(
        BODY, content_type="application/vnd.sdmx.data+csv")
    return folder


def test_a_new_sdmx_dataset_needs_only_its_registry_entry(extended_registry, warehouse_url, httpserver):
    path = pipeline.fetch("pdh", "population", "2026-11-28", "live")
    assert httpserver.log[0][0].path == "/rest/data/SPC,DF_POP_SUM,3.0/A..MIDYEARPOPEST._T._T"
    pipeline.validate(path)
    assert pipeline.load(path)["rows"] == 3
    with psycopg.connect(warehouse_url) as conn:
        rows = conn.execute("select area_source_code, year, value from raw.pdh__population order by 1, 2").fetchall()
    assert [(a, y, None if v is None else int(v)) for a, y, v in rows] == [("FJ", 2023, 1000), ("FJ", 2024, 2000),
                                                                             ("TO", 2024, None)]


def test_a_unit_code_the_unit_list_does_not_map_is_refused_at_validation_by_name(extended_registry, warehouse_url,
                                                                                 httpserver):
    """Issue 25: an unknown unit never reaches the marts unmapped; the report names the code and the file to map
    it in, and nothing is loaded."""
    httpserver.clear_all_handlers()
    httpserver.expect_request(re.compile(r"/rest/data/SPC,DF_POP_SUM,3.0/.*")).respond_with_data(
        BODY.replace("PERSONS", "N"), content_type="application/vnd.sdmx.data+csv")
    path = pipeline.fetch("pdh", "population", "2026-11-29", "live")
    from lgstats.pipeline.validation import ValidationFailed

    with pytest.raises(ValidationFailed) as failed:
        pipeline.validate(path)
    message = str(failed.value)
    assert "column 'unit_measure'" in message and "value 'N'" in message
    assert "dbt/seeds/map_source_units.csv" in message


def test_the_new_source_gets_its_ingest_dag(extended_registry):
    from lgstats.services.toolchain import apply_airflow_env

    apply_airflow_env()
    namespace = runpy.run_path(str(PROJECT_DIR / "dags" / "national_statistics_ingest.py"))
    dag = namespace["pdh_ingest"]
    assert {t.task_id for t in dag.tasks} == {"fetch_population", "validate_population", "load_population",
                                              "check_population", "announce_loaded"}
    assert "ingestion/sources/pdh.yml" in dag.doc_md


@pytest.mark.parametrize("good,bad", [("measure_dimension: INDICATOR", "measure_dimenson: INDICATOR"),
                                      ("expected_refresh_days: 400", "expected_refresh_days: 400\nretries: 3")])
def test_a_misspelt_registry_key_stops_lgstats_run_at_once_naming_it(tmp_path, good, bad):
    import os
    import subprocess
    import sys

    folder = tmp_path / "sources"
    shutil.copytree(registry.REGISTRY_DIR, folder)
    (folder / "pdh.yml").write_text(ENTRY.replace(good, bad), encoding="utf-8")
    key = bad.split("\n")[-1].split(":")[0]
    env = {**os.environ, "LGSTATS_REGISTRY_DIR": str(folder), "LGSTATS_HOME": str(tmp_path / "home")}
    proc = subprocess.run([str(Path(sys.executable).with_name("lgstats")), "run", "--source", "pdh"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=PROJECT_DIR)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and f"unknown key '{key}'" in proc.stderr
    assert str(folder / "pdh.yml") in proc.stderr
    assert "warehouse" not in proc.stdout  # refused before anything started


@pytest.mark.parametrize("keys,named", [
    ("series_dimensions: [INDICATOR, UNIT]", "UNIT"),                      # UNIT_MEASURE is an attribute here
    ('series_label: "{INDICATOR} ({SEXE})"', "SEXE"),
    ("disaggregation: {dimension: GENDER, total: _T}", "GENDER"),
])
def test_composite_code_keys_must_name_the_datasets_own_dimensions(tmp_path, keys, named):
    """One route (issue 26): what a staging model once hand-coded is stated in the entry, and a name that is not
    a dimension of the dataset is refused when the registry is read, naming file, dataset and the name."""
    folder = tmp_path / "sources"
    folder.mkdir()
    (folder / "pdh.yml").write_text(ENTRY + f"    {keys}\n", encoding="utf-8")
    with pytest.raises(registry.RegistryError) as refused:
        registry.sources(folder)
    message = str(refused.value)
    assert str(folder / "pdh.yml") in message and "'population'" in message and named in message
    (folder / "pdh.yml").write_text(ENTRY + "    series_dimensions: [INDICATOR, SEX]\n"
                                    '    series_label: "{INDICATOR} ({SEX})"\n'
                                    "    disaggregation: {dimension: AGE, total: _T}\n", encoding="utf-8")
    assert registry.sources(folder)["pdh"].datasets[0].model_extra["series_dimensions"] == ["INDICATOR", "SEX"]
