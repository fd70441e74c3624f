"""End to end: ``lgstats run`` drives the Airflow DAGs from replay data or a live (local) API into the marts."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from lgstats.core import warehouse
from lgstats.core.settings import PROJECT_DIR
from lgstats.pipeline import marts, registry
from tests.conftest import FIXTURES, REPLAY, role_url
from tests.mart_fingerprint import differences
from tests.sdg_server import Fault, SdgServer

pytestmark = pytest.mark.e2e
MARTS = marts.names()  # every model of dbt/models/marts, from the manifest


def lgstats(*args: str, env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lgstats")
    return subprocess.run([str(exe), *args], env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=timeout, cwd=PROJECT_DIR)


def counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        out = {m: conn.execute(f"select count(*) from marts.{m}").fetchone()[0] for m in MARTS}
        out["raw"] = conn.execute("select count(*) from raw.un_sdg__series_data").fetchone()[0]
        return out


@pytest.fixture(scope="module")
def replay_run(clean_replay):
    return clean_replay.env, clean_replay.url, clean_replay.proc


def test_replay_run_succeeds_with_a_summary(replay_run):
    env, url, proc = replay_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "lgstats run SUCCEEDED" in out
    assert "rows per mart:" in out and "marts.fct_observation" in out
    assert "checks:" in out and " 0 failed" in out
    assert url.rsplit("/", 1)[-1] in out  # the warehouse URL for BI tools
    assert all(n > 0 for n in counts(url).values()), counts(url)


def test_the_marts_hold_the_recorded_rows(clean_replay):
    """Row for row, every mart of a replay run is what tests/fixtures/marts_fingerprint.json records: a refactoring
    (one route to the marts, wide marts declared as data) must not change a single value. A change that is meant
    re-records the file (tests/mart_fingerprint.py says how) and the diff shows which marts and columns moved."""
    assert clean_replay.marts is not None, clean_replay.proc.stdout[-3000:]
    recorded = json.loads((FIXTURES / "marts_fingerprint.json").read_text(encoding="utf-8"))
    problems = differences(recorded, clean_replay.marts)
    assert not problems, "\n".join(problems)


def test_a_reader_holding_a_mart_with_its_timeouts_lifted_cannot_stop_a_run(replay_run):
    """Review N3: lgstats_bi lifts its own timeouts and holds a table mart open in a transaction (the lock
    dbt's swap waits for), and tries every pipeline lock; the run still finishes and says whom it ended. It runs
    before the tests that leave the shared warehouse's raw rows changed on purpose (the gate test)."""
    env, url, first = replay_run
    assert first.returncode == 0
    bi = role_url(url, "bi")
    with psycopg.connect(bi, autocommit=True) as conn:
        for key in ("hashtext('lgstats.provision')", f"{warehouse.RUN_LOCK_KEY}::bigint", "hashtext('raw.x')"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"select pg_advisory_lock({key})")
    reader = psycopg.connect(bi)
    reader.execute("set statement_timeout = 0")
    reader.execute("set idle_in_transaction_session_timeout = 0")
    reader.execute("select count(*) from marts.decentralisation_country_profile").fetchone()
    proc = lgstats("run", "--mode", "replay", "--source", "world_bank", env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "warehouse guard: ended the lgstats_bi session" in proc.stdout
    assert "held a lock the pipeline waited for" in proc.stdout
    with pytest.raises(psycopg.OperationalError):
        reader.execute("select 1")
    reader.close()


def test_the_national_sources_reach_the_marts(replay_run):
    """ABS, Stats NZ, OECD SNG-WOFI and PSA: loaded, subnational areas under their country, SNG-WOFI in the
    decentralisation profile with the value of the replay file."""
    env, url, proc = replay_run
    assert proc.returncode == 0
    for dag in ("abs_ingest", "stats_nz_ingest", "oecd_ingest", "psa_ingest"):
        assert f"ok: {dag}" in proc.stdout
    assert "warning: abs/erp_lga: 1 source area code(s), 7 row(s), have no area mapping yet" in proc.stdout
    with open(REPLAY / "oecd" / "sng_wofi_finance" / "data.csv", newline="", encoding="utf-8") as fh:
        lines = list(csv.reader(fh))
    ids = lines[0][4::2]
    rows = [dict(zip(ids, line[4::2], strict=True)) for line in lines[1:]]
    row = next(r for r in rows if r["REF_AREA"] == "PHL" and r["SECTOR"] == "S13M" and r["MEASURE"] == "R1"
               and r["UNIT_MEASURE"] == "PT_B1GQ" and r["TIME_PERIOD"] == "2019")
    with psycopg.connect(url) as conn:
        q = lambda sql, *a: conn.execute(sql, a or None).fetchall()  # noqa: E731
        assert q("select sng_revenue_pct_gdp::text from marts.decentralisation_country_profile "
                 "where country_iso3 = 'PHL' and year = 2019") == [(row["OBS_VALUE"],)]
        assert q("select count(*) from marts.decentralisation_country_profile where sng_expenditure_pct_gdp "
                 "is not null and sng_expenditure_pct_general_government is not null")[0][0] > 10
        cebu = q("select a.area_level, p.area_level, p.parent_area_code from marts.dim_area a "
                 "join marts.dim_area p on p.area_code = a.parent_area_code where a.area_code = 'PH-PSGC-0722'")
        assert cebu == [("province", "state_or_region", "608")]
        assert q("select a.parent_area_code, c.country_iso3 from marts.dim_area a join marts.dim_area c "
                 "on c.area_code = 'AU-QLD' where a.area_code = 'AU-LGA2025-31000'") == [("AU-QLD", "AUS")]
        loaded = dict(q("select source_dataset, count(*) from marts.fct_observation where source_dataset in "
                        "('abs/erp_lga', 'psa/poverty_incidence', 'oecd/sng_wofi_finance') group by 1"))
        assert set(loaded) == {"abs/erp_lga", "psa/poverty_incidence", "oecd/sng_wofi_finance"}, loaded
        # nothing silently lost: the unmapped ABS code and the Stats NZ rows are listed, and kept in raw
        unmapped = dict(q("select source_dataset || ':' || source_area, rows from intermediate.int_areas_unmapped"))
        assert unmapped["abs/erp_lga:15750"] == 7
        assert q("select count(*) from raw.stats_nz__agr_forestry")[0][0] == 28
        # an empty OBS_VALUE is NULL, never zero
        assert q("select value from marts.fct_observation where source_dataset = 'oecd/sng_wofi_finance' "
                 "and area_code = '242' and year = 2016 limit 1") == [(None,)]


def test_mart_rows_trace_back_to_a_sidecar_with_url_time_licence_md5(replay_run):
    _, url, _ = replay_run
    with psycopg.connect(url) as conn:
        mislabelled = conn.execute("""
            select count(*) from marts.fct_observation f join marts.dim_snapshot s using (snapshot_id)
            where (f.source_name like '%synthetic%') <> s.synthetic""").fetchone()[0]
        snapshot_id, sidecar_path, md5 = conn.execute("""
            select f.snapshot_id, s.sidecar_path, s.md5
            from marts.fct_observation f join marts.dim_snapshot s using (snapshot_id)
            where f.source_dataset = 'un_sdg/series_data' limit 1""").fetchone()
    sidecar = json.loads(Path(sidecar_path).read_text())
    assert sidecar["snapshot_id"] == snapshot_id and sidecar["md5"] == md5
    assert sidecar["synthetic"] is False and "CC BY 4.0" in sidecar["licence"]
    assert sidecar["origin"]["repository"] == "open-numbers/ddf--unstats--sdg_indicators"
    assert sidecar["retrieved_at"] and all(f["url"].startswith("https://unstats.un.org/SDGAPI/v1/sdg/Series/Data?")
                                           for f in sidecar["files"])
    assert mislabelled == 0, "a row says 'synthetic' in source_name exactly when its snapshot is synthetic"


def test_replayed_real_data_keeps_its_real_retrieval_time(replay_run):
    """Issue 25, defect 11: PSA's retrieved_at was the load time, which made 2015-2021 figures look fetched today.
    Replayed real data keep when they were retrieved (PSA: the commit that added the export, at the latest)."""
    _, url, _ = replay_run
    with psycopg.connect(url) as conn:
        psa = conn.execute("select retrieved_at at time zone 'UTC', loaded_at from marts.dim_snapshot "
                           "where snapshot_id like 'psa/poverty_incidence/%'").fetchone()
        stamped_at_load = conn.execute(
            "select snapshot_id from marts.dim_snapshot where not synthetic and snapshot_id not like 'submissions/%' "
            "and retrieved_at > loaded_at - interval '1 day'").fetchall()
    assert str(psa[0]) == "2024-01-18 20:13:51"
    assert stamped_at_load == []  # no real replayed snapshot claims to have been retrieved at its load


def test_the_default_run_publishes_real_numbers(replay_run):
    """Issue 13's acceptance, on the clean replay run (SQL as the admin URL)."""
    _, url, proc = replay_run
    with psycopg.connect(url) as conn:
        q = lambda sql, *a: conn.execute(sql, a or None).fetchall()  # noqa: E731
        women = dict(((c, y), v) for c, y, v in q(
            "select country_iso3, year, women_seat_share_pct::text from marts.women_in_local_government "
            "where area_level = 'country'"))
        # the later vintage (OWID's 2024 export of the IPU's data) wins an area and year; the UN 2020 release
        # stays in fct_observation with its snapshot
        with open(REPLAY / "owid" / "women_in_local_government" / "WomenInLocalGov.csv", encoding="utf-8") as fh:
            owid = {(r[1], int(r[2])): r[3] for r in csv.reader(fh) if r[2].isdigit()}
        assert women[("PHL", 2019)] == owid[("PHL", 2019)] == "29.01"
        assert ("JPN", 2017) not in owid and women[("JPN", 2017)] == "12.87"  # only the UN release gives it
        un = dict(((a, y), v) for a, y, v in q("select area_code, year, value_text from marts.fct_observation "
                                               "where series_code = 'SG_GEN_LOCGELS' and snapshot_id like 'un_sdg/%'"))
        assert un[("608", 2019)] == "29.08" and un[("392", 2017)] == "12.87"
        assert q("""select count(*) from marts.women_in_local_government w
                    join marts.fct_observation f on f.area_code = w.area_code and f.year = w.year
                      and f.series_code = 'SG_GEN_LOCGELS'
                    join marts.dim_snapshot s on s.snapshot_id = f.snapshot_id
                    where w.area_level = 'country' and s.synthetic""")[0][0] == 0
        assert q("select count(*) from marts.women_in_local_government where area_level = 'country' "
                 "and source_name like '%synthetic%'")[0][0] == 0
        # the register (vintage 2026) says nothing of 2018 (issue 25, defect 10); the counts side by side are in
        # int_local_governments_counted, checked below
        assert q("select local_governments_count, register_local_governments_count from "
                 "marts.decentralisation_country_profile where country_iso3 = 'JPN' and year = 2018") == [(1788, None)]
        levels = dict(((c, lv), n) for c, lv, n in q(
            "select country_iso3, area_level, count(*) from marts.dim_area where code_system like 'registers/%' "
            "and parent_area_code is not null group by 1, 2"))
        assert levels[("PHL", "local_government")] >= 1642 and levels[("IDN", "local_government")] >= 514
        assert levels[("JPN", "local_government")] >= 1741
        assert q("""select count(*) from marts.dim_area a left join marts.dim_area p on p.area_code = a.parent_area_code
                    where a.code_system like 'registers/%' and p.area_code is null""")[0][0] == 0
        assert q("select official_code, register_vintage is not null, snapshot_id like 'registers/ph_psgc/%' "
                 "from marts.dim_area where area_code = 'PH-PSGC-012801'") == [("012801", True, True)]
        real, total = q("select count(*) filter (where not s.synthetic), count(*) from marts.fct_observation f "
                        "join marts.dim_snapshot s using (snapshot_id)")[0]
        assert real / total >= 0.8, (real, total)
        # the UN and the registers side by side: agreeing for Japan and Indonesia, a real gap for the Philippines
        counted = dict(((c,), (s_, r, d)) for c, s_, r, d in q(
            "select country_iso3, sdg_local_governments, register_local_governments, sdg_minus_register "
            "from intermediate.int_local_governments_counted"))
        assert {k: counted[k] for k in [("JPN",), ("IDN",), ("PHL",)]} == {
            ("JPN",): (1788, 1788, 0), ("IDN",): (514, 514, 0), ("PHL",): (1715, 1724, -9)}
        ph = q("select local_governments_total, total_source, register_local_governments from marts.lga_profile "
               "where lga_code = 'LGA-PH-01' and year = 2022")
        assert ph == [(1724, "register ph_psgc (" + registry.source("registers").dataset("ph_psgc").model_extra[
            "vintage"] + ")", 1724)]
    assert f"{100 * real / total:.1f} % of {total:,} rows from real snapshots" in proc.stdout


def test_stats_nz_island_totals_are_never_counted_with_the_country(replay_run):
    """AREA 20 = AREA 10 + AREA 19 (fidelity §3): only 20 reaches the marts, as New Zealand; 10 and 19 are
    neither mapped as regions nor listed as unmapped."""
    _, url, _ = replay_run
    with psycopg.connect(url) as conn:
        q = lambda sql, *a: conn.execute(sql, a or None).fetchall()  # noqa: E731
        raw = dict(q("select area_source_code, value from raw.stats_nz__agr_forestry "
                     "where measure = '6052' and time_period = '2018'"))
        assert raw["10"] + raw["19"] == raw["20"] == 30225292
        marts = q("select area_code, sum(value) from marts.fct_observation where source_dataset = "
                  "'stats_nz/agr_forestry' and series_code like '%.6052' and year = 2018 group by 1")
        assert marts == [("554", 30225292)]  # once, not twice
        assert {a for (a,) in q("select distinct area_code from marts.fct_observation "
                                "where source_dataset = 'stats_nz/agr_forestry'")} == {"554"}
        unmapped = {a for (a,) in q("select source_area from intermediate.int_areas_unmapped "
                                    "where source_dataset = 'stats_nz/agr_forestry'")}
        assert unmapped and not unmapped & {"10", "19", "20"}


def test_ops_tables_describe_the_run_and_status_shows_every_source(replay_run):
    env, url, _ = replay_run
    with psycopg.connect(url) as conn:
        runs = dict(conn.execute("select dag_id, state from ops.runs").fetchall())
        # per dataset (the reader test before this one runs world_bank again on this warehouse)
        dataset = "regexp_replace(snapshot_id, '/dt=.*$', '')"
        loads = conn.execute(f"select count(distinct {dataset}), bool_and(rows > 0) from ops.loads "
                             "where status = 'loaded'").fetchone()
        validations = conn.execute(f"select count(distinct {dataset}), bool_and(success) "
                                   "from ops.validations").fetchone()
    expected = {f"{name}_ingest" for name in registry.sources()} | {"submissions_ingest", "warehouse_build"}
    assert runs == {dag: "success" for dag in expected}
    datasets = sum(len(s.datasets) for s in registry.sources().values())
    assert loads == (datasets, True) and validations == (datasets, True)
    proc = lgstats("status", "--json", env=env)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["healthy"]
    datasets = {(e["source"], e["dataset"]) for e in report["sources"]}
    assert datasets == {(s.name, d.name) for s in registry.sources().values() for d in s.datasets}
    assert all(e["freshness"] in ("OK", "OLD RELEASE") and e["rows"] > 0 for e in report["sources"])
    assert {e["template"] for e in report["submissions"]} == {"lga_profile", "cooperation_partnership",
                                                             "council_composition", "local_indicator",
                                                             "covid_recovery_measure"}
    # issue 25, defect 11: "OK" for data of the UN's 2020 release said nothing of the period; now it is shown
    by = {(e["source"], e["dataset"]): e for e in report["sources"]}
    un = by[("un_sdg", "series_data")]
    assert un["data_first_year"] <= un["data_last_year"] <= 2020
    assert by[("registers", "ph_psgc")]["data_first_year"] is None  # a register has no period of data
    # ... and staleness is judged by the release: the 2020 release is no current data, though fetched today
    assert un["freshness"] == "OLD RELEASE" and un["release"] == f"UN SDG 2020 release, data to {un['data_last_year']}"
    assert "un_sdg/series_data" in report["old_releases"]
    for e in report["sources"]:  # every dataset judged by when its data were retrieved, against its refresh
        age = datetime.now(UTC) - datetime.fromisoformat(e["release_retrieved_at"])
        assert e["freshness"] == ("OLD RELEASE" if age.days >= e["expected_refresh_days"] else "OK"), e
    assert by[("psa", "poverty_incidence")]["release"].startswith("as retrieved on 2024-01-18, data to ")
    table = lgstats("status", env=env).stdout
    assert "un_sdg/series_data" in table and "council_composition" in table and "pipeline healthy" in table
    assert f"old release: un_sdg/series_data: UN SDG 2020 release, data to {un['data_last_year']}" in table
    assert "hold an old release" in table.splitlines()[-1]
    assert f"{un['data_first_year']}–{un['data_last_year']}" in table and "data years" in table


def test_lgstats_submit_processes_a_file_and_prints_its_report(replay_run, tmp_path):
    env, url, _ = replay_run
    f = tmp_path / "council.csv"
    f.write_text("area_code,local_government_name,election_year,seats_total,seats_women\n"
                 "VN-LG-001,Synthetic City VN-01,2021,30,40\nVN-LG-001,Synthetic City VN-01,2016,30,6\n")
    proc = lgstats("submit", str(f), "--member", "VN-LG-001", "--template", "council_composition", env=env)
    assert proc.returncode == 1  # partially accepted: the member has rows to fix
    assert "partially_accepted: 1 of 2 rows loaded, 1 set aside" in proc.stdout
    report = Path(proc.stdout.split("report for the member: ", 1)[1].split()[0])
    assert report.exists() and "seats_women" in report.read_text()
    bad = lgstats("submit", str(f), "--member", "VN-LG-001", "--template", "budget", env=env)
    assert bad.returncode == 2 and "unknown template" in bad.stdout


def test_lgstats_submit_refuses_spoofed_and_overflowing_rows_without_a_traceback(replay_run, tmp_path):
    """Issue 15's acceptance: a row for another member's area, an overflowing integer and 1e400 each end
    rejected and reported, with no traceback, and the next `lgstats run` still succeeds."""
    env, url, _ = replay_run
    council = tmp_path / "council.csv"
    council.write_text("area_code,local_government_name,election_year,seats_total,seats_women\n"
                       "ID-LG-001,Synthetic City ID-01,2024,45,15\n"
                       "PH-LG-001,Synthetic City PH-01,2025,99999999999,3\n")
    indicator = tmp_path / "indicator.csv"
    indicator.write_text("area_code,indicator_code,indicator_name,year,value,unit,source\n"
                         "PH-LG-001,LOCAL_X,Huge,2023,1e400,NUMBER,test\n")
    for f, template in ((council, "council_composition"), (indicator, "local_indicator")):
        proc = lgstats("submit", str(f), "--member", "PH-LG-001", "--template", template, env=env)
        assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
        assert "rejected: 0 of" in proc.stdout
        report = Path(proc.stdout.split("report for the member: ", 1)[1].split()[0]).read_text()
        assert any(reason in report for reason in ("another member&#x27;s area", "too large for a whole number",
                                                   "not a finite number"))
    run = lgstats("run", "--mode", "replay", "--source", "submissions", env=env)
    assert run.returncode == 0 and "lgstats run SUCCEEDED" in run.stdout, run.stdout[-3000:]
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from marts.fct_observation where value = 'Infinity'").fetchone()[0] == 0


def test_the_bi_url_reads_the_marts_and_cannot_write_even_with_read_only_off(replay_run):
    env, _, _ = replay_run
    proc = lgstats("warehouse", "url", "--role", "bi", env=env)
    bi = proc.stdout.strip()
    assert proc.returncode == 0 and bi.startswith("postgresql://lgstats_bi:")
    with psycopg.connect(bi, autocommit=True) as conn:
        assert conn.execute("select count(*) from marts.fct_observation").fetchone()[0] > 0
        conn.execute("set default_transaction_read_only = off")
        for statement in ("delete from marts.fct_observation", "create temp table t (i int)",
                          "insert into marts.dim_area (area_code) values ('x')"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_lgstats_docs_builds_a_site_whose_index_opens_both(replay_run, tmp_path):
    env, _, _ = replay_run
    proc = lgstats("docs", "--out", str(tmp_path / "site"), env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    index = tmp_path / "site" / "index.html"
    assert str(index) in proc.stdout
    text = index.read_text()
    assert (tmp_path / "site" / "dbt" / "static_index.html").exists() and 'href="dbt/static_index.html"' in text
    assert (tmp_path / "site" / "gx" / "index.html").exists() and 'href="gx/index.html"' in text


def test_the_build_refreshed_the_docs_site(replay_run):
    env, _, _ = replay_run
    index = Path(env["LGSTATS_HOME"]) / "site" / "index.html"
    text = index.read_text()
    assert 'href="dbt/static_index.html"' in text and 'href="gx/index.html"' in text
    assert (index.parent / "dbt" / "static_index.html").stat().st_size > 100_000  # the docs app, lineage included
    assert "un_sdg__series_data" in (index.parent / "gx" / "index.html").read_text()


def test_corrupted_replay_fails_naming_file_and_expectation_and_changes_nothing(replay_run, tmp_path, httpserver):
    env, url, first = replay_run
    httpserver.expect_request("/alerts", method="POST").respond_with_data("ok")
    env = {**env, "AIRFLOW_CONN_LGSTATS_ALERTS": httpserver.url_for("/alerts")}
    assert first.returncode == 0
    before = counts(url)
    bad = tmp_path / "replay"
    shutil.copytree(REPLAY, bad)
    page = bad / "un_sdg" / "series_data" / "SG_DSR_SILS__page-0001.json"
    payload = json.loads(page.read_text())
    payload["data"][3]["timePeriodStart"] = 1066.0
    page.write_text(json.dumps(payload))
    proc = lgstats("run", "--mode", "replay", "--source", "un_sdg", env={**env, "LGSTATS_REPLAY_DIR": str(bad)})
    assert proc.returncode != 0
    assert "SG_DSR_SILS__page-0001.json" in proc.stdout and "row 4" in proc.stdout
    assert "expect_column_values_to_be_between" in proc.stdout and "'year'" in proc.stdout
    assert "warehouse_build skipped" in proc.stdout
    assert counts(url) == before
    alerts = [json.loads(req.get_data()) for req, _ in httpserver.log if req.path == "/alerts"]
    assert len(alerts) == 1, alerts
    assert alerts[0]["dag_id"] == "un_sdg_ingest" and alerts[0]["task_id"] == "validate_series_data"
    assert "/dags/un_sdg_ingest/runs/" in alerts[0]["log_url"] and "validate_series_data" in alerts[0]["log_url"]


def test_live_run_survives_503_429_and_a_cut_page_and_is_idempotent(tmp_path, fresh_database, httpserver):
    server = SdgServer(REPLAY / "un_sdg" / "series_data")
    server.faults += [Fault("status", series="SG_GEN_LOCGELS", page=1, status=503),
                      Fault("retry_after", series="SG_DSR_SILS", page=1),
                      Fault("cut", series="EN_ATM_PM25", page=2)]
    url = fresh_database()
    env = {"LGSTATS_HOME": str(tmp_path / "home"), "LGSTATS_WAREHOUSE_URL": url,
           "LGSTATS_UN_SDG_BASE_URL": server.install(httpserver)}
    proc = lgstats("run", "--mode", "live", "--source", "un_sdg", env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert {k for _, _, k in server.log} >= {"status", "retry_after", "cut", "ok"}
    assert {"/v1/sdg/Series/List", "/v1/sdg/GeoArea/List"} <= {p for p, _, _ in server.log}
    served = [obs for body in server.pages.values() for obs in json.loads(body)["data"]]
    first = counts(url)
    assert first["raw"] == len(served)
    with psycopg.connect(url) as conn:
        women = dict(((a, y), v) for a, y, v in conn.execute(
            "select area_code, year, women_seat_share_pct::text from marts.women_in_local_government"))
        profile = dict(((a, y), (n, d)) for a, y, n, d in conn.execute(
            "select area_code, year, local_governments_count, local_drr_strategy_share_pct::text"
            " from marts.decentralisation_country_profile"))
        resilience = dict(((a, y), v) for a, y, v in conn.execute(
            "select area_code, year, local_drr_strategy_share_pct::text from marts.local_resilience"))
        licences = {r[0] for r in conn.execute("select licence from marts.dim_snapshot")}
        synthetic = conn.execute("select count(*) from marts.dim_snapshot where synthetic").fetchone()[0]
        countries = {c for (c,) in conn.execute("select area_code from marts.dim_area where area_level = 'country'")}
    assert licences == {registry.source("un_sdg").licence} and synthetic == 0  # live data is never labelled synthetic
    for obs in served:
        key = (obs["geoAreaCode"].zfill(3), int(obs["timePeriodStart"]))
        if key[0] not in countries:  # regions (World, Asia, …) are in fct_observation, not in these marts
            continue
        if obs["series"] == "SG_GEN_LOCGELS":
            assert women[key] == (None if obs["value"] == "N" else obs["value"])  # "N": non-relevant, no number
        elif obs["series"] == "SG_GOV_LOGV":
            assert profile[key][0] == int(obs["value"])
        elif obs["series"] == "SG_DSR_SILS":
            assert profile[key][1] == obs["value"] and resilience[key] == obs["value"]
    again = lgstats("run", "--mode", "live", "--source", "un_sdg", env=env)
    assert again.returncode == 0, again.stdout[-3000:]
    assert counts(url) == first


def test_a_build_that_drops_half_a_series_is_stopped_by_the_gate_and_marts_keep_their_rows(replay_run, tmp_path):
    env, url, first = replay_run
    assert first.returncode == 0
    before = counts(url)
    with psycopg.connect(url) as conn:
        pm25_before = conn.execute(
            "select count(*) from marts.fct_observation where series_code = 'EN_ATM_PM25'").fetchone()[0]
    halved = tmp_path / "replay"
    shutil.copytree(REPLAY, halved)
    folder = halved / "un_sdg" / "series_data"
    origin = json.loads((folder / "_origin.json").read_text())
    pages = [f for f in origin["files"] if f["series"] == "EN_ATM_PM25"]
    total = sum(f["rows"] for f in pages)
    kept = 0
    for f in pages:  # keep every other observation; the envelope stays self-consistent, so GX passes
        payload = json.loads((folder / f["file"]).read_text())
        payload["data"] = payload["data"][::2]
        kept += len(payload["data"])
        (folder / f["file"]).write_text(json.dumps(payload))
    for f in pages:
        payload = json.loads((folder / f["file"]).read_text())
        payload["totalElements"] = kept
        (folder / f["file"]).write_text(json.dumps(payload))
        f["total_elements"] = kept
    (folder / "_origin.json").write_text(json.dumps(origin))
    proc = lgstats("run", "--mode", "replay", "--source", "un_sdg", env={**env, "LGSTATS_REPLAY_DIR": str(halved)})
    assert proc.returncode != 0
    assert "publish gates failed" in proc.stdout and "EN_ATM_PM25" in proc.stdout, proc.stdout[-3000:]
    after = counts(url)
    assert after["raw"] == before["raw"] - (total - kept)  # the new input was loaded ...
    assert {k: v for k, v in after.items() if k != "raw"} == {k: v for k, v in before.items() if k != "raw"}
    with psycopg.connect(url) as conn:  # ... but the marts kept their previous rows
        assert conn.execute(
            "select count(*) from marts.fct_observation where series_code = 'EN_ATM_PM25'").fetchone()[0] == pm25_before
        last_gate = conn.execute("select passed from ops.publish_gates order by gate_run_id desc limit 1").fetchone()
        assert last_gate[0] is False


def test_live_world_bank_run_loads_the_good_indicators_and_names_the_refused_one(tmp_path, fresh_database, httpserver):
    """Issue 4's acceptance: a page, a 500 and an error-as-200 body from a local World Bank server."""
    import re

    from tests.clients.test_world_bank_client import WorldBank

    server = WorldBank(error_for="GC.REV.XGRT.GD.ZS", fail_once="SP.POP.TOTL")
    httpserver.expect_request(re.compile(r"/v2/country/.*")).respond_with_handler(server.handle)
    url = fresh_database()
    env = {"LGSTATS_HOME": str(tmp_path / "home"), "LGSTATS_WAREHOUSE_URL": url,
           "LGSTATS_WORLD_BANK_BASE_URL": httpserver.url_for("/").rstrip("/")}
    proc = lgstats("run", "--mode", "live", "--source", "world_bank", env=env)
    assert proc.returncode != 0
    assert "world_bank_ingest.check_indicators" in proc.stdout, proc.stdout[-3000:]
    assert "GC.REV.XGRT.GD.ZS: 120 Invalid value" in proc.stdout
    assert server.log.count(("SP.POP.TOTL", 1)) == 2  # the 500 was retried
    good = {k: len(v) for k, v in server.rows.items() if k != "GC.REV.XGRT.GD.ZS"}
    with psycopg.connect(url) as conn:
        loaded = dict(conn.execute("select indicator_id, count(*) from raw.world_bank__indicators group by 1"))
    assert loaded == good


def test_psa_alone_on_a_fresh_warehouse_brings_the_registers_its_provinces_need(tmp_path, fresh_database):
    """PSA's provinces are PSGC areas that dim_area takes from the registers: without them the build's
    relationship tests failed (found in session 6). ``needs: [registers]`` ingests them first."""
    url = fresh_database()
    env = {"LGSTATS_HOME": str(tmp_path / "home"), "LGSTATS_WAREHOUSE_URL": url}
    proc = lgstats("run", "--mode", "replay", "--source", "psa", env=env)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "with registers:" in proc.stdout
    assert proc.stdout.index("▶ registers_ingest") < proc.stdout.index("▶ psa_ingest")
    with psycopg.connect(url) as conn:
        sources = dict(conn.execute("select split_part(source_dataset, '/', 1), count(*) "
                                    "from marts.fct_observation group by 1"))
        unmatched = conn.execute("select count(*) from marts.fct_observation f "
                                 "where not exists (select 1 from marts.dim_area a where a.area_code = f.area_code)"
                                 ).fetchone()[0]
    assert set(sources) == {"psa"} and sources["psa"] > 0
    assert unmatched == 0

