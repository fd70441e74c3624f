"""The ``lgstats`` command line (contract in docs: tests and operators rely on it)."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # platformdirs, harmless

from lgstats.core import private_home, reader_guard, warehouse  # noqa: E402
from lgstats.core.access import CredentialsError  # noqa: E402
from lgstats.core.locks import LockTimeout  # noqa: E402
from lgstats.core.settings import PROJECT_DIR, get_settings  # noqa: E402
from lgstats.pipeline import registry  # noqa: E402
from lgstats.services.bi import BIError  # noqa: E402

_TASK_START = re.compile(r"\[DAG TEST\] starting task_id=(\S+)")


def _print(msg: str = "") -> None:
    print(msg, flush=True)


# ---------------------------------------------------------------- warehouse
def cmd_warehouse(args: argparse.Namespace) -> int:
    s = get_settings()
    if args.action == "start":
        warehouse.start(s)
        _print(f"warehouse running: {s.admin_pg.safe_url}")
        _print(f"for BI tools (read-only role lgstats_bi): {s.role_pg('bi').safe_url}; the full URL, password "
               "included: lgstats warehouse url --role bi")
    elif args.action == "stop":
        if s.external_warehouse:
            _print("LGSTATS_WAREHOUSE_URL is set: the external server is not ours to stop")
        else:
            _print("warehouse stopped" if warehouse.stop(s) else "warehouse was not running")
    elif args.action == "status":
        st = warehouse.status(s)
        kind = "embedded" if st.embedded else "external"
        _print(f"{kind} warehouse: {st.detail}\nurl: {st.url}" + (f"\ndata: {st.pgdata}" if st.pgdata else ""))
        return 0 if st.running else 1
    elif args.action == "url":
        if not s.external_warehouse:
            warehouse.ensure_running(s)  # the passwords exist once the server has been set up
        _print(s.role_pg(args.role).url)
    return 0


# ---------------------------------------------------------------- run
def _ingest_dags(known: dict[str, registry.Source]) -> dict[str, str]:
    """Every registry source has an ingest DAG (its own file, or the generic one), then member submissions."""
    return {name: f"{name}_ingest" for name in [*known, "submissions"]}


_DAG_MARK = re.compile(r"\[lgstats\] dag (\S+) (start|end)(?: (\S+))?")


def _run_dags(dag_ids: list[str], then: str, logical_date: str, conf: dict, run_dir: Path, env: dict) -> list[dict]:
    """Run ``dag_ids`` one after another in one process (lgstats.services.dag_runner), then ``then`` if they all
    succeeded, printing each DAG and its tasks as they start; returns one outcome per DAG that ran (its JSON
    result, its seconds, the log)."""
    from lgstats.services.toolchain import dag_runner_script

    log_path = run_dir / "dags.log"
    cmd = [sys.executable, dag_runner_script(), *dag_ids, "--then", then, "--logical-date", logical_date,
           "--conf", json.dumps(conf), "--result-dir", str(run_dir)]
    seconds: dict[str, float] = {}
    started = set()
    current, t0 = None, time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log_fh:
        proc = subprocess.Popen(cmd, stdout=log_fh, stderr=subprocess.STDOUT, env=env, cwd=PROJECT_DIR)
        with open(log_path, encoding="utf-8", errors="replace") as reader:
            while True:
                done = proc.poll() is not None
                for line in reader.readlines():
                    mark = _DAG_MARK.search(line)
                    if mark and mark.group(2) == "start":
                        current, t0 = mark.group(1), time.monotonic()
                        started.add(current)
                        _print(f"  ▶ {current}")
                    elif mark:
                        seconds[mark.group(1)] = round(time.monotonic() - t0, 1)
                        ok = "ok" if mark.group(3) == "success" else "FAILED"
                        _print(f"  {ok}: {mark.group(1)} in {seconds[mark.group(1)]} s")
                    elif (task := _TASK_START.search(line)) and current:
                        _print(f"    [{time.monotonic() - t0:6.1f}s] {task.group(1)}")
                if done:
                    break
                time.sleep(0.5)
    if then not in started:
        _print(f"  {then} skipped: an ingestion failed, so raw and marts stay as they were")
    outcomes = []
    for dag_id in [*dag_ids, then] if then in started else dag_ids:
        result = run_dir / f"{dag_id}.json"
        outcome = json.loads(result.read_text()) if result.exists() else {
            "dag_id": dag_id, "state": "failed", "error": f"the DAG process exited with {proc.returncode}"}
        if not result.exists() and dag_id not in seconds:
            _print(f"  FAILED: {dag_id} (the DAG process exited with {proc.returncode}; log: {log_path})")
        outcome["seconds"] = seconds.get(dag_id, 0.0)
        outcome["log"] = str(log_path)
        outcomes.append(outcome)
    return outcomes


def _mart_rows(s) -> dict[str, int]:
    from psycopg import sql

    with warehouse.connect(s) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "and table_type = 'BASE TABLE' order by 1")]
        return {t: conn.execute(sql.SQL("select count(*) from marts.{}").format(sql.Identifier(t))).fetchone()[0]
                for t in tables}


def _unmapped_areas(s) -> list[tuple[str, int, int]]:
    """(source dataset, source areas, rows) that no area mapping file knows: kept, but not in the marts."""
    with warehouse.connect(s) as conn:
        if conn.execute("select to_regclass('intermediate.int_areas_unmapped')").fetchone()[0] is None:
            return []
        return conn.execute("select source_dataset, count(*), sum(rows) from intermediate.int_areas_unmapped "
                            "group by 1 order by 1").fetchall()


def _origin_shares(s) -> list[tuple[str, int, int]]:
    """(source, rows from real snapshots, rows from synthetic ones) of marts.fct_observation."""
    with warehouse.connect(s) as conn:
        if conn.execute("select to_regclass('marts.dim_snapshot')").fetchone()[0] is None:
            return []
        return conn.execute("""
            select split_part(f.source_dataset, '/', 1),
                   count(*) filter (where not coalesce(d.synthetic, false)),
                   count(*) filter (where d.synthetic)
            from marts.fct_observation as f left join marts.dim_snapshot as d using (snapshot_id)
            group by 1 order by 1""").fetchall()


def _partner_match_rates(s) -> list[tuple[str, int, int]]:
    """(country, twin-town partners, matched to its register) from marts.twinning_partner_matches."""
    with warehouse.connect(s) as conn:
        if conn.execute("select to_regclass('marts.twinning_partner_matches')").fetchone()[0] is None:
            return []
        return conn.execute("select country_iso3, count(*), count(area_code) from marts.twinning_partner_matches "
                            "group by 1 order by 1").fetchall()


def _gate_notes(s, since: datetime) -> list[str]:
    """What the publish gates of this run noted without failing (synthetic rows replaced or dropped)."""
    with warehouse.connect(s) as conn:
        if conn.execute("select to_regclass('ops.publish_gates')").fetchone()[0] is None:
            return []
        has_info = conn.execute("select 1 from information_schema.columns where table_schema = 'ops' "
                                "and table_name = 'publish_gates' and column_name = 'info'").fetchone()
        if not has_info:
            return []
        row = conn.execute("select info from ops.publish_gates where checked_at >= %s and info is not null "
                           "order by checked_at desc limit 1", (since,)).fetchone()
        return list(row[0]) if row else []


def _submissions_since(s, since: datetime) -> list[tuple]:
    with warehouse.connect(s) as conn:
        if not conn.execute("select to_regclass('ops.submissions')").fetchone()[0]:
            return []
        return conn.execute("select member_code, template, status, rows_loaded, rows_rejected, report_html "
                            "from ops.submissions where received_at >= %s order by received_at", (since,)).fetchall()


def _failures(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def cmd_run(args: argparse.Namespace) -> int:
    from lgstats.pipeline import transforms
    from lgstats.services import toolchain

    s = get_settings()
    known = registry.sources()
    available = _ingest_dags(known)
    chosen = args.source or list(available)
    unknown = [x for x in chosen if x not in available]
    if unknown:
        _print(f"error: unknown source(s) {unknown}; sources with an ingest DAG: {sorted(available)}")
        return 2
    needed = registry.with_needs(chosen, known)
    added = [x for x in needed if x not in chosen]
    chosen = needed
    logical_date = args.logical_date or datetime.now(UTC).date().isoformat()
    _print(f"lgstats run: mode={args.mode} sources={','.join(chosen)} logical date={logical_date}")
    if added:
        _print(f"  with {', '.join(added)}: the rows of the sources asked for refer to theirs (`needs` in the "
               "registry)")
    started = time.monotonic()
    started_at = datetime.now(UTC)

    _print("  warehouse ...")
    warehouse.ensure_running(s)
    lock_conn = warehouse.connect(s, autocommit=True)  # held for the whole run; released if we die
    if not lock_conn.execute("select pg_try_advisory_lock(%s)", (warehouse.RUN_LOCK_KEY,)).fetchone()[0]:
        _print("error: another `lgstats run`, or an Airflow stack (`lgstats airflow`), is working on this "
               "warehouse; wait for the run to finish, or use `lgstats trigger` while the stack runs.")
        lock_conn.close()
        return 3
    try:
        env = {**os.environ, **toolchain.airflow_env(s), "LGSTATS_MODE": args.mode}
        # Interactive runs fail fast: the HTTP clients retry on their own; task retries are the scheduler's.
        env.setdefault("LGSTATS_TASK_RETRIES", "0")
        os.environ.update({k: v for k, v in env.items() if k.startswith(("AIRFLOW", "LGSTATS"))})
        _print("  airflow metadata ...")
        toolchain.ensure_airflow_db(s)
        _print("  dbt manifest ...")
        transforms.ensure_manifest()
        run_dir = s.home / "runs" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        run_dir.mkdir(parents=True, exist_ok=True)
        env["LGSTATS_FAILURE_FILE"] = str(run_dir / "failures.jsonl")
        conf = {"mode": args.mode}
        # the ingest DAGs, then the build, in one process (Airflow's start-up paid once); readers that block
        # the build or overrun their limits are ended meanwhile (reader_guard)
        with reader_guard.watching(lambda: warehouse.connect(s, autocommit=True)):
            outcomes = _run_dags([available[x] for x in chosen], "warehouse_build", logical_date, conf, run_dir,
                                 env)
        return _summary(s, outcomes, _failures(run_dir / "failures.jsonl"), run_dir, time.monotonic() - started,
                        started_at)
    finally:
        lock_conn.close()


def _summary(s, outcomes: list[dict], failures: list[dict], run_dir: Path, seconds: float,
             started_at: datetime | None = None) -> int:
    ok = all(o["state"] == "success" for o in outcomes)
    tasks = {f"{o['dag_id']}.{t}": st for o in outcomes for t, st in o.get("tasks", {}).items()}
    checks = {k: v for k, v in tasks.items()
              if k.endswith((".test", "__test", "_build", ".publish_gates")) or ".validate_" in k}
    passed = sum(1 for v in checks.values() if v == "success")
    failed = sum(1 for v in checks.values() if v in ("failed", "upstream_failed"))
    _print("")
    _print("=" * 72)
    _print(f"lgstats run {'SUCCEEDED' if ok else 'FAILED'} in {seconds:.0f} s")
    _print("-" * 72)
    try:
        rows = _mart_rows(s)
    except Exception as exc:  # a summary must still print when the warehouse is the problem
        rows = {}
        _print(f"could not count mart rows: {exc}")
    if rows:
        _print("rows per mart:")
        for table, n in rows.items():
            _print(f"  marts.{table:<40} {n:>10,}")
    _print(f"checks: {passed} passed, {failed} failed (GX validations, dbt builds with their tests, publish gates)")
    try:
        shares = _origin_shares(s)
    except Exception:  # the summary must still print
        shares = []
    if shares:
        total_real = sum(r for _, r, _ in shares)
        total = sum(r + y for _, r, y in shares)
        _print(f"marts.fct_observation by origin: {100 * total_real / total:.1f} % of {total:,} rows from real "
               "snapshots (per source: real / synthetic)")
        for source, real, synthetic in shares:
            _print(f"  {source:<24} {real:>9,} real {synthetic:>9,} synthetic")
    try:
        rates = _partner_match_rates(s)
    except Exception:  # the summary must still print
        rates = []
    if rates:
        _print("twin-town partners matched to a register (exact rules; the rest, with reasons, in "
               "marts.twinning_partner_matches):")
        _print("  " + ", ".join(f"{c} {m}/{n} ({100 * m / n:.0f} %)" for c, n, m in rates))
    try:
        notes = _gate_notes(s, started_at) if started_at else []
    except Exception:  # the summary must still print
        notes = []
    for note in notes:
        _print(f"note (publish gates, not a failure): {note}")
    try:
        unmapped = _unmapped_areas(s)
    except Exception:  # the summary must still print
        unmapped = []
    for dataset, areas, n in unmapped:
        _print(f"warning: {dataset}: {areas} source area code(s), {n} row(s), have no area mapping yet: kept in "
               "raw, not in the marts (intermediate.int_areas_unmapped; dbt/seeds/area_maps/README.md)")
    try:
        received = _submissions_since(s, started_at) if started_at else []
    except Exception:  # the summary must still print
        received = []
    if received:
        _print(f"member submissions received: {len(received)} file(s), {sum(r[3] for r in received)} row(s) loaded, "
               f"{sum(r[4] for r in received)} set aside")
        for member, template, status, _loaded, rejected, report in received:
            if status != "accepted":
                _print(f"  {member}/{template}: {status}, {rejected} row(s) set aside; report: {report}")
    for o in outcomes:
        bad = [t for t, st in o.get("tasks", {}).items() if st not in ("success", "skipped")]
        if bad:
            _print(f"  {o['dag_id']}: not successful: {', '.join(bad)}")
        if o.get("error"):
            _print(f"  {o['dag_id']}: {o['error']}")
    for f in failures:
        _print(f"failed task {f.get('dag_id')}.{f.get('task_id')}:")
        for line in (f.get("error") or "").splitlines():
            _print(f"    {line}")
    _print("-" * 72)
    _print(f"warehouse for BI tools (read-only): {s.role_pg('bi').safe_url}")
    _print("  full URL, password included:   lgstats warehouse url --role bi   (analysts: --role analyst)")
    _print(f"logs of this run:               {run_dir}")
    _print(f"validation reports:             {s.reports / 'validation'}")
    _print("=" * 72)
    return 0 if ok else 1


# ---------------------------------------------------------------- status
def cmd_status(args: argparse.Namespace) -> int:
    from lgstats.pipeline.status import collect, render

    s = get_settings()
    warehouse.ensure_running(s)
    report = collect(s)
    if args.json:
        _print(json.dumps(report, indent=2, default=str))
    else:
        _print(render(report))
    return 0 if report["healthy"] else 1


# ---------------------------------------------------------------- submit
def cmd_submit(args: argparse.Namespace) -> int:
    from lgstats.pipeline.submissions import process

    s = get_settings()
    warehouse.ensure_running(s)
    try:
        result = process.submit(Path(args.file), args.member, args.template)
    except process.SubmissionError as exc:
        _print(f"error: {exc}")
        return 2
    _print(f"{result.status}: {result.message}")
    _print(f"submission: {result.submission_id}")
    if result.report_html:
        _print(f"report for the member: {result.report_html}")
        _print(f"                       {result.report_csv}")
    return 0 if result.status in ("accepted", "unchanged") else 1


# ---------------------------------------------------------------- docs, airflow
def cmd_settings(args: argparse.Namespace) -> int:
    from lgstats.core import settings

    print(settings.variables_markdown() if args.markdown else settings.describe(), end="\n" * (not args.markdown))
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from lgstats.pipeline import transforms
    from lgstats.services import docs_site

    s = get_settings()
    warehouse.ensure_running(s)
    transforms.ensure_manifest()
    _print("building the dbt docs and the Great Expectations Data Docs ...")
    index = docs_site.build(Path(args.out) if args.out else None)
    _print(f"documentation: {index}")
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    import psycopg

    from lgstats.pipeline import release_exports, releases

    s = get_settings()
    warehouse.ensure_running(s)
    try:
        if args.action == "publish":
            _print("publishing a release of the marts and writing its files ...")
            rel, folder = release_exports.publish_and_export(s, progress=_print)
            _print(f"release {rel.release_id}: schema {rel.schema_name} ({sum(rel.marts.values()):,} rows in "
                   f"{len(rel.marts)} marts, {len(rel.snapshot_ids)} snapshots, commit {rel.git_commit or '-'})")
            if rel.previous_release_id:
                _print(f"changes since {rel.previous_release_id}: "
                       + (", ".join(f"{n:,} {c}" for c, n in sorted(rel.changes.items())) or "none"))
            for old in rel.dropped:
                _print(f"release {old} dropped from the database (LGSTATS_RELEASES_KEEP={s.releases_keep}); "
                       "its files stay")
            _print(f"files: {folder} (datapackage.json, CHANGELOG.md, changes.csv, data/)")
            return 0
        if args.action == "export":
            _print(f"files: {release_exports.export(args.ids[0] if args.ids else None, s, progress=_print)}")
            return 0
        with warehouse.connect(s) as conn:
            if args.action == "list":
                rows = conn.execute("select release_id, schema_name, published_at, git_commit, dropped_at, "
                                    "export_dir from ops.releases order by published_at desc").fetchall()
                for rid, schema, at, commit, dropped, folder in rows:
                    where = f"dropped {dropped:%Y-%m-%d}" if dropped else schema
                    _print(f"{rid:<14} {at:%Y-%m-%d %H:%M}  {where:<24} {releases.short_commit(commit):<18}  "
                           f"{folder or '-'}")
                if not rows:
                    _print("no release yet: run `lgstats release`")
                return 0
            if len(args.ids) != 2:
                print("error: lgstats release diff OLD NEW (two release ids; `lgstats release list` shows them)",
                      file=sys.stderr)
                return 2
            changes = releases.diff(conn, *args.ids)
        print(release_diff_text(args.ids[0], args.ids[1], changes), end="")
        return 0
    except releases.ReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except psycopg.Error as exc:  # the release's one transaction rolled back: no schema, no row, no files
        print(f"error: lgstats release {args.action} failed in the warehouse, and left nothing behind: "
              f"{str(exc).strip()}", file=sys.stderr)
        return 2


def release_diff_text(old: str, new: str, changes: list[dict]) -> str:
    counts: dict[str, int] = {}
    for c in changes:
        counts[c["change"]] = counts.get(c["change"], 0) + 1
    lines = [f"release {old} → {new}: " + (", ".join(f"{n:,} {k}" for k, n in sorted(counts.items())) or "no change")]
    for c in changes:
        if c["change"].startswith("series_"):
            lines.append(f"{c['change']:<15} {c['series_code']}")
            continue
        where = " ".join(str(c[k]) for k in ("area_code", "year", "period", "disaggregation") if c[k] is not None)
        old_v = c["old_value"] if c["old_value"] is not None else c["old_value_text"]
        new_v = c["new_value"] if c["new_value"] is not None else c["new_value_text"]
        shown = {"added": f"{new_v}", "removed": f"{old_v}", "revised": f"{old_v} → {new_v}"}[c["change"]]
        lines.append(f"{c['change']:<15} {c['series_code']} {where}: {shown}")
    return "\n".join(lines) + "\n"


def cmd_store(args: argparse.Namespace) -> int:
    from lgstats.pipeline.object_store import ObjectStore, StoreError
    from lgstats.pipeline.snapshots import SIDECAR

    s = get_settings()
    store = ObjectStore.from_settings(s)
    if store is None:
        _print(f"no object store: LGSTATS_STORE_URL is unset, snapshots stay in {s.snapshots}")
        return 0
    if args.action == "check":
        try:
            if store.check(s, create=args.create):
                _print(f"bucket {store.bucket!r} created")
        except StoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        _print(f"object store {s.store_url}: reachable (endpoint {s.store_endpoint_url or 'AWS'})")
        return 0
    removed = store.clean(args.older_than)
    for url in removed:
        _print(f"removed {url}: an upload that never finished (no {SIDECAR})")
    _print(f"{len(removed)} unfinished snapshot upload(s) removed")
    return 0


def cmd_airflow(args: argparse.Namespace) -> int:
    from lgstats.services.airflow_stack import serve

    return serve(executor=args.executor, workers=args.workers, port=args.port, store=args.store)


def cmd_worker(args: argparse.Namespace) -> int:
    from lgstats.services import remote_worker

    if not args.env_file.is_file():
        print(f"error: {args.env_file}: no such file. Fix: copy $AIRFLOW_HOME/worker.env from the host that runs "
              "`lgstats airflow --executor celery` with LGSTATS_SERVICE_ADDRESS set", file=sys.stderr)
        return 2
    remote_worker.exec_worker(args.name, args.concurrency)
    return 0  # not reached: the process became the worker


def cmd_trigger(args: argparse.Namespace) -> int:
    from lgstats.services import trigger

    say = (lambda _msg: None) if args.json else _print
    try:
        out = trigger.trigger(get_settings(), args.source, args.mode, args.wait, say)
    except trigger.TriggerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = [f"{r['dag_id']} {r['run_id']}" for r in out["runs"] if r["state"] == "failed"]
    if args.json:
        print(json.dumps(out, indent=2))
    elif args.wait:
        for r in out["runs"]:
            hosts = sorted({t["hostname"] for t in r["tasks"] if t["hostname"]})
            _print(f"{r['dag_id']} {r['run_id']}: {r['state']} ({len(r['tasks'])} tasks on {', '.join(hosts) or '-'})")
    return 1 if failed else 0


def cmd_bi(args: argparse.Namespace) -> int:
    from lgstats.services import bi

    s = get_settings()
    if args.action == "start":
        warehouse.ensure_running(s)
        out = bi.start(s, progress=_print)
        if out["created_credentials"]:
            c = out["created_credentials"]
            _print(f"Superset admin (shown once; kept in {bi.paths(s).credentials}, mode 0600): "
                   f"user {c['username']}, password {c['password']}")
        _print(f"Superset: {out['url']}  ({out['imported']['dashboards']} dashboards, "
               f"{out['imported']['charts']} charts; it reads the marts as lgstats_bi)")
        return 0
    if args.action == "stop":
        _print("Superset stopped" if bi.stop(s) else "Superset was not running")
        return 0
    st = bi.status(s)
    if args.action == "url":
        _print(st["url"])
        return 0
    _print(json.dumps(st, indent=2))
    return 0 if st["running"] else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lgstats", description="Warehouse of regional local-government statistics.")
    sub = p.add_subparsers(dest="command", required=True)

    w = sub.add_parser("warehouse", help="the embedded PostgreSQL (or the one LGSTATS_WAREHOUSE_URL names)")
    w.add_argument("action", choices=["start", "stop", "status", "url"])
    w.add_argument("--role", choices=["admin", "pipeline", "analyst", "bi"], default="admin",
                   help="url: whose URL to print (bi: read-only, marts only; the one BI tools use)")
    w.set_defaults(func=cmd_warehouse)

    r = sub.add_parser("run", help="run the pipeline through its Airflow DAGs, then print a summary")
    r.add_argument("--mode", choices=["replay", "live"], default="replay")
    r.add_argument("--source", action="append", help="only this source (repeatable); default: all")
    r.add_argument("--logical-date", help="YYYY-MM-DD partition to (re)build; default: today (UTC)")
    r.set_defaults(func=cmd_run)

    st = sub.add_parser("status", help="per source: last load, rows, freshness, open validation failures")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_status)

    sm = sub.add_parser("submit", help="put a member file in the inbox, process it, print where its report is")
    sm.add_argument("file")
    sm.add_argument("--member", required=True, help="member code (dbt/seeds/ref_members.csv)")
    sm.add_argument("--template", required=True, help="lga_profile, cooperation_partnership, council_composition, "
                                                      "local_indicator or covid_recovery_measure")
    sm.set_defaults(func=cmd_submit)

    st = sub.add_parser("settings", help="the LGSTATS_* settings in force (secrets masked)")
    st.add_argument("--markdown", action="store_true", help="every variable as the table of docs/operations.md")
    st.set_defaults(func=cmd_settings)

    d = sub.add_parser("docs", help="build the dbt docs and the GX Data Docs into one static folder")
    d.add_argument("--out", help="folder (default: $LGSTATS_HOME/site)")
    d.set_defaults(func=cmd_docs)

    rl = sub.add_parser("release", help="publish the marts as a citable release (schema release_<id>, CSV, "
                                        "Parquet, data package, changelog); or list, diff, export releases")
    rl.add_argument("action", nargs="?", choices=["publish", "list", "diff", "export"], default="publish")
    rl.add_argument("ids", nargs="*", help="diff: OLD NEW; export: the release (default: the newest)")
    rl.set_defaults(func=cmd_release)

    t = sub.add_parser("trigger", help="trigger <source>_ingest on the running Airflow (REST API), and with --wait "
                                       "follow it and the Asset-triggered warehouse_build")
    t.add_argument("source")
    t.add_argument("--mode", choices=["replay", "live"], default="live")
    t.add_argument("--wait", action="store_true", help="follow the runs until they finish; exit 1 if one failed")
    t.add_argument("--json", action="store_true", help='print {"runs": [{dag_id, run_id, state, tasks}]}')
    t.set_defaults(func=cmd_trigger)

    b = sub.add_parser("bi", help="Apache Superset dashboards over the marts (own venv, 127.0.0.1:$LGSTATS_BI_PORT)")
    b.add_argument("action", choices=["start", "stop", "status", "url"])
    b.set_defaults(func=cmd_bi)

    so = sub.add_parser("store", help="the object store of LGSTATS_STORE_URL: check it (and create its bucket), "
                                      "or clean out snapshot uploads that never finished")
    so.add_argument("action", choices=["check", "clean"], nargs="?", default="check")
    so.add_argument("--create", action="store_true", help="check: create the bucket when it is missing")
    so.add_argument("--older-than", type=float, default=3600, metavar="SECONDS",
                    help="clean: only uploads untouched this long (default 3600: a younger one may be going on)")
    so.set_defaults(func=cmd_store)
    a = sub.add_parser("airflow", help="run the Airflow stack here (api-server, scheduler, dag-processor, "
                                       "triggerer; with celery also Redis and workers) until Ctrl-C")
    a.add_argument("--executor", choices=["local", "celery"], default="local")
    a.add_argument("--workers", type=int, default=2, help="Celery workers (celery only; default 2)")
    a.add_argument("--port", type=int, default=None, help="API server port (default $LGSTATS_AIRFLOW_PORT, 8080)")
    a.add_argument("--store", default=None, metavar="s3://BUCKET/PREFIX",
                   help="keep snapshots in this object store (default $LGSTATS_STORE_URL; unset: the home's folder)")
    a.set_defaults(func=cmd_airflow)
    wk = sub.add_parser("worker", help="a Celery worker for a stack on another host (its worker.env), with its own "
                                       "home; it shares nothing but the services and the object store")
    wk.add_argument("--env-file", type=Path, required=True, help="the stack's $AIRFLOW_HOME/worker.env")
    wk.add_argument("--name", required=True, help="the name its tasks record as their hostname")
    wk.add_argument("--concurrency", type=int, default=None, help="task slots (default: the stack's)")
    wk.set_defaults(func=cmd_worker)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    private_home.restrict_new_files()  # for every process lgstats starts, too
    if args.command == "worker" and args.env_file.is_file():  # its settings before any are read
        from lgstats.services import remote_worker

        os.environ.update(remote_worker.read_env_file(args.env_file))
    try:
        s = get_settings()
        private_home.secure(s.home, warehouse.server_user(s))
        return args.func(args)
    except (warehouse.WarehouseError, registry.RegistryError, CredentialsError, BIError, LockTimeout) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
