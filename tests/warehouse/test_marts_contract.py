"""The analyst contract on a built warehouse: roles, comments, gates, incremental builds."""

from __future__ import annotations

import json
import os
import subprocess

import psycopg
import pytest

from lgstats.core.settings import PROJECT_DIR, warehouse_env
from lgstats.pipeline import gates, marts, registry
from lgstats.pipeline import steps as pipeline
from lgstats.pipeline.transforms import DBT_DIR, _bin
from tests.conftest import dbt_target_path, load_sample_submissions, role_url

MARTS = marts.names()  # every model of dbt/models/marts, from the manifest


def dbt(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **warehouse_env()}
    return subprocess.run([_bin("dbt"), *args, "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
                           "--target-path", dbt_target_path()], env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def built(pg_admin_url, tmp_path_factory):
    from tests.conftest import _database_url

    mp = pytest.MonkeyPatch()
    url = _database_url(pg_admin_url, f"lgstats_marts_{os.getpid()}")
    mp.setenv("LGSTATS_WAREHOUSE_URL", url)
    mp.setenv("LGSTATS_HOME", str(tmp_path_factory.mktemp("home")))
    for dataset in ("geoarea_list", "series_list", "series_data"):
        pipeline.load(pipeline.fetch("un_sdg", dataset, "2026-11-28", "replay"))
    pipeline.load(pipeline.fetch("world_bank", "indicators", "2026-11-28", "replay"))
    # the real sources the analyst guide's questions read (registers, twin towns, IMF, OxCGRT, OWID), and the
    # national sources whose units the unit list maps (PSA, Stats NZ, OECD, ABS)
    for source, dataset in [*(("registers", ds.name) for ds in registry.source("registers").datasets),
                            ("twinning", "twin_cities"), ("twinning", "twin_cities_geocoded"),
                            ("imf_fd", "fiscal_decentralisation"), ("oxcgrt", "stringency_index"),
                            ("owid", "women_in_local_government"), ("psa", "poverty_incidence"),
                            ("stats_nz", "agr_forestry"), ("oecd", "sng_wofi_finance"), ("abs", "erp_lga")]:
        pipeline.load(pipeline.fetch(source, dataset, "2026-11-28", "replay"))
    load_sample_submissions()
    proc = dbt("build")
    assert proc.returncode == 0, proc.stdout[-4000:]
    yield url
    mp.undo()


def as_role(url: str, role: str) -> psycopg.Connection:
    return psycopg.connect(role_url(url, role.removeprefix("lgstats_")), autocommit=True)


@pytest.mark.parametrize("mart", MARTS)
def test_bi_role_reads_every_mart(built, mart):
    with as_role(built, "lgstats_bi") as conn:
        assert conn.execute(f"select count(*) from marts.{mart}").fetchone()[0] > 0


@pytest.mark.parametrize("sql", ["select * from raw.un_sdg__series_data limit 1",
                                 "select * from staging.stg_un_sdg__series_data limit 1",
                                 "select * from ops.loads limit 1",
                                 "select * from raw.snapshot_origins limit 1"])
def test_bi_role_cannot_read_outside_marts(built, sql):
    with as_role(built, "lgstats_bi") as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql)


@pytest.mark.parametrize("sql", ["delete from marts.fct_observation", "create table marts.x (i int)",
                                 "create table public.x (i int)", "update marts.dim_area set area_name = 'x'"])
def test_bi_role_cannot_write_anywhere(built, sql):
    with as_role(built, "lgstats_bi") as conn, pytest.raises(
            (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)):
        conn.execute(sql)


@pytest.mark.parametrize("sql", ["delete from marts.fct_observation", "create temp table t (i int)",
                                 "create table public.x (i int)", "insert into marts.dim_area (area_code) values ('x')",
                                 "create schema x",
                                 # large objects (issue 24, N8): no quota, so no writes at all
                                 "select lo_from_bytea(0, 'x'::bytea)", "select lo_create(0)", "select lo_creat(-1)",
                                 "select lo_put(1, 0, 'x'::bytea)"])
