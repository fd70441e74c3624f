"""Issue 24: any valid registry entry builds. Hypothesis generates SDMX and tabular entries over every optional
key that decides how rows become observations (with and without `series` and their units, a fixed `area`,
`area_dimension` with `area_scheme` iso3 or m49 or none, `area_map`, with and without `measure_dimension`, a
published UNIT_MEASURE or not, another `time_dimension`, periods as years, quarters, halves and months) and
files of rows for them. Each batch goes the real way: served over HTTP on 127.0.0.1, fetched, validated (GX),
loaded, probed, built by dbt; each entry's rows must reach marts.fct_observation exactly as the entry says.

The values are invented (this checks plumbing, not statistics) and never leave the test's own database."""

from __future__ import annotations

import csv
import itertools
import os
import re
import shutil
import subprocess
from decimal import Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from werkzeug import Response

from lgstats.core.settings import PROJECT_DIR, warehouse_env
from lgstats.pipeline import registry, transforms
from lgstats.pipeline import steps as pipeline
from lgstats.pipeline.raw_tables import ensure_all_raw_tables
from tests.conftest import dbt_target_path

pytestmark = pytest.mark.e2e

SEEDS = PROJECT_DIR / "dbt" / "seeds"
with open(SEEDS / "ref_m49_areas.csv", newline="", encoding="utf-8") as fh:
    COUNTRIES = [(r["country_iso3"], r["m49_code"]) for r in csv.DictReader(fh)
                 if r["area_level"] == "country" and r["country_iso3"]][:60]
with open(SEEDS / "area_maps" / "map_abs__lga2025.csv", newline="", encoding="utf-8") as fh:
    LGAS = [(r["source_code"], r["area_code"]) for r in csv.DictReader(fh) if r["area_code"]][:60]
FILES: dict[str, tuple[str, str]] = {}  # generated source name → (content type, body) the local server answers
SDMX_CSV = "application/vnd.sdmx.data+csv; charset=utf-8"
_names = itertools.count(1)


def _period(kind: str, year: int, k: int) -> str:
    return {"year": str(year), "quarter": f"{year}-Q{k % 4 + 1}", "half": f"{year}-S{k % 2 + 1}",
            "month": f"{year}-{k % 12 + 1:02d}"}[kind]


