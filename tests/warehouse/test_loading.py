"""COPY loads into a real PostgreSQL: one transaction per snapshot, idempotent, nothing partial."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from lgstats.core import warehouse
from lgstats.core.settings import Settings
from lgstats.pipeline import steps as pipeline
from lgstats.pipeline.connectors import un_sdg
from lgstats.pipeline.loading import load_snapshot
from lgstats.pipeline.snapshots import Snapshot


def _count(url, sql):
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchone()[0]


def test_load_is_idempotent_and_traceable(warehouse_url):
    path = pipeline.fetch("un_sdg", "series_data", "2026-11-28", "replay")
    first = pipeline.load(path)
    assert first["status"] == "loaded" and first["rows"] == un_sdg.expected_rows(Snapshot.open(Path(path)))
    again = pipeline.load(path)
    assert again["status"] == "unchanged" and again["rows"] == 0
    assert _count(warehouse_url, "select count(*) from raw.un_sdg__series_data") == first["rows"]
    with psycopg.connect(warehouse_url) as conn:
        licence, md5, sidecar = conn.execute(
            "select licence, md5, sidecar_path from raw.snapshot_origins").fetchone()
        statuses = [r[0] for r in conn.execute("select status from ops.loads order by load_id")]
    assert "CC BY 4.0" in licence and len(md5) == 32 and Path(sidecar).exists()
    assert statuses == ["loaded", "unchanged"]


def test_a_changed_snapshot_of_the_same_date_replaces_its_rows(warehouse_url, tmp_path, monkeypatch):
    path = pipeline.fetch("un_sdg", "series_data", "2026-11-28", "replay")
    n = pipeline.load(path)["rows"]
    snap = Snapshot.open(Path(path))
    with warehouse.connect() as conn:  # same snapshot id, new content: delete + insert in one transaction
        snap.origin["md5"] = "0" * 32
        rows = list(un_sdg.parse(snap))[:10]
        load_snapshot(conn, snap, "un_sdg__series_data", un_sdg.SERIES_DATA_COLUMNS, rows)
    assert _count(warehouse_url, "select count(*) from raw.un_sdg__series_data") == 10
    assert n > 10


def test_a_load_that_fails_mid_copy_leaves_nothing(warehouse_url):
    path = pipeline.fetch("un_sdg", "series_data", "2026-11-28", "replay")
    snap = Snapshot.open(Path(path))

    def rows_then_crash():
        for i, row in enumerate(un_sdg.parse(snap)):
            if i == 300:  # the replay has 499 observations
                raise RuntimeError("parser crashed mid-stream")
            yield row

    with warehouse.connect() as conn, pytest.raises(RuntimeError):
        load_snapshot(conn, snap, "un_sdg__series_data", un_sdg.SERIES_DATA_COLUMNS, rows_then_crash())
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("select to_regclass('raw.un_sdg__series_data')").fetchone()[0] is None
        assert conn.execute("select count(*) from raw.snapshot_origins").fetchone()[0] == 0


def test_validate_parses_once_and_load_publishes_the_staged_rows(warehouse_url, monkeypatch):
    """One parse per snapshot: validate streams the rows into pending.<table> and checks the columns its suite
    reads from there; load publishes them in one transaction without parsing again."""
    from lgstats.pipeline import connectors

    path = pipeline.fetch("un_sdg", "series_data", "2026-11-28", "replay")
    expected = un_sdg.expected_rows(Snapshot.open(Path(path)))
    pipeline.validate(path)
    assert _count(warehouse_url, "select count(*) from pending.un_sdg__series_data") == expected
    assert _count(warehouse_url, "select count(*) from raw.un_sdg__series_data") == 0

    def no_second_parse(*args, **kwargs):
        raise AssertionError("load must publish the staged rows, not parse the snapshot again")

    mod = connectors.get("un_sdg")
    monkeypatch.setattr(mod, "rows", no_second_parse)
    monkeypatch.setattr(mod, "parse", no_second_parse)
    result = pipeline.load(path)
    assert result["status"] == "loaded" and result["rows"] == expected
    assert _count(warehouse_url, "select count(*) from raw.un_sdg__series_data") == expected
    assert _count(warehouse_url, "select count(*) from pending.un_sdg__series_data") == 0
    assert _count(warehouse_url, "select count(*) from raw.snapshot_origins") == 1


def test_a_snapshot_that_fails_validation_leaves_nothing_staged(warehouse_url, tmp_path, monkeypatch):
    import json
    import shutil

    from lgstats.pipeline.validation import ValidationFailed
    from tests.conftest import REPLAY

    bad = tmp_path / "replay"
    shutil.copytree(REPLAY / "un_sdg", bad / "un_sdg")
    page = bad / "un_sdg" / "series_data" / "SG_GOV_LOGV__page-0001.json"
    payload = json.loads(page.read_text())
    payload["data"][0]["timePeriodStart"] = 1066.0
    page.write_text(json.dumps(payload))
    monkeypatch.setenv("LGSTATS_REPLAY_DIR", str(bad))
    path = pipeline.fetch("un_sdg", "series_data", "2026-11-28", "replay")
    with pytest.raises(ValidationFailed, match="SG_GOV_LOGV__page-0001.json row 1"):
        pipeline.validate(path)
    assert _count(warehouse_url, "select count(*) from pending.un_sdg__series_data") == 0
    assert _count(warehouse_url, "select count(*) from raw.un_sdg__series_data") == 0


def test_two_databases_set_up_at_once_on_one_server_both_get_their_roles(pg_admin_url, tmp_path):
    """Roles belong to the server: provisioning two databases at once once failed one of them with
    'tuple concurrently updated' (an advisory lock only serialises one database)."""
    import threading

    from psycopg import sql

    from lgstats.core import access

    names = [f"lgstats_race_{os.getpid()}_{i}" for i in range(6)]
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    base = pg_admin_url.rsplit("/", 1)[0]
    errors: list[BaseException] = []

    def provision(name: str) -> None:
        try:
            access.provision(f"{base}/{name}", name, Settings(home=tmp_path), embedded=False)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    for pair in (names[0:2], names[2:4], names[4:6]):
        threads = [threading.Thread(target=provision, args=(n,)) for n in pair]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    with psycopg.connect(f"{base}/{names[-1]}", autocommit=True) as conn:
        assert conn.execute("select has_database_privilege('lgstats_bi', current_database(), 'connect')").fetchone()[0]
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


def test_raw_tables_with_series_are_indexed_to_look_one_series_up_and_old_warehouses_migrate(warehouse_url):
    from lgstats.pipeline.schema import bootstrap, ensure_raw_table

    with psycopg.connect(warehouse_url) as conn:
        bootstrap(conn)
        # a warehouse set up before the change: the series table has the snapshot_id index only
        conn.execute("create table raw.t_series (snapshot_id text, series_code text, value numeric)")
        conn.execute("create index t_series__snapshot on raw.t_series (snapshot_id)")
        ensure_raw_table(conn, "t_series", [("snapshot_id", "text"), ("series_code", "text"), ("value", "numeric")])
        ensure_raw_table(conn, "t_plain", [("snapshot_id", "text"), ("value", "numeric")])
        indexes = dict(conn.execute("select indexname, indexdef from pg_indexes where schemaname = 'raw' "
                                    "and tablename in ('t_series', 't_plain')").fetchall())
    assert set(indexes) == {"t_series__snapshot_series", "t_plain__snapshot"}
    assert indexes["t_series__snapshot_series"].endswith("(snapshot_id, series_code)")
    assert indexes["t_plain__snapshot"].endswith("(snapshot_id)")