def test_bi_role_cannot_write_even_after_switching_read_only_off(built, sql):
    """Read-only by privilege, not only by a setting the role could change itself."""
    with as_role(built, "lgstats_bi") as conn:
        conn.execute("set default_transaction_read_only = off")
        assert conn.execute("show default_transaction_read_only").fetchone()[0] == "off"
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql)


def test_reader_roles_have_a_timeout_a_connection_limit_and_one_database(built, pg_admin_url):
    with as_role(built, "lgstats_bi") as conn:
        assert conn.execute("show statement_timeout").fetchone()[0] == "1min"
        assert conn.execute("show default_transaction_read_only").fetchone()[0] == "on"
    with psycopg.connect(built) as conn:
        roles = {r[0]: r[1:] for r in conn.execute(
            "select rolname, rolsuper, rolcreaterole, rolcreatedb, rolconnlimit from pg_roles "
            "where rolname like 'lgstats_%' and rolname not like '%\\_airflow'").fetchall()}
        # (not the Airflow metadata role of a stack's database on this server, `<database>_airflow`: a test of
        # `lgstats airflow` on the same test server may have made one, and it is not a warehouse role)
        owners = {r[0] for r in conn.execute("select distinct tableowner from pg_tables where schemaname in "
                                             "('raw', 'staging', 'marts', 'ops')")}
    assert roles == {"lgstats_pipeline": (False, False, False, -1), "lgstats_analyst": (False, False, False, 10),
                     "lgstats_bi": (False, False, False, 20)}
    assert owners == {"lgstats_pipeline"}  # the pipeline owns what it builds; the superuser owns nothing there
    other = role_url(pg_admin_url, "bi")  # the maintenance database of the same server
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(other).close()
    template = other.rsplit("/", 1)[0] + "/template1"  # issue 24, N11: nor the template database
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(template).close()


def test_analyst_reads_marts_staging_and_ops_but_not_raw(built):
    with as_role(built, "lgstats_analyst") as conn:
        assert conn.execute("select count(*) from marts.fct_observation").fetchone()[0] > 0
        assert conn.execute("select count(*) from staging.stg_un_sdg__series_data").fetchone()[0] > 0
        assert conn.execute("select count(*) from ops.loads").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select 1 from raw.un_sdg__series_data")


@pytest.mark.parametrize("mart", MARTS)
def test_every_mart_and_column_has_a_comment(built, mart):
    with psycopg.connect(built) as conn:
        assert conn.execute("select obj_description(%s::regclass)", (f"marts.{mart}",)).fetchone()[0]
        missing = conn.execute("""
            select a.attname from pg_attribute a
            where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped
              and col_description(a.attrelid, a.attnum) is null""", (f"marts.{mart}",)).fetchall()
    assert missing == []


def reload_un_sdg(conn) -> None:
    """What a new load of the UN SDG snapshot does to the bookkeeping: a new loaded_at, so the build replaces
    that dataset and the gates judge it (ops.observation_snapshots)."""
    conn.execute("update raw.snapshot_origins set loaded_at = now() + interval '1 second' "
                 "where source = 'un_sdg' and dataset = 'series_data'")


def test_gates_pass_on_the_same_input_and_fail_when_half_a_series_is_gone(built):
    with psycopg.connect(built) as conn:
        assert gates.run(conn).passed
        conn.execute("delete from raw.un_sdg__series_data where series_code = 'EN_ATM_PM25' and row_number % 2 = 0")
        unchanged = gates.run(conn)  # rows edited in place, no new snapshot: nothing for this build to replace
        reload_un_sdg(conn)
        report = gates.run(conn)
        conn.rollback()
    assert unchanged.passed and unchanged.checked["snapshots_replaced"] == 0
    assert not report.passed
    assert any("EN_ATM_PM25" in f and "deleted rows" in f for f in report.findings)


