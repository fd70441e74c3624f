"""Member submissions reach their marts, and a resubmission replaces the earlier version there while the
earlier one stays queryable."""

from __future__ import annotations

import os
import subprocess

import psycopg
import pytest

from lgstats.core.settings import warehouse_env
from lgstats.pipeline.submissions import contract, process
from lgstats.pipeline.transforms import DBT_DIR, _bin
from tests.conftest import dbt_target_path, load_sample_submissions


def dbt_build() -> None:
    env = {**os.environ, **warehouse_env()}
    proc = subprocess.run([_bin("dbt"), "build", "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
                           "--target-path", dbt_target_path()], env=env, capture_output=True, text=True)
    failed = [line for line in proc.stdout.splitlines() if "ERROR" in line or "Failure" in line or "Error" in line]
    assert proc.returncode == 0, "\n".join(failed)[-4000:] or proc.stdout[-4000:]


@pytest.fixture
def built(warehouse_url):
    results = load_sample_submissions()
    assert {r.template for r in results} == {"lga_profile", "cooperation_partnership", "council_composition",
                                            "local_indicator", "covid_recovery_measure"}
    dbt_build()
    return warehouse_url


def test_a_valid_sample_of_each_template_appears_in_its_mart(built):
    queries = {
        "lga_profile": "select count(*) from marts.lga_profile",
        "cooperation_partnership": "select count(*) from marts.cooperation_partnership",
        "council_composition": "select count(*) from marts.women_in_local_government where seats_total is not null",
        "local_indicator": "select count(*) from marts.fct_observation where source_dataset like 'submissions/%'",
        "local_indicator (sdg_localisation)":
            "select count(*) from marts.sdg_localisation where area_code = 'PH-LG-001'",
        "covid_recovery_measure": "select count(*) from marts.local_resilience where covid_measures_count is not null",
    }
    with psycopg.connect(built) as conn:
        counts = {k: conn.execute(q).fetchone()[0] for k, q in queries.items()}
        quarantined = conn.execute("select row_number, problems->0->>'column' from "
                                   "quarantine.submissions__council_composition").fetchall()
        member = conn.execute("select area_level, parent_area_code, is_member from marts.dim_area "
                              "where area_code = 'PH-LG-001'").fetchone()
    assert all(n > 0 for n in counts.values()), counts
    assert quarantined == [(3, "seats_women")]  # the sample's deliberate error, set aside with its reason
    assert member == ("local_government", "608", True)


def test_resubmission_replaces_the_earlier_version_and_keeps_it_in_history(built, tmp_path):
    fixed = tmp_path / "council_fixed.csv"
    fixed.write_text("area_code,local_government_name,election_year,seats_total,seats_women\n"
                     "ID-LG-001,Synthetic City ID-01,2024,45,15\n")
    result = process.submit(fixed, "ID-LG-001", "council_composition")
    assert result.status == "accepted"
    dbt_build()
    with psycopg.connect(built) as conn:
        rows = conn.execute("select year, seats_women from marts.women_in_local_government "
                            "where area_code = 'ID-LG-001' order by year").fetchall()
        history = conn.execute("select count(distinct snapshot_id) from raw.submissions__council_composition "
                               "where member_code = 'ID-LG-001'").fetchone()[0]
        ops = conn.execute("select status from ops.submissions where member_code = 'ID-LG-001' "
                           "and template = 'council_composition' order by received_at").fetchall()
    assert rows == [(2019, 9), (2024, 15)]  # 2024 from the new file; 2019 still from the first one
    assert history == 2 and [s for (s,) in ops] == ["partially_accepted", "accepted"]


def _load_register(name: str) -> None:
    from lgstats.pipeline import steps as pipeline

    path = pipeline.fetch("registers", name, "2026-11-29", "replay")
    pipeline.validate(path)
    pipeline.load(path)