@st.composite
def entries(draw) -> dict:
    """One registry entry (as a dict), the file its source publishes, and the fct_observation rows it must give."""
    n = next(_names)
    name = f"prop{n}"
    connector = draw(st.sampled_from(["sdmx", "tabular"]))
    area_kind = draw(st.sampled_from(["fixed", "iso3", "m49", "m49_default", "map"]))
    by_measure = draw(st.booleans()) or connector == "tabular"
    measures = draw(st.lists(st.from_regex(r"[A-Z][A-Z0-9]{1,6}", fullmatch=True), min_size=1,
                             max_size=3 if by_measure else 1, unique=True))
    if connector == "tabular" and not by_measure:
        by_measure = True
    declared = draw(st.lists(st.sampled_from(measures), unique=True, max_size=len(measures) if by_measure else 1))
    units = {m: draw(st.one_of(st.none(), st.sampled_from(["PERCENT", "PERSONS", "RATIO", "USD"]))) for m in declared}
    # a published unit must be one the unit list knows (validation refuses any other, tests/unit/test_units.py)
    published_unit = draw(st.one_of(st.none(), st.sampled_from(["INDEX", "NUMBER"]))) if connector == "sdmx" else None
    time_kind = draw(st.sampled_from(["year", "quarter", "half", "month"])) if connector == "sdmx" else "year"
    time_dim = draw(st.sampled_from(["TIME_PERIOD", "TIME"])) if connector == "sdmx" else "year"
    pool = {"fixed": [("", "036")], "iso3": COUNTRIES, "map": LGAS,
            "m49": [(m.lstrip("0") or "0", m) for _, m in COUNTRIES],
            "m49_default": [(m, m) for _, m in COUNTRIES]}[area_kind]
    if connector == "tabular" and area_kind in ("m49_default", "map"):
        area_kind = "m49"
        pool = [(m, m) for _, m in COUNTRIES]
    areas = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=1 if area_kind == "fixed" else 3,
                          unique_by=lambda a: a[1]))
    values = st.decimals(min_value=-10**6, max_value=10**6, places=2, allow_nan=False, allow_infinity=False)
    rows, expected = [], []
    for measure, (source_code, area_code) in itertools.product(measures, areas):
        for k, year in enumerate(draw(st.lists(st.integers(1990, 2030), min_size=1, max_size=2, unique=True))):
            period = _period(time_kind, year, k)
            value = draw(values)
            rows.append((measure, source_code, period, value))
            only = declared[0] if len(declared) == 1 else "obs"
            code = measure if by_measure else only
            unit = units.get(code) or published_unit or "NOT_STATED"  # no unit anywhere: said, not guessed
            expected.append((f"{name}.{code}", area_code, year, None if time_kind == "year" else period,
                             value, unit))
    ds: dict = {"name": "obs", "suite": f"{connector}__observations", "raw_table": f"{name}__obs"}
    if declared:
        ds["series"] = [{"code": m, "name": f"Test series {m}", **({"unit": units[m]} if units[m] else {})}
                        for m in declared]
    area_key = {"fixed": {"area": "036"}, "iso3": {"area_scheme": "iso3"}, "m49": {"area_scheme": "m49"},
                "m49_default": {}, "map": {"area_map": "map_abs__lga2025"}}[area_kind]
    if connector == "sdmx":
        dims = ["FREQ", *(["REF_AREA"] if area_kind != "fixed" else []), *(["MEASURE"] if by_measure else [])]
        ds.update({"agency": "TST", "flow": f"DF_{n}", "version": "1.0", "dimensions": dims, **area_key,
                   **({"area_dimension": "REF_AREA"} if area_kind != "fixed" else {}),
                   **({"measure_dimension": "MEASURE"} if by_measure else {}),
                   **({"time_dimension": time_dim} if time_dim != "TIME_PERIOD" else {})})
        header = ["DATAFLOW", *dims, time_dim, "OBS_VALUE", *(["UNIT_MEASURE"] if published_unit else [])]
        lines = [",".join(header)]
        for measure, source_code, period, value in rows:
            cells = {"DATAFLOW": f"TST:DF_{n}(1.0)", "FREQ": "A", "REF_AREA": source_code, "MEASURE": measure,
                     time_dim: period, "OBS_VALUE": str(value), "UNIT_MEASURE": published_unit or ""}
            lines.append(",".join(cells[h] for h in header))
        FILES[name] = (SDMX_CSV, "\n".join(lines) + "\n")
    else:
        area_col = [] if area_kind == "fixed" else ["code"]
        ds.update({"file": "obs.csv", "shape": "long", "columns": ["indicator", *area_col, "year", "value"],
                   "measure_columns": ["indicator"], "area_columns": area_col, "time_column": "year",
                   "value_column": "value", **area_key})
        lines = [",".join(ds["columns"])]
        for measure, source_code, period, value in rows:
            lines.append(",".join([measure, *([source_code] if area_col else []), period, str(value)]))
        FILES[name] = ("text/csv", "\n".join(lines) + "\n")
    base = f"/{name}/rest" if connector == "sdmx" else f"/{name}/files"
    entry = {"name": name, "title": f"Generated {connector} source {n}", "connector": connector,
             "owner": "data-eng", "base_url": f"https://example.org{base}", "licence": "test entry",
             "expected_refresh_days": 100, "datasets": [ds]}
    return {"entry": entry, "base": base, "expected": expected}