def test_gates_note_synthetic_rows_leaving_but_never_fail_on_them(built):
    """Demo rows being replaced (a first live run after `make run`) or dropped is information; the same
    change to real rows fails the gate."""
    with psycopg.connect(built) as conn:
        conn.execute("delete from raw.un_sdg__series_data where series_code = 'EN_ATM_PM25'")
        reload_un_sdg(conn)
        real = gates.run(conn)
        conn.execute("update marts.dim_snapshot set synthetic = true where source = 'un_sdg'")
        demo = gates.run(conn)
        conn.rollback()
    assert not real.passed and any("vanished series: EN_ATM_PM25" in f for f in real.findings)
    assert demo.passed, demo.findings
    assert any(i.startswith("EN_ATM_PM25: 108 of 108 synthetic row(s) replaced or dropped") for i in demo.info)


def test_gates_fail_when_a_golden_value_changes(built):
    with psycopg.connect(built) as conn:
        report_before = gates.run(conn)
        conn.execute("update raw.un_sdg__series_data set value_num = 99 where series_code = 'SG_GOV_LOGV'"
                     " and area_code = '360' and year = 2018")
        reload_un_sdg(conn)
        report = gates.run(conn)
        conn.rollback()
    assert report_before.passed and report_before.checked["golden_values"] == 0  # nothing new: nothing to judge
    assert report.checked["golden_values"] == 4  # the real golden values of the reloaded UN SDG snapshot
    assert any("golden value changed: SG_GOV_LOGV 360 2018 _T is 99, expected 514" in f for f in report.findings)


def test_incremental_build_touches_nothing_when_no_snapshot_is_new(built):
    proc = dbt("run", "--select", "fct_observation")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "INSERT 0 0" in proc.stdout


def _reads_of(conn, table: str) -> int:
    conn.execute("select pg_stat_clear_snapshot()")
    return conn.execute("select coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) from pg_stat_user_tables "
                        "where schemaname = 'raw' and relname = %s", (table,)).fetchone()[0]


def test_a_new_small_snapshot_costs_work_in_proportion_to_its_rows(built):
    """A re-loaded World Bank snapshot: fct_observation replaces just that dataset, the UN SDG raw table is
    never read (the filter reaches its index as literals), the tests check only the replaced rows, and the
    post-hook records the batch so the next build is a no-op again."""
    import time

    with psycopg.connect(built, autocommit=True) as conn:
        conn.execute("update raw.snapshot_origins set loaded_at = now() where source = 'world_bank'")
        wb_rows = conn.execute("select count(*) from marts.fct_observation "
                               "where source_dataset = 'world_bank/indicators'").fetchone()[0]
        time.sleep(1.1)  # statistics reach pg_stat_user_tables at most once a second
        un_sdg_before = _reads_of(conn, "un_sdg__series_data")
        proc = dbt("build", "--select", "fct_observation")
        time.sleep(1.1)
        un_sdg_after = _reads_of(conn, "un_sdg__series_data")
        batch = conn.execute("select array_agg(snapshot_id order by snapshot_id) from ops.published_snapshots "
                             "where published_at = (select max(published_at) from ops.published_snapshots)"
                             ).fetchone()[0]
        changed = conn.execute("select count(*) from ops.observation_snapshots where changed").fetchone()[0]
        world_bank = conn.execute("select array_agg(snapshot_id order by snapshot_id) from ops.observation_snapshots"
                                  " where source_dataset = 'world_bank/indicators'").fetchone()[0]
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert f"INSERT 0 {wb_rows}" in proc.stdout and wb_rows > 0
    assert un_sdg_after == un_sdg_before
    assert batch == world_bank
    assert changed == 0
    # sdg_localisation recomputes only the series of that batch (World Bank indicators, no SDG series)
    with psycopg.connect(built, autocommit=True) as conn:
        sdg_rows = conn.execute("select count(*) from marts.sdg_localisation").fetchone()[0]
        mart = dbt("build", "--select", "sdg_localisation")
        assert mart.returncode == 0, mart.stdout[-3000:]
        assert conn.execute("select count(*) from marts.sdg_localisation").fetchone()[0] == sdg_rows
    sdg_sql = next((DBT_DIR / dbt_target_path() / "compiled").rglob("sdg_localisation.sql")).read_text()
    assert "series_code in (" in sdg_sql and "SG_GOV_LOGV" not in sdg_sql
    # the fct tests ran on the replaced rows only: their compiled SQL names the batch, never scans all
    compiled = (DBT_DIR / dbt_target_path() / "run").rglob("unique_fct_observation_observation_id.sql")
    sql = next(iter(compiled)).read_text()
    assert "world_bank/indicators" in sql and "un_sdg/series_data" not in sql


