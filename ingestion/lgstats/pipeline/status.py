"""``lgstats status``: per source, the last load, rows, freshness against the registry, open failures."""

from __future__ import annotations

from datetime import UTC, datetime

from psycopg import sql

from lgstats.core import warehouse
from lgstats.pipeline import registry
from lgstats.pipeline.schema import bootstrap, sync_registry


def collect(settings) -> dict:
    now = datetime.now(UTC)
    out = {"generated_at": now.isoformat(timespec="seconds"), "sources": [], "healthy": True, "old_releases": []}
    with warehouse.connect(settings) as conn:
        bootstrap(conn)
        sync_registry(conn)
        freshness = {(r[0], r[1]): (r[2], r[3], r[4]) for r in conn.execute(
            "select source, dataset, freshness, release, release_retrieved_at from ops.freshness")}
        last_runs = {r[0]: (r[1], r[2]) for r in conn.execute(
            "select distinct on (dag_id) dag_id, state, finished_at from ops.runs order by dag_id, finished_at desc")}
        out["runs"] = {k: {"state": v[0], "finished_at": v[1]} for k, v in last_runs.items()}
        for src in registry.sources().values():
            for ds in src.datasets:
                sid_prefix = f"{src.name}/{ds.name}/"
                last = conn.execute(
                    "select snapshot_id, loaded_at, (origin->>'fetch_finished_at')::timestamptz,"
                    " data_first_year, data_last_year"
                    " from raw.snapshot_origins where snapshot_id like %s order by dt desc, loaded_at desc limit 1",
                    (sid_prefix + "%",)).fetchone()
                last_load = conn.execute(
                    "select max(finished_at) from ops.loads where snapshot_id like %s", (sid_prefix + "%",)
                ).fetchone()[0]
                open_failures = conn.execute(
                    "select count(*) from ops.validations v where v.snapshot_id like %s and not v.success"
                    " and v.validated_at > coalesce((select max(validated_at) from ops.validations w"
                    "   where w.snapshot_id like %s and w.success), '-infinity')",
                    (sid_prefix + "%", sid_prefix + "%")).fetchone()[0]
                rows, years = None, (None, None)
                if last:
                    exists = conn.execute("select to_regclass(%s)", (f"raw.{ds.raw_table}",)).fetchone()[0]
                    if exists:
                        rows = conn.execute(sql.SQL("select count(*) from raw.{} where snapshot_id = %s").format(
                            sql.Identifier(ds.raw_table)), (last[0],)).fetchone()[0]
                        # the period recorded at load; computed here for snapshots loaded before it was
                        years = last[3:5] if last[4] is not None else _data_years(conn, ds.raw_table, last[0])
                state, release, released = freshness.get((src.name, ds.name), ("never loaded", None, None))
                late = state in ("late", "never loaded")
                if release and years[1] is not None:
                    release += f", data to {years[1]}"
                run = last_runs.get(f"{src.name}_ingest")
                entry = {
                    "source": src.name, "dataset": ds.name,
                    "last_snapshot": last[0] if last else None,
                    "last_load": last_load, "last_success": last[1] if last else None,
                    "rows": rows, "expected_refresh_days": src.expected_refresh_days,
                    # the period the data cover, which a fresh fetch of an old release does not change
                    "data_first_year": years[0], "data_last_year": years[1],
                    "last_run": run[0] if run else None, "last_run_at": run[1] if run else None,
                    "freshness": {"ok": "OK", "late": "LATE", "old release": "OLD RELEASE"}.get(state, state),
                    # what the data are: the source's release (or when the copy was retrieved) and its last year
                    "release": release, "release_retrieved_at": released,
                    "open_validation_failures": open_failures,
                }
                out["sources"].append(entry)
                if late or open_failures:
                    out["healthy"] = False
                if state == "old release":
                    out["old_releases"].append(f"{src.name}/{ds.name}")
        out["submissions"] = [
            {"template": t, "files": n, "last_received": last, "rows_loaded": loaded, "rows_rejected": rejected,
             "files_refused": refused}
            for t, n, last, loaded, rejected, refused in conn.execute(
                "select template, count(*), max(received_at), sum(rows_loaded), sum(rows_rejected),"
                " count(*) filter (where status = 'refused') from ops.submissions group by template order by 1")
        ] if conn.execute("select to_regclass('ops.submissions')").fetchone()[0] else []
    return out


def _data_years(conn, raw_table: str, snapshot_id: str) -> tuple[int | None, int | None]:
    """First and last year of a snapshot's rows, where the raw table has a year (registers and lists have none)."""
    has_year = conn.execute("select 1 from information_schema.columns where table_schema = 'raw' "
                            "and table_name = %s and column_name = 'year'", (raw_table,)).fetchone()
    if not has_year:
        return None, None
    return conn.execute(sql.SQL("select min(year), max(year) from raw.{} where snapshot_id = %s").format(
        sql.Identifier(raw_table)), (snapshot_id,)).fetchone()


def render(report: dict) -> str:
    head = (f"{'source/dataset':<26} {'last run':<24} {'last success':<17} {'rows':>9} {'data years':<11} "
            f"{'freshness':<13} {'open failures':>13}  release")
    lines = [head, "-" * len(head)]
    for e in report["sources"]:
        when = e["last_success"].strftime("%Y-%m-%d %H:%M") if e["last_success"] else "-"
        run = f"{e['last_run']} {e['last_run_at']:%m-%d %H:%M}" if e.get("last_run") and e.get("last_run_at") else "-"
        rows = f"{e['rows']:,}" if e["rows"] is not None else "-"
        first, last = e.get("data_first_year"), e.get("data_last_year")
        years = f"{first}–{last}" if first is not None else "-"
        lines.append(f"{e['source'] + '/' + e['dataset']:<26} {run:<24} {when:<17} {rows:>9} {years:<11} "
                     f"{e['freshness']:<13} {e['open_validation_failures']:>13}  {e.get('release') or '-'}")
    if report.get("submissions"):
        lines += ["", f"{'member submissions':<26} {'files':>6} {'last received':<17} {'rows loaded':>11} "
                      f"{'rows set aside':>14} {'files refused':>13}"]
        for e in report["submissions"]:
            lines.append(f"{e['template']:<26} {e['files']:>6} {e['last_received']:%Y-%m-%d %H:%M} "
                         f"{e['rows_loaded']:>11} {e['rows_rejected']:>14} {e['files_refused']:>13}")
    lines.append("")
    lines.append("freshness: LATE when not fetched within the expected refresh, OLD RELEASE when what was fetched was "
                 "released (or retrieved) longer ago than that; data years: the period the data cover")
    for e in report["sources"]:
        if e["freshness"] == "OLD RELEASE":
            lines.append(f"  old release: {e['source']}/{e['dataset']}: {e['release']} "
                         f"(expected every {e['expected_refresh_days']} days)")
    pipeline = ("pipeline healthy" if report["healthy"]
                else "attention needed: a source is late or has failed validations")
    if report.get("old_releases"):
        pipeline += f"; {len(report['old_releases'])} dataset(s) hold an old release (above), not current data"
    lines.append(pipeline)
    return "\n".join(lines)