@pytest.fixture(scope="module")
def bench(tmp_path_factory, fresh_database):
    """A warehouse with the seeds and every model up to fct_observation built once (on empty raw tables)."""
    folder = tmp_path_factory.mktemp("registry")
    shutil.copytree(registry.REGISTRY_DIR, folder, dirs_exist_ok=True)
    env = {"LGSTATS_WAREHOUSE_URL": fresh_database(), "LGSTATS_HOME": str(tmp_path_factory.mktemp("home")),
           "LGSTATS_REGISTRY_DIR": str(folder)}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        from lgstats.core import warehouse

        with warehouse.connect() as conn:
            ensure_all_raw_tables(conn)
        _dbt("seed")
        _dbt("run", "--select", "+fct_observation")
        yield {"folder": folder, "url": env["LGSTATS_WAREHOUSE_URL"], "mp": mp}


def _dbt(*args: str) -> str:
    env = {**os.environ, **warehouse_env()}
    proc = subprocess.run([transforms._bin("dbt"), *args, "--project-dir", str(transforms.DBT_DIR), "--profiles-dir",
                           str(transforms.DBT_DIR), "--target-path", dbt_target_path()], env=env, capture_output=True,
                          text=True, cwd=transforms.DBT_DIR)
    assert proc.returncode == 0, (args, proc.stdout[-4000:])
    return proc.stdout


def _serve(request) -> Response:
    content_type, body = FILES[request.path.split("/")[1]]
    return Response(body, content_type=content_type)


# no shrinking: every example is a real build (seconds each); the failing batch is printed whole instead
@settings(max_examples=4, deadline=None, database=None, phases=(Phase.explicit, Phase.generate),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(batch=st.lists(entries(), min_size=3, max_size=4))
def test_every_generated_registry_entry_builds_and_its_rows_reach_fct_observation(bench, httpserver, batch):
    import yaml

    httpserver.expect_request(re.compile(r"/prop\d+/.*")).respond_with_handler(_serve)
    for item in batch:
        name = item["entry"]["name"]
        (bench["folder"] / f"{name}.yml").write_text(yaml.safe_dump(item["entry"], sort_keys=False),
                                                     encoding="utf-8")
        bench["mp"].setenv(f"LGSTATS_{name.upper()}_BASE_URL", httpserver.url_for(item["base"]))
    from lgstats.core import warehouse

    with warehouse.connect() as conn:  # what warehouse_build's first task does: registry mirrored, raw tables made
        ensure_all_raw_tables(conn)
    for item in batch:  # fetch → validate (GX) → load, as the ingest DAG does
        path = pipeline.fetch(item["entry"]["name"], "obs", "2026-12-04", "live")
        pipeline.validate(path)
        pipeline.load(path)
    _dbt("run-operation", "probe_registry_datasets")
    with psycopg.connect(bench["url"]) as conn:
        left_out = conn.execute("select source, error from ops.registry_build_failures").fetchall()
    entries_by_name = {item["entry"]["name"]: item["entry"] for item in batch}
    assert left_out == [], [(name, error, entries_by_name.get(name)) for name, error in left_out]
    _dbt("run", "--select", "stg_lgstats__snapshot_origins", "int_registry_observations+,+fct_observation")
    with psycopg.connect(bench["url"]) as conn:
        for item in batch:
            got = conn.execute("select series_code, area_code, year, period, value, unit from marts.fct_observation "
                               "where source_dataset = %s", (f"{item['entry']['name']}/obs",)).fetchall()
            built = conn.execute("select series_code, area_code, year, period, value, unit "
                                 "from intermediate.int_registry_observations where source_dataset = %s",
                                 (f"{item['entry']['name']}/obs",)).fetchall()
            assert sorted(got, key=repr) == sorted(
                [(s, a, y, p, Decimal(v), u) for s, a, y, p, v, u in item["expected"]], key=repr), (
                item["entry"], FILES[item["entry"]["name"]][1], built)
