"""Crash safety and concurrency: a load killed mid-COPY leaves nothing, and a second run refuses clearly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
import pytest

from lgstats.core.settings import PROJECT_DIR
from lgstats.core.warehouse import RUN_LOCK_KEY

LOADER = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, {bench!r})
    from loader_bench import make_snapshot
    from lgstats.pipeline import steps as pipeline
    snap = make_snapshot(int(sys.argv[1]), Path(sys.argv[2]))
    print(snap, flush=True)
    if sys.argv[3] == "load":
        print(pipeline.load(str(snap)), flush=True)
""").format(bench=str(PROJECT_DIR / "bench"))


def _count(url: str, sql: str, *args):
    with psycopg.connect(url) as conn:
        exists = conn.execute("select to_regclass('raw.bench__series_data')").fetchone()[0]
        return conn.execute(sql, args).fetchone()[0] if exists or "bench" not in sql else 0


def test_a_load_killed_mid_copy_leaves_nothing_and_the_rerun_loads_each_row_once(warehouse_url, tmp_path,
                                                                                monkeypatch):
    from lgstats.pipeline import registry

    # the benchmark's synthetic snapshot belongs to a 'bench' source: register it for this test only
    src = registry.source("un_sdg")
    bench = src.model_copy(update={"name": "bench", "datasets": [
        src.dataset("series_data").model_copy(update={"raw_table": "bench__series_data"})]})
    monkeypatch.setattr(registry, "sources", lambda *a: {"un_sdg": src, "bench": bench})
    script = tmp_path / "load.py"
    script.write_text("import lgstats.pipeline.registry as r\n"
                      "_src = r.source('un_sdg')\n"
                      "_b = _src.model_copy(update={'name': 'bench', 'datasets': [_src.dataset('series_data')"
                      ".model_copy(update={'raw_table': 'bench__series_data'})]})\n"
                      "r.sources = lambda *a: {'un_sdg': _src, 'bench': _b}\n" + LOADER)
    rows = 300_000  # a COPY of a second or more, so the kill lands in it (the loader streams ~200k rows/s)
    proc = subprocess.Popen([sys.executable, str(script), str(rows), str(tmp_path / "store"), "load"],
                            env=os.environ.copy(), stdout=subprocess.PIPE, text=True)
    snapshot_path = proc.stdout.readline().strip()
    deadline = time.monotonic() + 60
    killed_during_copy = False
    with psycopg.connect(warehouse_url, autocommit=True) as watcher:
        while time.monotonic() < deadline and proc.poll() is None:
            active = watcher.execute("select count(*) from pg_stat_activity where query ilike 'copy raw.%%'"
                                     " and state = 'active'").fetchone()[0]
            if active:
                time.sleep(0.2)  # into the stream, well before its end
                os.kill(proc.pid, signal.SIGKILL)
                killed_during_copy = True
                break
            time.sleep(0.02)
    proc.wait(timeout=30)
    assert killed_during_copy, "the loader finished before it could be killed mid-COPY"
    time.sleep(0.5)  # the server notices the dead client and rolls back
    assert _count(warehouse_url, "select count(*) from raw.bench__series_data") == 0
    assert _count(warehouse_url, "select count(*) from raw.snapshot_origins") == 0
    from lgstats.pipeline import steps as pipeline

    result = pipeline.load(snapshot_path)
    assert result["rows"] == rows
    assert _count(warehouse_url, "select count(distinct (source_file, row_number)) from raw.bench__series_data") == rows
    assert _count(warehouse_url, "select count(*) from raw.bench__series_data") == rows


@pytest.mark.parametrize("holder_lock", ["pg_try_advisory_lock", "pg_try_advisory_lock_shared"],
                         ids=["another lgstats run", "an Airflow stack"])
def test_a_run_refuses_clearly_while_another_run_or_the_airflow_stack_works(warehouse_url, tmp_path, holder_lock):
    with psycopg.connect(warehouse_url, autocommit=True) as holder:
        assert holder.execute(f"select {holder_lock}(%s)", (RUN_LOCK_KEY,)).fetchone()[0]
        exe = Path(sys.executable).with_name("lgstats")
        started = time.monotonic()
        proc = subprocess.run([str(exe), "run", "--mode", "replay", "--source", "un_sdg"], env=os.environ.copy(),
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 3
        assert "another `lgstats run`, or an Airflow stack (`lgstats airflow`), is working on this" in proc.stdout
        assert time.monotonic() - started < 60
    with psycopg.connect(warehouse_url) as conn:  # it touched nothing
        assert conn.execute("select to_regclass('raw.un_sdg__series_data')").fetchone()[0] is None


def test_the_airflow_stack_refuses_to_start_while_an_lgstats_run_works(warehouse_url, tmp_path):
    with psycopg.connect(warehouse_url, autocommit=True) as holder:
        assert holder.execute("select pg_try_advisory_lock(%s)", (RUN_LOCK_KEY,)).fetchone()[0]
        exe = Path(sys.executable).with_name("lgstats")
        proc = subprocess.run([str(exe), "airflow", "--executor", "celery", "--port", "1"], env=os.environ.copy(),
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert "an `lgstats run` is working on this warehouse" in proc.stdout
    assert not (Path(os.environ["LGSTATS_HOME"]) / "airflow" / "stack.json").exists()