def _guide_queries() -> list[str]:
    import re

    from lgstats.core.settings import PROJECT_DIR

    text = (PROJECT_DIR / "docs" / "analyst-guide.md").read_text()
    return [q for q in re.findall(r"```sql\n(.*?)```", text, flags=re.S) if "marts." in q]


@pytest.mark.parametrize("query", _guide_queries(), ids=lambda q: q.split("from marts.", 1)[1].split()[0])
def test_every_query_in_the_analyst_guide_runs_as_the_bi_role_and_returns_rows(built, query):
    with as_role(built, "lgstats_bi") as conn:
        cursor = conn.execute(query)
        rows = cursor.fetchall()
        names = [c.name for c in cursor.description]
    assert rows, query
    # issue 25, defect 1: a query can answer with rows that are all empty; every column must hold something
    empty = [name for i, name in enumerate(names) if all(r[i] is None for r in rows)]
    assert not empty, (empty, query)
    # defect 15: the order the text promises (its outermost `order by`, first key) is the order of the rows
    outer = query.rsplit("order by", 1)[1].split(";")[0].split("limit")[0].split(",")[0].split()
    column, descending = outer[0].split(".")[-1], "desc" in outer[1:2]
    if column in names:
        keys = [r[names.index(column)] for r in rows if r[names.index(column)] is not None]
        assert keys == sorted(keys, reverse=descending), (column, query)


def test_world_bank_context_reaches_the_decentralisation_profile_and_what_is_absent_stays_null(built):
    """Urban share has a real copy and fills its column; GDP per capita has none here, so its column is NULL
    in every row, never zero and never invented."""
    with psycopg.connect(built) as conn:
        q = lambda sql: conn.execute(sql).fetchone()  # noqa: E731
        filled = q("select count(*) from marts.decentralisation_country_profile where urban_population_pct"
                   " is not null")[0]
        gdp = q("select count(*) filter (where gdp_per_capita_usd is not null), count(*) from"
                " marts.decentralisation_country_profile")
        urban = q("select urban_population_pct::text from marts.decentralisation_country_profile"
                  " where country_iso3 = 'AFG' and year = 2019")
        absent = q("select count(*) from marts.fct_observation where series_code in"
                   " ('NY.GDP.PCAP.CD', 'GC.REV.XGRT.GD.ZS', 'GC.XPN.TOTL.GD.ZS')")[0]
    assert filled > 0 and urban == ("25.754",)  # verbatim from the WDI export
    assert gdp[0] == 0 and gdp[1] > 0 and absent == 0


def test_the_analyst_reads_the_unmapped_areas_the_guide_points_to_and_nothing_else_of_intermediate(built):
    """Issue 25, defect 7: the guide sends analysts to intermediate.int_areas_unmapped, which they could not read."""
    text = (DBT_DIR.parent / "docs" / "analyst-guide.md").read_text()
    assert "intermediate.int_areas_unmapped" in text
    with as_role(built, "lgstats_analyst") as conn:
        conn.execute("select source_dataset, source_area from intermediate.int_areas_unmapped").fetchall()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from intermediate.int_observations_unioned limit 1")
    with as_role(built, "lgstats_bi") as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select * from intermediate.int_areas_unmapped limit 1")


def test_a_register_count_applies_from_its_vintage_year_never_before(built):
    """Issue 25, defect 10: Indonesia's 2025 register (514 local governments) was shown for 2000, when it had
    about 340. The count now holds from the register's declared vintage_year on."""
    declared = [ds.model_extra["vintage_year"] for ds in registry.source("registers").datasets]
    assert len(declared) == 7 and all(1990 < y <= 2026 for y in declared)
    with psycopg.connect(built) as conn:
        rows = conn.execute("select p.country_iso3, p.year, p.register_local_governments_count, s.vintage_year "
                            "from marts.decentralisation_country_profile p join ("
                            "  select country_iso3, max(register_vintage_year) as vintage_year "
                            "  from staging.stg_registers__areas group by 1) s using (country_iso3)").fetchall()
    assert rows
    early = [(c, y, n) for c, y, n, v in rows if y < v and n is not None]
    assert early == []
    later = [(c, y, n) for c, y, n, v in rows if y >= v]
    assert later and all(n is not None for _, _, n in later), later[:5]
    idn_2000 = [n for c, y, n, v in rows if c == "IDN" and y == 2000]
    assert idn_2000 in ([], [None])


