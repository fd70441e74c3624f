"""Citable releases (issue 27), on a copy of the session's clean replay run (what `make run` builds): release it,
change one replayed value and add a snapshot with one new area, build, release again. The first release stays as
it was; the changelog names exactly what changed; both data packages validate; the Parquet files read back equal
the release tables; readers query a release and cannot write it; the indicator pages render offline in Chromium.

The changed copy of the World Bank replay is made by this test in its temporary folder, and its sidecar says so
(one value raised by one, one row added: not real statistics); nothing of it reaches data/replay."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from lgstats.core.settings import PROJECT_DIR
from tests.browser import wait_for
from tests.conftest import fork_database, role_url

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("clean_replay")]  # with the run it copies

EDITED_PAGE = "SP.POP.TOTL__page-0002.json"
NEW_AREA = ("COK", "CK", "Cook Islands")  # in ref_m49_areas, absent from the World Bank's replayed pages


def _lgstats(env: dict, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(Path(sys.executable).with_name("lgstats")), *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout, cwd=PROJECT_DIR)
    assert proc.returncode == 0, f"lgstats {' '.join(args)}:\n{proc.stdout[-4000:]}\n{proc.stderr[-3000:]}"
    return proc


def edited_replay(target: Path) -> dict:
    """data/replay with the World Bank's population pages changed: the first row of page 2 raised by one, and a
    row for an area the pages lack. The others are linked, unchanged."""
    source = PROJECT_DIR / "data" / "replay"
    target.mkdir(parents=True)
    for folder in source.iterdir():
        if folder.is_dir() and folder.name != "world_bank":
            (target / folder.name).symlink_to(folder)
    wb = target / "world_bank" / "indicators"
    shutil.copytree(source / "world_bank" / "indicators", wb)
    meta, rows = json.loads((wb / EDITED_PAGE).read_text())
    revised = rows[0]
    old = revised["value"]
    revised["value"] = old + 1
    iso3, iso2, name = NEW_AREA
    added = {**revised, "country": {"id": iso2, "value": name}, "countryiso3code": iso3, "value": 15040}
    rows.append(added)
    meta["total"] += 1
    body = json.dumps([meta, rows]).encode()
    (wb / EDITED_PAGE).write_bytes(body)
    sidecar = json.loads((wb / "_origin.json").read_text())
    for f in sidecar["files"]:
        if f["file"] == EDITED_PAGE:
            f.update(md5=hashlib.md5(body).hexdigest(), bytes=len(body), rows=f["rows"] + 1)
        if f.get("series") == "SP.POP.TOTL":
            f["total_elements"] += 1
    sidecar["producer"] += " (EDITED BY tests/e2e/test_releases.py: one value raised by one, one row added; " \
                           "not real statistics)"
    (wb / "_origin.json").write_text(json.dumps(sidecar, indent=2))
    return {"iso3": revised["countryiso3code"], "year": int(revised["date"]), "old": old, "new": old + 1,
            "added_iso3": iso3, "added_year": int(added["date"]), "added_value": 15040}


def table_digests(url: str, schema: str) -> dict[str, tuple[int, str]]:
    """Rows and an order-free digest of every table of a schema."""
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute("select table_name from information_schema.tables "
                                             "where table_schema = %s order by 1", (schema,))]
        return {t: conn.execute(sql.SQL("select count(*), md5(coalesce(string_agg(md5(x::text), '' order by "
                                        "md5(x::text)), '')) from {} as x").format(sql.Identifier(schema, t)))
                .fetchone() for t in tables}


@pytest.fixture(scope="module")
def released(clean_replay, pg_admin_url, tmp_path_factory):
    assert clean_replay.proc.returncode == 0, clean_replay.proc.stdout[-3000:]
    # the run's warehouse as it left it (other tests of the session load more into the shared one)
    url = fork_database(pg_admin_url, clean_replay.pristine_url, f"lgstats_e2e_release_{os.getpid()}")
    home = tmp_path_factory.mktemp("release-home")
    env = {"LGSTATS_HOME": str(home), "LGSTATS_WAREHOUSE_URL": url}
    first = _lgstats(env, "release")
    with psycopg.connect(url) as conn:
        first_id, first_schema = conn.execute("select release_id, schema_name from ops.releases").fetchone()
    before = table_digests(url, first_schema)
    replay = tmp_path_factory.mktemp("replay") / "replay"
    edit = edited_replay(replay)
    later = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()  # after the clean run's partition
    rerun = _lgstats({**env, "LGSTATS_REPLAY_DIR": str(replay)},
                     "run", "--mode", "replay", "--source", "world_bank", "--logical-date", later)
    second = _lgstats(env, "release")
    with psycopg.connect(url) as conn:
        rows = conn.execute("select release_id, schema_name, export_dir from ops.releases order by published_at"
                            ).fetchall()
        codes = dict(conn.execute("select country_iso3, area_code from marts.dim_area where area_level = 'country' "
                                  "and country_iso3 = any(%s)", ([edit["iso3"], edit["added_iso3"]],)).fetchall())
    yield {"env": env, "url": url, "home": home, "first": first, "second": second, "rerun": rerun, "edit": edit,
           "before": before, "releases": rows, "codes": codes, "first_id": first_id, "first_schema": first_schema}
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(url.rsplit("/", 1)[1])))


def test_the_first_release_is_unchanged_by_the_build_and_release_after_it(released):
    (first_id, first_schema, _), (second_id, second_schema, _) = released["releases"]
    assert second_id == f"{first_id}.2" or second_id.split(".")[0] > first_id
    assert released["before"]["fct_observation"][0] > 500_000  # the whole replay was released
    assert table_digests(released["url"], first_schema) == released["before"]
    after = table_digests(released["url"], second_schema)
    assert after["fct_observation"][0] == released["before"]["fct_observation"][0] + 1
    assert after["fct_observation"][1] != released["before"]["fct_observation"][1]


def test_changes_csv_lists_exactly_the_revised_value_and_the_added_row(released):
    import csv

    (first_id, _, _), (second_id, _, folder) = released["releases"]
    edit, codes = released["edit"], released["codes"]
    with open(Path(folder) / "changes.csv", newline="", encoding="utf-8") as fh:
        changes = [(r["release_id"], r["previous_release_id"], r["change"], r["series_code"], r["area_code"],
                    int(r["year"]), r["old_value"], r["new_value"]) for r in csv.DictReader(fh)]
    assert sorted(changes) == sorted([
        (second_id, first_id, "revised", "SP.POP.TOTL", codes[edit["iso3"]], edit["year"], str(edit["old"]),
         str(edit["new"])),
        (second_id, first_id, "added", "SP.POP.TOTL", codes[edit["added_iso3"]], edit["added_year"], "",
         str(edit["added_value"]))])
    changelog = (Path(folder) / "CHANGELOG.md").read_text()
    assert f"{edit['old']} → {edit['new']}" in changelog and f"Changes since release {first_id}" in changelog
    assert "1 added, 1 revised" in released["second"].stdout
    with psycopg.connect(released["url"]) as conn:  # the same in the warehouse
        assert conn.execute("select count(*) from ops.release_changes where release_id = %s",
                            (second_id,)).fetchone() == (2,)


def test_release_diff_prints_the_changes_between_two_releases(released):
    (first_id, _, _), (second_id, _, _) = released["releases"]
    edit = released["edit"]
    out = _lgstats(released["env"], "release", "diff", first_id, second_id).stdout
    assert out.splitlines()[0] == f"release {first_id} → {second_id}: 1 added, 1 revised"
    assert any(line.startswith("revised") and f"{edit['old']} → {edit['new']}" in line for line in out.splitlines())
    assert any(line.startswith("added") and str(edit["added_value"]) in line for line in out.splitlines())
    same = _lgstats(released["env"], "release", "diff", first_id, first_id).stdout
    assert same.strip() == f"release {first_id} → {first_id}: no change"


def test_both_data_packages_validate_with_frictionless(released):
    from frictionless import validate

    for release_id, _, folder in released["releases"]:
        package = json.loads((Path(folder) / "datapackage.json").read_text())
        report = validate(str(Path(folder) / "datapackage.json"))
        assert report.valid, report.flatten(["resourceName", "rowNumber", "fieldName", "type", "note"])[:20]
        assert package["version"] == release_id and release_id in package["citation"]
        names = {r["name"] for r in package["resources"]}
        assert {"fct_observation", "dim_indicator", "women_in_local_government"} <= names
        fct = next(r for r in package["resources"] if r["name"] == "fct_observation")
        described = {f["name"]: f for f in fct["schema"]["fields"]}
        assert described["value"]["type"] == "number" and described["value"]["description"]
        assert fct["schema"]["primaryKey"] == ["observation_id"]
        licences = {s["licence"] for s in package["sources"]}
        assert "CC BY 4.0 (World Bank Open Data terms of use)" in licences
        assert any(s["synthetic"] for s in package["sources"])  # synthetic snapshots are labelled


def _jsonb_columns(conn, schema: str, table: str) -> set[str]:
    return {r[0] for r in conn.execute("select column_name from information_schema.columns where table_schema = %s "
                                       "and table_name = %s and data_type = 'jsonb'", (schema, table))}


def test_the_parquet_files_read_back_equal_the_release_tables(released):
    import pyarrow.parquet as pq

    _, (second_id, schema, folder) = released["releases"]
    package = json.loads((Path(folder) / "datapackage.json").read_text())
    with psycopg.connect(released["url"]) as conn:
        for resource in package["resources"]:
            table = resource["name"]
            parquet = pq.read_table(Path(folder) / resource["parquet"])
            columns = [r[0] for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
                "order by ordinal_position", (schema, table))]
            assert parquet.column_names == columns, table
            jsonb = _jsonb_columns(conn, schema, table)
            key = columns[0] if table != "fct_observation" else "observation_id"
            parquet = parquet.sort_by([(c, "ascending") for c in (key, *[c for c in columns if c != key])
                                       if c not in jsonb])
            order = sql.SQL(", ").join(sql.SQL("{} nulls last").format(sql.Identifier(c))
                                       for c in (key, *[c for c in columns if c != key]) if c not in jsonb)
            cur = conn.cursor(name=f"read_{table}")
            cur.execute(sql.SQL("select * from {} order by {}").format(sql.Identifier(schema, table), order))
            seen = 0
            for batch in parquet.to_batches(max_chunksize=20_000):
                from_file = [tuple(json.loads(v) if c in jsonb and v is not None else v
                                   for c, v in zip(columns, row.values(), strict=True)) for row in batch.to_pylist()]
                from_db = [tuple(r) for r in cur.fetchmany(len(from_file))]
                assert from_file == from_db, (table, seen)
                seen += len(from_file)
            assert cur.fetchone() is None and seen == resource["rows"], table
            cur.close()


def test_readers_query_a_release_and_cannot_write_it(released):
    first_schema = released["first_schema"]
    for role in ("analyst", "bi"):
        with psycopg.connect(role_url(released["url"], role), autocommit=True) as conn:
            n = conn.execute(sql.SQL("select count(*) from {}").format(
                sql.Identifier(first_schema, "fct_observation"))).fetchone()[0]
            assert n == released["before"]["fct_observation"][0]
            assert conn.execute("select release_id from releases.latest").fetchone()[0] == released["releases"][-1][0]
            conn.execute("set default_transaction_read_only = off")
            for statement in (sql.SQL("delete from {}").format(sql.Identifier(first_schema, "dim_unit")),
                              sql.SQL("create table {} (x int)").format(sql.Identifier(first_schema, "mine"))):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
    with psycopg.connect(role_url(released["url"], "pipeline")) as conn:  # even the owner is refused
        with pytest.raises(psycopg.errors.RaiseException, match="immutable"):
            conn.execute(sql.SQL("update {} set unit_label = 'x'").format(sql.Identifier(first_schema, "dim_unit")))


def test_an_old_release_is_dropped_from_the_database_only(released):
    env = {**released["env"], "LGSTATS_RELEASES_KEEP": "2"}
    third = _lgstats(env, "release")
    (first_id, first_schema, first_folder), (second_id, _, _) = released["releases"][:2]
    assert f"release {first_id} dropped from the database" in third.stdout
    with psycopg.connect(released["url"]) as conn:
        assert conn.execute("select to_regnamespace(%s)", (first_schema,)).fetchone() == (None,)
        assert conn.execute("select dropped_at is not null from ops.releases where release_id = %s",
                            (first_id,)).fetchone() == (True,)
    assert (Path(first_folder) / "data" / "fct_observation.parquet").exists()  # the files stay
    out = _lgstats(released["env"], "release", "diff", first_id, second_id).stdout  # from ops.release_changes
    assert out.splitlines()[0] == f"release {first_id} → {second_id}: 1 added, 1 revised"


def test_a_release_that_fails_leaves_no_schema_row_or_files(released):
    """The files are written while the release is copied (from the same snapshot): when the copy fails, the
    files started for it go too. Made to fail here by taking the schema name the next release would get."""
    from lgstats.pipeline import releases

    with psycopg.connect(released["url"], autocommit=True) as conn:
        next_id = releases.next_release_id(conn, datetime.now(UTC).date())
        taken = releases.schema_name(next_id)
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(taken)))
    try:
        proc = subprocess.run([str(Path(sys.executable).with_name("lgstats")), "release"],
                              env={**os.environ, **released["env"]}, capture_output=True, text=True, timeout=600,
                              cwd=PROJECT_DIR)
        assert proc.returncode != 0 and f'schema "{taken}" already exists' in proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
        folders = sorted(p.name for p in (released["home"] / "releases").iterdir())
        assert not [f for f in folders if f.startswith(next_id)], folders  # no .partial left behind
        with psycopg.connect(released["url"]) as conn:
            assert conn.execute("select count(*) from ops.releases where release_id = %s", (next_id,)).fetchone() \
                == (0,)
            assert conn.execute("select count(*) from information_schema.tables where table_schema = %s",
                                (taken,)).fetchone() == (0,)
    finally:
        with psycopg.connect(released["url"], autocommit=True) as conn:
            conn.execute(sql.SQL("drop schema {}").format(sql.Identifier(taken)))


def test_the_indicator_pages_render_offline_with_chart_downloads_and_citation(released, browser, monkeypatch):
    from selenium.webdriver.common.by import By

    from lgstats.services import indicator_pages

    for name, value in released["env"].items():
        monkeypatch.setenv(name, value)
    site = released["home"] / "site"
    index = indicator_pages.build(site)
    with psycopg.connect(released["url"]) as conn:
        newest, schema = conn.execute("select release_id, schema_name from ops.releases where exported_at is not "
                                      "null order by published_at desc limit 1").fetchone()
        count = conn.execute(sql.SQL("select count(*) from {}").format(
            sql.Identifier(schema, "dim_indicator"))).fetchone()[0]
    shots = released["home"] / "screenshots"
    shots.mkdir(exist_ok=True)
    browser.get(index.as_uri())
    links = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "table a"), 30, "the list of indicators")
    assert len(links) == count > 100 and f"Indicators of release {newest}" in browser.page_source
    browser.save_screenshot(str(shots / "indicators.png"))
    next(a for a in links if a.text == "SP.POP.TOTL").click()
    wait_for(lambda: browser.find_element(By.ID, "indicator-title").text == "Population, total", 30, "its page")
    assert browser.find_element(By.ID, "release-id").text == newest
    assert "Total population is based on the de facto definition" in browser.find_element(By.ID, "definition").text
    assert "CC BY 4.0" in browser.find_element(By.ID, "licence").text
    assert "areas ×" in browser.find_element(By.ID, "coverage").text
    chart = browser.find_element(By.CSS_SELECTOR, "svg.indicator-chart")
    assert chart.size["width"] > 300 and chart.find_elements(By.CSS_SELECTOR, "polyline")
    citation = browser.find_element(By.ID, "citation").text
    assert f"lgstats data release {newest}" in citation and "Population, total" in citation
    downloads = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "a.download")]
    assert [Path(h).suffix for h in downloads] == [".csv", ".parquet"]
    for href in downloads:
        path = Path(href.removeprefix("file://"))
        assert path.is_file() and path.stat().st_size > 0, href
        assert f"/indicators/data/{newest}/" in href  # the indicator's rows of that release
    csv_text = Path(downloads[0].removeprefix("file://")).read_text().splitlines()
    assert csv_text[0].startswith("observation_id,series_code") and all(",SP.POP.TOTL," in line
                                                                        for line in csv_text[1:])
    source = (site / "indicators" / "SP.POP.TOTL.html").read_text()
    assert not any(tag in source for tag in ("<script", "<link", "<img", "src=", "@import"))  # nothing fetched
    browser.save_screenshot(str(shots / "SP.POP.TOTL.png"))
    assert (shots / "SP.POP.TOTL.png").stat().st_size > 10_000
