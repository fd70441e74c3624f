"""Production mode end to end: ``lgstats airflow --executor celery --workers 2`` (Redis, PostgreSQL metadata,
two named Celery workers), real DAG runs triggered through the REST API (``lgstats trigger``), the
Asset-triggered ``warehouse_build``, a worker killed mid-load, one webhook alert per failed task, and the
Airflow UI in headless Chromium. One stack for the whole module; its marts are compared with those of
``lgstats run --mode replay`` on the same inputs, in another database."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import psutil
import pytest

from lgstats.core.settings import PROJECT_DIR
from lgstats.services.airflow_stack import kill_session
from tests.browser import start_browser, wait_for
from tests.conftest import fct_rows, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("airflow_stack")]

LGSTATS = str(Path(sys.executable).with_name("lgstats"))
SOURCES = ("un_sdg", "world_bank", "stats_nz")  # sources without `needs`: each alone equals its slice


def _lgstats(env: dict, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([LGSTATS, *args], env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=PROJECT_DIR)


@pytest.fixture(scope="module")
def webhook():
    """The alert destination: records every POST."""
    from pytest_httpserver import HTTPServer
    from werkzeug import Response

    server = HTTPServer(host="127.0.0.1", port=free_port())
    received: list[dict] = []

    def hook(request):
        received.append(request.get_json())
        return Response("ok")

    server.expect_request("/hook", method="POST").respond_with_handler(hook)
    # the World Bank API as the failing test sees it: every call refused for good (not retried)
    server.expect_request(re.compile("^/wb/.*")).respond_with_data("gone", status=404)
    server.start()
    yield server, received
    server.stop()


@pytest.fixture(scope="module")
def reference(tmp_path_factory, fresh_database):
    """``lgstats run --mode replay`` of the same sources into its own database: what the stack must equal."""
    env = {**os.environ, "LGSTATS_HOME": str(tmp_path_factory.mktemp("reference")),
           "LGSTATS_WAREHOUSE_URL": fresh_database()}
    args = [a for s in SOURCES for a in ("--source", s)]
    return env, subprocess.Popen([LGSTATS, "run", "--mode", "replay", *args], env=env, cwd=PROJECT_DIR,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def reference_rows(reference):
    env, proc = reference
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, out[-3000:]
    rows = {s: fct_rows(env["LGSTATS_WAREHOUSE_URL"], f"source_dataset like '{s}/%'") for s in SOURCES}
    rows["marts"] = mart_rows(env["LGSTATS_WAREHOUSE_URL"])
    return rows


def mart_rows(url: str) -> dict[str, list[tuple]]:
    """Every mart's rows, sorted, without what differs between two equal runs: load and retrieval times, and
    the path of a snapshot's sidecar (each run has its own home)."""
    import psycopg

    with psycopg.connect(url) as conn:
        columns = conn.execute("""
            select table_name, string_agg(quote_ident(column_name), ', ' order by ordinal_position)
            from information_schema.columns
            where table_schema = 'marts' and data_type not like 'timestamp%' and column_name <> 'sidecar_path'
            group by table_name""").fetchall()
        return {t: conn.execute(f"select {cols} from marts.{t} order by {cols}").fetchall() for t, cols in columns}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, fresh_database, webhook, reference):
    server, _ = webhook
    home = tmp_path_factory.mktemp("stack")
    port = free_port()
    env = {**os.environ, "LGSTATS_HOME": str(home), "LGSTATS_WAREHOUSE_URL": fresh_database(),
           "LGSTATS_REDIS_PORT": str(free_port()), "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
           "LGSTATS_SCHEDULES": "off",  # triggered runs only: nothing may call the real sources
           "LGSTATS_TASK_RETRIES": "1", "LGSTATS_RETRY_DELAY_SECONDS": "2",
           "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",  # a killed worker's task is seen in 20 s
           "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",  # the DAG files do not change under test
           "AIRFLOW_CONN_LGSTATS_ALERTS": server.url_for("/hook"),
           "LGSTATS_WORLD_BANK_BASE_URL": server.url_for("/wb")}
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    proc = subprocess.Popen([LGSTATS, "airflow", "--executor", "celery", "--workers", "2", "--port", str(port)],
                            env=env, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[str] = []
    threading.Thread(target=lambda: seen.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    try:
        wait_for(lambda: "Ctrl-C stops every component" in "".join(seen) or proc.poll() is not None, 240,
                 "the stack to come up")
        assert proc.poll() is None, "".join(seen)[-3000:]
        state = json.loads((home / "airflow" / "stack.json").read_text())
        yield {"env": env, "home": home, "port": port, "proc": proc, "out": seen, "state": state,
               "url": f"http://127.0.0.1:{port}"}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)


def _api(stack):
    from lgstats.core.settings import Settings
    from lgstats.services.trigger import AirflowAPI

    return AirflowAPI.login(Settings(home=stack["home"]))


def _trigger(stack, source: str, mode: str) -> dict:
    done = _lgstats(stack["env"], "trigger", source, "--mode", mode, "--wait", "--json", timeout=900)
    return _outcome(done.returncode, done.stdout, done.stderr)


def _outcome(code: int, stdout: str, stderr: str) -> dict:
    return {"code": code, "doc": json.loads(stdout) if stdout.strip() else None, "stderr": stderr[-3000:]}


def test_two_ingests_at_once_and_their_asset_triggered_builds_run_on_two_named_workers(stack, reference_rows):
    """`lgstats trigger un_sdg --mode replay --wait --json`, with world_bank triggered beside it: both loads at
    once and the builds queued behind them give the marts of a sequential `lgstats run`."""
    procs = {s: subprocess.Popen([LGSTATS, "trigger", s, "--mode", "replay", "--wait", "--json"], env=stack["env"],
                                 cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for s in ("un_sdg", "world_bank")}
    outs = {s: _outcome(p.wait(timeout=900), p.stdout.read(), p.stderr.read()) for s, p in procs.items()}
    for source, out in outs.items():
        assert out["code"] == 0, out
        assert [r["dag_id"] for r in out["doc"]["runs"]][:2] == [f"{source}_ingest", "warehouse_build"], out["doc"]
        assert {r["state"] for r in out["doc"]["runs"]} == {"success"}
        assert all(r["run_id"].startswith("asset_triggered__") for r in out["doc"]["runs"][1:])
        assert all(t["state"] == "success" for r in out["doc"]["runs"] for t in r["tasks"])
    workers = set(stack["state"]["workers"])
    hosts = {t["hostname"] for out in outs.values() for r in out["doc"]["runs"] for t in r["tasks"]}
    assert len(workers) == 2 and hosts == workers, (hosts, workers)
    url = stack["env"]["LGSTATS_WAREHOUSE_URL"]
    for source in ("un_sdg", "world_bank"):
        assert reference_rows[source], f"the reference run has {source} rows"
        assert fct_rows(url, f"source_dataset like '{source}/%'") == reference_rows[source], source


def test_the_airflow_ui_shows_every_dag_the_runs_and_a_task_log(stack):
    from selenium.webdriver.common.by import By

    api = _api(stack)
    assert api.call("GET", "/importErrors")["total_entries"] == 0
    dag_ids = sorted(d["dag_id"] for d in api.call("GET", "/dags", params={"limit": 100})["dags"])
    assert {"un_sdg_ingest", "warehouse_build", "world_bank_ingest", "submissions_ingest"} <= set(dag_ids)
    runs = api.call("GET", "/dags/un_sdg_ingest/dagRuns", params={"order_by": "-run_after", "limit": 1})["dag_runs"]
    assert runs, "no run of un_sdg_ingest: the first test of this module triggers it"
    run = runs[0]
    shots = stack["home"] / "screenshots"
    shots.mkdir(exist_ok=True)
    browser = start_browser()
    try:
        browser.get(stack["url"] + "/")
        wait_for(lambda: browser.find_element(By.NAME, "username"), 60, "the login form")
        browser.find_element(By.NAME, "username").send_keys("admin")
        password = json.loads((stack["home"] / "airflow" / "simple_auth_manager_passwords.json.generated")
                              .read_text())["admin"]
        browser.find_element(By.NAME, "password").send_keys(password + "\n")
        wait_for(lambda: "/auth/login" not in browser.current_url, 60, "the login")
        wait_for(lambda: "Failed Dags" in browser.find_element(By.TAG_NAME, "body").text, 60, "the home page")
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "Import Error" not in body, body[:2000]
        browser.save_screenshot(str(shots / "airflow-home.png"))

        browser.get(stack["url"] + "/dags")
        wait_for(lambda: all(d in browser.find_element(By.TAG_NAME, "body").text for d in dag_ids), 60,
                 f"every DAG listed ({dag_ids})")
        body = browser.find_element(By.TAG_NAME, "body").text
        assert f"{len(dag_ids)} Dags" in body
        browser.save_screenshot(str(shots / "airflow-dags.png"))

        for dag_id in ("un_sdg_ingest", "warehouse_build"):
            browser.get(f"{stack['url']}/dags/{dag_id}/runs")
            wait_for(lambda: "success" in browser.find_element(By.TAG_NAME, "body").text.lower(), 60,
                     f"the runs of {dag_id}")
            browser.save_screenshot(str(shots / f"airflow-{dag_id}-runs.png"))

        browser.get(f"{stack['url']}/dags/un_sdg_ingest/runs/{quote(run['dag_run_id'], safe='')}/tasks/"
                    "load_series_data")
        wait_for(lambda: "Returned value was" in browser.find_element(By.TAG_NAME, "body").text, 90,
                 "the task log of load_series_data")
        assert "raw.un_sdg__series_data" in browser.find_element(By.TAG_NAME, "body").text
        browser.save_screenshot(str(shots / "airflow-task-log.png"))
    finally:
        browser.quit()
    assert all((shots / f).stat().st_size > 10_000 for f in ("airflow-home.png", "airflow-dags.png",
                                                             "airflow-task-log.png"))


def test_a_failing_task_sends_exactly_one_alert_naming_its_worker(stack, webhook):
    _, received = webhook
    before = len(received)
    out = _trigger(stack, "world_bank", "live")
    assert out["code"] == 1, out
    [run] = out["doc"]["runs"]  # failed: no build is triggered
    assert run["dag_id"] == "world_bank_ingest" and run["state"] == "failed"
    failed = [t for t in run["tasks"] if t["state"] == "failed"]
    assert [t["task_id"] for t in failed] == ["fetch_indicators"]
    wait_for(lambda: len(received) > before, 30, "the alert")
    time.sleep(5)  # a second alert (one per try, or per callback path) would arrive by now
    alerts = received[before:]
    assert len(alerts) == 1, alerts
    [alert] = alerts
    assert alert["dag_id"] == "world_bank_ingest" and alert["task_id"] == "fetch_indicators"
    assert alert["hostname"] in stack["state"]["workers"] and alert["hostname"] == failed[0]["hostname"]
    assert alert["try_number"] == 2  # retried once, alerted once


def test_a_worker_killed_mid_load_has_its_task_retried_on_the_other_and_the_marts_match(stack, reference_rows):
    import psycopg

    from lgstats.services.trigger import Follower

    api = _api(stack)
    url = stack["env"]["LGSTATS_WAREHOUSE_URL"]
    # The load is quick; to kill its worker surely in the middle of it, the test holds a lock that the load's
    # write into raw waits for: the load's transaction is open and blocked when the worker dies.
    blocker, watch = psycopg.connect(url), psycopg.connect(url, autocommit=True)
    blocker.execute("lock table raw.stats_nz__agr_forestry in share mode")
    try:
        started = _lgstats(stack["env"], "trigger", "stats_nz", "--mode", "replay", "--json")
        assert started.returncode == 0, started.stderr
        run_id = json.loads(started.stdout)["runs"][0]["run_id"]

        def load_blocked_mid_write():
            ti = api.call("GET", f"/dags/stats_nz_ingest/dagRuns/{run_id}/taskInstances/load_agr_forestry")
            waiting = watch.execute("select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
                                    "and query ilike '%raw.%stats_nz__agr_forestry%'").fetchone()[0]
            return ti if ti["state"] == "running" and ti.get("hostname") and waiting else None

        victim = wait_for(load_blocked_mid_write, 240, "load_agr_forestry to block in its write")["hostname"]
        kill_session(stack["state"]["workers"][victim])  # the worker and its tasks, as if its host died
    finally:
        blocker.rollback()
        blocker.close()
        watch.close()
    survivor = next(w for w in stack["state"]["workers"] if w != victim)

    follower = Follower(api, lambda _m: None)
    wait_for(lambda: follower.poll("stats_nz_ingest", run_id)["state"] in ("success", "failed"), 300,
             "the ingest run to finish after the kill")
    ti = api.call("GET", f"/dags/stats_nz_ingest/dagRuns/{run_id}/taskInstances/load_agr_forestry")
    assert ti["state"] == "success" and ti["try_number"] == 2 and ti["hostname"] == survivor, ti
    assert follower.poll("stats_nz_ingest", run_id)["state"] == "success"
    wait_for(lambda: _build_done_after(api, run_id), 600, "the Asset-triggered build after the retried load")
    url = stack["env"]["LGSTATS_WAREHOUSE_URL"]
    for source in SOURCES:  # the retried load and everything loaded before it
        assert fct_rows(url, f"source_dataset like '{source}/%'") == reference_rows[source], source
    assert reference_rows["stats_nz"]
    marts = mart_rows(url)  # every mart, now that the stack has loaded what the reference run did
    assert len(marts) >= 10 and sum(map(len, marts.values())) > 1000
    assert {t: rows for t, rows in marts.items() if rows != reference_rows["marts"].get(t)} == {}
    assert f"{victim} exited" in "".join(stack["out"])  # reported by the stack, which kept running
    assert stack["proc"].poll() is None


def _build_done_after(api, run_id: str) -> bool:
    from lgstats.services.trigger import BUILD_DAG, _builds_for, _events_of

    run = api.call("GET", f"/dags/stats_nz_ingest/dagRuns/{run_id}")
    builds, all_taken = _builds_for(api, _events_of(api, "stats_nz_ingest", run), run["start_date"], {})
    states = [api.call("GET", f"/dags/{BUILD_DAG}/dagRuns/{b}")["state"] for b in builds]
    assert "failed" not in states, builds
    return bool(builds) and all_taken and all(s == "success" for s in states)


def _sid(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except (ProcessLookupError, PermissionError):
        return None


def test_the_stack_stops_on_sigterm_with_no_process_left_even_with_a_task_running(stack):
    import psycopg

    proc = stack["proc"]
    url = stack["env"]["LGSTATS_WAREHOUSE_URL"]
    blocker, watch = psycopg.connect(url), psycopg.connect(url, autocommit=True)
    blocker.execute("lock table raw.oecd__sng_wofi_finance in share mode")  # its load waits: a task is running
    try:
        started = _lgstats(stack["env"], "trigger", "oecd", "--mode", "replay")
        assert started.returncode == 0, started.stderr
        wait_for(lambda: watch.execute("select count(*) from pg_stat_activity where wait_event_type = 'Lock' and "
                                       "query ilike '%raw.%oecd__sng_wofi_finance%'").fetchone()[0], 240,
                 "the oecd load to run (and wait)")
        sessions = {p.pid for p in psutil.Process(proc.pid).children()}  # each component leads its session
        tree = [p for p in psutil.process_iter() if _sid(p.pid) in sessions]
        _stop_and_check(stack, proc, tree)
    finally:
        blocker.rollback()
        blocker.close()
        watch.close()


def _alive(p) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _stop_and_check(stack, proc, tree):
    assert len(tree) >= 6  # redis, the four core components, the surviving worker (and their children)
    assert any(" -- " in p.name() + " ".join(p.cmdline()) for p in tree if _alive(p)), "a task process is running"
    listening = set()
    for p in [psutil.Process(proc.pid), *tree]:
        try:
            listening |= {c.laddr.ip for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
        except psutil.NoSuchProcess:
            pass
    assert "127.0.0.1" in listening and listening <= {"127.0.0.1", "::1"}, listening  # Redis, API: loopback only
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0
    time.sleep(1)
    left = [p for p in tree if _alive(p)]
    assert left == [], [(p.pid, p.name()) for p in left]
    assert "Airflow stopped" in "".join(stack["out"])
    assert not (stack["home"] / "airflow" / "stack.json").exists()