# marts whose rows are all sourced from snapshots; dim_area, dim_unit and lga_profile also hold rows defined by
# files of the repository (seeds), which name that file in `seed_file` instead
PROVENANCE_EVERY_ROW = ["fct_observation", "women_in_local_government", "sdg_localisation",
                        "decentralisation_country_profile", "local_resilience", "twinning_partner_matches",
                        "cooperation_partnership", "dim_indicator", "dim_snapshot"]


@pytest.mark.parametrize("mart", MARTS)
def test_every_mart_carries_its_provenance(built, mart):
    """Issue 25, defect 16: four marts carried no snapshot, and dimensions none at all. Each mart has
    `snapshot_id` (one source per row) or `snapshot_ids` (column → snapshot), or `seed_file` for rows a file of
    the repository defines; every id names a snapshot dim_snapshot knows, every seed file exists, and every row
    has one or the other."""
    with psycopg.connect(built) as conn:
        columns = {c for (c,) in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'marts' and table_name = %s",
            (mart,))}
        column = "snapshot_id" if "snapshot_id" in columns else "snapshot_ids" if "snapshot_ids" in columns else None
        assert column or "seed_file" in columns, sorted(columns)
        unknown = 0 if column is None else conn.execute(
            f"select count(*) from marts.{mart} where snapshot_id not in (select snapshot_id from marts.dim_snapshot)"
            if column == "snapshot_id" else
            f"select count(*) from marts.{mart} as m, jsonb_each_text(m.snapshot_ids) as e(k, id) "
            "where e.id not in (select snapshot_id from marts.dim_snapshot)").fetchone()[0]
        sourced = ("false" if column is None else f"{column} is not null"
                   + (" and snapshot_ids <> '{}'::jsonb" if column == "snapshot_ids" else ""))
        seeded = "seed_file is not null" if "seed_file" in columns else "false"
        missing = conn.execute(f"select count(*) from marts.{mart} where not ({sourced}) and not ({seeded})"
                               ).fetchone()[0]
        files = ({f for (f,) in conn.execute(
            f"select distinct seed_file from marts.{mart} where seed_file is not null")} if "seed_file" in columns
            else set())
        total = conn.execute(f"select count(*) from marts.{mart}").fetchone()[0]
    assert unknown == 0
    assert all((PROJECT_DIR / f).is_file() for f in files), files
    assert total > 0 and missing == 0, f"{missing} of {total} rows of {mart} name no snapshot and no seed file"
    if mart in PROVENANCE_EVERY_ROW:
        assert column and not files


def test_dim_area_says_the_registers_type_of_each_local_government(built):
    """Issue 25, defect 12: there was no column for the type of local government."""
    with psycopg.connect(built) as conn:
        types = dict(conn.execute(
            "select country_iso3, array_agg(distinct local_government_type order by local_government_type) "
            "from marts.dim_area where is_local_government and code_system like 'registers/%' "
            "group by 1").fetchall())
        untyped = conn.execute("select count(*) from marts.dim_area where is_local_government "
                               "and code_system like 'registers/%' and local_government_type is null").fetchone()[0]
    assert set(types) >= {"PHL", "IDN", "JPN"} and untyped == 0
    assert all(len(v) >= 1 for v in types.values())


