"""``make bench`` (second part): the whole product at 1M and 10M observations.

For each scale: a synthetic replay folder (``lgstats.devdata.synthetic.scale``), then ``lgstats run --mode replay``
on a warehouse of its own (its own LGSTATS_HOME and embedded server), timed per DAG and per task; the
loader alone on the snapshot that run fetched (peak RSS) next to ``psql \\copy`` of the same rows; an
incremental run after one new snapshot (rows of ``marts.fct_observation`` inserted and deleted, and time);
the analyst-guide queries as ``lgstats_bi``; ``lgstats release`` (time and peak RSS), first and after one
more snapshot (with its changelog). Not a test: nothing here asserts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FULL_DATE, INCREMENTAL_DATE, SECOND_INCREMENTAL_DATE = "2026-01-01", "2026-01-02", "2026-01-03"


def _env(home: Path, replay: Path, port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LGSTATS_", "AIRFLOW"))}
    env.update(LGSTATS_HOME=str(home), LGSTATS_REPLAY_DIR=str(replay), LGSTATS_WAREHOUSE_PORT=str(port))
    return env


def lgstats_run(env: dict, log: Path, *args: str) -> dict:
    """One ``lgstats run``; returns its wall time, exit code and every DAG's outcome (tasks with seconds)."""
    t0 = time.perf_counter()
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.run([str(BIN / "lgstats"), "run", "--mode", "replay", *args], env=env, cwd=ROOT,
                              stdout=fh, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - t0
    text = log.read_text(encoding="utf-8")
    found = re.search(r"logs of this run:\s+(\S+)", text)
    dags = {}
    if found:
        for result in sorted(Path(found.group(1)).glob("*.json")):
            out = json.loads(result.read_text())
            dags[out["dag_id"]] = {"state": out.get("state"), "task_seconds": out.get("task_seconds", {})}
    durations = dict(re.findall(r"(?:ok|FAILED): (\S+) in ([\d.]+) s", text))
    for dag_id, secs in durations.items():
        dags.setdefault(dag_id, {})["seconds"] = float(secs)
    return {"seconds": round(seconds, 1), "exit_code": proc.returncode, "log": str(log), "dags": dags}


def stages(run: dict) -> dict:
    """Seconds per stage: ingest tasks by kind (fetch, validate, load, check) summed over every source; the
    build by layer (seeds and staging, intermediate, publish gates, marts with their tests)."""
    out: dict = {}
    for dag_id, dag in run["dags"].items():
        for task, secs in dag.get("task_seconds", {}).items():
            if dag_id == "warehouse_build":
                layer = task.split(".", 1)[0] if "." in task else task
                key = f"build.{layer}"
            else:
                key = f"ingest.{task.split('_', 1)[0]}"
            out[key] = round(out.get(key, 0.0) + secs, 1)
    tasks = [(f"{d}.{t}", s) for d, dag in run["dags"].items() for t, s in dag.get("task_seconds", {}).items()]
    out["slowest_tasks"] = dict(sorted(tasks, key=lambda x: -x[1])[:8])
    out["dag_total_seconds"] = round(sum(d.get("seconds", 0.0) for d in run["dags"].values()), 1)
    return dict(sorted(out.items()))


def fct_counters(url: str) -> dict:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("select n_tup_ins, n_tup_del, n_tup_upd from pg_stat_user_tables "
                           "where schemaname = 'marts' and relname = 'fct_observation'").fetchone()
        rows = conn.execute("select count(*) from marts.fct_observation").fetchone()[0]
    return {"inserted": row[0], "deleted": row[1], "updated": row[2], "rows": rows} if row else {"rows": rows}


def series_data_snapshot(home: Path, dt: str) -> Path:
    found = sorted((home / "snapshots" / "un_sdg" / "series_data").glob(f"dt={dt}*"))
    return found[-1]


def timed_release(env: dict, log: Path) -> dict:
    """One ``lgstats release`` (publish and export), timed, with the peak RSS of that process alone: a fresh
    wrapper interpreter waits for it, so RUSAGE_CHILDREN holds only its child's peak."""
    wrapper = ("import resource, subprocess, sys, time; t0 = time.perf_counter(); "
               "p = subprocess.run(sys.argv[1:]); s = time.perf_counter() - t0; "
               "print(p.returncode, round(s, 1), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.run([sys.executable, "-c", wrapper, str(BIN / "lgstats"), "release"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=fh, text=True)
    lines = proc.stdout.strip().splitlines()
    fh_text = "\n".join(lines[:-1])
    log.write_text(fh_text + "\n" + log.read_text(encoding="utf-8"), encoding="utf-8")
    code, seconds, rss_kb = lines[-1].split()
    changes = re.search(r"changes since \S+: (.*)", fh_text)
    return {"exit_code": int(code), "seconds": float(seconds), "peak_rss_mb": round(int(rss_kb) / 1024, 1),
            "changes": changes.group(1) if changes else None, "log": str(log)}


def run_scale(rows: int, work: Path, port: int, loader_child, psql_copy, analyst_queries) -> dict:
    """Every measurement at one scale. ``loader_child``, ``psql_copy`` and ``analyst_queries`` come from
    loader_bench, so both parts measure the same way."""
    from lgstats.devdata.synthetic import scale

    replay, home = work / f"replay-{rows}", work / f"home-{rows}"
    shutil.rmtree(home, ignore_errors=True)
    out: dict = {"rows": rows, "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    print(f"scale {rows:,}: generating the synthetic replay ...", flush=True)
    t0 = time.perf_counter()
    scale.write(replay, rows)
    out["generate_seconds"] = round(time.perf_counter() - t0, 1)
    from lgstats.pipeline.registry import source

    out["local_governments"] = scale.local_governments(rows, source("un_sdg").dataset("series_data"))
    env = _env(home, replay, port)
    from lgstats.core.settings import Settings

    try:
        print(f"scale {rows:,}: lgstats run (every source, raw to marts) ...", flush=True)
        full = lgstats_run(env, work / f"run-{rows}-full.log", "--logical-date", FULL_DATE)
        out["full_run"] = {**full, "stages": stages(full)}
        if full["exit_code"] != 0:
            out["error"] = f"lgstats run failed (exit {full['exit_code']}); see {full['log']}"
            return out
        url = Settings(home=home, warehouse_port=port, warehouse_url=None).admin_pg.url  # passwords exist now
        out["fct_after_full"] = fct_counters(url)
        print(f"scale {rows:,}: analyst queries as lgstats_bi ...", flush=True)
        out["analyst_queries"] = analyst_queries(
            url, bi_url=Settings(home=home, warehouse_port=port, warehouse_url=None).role_pg("bi").url)
        print(f"scale {rows:,}: incremental run after one new World Bank snapshot ...", flush=True)
        before = fct_counters(url)
        inc = lgstats_run(env, work / f"run-{rows}-incremental.log", "--source", "world_bank",
                          "--logical-date", INCREMENTAL_DATE)
        time.sleep(1.5)  # the statistics collector flushes counters at most once a second
        after = fct_counters(url)
        out["incremental_run"] = {**inc, "stages": stages(inc), "new_snapshot": "world_bank/indicators",
                                  "fct_rows_inserted": after.get("inserted", 0) - before.get("inserted", 0),
                                  "fct_rows_deleted": after.get("deleted", 0) - before.get("deleted", 0),
                                  "fct_rows_total": after["rows"]}
        print(f"scale {rows:,}: lgstats release after the incremental run (copy, changes, exports) ...", flush=True)
        out["release_first"] = timed_release(env, work / f"release-{rows}-1.log")
        print(f"scale {rows:,}: lgstats release again, after one more World Bank snapshot ...", flush=True)
        lgstats_run(env, work / f"run-{rows}-incremental-2.log", "--source", "world_bank", "--logical-date",
                    SECOND_INCREMENTAL_DATE)
        out["release_second"] = timed_release(env, work / f"release-{rows}-2.log")
        # last: the loader child re-records the snapshot's origin, which must not disturb the runs above
        snap = series_data_snapshot(home, FULL_DATE)
        print(f"scale {rows:,}: the loader alone, then psql \\copy, on the same snapshot ...", flush=True)
        out["loader"] = loader_child("lgstats", str(snap), url, "bench_scale_lgstats")
        out["psql_copy"] = psql_copy(str(snap), url, "bench_scale_psql")
        for kind in ("loader", "psql_copy"):
            out[kind]["rows_per_s"] = round(out[kind]["rows"] / out[kind]["seconds"])
        out["loader_vs_copy"] = round(out["loader"]["rows_per_s"] / out["psql_copy"]["rows_per_s"], 3)
    finally:
        subprocess.run([str(BIN / "lgstats"), "warehouse", "stop"], env=env, cwd=ROOT, capture_output=True)
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(replay, ignore_errors=True)
            shutil.rmtree(home, ignore_errors=True)
    return out