def test_area_codes_are_checked_against_the_register_with_closest_matches(warehouse_url, tmp_path, monkeypatch):
    """A local government may be named by its member code or its official register code; any other code is
    quarantined with the reason and the register areas closest by name."""
    from lgstats.core import warehouse
    from lgstats.pipeline.raw_tables import ensure_all_raw_tables

    with warehouse.connect() as conn:
        ensure_all_raw_tables(conn)
    _load_register("ph_psgc")
    members = contract.members()
    linked = {**members, "PH-LG-001": {**members["PH-LG-001"], "register_area_code": "PH-PSGC-072217"}}
    monkeypatch.setattr(contract, "members", lambda: linked)  # a member linked to its register area
    f = tmp_path / "council.csv"
    f.write_text("area_code,local_government_name,election_year,seats_total,seats_women\n"
                 "PH-PSGC-072217,City of Cebu,2019,20,5\n"
                 "PH-PSGC-999999,Cebu City,2019,20,5\n")
    result = process.submit(f, "PH-LG-001", "council_composition")
    assert result.status == "partially_accepted" and (result.rows_loaded, result.rows_rejected) == (1, 1)
    with psycopg.connect(warehouse_url) as conn:
        loaded = conn.execute("select area_code from raw.submissions__council_composition").fetchall()
        problem = conn.execute("select problems->0 from quarantine.submissions__council_composition").fetchone()[0]
    assert loaded == [("PH-PSGC-072217",)]  # its register code is the member's own
    assert problem["column"] == "area_code" and problem["value"] == "PH-PSGC-999999"
    assert "neither a member code nor an official register code" in problem["fix"]
    assert "PH-PSGC-072217 (City of Cebu)" in problem["fix"].split("Closest by name: ", 1)[1]
    csv_report = open(result.report_csv, encoding="utf-8").read()
    assert "PH-PSGC-072217 (City of Cebu)" in csv_report


def test_a_bad_submission_is_set_aside_row_by_row_and_never_breaks_the_build(built, tmp_path):
    """Issue 15's attacks: a row for another member's area, an integer that overflows the warehouse's
    integer, and 1e400 (Infinity in a float) are each rejected with a reason; the build still passes."""
    council = tmp_path / "council.csv"
    council.write_text("area_code,local_government_name,election_year,seats_total,seats_women\n"
                       "ID-LG-001,Synthetic City ID-01,2024,45,15\n"          # another member's area: spoofed
                       "PH-LG-001,Synthetic City PH-01,2025,99999999999,3\n"  # overflows integer
                       "PH-LG-001,Synthetic City PH-01,2026,12,4\n")         # fine
    indicator = tmp_path / "indicator.csv"
    indicator.write_text("area_code,indicator_code,indicator_name,year,value,unit,source\n"
                         "PH-LG-001,LOCAL_X,Huge,2023,1e400,NUMBER,test\n"
                         "PH-LG-001,LOCAL_X,Fine,2024,12.5,NUMBER,test\n")
    first = process.submit(council, "PH-LG-001", "council_composition")
    second = process.submit(indicator, "PH-LG-001", "local_indicator")
    assert (first.rows_loaded, first.rows_rejected) == (1, 2) and (second.rows_loaded, second.rows_rejected) == (1, 1)
    with psycopg.connect(built) as conn:
        problems = {(p["value"], p["problem"]) for (p,) in conn.execute(
            "select jsonb_array_elements(problems) from quarantine.submissions__council_composition "
            "union all select jsonb_array_elements(problems) from quarantine.submissions__local_indicator")}
    assert ("ID-LG-001", "another member's area") in problems
    assert ("99999999999", "too large for a whole number") in problems
    assert ("1e400", "not a finite number (too large or too small to store)") in problems
    dbt_build()
    with psycopg.connect(built) as conn:
        spoofed = conn.execute("select count(*) from marts.women_in_local_government where area_code = 'ID-LG-001'"
                               " and year = 2024 and seats_women = 15").fetchone()[0]
        infinite = conn.execute("select count(*) from marts.fct_observation where value = 'Infinity'").fetchone()[0]
    assert spoofed == 0 and infinite == 0


def test_the_publish_gate_refuses_non_finite_values(built):
    from lgstats.pipeline import gates

    with psycopg.connect(built) as conn:
        snapshot = conn.execute("update raw.submissions__local_indicator set value = 'Infinity' where row_number = 2"
                                " returning snapshot_id").fetchone()[0]
        conn.execute("update raw.snapshot_origins set loaded_at = now() + interval '1 second' where snapshot_id = %s",
                     (snapshot,))  # as a re-load would: the dataset is new to the build, so the gate judges it
        report = gates.run(conn)
        conn.rollback()
    assert not report.passed and any(f.startswith("non-finite values: 1 row(s)") for f in report.findings)