def test_every_observation_has_a_unit_of_the_one_unit_list(built):
    """Issue 25, defects 4 and 14: no unit on any World Bank or Stats NZ row, PSA's '%' beside the UN's PERCENT,
    OECD's raw PT_B1GQ. Now every row has a code of dim_unit, the sources' own codes mapped."""
    with psycopg.connect(built) as conn:
        outside = conn.execute("select count(*) from marts.fct_observation where unit is null "
                               "or unit not in (select unit_code from marts.dim_unit)").fetchone()[0]
        by_source = dict(conn.execute(
            "select split_part(source_dataset, '/', 1), array_agg(distinct unit order by unit) "
            "from marts.fct_observation group by 1").fetchall())
        raw_codes = conn.execute(
            "select count(*) from marts.fct_observation "
            "where unit in ('%', 'PT_B1GQ', 'PT_OTE_S13_TRANSACT', 'PSNS', 'mgr/m^3')").fetchone()[0]
    assert outside == 0 and raw_codes == 0
    assert by_source["psa"] == ["PERCENT"] and by_source["world_bank"] and None not in by_source["world_bank"]
    assert by_source["stats_nz"] == ["NOT_STATED"]  # the meaning is not held here: said, never guessed
    assert set(by_source["oecd"]) <= {"PERCENT_OF_GDP", "PERCENT_OF_GG_SAME_TRANSACTION"}


def test_dim_indicator_is_a_dictionary_of_every_series(built):
    """Issue 25, defect 14: dim_indicator had no definition, method, source link or unit label, and
    PSA.1E3DF020.1 meant nothing. Every series of fct_observation is in it with a definition, a unit of the
    list and its label, the source's code, URL and licence, the years held and its snapshot."""
    with psycopg.connect(built) as conn:
        rows = conn.execute("""
            select i.series_code, i.definition, i.unit, i.unit_label, i.source_series_code, i.source_url, i.licence,
                   i.first_year, i.last_year, i.snapshot_id, f.first_year, f.last_year
            from marts.dim_indicator as i
            join (select series_code, min(year) as first_year, max(year) as last_year
                  from marts.fct_observation group by 1) as f using (series_code)""").fetchall()
        missing = conn.execute("select count(distinct series_code) from marts.fct_observation "
                               "where series_code not in (select series_code from marts.dim_indicator)").fetchone()[0]
        labels = dict(conn.execute("select unit_code, unit_label from marts.dim_unit").fetchall())
    assert rows and missing == 0
    for code, definition, unit, label, own, url, licence, first, last, snapshot, f_first, f_last in rows:
        assert definition and unit in labels and label == labels[unit], code
        assert own and url and url.startswith(("https://", "submission://")) and licence and snapshot, code
        assert (first, last) == (f_first, f_last), code
    by = {r[0]: r for r in rows}
    psa = next(r for c, r in by.items() if c.startswith("PSA."))
    assert psa[2] == "PERCENT" and "Poverty Incidence" in psa[1] and psa[5].startswith("https://openstat.psa.gov.ph/")
    assert by["SP.POP.TOTL"][1].startswith("Total population is based on the de facto definition")
    assert by["EN_REF_WASCOL"][5].startswith("https://") and "seriesCode=EN_REF_WASCOL" in by["EN_REF_WASCOL"][5]


def test_a_city_is_filed_under_one_country_only(built):
    """Issue 25, defect 3: the UN export files LAHORE under Pakistan (586) and the Philippines (608). The rule
    (int_un_sdg_city_filings, and a dbt test on fct_observation at every build) places a city filed under two
    countries by ref_city_countries (with its evidence) and holds the other filing out, with its reason."""
    with psycopg.connect(built) as conn:
        in_raw = conn.execute("select array_agg(distinct geo_area_code order by geo_area_code) "
                              "from raw.un_sdg__series_data where dimensions ->> 'Cities' = 'LAHORE'").fetchone()[0]
        in_marts = conn.execute("select array_agg(distinct area_code) from marts.fct_observation "
                                "where disaggregation like '%Cities=LAHORE%'").fetchone()[0]
        held = conn.execute("select area_code, decision, reason from intermediate.int_un_sdg_city_filings "
                            "where city = 'LAHORE' order by area_code").fetchall()
        doubled = conn.execute("""
            select count(*) from (
                select substring(disaggregation from 'Cities=([^;]+)') from marts.fct_observation
                where disaggregation like '%Cities=%' group by series_code, 1 having count(distinct area_code) > 1
            ) as x""").fetchone()[0]
    assert in_raw == ["586", "608"]  # the export's error is still in raw: the rule, not a patch, handles it
    assert in_marts == ["586"] and doubled == 0
    assert [(a, d) for a, d, _ in held] == [("586", "confirmed"), ("608", "misfiled")]
    assert "LAHORE is in PAK, not in PHL" in held[1][2] and "twin-town" in held[1][2]


