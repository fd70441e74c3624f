"""Issue 26's acceptance, as a newcomer would do it: in a copy of the project (its own git repository), a new
column of a wide mart is one row of dbt/seeds/mart_wide_columns.csv, and a new mart with a Superset chart on a
dashboard is three new files (the model's SQL, its YAML, the chart). `git status` of the copy shows exactly those;
dbt builds them on the replay warehouse, the BI role reads them, their columns carry their descriptions, the
exposures and the Superset bundle take the new chart from the files alone. (A new SDMX dataset with a composite
series code is one registry entry: tests/e2e/test_registry_driven.py.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from lgstats.core.settings import PROJECT_DIR
from tests.conftest import role_url

pytestmark = pytest.mark.e2e

NEW_ROW = ("decentralisation_country_profile,14,women_local_seat_share_pct,SG_GEN_LOCGELS,Sex=FEMALE,PERCENT,"
           "numeric,max,\"Share of elected seats in local government held by women (SG_GEN_LOCGELS, %).\"\n")
NEW_MART_SQL = """-- Per country: how many series the warehouse holds, and the snapshot of the newest.
select a.country_iso3::text as country_iso3,
       count(distinct f.series_code)::integer as series_count,
       max(f.snapshot_id)::text as snapshot_id
from {{ ref('fct_observation') }} as f
inner join {{ ref('dim_area') }} as a using (area_code)
where a.area_level = 'country'
group by a.country_iso3
"""
NEW_MART_YAML = """version: 2
models:
  - name: coverage_by_country
    description: Per country, the number of series the warehouse holds.
    columns:
      - {name: country_iso3, data_type: text, description: ISO 3166-1 alpha-3., data_tests: [unique, not_null]}
      - {name: series_count, data_type: integer, description: Series with at least one observation.}
      - {name: snapshot_id, data_type: text, description: The newest snapshot among them.}
"""
NEW_CHART = """slice_name: Series held per country
description: How many series the warehouse holds for each country.
viz_type: table
params: {viz_type: table, query_mode: raw, all_columns: [country_iso3, series_count], row_limit: 1000}
cache_timeout: null
version: 1.0.0
dataset: coverage_by_country
dashboard: {slug: decentralisation-and-resilience, row: 2}
"""
PROBE = """
import json, os, subprocess, sys
from lgstats.pipeline import transforms, marts
from lgstats.services import bi
from lgstats.core.settings import get_settings, warehouse_env
s = get_settings()
transforms.ensure_manifest()
dbt = [transforms._bin("dbt"), "build", "--select", "mart_wide_columns", "decentralisation_country_profile",
       "coverage_by_country", "--project-dir", str(transforms.DBT_DIR), "--profiles-dir", str(transforms.DBT_DIR)]
proc = subprocess.run(dbt, env={**os.environ, **warehouse_env(s)}, capture_output=True, text=True)
manifest = json.loads(transforms.MANIFEST.read_text())
files = bi.bundle(s)
print(json.dumps({"dbt": proc.returncode, "dbt_out": proc.stdout[-3000:], "marts": marts.names(),
                  "exposures": {e["name"]: e["depends_on"]["nodes"] for e in manifest["exposures"].values()},
                  "chart": files.get("charts/coverage_by_country.yaml"),
                  "dataset": files.get("datasets/lgstats_warehouse/coverage_by_country.yaml"),
                  "position": files["dashboards/decentralisation-and-resilience.yaml"]["position"]}))
"""


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def _copy_of_the_project(to: Path) -> None:
    """The checkout's tracked files as they are on disk, committed in a repository of their own."""
    for name in _git(PROJECT_DIR, "ls-files", "-z").split("\0"):
        src = PROJECT_DIR / name
        if name and src.is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, to / name)
    _git(to, "init", "-q")
    _git(to, "add", "-A")
    _git(to, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "copy")


def test_a_new_column_is_one_row_and_a_new_mart_with_a_chart_three_files(clean_replay, tmp_path):
    assert clean_replay.proc.returncode == 0, clean_replay.proc.stdout[-2000:]
    project = tmp_path / "project"
    _copy_of_the_project(project)
    with open(project / "dbt/seeds/mart_wide_columns.csv", "a", encoding="utf-8") as fh:
        fh.write(NEW_ROW)
    (project / "dbt/models/marts/coverage").mkdir()
    (project / "dbt/models/marts/coverage/coverage_by_country.sql").write_text(NEW_MART_SQL)
    (project / "dbt/models/marts/coverage/_coverage__models.yml").write_text(NEW_MART_YAML)
    (project / "bi/superset/assets/charts/coverage_by_country.yaml").write_text(NEW_CHART)

    env = {**os.environ, **clean_replay.env, "LGSTATS_PROJECT_DIR": str(project)}
    try:
        proc = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        changed = sorted(line[3:] for line in _git(project, "status", "--porcelain", "-uall").splitlines())
        with psycopg.connect(role_url(clean_replay.url, "bi")) as conn:
            women = conn.execute("select count(women_local_seat_share_pct), col_description("
                                 "'marts.decentralisation_country_profile'::regclass, (select attnum from pg_attribute"
                                 " where attrelid = 'marts.decentralisation_country_profile'::regclass"
                                 " and attname = 'women_local_seat_share_pct'))"
                                 " from marts.decentralisation_country_profile").fetchone()
            coverage = conn.execute("select count(*), min(series_count) from marts.coverage_by_country").fetchone()
            described = conn.execute("select col_description('marts.coverage_by_country'::regclass, 2)").fetchone()
    finally:  # the shared replay warehouse as the real project builds it
        subprocess.run([sys.executable, "-c", PROBE.split("manifest =")[0].replace(', "coverage_by_country"', "")],
                       env={**os.environ, **clean_replay.env}, capture_output=True, text=True, timeout=900)
        with psycopg.connect(clean_replay.url, autocommit=True) as conn:
            conn.execute("drop table if exists marts.coverage_by_country")

    assert changed == ["bi/superset/assets/charts/coverage_by_country.yaml",
                       "dbt/models/marts/coverage/_coverage__models.yml",
                       "dbt/models/marts/coverage/coverage_by_country.sql",
                       "dbt/seeds/mart_wide_columns.csv"]  # nothing else: exposures and sources are generated
    assert out["dbt"] == 0, out["dbt_out"]
    assert women[0] > 0 and women[1].startswith("Share of elected seats")  # the real SG_GEN_LOCGELS rows
    assert coverage[0] > 0 and coverage[1] >= 1 and described[0] == "Series with at least one observation."
    assert "coverage_by_country" in out["marts"]
    assert "model.lgstats.coverage_by_country" in out["exposures"]["decentralisation_and_resilience_dashboard"]
    assert out["chart"]["dataset_uuid"] == out["dataset"]["uuid"]
    placed = out["position"]["CHART-coverage_by_country"]
    assert placed["meta"]["uuid"] == out["chart"]["uuid"] and placed["meta"]["width"] == 12
    assert "country_iso3" in [c["column_name"] for c in out["dataset"]["columns"]]
