"""``dbt build`` on the embedded warehouse: every model, contract and data test passes on loaded data."""

from __future__ import annotations

import os
import subprocess

import psycopg

from lgstats.core.settings import warehouse_env
from lgstats.pipeline import steps as pipeline
from lgstats.pipeline.transforms import DBT_DIR, _bin
from tests.conftest import dbt_target_path, load_sample_submissions


def test_dbt_build_passes_and_marts_trace_to_their_sidecar(warehouse_url):
    for dataset in ("geoarea_list", "series_list", "series_data"):
        pipeline.load(pipeline.fetch("un_sdg", dataset, "2026-11-28", "replay"))
    load_sample_submissions()
    env = {**os.environ, **warehouse_env()}
    proc = subprocess.run([_bin("dbt"), "build", "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
                           "--target-path", dbt_target_path()], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "ERROR=0" in proc.stdout and "PASS=" in proc.stdout
    with psycopg.connect(warehouse_url) as conn:
        rows = conn.execute("""
            select f.series_code, f.value_text, s.source_url, s.retrieved_at, s.licence, s.md5, s.sidecar_path
            from marts.fct_observation f join marts.dim_snapshot s using (snapshot_id)""").fetchall()
        non_relevant = conn.execute(  # the release's "N" (non-relevant): kept as text, never a number
            "select count(*) from marts.fct_observation where value_text = 'N' and value is null").fetchone()[0]
        women = conn.execute("select count(*) from marts.women_in_local_government").fetchone()[0]
    assert rows and all(r[2] and r[3] and r[4] and len(r[5]) == 32 and r[6] for r in rows)
    assert non_relevant > 0
    assert women > 0