def test_the_philippine_hierarchy_has_no_gaps(built):
    """Issue 25, defect 5: the PSGC copy files NIR's provinces under their former regions and Maguindanao's
    municipalities under the province RA 11550 divided, so NIR had no provinces, Maguindanao del Norte and del Sur
    no local governments, and 55 local governments hung under a region. ref_register_corrections (each row with
    its law) fixes the parents; a local government left under a region says why."""
    with psycopg.connect(built) as conn:
        children = dict(conn.execute("""
            select p.area_name, count(*) from marts.dim_area as a
            join marts.dim_area as p on p.area_code = a.parent_area_code
            where p.area_code in ('PH-PSGC-18', 'PH-PSGC-19087', 'PH-PSGC-19088') group by 1""").fetchall())
        under_region = conn.execute("""
            select s.area_name, s.parent_resolution from staging.stg_registers__areas as s
            join staging.stg_registers__areas as p on p.register = s.register and p.area_code = s.parent_area_code
            where s.register = 'ph_psgc' and s.area_level = 'local_government' and p.area_level <> 'province'
            order by 1""").fetchall()
    assert children == {"Negros Island Region (NIR)": 3, "Maguindanao del Norte": 12, "Maguindanao del Sur": 24}
    assert len(under_region) == 19 and all(reason for _, reason in under_region)  # NCR's 17, Isabela, Cotabato
    assert {n for n, r in under_region if "NCR has no provinces" in r} >= {"Quezon City", "City of Manila"}


def test_subnational_finance_has_one_total_and_its_parts_apart(built):
    """Issue 25, defect 8: SNG-WOFI's all-subnational sector (S13M) and its local part (S1313) were two sibling
    breakdowns, so a sum over breakdowns double-counted and countries with no `_T` fell out of sdg_localisation.
    S13M is now the series' total; every country-year has it, and the headline covers every country."""
    with psycopg.connect(built) as conn:
        kinds = {d for (d,) in conn.execute(
            "select distinct disaggregation from marts.fct_observation where series_code like 'SNG_WOFI.%'")}
        without_total = conn.execute("""
            select count(*) from (select 1 from marts.fct_observation where series_code like 'SNG_WOFI.%'
                                  group by series_code, area_code, year having not bool_or(disaggregation = '_T')) as x
            """).fetchone()[0]
        countries = conn.execute("select count(distinct area_code) from marts.fct_observation "
                                 "where series_code like 'SNG_WOFI.%'").fetchone()[0]
        headline = conn.execute("select count(distinct area_code), array_agg(distinct disaggregation) "
                                "from marts.sdg_localisation where series_code like 'SNG_WOFI.%'").fetchone()
    assert "_T" in kinds and kinds <= {"_T", "SECTOR=S1312", "SECTOR=S1313"} and without_total == 0
    assert headline == (countries, ["_T"])


def test_each_snapshot_knows_when_it_was_retrieved_and_what_period_it_covers(built):
    """Issue 25, defect 11: each snapshot knows its retrieval (the real one, for replayed real data), its
    release where named, and the first and last year of its data, recorded at load."""
    with psycopg.connect(built) as conn:
        rows = {(s, d): (r, rel, first, last) for s, d, r, rel, first, last in conn.execute(
            "select source, dataset, retrieved_at, release, data_first_year, data_last_year from marts.dim_snapshot")}
        raw_years = conn.execute("select min(year), max(year) from raw.un_sdg__series_data").fetchone()
    retrieved, release, first, last = rows[("un_sdg", "series_data")]
    assert retrieved.year == 2020 and release == "UN SDG 2020 release" and (first, last) == raw_years
    assert rows[("registers", "ph_psgc")][2:] == (None, None)  # a register has no period of data
    assert all(f <= la for _, _, f, la in rows.values() if f is not None)


SELECT_WIDE_TEST = "decentralisation_country_profile,test_name:wide_mart_matches_its_declaration"


def test_a_wide_mart_that_disagrees_with_its_declaration_fails_its_test(built):
    """The dbt test `wide_mart_matches_its_declaration` is the wide mart's contract (macros/wide_marts.sql): seed
    rows that no longer match the built table (a type, a name, the unit the series come in) fail it, each difference
    named with its column; with the seed put back it passes."""
    changes = ["set data_type = 'text' where column_name = 'urban_population_pct'",
               "set column_name = 'gdp_per_capita_dollars' where column_name = 'gdp_per_capita_usd'",
               "set unit = 'USD' where column_name = 'sng_revenue_pct_gdp'"]
    with psycopg.connect(built, autocommit=True) as conn:
        seed = conn.execute("select table_schema from information_schema.tables "
                            "where table_name = 'mart_wide_columns'").fetchone()[0]
        conn.execute(f"create temp table kept as select * from {seed}.mart_wide_columns")
        try:
            for change in changes:
                conn.execute(f"update {seed}.mart_wide_columns {change}")
            proc = dbt("test", "--select", SELECT_WIDE_TEST, "--store-failures")
            [(schema, table)] = conn.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_name like 'wide_mart_matches_its_declarat%'").fetchall()  # dbt shortens the name
            failures = set(conn.execute(f'select column_name, problem from "{schema}"."{table}"').fetchall())
        finally:
            conn.execute(f"truncate {seed}.mart_wide_columns; insert into {seed}.mart_wide_columns select * from kept")
            conn.execute("drop table kept; drop schema if exists dbt_test__audit cascade")
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert {("urban_population_pct", "built with another type"),
            ("gdp_per_capita_dollars", "declared, not built"),
            ("gdp_per_capita_usd", "built, declared nowhere")} <= failures, failures
    unit = "observation(s) in unit PERCENT_OF_GDP"
    assert any(c == "sng_revenue_pct_gdp" and unit in p for c, p in failures), failures
    assert dbt("test", "--select", SELECT_WIDE_TEST).returncode == 0


def test_dbt_source_freshness_judges_each_registry_dataset_as_ops_freshness_does(built, tmp_path):
    """Issue 26: dbt `sources:` for the registry's datasets are generated (lgstats.pipeline.generated_files), so
    `dbt source freshness` works; its rule is the one `lgstats status` shows (ops.freshness: late when the newest
    snapshot was not fetched within the entry's expected_refresh_days). One dataset's fetch is made old, and dbt
    and ops.freshness agree on every dataset."""
    output = tmp_path / "sources.json"
    with psycopg.connect(built, autocommit=True) as conn:
        sid = conn.execute("select last_snapshot from ops.freshness where source = 'world_bank'").fetchone()[0]
        conn.execute("update raw.snapshot_origins set origin = jsonb_set(origin, '{fetch_finished_at}', "
                     "to_jsonb((now() - interval '5 years')::text)) where snapshot_id = %s returning 1", (sid,))
        try:
            proc = dbt("source", "freshness", "--select", "source:registry", "--output", str(output))
            expected = conn.execute("select source, dataset, freshness from ops.freshness").fetchall()
        finally:
            conn.execute("update raw.snapshot_origins set origin = origin || jsonb_build_object('fetch_finished_at', "
                         "retrieved_at) where snapshot_id = %s", (sid,))
    results = json.loads(output.read_text())["results"]
    tables = {registry.source(s).dataset(d).raw_table: f for s, d, f in expected}
    judged = {r["unique_id"].rsplit(".", 1)[1]: r["status"] for r in results}
    assert set(judged) == set(tables), "every registry dataset has a generated source table"
    assert judged["world_bank__indicators"] == "error" and tables["world_bank__indicators"] == "late"
    for table, state in tables.items():
        assert (judged[table] == "pass") == (state in ("ok", "old release")), (table, state, judged[table])
    assert proc.returncode != 0  # a late dataset fails the command, as dbt's freshness errors do
